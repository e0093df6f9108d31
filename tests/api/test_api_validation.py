"""Request validation against botocore's Step Functions model, with AWS's messages.

Message wording follows errors AWS returned, e.g. StartExecution with an 81-character
name: "1 validation error detected: Value '…' at 'name' failed to satisfy constraint:
Member must have length less than or equal to 80"; list elements are named like
'tags.1.member.key' and sensitive values are left out ("Value at 'value' failed …"),
as in AWS's messages for other JSON services.
"""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from stepwell.api.model import MODEL
from stepwell.api.validation import REQUEST_VALIDATORS, java_text
from stepwell.service.errors import SerializationException, ValidationException

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:Hello"
BOTOCORE_MODEL = botocore.session.get_session().get_service_model("stepfunctions")


def validate(operation: str, members: Any) -> dict[str, Any]:
    return REQUEST_VALIDATORS[operation](members)


def validation_message(operation: str, members: Any) -> str:
    with pytest.raises(ValidationException) as caught:
        validate(operation, members)
    return caught.value.message


def model_max(shape_owner: str, member: str) -> Any:
    """A member's ``max`` as botocore's own ServiceModel reports it."""
    return BOTOCORE_MODEL.shape_for(shape_owner).members[member].metadata["max"]


ONE_ERROR = "1 validation error detected: "

CONSTRAINT_CASES = [
    pytest.param(
        "StartExecution",
        {"stateMachineArn": ARN, "name": "x" * 81},
        ONE_ERROR + f"Value '{'x' * 81}' at 'name' failed to satisfy constraint: "
        "Member must have length less than or equal to 80",
        id="name-too-long",
    ),
    pytest.param(
        "StartExecution",
        {"stateMachineArn": ARN, "name": ""},
        ONE_ERROR + "Value '' at 'name' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1",
        id="name-empty",
    ),
    pytest.param(
        "StartExecution",
        {"name": "run"},
        ONE_ERROR + "Value null at 'stateMachineArn' failed to satisfy constraint: "
        "Member must not be null",
        id="required-missing",
    ),
    pytest.param(
        "StartExecution",
        {"stateMachineArn": None},
        ONE_ERROR + "Value null at 'stateMachineArn' failed to satisfy constraint: "
        "Member must not be null",
        id="required-null",
    ),
    pytest.param(
        "StartExecution",
        {"name": "y" * 90},
        "2 validation errors detected: Value null at 'stateMachineArn' failed to satisfy "
        "constraint: Member must not be null; Value '" + "y" * 90 + "' at 'name' failed to "
        "satisfy constraint: Member must have length less than or equal to 80",
        id="two-errors-in-member-order",
    ),
    pytest.param(
        "ListExecutions",
        {"statusFilter": "DONE"},
        ONE_ERROR + "Value 'DONE' at 'statusFilter' failed to satisfy constraint: Member must "
        "satisfy enum value set: [SUCCEEDED, TIMED_OUT, PENDING_REDRIVE, ABORTED, FAILED, "
        "RUNNING]",
        id="enum-K11-aws-order",
    ),
    pytest.param(
        "CreateStateMachine",
        {"name": "m", "definition": "{}", "roleArn": ARN, "type": "express"},
        ONE_ERROR + "Value 'express' at 'type' failed to satisfy constraint: Member must "
        "satisfy enum value set: [STANDARD, EXPRESS]",
        id="enum-is-case-sensitive",
    ),
    pytest.param(
        "ListExecutions",
        {"maxResults": 1001},
        ONE_ERROR + "Value '1001' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 1000",
        id="integer-max",
    ),
    pytest.param(
        "GetExecutionHistory",
        {"executionArn": ARN, "maxResults": -1},
        ONE_ERROR + "Value '-1' at 'maxResults' failed to satisfy constraint: "
        "Member must have value greater than or equal to 0",
        id="integer-min",
    ),
    pytest.param(
        "UpdateMapRun",
        {"mapRunArn": ARN, "toleratedFailurePercentage": 100.5},
        ONE_ERROR + "Value '100.5' at 'toleratedFailurePercentage' failed to satisfy "
        "constraint: Member must have value less than or equal to 100",
        id="float-max",
    ),
    pytest.param(
        "UpdateMapRun",
        {"mapRunArn": ARN, "toleratedFailureCount": -3},
        ONE_ERROR + "Value '-3' at 'toleratedFailureCount' failed to satisfy constraint: "
        "Member must have value greater than or equal to 0",
        id="long-min",
    ),
    pytest.param(
        "SendTaskSuccess",
        {"taskToken": "t", "output": "é" * 131_073},
        ONE_ERROR + "Value at 'output' failed to satisfy constraint: "
        "Member must have length less than or equal to 262144",
        id="sensitive-payload-measured-in-utf8-bytes",
    ),
    pytest.param(
        "SendTaskFailure",
        {"taskToken": "t", "error": "e" * 257},
        ONE_ERROR + "Value at 'error' failed to satisfy constraint: "
        "Member must have length less than or equal to 256",
        id="sensitive-value-not-shown",
    ),
    pytest.param(
        "TagResource",
        {"resourceArn": ARN, "tags": [{"key": "a", "value": "b"}, {"key": "", "value": "v"}]},
        ONE_ERROR + "Value '' at 'tags.2.member.key' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1",
        id="list-element-path",
    ),
    pytest.param(
        "UntagResource",
        {"resourceArn": ARN, "tagKeys": ["a", None]},
        ONE_ERROR + "Value null at 'tagKeys.2.member' failed to satisfy constraint: "
        "Member must not be null",
        id="null-list-element",
    ),
    pytest.param(
        "CreateStateMachineAlias",
        {"name": "live", "routingConfiguration": []},
        ONE_ERROR + "Value '[]' at 'routingConfiguration' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1",
        id="list-min-length",
    ),
    pytest.param(
        "CreateStateMachineAlias",
        {
            "name": "live",
            "routingConfiguration": [
                {"stateMachineVersionArn": ARN + ":1", "weight": 50},
                {"stateMachineVersionArn": ARN + ":2", "weight": 101},
            ],
        },
        ONE_ERROR + "Value '101' at 'routingConfiguration.2.member.weight' failed to satisfy "
        "constraint: Member must have value less than or equal to 100",
        id="nested-structure-in-list",
    ),
    pytest.param(
        "CreateStateMachineAlias",
        {"name": "123", "routingConfiguration": [{"stateMachineVersionArn": ARN, "weight": 1}]},
        ONE_ERROR + "Value '123' at 'name' failed to satisfy constraint: Member must satisfy "
        "regular expression pattern: ^(?=.*[a-zA-Z_\\-\\.])[a-zA-Z0-9_\\-\\.]+$",
        id="pattern",
    ),
    pytest.param(
        "RedriveExecution",
        {"executionArn": ARN, "clientToken": ""},
        "2 validation errors detected: Value '' at 'clientToken' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1; Value '' at "
        "'clientToken' failed to satisfy constraint: Member must satisfy regular expression "
        "pattern: [!-~]+",
        id="length-and-pattern-on-one-member",
    ),
    pytest.param(
        "StartExecution",
        {"stateMachineArn": ARN, "traceHeader": "Root=é"},
        ONE_ERROR + "Value 'Root=é' at 'traceHeader' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: \\p{ASCII}*",
        id="java-posix-class-pattern",
    ),
    pytest.param(
        "CreateStateMachine",
        {"name": "m", "definition": "{}", "roleArn": ARN, "encryptionConfiguration": {}},
        ONE_ERROR + "Value null at 'encryptionConfiguration.type' failed to satisfy "
        "constraint: Member must not be null",
        id="nested-required",
    ),
    pytest.param(
        "CreateStateMachine",
        {
            "name": "m",
            "definition": "{}",
            "roleArn": ARN,
            "encryptionConfiguration": {
                "type": "AWS_OWNED_KEY",
                "kmsDataKeyReusePeriodSeconds": 30,
            },
        },
        ONE_ERROR + "Value '30' at 'encryptionConfiguration.kmsDataKeyReusePeriodSeconds' "
        "failed to satisfy constraint: Member must have value greater than or equal to 60",
        id="nested-range",
    ),
]


