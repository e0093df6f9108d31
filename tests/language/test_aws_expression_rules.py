"""Expression, path and definition rules of aws-behaviour.md, sections E, F, H and K17.

Each table row cites the rule it comes from; the rule text (with AWS's exact strings) is in
``../shared/aws-behaviour.md``.
"""

from __future__ import annotations

from typing import Any

import pytest

from stepwell.language.compiler import InvalidDefinition, load_state_machine
from stepwell.language.errors import ExpressionSyntaxError
from stepwell.language.evaluation import EvalContext
from stepwell.language.intrinsics import compile_intrinsic
from stepwell.language.jsonata import compile_jsonata, compile_jsonata_template
from stepwell.language.jsonpath import compile_path
from stepwell.language.templates import compile_payload_template
from stepwell.language.validation import validate_definition

CTX = EvalContext(
    context={
        "Execution": {"Name": "run-1"},
        "StateMachine": {
            "Id": "arn:aws:states:us-east-1:123456789012:stateMachine:m",
            "Name": "m",
        },
    },
    variables={},
)


def one(state: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"StartAt": "A", "States": {"A": state}, **top}


def errors(definition: Any) -> list[tuple[str, str, str]]:
    return [
        (d.code, d.message, d.location or "")
        for d in validate_definition(definition)
        if d.severity == "ERROR"
    ]


# --------------------------------------------------------------------------- F1-F4 paths

# (rule, path, data, value)
PATH_CASES: list[tuple[str, str, Any, Any]] = [
    ("F2", "$.[0]", [5, 6], 5),
    ("F2", "$.Snapshots.[0].State", {"Snapshots": [{"State": "ok"}]}, "ok"),
    ("F2", "$.[?(@.OU > 0)]", [{"OU": 1}, {"OU": 0}], [{"OU": 1}]),
    (
        "F2",
        "$.[*].['bucket', 'key']",
        [{"bucket": "b", "key": "k", "x": 1}, {"bucket": "c", "key": "l"}],
        [{"bucket": "b", "key": "k"}, {"bucket": "c", "key": "l"}],
    ),
    ("F2", "$.abc.['def ghi']", {"abc": {"def ghi": 3}}, 3),  # Developer Guide example
    ("F2", "$..['x']", {"a": {"x": 1}, "x": 2}, [2, 1]),
    ("F3", "$$.Execution.Name ", {}, "run-1"),
    ("F3", "  $.a\t", {"a": 1}, 1),
    ("F1", '$[\'Test\\""Name"\']', {'Test\\""Name"': 1, 'Test""Name"': 2}, 1),
    ("F1", "$['a\\b']", {"a\\b": 1, "ab": 2}, 1),
    ("F1", "$['it\\'s']", {"it's": 2}, 2),
    (
        "F4",
        "$.Labels[?(@.Name==Receipt)]",
        {"Labels": [{"Name": "Receipt", "C": 1}, {"Name": "Other"}]},
        [{"Name": "Receipt", "C": 1}],
    ),
    (
        "F4",
        "$..QualityResults[?(@.constraint_status==Failure)]",
        {
            "r": {
                "QualityResults": [
                    {"constraint_status": "Failure", "id": 1},
                    {"constraint_status": "Success", "id": 2},
                ]
            }
        },
        [{"constraint_status": "Failure", "id": 1}],
    ),
    ("F4", "$[?(@.v == null)]", [{"v": None}, {"v": "null"}], [{"v": None}]),
    ("F4", "$[?(@.v != Receipt)]", [{"v": "Receipt"}, {"v": "x"}], [{"v": "x"}]),
]


@pytest.mark.parametrize(("rule", "path", "data", "value"), PATH_CASES)
def test_paths_aws_accepts(rule: str, path: str, data: Any, value: Any) -> None:
    assert compile_path(path).get(data, CTX) == value


def test_f2_dot_before_bracket_is_the_bracket_alone() -> None:
    assert compile_path("$.a.[0]").steps == compile_path("$.a[0]").steps
    assert compile_path("$.[0]").is_reference


def test_f3_the_trimmed_path_is_the_paths_text() -> None:
    assert compile_path(" $.a ").text == "$.a"


@pytest.mark.parametrize("path", ["$.a b", "$.[", "$.[0", "$['a'b']"])
def test_paths_aws_rejects_still_fail(path: str) -> None:
    with pytest.raises(ExpressionSyntaxError):
        compile_path(path)


