"""Static validation of a state machine definition, reporting every problem at once.

``validate_definition`` answers what AWS's ValidateStateMachineDefinition answers: a list
of diagnostics (severity, code, message, location), here with the line and column of
the location when the definition was given as text. CreateStateMachine refuses a
definition with any ERROR; ``format_invalid_definition`` gives the message of that
``InvalidDefinition`` error in AWS's form, e.g.
``Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: B
at /States/A/Next'`` (several are quoted one by one and joined with ", ").

Codes are AWS's (API reference, "ValidateStateMachineDefinitionDiagnostic"):
INVALID_JSON_DESCRIPTION, MISSING_DESCRIPTION, SCHEMA_VALIDATION_FAILED,
INVALID_RESOURCE, MISSING_END_STATE, DUPLICATE_STATE_NAME, INVALID_STATE_NAME,
MISSING_TRANSITION_TARGET, and the warnings NO_DOLLAR, NO_PATH, PASS_RESULT_IS_STATIC.
AWS says not to rely on its wording, so messages aim to be clear first and close to
AWS's where its wording is known.

Design: this module walks graphs (the machine, each Parallel branch, each Map
processor): StartAt, transition targets, reachability, terminal states and state names,
which must be unique across the whole machine (spec, "State names"). What one state may
contain is ``validation_rules``'s business. Nothing stops at the first error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from stepwell.language.source import (
    DefinitionSyntaxError,
    LoadedDefinition,
    load_definition,
    too_deep_location,
    too_deep_message,
)
from stepwell.language.validation_rules import (
    JSONATA,
    JSONPATH,
    QUERY_LANGUAGES,
    STATE_TYPES,
    Diagnostic,
    Report,
    StateScope,
    check_state,
)
from stepwell.language.validation_rules.base import (
    MAX_SECONDS,
    check_integer,
    join,
    show,
    unknown_fields,
)
from stepwell.language.validation_rules.variables import check_variable_scopes

__all__ = [
    "MAX_DEFINITION_BYTES",
    "MAX_STATE_NAME_LENGTH",
    "Diagnostic",
    "format_invalid_definition",
    "validate_definition",
]

JSON = Any

# Developer Guide, "Step Functions service quotas": "Maximum size of a state machine
# definition: 1 MB" (hard quota); CreateStateMachine's definition is at most 1048576 long.
MAX_DEFINITION_BYTES: Final = 1_048_576
# States Language spec, "States": a state name MUST be at most 80 Unicode characters.
MAX_STATE_NAME_LENGTH: Final = 80

_MACHINE_FIELDS: Final = frozenset(
    {"Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage"}
)
_GRAPH_FIELDS: Final[Mapping[str, frozenset[str]]] = {
    "machine": _MACHINE_FIELDS,
    "branch": frozenset({"Comment", "StartAt", "States"}),
    "processor": frozenset({"Comment", "StartAt", "States", "ProcessorConfig"}),
    # The legacy Iterator takes a ProcessorConfig too (aws-behaviour B6).
    "iterator": frozenset({"Comment", "StartAt", "States", "ProcessorConfig"}),
}
_TERMINAL_TYPES: Final = frozenset({"Succeed", "Fail"})


def validate_definition(
    source: str | bytes | Mapping[str, JSON] | LoadedDefinition,
) -> list[Diagnostic]:
    """Every diagnostic for a definition given as JSON/YAML text or as parsed data."""
    if isinstance(source, LoadedDefinition):
        loaded = source
    elif isinstance(source, Mapping):
        too_deep = too_deep_location(source)
        if too_deep is not None:
            return [Diagnostic("ERROR", "INVALID_JSON_DESCRIPTION", too_deep_message(), too_deep)]
        loaded = LoadedDefinition(source)
    else:
        early = _check_text(source)
        if isinstance(early, Diagnostic):
            return [early]
        loaded = early
    report = Report(loaded.positions)
    if isinstance(source, str | bytes):
        _check_size(report, source)
    if loaded.data is None:
        report.error("", "The definition is empty", "MISSING_DESCRIPTION")
    else:
        _GraphValidator(report, loaded.data).check_machine(loaded.data, loaded.duplicates)
        check_variable_scopes(report, loaded.data)
    return report.diagnostics


def format_invalid_definition(diagnostics: list[Diagnostic]) -> str:
    """The message of CreateStateMachine's ``InvalidDefinition`` error for these errors."""
    items = [f"{item.code}: {_located(item)}" for item in diagnostics if item.severity == "ERROR"]
    if len(items) == 1:
        return f"Invalid State Machine Definition: '{items[0]}'"
    quoted = ", ".join(f"'{item}'" for item in items)
    return f"Invalid State Machine Definition: '{quoted}'"


