"""Validation of Choice states and their rules, in both query languages.

JSONPath (Developer Guide, "Choice workflow state"; spec, "Choice Rules"): a top-level
rule has ``Next`` and exactly one of: a comparison operator with ``Variable``, ``And``,
``Or`` or ``Not``; nested rules (inside And/Or/Not) have no ``Next``. Each operator
fixes the type of its value: a string, a number, a boolean, a timestamp, or a path for
the ``...Path`` forms. JSONata: each rule is ``Condition`` plus ``Next``.

Design: the operators and what their value must be are one table, so a new operator is
one line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from stepwell.language.timestamps import is_timestamp
from stepwell.language.validation_rules.base import (
    JSON,
    Report,
    StateScope,
    check_assign,
    check_jsonata_string,
    check_jsonata_value,
    check_path_field,
    is_number,
    join,
    unknown_fields,
)

_COMPARED: Final = ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
_TYPE_TESTS: Final = ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")

ValueCheck = Callable[[JSON], bool]


def _is_string(value: JSON) -> bool:
    return isinstance(value, str)


def _is_boolean(value: JSON) -> bool:
    return isinstance(value, bool)


_OPERATORS: Final[dict[str, tuple[ValueCheck, str]]] = {
    **{f"String{op}": (_is_string, "a string") for op in _COMPARED},
    "StringMatches": (_is_string, "a string"),
    **{f"Numeric{op}": (is_number, "a number") for op in _COMPARED},
    "BooleanEquals": (_is_boolean, "a boolean"),
    **{f"Timestamp{op}": (is_timestamp, "an RFC 3339 timestamp") for op in _COMPARED},
    **{test: (_is_boolean, "a boolean") for test in _TYPE_TESTS},
}
_PATH_OPERATORS: Final = frozenset(
    f"{kind}{op}Path" for kind in ("String", "Numeric", "Timestamp") for op in _COMPARED
) | {"BooleanEqualsPath"}
_COMBINATORS: Final = frozenset({"And", "Or", "Not"})
_RULE_KINDS: Final = frozenset(_OPERATORS) | _PATH_OPERATORS | _COMBINATORS
_JSONPATH_RULE_FIELDS: Final = _RULE_KINDS | {"Variable", "Comment", "Next", "Assign"}
_JSONATA_RULE_FIELDS: Final = frozenset({"Condition", "Next", "Comment", "Assign", "Output"})
_TOP_LEVEL_ONLY: Final = frozenset({"Next", "Assign"})


def check_choice_state(scope: StateScope) -> None:
    """Choices is a non-empty array of rules; Default names a state (checked by the graph)."""
    body = scope.body
    choices = body.get("Choices")
    if "Choices" not in body:
        scope.error('Missing required field "Choices"')
    elif not isinstance(choices, list) or not choices:
        scope.error('The field "Choices" must be a non-empty array', "Choices")
    else:
        check = _check_jsonata_rule if scope.jsonata else _check_top_rule
        for index, rule in enumerate(choices):
            check(scope.report, scope.at("Choices", index), rule)
    if "Default" in body and not isinstance(body["Default"], str):
        scope.error('The field "Default" must be a string', "Default")


def _check_jsonata_rule(report: Report, location: str, rule: JSON) -> None:
    if not isinstance(rule, dict):
        report.error(location, "A Choice rule must be an object")
        return
    unknown_fields(report, location, rule, _JSONATA_RULE_FIELDS, _JSONPATH_RULE_FIELDS, True)
    _check_next(report, location, rule)
    condition = rule.get("Condition")
    if "Condition" not in rule:
        report.error(location, 'Missing required field "Condition"')
    elif isinstance(condition, str):
        check_jsonata_string(report, join(location, "Condition"), condition, required=True)
    elif not isinstance(condition, bool):
        report.error(
            join(location, "Condition"),
            'The field "Condition" must be a JSONata expression or a boolean',
        )
    if "Output" in rule:
        check_jsonata_value(report, join(location, "Output"), rule["Output"])
    if "Assign" in rule:
        check_assign(report, join(location, "Assign"), rule["Assign"], True)


def _check_top_rule(report: Report, location: str, rule: JSON) -> None:
    if _check_rule(report, location, rule, top_level=True):
        _check_next(report, location, rule)
        if "Assign" in rule:
            check_assign(report, join(location, "Assign"), rule["Assign"], False)


def _check_next(report: Report, location: str, rule: Mapping[str, JSON]) -> None:
    if "Next" not in rule:
        report.error(location, 'Missing required field "Next"')
    elif not isinstance(rule["Next"], str):
        report.error(join(location, "Next"), 'The field "Next" must be a string')


def _check_rule(report: Report, location: str, rule: JSON, *, top_level: bool) -> bool:
    """Check one JSONPath rule; return False when it is not even an object."""
    if not isinstance(rule, dict):
        report.error(location, "A Choice rule must be an object")
        return False
    unknown_fields(report, location, rule, _JSONPATH_RULE_FIELDS, _JSONATA_RULE_FIELDS, False)
    if not top_level:
        for key in _TOP_LEVEL_ONLY & rule.keys():
            report.error(
                join(location, key), f'The field "{key}" is only allowed in a top-level Choice rule'
            )
    kinds = [key for key in rule if key in _RULE_KINDS]
    if len(kinds) != 1:
        found = f" (found {', '.join(kinds)})" if kinds else ""
        report.error(
            location,
            "A Choice rule must have exactly one comparison operator "
            f"or one of And, Or, Not{found}",
        )
    for kind in kinds:
        _RULE_CHECKS.get(kind, _check_comparison)(report, location, rule, kind)
    return True


def _check_comparison(report: Report, location: str, rule: Mapping[str, JSON], op: str) -> None:
    if "Variable" not in rule:
        report.error(location, f'Missing required field "Variable" for "{op}"')
    else:
        check_path_field(
            report, join(location, "Variable"), "Variable", rule["Variable"], reference=True
        )
    value = rule[op]
    if op in _PATH_OPERATORS:
        check_path_field(report, join(location, op), op, value, reference=True)
        return
    accepts, description = _OPERATORS[op]
    if not accepts(value):
        report.error(join(location, op), f'The value of "{op}" must be {description}')


def _check_and_or(report: Report, location: str, rule: Mapping[str, JSON], op: str) -> None:
    _no_variable(report, location, rule, op)
    rules = rule[op]
    if not isinstance(rules, list) or not rules:
        report.error(join(location, op), f'The value of "{op}" must be a non-empty array of rules')
        return
    for index, nested in enumerate(rules):
        _check_rule(report, join(location, op, index), nested, top_level=False)


def _check_not(report: Report, location: str, rule: Mapping[str, JSON], op: str) -> None:
    _no_variable(report, location, rule, op)
    _check_rule(report, join(location, op), rule[op], top_level=False)


def _no_variable(report: Report, location: str, rule: Mapping[str, JSON], op: str) -> None:
    if "Variable" in rule:
        report.error(
            join(location, "Variable"), f'The field "Variable" cannot be used together with "{op}"'
        )


_RULE_CHECKS: Final[Mapping[str, Callable[[Report, str, Mapping[str, JSON], str], None]]] = {
    "And": _check_and_or,
    "Or": _check_and_or,
    "Not": _check_not,
}
