"""JSONPath Choice Rules. Sources: States Language specification, "Choice State" (Boolean
and data-test expressions, the operator list, StringMatches escapes, IsPresent); Developer
Guide, "Choice workflow state" (type mismatches, Java compareTo ordering, timestamps)."""

from __future__ import annotations

from typing import Any

import pytest

from stepwell.language.choice import compile_choice_rule
from stepwell.language.errors import RUNTIME, ExpressionSyntaxError, StatesError
from stepwell.language.evaluation import EvalContext

CTX = EvalContext(context={"Execution": {"Name": "run-1"}}, variables={"limit": 10})


def check(rule: dict[str, Any], data: Any, ctx: EvalContext = CTX) -> bool:
    return compile_choice_rule(rule).evaluate(data, ctx)


# --- every comparison operator, constant operand ------------------------------------------

TS = "2016-03-14T01:59:00Z"
TS_EARLIER = "2016-03-14T01:58:59.999Z"
TS_LATER = "2016-03-14T01:59:00.001Z"
TS_SAME_INSTANT = "2016-03-13T18:59:00-07:00"

# (operator, operand, value of Variable, expected)
COMPARISONS: list[tuple[str, Any, Any, bool]] = [
    ("StringEquals", "abc", "abc", True),
    ("StringEquals", "abc", "abd", False),
    ("StringEquals", "abc", "ABC", False),  # no case folding (spec)
    ("StringEquals", "", "", True),
    ("StringEquals", "1", 1, False),  # type mismatch: false, not an error
    ("StringEquals", "true", True, False),
    ("StringEquals", "null", None, False),
    ("StringLessThan", "b", "a", True),
    ("StringLessThan", "b", "b", False),
    ("StringLessThan", "b", "c", False),
    ("StringLessThan", "ab", "a", True),  # a prefix sorts first
    ("StringLessThan", "a", "B", True),  # "B" (66) < "a" (97): ordinal, not alphabetical
    ("StringLessThan", "B", "a", False),
    ("StringLessThan", "b", 1, False),
    ("StringGreaterThan", "MyStringABC", "MyStringABD", True),
    ("StringGreaterThan", "b", "b", False),
    ("StringGreaterThan", "b", "a", False),
    ("StringGreaterThan", "b", ["c"], False),
    ("StringLessThanEquals", "b", "a", True),
    ("StringLessThanEquals", "b", "b", True),
    ("StringLessThanEquals", "b", "c", False),
    ("StringLessThanEquals", "b", None, False),
    ("StringGreaterThanEquals", "b", "c", True),
    ("StringGreaterThanEquals", "b", "b", True),
    ("StringGreaterThanEquals", "b", "a", False),
    ("StringGreaterThanEquals", "b", {"b": 1}, False),
    ("StringMatches", "log-*.txt", "log-2024.txt", True),
    ("StringMatches", "log-*.txt", "log-.txt", True),
    ("StringMatches", "log-*.txt", "log-2024.csv", False),
    ("StringMatches", "log-*.txt", 5, False),
    ("NumericEquals", 1, 1, True),
    ("NumericEquals", 1, 1.0, True),  # int and float compare by value
    ("NumericEquals", 1, 2, False),
    ("NumericEquals", 1, "1", False),  # "doesn't attempt to match a numeric field to a string"
    ("NumericEquals", 1, True, False),  # booleans are not numbers
    ("NumericEquals", 0, False, False),
    ("NumericEquals", 0, None, False),
    ("NumericLessThan", 30, 22, True),
    ("NumericLessThan", 30, 30, False),
    ("NumericLessThan", 30, 29.999, True),
    ("NumericLessThan", 30, "22", False),
    ("NumericGreaterThan", 0, 0.5, True),
    ("NumericGreaterThan", 0, 0, False),
    ("NumericGreaterThan", 0, -1, False),
    ("NumericGreaterThan", 0, True, False),
    ("NumericLessThanEquals", 2.5, 2.5, True),
    ("NumericLessThanEquals", 2.5, 2, True),
    ("NumericLessThanEquals", 2.5, 3, False),
    ("NumericLessThanEquals", 2.5, [1], False),
    ("NumericGreaterThanEquals", 20, 22, True),
    ("NumericGreaterThanEquals", 20, 20, True),
    ("NumericGreaterThanEquals", 20, 19, False),
    ("NumericGreaterThanEquals", 20, "21", False),
    ("BooleanEquals", True, True, True),
    ("BooleanEquals", True, False, False),
    ("BooleanEquals", False, False, True),
    ("BooleanEquals", True, 1, False),  # 1 is not true
    ("BooleanEquals", False, 0, False),
    ("BooleanEquals", True, "true", False),
    ("TimestampEquals", TS, TS, True),
    ("TimestampEquals", TS, TS_SAME_INSTANT, True),  # instants, not strings, are compared
    ("TimestampEquals", TS, TS_LATER, False),
    ("TimestampEquals", TS, "2016-03-14", False),  # not a timestamp: false
    ("TimestampEquals", TS, 1457920740, False),
    ("TimestampLessThan", TS, TS_EARLIER, True),
    ("TimestampLessThan", TS, TS, False),
    ("TimestampLessThan", TS, TS_LATER, False),
    ("TimestampLessThan", TS, "yesterday", False),
    ("TimestampGreaterThan", TS, TS_LATER, True),
    ("TimestampGreaterThan", TS, TS, False),
    ("TimestampGreaterThan", TS, TS_EARLIER, False),
    ("TimestampGreaterThan", TS, "2016-03-14t02:00:00Z", False),  # lowercase t is invalid
    ("TimestampLessThanEquals", TS, TS_EARLIER, True),
    ("TimestampLessThanEquals", TS, TS_SAME_INSTANT, True),
    ("TimestampLessThanEquals", TS, TS_LATER, False),
    ("TimestampLessThanEquals", TS, None, False),
    ("TimestampGreaterThanEquals", TS, TS_LATER, True),
    ("TimestampGreaterThanEquals", TS, TS, True),
    ("TimestampGreaterThanEquals", TS, TS_EARLIER, False),
    ("TimestampGreaterThanEquals", TS, True, False),
]


