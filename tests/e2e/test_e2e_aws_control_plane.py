"""Control-plane rules of aws-behaviour.md (K, L) through boto3 against a real server: what
a user of the AWS SDK sees on the wire, error codes and members included."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.server import ROLE, client, running_host

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
OTHER = {"StartAt": "Q", "States": {"Q": {"Type": "Pass", "Result": 2, "End": True}}}


@pytest.fixture(scope="module")
def sfn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder: Path = tmp_path_factory.mktemp("control-plane")
    with running_host(folder, {}) as (url, _):
        yield client(url)


def create(sfn: Any, name: str, definition: dict[str, Any] = PASS, **extra: Any) -> str:
    arn: str = sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=ROLE, **extra
    )["stateMachineArn"]
    return arn


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> dict[str, Any]:
    error: dict[str, Any] = raised.value.response["Error"]
    return error


def test_K1_K2_K5_describe(sfn: Any) -> None:
    definition = {
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "InputPath": "$limit", "End": True}},
    }
    arn = create(sfn, "k1", definition)
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert "revisionId" not in described
    assert described["encryptionConfiguration"] == {"type": "AWS_OWNED_KEY"}
    assert described["variableReferences"] == {"A": ["limit"]}
    assert described["loggingConfiguration"] == {"includeExecutionData": False, "level": "OFF"}
    updated = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(OTHER))
    assert sfn.describe_state_machine(stateMachineArn=arn)["revisionId"] == updated["revisionId"]
    assert "variableReferences" not in sfn.describe_state_machine(stateMachineArn=arn)


def test_K4_log_level_without_destination(sfn: Any) -> None:
    with pytest.raises(ClientError) as raised:
        create(sfn, "k4", loggingConfiguration={"level": "ALL"})
    assert error_of(raised) == {
        "Code": "InvalidLoggingConfiguration",
        "Message": "Invalid Logging Configuration: Must specify exactly one Log Destination.",
    }


def test_K9_invalid_arn_prefix(sfn: Any) -> None:
    with pytest.raises(sfn.exceptions.InvalidArn) as raised:
        sfn.describe_state_machine(stateMachineArn="nope")
    assert error_of(raised)["Message"] == "Invalid Arn: 'Invalid ARN prefix: nope'"


def test_K11_enum_values_in_aws_order(sfn: Any) -> None:
    arn = create(sfn, "k11")
    with pytest.raises(ClientError) as raised:
        sfn.list_executions(stateMachineArn=arn, statusFilter="succeeded")
    assert error_of(raised)["Message"] == (
        "1 validation error detected: Value 'succeeded' at 'statusFilter' failed to satisfy "
        "constraint: Member must satisfy enum value set: [SUCCEEDED, TIMED_OUT, "
        "PENDING_REDRIVE, ABORTED, FAILED, RUNNING]"
    )


def test_K12_no_reason_member(sfn: Any) -> None:
    with pytest.raises(sfn.exceptions.ValidationException) as raised:
        create(sfn, "k12", versionDescription="v1")
    assert "reason" not in raised.value.response
    assert error_of(raised)["Message"] == (
        "Version description can only be set when publish is true"
    )


def test_K14_K15_version_arns(sfn: Any) -> None:
    arn = create(sfn, "k14", publish=True)
    version = f"{arn}:1"
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.update_state_machine(stateMachineArn=version, definition=json.dumps(OTHER))
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.tag_resource(resourceArn=version, tags=[{"key": "k", "value": "v"}])


def test_K10_invalid_execution_input(sfn: Any) -> None:
    arn = create(sfn, "k10")
    with pytest.raises(sfn.exceptions.InvalidExecutionInput) as raised:
        sfn.start_execution(stateMachineArn=arn, input="{'not': 'json'}")
    assert error_of(raised)["Message"] == (
        "Invalid State Machine Execution Input: 'Unexpected character (''' (code 39)): was "
        "expecting double-quote to start field name'"
    )


def test_L_validate(sfn: Any) -> None:
    found = sfn.validate_state_machine_definition(definition="{}")
    assert (found["result"], found["truncated"]) == ("FAIL", False)
    assert found["diagnostics"] == [
        {
            "severity": "ERROR",
            "code": "SCHEMA_VALIDATION_FAILED",
            "message": "These fields are required: [States, StartAt]",
            "location": "/",
        }
    ]
    blank = sfn.validate_state_machine_definition(definition=" ")["diagnostics"]
    assert "location" not in blank[0]