@pytest.mark.parametrize(("operation", "members", "message"), CONSTRAINT_CASES)
def test_constraint_violations_use_aws_wording(operation: str, members: Any, message: str) -> None:
    assert validation_message(operation, members) == message


def test_length_limits_come_from_the_botocore_model() -> None:
    limit = model_max("StartExecutionInput", "name")
    accepted = validate("StartExecution", {"stateMachineArn": ARN, "name": "n" * limit})
    assert accepted["name"] == "n" * limit
    message = validation_message("StartExecution", {"stateMachineArn": ARN, "name": "n" * 999})
    assert message.endswith(f"Member must have length less than or equal to {limit}")


def test_payload_at_the_byte_limit_is_accepted() -> None:
    limit = model_max("SendTaskSuccessInput", "output")
    output = "é" * (limit // 2)
    assert validate("SendTaskSuccess", {"taskToken": "t", "output": output})["output"] == output


def test_character_limits_count_characters_not_bytes() -> None:
    name = "é" * 80  # 160 UTF-8 bytes, 80 characters
    assert validate("StartExecution", {"stateMachineArn": ARN, "name": name})["name"] == name


TYPE_CASES = [
    pytest.param(
        "StartExecution",
        {"stateMachineArn": ARN, "name": 5},
        "NUMBER_VALUE can not be converted to a String",
        id="number-for-string",
    ),
    pytest.param(
        "ListExecutions",
        {"maxResults": "10"},
        "STRING_VALUE can not be converted to an Integer",
        id="string-for-integer",
    ),
    pytest.param(
        "ListExecutions",
        {"maxResults": True},
        "BOOLEAN_VALUE can not be converted to an Integer",
        id="boolean-for-integer",
    ),
    pytest.param(
        "ListExecutions",
        {"maxResults": 1.5},
        "NUMBER_VALUE can not be converted to an Integer",
        id="fraction-for-integer",
    ),
    pytest.param(
        "ListExecutions",
        {"maxResults": 2**31},
        "NUMBER_VALUE can not be converted to an Integer",
        id="integer-overflow",
    ),
    pytest.param(
        "UpdateMapRun",
        {"mapRunArn": ARN, "toleratedFailureCount": 2**63},
        "NUMBER_VALUE can not be converted to a Long",
        id="long-overflow",
    ),
    pytest.param(
        "UpdateMapRun",
        {"mapRunArn": ARN, "toleratedFailurePercentage": "5"},
        "STRING_VALUE can not be converted to a Float",
        id="string-for-float",
    ),
    pytest.param(
        "GetExecutionHistory",
        {"executionArn": ARN, "reverseOrder": "true"},
        "STRING_VALUE can not be converted to a Boolean",
        id="string-for-boolean",
    ),
    pytest.param(
        "TagResource",
        {"resourceArn": ARN, "tags": {"key": "a"}},
        "Start of structure or map found where not expected.",
        id="object-for-list",
    ),
    pytest.param(
        "StartExecution",
        {"stateMachineArn": [ARN]},
        "Start of list found where not expected.",
        id="list-for-string",
    ),
    pytest.param(
        "CreateStateMachine",
        {"name": "m", "definition": "{}", "roleArn": ARN, "loggingConfiguration": "ALL"},
        "STRING_VALUE can not be converted to a Structure",
        id="string-for-structure",
    ),
    pytest.param(
        "ListStateMachines", [], "Start of list found where not expected.", id="body-list"
    ),
    pytest.param(
        "ListStateMachines", "x", "STRING_VALUE can not be converted to a Structure", id="body-str"
    ),
]


@pytest.mark.parametrize(("operation", "members", "message"), TYPE_CASES)
def test_wrong_json_types_are_serialization_errors(
    operation: str, members: Any, message: str
) -> None:
    with pytest.raises(SerializationException) as caught:
        validate(operation, members)
    assert caught.value.message == message


def test_unknown_members_are_ignored_and_nulls_are_absent() -> None:
    request = validate(
        "StartExecution", {"stateMachineArn": ARN, "name": None, "futureMember": {"x": 1}}
    )
    assert request == {"stateMachineArn": ARN}


def test_integral_float_is_accepted_as_integer() -> None:
    assert validate("ListExecutions", {"maxResults": 10.0}) == {"maxResults": 10}


def test_valid_nested_request_passes_unchanged() -> None:
    members = {
        "name": "orders",
        "definition": '{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}',
        "roleArn": "arn:aws:iam::123456789012:role/r",
        "type": "EXPRESS",
        "loggingConfiguration": {
            "level": "ALL",
            "includeExecutionData": True,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": "arn:aws:logs:x"}}],
        },
        "tags": [{"key": "team", "value": ""}],
        "tracingConfiguration": {"enabled": False},
        "publish": True,
    }
    assert validate("CreateStateMachine", members) == members


def minimal_value(shape: Any) -> Any:
    """The smallest value of a botocore shape that satisfies its constraints."""
    kind = shape.type_name
    if kind == "structure":
        return {name: minimal_value(shape.members[name]) for name in shape.required_members}
    if kind == "list":
        count = shape.metadata.get("min", 0)
        return [minimal_value(shape.member) for _ in range(count)]
    if kind == "string":
        return shape.enum[0] if shape.enum else "a" * max(shape.metadata.get("min", 1), 1)
    if kind in ("integer", "long"):
        return shape.metadata.get("min", 0)
    if kind in ("float", "double"):
        return float(shape.metadata.get("min", 0))
    if kind == "boolean":
        return False
    raise AssertionError(f"no minimal value for {kind}")


@pytest.mark.parametrize("operation", sorted(MODEL.operations))
def test_every_operation_accepts_its_minimal_valid_request(operation: str) -> None:
    input_shape = BOTOCORE_MODEL.operation_model(operation).input_shape
    members = minimal_value(input_shape)
    assert validate(operation, members) == members


@pytest.mark.parametrize("operation", sorted(MODEL.operations))
def test_every_operation_rejects_missing_required_members(operation: str) -> None:
    required = BOTOCORE_MODEL.operation_model(operation).input_shape.required_members
    if not required:
        assert validate(operation, {}) == {}
        return
    message = validation_message(operation, {})
    assert message.startswith(f"{len(required)} validation error")
    for name in required:
        assert f"Value null at '{name}' failed to satisfy constraint" in message


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("abc", "abc"),
        (True, "true"),
        (None, "null"),
        (12, "12"),
        (["a", 1], "[a, 1]"),
        ({"key": "k", "value": "v"}, "{key=k, value=v}"),
    ],
)
def test_values_are_quoted_as_java_prints_them(value: Any, text: str) -> None:
    assert java_text(value) == text