@pytest.mark.parametrize(("op", "operand", "value", "expected"), COMPARISONS)
def test_comparison_with_constant(op: str, operand: Any, value: Any, expected: bool) -> None:
    assert check({"Variable": "$.v", op: operand}, {"v": value}) is expected


PATH_COMPARISONS = [case for case in COMPARISONS if case[0] != "StringMatches"]


@pytest.mark.parametrize(("op", "operand", "value", "expected"), PATH_COMPARISONS)
def test_path_variant_reads_operand_from_data(
    op: str, operand: Any, value: Any, expected: bool
) -> None:
    rule = {"Variable": "$.v", f"{op}Path": "$.other"}
    assert check(rule, {"v": value, "other": operand}) is expected


@pytest.mark.parametrize(
    ("op", "operand"),
    [
        ("StringEqualsPath", 1),
        ("StringLessThanPath", None),
        ("StringGreaterThanEqualsPath", ["b"]),
        ("NumericEqualsPath", "1"),
        ("NumericLessThanPath", True),
        ("BooleanEqualsPath", 1),
        ("BooleanEqualsPath", "true"),
        ("TimestampEqualsPath", 1457920740),
        ("TimestampLessThanPath", "not a timestamp"),
        ("TimestampGreaterThanEqualsPath", None),
    ],
)
def test_path_operand_of_wrong_type_is_false(op: str, operand: Any) -> None:
    values = {"String": "b", "Numeric": 1, "Boolean": True, "Timestamp": TS}
    value = next(v for prefix, v in values.items() if op.startswith(prefix))
    assert check({"Variable": "$.v", op: "$.other"}, {"v": value, "other": operand}) is False


