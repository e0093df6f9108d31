"""End to end: boto3 against the API served by uvicorn on a loopback port.

boto3 must parse every response (timestamps into ``datetime``) and raise the modelled
exception class (``client.exceptions.ExecutionDoesNotExist`` …) for every error, exactly
as it does against AWS.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from api_helpers import RecordingService, raising, running_server
from botocore.config import Config
from botocore.exceptions import ClientError

from stepwell.api import ApiSettings, create_app
from stepwell.service.errors import ExecutionDoesNotExist, StateMachineDoesNotExist

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:Hello"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:Hello:run-1"
STARTED = datetime(2025, 3, 1, 12, 30, 15, 250_000, tzinfo=UTC)
# StartSyncExecution and TestState would otherwise go to http://sync-127.0.0.1:…
CONFIG = Config(inject_host_prefix=False, retries={"mode": "standard", "max_attempts": 1})


def make_client(url: str, key_id: str = "AKIDEXAMPLE", secret: str = "secret") -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=CONFIG,
    )


@pytest.fixture(scope="module")
def service() -> RecordingService:
    return RecordingService()


@pytest.fixture(scope="module")
def server_url(service: RecordingService) -> Iterator[str]:
    with running_server(create_app(service)) as url:
        yield url


@pytest.fixture
def sfn(server_url: str, service: RecordingService) -> Any:
    service.calls.clear()
    service.responses.clear()
    return make_client(server_url)


def test_start_execution_round_trip(sfn: Any, service: RecordingService) -> None:
    service.responses["StartExecution"] = lambda request: {
        "executionArn": EXECUTION,
        "startDate": STARTED,
    }
    response = sfn.start_execution(stateMachineArn=MACHINE, name="run-1", input='{"a": 1}')
    assert response["executionArn"] == EXECUTION
    assert response["startDate"] == STARTED
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert len(response["ResponseMetadata"]["RequestId"]) == 36
    assert service.calls == [
        ("StartExecution", {"stateMachineArn": MACHINE, "name": "run-1", "input": '{"a": 1}'})
    ]


def test_modelled_errors_raise_their_exception_class(sfn: Any, service: RecordingService) -> None:
    service.responses["DescribeExecution"] = raising(
        ExecutionDoesNotExist(f"Execution Does Not Exist: '{EXECUTION}'")
    )
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist) as caught:
        sfn.describe_execution(executionArn=EXECUTION)
    error = caught.value.response["Error"]
    assert error == {
        "Code": "ExecutionDoesNotExist",
        "Message": f"Execution Does Not Exist: '{EXECUTION}'",
    }
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_server_side_validation_error(sfn: Any, service: RecordingService) -> None:
    with pytest.raises(sfn.exceptions.ValidationException) as caught:
        sfn.start_execution(stateMachineArn=MACHINE, name="n" * 81)
    assert caught.value.response["Error"]["Message"] == (
        f"1 validation error detected: Value '{'n' * 81}' at 'name' failed to satisfy "
        "constraint: Member must have length less than or equal to 80"
    )
    assert service.calls == []


def test_history_with_nested_timestamps_and_details(sfn: Any, service: RecordingService) -> None:
    events = [
        {"timestamp": STARTED, "type": "ExecutionStarted", "id": 1, "previousEventId": 0,
         "executionStartedEventDetails": {"input": "{}", "roleArn": "arn:aws:iam::1:role/r"}},
        {"timestamp": STARTED + timedelta(seconds=2), "type": "PassStateEntered", "id": 2,
         "previousEventId": 1, "stateEnteredEventDetails": {"name": "A", "input": "{}"}},
    ]  # fmt: skip
    service.responses["GetExecutionHistory"] = lambda request: {"events": events}
    response = sfn.get_execution_history(executionArn=EXECUTION, reverseOrder=True, maxResults=2)
    assert [event["timestamp"] for event in response["events"]] == [
        STARTED,
        STARTED + timedelta(seconds=2),
    ]
    assert response["events"][1]["stateEnteredEventDetails"] == {"name": "A", "input": "{}"}
    assert service.calls[0][1] == {
        "executionArn": EXECUTION,
        "reverseOrder": True,
        "maxResults": 2,
    }


def test_paginator_follows_next_token(sfn: Any, service: RecordingService) -> None:
    def page(request: dict[str, Any]) -> dict[str, Any]:
        if "nextToken" not in request:
            machine = {"stateMachineArn": MACHINE, "name": "Hello", "type": "STANDARD"}
            return {"stateMachines": [{**machine, "creationDate": STARTED}], "nextToken": "p2"}
        return {"stateMachines": [], "nextToken": None}

    service.responses["ListStateMachines"] = page
    pages = list(sfn.get_paginator("list_state_machines").paginate())
    assert len(pages) == 2
    assert pages[0]["stateMachines"][0]["creationDate"] == STARTED
    assert "nextToken" not in pages[1]


def test_start_sync_execution_without_host_prefix(sfn: Any, service: RecordingService) -> None:
    service.responses["StartSyncExecution"] = lambda request: {
        "executionArn": EXECUTION,
        "startDate": STARTED,
        "stopDate": STARTED + timedelta(milliseconds=5),
        "status": "SUCCEEDED",
        "output": '{"ok": true}',
        "billingDetails": {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": 100},
    }
    response = sfn.start_sync_execution(stateMachineArn=MACHINE, input="{}")
    assert response["status"] == "SUCCEEDED"
    assert response["stopDate"] - response["startDate"] == timedelta(milliseconds=5)
    assert response["billingDetails"]["billedDurationInMilliseconds"] == 100


def test_structured_requests_arrive_as_sent(sfn: Any, service: RecordingService) -> None:
    service.responses["CreateStateMachine"] = lambda request: {
        "stateMachineArn": MACHINE,
        "creationDate": STARTED,
    }
    sfn.create_state_machine(
        name="Hello",
        definition='{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}',
        roleArn="arn:aws:iam::123456789012:role/r",
        type="EXPRESS",
        loggingConfiguration={"level": "ERROR", "includeExecutionData": False},
        tags=[{"key": "team", "value": "core"}],
    )
    operation, request = service.calls[0]
    assert operation == "CreateStateMachine"
    assert request["tags"] == [{"key": "team", "value": "core"}]
    assert request["loggingConfiguration"] == {"level": "ERROR", "includeExecutionData": False}


def test_errors_of_every_kind_are_client_errors(sfn: Any, service: RecordingService) -> None:
    service.responses["DescribeStateMachine"] = raising(StateMachineDoesNotExist("gone"))
    service.responses["ListActivities"] = raising(KeyError("bug"))
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=MACHINE)
    with pytest.raises(ClientError) as caught:
        sfn.list_activities()
    assert caught.value.response["Error"]["Code"] == "InternalFailure"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_signed_requests_against_a_server_with_credentials() -> None:
    settings = ApiSettings(credentials={"AKIDSTEPWELL": "s3cret"})
    service = RecordingService({"ListActivities": lambda request: {"activities": []}})
    with running_server(create_app(service, settings)) as url:
        assert make_client(url, "AKIDSTEPWELL", "s3cret").list_activities()["activities"] == []
        with pytest.raises(ClientError) as wrong_secret:
            make_client(url, "AKIDSTEPWELL", "guess").list_activities()
        with pytest.raises(ClientError) as unknown_key:
            make_client(url, "AKIDOTHER", "s3cret").list_activities()
    assert wrong_secret.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert unknown_key.value.response["Error"]["Code"] == "UnrecognizedClientException"
