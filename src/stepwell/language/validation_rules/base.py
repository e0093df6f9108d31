"""The building blocks of validation: diagnostics, the report, and checks of one value.

Every rule module appends to a ``Report``; the report attaches the source line and column
of each location (the nearest enclosing value when the location itself is absent, such
as a missing field). Expression syntax is checked with the compilers of ``jsonpath``,
``intrinsics`` and ``jsonata``, imported inside the functions that use them so that
structural validation does not depend on them being importable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from stepwell.language.errors import ExpressionSyntaxError
from stepwell.language.source import Position, escape_token

JSON = Any

ERROR: Final = "ERROR"
WARNING: Final = "WARNING"
SCHEMA: Final = "SCHEMA_VALIDATION_FAILED"

JSONPATH: Final = "JSONPath"
JSONATA: Final = "JSONata"
QUERY_LANGUAGES: Final = (JSONPATH, JSONATA)

# Developer Guide, "Step Functions service quotas" and the field descriptions of each state.
MAX_SECONDS: Final = 99_999_999
MAX_DELAY_SECONDS_LIMIT: Final = 31_622_400  # "MaxDelaySeconds ... must be less than 31622401"
STATES_ALL: Final = "States.ALL"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem in a definition, shaped like ValidateStateMachineDefinition's diagnostics.

    ``location`` is a JSON Pointer into the definition (``""`` is the whole definition);
    ``line`` and ``column`` are 1-based when the definition was given as text.
    """

    severity: str
    code: str
    message: str
    location: str
    line: int | None = None
    column: int | None = None


class Report:
    """Collects diagnostics, attaching the source position of each location."""

    __slots__ = ("diagnostics", "positions")

    def __init__(self, positions: Mapping[str, Position]) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.positions = positions

    def error(self, location: str, message: str, code: str = SCHEMA) -> None:
        self._add(ERROR, code, message, location)

    def warning(self, location: str, message: str, code: str) -> None:
        self._add(WARNING, code, message, location)

    def _add(self, severity: str, code: str, message: str, location: str) -> None:
        line, column = self._position(location)
        self.diagnostics.append(Diagnostic(severity, code, message, location, line, column))

    def _position(self, location: str) -> tuple[int | None, int | None]:
        # A missing field has no position of its own: use the nearest enclosing value.
        path = location
        while True:
            found = self.positions.get(path)
            if found is not None:
                return found
            if not path:
                return None, None
            path = path[: path.rfind("/")]


GraphChecker = Callable[[JSON, str, str], None]
"""Validates a nested graph: (graph object, its pointer, its kind "branch"|"processor")."""


@dataclass(frozen=True, slots=True)
class StateScope:
    """One state being validated: where it is, what it holds, which language it uses."""

    name: str
    path: str
    body: Mapping[str, JSON]
    jsonata: bool
    report: Report
    check_graph: GraphChecker

    def at(self, *parts: str | int) -> str:
        return join(self.path, *parts)

    def error(self, message: str, *parts: str | int) -> None:
        self.report.error(self.at(*parts), message)


def join(base: str, *parts: str | int) -> str:
    return base + "".join("/" + escape_token(str(part)) for part in parts)


# --- values ---------------------------------------------------------------------------


def show(value: JSON) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 60 else text[:57] + "..."


def is_int(value: JSON) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: JSON) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_integer(
    report: Report, location: str, key: str, value: JSON, low: int, high: int = MAX_SECONDS
) -> bool:
    """An integer in [low, high]; report and return False otherwise."""
    if is_int(value) and low <= value <= high:
        return True
    report.error(location, f'The field "{key}" must be an integer between {low} and {high}')
    return False


def check_integer_or_jsonata(
    scope: StateScope, key: str, low: int, high: int = MAX_SECONDS
) -> None:
    if key not in scope.body:
        return
    value = scope.body[key]
    if scope.jsonata and isinstance(value, str):
        check_jsonata_string(scope.report, scope.at(key), value, required=True)
    else:
        check_integer(scope.report, scope.at(key), key, value, low, high)