def test_path_variant_compares_two_fields_of_the_input() -> None:
    # Spec example: {"Variable": "$.rating", "NumericGreaterThanPath": "$.auditThreshold"}.
    rule = {"Variable": "$.rating", "NumericGreaterThanPath": "$.auditThreshold"}
    assert check(rule, {"rating": 53, "auditThreshold": 50}) is True
    assert check(rule, {"rating": 50, "auditThreshold": 50}) is False


# --- type tests -----------------------------------------------------------------------------

VALUES: dict[str, Any] = {
    "null": None,
    "int": 3,
    "float": 2.5,
    "zero": 0,
    "true": True,
    "false": False,
    "string": "abc",
    "empty": "",
    "timestamp": TS,
    "offset_timestamp": "2016-03-14T01:59:00.5+01:00",
    "array": [1],
    "object": {"a": 1},
}

TYPE_TESTS: dict[str, set[str]] = {
    "IsNull": {"null"},
    "IsNumeric": {"int", "float", "zero"},
    "IsString": {"string", "empty", "timestamp", "offset_timestamp"},
    "IsBoolean": {"true", "false"},
    "IsTimestamp": {"timestamp", "offset_timestamp"},
    "IsPresent": set(VALUES),
}


@pytest.mark.parametrize("op", sorted(TYPE_TESTS))
@pytest.mark.parametrize("kind", sorted(VALUES))
def test_type_test(op: str, kind: str) -> None:
    holds = kind in TYPE_TESTS[op]
    assert check({"Variable": "$.v", op: True}, {"v": VALUES[kind]}) is holds
    assert check({"Variable": "$.v", op: False}, {"v": VALUES[kind]}) is not holds


def test_is_present_is_false_for_a_missing_field() -> None:
    # Spec: "if the Variable-field Path fails to match anything in the input no exception
    # is thrown and the Choice Rule just returns false".
    assert check({"Variable": "$.missing", "IsPresent": True}, {"v": 1}) is False
    assert check({"Variable": "$.missing", "IsPresent": False}, {"v": 1}) is True
    assert check({"Variable": "$.v.deeper", "IsPresent": True}, {"v": 1}) is False


def test_is_present_guard_keeps_and_from_failing() -> None:
    # Developer Guide, "Choice Rules (JSONPath)": the StringEquals rule "is only evaluated
    # when $.keyThatMightNotExist exists because of the preceding IsPresent Choice Rule".
    rule = {
        "And": [
            {"Variable": "$.keyThatMightNotExist", "IsPresent": True},
            {"Variable": "$.keyThatMightNotExist", "StringEquals": "foo"},
        ]
    }
    assert check(rule, {}) is False
    assert check(rule, {"keyThatMightNotExist": "foo"}) is True


# --- missing paths --------------------------------------------------------------------------

CONSTANT_OPERANDS: dict[str, Any] = {
    "String": "a",
    "Numeric": 1,
    "Boolean": True,
    "Timestamp": TS,
    "Is": True,
}
ALL_OPERATORS = sorted({case[0] for case in COMPARISONS} | (set(TYPE_TESTS) - {"IsPresent"}))


def _constant_for(op: str) -> Any:
    return next(v for prefix, v in CONSTANT_OPERANDS.items() if op.startswith(prefix))


@pytest.mark.parametrize("op", ALL_OPERATORS)
def test_missing_variable_is_a_runtime_error(op: str) -> None:
    rule = {"Variable": "$.type", op: _constant_for(op)}
    with pytest.raises(StatesError) as caught:
        check(rule, {"value": 22})
    assert caught.value.error == RUNTIME
    assert caught.value.cause == (
        "Invalid path '$.type': The choice state's condition path references an invalid value."
    )


@pytest.mark.parametrize("op", [name + "Path" for name in sorted({c[0] for c in PATH_COMPARISONS})])
def test_missing_operand_path_is_a_runtime_error(op: str) -> None:
    with pytest.raises(StatesError) as caught:
        check({"Variable": "$.v", op: "$.nowhere"}, {"v": 1})
    assert caught.value.error == RUNTIME
    assert "'$.nowhere'" in caught.value.cause


