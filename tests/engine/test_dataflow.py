"""Input and output processing, end to end through the interpreter.

Cases follow the Developer Guide pages "Processing input and output in Step Functions",
"InputPath, Parameters and ResultSelector", "Specifying state output using ResultPath",
"Filtering state output using OutputPath" and "Transforming data with JSONata".
"""

from __future__ import annotations

from typing import Any

import pytest

import stepwell


def machine(*states: tuple[str, dict[str, Any]], **top: Any) -> dict[str, Any]:
    """A linear machine from (name, state) pairs: each goes Next to the following one."""
    body: dict[str, Any] = {}
    for index, (name, state) in enumerate(states):
        state = dict(state)
        if state["Type"] not in ("Succeed", "Fail", "Choice") and "Next" not in state:
            if index + 1 < len(states):
                state["Next"] = states[index + 1][0]
            else:
                state["End"] = True
        body[name] = state
    return {"StartAt": states[0][0], "States": body, **top}


def one(state: dict[str, Any], **top: Any) -> dict[str, Any]:
    return machine(("S", state), **top)


JSONPATH_CASES = [
    # name, state, input, expected output
    ("pass-identity", {"Type": "Pass"}, {"a": 1}, {"a": 1}),
    ("pass-result", {"Type": "Pass", "Result": {"x": 1}}, {"a": 1}, {"x": 1}),
    (
        "pass-result-into-resultpath",
        {"Type": "Pass", "Result": "hi", "ResultPath": "$.greeting"},
        {"a": 1},
        {"a": 1, "greeting": "hi"},
    ),
    (
        "resultpath-creates-nested-objects",
        {"Type": "Pass", "Result": 5, "ResultPath": "$.x.y.z"},
        {"a": 1},
        {"a": 1, "x": {"y": {"z": 5}}},
    ),
    (
        "resultpath-null-discards-result",
        {"Type": "Pass", "Result": {"x": 1}, "ResultPath": None},
        {"a": 1},
        {"a": 1},
    ),
    ("inputpath-selects", {"Type": "Pass", "InputPath": "$.a"}, {"a": {"b": 2}}, {"b": 2}),
    ("inputpath-null-is-empty-object", {"Type": "Pass", "InputPath": None}, {"a": 1}, {}),
    ("outputpath-selects", {"Type": "Pass", "OutputPath": "$.a.b"}, {"a": {"b": [1]}}, [1]),
    ("outputpath-null-is-empty-object", {"Type": "Pass", "OutputPath": None}, {"a": 1}, {}),
    (
        "parameters-template",
        {"Type": "Pass", "Parameters": {"static": 1, "copied.$": "$.a", "ctx.$": "$$.State.Name"}},
        {"a": "A"},
        {"static": 1, "copied": "A", "ctx": "S"},
    ),
    (
        "inputpath-then-parameters",
        {"Type": "Pass", "InputPath": "$.inner", "Parameters": {"v.$": "$.v"}},
        {"inner": {"v": 7}},
        {"v": 7},
    ),
    (
        "parameters-then-resultpath-merges-into-raw-input",
        {"Type": "Pass", "InputPath": "$.inner", "Parameters": {"v.$": "$.v"}, "ResultPath": "$.r"},
        {"inner": {"v": 7}},
        {"inner": {"v": 7}, "r": {"v": 7}},
    ),
    (
        "intrinsic-in-parameters",
        {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.a, 2)"}},
        {"a": 40},
        {"sum": 42},
    ),
    (
        "context-execution-input",
        {"Type": "Pass", "Parameters": {"orig.$": "$$.Execution.Input.a"}},
        {"a": 3},
        {"orig": 3},
    ),
]


@pytest.mark.parametrize(
    ("state", "given", "expected"),
    [case[1:] for case in JSONPATH_CASES],
    ids=[case[0] for case in JSONPATH_CASES],
)
def test_jsonpath_processing(state: dict[str, Any], given: Any, expected: Any) -> None:
    result = stepwell.run(one(state), given, seed=1)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == expected


def test_resultpath_does_not_mutate_the_callers_input() -> None:
    given = {"a": {"b": 1}}
    stepwell.run(one({"Type": "Pass", "Result": 2, "ResultPath": "$.a.c"}), given, seed=1)
    assert given == {"a": {"b": 1}}


def test_task_result_selector_resultpath_outputpath_order() -> None:
    definition = one(
        {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "InputPath": "$.req",
            "Parameters": {"n.$": "$.n"},
            "ResultSelector": {"doubled.$": "$.value"},
            "ResultPath": "$.res",
            "OutputPath": "$.res",
        }
    )
    result = stepwell.run(
        definition, {"req": {"n": 4}}, functions={"f": lambda e: {"value": e["n"] * 2}}, seed=1
    )
    assert result.output == {"doubled": 8}