def _located(item: Diagnostic) -> str:
    """The message and where: a JSON reader's message already ends with its location."""
    if item.location and item.message.endswith(item.location):
        return item.message
    return f"{item.message} at {item.location or '/'}"


def _check_text(text: str | bytes) -> LoadedDefinition | Diagnostic:
    if not text.strip():
        return Diagnostic("ERROR", "MISSING_DESCRIPTION", "The definition is empty", "")
    try:
        return load_definition(text)
    except DefinitionSyntaxError as error:
        return Diagnostic(
            "ERROR",
            "INVALID_JSON_DESCRIPTION",
            error.message,
            error.location,
            error.line,
            error.column,
        )


def _check_size(report: Report, text: str | bytes) -> None:
    size = len(text.encode("utf-8")) if isinstance(text, str) else len(text)
    if size > MAX_DEFINITION_BYTES:
        report.error(
            "",
            f"The definition is {size} bytes long; the maximum is {MAX_DEFINITION_BYTES} bytes",
        )


class _GraphValidator:
    """Walks the machine's graphs, handing each state to ``check_state``."""

    __slots__ = ("all_names", "report", "seen_labels", "seen_names", "top_jsonata")

    def __init__(self, report: Report, data: JSON) -> None:
        self.report = report
        language = data.get("QueryLanguage", JSONPATH) if isinstance(data, dict) else JSONPATH
        self.top_jsonata = language == JSONATA
        self.seen_names: set[str] = set()
        self.seen_labels: set[str] = set()
        self.all_names = frozenset(_all_state_names(data))

    def check_machine(self, data: JSON, duplicates: tuple[str, ...]) -> None:
        if not isinstance(data, dict):
            self.report.error("", "The definition must be a JSON object")
            return
        if "Comment" in data and not isinstance(data["Comment"], str):
            self.report.error("/Comment", 'The field "Comment" must be a string')
        if "Version" in data and not isinstance(data["Version"], str):
            self.report.error("/Version", 'The field "Version" must be a string')
        if "TimeoutSeconds" in data:
            check_integer(
                self.report,
                "/TimeoutSeconds",
                "TimeoutSeconds",
                data["TimeoutSeconds"],
                1,
                MAX_SECONDS,
            )
        if data.get("QueryLanguage", JSONPATH) not in QUERY_LANGUAGES:
            self.report.error(
                "/QueryLanguage",
                'The field "QueryLanguage" must be "JSONPath" '
                f'or "JSONata", not {show(data["QueryLanguage"])}',
            )
        self.check_graph(data, "", "machine")
        self._report_duplicate_keys(duplicates)

    def check_graph(self, graph: JSON, path: str, kind: str) -> None:
        """Validate one graph: its fields, its states, and the transitions between them."""
        report = self.report
        if not isinstance(graph, dict):
            report.error(path, "A graph (StartAt and States) must be an object")
            return
        unknown_fields(report, path, graph, _GRAPH_FIELDS[kind])
        start_at, states = graph.get("StartAt"), graph.get("States")
        missing = [field for field in ("States", "StartAt") if field not in graph]
        if missing:  # AWS's words and order (aws-behaviour L, K17)
            report.error(path, f"These fields are required: [{', '.join(missing)}]")
        if "StartAt" in graph and not isinstance(start_at, str):
            report.error(join(path, "StartAt"), 'The field "StartAt" must be a string')
        if "States" not in graph:
            return
        if not isinstance(states, dict) or not states:
            report.error(join(path, "States"), 'The field "States" must be a non-empty object')
            return
        for name, body in states.items():
            self._check_state(name, body, join(path, "States", name))
        complete = self._check_transitions(states, path)
        if isinstance(start_at, str):
            self._check_start_and_reachability(start_at, states, path)
        if complete:  # a missing target already explains a graph that cannot end
            self._check_terminal(states, path)

    def _check_state(self, name: str, body: JSON, path: str) -> None:
        self._check_name(name, path)
        if not isinstance(body, dict):
            self.report.error(path, f'The state "{name}" must be an object')
            return
        jsonata = self._query_language(body, path)
        check_state(StateScope(name, path, body, jsonata, self.report, self.check_graph))
        self._check_label_unique(body, path)

    def _check_label_unique(self, body: Mapping[str, JSON], path: str) -> None:
        """A Map's ``Label`` "must be unique within a state machine definition" (Developer
        Guide, "Distributed Map state"); the wording is Stepwell's."""
        label = body.get("Label") if body.get("Type") == "Map" else None
        if not isinstance(label, str):
            return
        if label in self.seen_labels:
            self.report.error(join(path, "Label"), f'The Label "{label}" is used by another Map')
        self.seen_labels.add(label)

    def _check_name(self, name: str, path: str) -> None:
        if not name:
            self.report.error(path, "A state name must not be empty", "INVALID_STATE_NAME")
        elif len(name) > MAX_STATE_NAME_LENGTH:
            self.report.error(
                path,
                f"The state name {show(name)} is longer than {MAX_STATE_NAME_LENGTH} characters",
                "INVALID_STATE_NAME",
            )
        if name in self.seen_names:
            self.report.error(path, f"Duplicate State name: {name}", "DUPLICATE_STATE_NAME")
        self.seen_names.add(name)

    def _query_language(self, body: Mapping[str, JSON], path: str) -> bool:
        """Whether the state uses JSONata; a JSONata machine cannot hold JSONPath states."""
        if "QueryLanguage" not in body:
            return self.top_jsonata
        language = body["QueryLanguage"]
        if language not in QUERY_LANGUAGES:
            self.report.error(
                join(path, "QueryLanguage"),
                f'The field "QueryLanguage" must be "JSONPath" or "JSONata", not {show(language)}',
            )
            return self.top_jsonata
        if self.top_jsonata and language == JSONPATH:
            # Developer Guide, "Transforming data with JSONata": a state may opt in to
            # JSONata in a JSONPath machine, not out of it in a JSONata machine. AWS's
            # words, located at the state (aws-behaviour L).
            self.report.error(
                path,
                "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
            )
        return bool(language == JSONATA)

    def _check_transitions(self, states: Mapping[str, JSON], path: str) -> bool:
        """Report transitions to unknown states; True when there are none."""
        complete = True
        for name, body in states.items():
            for target, parts in _transitions(body):
                if target in states:
                    continue
                complete = False
                elsewhere = (
                    " (a state can only transition to states of its own States object)"
                    if target in self.all_names
                    else ""
                )
                self.report.error(
                    join(path, "States", name, *parts),
                    f"Missing '{parts[-1]}' target: {target}{elsewhere}",
                    "MISSING_TRANSITION_TARGET",
                )
        return complete

    def _check_start_and_reachability(
        self, start_at: str, states: Mapping[str, JSON], path: str
    ) -> None:
        if start_at not in states:
            self.report.error(
                join(path, "StartAt"),
                f"Missing 'StartAt' target: {start_at}",
                "MISSING_TRANSITION_TARGET",
            )
            return
        reached = {start_at}
        pending = [start_at]
        while pending:
            for target, _ in _transitions(states[pending.pop()]):
                if target in states and target not in reached:
                    reached.add(target)
                    pending.append(target)
        for name in states:
            if name not in reached:
                self.report.error(
                    join(path, "States", name),
                    f'State "{name}" is not reachable.',
                    "MISSING_TRANSITION_TARGET",
                )

    def _check_terminal(self, states: Mapping[str, JSON], path: str) -> None:
        if not any(_is_terminal(body) for body in states.values()):
            self.report.error(
                join(path, "States"),
                'No terminal state: no Succeed or Fail state and no "End": true',
                "MISSING_END_STATE",
            )

    def _report_duplicate_keys(self, duplicates: tuple[str, ...]) -> None:
        for path in duplicates:
            parent, _, key = path.rpartition("/")
            if parent.endswith("/States") or parent == "/States":
                self.report.error(path, f"Duplicate State name: {key}", "DUPLICATE_STATE_NAME")
            else:
                self.report.error(path, f'Duplicate field "{key}"', "INVALID_JSON_DESCRIPTION")


