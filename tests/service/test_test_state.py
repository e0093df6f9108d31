"""TestState (API Reference, TestState): one state run in isolation, its status
(SUCCEEDED, FAILED, RETRIABLE, CAUGHT_ERROR), next state, output and inspection data."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepwell.service import errors as err
from stepwell.store.memory import MemoryStore
from tests.service.harness import FN, ROLE, Harness


def fail(event: Any) -> Any:
    raise ConnectionError("unreachable")


@pytest.fixture
def h() -> Harness:
    return Harness(MemoryStore(), {"double": lambda e: {"n": e["n"] * 2}, "fail": fail})


def run_state(h: Harness, state: dict[str, Any], input: Any = None, **extra: Any) -> Any:
    request = {"definition": json.dumps(state), **extra}
    if "mock" not in extra:
        request.setdefault("roleArn", ROLE)
    if input is not None:
        request["input"] = json.dumps(input)
    return h.service.handle("TestState", request)


def test_pass_state_data_flow_at_debug_level(h: Harness) -> None:
    state = {
        "Type": "Pass",
        "InputPath": "$.data",
        "Parameters": {"value.$": "$.v", "fixed": 1},
        "ResultPath": "$.data.result",
        "Next": "After",
    }
    answer = run_state(h, state, {"data": {"v": 5}}, inspectionLevel="DEBUG")
    assert answer["status"] == "SUCCEEDED"
    assert answer["nextState"] == "After"
    assert json.loads(answer["output"]) == {"data": {"v": 5, "result": {"value": 5, "fixed": 1}}}
    data = {k: json.loads(v) for k, v in answer["inspectionData"].items()}
    assert data == {
        "input": {"data": {"v": 5}},
        "afterInputPath": {"v": 5},
        "afterParameters": {"value": 5, "fixed": 1},
        "afterResultSelector": {"value": 5, "fixed": 1},
        "afterResultPath": {"data": {"v": 5, "result": {"value": 5, "fixed": 1}}},
    }  # M1: a Pass state without Result has no "result"; M2: no variables


def test_info_level_has_no_inspection_data(h: Harness) -> None:
    answer = run_state(h, {"Type": "Pass", "End": True}, {"a": 1})
    assert answer == {"status": "SUCCEEDED", "output": '{"a": 1}'}


def test_task_calls_the_function(h: Harness) -> None:
    state = {
        "Type": "Task",
        "Resource": FN + "double",
        "ResultSelector": {"twice.$": "$.n"},
        "ResultPath": "$.out",
        "End": True,
    }
    answer = run_state(h, state, {"n": 21}, inspectionLevel="TRACE")
    assert (answer["status"], json.loads(answer["output"])) == (
        "SUCCEEDED",
        {"n": 21, "out": {"twice": 42}},
    )
    assert "nextState" not in answer
    data = answer["inspectionData"]
    assert json.loads(data["result"]) == {"n": 42}
    assert json.loads(data["afterResultSelector"]) == {"twice": 42}


RETRIED_TASK = {
    "Type": "Task",
    "Resource": FN + "fail",
    "Retry": [
        {"ErrorEquals": ["States.Timeout"], "MaxAttempts": 5},
        {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3, "BackoffRate": 2, "MaxAttempts": 2},
    ],
    "Catch": [
        {"ErrorEquals": ["Nothing.Like.This"], "Next": "Never"},
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.problem", "Next": "Recover"},
    ],
    "Next": "Done",
}


def test_a_failure_a_retrier_matches_is_retriable(h: Harness) -> None:
    answer = run_state(
        h,
        RETRIED_TASK,
        {},
        inspectionLevel="DEBUG",
        stateConfiguration={"retrierRetryCount": 1},
    )
    assert answer["status"] == "RETRIABLE"
    assert answer["error"] == "ConnectionError"
    assert "output" not in answer and "nextState" not in answer
    assert answer["inspectionData"]["errorDetails"] == {
        "retryIndex": 1,
        "retryBackoffIntervalSeconds": 6,  # 3 * 2^1: the second attempt's back-off
    }


def test_once_retries_are_used_up_a_catcher_takes_the_error(h: Harness) -> None:
    answer = run_state(
        h,
        RETRIED_TASK,
        {"id": 1},
        inspectionLevel="DEBUG",
        stateConfiguration={"retrierRetryCount": 2},
    )
    assert (answer["status"], answer["nextState"], answer["error"]) == (
        "CAUGHT_ERROR",
        "Recover",
        "ConnectionError",
    )
    output = json.loads(answer["output"])
    assert output["id"] == 1 and output["problem"]["Error"] == "ConnectionError"
    assert answer["inspectionData"]["errorDetails"] == {"catchIndex": 1}


def test_an_unhandled_failure_fails(h: Harness) -> None:
    answer = run_state(h, {"Type": "Task", "Resource": FN + "fail", "End": True})
    assert (answer["status"], answer["error"]) == ("FAILED", "ConnectionError")
    assert "unreachable" in answer["cause"]


@pytest.mark.parametrize(
    ("state", "input", "expected"),
    [
        (
            {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 5,
                                            "Next": "Big"}], "Default": "Small"},
            {"n": 3},
            {"status": "SUCCEEDED", "nextState": "Small", "output": '{"n": 3}'},
        ),
        (
            {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 5,
                                            "Next": "TestState"}], "Default": "Done"},
            {"n": 3},
            {"status": "SUCCEEDED", "nextState": "TestState", "output": '{"n": 3}'},
        ),
        (
            {"Type": "Fail", "Error": "Custom.Error", "Cause": "because"},
            {},
            {"status": "FAILED", "error": "Custom.Error", "cause": "because"},
        ),
        ({"Type": "Succeed", "OutputPath": "$.a"}, {"a": [1]},
         {"status": "SUCCEEDED", "output": "[1]"}),
        ({"Type": "Wait", "Seconds": 3600, "Next": "Later"}, {"w": 1},
         {"status": "SUCCEEDED", "nextState": "Later", "output": '{"w": 1}'}),
    ],
)  # fmt: skip
def test_other_state_types(
    h: Harness, state: dict[str, Any], input: Any, expected: dict[str, Any]
) -> None:
    assert run_state(h, state, input) == expected


def test_variables_are_seen_and_assigned(h: Harness) -> None:
    state = {
        "Type": "Pass",
        "Parameters": {"seen.$": "$limit"},
        "Assign": {"limit.$": "States.MathAdd($limit, 1)", "other": "x"},
        "End": True,
    }
    answer = run_state(h, state, {}, variables='{"limit": 9}', inspectionLevel="DEBUG")
    assert json.loads(answer["output"]) == {"seen": 9}
    assert json.loads(answer["inspectionData"]["variables"]) == {"limit": 10, "other": "x"}


def test_jsonata_state(h: Harness) -> None:
    state = {
        "Type": "Task",
        "QueryLanguage": "JSONata",
        "Resource": FN + "double",
        "Arguments": {"n": "{% $states.input.x + 1 %}"},
        "Output": {"result": "{% $states.result.n %}"},
        "End": True,
    }
    answer = run_state(h, state, {"x": 4}, inspectionLevel="DEBUG")
    assert json.loads(answer["output"]) == {"result": 10}
    assert json.loads(answer["inspectionData"]["afterArguments"]) == {"n": 5}
    assert "afterInputPath" not in answer["inspectionData"]


def test_mocked_results_and_errors(h: Harness) -> None:
    task = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"name.$": "$$.Execution.Name"}, "Next": "Go"}  # fmt: skip
    answer = run_state(
        h,
        task,
        {},
        mock={"result": '{"ok": true}'},
        context='{"Execution": {"Name": "from-context"}}',
        inspectionLevel="DEBUG",
    )
    # M12: the mock's own text
    assert (answer["status"], answer["output"]) == ("SUCCEEDED", '{"ok": true}')
    assert json.loads(answer["inspectionData"]["afterParameters"]) == {"name": "from-context"}
    failed = run_state(h, task, {}, mock={"errorOutput": {"error": "Boom", "cause": "mocked"}})
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "Boom", "mocked")


@pytest.mark.parametrize("kind", ["Parallel", "Map"])
def test_mocked_parallel_and_map(h: Harness, kind: str) -> None:
    def branch(name: str) -> dict[str, Any]:
        return {"StartAt": name, "States": {name: {"Type": "Pass", "End": True}}}

    state: dict[str, Any] = {"Type": kind, "ResultPath": "$.all", "Next": "After"}
    if kind == "Parallel":  # M7: one result per branch
        state["Branches"] = [branch("X"), branch("Y")]
    else:  # M9: ItemsPath is read even with a mock
        state |= {"ItemProcessor": branch("X"), "ItemsPath": "$.items"}
    answer = run_state(h, state, {"items": [1]}, mock={"result": "[7, 8]"})
    assert answer["nextState"] == "After"
    assert json.loads(answer["output"]) == {"items": [1], "all": [7, 8]}


def test_a_state_of_a_whole_machine_by_name(h: Harness) -> None:
    machine = {
        "StartAt": "First",
        "States": {
            "First": {"Type": "Pass", "Next": "Second"},
            "Second": {"Type": "Pass", "Result": "two", "Next": "Third"},
            "Third": {"Type": "Succeed"},
        },
    }
    answer = run_state(h, machine, {}, stateName="Second")
    assert (answer["nextState"], answer["output"]) == ("Third", '"two"')
    with pytest.raises(err.ValidationException):
        run_state(h, machine, {}, stateName="Fourth")


def test_an_error_in_parameters_is_reported_and_caught(h: Harness) -> None:
    state = {
        "Type": "Task",
        "Resource": FN + "double",
        "Parameters": {"n.$": "States.MathAdd($.n, 'x')"},
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handle"}],
        "End": True,
    }
    answer = run_state(h, state, {"n": 1})
    assert (answer["status"], answer["nextState"]) == ("CAUGHT_ERROR", "Handle")
    assert answer["error"] == "States.IntrinsicFailure"


@pytest.mark.parametrize(
    ("state", "extra", "error"),
    [
        ({"Type": "Pass", "End": True}, {"mock": {"result": "1"}}, err.ValidationException),
        ({"Type": "Task", "Resource": FN + "double", "End": True},
         {"mock": {"result": "1", "errorOutput": {"error": "E"}}}, err.ValidationException),
        ({"Type": "Task", "Resource": FN + "double", "End": True}, {"context": "{}"},
         err.ValidationException),
        ({"Type": "Map", "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Succeed"}}},
          "End": True}, {}, err.InvalidDefinition),  # M7
        ({"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:a",
          "End": True}, {}, err.ValidationException),
        ({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
          "End": True}, {}, err.ValidationException),
        ({"Type": "Nope", "End": True}, {}, err.InvalidDefinition),
        ({"Comment": "no type"}, {}, err.InvalidDefinition),
        ({"Type": "Pass", "End": True}, {"input": "{oops"}, err.InvalidExecutionInput),
        ({"Type": "Pass", "End": True}, {"variables": "[1]"}, err.ValidationException),
        ({"Type": "Task", "Resource": FN + "double", "End": True},
         {"mock": {"result": "{oops"}}, err.ValidationException),
    ],
)  # fmt: skip
def test_requests_test_state_refuses(
    h: Harness, state: dict[str, Any], extra: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        h.service.handle("TestState", {"definition": json.dumps(state), **extra})


def test_definition_that_is_not_json(h: Harness) -> None:
    with pytest.raises(err.InvalidDefinition):
        h.call("TestState", definition="{nope")


@pytest.mark.parametrize(
    "context",
    ["{}", '{"State": {"Name": "S"}}', '{"Execution": {}, "State": {}, "StateMachine": {}}'],
)
def test_now_and_millis_with_a_context_without_entered_time(h: Harness, context: str) -> None:
    """M4: a given ``context`` is ``$$`` verbatim, with or without ``State.EnteredTime``;
    ``$now()`` and ``$millis()`` still give the time (the execution's clock)."""
    state = {"QueryLanguage": "JSONata", "Type": "Task", "Resource": FN + "double", "End": True,
             "Output": {"now": "{% $now() %}", "millis": "{% $millis() %}"}}  # fmt: skip
    answer = run_state(h, state, context=context, mock={"result": "{}"})
    assert answer["status"] == "SUCCEEDED", answer
    assert json.loads(answer["output"]) == {
        "now": "2023-11-14T22:13:20.000Z",
        "millis": 1_700_000_000_000,
    }