def test_missing_variable_is_reported_before_missing_operand() -> None:
    with pytest.raises(StatesError, match=r"'\$\.a'"):
        check({"Variable": "$.a", "NumericEqualsPath": "$.b"}, {})


def test_missing_field_inside_not_still_fails() -> None:
    # Developer Guide example: "If the state input doesn't contain the $.type field, the
    # execution fails".
    with pytest.raises(StatesError):
        check({"Not": {"Variable": "$.type", "StringEquals": "Private"}}, {"value": 22})


# --- StringMatches ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        # The spec's own examples.
        ("foo*.log", "foo23.log", True),
        ("*.log", "zebra.log", True),
        ("foo*.*", "foobar.zebra", True),
        ("foo*.log", "foo23.txt", False),
        # No wildcard: the whole string must be equal.
        ("abc", "abc", True),
        ("abc", "abcd", False),
        ("", "", True),
        ("", "a", False),
        # Wildcards anywhere, any number, matching empty runs too.
        ("*", "", True),
        ("*", "anything at all\nincluding newlines", True),
        ("**", "x", True),
        ("a*", "a", True),
        ("*a", "ba", True),
        ("*a", "ab", False),
        ("a*b*c", "abc", True),
        ("a*b*c", "a-b-c", True),
        ("a*b*c", "acb", False),
        ("a*b*c", "a-b-", False),
        ("ab*ba", "aba", False),  # prefix and suffix must not overlap
        ("ab*ba", "abba", True),
        ("*x*x*", "xx", True),
        ("*x*x*", "x", False),
        ("a*a*a*a*b", "a" * 200, False),  # no catastrophic backtracking
        # Nothing but "*" is special: no "?", no character classes, no regex.
        ("a?c", "abc", False),
        ("a?c", "a?c", True),
        ("[ab]", "a", False),
        ("[ab]", "[ab]", True),
        ("a.c", "abc", False),
        ("^a$", "^a$", True),
        # Escapes (spec): \* is a literal *, \\ a literal backslash.
        ("\\*", "*", True),
        ("\\*", "x", False),
        ("a\\*b", "a*b", True),
        ("a\\*b", "axb", False),
        ("\\\\", "\\", True),
        ("a\\\\*", "a\\anything", True),
        ("a\\\\*", "a", False),
        ("\\\\\\*", "\\*", True),
        ("*\\**", "x*y", True),
        ("*\\**", "xy", False),
        ("\\a", "a", True),  # an escaped ordinary character is that character
        # Only strings match.
        ("*", None, False),
        ("*", 1, False),
        ("*", ["a"], False),
    ],
)
def test_string_matches(pattern: str, value: Any, expected: bool) -> None:
    assert check({"Variable": "$.v", "StringMatches": pattern}, {"v": value}) is expected


@pytest.mark.parametrize("pattern", ["abc\\", "*\\", "\\"])
def test_string_matches_open_escape_is_a_runtime_error(pattern: str) -> None:
    # Spec: "If an open escape backslash \ is found in the StringMatches string, the
    # interpreter will throw a runtime error."
    predicate = compile_choice_rule({"Variable": "$.v", "StringMatches": pattern})
    with pytest.raises(StatesError) as caught:
        predicate.evaluate({"v": "abc"}, CTX)
    assert caught.value.error == RUNTIME
    assert "open escape" in caught.value.cause


# --- string ordering is Java's String.compareTo (UTF-16 code units) ----------------------------

GRINNING = "\U0001f600"  # UTF-16: D83D DE00
REPLACEMENT = "\ufffd"  # UTF-16: FFFD