def test_missing_inputpath_fails_with_states_runtime() -> None:
    result = stepwell.run(one({"Type": "Pass", "InputPath": "$.missing"}), {"a": 1}, seed=1)
    assert result.status == "FAILED"
    assert result.error == "States.Runtime"
    assert result.cause is not None
    assert "An error occurred while executing the state 'S' (entered at the event id #2)" in (
        result.cause
    )
    assert "$.missing" in result.cause


def test_missing_parameter_path_fails_with_states_runtime() -> None:
    result = stepwell.run(one({"Type": "Pass", "Parameters": {"x.$": "$.nope"}}), {}, seed=1)
    assert result.error == "States.Runtime"
    assert "$.nope" in (result.cause or "")


def test_payload_over_256_kib_fails_with_data_limit_exceeded() -> None:
    """Developer Guide, "Step Functions service quotas": 256 KiB per payload."""
    big = "x" * 200_000
    definition = machine(
        ("A", {"Type": "Pass", "Parameters": {"a.$": "$.s", "b.$": "$.s"}}),
    )
    result = stepwell.run(definition, {"s": big}, seed=1)
    assert result.status == "FAILED"
    assert result.error == "States.DataLimitExceeded"


JSONATA_CASES = [
    ("output-expression", {"Type": "Pass", "Output": "{% $states.input.a + 1 %}"}, {"a": 1}, 2),
    (
        "output-object-template",
        {"Type": "Pass", "Output": {"x": "{% $states.input.a %}", "lit": [1, "two"]}},
        {"a": "A"},
        {"x": "A", "lit": [1, "two"]},
    ),
    ("default-output-is-input", {"Type": "Pass"}, {"a": 1}, {"a": 1}),
    (
        "context-in-jsonata",
        {"Type": "Pass", "Output": "{% $states.context.State.Name %}"},
        {},
        "S",
    ),
]


@pytest.mark.parametrize(
    ("state", "given", "expected"),
    [case[1:] for case in JSONATA_CASES],
    ids=[case[0] for case in JSONATA_CASES],
)
def test_jsonata_processing(state: dict[str, Any], given: Any, expected: Any) -> None:
    result = stepwell.run(one(state, QueryLanguage="JSONata"), given, seed=1)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == expected


def test_jsonata_task_arguments_and_output_see_result() -> None:
    definition = one(
        {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "Arguments": {"n": "{% $states.input.n %}"},
            "Output": {"in": "{% $states.input.n %}", "out": "{% $states.result.v %}"},
        },
        QueryLanguage="JSONata",
    )
    result = stepwell.run(definition, {"n": 5}, functions={"f": lambda e: {"v": e["n"] * 3}})
    assert result.output == {"in": 5, "out": 15}


def test_jsonpath_state_inside_jsonata_machine_and_back() -> None:
    """A state's own QueryLanguage overrides the top level (Developer Guide, "QueryLanguage")."""
    definition = machine(
        ("A", {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% {'v': 2} %}"}),
        ("B", {"Type": "Pass", "Parameters": {"w.$": "$.v"}}),
    )
    result = stepwell.run(definition, {}, seed=1)
    assert result.output == {"w": 2}


def test_payload_size_is_the_compact_size_and_a_kept_text_still_reaches_history() -> None:
    """The 256 KiB quota is checked on the compact JSON, while history writes an input
    kept as sent with its own spacing (aws-behaviour.md I1). A state's output is
    serialised once for both when they agree (``PayloadTexts.size``); here they do not:
    the spaced text is over the quota, its compact form is not."""
    import json
    from datetime import UTC, datetime

    from stepwell.engine.env import Env
    from stepwell.engine.execution import ExecutionInfo
    from stepwell.engine.interpreter import start
    from stepwell.language.compiler import load_state_machine

    value = {"s": ["x" * 100] * 1_000}  # about 103 KB compact
    text = json.dumps(value, indent=200)  # over 256 KiB with its spacing
    assert len(json.dumps(value, separators=(",", ":"))) < 256 * 1024 < len(text)
    definition = one({"Type": "Pass", "Parameters": {"kept.$": "$", "n": 1}})
    compiled = load_state_machine(json.dumps(definition))
    env = Env(now=datetime(2024, 1, 1, tzinfo=UTC))
    result = start(compiled, value, env, ExecutionInfo(input_text=text))
    assert result.execution.status == "SUCCEEDED"
    exited = next(e for e in result.events if e["type"] == "PassStateExited")
    assert exited["stateExitedEventDetails"]["output"] == '{"kept":' + text + ',"n":1}'
