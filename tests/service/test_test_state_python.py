"""``stepwell.test_state``: TestState as a Python call with no server (issue 10), and the
engine's corners the API tables do not reach."""

from __future__ import annotations

import json
from typing import Any

import pytest

import stepwell
from stepwell.service import errors as err
from stepwell.service.test_state.verbatim import VerbatimTexts

FN = "arn:aws:lambda:us-east-1:123456789012:function:"
ROLE = "arn:aws:iam::123456789012:role/r"


def test_python_values_and_functions() -> None:
    state = {"Type": "Task", "Resource": FN + "add", "ResultPath": "$.sum", "End": True}
    answer = stepwell.test_state(
        state, {"a": 1, "b": 2}, role_arn=ROLE, functions={"add": lambda e: e["a"] + e["b"]}
    )
    assert answer == {"status": "SUCCEEDED", "output": '{"a":1,"b":2,"sum":3}'}


def test_no_input_is_an_empty_object() -> None:
    assert stepwell.test_state('{"Type": "Pass", "End": true}') == {
        "status": "SUCCEEDED",
        "output": "{}",
    }


def test_refusals_raise_the_service_error() -> None:
    with pytest.raises(err.ValidationException, match="RoleArn must be specified"):
        stepwell.test_state({"Type": "Task", "Resource": FN + "x", "End": True})
    with pytest.raises(err.InvalidDefinition):
        stepwell.test_state("{not json")
    with pytest.raises(err.InvalidDefinition):
        stepwell.test_state("[1]")


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        # M7: Activity, .sync and .waitForTaskToken need a mock
        ({"definition": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke"
                         ".waitForTaskToken", "End": True}, "role_arn": ROLE},
         err.ValidationException),
        ({"definition": {"Type": "Task", "Resource": FN + "x", "End": True},
          "mock": {"fieldValidationMode": "NONE"}}, err.ValidationException),
        ({"definition": {"Type": "Pass", "End": True}, "context": {}}, err.ValidationException),
        ({"definition": {"StartAt": "A", "States": {"A": {"Type": "Pass"}}},
          "state_name": "A"}, err.InvalidDefinition),
        ({"definition": {"StartAt": "A", "States": []}, "state_name": "A"},
         err.ValidationException),
        ({"definition": {"StartAt": "A", "States": {"A": 1, "B": {"Type": "Succeed"}}},
          "state_name": "B"}, err.InvalidDefinition),
        ({"definition": {"Type": "Task", "Resource": FN + "x", "End": True},
          "mock": {"result": {}}, "context": {"State": []}}, err.ValidationException),
        ({"definition": {"Type": "Task", "Resource": FN + "x", "End": True},
          "mock": {"result": {}}, "context": '["x"]'}, err.ValidationException),
        ({"definition": {"Type": "Task", "Resource": FN + "x", "End": True},
          "mock": {"result": {}}, "context": "{nope"}, err.ValidationException),
    ],
)  # fmt: skip
def test_more_refusals(request_: dict[str, Any], expected: type[Exception]) -> None:
    with pytest.raises(expected):
        stepwell.test_state(**request_)


def test_a_whole_machine_without_state_name_tests_its_start_state() -> None:
    machine = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "Next": "B"},
                                          "B": {"Type": "Succeed"}}}  # fmt: skip
    assert stepwell.test_state(machine)["nextState"] == "B"


def test_a_state_that_goes_to_itself() -> None:
    machine = {
        "StartAt": "StateName",
        "States": {"StateName": {"Type": "Pass", "Next": "StateName"}},
    }
    answer = stepwell.test_state(machine)
    assert answer["nextState"] == "StateName"


def test_a_state_inside_a_map_by_name() -> None:
    machine = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "Inner", "States": {"Inner": {"Type": "Succeed"}}},
                "End": True,
            }
        },
    }
    assert stepwell.test_state(machine, [1], state_name="Inner")["status"] == "SUCCEEDED"


def test_jsonata_task_with_a_mocked_result_shows_arguments_and_result() -> None:
    state = {"QueryLanguage": "JSONata", "Type": "Task", "Resource": FN + "x",
             "Arguments": {"n": "{% $states.input.n %}"},
             "Assign": {"seen": "{% $states.result %}"}, "End": True}  # fmt: skip
    answer = stepwell.test_state(state, {"n": 1}, mock={"result": [1]}, inspection_level="DEBUG")
    data = answer["inspectionData"]
    assert (data["afterArguments"], data["result"]) == ('{"n":1}', "[1]")
    assert json.loads(data["variables"]) == {"seen": [1]}