@pytest.mark.parametrize(
    ("op", "operand", "value", "expected"),
    [
        # Code points say U+1F600 > U+FFFD; UTF-16 code units say D83D < FFFD.
        ("StringLessThan", REPLACEMENT, GRINNING, True),
        ("StringGreaterThan", REPLACEMENT, GRINNING, False),
        ("StringLessThanEquals", "x" + REPLACEMENT, "x" + GRINNING, True),
        ("StringGreaterThanEquals", GRINNING, REPLACEMENT, True),
        ("StringEquals", GRINNING, GRINNING, True),
        # Where both orders agree the result is unchanged.
        ("StringLessThan", "é", "e", True),
        ("StringLessThan", "ü", "ö", True),
        ("StringGreaterThan", "a", "é", True),
        ("StringLessThan", GRINNING, "a", True),
        # A lone surrogate (possible after JSON "\ud800") still compares, by code unit.
        ("StringLessThan", REPLACEMENT, "\ud800", True),
    ],
)
def test_string_order_follows_java_compare_to(
    op: str, operand: str, value: str, expected: bool
) -> None:
    assert check({"Variable": "$.v", op: operand}, {"v": value}) is expected


# --- Boolean expressions ------------------------------------------------------------------------


def _gt(n: int) -> dict[str, Any]:
    return {"Variable": "$.value", "NumericGreaterThan": n}


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ({"And": [_gt(1), _gt(2)]}, 3, True),
        ({"And": [_gt(1), _gt(2)]}, 2, False),
        ({"And": [_gt(1)]}, 2, True),
        ({"Or": [_gt(5), _gt(2)]}, 3, True),
        ({"Or": [_gt(5), _gt(2)]}, 1, False),
        ({"Not": _gt(2)}, 1, True),
        ({"Not": _gt(2)}, 3, False),
        ({"Not": {"Not": _gt(2)}}, 3, True),
        ({"And": [{"Or": [_gt(10), {"Not": _gt(5)}]}, _gt(0)]}, 3, True),
        ({"And": [{"Or": [_gt(10), {"Not": _gt(5)}]}, _gt(0)]}, 7, False),
        ({"Or": [{"And": [_gt(1), {"Not": _gt(3)}]}, _gt(100)]}, 2, True),
    ],
)
def test_boolean_expressions(rule: dict[str, Any], value: int, expected: bool) -> None:
    assert check(rule, {"value": value}) is expected


def test_and_stops_at_first_false_and_or_at_first_true() -> None:
    # Spec: "ceasing array processing when the boolean value has been unambiguously
    # determined" - the second rule would fail on its missing path.
    missing = {"Variable": "$.missing", "StringEquals": "x"}
    assert check({"And": [_gt(5), missing]}, {"value": 1}) is False
    assert check({"Or": [_gt(0), missing]}, {"value": 1}) is True
    with pytest.raises(StatesError):
        check({"And": [_gt(0), missing]}, {"value": 1})