def check_exclusive(scope: StateScope, *keys: str) -> list[str]:
    """Report when more than one of ``keys`` is present; return the ones present."""
    present = [key for key in keys if key in scope.body]
    if len(present) > 1:
        names = " and ".join(f'"{key}"' for key in present)
        scope.error(f"The fields {names} are mutually exclusive", present[1])
    return present


# --- expressions ----------------------------------------------------------------------


def _path_error(text: str) -> ExpressionSyntaxError | None:
    from stepwell.language.jsonpath import compile_path

    try:
        compile_path(text)
    except ExpressionSyntaxError as error:
        return error
    return None


def _intrinsic_error(text: str) -> ExpressionSyntaxError | None:
    from stepwell.language.intrinsics import compile_intrinsic

    try:
        compile_intrinsic(text)
    except ExpressionSyntaxError as error:
        return error
    return None


def _looks_intrinsic(text: str) -> bool:
    from stepwell.language.intrinsics import is_intrinsic

    return bool(is_intrinsic(text))


def _detail(error: ExpressionSyntaxError) -> str:
    return f": {error.message}" if error.message else ""


def check_path_field(
    report: Report,
    location: str,
    key: str,
    value: JSON,
    *,
    nullable: bool = False,
    intrinsic: bool = False,
    reference: bool = False,
    detail: bool = True,
) -> None:
    """A ``...Path`` field: a JSONPath (or, where allowed, an intrinsic function call);
    with ``reference``, a Reference Path (spec: no wildcards, filters or slices). Without
    ``detail`` the message ends where AWS's does (K17), with no parser explanation."""
    if value is None and nullable:
        return
    what = (
        "a valid JSONPath or a valid intrinsic function call" if intrinsic else "a valid JSONPath"
    )
    if not isinstance(value, str):
        report.error(location, f"The value for the field '{key}' must be {what}")
        return
    dynamic = _intrinsic_error if intrinsic and _looks_intrinsic(value) else _path_error
    error = dynamic(value)
    if error is not None:
        explained = _detail(error) if detail else ""
        report.error(location, f"The value for the field '{key}' must be {what}{explained}")
    elif reference and not _is_reference(value):
        report.error(location, f"The value for the field '{key}' must be a valid Reference Path")


def _is_reference(text: str) -> bool:
    from stepwell.language.jsonpath import compile_path

    return compile_path(text).is_reference


def check_result_path(report: Report, location: str, value: JSON) -> None:
    """ResultPath: null or a Reference Path on ``$`` (spec, "Reference Paths")."""
    from stepwell.language.jsonpath import compile_result_path

    if value is None:
        return
    try:
        compile_result_path(value)
    except ExpressionSyntaxError as error:
        message = f"The value for the field 'ResultPath' must be a valid JSONPath{_detail(error)}"
        report.error(location, message)


def check_payload_template(
    report: Report, location: str, key: str, value: JSON, any_value: bool = False
) -> None:
    """Parameters, ResultSelector, ItemSelector, Credentials (JSONPath): an object template.

    With ``any_value`` (a Pass, Task or Parallel state's ``Parameters`` and
    ``ResultSelector``) an array or a plain value is accepted too: the spec says the
    template "MUST be a JSON object", but the service accepts an array (AWS's own ASL
    schema was changed "to match the constraints applied in the service",
    aws/aws-toolkit-vscode#2459), and published samples deploy with one. The objects in
    such an array are templates like any other."""
    if any_value and not isinstance(value, dict):
        _check_static_value(report, location, key, value, location)
        return
    if not isinstance(value, dict):
        report.error(location, f'The field "{key}" must be an object')
        return
    _check_template_object(report, location, value, location)


def _check_template_object(
    report: Report, location: str, template: Mapping[str, JSON], root: str
) -> None:
    """K17: a bad ``"key.$"`` value is reported at the template's own field (``root``,
    e.g. ``/States/S/Parameters``), as AWS does, whatever its depth."""
    for field_name, value in template.items():
        if field_name.endswith(".$"):
            check_path_field(report, root, field_name, value, intrinsic=True, detail=False)
        else:
            _check_static_value(report, join(location, field_name), field_name, value, root)


