"""Compile a validated definition into the immutable model of ``model.py``.

This is the one place that reads raw ASL fields. It resolves each state's query
language, compiles every path, template, Choice rule and JSONata expression into an
evaluator, and indexes every graph (the machine, each Parallel branch, each Map
processor). ``compile_definition`` caches by the definition's canonical text, so a
definition used by many executions is compiled once.

The compiler trusts the validator for structure: ``load_state_machine`` validates first
and raises ``InvalidDefinition`` with every diagnostic when anything is wrong.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from stepwell.language import model as m
from stepwell.language.choice import compile_choice_rule
from stepwell.language.errors import RUNTIME, ExpressionSyntaxError, StatesError
from stepwell.language.evaluation import JSON, EvalContext
from stepwell.language.intrinsics import compile_intrinsic, is_intrinsic
from stepwell.language.jsonata import compile_jsonata_template
from stepwell.language.jsonpath import PathNotFound, compact_json, compile_path
from stepwell.language.map_config import compile_distributed
from stepwell.language.references import variable_references
from stepwell.language.source import too_deep_location, too_deep_message
from stepwell.language.templates import compile_payload_template
from stepwell.language.validation import (
    Diagnostic,
    format_invalid_definition,
    validate_definition,
)


class InvalidDefinition(ValueError):
    """The definition does not validate; ``diagnostics`` lists every problem found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__(format_invalid_definition(diagnostics))
        self.diagnostics = diagnostics


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant field value, given the evaluator interface."""

    value: JSON

    def evaluate(self, scope: Any, ctx: EvalContext) -> JSON:
        return self.value


@dataclass(frozen=True, slots=True)
class PathValue:
    """A JSONPath ``...Path`` field (SecondsPath, ErrorPath, …) read from the data, or
    an intrinsic function where AWS allows one (ErrorPath, CausePath)."""

    text: str
    reader: Any
    field: str = ""
    """The field's name, e.g. ``"SecondsPath"``, for the causes AWS words per field."""

    def evaluate(self, scope: Any, ctx: EvalContext) -> JSON:
        try:
            return self.reader.evaluate(scope, ctx)
        except PathNotFound:
            if self.field in _QUOTING_FIELDS:  # D4
                raise StatesError(
                    RUNTIME,
                    f"The JSONPath '{self.text}' specified for the field '{self.field}' could "
                    f"not be found in the input '{compact_json(scope)}'",
                ) from None
            raise StatesError(
                RUNTIME, f"Invalid path '{self.text}' : No results for path: {self.text}"
            ) from None


_QUOTING_FIELDS: Final = frozenset(("ErrorPath", "CausePath"))
"""Fields whose not-found cause quotes the state input, as AWS words it (D4)."""


@dataclass(frozen=True, slots=True)
class _PathReader:
    path: Any

    def evaluate(self, scope: Any, ctx: EvalContext) -> JSON:
        return self.path.get(scope, ctx)


def _path_value(text: str, field: str) -> PathValue:
    if is_intrinsic(text):
        return PathValue(text, compile_intrinsic(text), field)
    path = compile_path(text)
    return PathValue(path.text, _PathReader(path), field)


_cache: dict[str, m.StateMachine] = {}
_CACHE_LIMIT = 256


def load_state_machine(definition: str | bytes | Mapping[str, JSON]) -> m.StateMachine:
    """Validate and compile a definition given as JSON/YAML text or as parsed data."""
    if not isinstance(definition, str | bytes):
        _refuse_too_deep(definition)  # before hashing: its JSON text would overflow the stack
    key = _cache_key(definition)
    machine = _cache.get(key)
    if machine is not None:
        return machine
    diagnostics = validate_definition(definition)
    errors = [d for d in diagnostics if d.severity == "ERROR"]
    if errors:
        raise InvalidDefinition(errors)
    data = _as_data(definition)
    machine = compile_definition(data)
    if len(_cache) >= _CACHE_LIMIT:
        _cache.pop(next(iter(_cache)))
    _cache[key] = machine
    return machine


