"""JSONPath-mode payload templates: Parameters, ItemSelector and ResultSelector.

States Language specification, "Payload Template", and Developer Guide, "InputPath,
Parameters and ResultSelector": in a template object, a field whose name ends in ``.$``
has a string value that is a path (``$…``, ``$$…``, ``$name…``) or an intrinsic function;
the output field drops the ``.$`` and takes the value the path or function produces.
Objects nested in the template, including objects inside arrays, follow the same rule;
every other value is copied as it is.

Design: ``compile_payload_template`` walks the template once. Subtrees with no ``.$`` field
are kept as ready values and returned *shared*, never copied: Stepwell's convention is that
a JSON value, once produced, is never mutated in place (ResultPath writes copy-on-write,
see ``CompiledPath.set``). An object with dynamic fields becomes a closure that copies a
prepared dictionary (static fields already in place, in template order) and fills in the
dynamic fields, so evaluating ``{"a.$": "$.x", "b.$": "$.y", "c": 1}`` is a dict copy and
two lookups. A path that matches nothing fails the state with ``States.Runtime`` and AWS's
cause "The JSONPath '$.x' specified for the field 'a.$' could not be found in the input
'…'"; the engine adds its "An error occurred while executing the state …" prefix.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from stepwell.language.errors import RUNTIME, ExpressionSyntaxError, StatesError
from stepwell.language.evaluation import JSON, EvalContext
from stepwell.language.intrinsics import compile_intrinsic, is_intrinsic
from stepwell.language.jsonpath import PathNotFound, compact_json, compile_path

__all__ = ["PayloadTemplate", "compile_payload_template"]

Evaluator = Callable[[JSON, EvalContext], JSON]

DYNAMIC_SUFFIX: Final = ".$"


@dataclass(frozen=True, slots=True)
class _Static:
    """A template subtree with nothing to evaluate."""

    value: JSON


_Compiled = Evaluator | _Static


@dataclass(frozen=True, slots=True)
class PayloadTemplate:
    """A compiled payload template: ``evaluate(data, ctx)`` builds the payload."""

    source: JSON
    _compiled: _Compiled

    @property
    def is_static(self) -> bool:
        """True when the template has no ``.$`` field: ``evaluate`` ignores its input."""
        return isinstance(self._compiled, _Static)

    def evaluate(self, data: JSON, ctx: EvalContext) -> JSON:
        compiled = self._compiled
        if isinstance(compiled, _Static):
            return compiled.value
        return compiled(data, ctx)


def compile_payload_template(value: JSON) -> PayloadTemplate:
    """Compile a Parameters/ItemSelector/ResultSelector value; ExpressionSyntaxError if bad."""
    return PayloadTemplate(value, _compile(copy.deepcopy(value), ""))


def _compile(value: JSON, field: str) -> _Compiled:
    if isinstance(value, dict):
        return _compile_object(value, field)
    if isinstance(value, list):
        return _compile_array(value, field)
    return _Static(value)


def _compile_object(template: dict[str, JSON], field: str) -> _Compiled:
    base: dict[str, JSON] = {}
    dynamic: list[tuple[str, Evaluator]] = []
    for key, value in template.items():
        path = f"{field}.{key}" if field else key
        is_dynamic = key.endswith(DYNAMIC_SUFFIX)
        name = key[: -len(DYNAMIC_SUFFIX)] if is_dynamic else key
        if name in base:
            raise ExpressionSyntaxError(f"the template has the field '{name}' twice", path)
        compiled = _compile_dynamic(value, path) if is_dynamic else _compile(value, path)
        if isinstance(compiled, _Static):
            base[name] = compiled.value
        else:
            base[name] = None  # placeholder: keeps the template's field order
            dynamic.append((name, compiled))
    if not dynamic:
        return _Static(base)
    return _object_builder(base, tuple(dynamic))


def _object_builder(base: dict[str, JSON], dynamic: tuple[tuple[str, Evaluator], ...]) -> Evaluator:
    if len(dynamic) == 1:
        ((k0, f0),) = dynamic

        def build1(data: JSON, ctx: EvalContext) -> JSON:
            out = base.copy()
            out[k0] = f0(data, ctx)
            return out

        return build1
    if len(dynamic) == 2:
        (k0, f0), (k1, f1) = dynamic

        def build2(data: JSON, ctx: EvalContext) -> JSON:
            out = base.copy()
            out[k0] = f0(data, ctx)
            out[k1] = f1(data, ctx)
            return out

        return build2
    if len(dynamic) == 3:
        (k0, f0), (k1, f1), (k2, f2) = dynamic

        def build3(data: JSON, ctx: EvalContext) -> JSON:
            out = base.copy()
            out[k0] = f0(data, ctx)
            out[k1] = f1(data, ctx)
            out[k2] = f2(data, ctx)
            return out

        return build3

    def build(data: JSON, ctx: EvalContext) -> JSON:
        out = base.copy()
        for key, evaluate in dynamic:
            out[key] = evaluate(data, ctx)
        return out

    return build


def _compile_array(items: list[JSON], field: str) -> _Compiled:
    compiled = [_compile(item, f"{field}[{i}]") for i, item in enumerate(items)]
    if all(isinstance(c, _Static) for c in compiled):
        return _Static([c.value for c in compiled if isinstance(c, _Static)])
    evaluators = tuple(_as_evaluator(c) for c in compiled)

    def build(data: JSON, ctx: EvalContext) -> JSON:
        return [evaluate(data, ctx) for evaluate in evaluators]

    return build


def _as_evaluator(compiled: _Compiled) -> Evaluator:
    if isinstance(compiled, _Static):
        value = compiled.value
        return lambda data, ctx: value
    return compiled


def _compile_dynamic(value: JSON, field: str) -> Evaluator:
    """The value of a ``name.$`` field: a path or an intrinsic function call."""
    if not isinstance(value, str):
        raise ExpressionSyntaxError(
            f"the value of '{field}' must be a path or an intrinsic function string", field
        )
    if value.lstrip().startswith("$"):  # F3: AWS trims whitespace around a path
        return _path_field(value.strip(), field)
    if is_intrinsic(value):
        return compile_intrinsic(value).evaluate
    raise ExpressionSyntaxError(
        f"the value of '{field}' must be a path (starting with '$') or an intrinsic "
        f"function (States.…), not {value!r}",
        value,
        0,
    )


def _path_field(text: str, field: str) -> Evaluator:
    get = compile_path(text).get

    def read(data: JSON, ctx: EvalContext) -> JSON:
        try:
            return get(data, ctx)
        except PathNotFound:
            raise StatesError(
                RUNTIME,
                f"The JSONPath '{text}' specified for the field '{field}' could not be found "
                f"in the input '{compact_json(data)}'",
            ) from None

    return read
