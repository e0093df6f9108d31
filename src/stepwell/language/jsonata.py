"""JSONata for states with ``"QueryLanguage": "JSONata"``: expressions and ``{% %}`` templates.

This module (with ``jsonata_functions``) is the only place that knows which JSONata library
runs the expressions; the rest of Stepwell sees ``compile_jsonata`` /
``compile_jsonata_template`` and the ``UNDEFINED`` sentinel.

Library choice (measured by ``bench/jsonata_libraries.py``, Python 3.11, this machine)
-------------------------------------------------------------------------------------
Time per evaluation with ``$states`` and one variable bound, as this adapter calls them:

=============================================================  =========  ==============
expression                                                     jsonatapy  jsonata-python
=============================================================  =========  ==============
``$states.input.x``                                               3 µs        19 µs
``$states.input.items[price > $limit].name``                      4 µs        75 µs
``$sum($states.input.items.price)``                               4 µs        52 µs
``$states.input.first & ' ' & $states.input.last``                4 µs        43 µs
``{'id': $states.context.Execution.Id, 'total': $sum(…)}``        5 µs        90 µs
=============================================================  =========  ==============

Behaviour, 103 cases with answers from docs.jsonata.org (paths, singleton sequences,
undefined, ``$string``, ``$number``, ``$map``/``$filter``/``$reduce``, regex, ``$sum``,
object construction, ``? :``, ``:=``, recursive and partially applied functions, dates,
errors): jsonatapy gets 101 right, jsonata-python 102. Both miss ``$string`` of a number
above 1e15, which JSONata rounds to 15 significant digits (jsonatapy prints every digit,
jsonata-python switches to exponent notation); jsonatapy also formats negative
non-whole-hour time zones wrongly (``$fromMillis(…, undefined, '-0130')`` gives
``-02:30``). Gaps of jsonatapy handled here: it has no ``$random`` (replaced by Step
Functions' version anyway), it reports syntax errors without a position, and its compiled
expressions are bound to the thread that compiled them (see below). None of these matter
for typical workflows; the speed does. Decision: **jsonatapy**, 10 to 20 times faster,
with evaluation guardrails that jsonata-python lacks in a usable form.

How jsonatapy is used
---------------------
* Guardrails on every compiled expression, so a hostile expression fails with
  ``States.QueryEvaluationError`` instead of hanging or exhausting memory:
  ``EVALUATION_TIMEOUT_MS``, ``MAX_STACK_DEPTH`` (recursion), ``MAX_SEQUENCE_LENGTH``.
  The library holds the interpreter lock while it evaluates, so guardrails alone cannot
  keep a server responsive: expressions that are not trivially bounded go to the
  evaluator installed in ``jsonata_isolation`` (a process pool, in the server).
* ``evaluate_json_or_none`` is the one entry point that tells JSONata's *undefined* from
  ``null`` (``evaluate`` returns ``None`` for both); it costs the same as ``evaluate``.
* Converting bindings to the library's values dominates the cost of big inputs (about
  130 µs for a 17 KB input), so only what the text mentions is bound: the workflow
  variables named in it and, when every use of ``$states`` is ``$states.<member>``, just
  those members. The top-level context ``$`` is left undefined, as in Step Functions.
* Step Functions' own functions are registered per expression, only when mentioned.
* A jsonatapy compiled expression may only be used by the thread that compiled it (using
  it from another thread panics), so the library objects live in a per-thread cache keyed
  by text; ``JsonataExpression`` itself holds none and is shared freely.

Semantics (Developer Guide, "Transforming data with JSONata in Step Functions")
-------------------------------------------------------------------------------
* A string is an expression when it starts with ``{%`` and ends with ``%}`` with no
  leading or trailing spaces ("Writing JSONata expressions in JSON strings"); an
  improperly opened or closed one is a validation error, raised here as
  ``ExpressionSyntaxError``. Only string *values* are evaluated, never object keys.
* ``$states`` holds ``input``, ``context`` and, where the state has them, ``result`` and
  ``errorOutput``; workflow variables are ``$name``.
* Errors at run time ("Handling expression errors": type errors, failure to return a
  result) are ``States.QueryEvaluationError``.

Undefined, per field. ``JsonataExpression.evaluate`` returns ``UNDEFINED`` and leaves the
decision to its caller. The guide lists "Failure to return a result" among the errors:
"JSON cannot represent an undefined value expression, so the expression
``{% $data.thisFieldDoesNotExist %}`` would result in an error" — it makes no exception for
``Output``, ``Arguments``, ``Assign``, ``Condition`` or ``Items``, and AWS reports the same
for a value nested inside them, e.g. ``The JSONata expression '$states.input.pushLocation'
specified for the field 'Arguments/Input/pushLocation' returned nothing (undefined).``
(so a key is *not* silently omitted). ``JsonataTemplate.evaluate`` therefore raises that
error wherever an expression is undefined, naming the field path. Type checks on the value
(``Condition`` must be a boolean, ``Items`` an array or object, ``TimeoutSeconds`` a
positive integer, …) belong to the caller, which raises ``States.QueryEvaluationError``
too. Inside an expression, JSONata's own rules hold: an object constructor drops a key
whose value is undefined, an array constructor drops the item.

Results are fresh values except the static parts of a template, which are shared between
evaluations: callers must not mutate what they get back.

Limits: the guide documents none for JSONata itself beyond the 1 MB definition and the
256 KiB payload that the engine checks on state input/output and variables; the limits of
the functions Step Functions adds are in ``jsonata_functions``.
"""