def test_a_jsonata_map_whose_items_fail_is_caught() -> None:
    state = {"QueryLanguage": "JSONata", "Type": "Map", "Items": "{% $states.input.nope %}",
             "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
             "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}], "End": True}  # fmt: skip
    answer = stepwell.test_state(state, {}, mock={"result": []})
    assert (answer["status"], answer["error"]) == ("CAUGHT_ERROR", "States.QueryEvaluationError")


def test_a_wait_state_does_not_wait() -> None:
    answer = stepwell.test_state({"Type": "Wait", "Seconds": 86400, "Next": "N"}, {"w": 1})
    assert answer == {"status": "SUCCEEDED", "nextState": "N", "output": '{"w": 1}'}


def test_retriable_with_max_delay() -> None:
    state = {"Type": "Task", "Resource": FN + "x", "End": True,
             "Retry": [{"ErrorEquals": ["E"], "IntervalSeconds": 10, "MaxDelaySeconds": 15,
                        "MaxAttempts": 9}]}  # fmt: skip
    answer = stepwell.test_state(
        state,
        mock={"errorOutput": {"error": "E"}},
        state_configuration={"retrierRetryCount": 3},
        inspection_level="DEBUG",
    )
    assert answer["inspectionData"]["errorDetails"] == {
        "retryIndex": 0,
        "retryBackoffIntervalSeconds": 15,
    }


def test_verbatim_text_of_changed_and_nested_values() -> None:
    texts = VerbatimTexts()
    value = texts.parse(' {"a": [1, 2], "b": {"c" : true}} ')
    assert texts.text(value) == '{"a": [1, 2], "b": {"c" : true}}'
    assert texts.text({"x": value["a"]}) == '{"x":[1, 2]}'
    value["b"]["d"] = None
    assert texts.text(value) == '{"a":[1, 2],"b":{"c":true,"d":null}}'
    value["a"].append(3)
    assert texts.text(value["a"]) == "[1,2,3]"
    assert VerbatimTexts().text([1, {"k": "v"}]) == '[1,{"k":"v"}]'


def test_http_exchange_corners() -> None:
    """A request the HTTP Task refuses (States.Runtime) was never sent: no ``request``,
    no ``response``; one that got no answer (socket error) has a ``request`` only."""
    from stepwell.integrations.http_task import HttpTask
    from stepwell.service.test_state.http_trace import header_list, http_request, trace

    assert http_request(HttpTask(), {"Method": "GET"}) is None  # no ApiEndpoint: not sent
    assert trace(HttpTask(), {"Method": "GET"}, None) == {}
    sent = {"ApiEndpoint": "https://x.example/p", "Method": "get", "Headers": {"A": [1, 2]}}
    assert trace(HttpTask(region="eu-west-1"), sent, None) == {
        "request": {
            "protocol": "https",
            "method": "GET",
            "url": "https://x.example/p",
            "headers": "[A: 1,2, User-Agent: Amazon|StepFunctions|HttpInvoke|eu-west-1, "
            "Range: bytes=0-262144]",
            "body": "",
        }
    }
    assert header_list([]) == "[]"


@pytest.mark.parametrize(
    ("reader_data", "expected"),
    [
        ("[1, 2, 3]", [{"Items": [1, 2, 3]}]),
        ("not json\n", None),
        (None, None),
    ],
)
def test_reader_data_items(reader_data: str | None, expected: Any) -> None:
    state = {
        "Type": "Map",
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                       "Parameters": {"Bucket": "b", "Key": "k"}},
        "ItemBatcher": {"MaxItemsPerBatch": 5},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                          "StartAt": "P",
                          "States": {"P": {"Type": "Pass", "End": True}}},
        "End": True,
    }  # fmt: skip
    configuration = {} if reader_data is None else {"mapItemReaderData": reader_data}
    answer = stepwell.test_state(
        state, mock={"result": []}, inspection_level="DEBUG", state_configuration=configuration
    )
    found = answer["inspectionData"].get("afterItemBatcher")
    assert (json.loads(found) if found else None) == expected


RESULT_PATH_FAILURE = "States.ResultPathMatchFailure"
RESULT_PATH_CAUSE = 'Unable to apply ReferencePath $.x.y to input {"x":1}'
PROCESSOR = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


@pytest.mark.parametrize(
    "state",
    [
        {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
         "Parameters": {"FunctionName": "f"}},
        {"Type": "Parallel", "Branches": [PROCESSOR]},
    ],
)  # fmt: skip
def test_a_caught_result_path_failure_is_caught_error(state: dict[str, Any]) -> None:
    """M5: a caught error is CAUGHT_ERROR with the error, the cause and the catchIndex,
    also for a ResultPath failure (it records no failure event)."""
    catchers = [
        {"ErrorEquals": ["E"], "Next": "M"},
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "N"},
    ]
    state = {**state, "ResultPath": "$.x.y", "Next": "N", "Catch": catchers}
    answer = stepwell.test_state(state, {"x": 1}, inspection_level="DEBUG", mock={"result": "[1]"})
    assert (answer["status"], answer["nextState"]) == ("CAUGHT_ERROR", "N")
    assert (answer["error"], answer["cause"]) == (
        "States.ResultPathMatchFailure",
        RESULT_PATH_CAUSE,
    )
    assert answer["inspectionData"]["errorDetails"] == {"catchIndex": 1}


def test_a_retried_result_path_failure_names_its_retrier() -> None:
    """M5/M6: RETRIABLE carries the error, the cause and the matching retrier's index;
    when its attempts are used up, FAILED keeps that retryIndex."""
    state = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
             "Parameters": {"FunctionName": "f"}, "ResultPath": "$.x.y", "End": True,
             "Retry": [{"ErrorEquals": ["E"]},
                       {"ErrorEquals": [RESULT_PATH_FAILURE], "MaxAttempts": 1}]}  # fmt: skip
    mock = {"result": '{"Payload": 1}'}
    answer = stepwell.test_state(state, {"x": 1}, inspection_level="DEBUG", mock=mock)
    assert (answer["status"], answer["error"]) == ("RETRIABLE", "States.ResultPathMatchFailure")
    assert answer["cause"] == RESULT_PATH_CAUSE
    assert answer["inspectionData"]["errorDetails"] == {
        "retryIndex": 1,
        "retryBackoffIntervalSeconds": 1,
    }
    ran_out = stepwell.test_state(
        state,
        {"x": 1},
        inspection_level="DEBUG",
        mock=mock,
        state_configuration={"retrierRetryCount": 1},
    )
    assert (ran_out["status"], ran_out["error"]) == ("FAILED", "States.ResultPathMatchFailure")
    assert ran_out["inspectionData"]["errorDetails"] == {"retryIndex": 1}
