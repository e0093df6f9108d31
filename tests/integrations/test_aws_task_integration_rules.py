"""Task integration rules of aws-behaviour.md section C (C2, C3, C4): nested executions and
the ``aws-sdk:sfn`` calls, in-process (``stepwell.run``) and durably (service + worker)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

import pytest

import stepwell
from stepwell.integrations.functions import Outcome
from stepwell.integrations.nested import NestedExecutions
from stepwell.integrations.registry import Integrations
from stepwell.integrations.services import Services
from stepwell.runtime.clock import VirtualClock
from stepwell.runtime.tasks import outcome_event, outcome_events
from stepwell.runtime.worker import Worker
from stepwell.service.service import Service
from stepwell.store.memory import MemoryStore

PREFIX = "arn:aws:states:us-east-1:123456789012"
ROLE = "arn:aws:iam::123456789012:role/stepwell"
T0 = 1_700_000_000.123
START = datetime.fromtimestamp(T0, UTC)
ECHO = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
BOOM = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Boom", "Cause": "no"}}}


def task(resource: str, parameters: dict[str, Any]) -> dict[str, Any]:
    state = {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True}
    return {"StartAt": "T", "States": {"T": state}}


def start_child(pattern: str, machine: str = "echo", **parameters: Any) -> dict[str, Any]:
    return task(
        f"arn:aws:states:::states:startExecution{pattern}",
        {"StateMachineArn": f"{PREFIX}:stateMachine:{machine}", **parameters},
    )


def run(definition: dict[str, Any]) -> Any:
    return stepwell.run(
        definition, {}, machines={"echo": ECHO, "boom": BOOM}, seed=7, start_time=START
    )


# ----------------------------------------------------------------------------- C2


@pytest.mark.parametrize(("pattern", "child_input"), [(".sync", "{}"), (".sync:2", {})])
def test_C2_null_input_starts_the_child_with_an_empty_object(
    pattern: str, child_input: Any
) -> None:
    result = run(start_child(pattern, Input=None))
    assert result.status == "SUCCEEDED"
    assert result.output["Input"] == child_input
    assert result.output["Output"] == child_input  # the child echoed {}
    scheduled = next(e for e in result.history if e["type"] == "TaskScheduled")
    parameters = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])
    assert parameters["Input"] is None


@pytest.mark.parametrize("pattern", [".sync", ".sync:2"])
def test_C2_sync_output_has_the_describe_fields_and_redrive_reason(pattern: str) -> None:
    output = run(start_child(pattern, Input={"a": 1})).output
    assert set(output) == {
        "ExecutionArn", "Input", "InputDetails", "Name", "Output", "OutputDetails",
        "StartDate", "StateMachineArn", "Status", "StopDate",
        "RedriveCount", "RedriveStatus", "RedriveStatusReason",
    }  # fmt: skip
    assert output["RedriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"
    assert (output["RedriveCount"], output["RedriveStatus"]) == (0, "NOT_REDRIVABLE")


def test_C2_a_failed_child_fails_the_task_with_its_description() -> None:
    result = run(start_child(".sync", machine="boom"))
    assert result.error == "States.TaskFailed"
    cause = json.loads(result.cause)
    assert (cause["Status"], cause["Error"], cause["Cause"]) == ("FAILED", "Boom", "no")
    assert cause["RedriveStatus"] == "REDRIVABLE" and "RedriveStatusReason" not in cause


# ----------------------------------------------------------------------------- C3


def test_C3_sdk_start_execution_returns_arn_and_date_only() -> None:
    result = run(
        task(
            "arn:aws:states:::aws-sdk:sfn:startExecution",
            {"StateMachineArn": f"{PREFIX}:stateMachine:echo", "Name": "child"},
        )
    )
    assert result.output == {
        "ExecutionArn": f"{PREFIX}:execution:echo:child",
        "StartDate": "2023-11-14T22:13:20.123Z",
    }


SEND_TASK_CASES = [
    ("sendTaskSuccess", {"TaskToken": "unknown", "Output": '{"a": 1}'}),
    ("sendTaskSuccess", {"TaskToken": "unknown", "Output": "not json"}),  # token first
    ("sendTaskFailure", {"TaskToken": "unknown", "Error": "E", "Cause": "c"}),
]


def assert_invalid_token(error: str | None, cause: str | None) -> None:
    assert error == "Sfn.InvalidTokenException"
    assert cause is not None
    assert cause.startswith(
        "Invalid Token: 'Invalid token' (Service: Sfn, Status Code: 400, Request ID: "
    )
    assert cause.endswith(") (SDK Attempt Count: 1)")


@pytest.mark.parametrize(("action", "parameters"), SEND_TASK_CASES)
def test_C3_unknown_token_in_process(action: str, parameters: dict[str, Any]) -> None:
    result = run(task(f"arn:aws:states:::aws-sdk:sfn:{action}", parameters))
    assert_invalid_token(result.error, result.cause)


class Durable:
    """Service, worker and nested executions on a memory store, on a virtual clock."""

    def __init__(self) -> None:
        store = MemoryStore()
        self.clock = VirtualClock(T0)
        integrations = Integrations()
        nested = NestedExecutions(links=store)
        nested.install(integrations)
        self.worker = Worker(store, integrations, self.clock)
        self.worker.watchers.append(nested)
        self.service = Service(store, self.clock, integrations=integrations)
        nested.connect(self.service)
        self.machine("echo", ECHO)

    def machine(self, name: str, definition: dict[str, Any]) -> str:
        request = {"name": name, "definition": json.dumps(definition), "roleArn": ROLE}
        return str(self.service.create_state_machine(request)["stateMachineArn"])

    def run(self, definition: dict[str, Any]) -> dict[str, Any]:
        arn = self.machine("parent", definition)
        execution = self.service.start_execution({"stateMachineArn": arn, "input": "{}"})
        self.worker.run_until_idle()
        return dict(self.service.describe_execution(execution))


@pytest.mark.parametrize(("action", "parameters"), SEND_TASK_CASES)
def test_C3_unknown_token_durably(action: str, parameters: dict[str, Any]) -> None:
    described = Durable().run(task(f"arn:aws:states:::aws-sdk:sfn:{action}", parameters))
    assert_invalid_token(described.get("error"), described.get("cause"))


# ----------------------------------------------------------------------------- C4


def test_C4_sdk_http_metadata_of_start_execution() -> None:
    durable = Durable()
    described = durable.run(start_child("", Name="child"))
    output = json.loads(described["output"])
    arn = f"{PREFIX}:execution:echo:child"
    body = f'{{"executionArn":"{arn}","startDate":1.700000000123E9}}'
    headers = output["SdkHttpMetadata"]["HttpHeaders"]
    request_id = output["SdkResponseMetadata"]["RequestId"]
    assert headers == {
        "Content-Length": str(len(body)),
        "Content-Type": "application/x-amz-json-1.0",
        "Date": formatdate(T0, usegmt=True),
        "connection": "keep-alive",
        "x-amzn-RequestId": request_id,
    }
    all_headers = output["SdkHttpMetadata"]["AllHttpHeaders"]
    assert all_headers["connection"] == ["keep-alive"]
    assert all_headers["Date"] == [headers["Date"]]
    assert output["StartDate"] == round(T0 * 1000)


# ----------------------------------------------------------------------------- C1


def task_events(history: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in history if e["type"].startswith("Task") and "State" not in e["type"]]


def submitted_details(history: list[dict[str, Any]]) -> dict[str, Any]:
    (event,) = [e for e in history if e["type"] == "TaskSubmitted"]
    details: dict[str, Any] = event["taskSubmittedEventDetails"]
    return details


@pytest.mark.parametrize("pattern", [".sync", ".sync:2"])
def test_C1_sync_writes_task_submitted_durably(pattern: str) -> None:
    durable = Durable()
    described = durable.run(start_child(pattern, Name="child"))
    assert described["status"] == "SUCCEEDED"
    history = durable.service.get_execution_history({"executionArn": described["executionArn"]})
    events = history["events"]
    assert task_events(events) == ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded"]
    details = submitted_details(events)
    assert (details["resourceType"], details["resource"]) == ("states", f"startExecution{pattern}")
    assert details["outputDetails"] == {"truncated": False}
    output = json.loads(details["output"])
    assert set(output) == {"ExecutionArn", "StartDate", "SdkHttpMetadata", "SdkResponseMetadata"}
    assert output["ExecutionArn"] == f"{PREFIX}:execution:echo:child"


@pytest.mark.parametrize("pattern", [".sync", ".sync:2"])
def test_C1_sync_writes_task_submitted_in_process(pattern: str) -> None:
    result = run(start_child(pattern, Name="child"))
    assert result.status == "SUCCEEDED"
    events = task_events(result.history)
    assert events == ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded"]
    output = json.loads(submitted_details(result.history)["output"])
    assert output["ExecutionArn"] == f"{PREFIX}:execution:echo:child"
    assert output["StartDate"] == round(T0 * 1000)


def test_C1_wait_for_task_token_writes_task_submitted() -> None:
    services = Services()
    url = services.sqs.create_queue(QueueName="q")["QueueUrl"]
    waiting = task(
        "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token"}},
    )
    waiting["States"]["T"]["TimeoutSeconds"] = 5
    result = stepwell.run(waiting, {}, services=services, seed=3, start_time=START)
    assert result.error == "States.Timeout"
    assert task_events(result.history) == [
        "TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskTimedOut",
    ]  # fmt: skip
    details = submitted_details(result.history)
    assert (details["resourceType"], details["resource"]) == ("sqs", "sendMessage.waitForTaskToken")
    output = json.loads(details["output"])
    assert set(output) == {
        "MD5OfMessageBody",
        "MessageId",
        "SdkHttpMetadata",
        "SdkResponseMetadata",
    }


def test_C1_request_response_writes_no_task_submitted() -> None:
    result = run(start_child(""))
    assert task_events(result.history) == ["TaskScheduled", "TaskStarted", "TaskSucceeded"]


@pytest.mark.parametrize(
    ("outcome", "durable", "in_process"),
    [
        (Outcome(output={"a": 1}, submitted=True), ["TaskSubmitted"], ["TaskSubmitted"]),
        (
            Outcome(output={"a": 1}, submitted=True, then=Outcome(output=2)),
            ["TaskSucceeded"],  # one event per invocation: the known end
            ["TaskSubmitted", "TaskSucceeded"],
        ),
        (Outcome(error="E"), ["TaskFailed"], ["TaskFailed"]),
    ],
)
def test_C1_events_of_an_outcome(
    outcome: Outcome, durable: list[str], in_process: list[str]
) -> None:
    assert [type(outcome_event(1, 2, outcome)).__name__] == durable
    assert [type(e).__name__ for e in outcome_events(1, 2, outcome)] == in_process