from __future__ import annotations

import enum
import functools
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import jsonatapy
import orjson

from stepwell.language.errors import QUERY_EVALUATION_ERROR, ExpressionSyntaxError, StatesError
from stepwell.language.evaluation import JSON, EvalContext
from stepwell.language.jsonata_functions import FUNCTIONS, INVOCATION
from stepwell.language.jsonata_isolation import (
    BOUNDED_FUNCTIONS,
    ISOLATION,
    IsolatedEvaluation,
    needs_isolation,
)

EVALUATION_TIMEOUT_MS: Final = 1000
MAX_STACK_DEPTH: Final = 1000
MAX_SEQUENCE_LENGTH: Final = 1_000_000
COMPILE_CACHE_SIZE: Final = 4096

_OPEN: Final = "{%"
_CLOSE: Final = "%}"
_VARIABLE_NAME: Final = re.compile(r"\$(\w+)")
_STATES_USE: Final = re.compile(r"\$states(?!\w)")
_STATES_MEMBER_USE: Final = re.compile(r"\$states\s*\.\s*(\w+)")
_ERROR_CODE: Final = re.compile(r"[A-Z]\d{4}: ")
# What can make a value a function (D5): a lambda, a partial application (``$f(?, 1)``),
# or a function named without a call (``$uppercase``).
_FUNCTION_SYNTAX: Final = re.compile(r"\bfunction\b|λ|[(,]\s*\?\s*[,)]")
_NAMED_NOT_CALLED: Final = re.compile(r"\$(\w+)\b(?!\s*\()")
_OTHER_BUILTINS: Final = frozenset(
    {"map", "filter", "reduce", "each", "sift", "single", "shuffle", "pad", "replace", "eval"}
)


class Undefined(enum.Enum):
    """JSONata's *undefined*: the expression produced no value (distinct from ``null``)."""

    UNDEFINED = "UNDEFINED"

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = Undefined.UNDEFINED