def _check_static_value(report: Report, location: str, name: str, value: JSON, root: str) -> None:
    if isinstance(value, dict):
        _check_template_object(report, location, value, root)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_static_value(report, join(location, index), name, item, root)
    elif isinstance(value, str) and looks_dynamic(value):
        report.warning(
            location,
            f'The value of field "{name}" looks like a JSONPath or an intrinsic '
            "function, but the field name does not end with '.$'",
            "NO_DOLLAR",
        )


def looks_dynamic(text: str) -> bool:
    """A path or an intrinsic call (``States.Name(``); a bare name such as
    ``States.RanOutOfTime`` is an error name, not an expression (F5)."""
    return text.startswith(("$.", "$$.", "$[")) or text in ("$", "$$") or _looks_intrinsic(text)


def check_assign(report: Report, location: str, value: JSON, jsonata: bool) -> None:
    """Assign: an object of variable names; JSONPath mode evaluates ``.$`` keys."""
    if not isinstance(value, dict):
        report.error(location, 'The field "Assign" must be an object')
        return
    for key in value:
        name = key if jsonata else key.removesuffix(".$")
        _check_variable_name(report, join(location, key), name)
    if jsonata:
        check_jsonata_value(report, location, value)
    else:
        _check_template_object(report, location, value, location)


MAX_VARIABLE_NAME_LENGTH: Final = 80
RESERVED_VARIABLE: Final = "states"


def _check_variable_name(report: Report, location: str, name: str) -> None:
    """Developer Guide, "Passing data between states with variables": names are Unicode
    identifiers ("similar to rules for JavaScript"; a leading "_" is accepted here) of at
    most 80 characters; "$states" is reserved; "you cannot assign a value to a part of a
    variable" ("x.y", "x[2]")."""
    if name == RESERVED_VARIABLE:
        report.error(location, 'The variable name "states" is reserved')
    elif not name.isidentifier():
        report.error(location, f"{show(name)} is not a valid variable name")
    elif len(name) > MAX_VARIABLE_NAME_LENGTH:
        report.error(
            location, f"A variable name must be at most {MAX_VARIABLE_NAME_LENGTH} characters"
        )


def check_jsonata_value(report: Report, location: str, value: JSON) -> None:
    """Every ``{% %}`` string in a JSONata state's value must compile, at any depth."""
    if isinstance(value, str):
        check_jsonata_string(report, location, value, required=False)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_jsonata_value(report, join(location, key), item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_jsonata_value(report, join(location, index), item)


def check_jsonata_string(report: Report, location: str, text: str, *, required: bool) -> None:
    """Compile a ``{% expr %}`` string; when ``required``, a plain string is an error too."""
    from stepwell.language.jsonata import compile_jsonata_template, is_jsonata_template

    if required and not is_jsonata_template(text):
        report.error(location, f"The value {show(text)} must be a JSONata expression {{% ... %}}")
        return
    try:
        compile_jsonata_template(text)
    except ExpressionSyntaxError as error:
        report.error(location, error.message)


# --- fields -----------------------------------------------------------------------

# What a JSONPath field becomes in JSONata, for a message that helps.
JSONATA_REPLACEMENT: Final = {
    "Parameters": "Arguments",
    "InputPath": "Arguments",
    "ResultSelector": "Output",
    "ResultPath": "Output",
    "OutputPath": "Output",
    "ItemsPath": "Items",
    "Variable": "Condition",
}


def language_message(key: str, jsonata: bool) -> str:
    if not jsonata:
        return f'The field "{key}" is only supported when QueryLanguage is JSONata'
    hint = JSONATA_REPLACEMENT.get(key)
    advice = f'; use "{hint}" instead' if hint else ""
    return f'The field "{key}" is not supported when QueryLanguage is JSONata{advice}'


def unknown_fields(
    report: Report,
    location: str,
    entry: Mapping[str, JSON],
    allowed: frozenset[str],
    other_language: frozenset[str] = frozenset(),
    jsonata: bool = False,
) -> None:
    for key in entry:
        if key in allowed:
            continue
        if key in other_language:
            report.error(join(location, key), language_message(key, jsonata))
        else:
            report.error(
                join(location, key), f'The field "{key}" is not supported by Step Functions'
            )