def _transitions(body: JSON) -> Iterator[tuple[str, tuple[str | int, ...]]]:
    """Each state name ``body`` may go to, with the path of the field that names it."""
    if not isinstance(body, dict):
        return
    for key in ("Next", "Default"):
        if isinstance(body.get(key), str):
            yield body[key], (key,)
    for key in ("Choices", "Catch"):
        entries = body.get(key)
        if not isinstance(entries, list):
            continue
        for index, entry in enumerate(entries):
            if isinstance(entry, dict) and isinstance(entry.get("Next"), str):
                yield entry["Next"], (key, index, "Next")


def _is_terminal(body: JSON) -> bool:
    state_type = body.get("Type") if isinstance(body, dict) else None
    if not isinstance(state_type, str) or state_type not in STATE_TYPES:
        return True  # already reported; do not add a second complaint
    return state_type in _TERMINAL_TYPES or body.get("End") is True


def _all_state_names(graph: JSON) -> Iterator[str]:
    """Every state name in a graph and the graphs nested in it."""
    states = graph.get("States") if isinstance(graph, dict) else None
    if not isinstance(states, dict):
        return
    for name, body in states.items():
        yield name
        if not isinstance(body, dict):
            continue
        branches = body.get("Branches")
        for nested in branches if isinstance(branches, list) else ():
            yield from _all_state_names(nested)
        for key in ("ItemProcessor", "Iterator"):
            yield from _all_state_names(body.get(key))