@dataclass(frozen=True, slots=True)
class JsonataExpression:
    """A parsed JSONata expression, ready to evaluate many times."""

    text: str
    _functions: frozenset[str]
    """The Step Functions functions the text mentions (registered with the library)."""
    _variables: frozenset[str]
    _states_members: tuple[str, ...] | None
    """The ``$states`` members the text uses, or None when it uses ``$states`` as a whole."""
    _uses_states: bool
    _needs_context: bool
    _isolate: bool = False
    """Not trivially bounded: evaluated by ``ISOLATION.evaluator`` when one is installed."""
    _may_give_function: bool = False
    """Its value may hold a function (D5), which only a second, native evaluation shows."""

    def evaluate(self, states: Mapping[str, JSON], ctx: EvalContext) -> JSON:
        """The value of the expression, or ``UNDEFINED`` when it has none."""
        return self.evaluate_for_field(states, ctx, "")

    def evaluate_for_field(self, states: Mapping[str, JSON], ctx: EvalContext, field: str) -> JSON:
        """Like ``evaluate``; errors name ``field`` (e.g. ``Arguments/Input/key``) if given."""
        isolated = ISOLATION.evaluator
        if isolated is not None and self._isolate:
            return isolated(self.isolated_evaluation(states, ctx, field))
        bindings = self._bindings(states, ctx)
        if not self._needs_context:
            return self._run(bindings, field)
        outer = INVOCATION.ctx
        INVOCATION.ctx = ctx
        try:
            return self._run(bindings, field)
        finally:
            INVOCATION.ctx = outer

    def isolated_evaluation(
        self, states: Mapping[str, JSON], ctx: EvalContext, field: str
    ) -> IsolatedEvaluation:
        """This evaluation as plain data, for an evaluator in another process."""
        variables = ctx.variables
        draws = bool(self._functions & {"random", "uuid"})
        return IsolatedEvaluation(
            text=self.text,
            field=field,
            states=dict(self._states_binding(states)) if self._uses_states else {},
            variables={name: variables[name] for name in self._variables if name in variables},
            context=ctx.context if self._needs_context else None,
            seed=ctx.random() if draws else None,
        )

    def _bindings(self, states: Mapping[str, JSON], ctx: EvalContext) -> dict[str, JSON]:
        variables = ctx.variables
        bindings = {name: variables[name] for name in self._variables if name in variables}
        if self._uses_states:
            bindings["states"] = self._states_binding(states)
        return bindings

    def _states_binding(self, states: Mapping[str, JSON]) -> Mapping[str, JSON]:
        members = self._states_members
        if members is None:
            return states
        return {member: states[member] for member in members if member in states}

    def _run(self, bindings: dict[str, JSON], field: str) -> JSON:
        compiled = _THIS_THREAD.compiled.get(self.text)
        if compiled is None:
            compiled = _compile_for_this_thread(self.text, self._functions)
        try:
            try:
                result = compiled.evaluate_json_or_none(None, bindings)
            except OverflowError:  # an integer past 64 bits, which the library refuses
                bindings = _as_doubles(bindings)
                result = compiled.evaluate_json_or_none(None, bindings)
            native = (
                compiled.evaluate(None, bindings)
                if self._may_give_function and result is not None and '""' in result
                else _NO_FUNCTION
            )
        except Exception as error:  # the library's failure is the expression's failure
            raise self._evaluation_error(error, field) from None
        if result is None:
            return UNDEFINED
        value = orjson.loads(result)
        if native is not _NO_FUNCTION and _holds_function(value, native):
            raise query_evaluation_error(self.text, field, "returned an unsupported result type.")
        return value

    def _evaluation_error(self, error: Exception, field: str) -> StatesError:
        raised_by_function = INVOCATION.error
        INVOCATION.error = None
        detail = raised_by_function.cause if raised_by_function else str(error)
        separator = ". " if _ERROR_CODE.match(detail) else ": "
        return query_evaluation_error(
            self.text, field, f"threw an error during evaluation{separator}{detail}"
        )


_NO_FUNCTION: Final = object()  # not evaluated natively: no function can be in the value

_LIMIT = 2**63


def _as_doubles(value: Any) -> Any:
    """``value`` with each integer past 64 bits a double. JSONata's numbers are doubles
    (JavaScript's), so an expression sees such an integer rounded, as it would in Step
    Functions; the library refuses the integer itself."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value) if not -_LIMIT <= value < _LIMIT else value
    if isinstance(value, Mapping):
        return {key: _as_doubles(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_doubles(item) for item in value]
    return value


def may_give_function(text: str) -> bool:
    """Whether an expression's value could hold a function (D5), judged from its text."""
    if _FUNCTION_SYNTAX.search(text):
        return True
    builtins = BOUNDED_FUNCTIONS | FUNCTIONS.keys() | _OTHER_BUILTINS
    return any(name in builtins for name in _NAMED_NOT_CALLED.findall(text))