# Definitions AWS accepts: the validator must report no ERROR (warnings are fine).
ACCEPTED_DEFINITIONS: list[tuple[str, dict[str, Any]]] = [
    ("F2", one({"Type": "Pass", "InputPath": "$.[0]", "End": True})),
    ("F2", one({"Type": "Pass", "OutputPath": "$.Snapshots.[0].State", "End": True})),
    ("F2", one({"Type": "Pass", "Parameters": {"a.$": "$.[?(@.OU > 0)]"}, "End": True})),
    ("F2", one({"Type": "Pass", "Parameters": {"a.$": "$.[*].['bucket', 'key']"}, "End": True})),
    ("F2", one({"Type": "Pass", "Parameters": {"a.$": "States.StringToJson($.[0].body)"},
                "End": True})),
    ("F2", one({"Type": "Pass", "InputPath": "$.abc.['def ghi']", "End": True})),
    ("F2", one({"Type": "Map", "ItemsPath": "$.[0]", "ItemProcessor": {
        "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, "End": True})),
    ("F3", one({"Type": "Pass", "Parameters": {"execution_name.$": "$$.Execution.Name "},
                "End": True})),
    ("F4", one({"Type": "Pass", "InputPath": "$.Labels[?(@.Name==Receipt)]", "End": True})),
    ("F4", one({"Type": "Pass", "Parameters": {
        "r.$": "$..QualityResults[?(@.constraint_status==Failure)]"}, "End": True})),
    ("F1", one({"Type": "Pass", "InputPath": "$['Test\\\"\"Name\"']", "End": True})),
    ("F5", one({"Type": "Fail", "Error": "States.RanOutOfTime", "Cause": "States.X"})),
    ("H1", one({"Type": "Pass", "Output": " {% $states.input %} ", "End": True},
               QueryLanguage="JSONata")),
    ("H1", one({"Type": "Pass", "Output": {"a": ["$states.input", "$", "$$",
               "States.Format('{}', 1)"], "b.$": "$.x"}, "End": True}, QueryLanguage="JSONata")),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "definition"), ACCEPTED_DEFINITIONS)
def test_definitions_aws_accepts_have_no_error(rule: str, definition: dict[str, Any]) -> None:
    assert errors(definition) == []
    load_state_machine(definition)  # and it compiles


def test_f5_a_literal_states_error_name_draws_no_warning() -> None:
    definition = one({"Type": "Fail", "Error": "States.RanOutOfTime"})
    assert validate_definition(definition) == []


def test_f5_an_intrinsic_call_in_a_literal_error_still_warns() -> None:
    definition = one({"Type": "Fail", "Error": "States.Format('x')"})
    assert [d.code for d in validate_definition(definition)] == ["NO_PATH"]


def test_f3_a_path_field_with_spaces_is_read_trimmed() -> None:
    template = compile_payload_template({"n.$": " $$.Execution.Name "})
    assert template.evaluate({}, CTX) == {"n": "run-1"}


def test_f2_intrinsic_argument_with_dot_before_bracket() -> None:
    call = compile_intrinsic("States.StringToJson($.[0].body)")
    assert call.evaluate([{"body": '{"a": 1}'}], CTX) == {"a": 1}


# --------------------------------------------------------------------------- E intrinsics

# (rule, call, data, result)
INTRINSIC_CASES: list[tuple[str, str, Any, Any]] = [
    ("E1", "States.MathAdd(1.49, 1.5)", {}, 3),
    ("E1", "States.MathAdd(1.5, 1.51)", {}, 4),
    ("E1", "States.MathAdd(-1.49, -1.5)", {}, -2),
    ("E1", "States.MathAdd(-1.5, -1.51)", {}, -3),
    ("E1", "States.MathAdd(1.49, -1.49)", {}, 0),
    ("E1", "States.MathAdd(-0.5, 0.5)", {}, 1),
    ("E1", "States.MathAdd($.x, 0)", {"x": 0.5}, 1),
    ("E1", "States.MathAdd($.x, 0)", {"x": 2.5}, 3),
    ("E1", "States.MathAdd($.x, 0)", {"x": -2.5}, -2),
    ("E1", "States.MathAdd($.x, 0)", {"x": -3.5}, -3),
    ("E1", "States.MathAdd($.x, 0)", {"x": -1.51}, -2),
    ("E1", "States.MathAdd($.x, 0)", {"x": 1.51}, 2),
    (
        "E1",
        "States.MathAdd(States.MathAdd(States.MathAdd($.y,$.x),$.z),$.bias)",
        {"x": 20, "y": 19, "z": 20, "bias": 4.3},
        63,
    ),
    ("E3", "States.Format('fst={}', $.o)", {"o": {"Arg1": 1, "Arg2": []}}, "fst={Arg1=1, Arg2=[]}"),
    ("E3", "States.Format('{}', $.a)", {"a": ["x", 1, None, True]}, "[x, 1, null, true]"),
    ("E3", "States.Format('{}', $.a)", {"a": {"b": {"c": [{"d": "e"}]}}}, "{b={c=[{d=e}]}}"),
    ("E3", "States.Format('{}', $.a)", {"a": None}, "null"),
    ("E3", "States.Format('{}', $.a)", {"a": '{"k": 1}'}, '{"k": 1}'),
    (
        "E3",
        "States.Format('{}', $$.StateMachine)",
        {},
        "{Id=arn:aws:states:us-east-1:123456789012:stateMachine:m, Name=m}",
    ),
    ("E4", "States.StringToJson($.s)", {"s": ""}, None),
    ("E4", "States.StringToJson($.s)", {"s": " "}, None),
    ("E4", "States.StringToJson($.s)", {"s": "-0"}, 0),
]


@pytest.mark.parametrize(("rule", "call", "data", "result"), INTRINSIC_CASES)
def test_intrinsics_as_aws(rule: str, call: str, data: Any, result: Any) -> None:
    value = compile_intrinsic(call).evaluate(data, CTX)
    assert value == result
    assert type(value) is type(result)


@pytest.mark.parametrize("seed", [None, 7])
def test_e2_math_random_accepts_non_integer_bounds(seed: int | None) -> None:
    call = "States.MathRandom(12.5, 44.51)" if seed is None else "States.MathRandom(12.5, 44.51, 7)"
    ctx = EvalContext(random=lambda: 0.999999)
    value = compile_intrinsic(call).evaluate({}, ctx)
    assert isinstance(value, int)
    assert 13 <= value < 45  # bounds rounded half up as in E1: [13, 45)


# --------------------------------------------------------------------------- E5, H1 JSONata


@pytest.mark.parametrize(
    ("expression", "result"),
    [("$range(1, 9, 9)", 1), ("$range(0, 10, 3)", [0, 3, 6, 9]), ("$range(4, 4, 1)", 4)],
)
def test_e5_range_of_one_value_is_that_value(expression: str, result: Any) -> None:
    assert compile_jsonata(expression).evaluate({"input": {}}, EvalContext()) == result


@pytest.mark.parametrize(
    "literal",
    [
        " {% states.input %} ",
        "{% $x",
        "$x %}",
        "$states.input",
        "$",
        "$$",
        "States.Format('{}', 1)",
        {"a.$": "$.x", "b": [" {% 1 %}"]},
    ],
)
def test_h1_only_exact_templates_are_jsonata(literal: Any) -> None:
    template = compile_jsonata_template(literal, "Output")
    assert template.evaluate({"input": {"x": 1}}, EvalContext()) == literal


# --------------------------------------------------------------------------- K17 wording


@pytest.mark.parametrize(
    "timestamp",
    [
        "2016-12-05 21:29:29Z",  # no T
        "2016-12-05T21:29:29",  # no zone
        "2016-13-05T21:29:29Z",  # month 13
        "2016-12-05T25:29:29Z",  # hour 25
        "05-12-2016T21:29:29Z",  # day first
        "2016-12-05T21:29:29.000000",  # fraction without zone
        "{% $now() %}",  # JSONata in a JSONPath state
    ],
)
def test_k17_bad_wait_timestamp_literal(timestamp: str) -> None:
    definition = one({"Type": "Wait", "Timestamp": timestamp, "End": True})
    with pytest.raises(InvalidDefinition) as caught:
        load_state_machine(definition)
    assert str(caught.value) == (
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: String does not match "
        "RFC3339 timestamp at /States/A/Timestamp'"
    )


@pytest.mark.parametrize(
    "timestamp",
    ["2016-12-05T21:29:29Z", "2016-12-05T21:29:29.123456789Z", "2016-12-05T21:29:29.00Z",
     "2016-12-05T21:29:29.000000Z", "2016-12-05T21:29:29+05:30"],
)  # fmt: skip
def test_d2_k17_valid_wait_timestamp_literals(timestamp: str) -> None:
    assert errors(one({"Type": "Wait", "Timestamp": timestamp, "End": True})) == []


@pytest.mark.parametrize(
    ("template", "key"),
    [
        ({"a.$": "States.Format('\\\"x\\\"')"}, "a.$"),  # \" is no escape in an intrinsic
        ({"nested": {"deep": [{"b.$": "States.Nope(1)"}]}}, "b.$"),
        ({"c.$": "not a path"}, "c.$"),
    ],
)
def test_k17_bad_intrinsic_is_reported_at_the_template(template: Any, key: str) -> None:
    definition = one({"Type": "Pass", "Parameters": template, "End": True})
    with pytest.raises(InvalidDefinition) as caught:
        load_state_machine(definition)
    assert str(caught.value) == (
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The value for the field "
        f"'{key}' must be a valid JSONPath or a valid intrinsic function call at "
        "/States/A/Parameters'"
    )