def _refuse_too_deep(definition: Mapping[str, JSON]) -> None:
    location = too_deep_location(definition)
    if location is not None:
        message = too_deep_message()
        raise InvalidDefinition(
            [Diagnostic("ERROR", "INVALID_JSON_DESCRIPTION", message, location)]
        )


def _cache_key(definition: str | bytes | Mapping[str, JSON]) -> str:
    raw = definition if isinstance(definition, str | bytes) else _json_text(definition)
    text = raw.encode() if isinstance(raw, str) else raw
    return hashlib.sha256(text).hexdigest()


def _json_text(value: JSON) -> str:
    """Canonical enough JSON text of parsed data, big integers included."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, default=repr)


def _as_data(definition: str | bytes | Mapping[str, JSON]) -> Mapping[str, JSON]:
    if isinstance(definition, Mapping):
        return definition
    from stepwell.language.source import load_definition

    data: Mapping[str, JSON] = load_definition(definition).data
    return data


def compile_definition(data: Mapping[str, JSON]) -> m.StateMachine:
    """Compile an already validated definition (parsed data) into a ``StateMachine``."""
    graphs: dict[str, m.Graph] = {}
    language = str(data.get("QueryLanguage", m.JSONPATH))
    root = _compile_graph(data, "", language, graphs)
    timeout = data.get("TimeoutSeconds")
    return m.StateMachine(
        root=root,
        graphs=graphs,
        timeout_seconds=int(timeout) if timeout is not None else None,
        comment=data.get("Comment"),
        definition=data,
        variable_references=variable_references(root, data),
    )


def _compile_graph(
    data: Mapping[str, JSON], key: str, language: str, graphs: dict[str, m.Graph]
) -> m.Graph:
    states = {
        name: _compile_state(name, body, f"{key}/{name}", language, graphs)
        for name, body in data["States"].items()
    }
    graph = m.Graph(key=key, start_at=data["StartAt"], states=states, query_language=language)
    graphs[key] = graph
    return graph


def _compile_state(
    name: str, body: Mapping[str, JSON], key: str, language: str, graphs: dict[str, m.Graph]
) -> m.State:
    language = str(body.get("QueryLanguage", language))
    fields = _common_fields(name, body, language)
    build = _STATE_BUILDERS[body["Type"]]
    return build(body, fields, key, language, graphs)


def _common_fields(name: str, body: Mapping[str, JSON], language: str) -> dict[str, Any]:
    jsonata = language == m.JSONATA
    fields: dict[str, Any] = {
        "name": name,
        "type": body["Type"],
        "query_language": language,
        "uses_context": _reads_context(body),
        "transition": m.Transition(next=body.get("Next"), end=bool(body.get("End", False))),
        "assign": _compile_assign(body.get("Assign"), jsonata),
        "retriers": tuple(_compile_retrier(r) for r in body.get("Retry", ())),
        "catchers": tuple(
            _compile_catcher(c, jsonata, f"Catch[{i}]/")
            for i, c in enumerate(body.get("Catch", ()))
        ),
    }
    if jsonata:
        fields["arguments"] = _optional_jsonata(body, "Arguments")
        fields["output"] = _optional_jsonata(body, "Output")
    else:
        fields["input_path"] = _path_field(body, "InputPath")
        fields["output_path"] = _path_field(body, "OutputPath")
        fields["result_path"] = _path_field(body, "ResultPath")
        fields["parameters"] = _optional_template(body, "Parameters")
        fields["result_selector"] = _optional_template(body, "ResultSelector")
    return fields


def _reads_context(body: Mapping[str, JSON]) -> bool:
    """Whether a state's fields may read the context object, so the interpreter builds
    ``$$`` only for states that need it. Nested graphs are judged on their own.

    JSONata's ``$now()`` and ``$millis()`` read it too: they tell the time at which the
    state was entered (``State.EnteredTime``)."""
    own = {k: v for k, v in body.items() if k not in ("Branches", "ItemProcessor", "Iterator")}
    text = _json_text(own)
    return (
        "$$" in text
        or "states.context" in text
        or "$states" in text
        or _READS_THE_CLOCK.search(text) is not None
    )


_READS_THE_CLOCK: Final = re.compile(r"\$(?:now|millis)\b")


def _path_field(body: Mapping[str, JSON], name: str) -> Any:
    """``None`` for an absent field or ``"$"`` (the fast default), NULL_PATH for null."""
    if name not in body:
        return None
    text = body[name]
    if text is None:
        return m.NULL_PATH
    if text == "$":
        return None
    return compile_path(text)


def _optional_template(body: Mapping[str, JSON], name: str) -> m.Evaluator | None:
    if name not in body:
        return None
    return compile_payload_template(body[name])


def _optional_jsonata(body: Mapping[str, JSON], name: str, prefix: str = "") -> m.Evaluator | None:
    """A JSONata field; errors name it as AWS does (``Output/v``, ``Choices[1]/Output``)."""
    if name not in body:
        return None
    return compile_jsonata_template(body[name], f"{prefix}{name}")


def _value(body: Mapping[str, JSON], name: str, jsonata: bool) -> m.Evaluator | None:
    """A field that is a literal, a JSONata template (JSONata), or has a ``...Path`` twin."""
    if name in body:
        value = body[name]
        return compile_jsonata_template(value, name) if jsonata else Literal(value)
    path_name = f"{name}Path"
    if not jsonata and path_name in body:
        return _path_value(body[path_name], path_name)
    return None


def _compile_assign(value: JSON, jsonata: bool, prefix: str = "") -> m.Evaluator | None:
    """Assign is a template whose top-level keys are variable names ("x.$" in JSONPath)."""
    if value is None:
        return None
    if jsonata:
        return compile_jsonata_template(value, f"{prefix}Assign")
    return compile_payload_template(value)


def _compile_retrier(body: Mapping[str, JSON]) -> m.Retrier:
    max_delay = body.get("MaxDelaySeconds")
    return m.Retrier(
        error_equals=tuple(body["ErrorEquals"]),
        interval_seconds=float(body.get("IntervalSeconds", 1)),
        max_attempts=int(body.get("MaxAttempts", 3)),
        backoff_rate=float(body.get("BackoffRate", 2.0)),
        max_delay_seconds=float(max_delay) if max_delay is not None else None,
        jitter_full=body.get("JitterStrategy", "NONE") == "FULL",
    )


def _compile_catcher(body: Mapping[str, JSON], jsonata: bool, prefix: str) -> m.Catcher:
    return m.Catcher(
        error_equals=tuple(body["ErrorEquals"]),
        next=body["Next"],
        result_path=None if jsonata else _path_field(body, "ResultPath"),
        output=_optional_jsonata(body, "Output", prefix) if jsonata else None,
        assign=_compile_assign(body.get("Assign"), jsonata, prefix),
    )


StateBuilder = Callable[[Mapping[str, JSON], dict[str, Any], str, str, dict[str, m.Graph]], m.State]


def _build_pass(
    body: Mapping[str, JSON], f: dict[str, Any], key: str, lang: str, g: dict[str, m.Graph]
) -> m.State:
    touches_data = _DATA_FIELDS.intersection(body)
    return m.PassState(
        **f, result=body.get("Result"), has_result="Result" in body, plain=not touches_data
    )


_DATA_FIELDS = frozenset(
    ("InputPath", "OutputPath", "ResultPath", "Parameters", "Result", "Assign", "Output")
)


def _build_task(
    body: Mapping[str, JSON], f: dict[str, Any], key: str, lang: str, g: dict[str, m.Graph]
) -> m.State:
    jsonata = lang == m.JSONATA
    return m.TaskState(
        **f,
        resource=body["Resource"],
        timeout_seconds=_value(body, "TimeoutSeconds", jsonata),
        heartbeat_seconds=_value(body, "HeartbeatSeconds", jsonata),
        credentials=body.get("Credentials"),
    )


def _build_choice(
    body: Mapping[str, JSON], f: dict[str, Any], key: str, lang: str, g: dict[str, m.Graph]
) -> m.State:
    jsonata = lang == m.JSONATA
    branches = tuple(
        _compile_choice_branch(rule, jsonata, f"Choices[{i}]/")
        for i, rule in enumerate(body["Choices"])
    )
    return m.ChoiceState(**f, choices=branches, default=body.get("Default"))


def _compile_choice_branch(rule: Mapping[str, JSON], jsonata: bool, prefix: str) -> m.ChoiceBranch:
    predicate: m.Evaluator = (
        compile_jsonata_template(rule["Condition"], f"{prefix}Condition")
        if jsonata
        else compile_choice_rule(rule)
    )
    return m.ChoiceBranch(
        predicate=predicate,
        next=rule["Next"],
        assign=_compile_assign(rule.get("Assign"), jsonata, prefix),
        output=_optional_jsonata(rule, "Output", prefix) if jsonata else None,
        location=f"{prefix}Condition",
    )


def _build_wait(
    body: Mapping[str, JSON], f: dict[str, Any], key: str, lang: str, g: dict[str, m.Graph]
) -> m.State:
    jsonata = lang == m.JSONATA
    return m.WaitState(
        **f,
        seconds=_value(body, "Seconds", jsonata),
        timestamp=_value(body, "Timestamp", jsonata),
    )


def _build_succeed(
    body: Mapping[str, JSON], f: dict[str, Any], key: str, lang: str, g: dict[str, m.Graph]
) -> m.State:
    return m.SucceedState(**f)


def _build_fail(
    body: Mapping[str, JSON], f: dict[str, Any], key: str, lang: str, g: dict[str, m.Graph]
) -> m.State:
    jsonata = lang == m.JSONATA
    return m.FailState(
        **f, error=_value(body, "Error", jsonata), cause=_value(body, "Cause", jsonata)
    )


def _build_parallel(
    body: Mapping[str, JSON], f: dict[str, Any], key: str, lang: str, g: dict[str, m.Graph]
) -> m.State:
    branches = tuple(
        _compile_graph(branch, f"{key}#{i}", str(branch.get("QueryLanguage", lang)), g)
        for i, branch in enumerate(body["Branches"])
    )
    return m.ParallelState(**f, branches=branches)


def _build_map(
    body: Mapping[str, JSON], f: dict[str, Any], key: str, lang: str, g: dict[str, m.Graph]
) -> m.State:
    jsonata = lang == m.JSONATA
    processor_body = body.get("ItemProcessor") or body["Iterator"]
    processor = _compile_graph(
        processor_body, f"{key}#", str(processor_body.get("QueryLanguage", lang)), g
    )
    selector_body = body.get("ItemSelector", body.get("Parameters"))
    if jsonata:
        items = _optional_jsonata(body, "Items")
        selector = _optional_jsonata(body, "ItemSelector")
    else:
        items = Literal(body["Items"]) if "Items" in body else None
        selector = compile_payload_template(selector_body) if selector_body is not None else None
        # In a Map state the legacy Parameters is the ItemSelector, not an input template.
        f["parameters"] = None
    return m.MapState(
        **f,
        processor=processor,
        items_path=None if jsonata else _path_field(body, "ItemsPath"),
        items=items,
        item_selector=selector,
        max_concurrency=_value(body, "MaxConcurrency", jsonata),
        tolerated_failure_percentage=_value(body, "ToleratedFailurePercentage", jsonata),
        tolerated_failure_count=_value(body, "ToleratedFailureCount", jsonata),
        label=body.get("Label"),
        distributed=compile_distributed(body, lang),
    )


_STATE_BUILDERS: dict[str, StateBuilder] = {
    "Pass": _build_pass,
    "Task": _build_task,
    "Choice": _build_choice,
    "Wait": _build_wait,
    "Succeed": _build_succeed,
    "Fail": _build_fail,
    "Parallel": _build_parallel,
    "Map": _build_map,
}

__all__ = [
    "ExpressionSyntaxError",
    "InvalidDefinition",
    "compile_definition",
    "load_state_machine",
]