def _holds_function(value: JSON, native: Any) -> bool:
    """aws-behaviour D5: a function is not a JSON value ("returned an unsupported result
    type."). jsonatapy writes a function as ``""`` in JSON text but as ``None`` in Python
    values, so a ``""`` that is ``None`` natively was a function."""
    if value == "":
        return native is None
    if isinstance(value, dict) and isinstance(native, dict):
        return any(_holds_function(item, native.get(key)) for key, item in value.items())
    if isinstance(value, list) and isinstance(native, list):
        return any(_holds_function(a, b) for a, b in zip(value, native, strict=False))
    return False


def query_evaluation_error(text: str, field: str, what_happened: str) -> StatesError:
    """``States.QueryEvaluationError`` worded as AWS words it (field named when known).

    AWS: "The JSONata expression '<text>' specified for the field '<field>' returned
    nothing (undefined)." and, for an expression that raises, "... threw an error during
    evaluation. T0410: <message>" (a coded JSONata message follows ". ", any other ": ").
    """
    where = f" specified for the field '{field}'" if field else ""
    return StatesError(
        QUERY_EVALUATION_ERROR,
        f"The JSONata expression '{text}'{where} {what_happened}",
        location=field,
    )


def undefined_result_error(text: str, field: str) -> StatesError:
    """The error AWS raises when an expression in a field returns nothing."""
    return query_evaluation_error(text, field, "returned nothing (undefined).")


@functools.lru_cache(maxsize=COMPILE_CACHE_SIZE)
def compile_jsonata(text: str) -> JsonataExpression:
    """Parse the bare expression ``text`` (without ``{%``/``%}``); cached by text."""
    if not text.strip():
        raise ExpressionSyntaxError("The JSONata expression is empty", text, 0)
    names = frozenset(_VARIABLE_NAME.findall(text))
    functions = frozenset(names & FUNCTIONS.keys())
    try:
        _compile_for_this_thread(text, functions)
    except ValueError as error:
        message = str(error).removeprefix("Parse error: ")
        raise ExpressionSyntaxError(f"Invalid JSONata expression: {message}", text) from None
    return JsonataExpression(
        text=text,
        _functions=functions,
        _variables=names - {"states"},
        _states_members=_states_members(text),
        _uses_states="states" in names,
        _needs_context=any(FUNCTIONS[name].needs_context for name in functions),
        _isolate=needs_isolation(text),
        _may_give_function=may_give_function(text),
    )


class _PerThreadLibraryObjects(threading.local):
    """This thread's jsonatapy compiled expressions, by text (they cannot cross threads)."""

    def __init__(self) -> None:
        self.compiled: dict[str, Any] = {}


_THIS_THREAD: Final = _PerThreadLibraryObjects()


def _compile_for_this_thread(text: str, functions: frozenset[str]) -> Any:
    compiled = jsonatapy.compile(
        text,
        timeout=EVALUATION_TIMEOUT_MS,
        max_stack_depth=MAX_STACK_DEPTH,
        max_sequence_length=MAX_SEQUENCE_LENGTH,
    )
    for name in functions:
        _register(compiled, name)
    _THIS_THREAD.compiled[text] = compiled
    return compiled


def _register(compiled: Any, name: str) -> None:
    function = FUNCTIONS[name]
    if function.replaces_builtin:
        compiled.register_override(name, function.implementation)
    else:
        compiled.register(name, function.implementation)


def _states_members(text: str) -> tuple[str, ...] | None:
    members = _STATES_MEMBER_USE.findall(text)
    if "%" in text or len(members) != len(_STATES_USE.findall(text)):
        return None  # `%` (parent) could climb from a member back to the whole of $states
    return tuple(dict.fromkeys(members))


