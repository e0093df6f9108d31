"""TestState through boto3 against a real Stepwell server, rule by rule (aws-behaviour
M1-M13; API Reference "TestState"; Developer Guide "Using TestState API to test a state").

Each table row is one call AWS was seen to answer; the test names carry the rule ids.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import ROLE, client, running_host

FN = "arn:aws:lambda:us-east-1:123456789012:function:"
LAMBDA = "arn:aws:states:::lambda:invoke"
PASS_BRANCH = {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}


def double(event: dict[str, Any]) -> dict[str, Any]:
    return {"n": event["n"] * 2}


@pytest.fixture(scope="module")
def sfn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder: Path = tmp_path_factory.mktemp("test-state")
    with running_host(folder, {"double": double}) as (url, _):
        yield client(url)


def call(sfn: Any, state: dict[str, Any], **request: Any) -> dict[str, Any]:
    answer: dict[str, Any] = sfn.test_state(definition=json.dumps(state), **request)
    answer.pop("ResponseMetadata", None)
    return answer


def refused(sfn: Any, state: dict[str, Any], **request: Any) -> tuple[str, str]:
    with pytest.raises(sfn.exceptions.ClientError) as raised:
        call(sfn, state, **request)
    error = raised.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


def mock(result: Any) -> dict[str, Any]:
    return {"result": result if isinstance(result, str) else json.dumps(result)}


def debug(sfn: Any, state: dict[str, Any], **request: Any) -> dict[str, Any]:
    return call(sfn, state, inspectionLevel="DEBUG", **request)


def parsed(data: dict[str, Any]) -> dict[str, Any]:
    """inspectionData with its JSON text members parsed."""
    return {k: json.loads(v) if isinstance(v, str) else v for k, v in data.items()}


def task(resource: str = LAMBDA, **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, **fields}


def map_state(**fields: Any) -> dict[str, Any]:
    return {"Type": "Map", "ItemProcessor": PASS_BRANCH, "End": True, **fields}


PARALLEL = {
    "Type": "Parallel",
    "Branches": [
        {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": True}}},
        {"StartAt": "B2", "States": {"B2": {"Type": "Pass", "End": True}}},
    ],
    "End": True,
}
JSONATA = {"QueryLanguage": "JSONata"}

# --------------------------------------------------------------------- M1, M3

M1_CASES = [
    ("choice", {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsPresent": True,
                                                "Next": "X"}], "Default": "Y"}, {},
     {"input", "afterInputPath"}),
    ("succeed", {"Type": "Succeed"}, {}, {"input", "afterInputPath"}),
    ("fail", {"Type": "Fail", "Error": "E"}, {}, {"input", "afterInputPath"}),
    ("pass without Result", {"Type": "Pass", "End": True}, {},
     {"input", "afterInputPath", "afterParameters", "afterResultSelector", "afterResultPath"}),
    ("pass with Result", {"Type": "Pass", "InputPath": "$.a", "Parameters": {"x": 1},
                          "Result": {"k": "v"}, "End": True}, {},
     {"input", "result", "afterResultSelector", "afterResultPath"}),
    ("mocked task", task(End=True), {"mock": mock({"StatusCode": 200, "Payload": 1})},
     {"input", "afterInputPath", "afterParameters", "result", "afterResultSelector",
      "afterResultPath"}),
    ("jsonata task caught",
     task(End=True, Arguments={"a": 1}, Catch=[{"ErrorEquals": ["E"], "Next": "H"}], **JSONATA),
     {"mock": {"errorOutput": {"error": "E", "cause": "c"}}},
     {"input", "afterArguments", "errorDetails"}),
    ("jsonata task failed", task(End=True, **JSONATA),
     {"mock": {"errorOutput": {"error": "E"}}}, {"input", "afterArguments"}),
    ("parallel", {**PARALLEL, "InputPath": "$.a"}, {"mock": mock([1, 2])},
     {"input", "afterResultSelector", "afterResultPath"}),
    ("jsonata parallel", {**PARALLEL, **JSONATA}, {"mock": mock([1, 2])}, {"input"}),
    ("jsonata map", map_state(Items="{% [1, 2] %}", **JSONATA), {"mock": mock([1, 2])},
     {"input", "maxConcurrency"}),
    ("map", map_state(ItemsPath="$.items"), {"mock": mock([1])},
     {"input", "afterInputPath", "afterItemsPath", "afterResultSelector", "afterResultPath",
      "maxConcurrency"}),
    ("map failing on ItemsPath", map_state(ItemsPath="$.a"), {"mock": mock([1])},
     {"input", "afterInputPath"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("state", "request_", "fields"),
    [case[1:] for case in M1_CASES],
    ids=[case[0] for case in M1_CASES],
)
def test_m1_inspection_fields_per_state_type(
    sfn: Any, state: dict[str, Any], request_: dict[str, Any], fields: set[str]
) -> None:
    answer = debug(sfn, state, input='{"a": {"b": 1}, "items": [1]}', **request_)
    assert set(answer["inspectionData"]) == fields


FAILING_STEP_CASES = [
    ("Parameters", {"Parameters": {"x.$": "$.missing"}}, ["input", "afterInputPath"]),
    ("ResultSelector", {"ResultSelector": {"x.$": "$.missing"}},
     ["input", "afterInputPath", "afterParameters", "result"]),
    ("OutputPath", {"OutputPath": "$.missing"},
     ["input", "afterInputPath", "afterParameters", "result", "afterResultSelector",
      "afterResultPath"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "shown"),
    [case[1:] for case in FAILING_STEP_CASES],
    ids=[case[0] for case in FAILING_STEP_CASES],
)
def test_m1_a_failing_step_shows_the_fields_before_it(
    sfn: Any, fields: dict[str, Any], shown: list[str]
) -> None:
    """Developer Guide, "Using TestState API to test a state", DEBUG inspectionLevel: "the
    intermediate data processing results up to the point of failure"; the mocked result
    shows once the task has returned it."""
    state = task(End=True, **fields)
    answer = debug(sfn, state, input='{"a": 1}', mock=mock({"Payload": 2}))
    assert (answer["status"], answer["error"]) == ("FAILED", "States.Runtime")
    assert list(answer["inspectionData"]) == shown
    assert answer["inspectionData"].get("result", '{"Payload": 2}') == '{"Payload": 2}'


@pytest.mark.parametrize("level", ["DEBUG", "TRACE"])
def test_m1_pass_with_result_as_aws_shows_it(sfn: Any, level: str) -> None:
    state = {"Type": "Pass", "Result": {"resultKey": "result value"}, "End": True}
    answer = call(sfn, state, input='{"Value":"HelloWorld"}', inspectionLevel=level)
    same = {"resultKey": "result value"}
    assert parsed(answer["inspectionData"]) == {
        "input": {"Value": "HelloWorld"},
        "result": same,
        "afterResultSelector": same,
        "afterResultPath": same,
    }


def test_m1_info_level_has_no_inspection_data(sfn: Any) -> None:
    answer = call(sfn, {"Type": "Pass", "End": True}, inspectionLevel="INFO")
    assert answer == {"status": "SUCCEEDED", "output": "{}"}


def test_m1_jsonata_state_picked_by_name_shows_input_only(sfn: Any) -> None:
    machine = {
        "QueryLanguage": "JSONata",
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Output": {"x": 1}, "Next": "F"}, "F": {"Type": "Fail"}},
    }
    for name in ("P", "F"):
        answer = call(sfn, machine, stateName=name, inspectionLevel="DEBUG", input="{}")
        assert set(answer["inspectionData"]) == {"input"}


M3_CASES = [
    ({}, {"maxConcurrency": 0}),
    ({"MaxConcurrency": 4}, {"maxConcurrency": 4}),
    ({"ToleratedFailureCount": 1}, {"maxConcurrency": 0, "toleratedFailureCount": 1}),
    ({"ToleratedFailurePercentage": 1}, {"maxConcurrency": 0, "toleratedFailurePercentage": 1.0}),
]


@pytest.mark.parametrize(("fields", "expected"), M3_CASES)
def test_m3_map_values(sfn: Any, fields: dict[str, Any], expected: dict[str, Any]) -> None:
    answer = debug(sfn, map_state(**fields), input="[1]", mock=mock([1]))
    data = answer["inspectionData"]
    assert {k: data[k] for k in data if k in expected or k.startswith("tolerated")} == expected
    assert json.loads(data["afterItemsPath"]) == [1]


def test_m3_jsonata_max_concurrency_is_evaluated(sfn: Any) -> None:
    state = map_state(Items="{% [1] %}", MaxConcurrency="{% $variable := 1 %}", **JSONATA)
    answer = debug(sfn, state, mock=mock([1]))
    assert answer["inspectionData"]["maxConcurrency"] == 1


# --------------------------------------------------------------------- M2


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (None, None),
        ("{}", None),
        ('{"var_input_value":"test_value","var_constant_1":10}',
         {"var_input_value": "test_value", "var_constant_1": 10}),
    ],
)  # fmt: skip
def test_m2_variables_only_when_not_empty(sfn: Any, variables: str | None, expected: Any) -> None:
    extra = {} if variables is None else {"variables": variables}
    answer = debug(sfn, {"Type": "Pass", "End": True}, **extra)
    found = answer["inspectionData"].get("variables")
    assert (json.loads(found) if found else None) == expected


# --------------------------------------------------------------------- M4

CONTEXT_STATE = {"Type": "Pass", "Parameters": {"c.$": "$$"}, "End": True}


def test_m4_default_context_is_an_express_execution(sfn: Any) -> None:
    answer = call(sfn, CONTEXT_STATE, input='{"i": 1}', roleArn=ROLE)
    context = json.loads(answer["output"])["c"]
    execution, machine = context["Execution"], context["StateMachine"]
    assert execution["Id"] == (
        f"arn:aws:states:us-east-1:123456789012:express:{machine['Name']}:{execution['Name']}"
    )
    assert machine["Id"] == f"arn:aws:states:us-east-1:123456789012:stateMachine:{machine['Name']}"
    assert (execution["RoleArn"], execution["Input"]) == (ROLE, {"i": 1})
    assert "RedriveCount" not in execution and "StartTime" in execution
    assert context["State"]["Name"] == "StateName" and "RetryCount" not in context["State"]


def test_m4_role_arn_is_null_without_one(sfn: Any) -> None:
    answer = call(sfn, CONTEXT_STATE)
    assert json.loads(answer["output"])["c"]["Execution"]["RoleArn"] is None


def test_m4_task_and_state_name_in_a_machine(sfn: Any) -> None:
    machine = {
        "StartAt": "T",
        "States": {"T": task(Parameters={"s.$": "$$.State"}, ResultPath="$.r", End=True)},
    }
    answer = debug(sfn, machine, stateName="T", mock=mock({"StatusCode": 200}))
    seen = json.loads(answer["inspectionData"]["afterParameters"])["s"]
    assert (seen["Name"], seen["RetryCount"]) == ("StateName", 0)


@pytest.mark.parametrize(
    "context",
    ["{}", '{"Execution":{},"State":{},"StateMachine":{}}', '{"State":{"Name":"MyTaskState"}}'],
)
def test_m4_a_given_context_is_used_verbatim(sfn: Any, context: str) -> None:
    state = task(Parameters={"c.$": "$$"}, End=True)
    answer = debug(sfn, state, context=context, mock=mock({"StatusCode": 200}))
    assert json.loads(answer["inspectionData"]["afterParameters"]) == {"c": json.loads(context)}


# --------------------------------------------------------------------- M5

RETRY = [{"ErrorEquals": ["States.ALL"]}]
CATCH = [{"ErrorEquals": ["Other"], "Next": "No"}, {"ErrorEquals": ["States.ALL"], "Next": "C"}]
EXCEEDED = {
    "Error": "States.ExceedToleratedFailureThreshold",
    "Cause": "The specified tolerated failure threshold was exceeded",
}


@pytest.mark.parametrize(
    ("fields", "failures", "status", "details"),
    [
        ({}, 2, "SUCCEEDED", None),
        ({"ToleratedFailureCount": 2}, 2, "SUCCEEDED", None),
        ({"ToleratedFailurePercentage": 50}, 1, "SUCCEEDED", None),
        ({"ToleratedFailureCount": 1}, 2, "FAILED", None),
        ({"ToleratedFailureCount": 1, "Retry": RETRY}, 2, "RETRIABLE",
         {"retryBackoffIntervalSeconds": 1, "retryIndex": 0}),
        ({"ToleratedFailureCount": 1, "Catch": CATCH}, 2, "CAUGHT_ERROR", {"catchIndex": 1}),
        ({"ToleratedFailurePercentage": 10, "Retry": RETRY, "Catch": CATCH}, 1, "RETRIABLE",
         {"retryBackoffIntervalSeconds": 1, "retryIndex": 0}),
    ],
)  # fmt: skip
def test_m5_failure_count_against_thresholds(
    sfn: Any, fields: dict[str, Any], failures: int, status: str, details: Any
) -> None:
    answer = debug(
        sfn,
        map_state(**fields),
        input="[1, 2, 3]",
        mock=mock([1, 2, 3]),
        stateConfiguration={"mapIterationFailureCount": failures},
    )
    assert answer["status"] == status
    assert answer["inspectionData"].get("errorDetails") == details
    if status == "SUCCEEDED":
        return
    assert (answer["error"], answer["cause"]) == (EXCEEDED["Error"], EXCEEDED["Cause"])
    if status == "CAUGHT_ERROR":
        assert answer["nextState"] == "C"
        assert json.loads(answer["output"]) == EXCEEDED
    else:
        assert "output" not in answer


# --------------------------------------------------------------------- M6

RETRIED = task(
    Retry=[
        {"ErrorEquals": ["Other"]},
        {"ErrorEquals": ["Boom"], "IntervalSeconds": 1, "BackoffRate": 2.0, "MaxAttempts": 5},
    ],
    Catch=[{"ErrorEquals": ["Boom"], "ResultPath": "$.e", "Next": "Caught"}],
    End=True,
)


@pytest.mark.parametrize(
    ("count", "state", "status", "details"),
    [
        (0, RETRIED, "RETRIABLE", {"retryIndex": 1, "retryBackoffIntervalSeconds": 1}),
        (4, RETRIED, "RETRIABLE", {"retryIndex": 1, "retryBackoffIntervalSeconds": 16}),
        (5, RETRIED, "CAUGHT_ERROR", {"catchIndex": 0}),
        (5, {**RETRIED, "Catch": []}, "FAILED", {"retryIndex": 1}),
    ],
)
def test_m6_error_details(
    sfn: Any, count: int, state: dict[str, Any], status: str, details: dict[str, int]
) -> None:
    answer = debug(
        sfn,
        state,
        input='{"k": 1}',
        mock={"errorOutput": {"error": "Boom", "cause": "mocked"}},
        stateConfiguration={"retrierRetryCount": count},
    )
    assert (answer["status"], answer["error"], answer["cause"]) == (status, "Boom", "mocked")
    assert answer["inspectionData"]["errorDetails"] == details
    if status == "CAUGHT_ERROR":
        assert answer["nextState"] == "Caught"
        assert json.loads(answer["output"]) == {"k": 1, "e": {"Error": "Boom", "Cause": "mocked"}}


# --------------------------------------------------------------------- M7

V, D = "ValidationException", "InvalidDefinition"
MAP = map_state()
M7_CASES = [
    ("mock on Pass", {"Type": "Pass", "End": True}, {"mock": mock(1), "context": '{"X": 1}'},
     V, "State type 'Pass' is not supported when a mock is specified"),
    ("mock on Succeed", {"Type": "Succeed"}, {"mock": mock(1)},
     V, "State type 'Succeed' is not supported when a mock is specified"),
    ("mock on Fail", {"Type": "Fail"}, {"mock": mock(1)},
     V, "State type 'Fail' is not supported when a mock is specified"),
    ("map without mock", MAP, {}, D,
     "TestState API does not support Map or Parallel states. Supported state types include: "
     "[Task, Wait, Pass, Succeed, Fail, Choice]"),
    ("parallel without mock", PARALLEL, {}, D,
     "TestState API does not support Map or Parallel states. Supported state types include: "
     "[Task, Wait, Pass, Succeed, Fail, Choice]"),
    ("result and errorOutput", task(End=True),
     {"mock": {"result": "{}", "errorOutput": {"error": "E"}}}, V,
     "A test mock should have only one of the following fields: [result, errorOutput]."),
    ("result not JSON", task(End=True), {"mock": mock("{nope")}, V,
     "Mocked result must be valid JSON"),
    ("result not JSON, NONE", task(End=True),
     {"mock": {"result": "nope", "fieldValidationMode": "NONE"}}, V,
     "Mocked result must be valid JSON"),
    ("parallel result not array", PARALLEL, {"mock": mock({})}, V,
     "Mocked result must be an array."),
    ("map result not array", MAP, {"mock": mock({})}, V, "Mocked result must be an array."),
    ("map with ResultWriter",
     map_state(ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                             "Parameters": {"Bucket": "b", "Prefix": "p"}}),
     {"mock": mock([])}, V, "Mocked result must be a JSON object."),
    ("parallel result length", PARALLEL, {"mock": mock([1])}, V,
     "Mocked result must contain the same number of items as number of Parallel branches."),
    ("failure count without mock", MAP, {"stateConfiguration": {"mapIterationFailureCount": 1}},
     V, "TestState does not support MapIterationFailureCount when a mock is not specified."),
    ("failure count above items", MAP,
     {"mock": mock([1]), "stateConfiguration": {"mapIterationFailureCount": 2}}, V,
     "Map iteration failure count must be less than or equal to the number of Map iterations"),
    ("reveal secrets with mock", task(End=True), {"mock": mock({}), "revealSecrets": True}, V,
     "TestState does not support RevealSecrets when a mock is specified."),
    ("task without roleArn", task(End=True), {}, V,
     "RoleArn must be specified when testing a Task state"),
    ("unknown stateName", {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}},
     {"stateName": "a"}, V, "State not found in definition"),
    ("Task in context", task(End=True), {"mock": mock({}), "context": '{"Task": {}}'}, V,
     "Invalid Context object provided: Context object contains 'Task' when state is not a Task "
     "state with a '.sync' or '.waitForTaskToken' service integration pattern"),
    ("unknown context field", task(End=True), {"mock": mock({}), "context": '{"Foo": {}}'}, V,
     "Invalid Context object provided: Field 'Foo' is not allowed"),
    ("unknown Execution field", task(End=True),
     {"mock": mock({}), "context": '{"Execution": {"Foo": 1}}'}, V,
     "Invalid Context object provided: Field 'Foo' is not allowed"),
    ("wrong type in context", task(End=True),
     {"mock": mock({}), "context": '{"Execution": {"Id": 1}}'}, V,
     "Invalid Context object provided: Execution.Id must be a string"),
    ("Map in context", task(End=True), {"mock": mock({}), "context": '{"Map": {}}'}, V,
     "Invalid Context object provided: 'Map' field is not supported when mocking a Context "
     "object"),
    ("empty Branches", {**PARALLEL, "Branches": []}, {"mock": mock([])}, D,
     "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Value cannot be empty at "
     "/States/StateName/Branches'"),
    ("unknown Type in a machine", {"StartAt": "A", "States": {"A": {"Type": "Nope"}}},
     {"stateName": "A"}, D,
     "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The field 'Type' should have "
     "one of these values: [Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map] at "
     "/States/A/Type'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("state", "request_", "code", "message"),
    [case[1:] for case in M7_CASES],
    ids=[case[0] for case in M7_CASES],
)
def test_m7_request_checks(
    sfn: Any, state: dict[str, Any], request_: dict[str, Any], code: str, message: str
) -> None:
    assert refused(sfn, state, **request_) == (code, message)


def test_m7_context_passes_for_a_callback_task(sfn: Any) -> None:
    state = task("arn:aws:states:::sqs:sendMessage.waitForTaskToken", End=True)
    context = '{"Task": {"Token": "t"}, "Execution": {"Id": "x", "RedriveCount": 0}}'
    answer = call(sfn, state, mock=mock({"a": 1}), context=context)
    assert answer["status"] == "SUCCEEDED"


# --------------------------------------------------------------------- M8

SFN_START = "arn:aws:states:::states:startExecution"
M8_CASES = [
    ("arn:aws:states:::aws-sdk:kms:encrypt", {"CiphertextBlob": ""}, None,
     "Field 'CiphertextBlob' is smaller than the minimum length"),
    (SFN_START, {"executionArn": "a", "startDate": "d"}, None,
     "Required field 'ExecutionArn' is missing"),
    (SFN_START, {"executionArn": "a"}, "PRESENT", None),
    (SFN_START, {"ExecutionArn": "a", "StartDate": 1}, "PRESENT",
     "Field 'StartDate' must be a string"),
    (SFN_START, {"ExecutionArn": "a", "StartDate": 1}, "NONE", None),
    (SFN_START, {"ExecutionArn": "a", "StartDate": "2024-01-01T00:00:00Z"}, None, None),
    (LAMBDA, {"StatusCode": "200"}, None, "Field 'StatusCode' must be a number"),
    (LAMBDA, {"StatusCode": 200, "Payload": {"any": ["json"]}}, None, None),
    ("arn:aws:states:::events:putEvents", {"random": "json"}, None, None),
    ("arn:aws:states:::events:putEvents", {}, None, None),
    ("arn:aws:states:::events:putEvents", {"Entries": {}}, None,
     "Field 'Entries' must be an array"),
    ("arn:aws:states:::dynamodb:putItem", {"ConsumedCapacity": {"CapacityUnits": "1"}}, None,
     "Field 'CapacityUnits' must be a number"),
    ("arn:aws:states:::aws-sdk:lambda:getFunctionConfiguration", {"MemorySize": 127}, None,
     "Field 'MemorySize' is less than the minimum value"),
    # AWS refused 10241 (its maximum is 10240), though this botocore's model allows 32768
    ("arn:aws:states:::aws-sdk:lambda:getFunctionConfiguration", {"MemorySize": 10241}, None,
     "Field 'MemorySize' exceeds the maximum value"),
    ("arn:aws:states:::aws-sdk:lambda:getFunction", {"Configuration": {"MemorySize": 10241}},
     None, "Field 'MemorySize' exceeds the maximum value"),
    ("arn:aws:states:::aws-sdk:lambda:getFunctionConfiguration", {"MemorySize": 10240}, None,
     None),
    ("arn:aws:states:::aws-sdk:lambda:getFunctionConfiguration", {"Runtime": "cobol"}, None,
     "Field 'Runtime' is not an expected value"),
    ("arn:aws:states:::aws-sdk:sfn:describeExecution",
     {"ExecutionArn": "a", "StateMachineArn": "s", "Status": "RUNNING", "StartDate": "d",
      "RedriveCount": 0}, None, None),
    ("arn:aws:states:::sqs:sendMessage", {"MessageId": True}, None,
     "Field 'MessageId' must be a string"),
    ("arn:aws:states:::sns:publish", {"MessageId": []}, None, "Field 'MessageId' must be a string"),
    ("arn:aws:states:::states:startExecution.sync", {"ExecutionArn": "a"}, None,
     "Required field 'StateMachineArn' is missing"),
    (FN + "double", {"anything": 1}, None, None),
]  # fmt: skip


@pytest.mark.parametrize(("resource", "result", "mode", "problem"), M8_CASES)
def test_m8_mock_result_schema(
    sfn: Any, resource: str, result: Any, mode: str | None, problem: str | None
) -> None:
    mocked = mock(result) | ({"fieldValidationMode": mode} if mode else {})
    state = task(resource, End=True)
    if problem is None:
        assert call(sfn, state, mock=mocked)["status"] == "SUCCEEDED"
    else:
        message = f"Mock result schema validation error: {problem}"
        assert refused(sfn, state, mock=mocked) == ("ValidationException", message)


# --------------------------------------------------------------------- M9


@pytest.mark.parametrize(
    ("items_path", "context", "cause"),
    [
        ("$.a", None, 'Reference path "$.a" must point to array.'),
        ("$$", "{}", 'Reference path "$" must point to array.'),
        ("$$.Execution.Input", '{"Execution": {"Input": {"x": 1}}}',
         'Reference path "$.Execution.Input" must point to array.'),
    ],
)  # fmt: skip
def test_m9_items_path_is_read_when_mocked(
    sfn: Any, items_path: str, context: str | None, cause: str
) -> None:
    extra = {} if context is None else {"context": context}
    answer = debug(sfn, map_state(ItemsPath=items_path), input='{"a": 1}', mock=mock([1]), **extra)
    assert (answer["status"], answer["error"], answer["cause"]) == (
        "FAILED",
        "States.Runtime",
        cause,
    )
    assert set(answer["inspectionData"]) == {"input", "afterInputPath"}


PREFIX = "An error occurred while executing the state 'StateName' (entered at the event id #2). "


@pytest.mark.parametrize(
    ("fields", "cause"),
    [
        ({"Items": "{% 'string' %}"},
         "The JSONata expression ''string'' specified for the field 'Items' returned an "
         "unexpected result type. Expected 'array', but was 'string' for value: \"string\""),
        ({"Items": "{% $states.input %}"},
         "The JSONata expression '$states.input' specified for the field 'Items' returned an "
         "unexpected result type. Expected 'array', but was 'object' for value: {\"a\":1}"),
        ({}, 'Map state input must be an array but was: {"a":1}'),
    ],
)  # fmt: skip
def test_m9_jsonata_items_are_read_when_mocked(
    sfn: Any, fields: dict[str, Any], cause: str
) -> None:
    """M9 for a JSONata Map: its Items (or input) must be an array even with a mock; the
    causes are D5's, and the state's Catch applies as to any Map failure."""
    state = map_state(QueryLanguage="JSONata", **fields)
    state["Catch"] = [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "H"}]
    answer = debug(sfn, state, input='{"a": 1}', mock=mock([1]))
    assert (answer["status"], answer["nextState"], answer["error"], answer["cause"]) == (
        "CAUGHT_ERROR",
        "H",
        "States.QueryEvaluationError",
        PREFIX + cause,
    )
    assert answer["inspectionData"] == {"input": '{"a": 1}', "errorDetails": {"catchIndex": 0}}


# --------------------------------------------------------------------- M12


def test_m12_mock_text_comes_back_verbatim(sfn: Any) -> None:
    answer = debug(sfn, map_state(), input="[1, 2, 3]", mock=mock("[1, 1, 1]"))
    assert answer["output"] == "[1, 1, 1]"
    assert answer["inspectionData"]["input"] == "[1, 2, 3]"


def test_m12_parallel_mock_keeps_its_spacing(sfn: Any) -> None:
    text = '[{"branch1": "result"}, {"branch2": "result"}]'
    answer = debug(sfn, PARALLEL, mock=mock(text))
    data = answer["inspectionData"]
    assert answer["output"] == data["afterResultSelector"] == data["afterResultPath"] == text


def test_m12_values_selected_from_a_context_keep_their_text(sfn: Any) -> None:
    context = '{"Execution": {"Input": [1,  2]}}'
    state = map_state(ItemsPath="$$.Execution.Input", ResultPath="$.r")
    answer = debug(sfn, state, input='{"a": [3, 4]}', mock=mock("[5, 6]"), context=context)
    assert answer["inspectionData"]["afterItemsPath"] == "[1,  2]"
    assert answer["output"] == '{"a":[3, 4],"r":[5, 6]}'


# --------------------------------------------------------------------- M13


def test_m13_mocked_wait_for_task_token_runs_the_whole_pipeline(sfn: Any) -> None:
    state = task(
        "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        Parameters={"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
        ResultSelector={"ok.$": "$.ok"},
        ResultPath="$.reply",
        Next="After",
    )
    answer = debug(
        sfn, state, input='{"id": 7}', mock=mock({"ok": True}), context='{"Task":{"Token":"tk"}}'
    )
    assert (answer["status"], answer["nextState"]) == ("SUCCEEDED", "After")
    assert parsed(answer["inspectionData"]) == {
        "input": {"id": 7},
        "afterInputPath": {"id": 7},
        "afterParameters": {"QueueUrl": "q", "MessageBody": {"token": "tk"}},
        "result": {"ok": True},
        "afterResultSelector": {"ok": True},
        "afterResultPath": {"id": 7, "reply": {"ok": True}},
    }


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:states:us-east-1:123456789012:activity:work",
        "arn:aws:states:::states:startExecution.sync:2",
        "arn:aws:states:::lambda:invoke.waitForTaskToken",
    ],
)
def test_m13_activity_sync_and_callbacks_run_with_a_mock(sfn: Any, resource: str) -> None:
    answer = call(
        sfn, task(resource, End=True), mock={"result": "{}", "fieldValidationMode": "NONE"}
    )
    assert answer == {"status": "SUCCEEDED", "output": "{}"}


# --------------------------------------------------------------------- the rest of the model


def test_unmocked_task_calls_the_function_with_a_role(sfn: Any) -> None:
    state = task(FN + "double", ResultPath="$.out", Next="After")
    answer = call(
        sfn, state, input='{"n": 2}', roleArn=ROLE, inspectionLevel="TRACE", revealSecrets=True
    )
    assert (answer["status"], answer["nextState"]) == ("SUCCEEDED", "After")
    assert json.loads(answer["output"]) == {"n": 2, "out": {"n": 4}}
    assert json.loads(answer["inspectionData"]["result"]) == {"n": 4}


def test_mocked_error_in_a_map_names_the_state_it_came_from(sfn: Any) -> None:
    answer = call(
        sfn,
        map_state(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "H"}]),
        input="[1]",
        mock={"errorOutput": {"error": "Inner", "cause": "c"}},
        stateConfiguration={"errorCausedByState": "B"},
    )
    assert (answer["status"], answer["nextState"], answer["error"]) == (
        "CAUGHT_ERROR",
        "H",
        "Inner",
    )


@pytest.mark.parametrize(
    ("state", "caused_by"),
    [
        (PARALLEL, "B2"),
        (map_state(ItemProcessor={"StartAt": "Outer", "States": {"Outer": {
            "Type": "Parallel", "End": True, "Branches": [PASS_BRANCH]}}}), "B"),
    ],
)  # fmt: skip
def test_error_caused_by_a_state_inside_goes_through_retry_then_catch(
    sfn: Any, state: dict[str, Any], caused_by: str
) -> None:
    # API Reference, TestStateConfiguration.errorCausedByState: "The name of the state from
    # which an error originates when an error is mocked for a Map or Parallel state"; the
    # error reaches the tested state, whose Retry and Catch then apply (M5, M6).
    handled = {
        **state,
        "Retry": [{"ErrorEquals": ["Other"]}, {"ErrorEquals": ["Inner"], "MaxAttempts": 1}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}],
    }
    handled.pop("End")
    handled["Next"] = "H"
    config = {"errorCausedByState": caused_by}
    errored = {"errorOutput": {"error": "Inner", "cause": "c"}}
    first = debug(sfn, handled, input="[1]", mock=errored, stateConfiguration=config)
    assert (first["status"], first["inspectionData"]["errorDetails"]) == (
        "RETRIABLE",
        {"retryIndex": 1, "retryBackoffIntervalSeconds": 1},
    )
    config["retrierRetryCount"] = 1
    last = debug(sfn, handled, input="[1]", mock=errored, stateConfiguration=config)
    assert (last["status"], last["nextState"], last["inspectionData"]["errorDetails"]) == (
        "CAUGHT_ERROR",
        "H",
        {"catchIndex": 0},
    )


@pytest.mark.parametrize(
    ("state", "request_", "message"),
    [
        (map_state(), {"stateConfiguration": {"errorCausedByState": "B"}},
         "TestState does not support ErrorCausedByState when a mock is not specified."),
        (map_state(), {"mock": {"errorOutput": {"error": "E"}},
                       "stateConfiguration": {"errorCausedByState": "Nowhere"}},
         "State 'Nowhere' specified in errorCausedByState is not a state of the tested Map "
         "or Parallel state"),
        (task(End=True), {"mock": {"errorOutput": {"error": "E"}},
                          "stateConfiguration": {"errorCausedByState": "B"}},
         "State 'B' specified in errorCausedByState is not a state of the tested Map "
         "or Parallel state"),
    ],
)  # fmt: skip
def test_error_caused_by_state_must_be_inside_the_tested_state(
    sfn: Any, state: dict[str, Any], request_: dict[str, Any], message: str
) -> None:
    assert refused(sfn, state, **request_) == ("ValidationException", message)


def test_distributed_map_with_reader_data(sfn: Any) -> None:
    state = map_state(
        ItemReader={
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket": "b", "Key": "k"},
        },
        ItemProcessor={**PASS_BRANCH, "ProcessorConfig": {"Mode": "DISTRIBUTED",
                                                          "ExecutionType": "STANDARD"}},
    )  # fmt: skip
    answer = call(
        sfn,
        state,
        mock=mock([1, 2]),
        stateConfiguration={"mapItemReaderData": "[1, 2]", "mapIterationFailureCount": 0},
    )
    assert answer == {"status": "SUCCEEDED", "output": "[1, 2]"}


# --------------------------------------------------------------------- TRACE: HTTP exchange


class _Api(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        received = json.loads(self.rfile.read(length))
        status = 200 if received.get("ok") else 418
        body = json.dumps({"echo": received, "path": self.path}, indent=2).encode()
        self.send_response_only(status)  # no Server or Date header: the answer is exact
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def http_call(url: str, resource: str = "arn:aws:states:::http:invoke") -> dict[str, Any]:
    return task(
        resource,
        Parameters={
            "ApiEndpoint": url + "/v1/orders",
            "Method": "POST",
            "Headers": {"X-Order": 7},
            "QueryParameters": {"q": "1"},
            "RequestBody.$": "$",
            "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:1:connection/c/1"},
        },
        End=True,
    )


@pytest.mark.parametrize(("ok", "status"), [(True, "SUCCEEDED"), (False, "FAILED")])
def test_trace_shows_the_http_request_and_response(
    sfn: Any, api: str, ok: bool, status: str
) -> None:
    """Developer Guide, "Using TestState API to test a state", Example 3: headers as one
    ``[name: value, …]`` string (the definition's, then User-Agent and Range), the body as
    sent and as received, status code and message as strings."""
    answer = call(
        sfn,
        http_call(api),
        input=json.dumps({"ok": ok}),
        roleArn=ROLE,
        inspectionLevel="TRACE",
        revealSecrets=True,
    )
    assert answer["status"] == status
    request, response = answer["inspectionData"]["request"], answer["inspectionData"]["response"]
    assert request == {
        "protocol": "http",
        "method": "POST",
        "url": api + "/v1/orders?q=1",
        "headers": "[X-Order: 7, User-Agent: Amazon|StepFunctions|HttpInvoke|us-east-1, "
        "Range: bytes=0-262144]",
        "body": '{"ok":true}' if ok else '{"ok":false}',
    }
    body = json.dumps({"echo": {"ok": ok}, "path": "/v1/orders?q=1"}, indent=2)
    assert response == {
        "protocol": "http",
        "statusCode": "200" if ok else "418",
        "statusMessage": "OK" if ok else "I'm a Teapot",
        "headers": f"[Content-Type: application/json, Content-Length: {len(body)}]",
        "body": body,
    }


def test_trace_shows_the_exchange_of_a_region_qualified_http_resource(sfn: Any, api: str) -> None:
    """Developer Guide, "Specifying Resource ARNs in Tasks": the integration ARN may name its
    region and account; ``arn:aws:states:us-east-1:123456789012:http:invoke`` is the HTTP
    Task, so TRACE shows its exchange too."""
    resource = "arn:aws:states:us-east-1:123456789012:http:invoke"
    answer = call(
        sfn,
        http_call(api, resource),
        input='{"ok": true}',
        roleArn=ROLE,
        inspectionLevel="TRACE",
        revealSecrets=True,
    )
    assert answer["status"] == "SUCCEEDED"
    assert answer["inspectionData"]["request"]["url"] == api + "/v1/orders?q=1"
    assert answer["inspectionData"]["response"]["statusCode"] == "200"


def test_trace_without_reveal_secrets_omits_nothing_of_the_definition(sfn: Any, api: str) -> None:
    """Developer Guide, TRACE inspectionLevel: without revealSecrets AWS omits the secrets an
    EventBridge connection adds; the definition's own headers, query and body stay.
    Stepwell reads no connection, so the exchange is the same either way."""
    shown = [
        call(
            sfn,
            http_call(api),
            input='{"ok": true}',
            roleArn=ROLE,
            inspectionLevel="TRACE",
            **secrets,
        )["inspectionData"]["request"]
        for secrets in ({}, {"revealSecrets": False}, {"revealSecrets": True})
    ]
    assert shown[0] == shown[1] == shown[2]
    assert "X-Order: 7" in shown[0]["headers"]


def test_trace_of_a_region_qualified_http_task(sfn: Any, api: str) -> None:
    """ "Task workflow state": region and account may be given in an integration ARN; the
    HTTP Task they name is traced the same way."""
    state = http_call(api)
    state["Resource"] = "arn:aws:states:us-east-1:123456789012:http:invoke"
    answer = call(sfn, state, input='{"ok": true}', roleArn=ROLE, inspectionLevel="TRACE")
    assert answer["status"] == "SUCCEEDED"
    assert answer["inspectionData"]["request"]["url"] == api + "/v1/orders?q=1"
    assert answer["inspectionData"]["response"]["statusCode"] == "200"


def test_debug_has_no_http_exchange(sfn: Any, api: str) -> None:
    answer = debug(sfn, http_call(api), input='{"ok": true}', roleArn=ROLE)
    assert "request" not in answer["inspectionData"]
    assert "response" not in answer["inspectionData"]


# --------------------------------------------------------------------- ItemSelector


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (map_state(ItemsPath="$.xs", ItemSelector={"v.$": "$$.Map.Item.Value",
                                                   "i.$": "$$.Map.Item.Index", "k.$": "$.k"}),
         [{"v": 5, "i": 0, "k": 1}, {"v": 6, "i": 1, "k": 1}]),
        (map_state(Items="{% $states.input.xs %}", **JSONATA,
                   ItemSelector={"v": "{% $states.context.Map.Item.Value %}"}),
         [{"v": 5}, {"v": 6}]),
    ],
)  # fmt: skip
def test_after_item_selector_lists_each_iteration_input(
    sfn: Any, state: dict[str, Any], expected: list[Any]
) -> None:
    answer = debug(sfn, state, input='{"xs": [5, 6], "k": 1}', mock=mock([1, 2]))
    assert json.loads(answer["inspectionData"]["afterItemSelector"]) == expected


def test_after_item_batcher_from_item_reader_data(sfn: Any) -> None:
    state = map_state(
        ItemReader={
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSONL"},
            "Parameters": {"Bucket": "b", "Key": "k"},
        },
        ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {"run": 1}},
        ItemProcessor={
            **PASS_BRANCH,
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        },
    )
    answer = debug(
        sfn,
        state,
        mock=mock([1, 2]),
        stateConfiguration={"mapItemReaderData": '{"a": 1}\n{"a": 2}\n{"a": 3}'},
    )
    assert json.loads(answer["inspectionData"]["afterItemBatcher"]) == [
        {"BatchInput": {"run": 1}, "Items": [{"a": 1}, {"a": 2}]},
        {"BatchInput": {"run": 1}, "Items": [{"a": 3}]},
    ]


# --------------------------------------------------------------------- ItemsPointer


def reader_map(config: dict[str, Any]) -> dict[str, Any]:
    return map_state(
        ItemReader={
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": config,
            "Parameters": {"Bucket": "b", "Key": "k"},
        },
        ItemSelector={"v.$": "$$.Map.Item.Value"},
        ItemProcessor={
            **PASS_BRANCH,
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        },
    )


def test_after_items_pointer_is_the_array_the_pointer_names(sfn: Any) -> None:
    # API Reference, InspectionData.afterItemsPointer: "The effective input after the
    # ItemsPointer filter is applied in a Map state"; ReaderConfig.ItemsPointer selects the
    # array inside a JSON object (Developer Guide, "ItemReader (Map)").
    state = reader_map({"InputType": "JSON", "ItemsPointer": "/data/items"})
    data = '{"data": {"items": [1, 2]}, "other": 3}'
    answer = debug(sfn, state, mock=mock([1, 2]), stateConfiguration={"mapItemReaderData": data})
    inspection = answer["inspectionData"]
    assert json.loads(inspection["afterItemsPointer"]) == [1, 2]
    assert json.loads(inspection["afterItemSelector"]) == [{"v": 1}, {"v": 2}]


@pytest.mark.parametrize(
    ("config", "data", "expected"),
    [
        ({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}, "id,name\n1,a\n2,b\n",
         [{"v": {"id": "1", "name": "a"}}, {"v": {"id": "2", "name": "b"}}]),
        ({"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["k"]}, "1\n2\n",
         [{"v": {"k": "1"}}, {"v": {"k": "2"}}]),
    ],
)  # fmt: skip
def test_csv_reader_data_is_read_as_rows(
    sfn: Any, config: dict[str, Any], data: str, expected: list[Any]
) -> None:
    """API Reference, TestStateConfiguration.mapItemReaderData: "The data read by ItemReader
    ... as found in its original source"; a CSV object's rows are objects keyed by the
    headers (Developer Guide, "ItemReader (Map)"), each value a string."""
    answer = debug(sfn, reader_map(config), mock=mock([1, 2]),
                   stateConfiguration={"mapItemReaderData": data})  # fmt: skip
    assert json.loads(answer["inspectionData"]["afterItemSelector"]) == expected


def test_no_after_items_pointer_without_an_items_pointer(sfn: Any) -> None:
    state = reader_map({"InputType": "JSON"})
    config = {"mapItemReaderData": "[1, 2]"}
    answer = debug(sfn, state, mock=mock([1, 2]), stateConfiguration=config)
    assert "afterItemsPointer" not in answer["inspectionData"]


def test_an_items_pointer_to_no_array_fails_the_reader(sfn: Any) -> None:
    state = reader_map({"InputType": "JSON", "ItemsPointer": "/data"})
    config = {"mapItemReaderData": '{"data": 1}'}
    answer = debug(sfn, state, mock=mock([1]), stateConfiguration=config)
    assert (answer["status"], answer["error"], answer["cause"]) == (
        "FAILED",
        "States.ItemReaderFailed",
        "Attempting to map over non-iterable node.",
    )