def test_developer_guide_choice_example() -> None:
    # Developer Guide, "Choice workflow state": input {"type": "Private", "value": 22}
    # goes to ValueInTwenties.
    rules: list[dict[str, Any]] = [
        {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
        {"Variable": "$.value", "NumericEquals": 0, "Next": "ValueIsZero"},
        {
            "And": [
                {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                {"Variable": "$.value", "NumericLessThan": 30},
            ],
            "Next": "ValueInTwenties",
        },
    ]
    data = {"type": "Private", "value": 22}
    chosen = [r["Next"] for r in rules if compile_choice_rule(r).evaluate(data, CTX)]
    assert chosen == ["ValueInTwenties"]


# --- paths: roots other than the input ------------------------------------------------------------


def test_variable_can_read_the_context_object() -> None:
    assert check({"Variable": "$$.Execution.Name", "StringEquals": "run-1"}, {}) is True


def test_variable_can_read_a_workflow_variable() -> None:
    assert check({"Variable": "$limit", "NumericEquals": 10}, {}) is True


def test_path_operand_can_read_a_workflow_variable_and_the_context() -> None:
    assert check({"Variable": "$.n", "NumericLessThanPath": "$limit"}, {"n": 3}) is True
    rule = {"Variable": "$.name", "StringEqualsPath": "$$.Execution.Name"}
    assert check(rule, {"name": "run-1"}) is True


def test_variable_can_be_the_whole_input() -> None:
    assert check({"Variable": "$", "StringEquals": "No messages"}, "No messages") is True


def test_variable_can_index_arrays() -> None:
    assert check({"Variable": "$.items[1]", "NumericEquals": 5}, {"items": [4, 5]}) is True


def test_top_level_fields_that_are_not_part_of_the_test_are_ignored() -> None:
    rule = {
        "Variable": "$.v",
        "StringEquals": "a",
        "Next": "S",
        "Assign": {"x": 1},
        "Comment": "why",
    }
    assert check(rule, {"v": "a"}) is True


def test_compiled_rule_is_reusable_and_pure() -> None:
    predicate = compile_choice_rule({"Variable": "$.i", "NumericLessThanPath": "$.n"})
    assert [predicate.evaluate({"i": i, "n": 3}, CTX) for i in range(5)] == [
        True,
        True,
        True,
        False,
        False,
    ]


# --- definitions that cannot be compiled ------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"Variable": "$.v"}, "exactly one"),
        ({"Variable": "$.v", "StringEqual": "a"}, "exactly one"),  # a typo is no operator
        ({"Variable": "$.v", "StringMatchesPath": "$.p"}, "exactly one"),  # no such variant
        ({"Variable": "$.v", "IsNullPath": "$.p"}, "exactly one"),
        ({"Variable": "$.v", "IsPresentPath": "$.p"}, "exactly one"),
        ({"Variable": "$.v", "StringEquals": "a", "StringLessThan": "b"}, "exactly one"),
        ({"And": [], "Or": []}, "exactly one"),
        ({"Condition": "{% true %}"}, "exactly one"),  # a JSONata rule
        ({}, "exactly one"),
        ({"StringEquals": "a"}, "Variable"),
        ({"Variable": 5, "StringEquals": "a"}, "Variable"),
        ({"Variable": "$.v", "StringEquals": 5}, "StringEquals needs a string"),
        ({"Variable": "$.v", "StringMatches": None}, "StringMatches needs a string"),
        ({"Variable": "$.v", "NumericEquals": "5"}, "NumericEquals needs a number"),
        ({"Variable": "$.v", "NumericLessThan": True}, "NumericLessThan needs a number"),
        ({"Variable": "$.v", "BooleanEquals": "true"}, "BooleanEquals needs a boolean"),
        ({"Variable": "$.v", "IsNull": 1}, "IsNull needs a boolean"),
        ({"Variable": "$.v", "IsPresent": "yes"}, "IsPresent needs a boolean"),
        ({"Variable": "$.v", "TimestampEquals": "2016-03-14"}, "TimestampEquals needs a timestamp"),
        ({"Variable": "$.v", "TimestampLessThan": 0}, "TimestampLessThan needs a timestamp"),
        ({"Variable": "$.v", "StringEqualsPath": 5}, "StringEqualsPath needs a Reference Path"),
        ({"And": []}, "And needs a non-empty array"),
        ({"Or": {"Variable": "$.v", "IsNull": True}}, "Or needs a non-empty array"),
        ({"Not": [{"Variable": "$.v", "IsNull": True}]}, "must be a JSON object"),
        ({"And": ["not a rule"]}, "must be a JSON object"),
    ],
)
def test_uncompilable_rule(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ExpressionSyntaxError, match=message):
        compile_choice_rule(rule)


@pytest.mark.parametrize(
    "rule",
    [
        {"Variable": "v", "StringEquals": "a"},
        {"Variable": "$.v", "StringEqualsPath": "other"},
        # "The values of Variable and Path fields in a comparison must be valid Reference
        # Paths" (Developer Guide, "Choice Rules (JSONPath)").
        {"Variable": "$.items[*]", "IsPresent": True},
        {"Variable": "$..name", "StringEquals": "a"},
        {"Variable": "$.items[?(@.x == 1)]", "IsNull": False},
        {"Variable": "$.v", "NumericEqualsPath": "$.items[0:2]"},
    ],
)
def test_invalid_path_is_a_syntax_error(rule: dict[str, Any]) -> None:
    with pytest.raises(ExpressionSyntaxError):
        compile_choice_rule(rule)