def is_jsonata_template(value: object) -> bool:
    """True for a string that starts with ``{%`` and ends with ``%}``, no spaces around."""
    return (
        isinstance(value, str)
        and len(value) >= len(_OPEN) + len(_CLOSE)
        and value.startswith(_OPEN)
        and value.endswith(_CLOSE)
    )


_Evaluator = Callable[[Mapping[str, JSON], EvalContext], JSON]


@dataclass(frozen=True, slots=True)
class JsonataTemplate:
    """A JSON value whose ``{% %}`` strings are expressions, at any depth."""

    value: JSON
    """The template as written in the definition."""
    is_static: bool
    """True when it holds no expression: evaluation returns ``value`` itself."""
    _evaluate: _Evaluator

    def evaluate(self, states: Mapping[str, JSON], ctx: EvalContext) -> JSON:
        """The template with every expression replaced by its value.

        Raises ``States.QueryEvaluationError`` when an expression fails or returns nothing.
        """
        return self._evaluate(states, ctx)


def compile_jsonata_template(value: JSON, field: str = "") -> JsonataTemplate:
    """Compile a field's value; ``field`` (e.g. ``"Arguments"``) is used in error causes."""
    evaluator = _compile_node(value, field)
    if evaluator is None:
        return JsonataTemplate(value=value, is_static=True, _evaluate=_constant(value))
    return JsonataTemplate(value=value, is_static=False, _evaluate=evaluator)


def _constant(value: JSON) -> _Evaluator:
    return lambda states, ctx: value


def _compile_node(value: JSON, path: str) -> _Evaluator | None:
    """An evaluator for ``value``, or None when it is static (contains no expression)."""
    compile_kind = _NODE_COMPILERS.get(type(value))
    return compile_kind(value, path) if compile_kind else None


def _compile_string(value: str, path: str) -> _Evaluator | None:
    if not is_jsonata_template(value):
        return None  # H1: " {% x %} ", "$.x", "States.Format(...)" are plain literals
    text = value[len(_OPEN) : -len(_CLOSE)].strip()  # AWS quotes it trimmed in causes
    try:
        expression = compile_jsonata(text)
    except ExpressionSyntaxError as error:
        where = f" in the field '{path}'" if path else ""
        raise ExpressionSyntaxError(f"{error.message}{where}", text, error.position) from None
    return _expression_evaluator(expression, path)


def _expression_evaluator(expression: JsonataExpression, path: str) -> _Evaluator:
    def evaluate(states: Mapping[str, JSON], ctx: EvalContext) -> JSON:
        result = expression.evaluate_for_field(states, ctx, path)
        if result is UNDEFINED:
            raise undefined_result_error(expression.text, path)
        return result

    return evaluate


def _compile_object(value: dict[str, JSON], path: str) -> _Evaluator | None:
    entries = tuple(
        (key, _compile_node(item, f"{path}/{key}" if path else key), item)
        for key, item in value.items()
    )
    if all(evaluator is None for _, evaluator, _ in entries):
        return None

    def evaluate(states: Mapping[str, JSON], ctx: EvalContext) -> JSON:
        return {
            key: item if evaluator is None else evaluator(states, ctx)
            for key, evaluator, item in entries
        }

    return evaluate


def _compile_array(value: list[JSON], path: str) -> _Evaluator | None:
    entries = tuple(
        (_compile_node(item, f"{path}[{index}]"), item) for index, item in enumerate(value)
    )
    if all(evaluator is None for evaluator, _ in entries):
        return None

    def evaluate(states: Mapping[str, JSON], ctx: EvalContext) -> JSON:
        return [
            item if evaluator is None else evaluator(states, ctx) for evaluator, item in entries
        ]

    return evaluate


_NODE_COMPILERS: Final[Mapping[type, Callable[[Any, str], _Evaluator | None]]] = {
    str: _compile_string,
    dict: _compile_object,
    list: _compile_array,
}
