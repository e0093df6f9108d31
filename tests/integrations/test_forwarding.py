"""Forwarding to an AWS endpoint through botocore, against a local stand-in speaking the AWS
JSON protocol. Error naming follows the Developer Guide, "Learning to use AWS service SDK
integrations in Step Functions" (``ServiceName.ErrorName``, PascalCase, ``Exception``
appended) and the optimized integrations' ``DynamoDB.ConditionalCheckFailedException``."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from integration_helpers import Received, Reply, json_reply, local_server

import stepwell
from stepwell.integrations import naming
from stepwell.integrations.forwarding import ForwardConfig
from stepwell.integrations.registry import Integrations, Invocation

CREDENTIALS = {"access_key_id": "AKIDEXAMPLE", "secret_access_key": "secret"}


def forward(url: str, services: frozenset[str] | None = None) -> ForwardConfig:
    return ForwardConfig(endpoint_url=url, region="eu-west-1", services=services, **CREDENTIALS)


def task(resource: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "StartAt": "T",
        "States": {
            "T": {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True}
        },
    }


def aws_json(received: Received) -> Reply:
    """Secrets Manager, Athena and DynamoDB, one call each."""
    target = received.headers.get("X-Amz-Target", "")
    content = {"Content-Type": "application/x-amz-json-1.1"}
    if target == "secretsmanager.GetSecretValue":
        if received.json()["SecretId"] == "missing":
            body = {
                "__type": "ResourceNotFoundException",
                "message": "Secrets Manager can't find the specified secret.",
            }
            return 400, {**content, "x-amzn-RequestId": "req-1"}, json.dumps(body).encode()
        return json_reply(
            {
                "Name": "db",
                "SecretString": "s3cr3t",
                "CreatedDate": 1700000000.5,
                "SecretBinary": "aGk=",
            },
            content_type="application/x-amz-json-1.1",
        )
    if target == "AmazonAthena.StartQueryExecution":
        return json_reply({"QueryExecutionId": "q-1"}, content_type="application/x-amz-json-1.1")
    if target == "DynamoDB_20120810.PutItem":
        body = {
            "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
            "message": "The conditional request failed",
        }
        return 400, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(body).encode()
    return 400, content, b'{"__type": "UnknownOperationException"}'


def test_sdk_call_is_forwarded_with_its_parameters() -> None:
    with local_server(aws_json) as server:
        result = stepwell.run(
            task("arn:aws:states:::aws-sdk:secretsmanager:getSecretValue", {"SecretId": "db"}),
            forward=forward(server.url),
        )
    assert result.status == "SUCCEEDED"
    assert result.output == {
        "Name": "db",
        "SecretString": "s3cr3t",
        "CreatedDate": "2023-11-14T22:13:20.500000Z",
        "SecretBinary": "hi",
    }
    [request] = server.requests
    assert request.json() == {"SecretId": "db"}
    assert "eu-west-1/secretsmanager" in request.headers["Authorization"]


def test_sdk_errors_are_named_service_dot_exception() -> None:
    with local_server(aws_json) as server:
        result = stepwell.run(
            task("arn:aws:states:::aws-sdk:secretsmanager:getSecretValue", {"SecretId": "missing"}),
            forward=forward(server.url),
        )
    assert result.error == "SecretsManager.ResourceNotFoundException"
    assert result.cause == (
        "Secrets Manager can't find the specified secret. "
        "(Service: SecretsManager, Status Code: 400, Request ID: req-1)"
    )


def test_optimized_integration_without_embedded_service_is_forwarded() -> None:
    # (EventBridge is embedded now; Athena is not.)
    with local_server(aws_json) as server:
        result = stepwell.run(
            task("arn:aws:states:::athena:startQueryExecution", {"QueryString": "SELECT 1"}),
            forward=forward(server.url),
        )
    assert result.output["QueryExecutionId"] == "q-1"
    assert result.output["SdkHttpMetadata"]["HttpStatusCode"] == 200


def test_a_listed_service_is_forwarded_instead_of_embedded() -> None:
    parameters = {
        "TableName": "Real",
        "Item": {"id": {"S": "1"}},
        "ConditionExpression": "attribute_not_exists(id)",
    }
    with local_server(aws_json) as server:
        result = stepwell.run(
            task("arn:aws:states:::dynamodb:putItem", parameters),
            forward=forward(server.url, frozenset({"dynamodb"})),
        )
    assert result.error == "DynamoDB.ConditionalCheckFailedException"
    assert result.cause.startswith(
        "The conditional request failed (Service: AmazonDynamoDBv2; Status Code: 400; "
        "Error Code: ConditionalCheckFailedException; Request ID: "
    )
    assert server.requests[0].headers["X-Amz-Target"] == "DynamoDB_20120810.PutItem"


def test_unreachable_endpoint_is_an_sdk_client_exception() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    integrations = Integrations(forward=forward(f"http://127.0.0.1:{port}"))
    for resource, error in [
        (
            "arn:aws:states:::aws-sdk:secretsmanager:getSecretValue",
            "SecretsManager.SdkClientException",
        ),
        ("arn:aws:states:::athena:startQueryExecution", "Athena.SdkClientException"),
    ]:
        outcome = integrations.invoke(Invocation(resource, {"SecretId": "x", "QueryString": "1"}))
        assert outcome is not None
        assert outcome.error == error


@pytest.mark.parametrize(
    ("resource", "cause"),
    [
        ("arn:aws:states:::aws-sdk:nosuchservice:doThing", "not known to botocore"),
        ("arn:aws:states:::aws-sdk:secretsmanager:fetchEverything", "has no action"),
        ("arn:aws:states:::batch:submitJob.sync", "(.sync)"),
    ],
)
def test_what_cannot_be_forwarded_fails_clearly(resource: str, cause: str) -> None:
    outcome = Integrations(forward=forward("http://127.0.0.1:9")).invoke(Invocation(resource, {}))
    assert outcome is not None
    assert outcome.error == "States.Runtime"
    assert cause in outcome.cause


def test_without_forwarding_a_foreign_service_fails_the_task() -> None:
    result = stepwell.run(task("arn:aws:states:::aws-sdk:ec2:describeInstances", {}))
    assert (result.status, result.error) == ("FAILED", "States.TaskFailed")
    assert "ForwardConfig" in (result.cause or "")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        (
            {"STEPWELL_FORWARD_ENDPOINT_URL": "http://localhost:4566"},
            ForwardConfig(endpoint_url="http://localhost:4566"),
        ),
        (
            {"STEPWELL_FORWARD_SERVICES": "s3, dynamodb", "AWS_REGION": "eu-west-2"},
            ForwardConfig(region="eu-west-2", services=frozenset({"s3", "dynamodb"})),
        ),
        (
            {"STEPWELL_FORWARD_SERVICES": "*", "STEPWELL_FORWARD_REGION": "ap-south-1"},
            ForwardConfig(region="ap-south-1"),
        ),
    ],
)
def test_forwarding_from_the_environment(
    environ: dict[str, str], expected: ForwardConfig | None
) -> None:
    assert ForwardConfig.from_environment(environ) == expected


@pytest.mark.parametrize(
    ("config", "service", "embedded", "forwarded"),
    [
        (ForwardConfig(), "s3", False, True),
        (ForwardConfig(), "dynamodb", True, False),
        (ForwardConfig(services=frozenset({"dynamodb"})), "dynamodb", True, True),
        (ForwardConfig(services=frozenset({"dynamodb"})), "s3", False, False),
    ],
)
def test_which_services_are_forwarded(
    config: ForwardConfig, service: str, embedded: bool, forwarded: bool
) -> None:
    assert config.forwards(service, embedded) is forwarded


@pytest.mark.parametrize(
    ("service", "exception", "sdk", "optimized"),
    [
        (
            "dynamodb",
            "TransactionCanceledException",
            "DynamoDb.TransactionCanceledException",
            "DynamoDB.TransactionCanceledException",
        ),
        (
            "dynamodb",
            "ValidationException",
            "DynamoDb.DynamoDbException",
            "DynamoDB.AmazonDynamoDBException",
        ),
        (
            "sqs",
            "QueueDoesNotExist",
            "Sqs.QueueDoesNotExistException",
            "SQS.QueueDoesNotExistException",
        ),
        ("s3", "NoSuchKey", "S3.NoSuchKeyException", "S3.NoSuchKeyException"),
        (
            "acmpca",
            "ResourceNotFoundException",
            "AcmPca.ResourceNotFoundException",
            "AcmPca.ResourceNotFoundException",
        ),
        (
            "sfn",
            "ExecutionDoesNotExist",
            "Sfn.ExecutionDoesNotExistException",
            "Sfn.ExecutionDoesNotExistException",
        ),
    ],
)
def test_error_names(service: str, exception: str, sdk: str, optimized: str) -> None:
    assert naming.sdk_error(service, exception) == sdk
    assert naming.optimized_error(service, exception) == optimized


def test_botocore_values_become_json() -> None:
    from datetime import datetime, timedelta, timezone

    from stepwell.integrations.forwarding import _json

    class Stream:
        def read(self) -> bytes:
            return b"streamed"

    value = {
        "when": datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
        "naive": datetime(2024, 1, 2),
        "binary": b"\xff\xfe",
        "body": Stream(),
        "list": (1, "x"),
    }
    assert _json(value) == {
        "when": "2024-01-02T01:04:05Z",
        "naive": "2024-01-02T00:00:00Z",
        "binary": "//4=",
        "body": "streamed",
        "list": [1, "x"],
    }


def test_optimized_service_names_map_to_botocore() -> None:
    def respond(received: Received) -> Reply:
        assert received.headers["X-Amz-Target"] == "AWSStepFunctions.StartExecution"
        return json_reply(
            {"executionArn": "arn:aws:states:eu-west-1:1:execution:m:e", "startDate": 1.7e9},
            content_type="application/x-amz-json-1.0",
        )

    with local_server(respond) as server:
        integrations = Integrations(forward=forward(server.url, frozenset({"states"})))
        outcome = integrations.invoke(
            Invocation(
                "arn:aws:states:::states:startExecution",
                {"StateMachineArn": "arn:aws:states:eu-west-1:1:stateMachine:m"},
            )
        )
    assert outcome is not None
    assert outcome.output["ExecutionArn"] == "arn:aws:states:eu-west-1:1:execution:m:e"
    assert outcome.output["StartDate"] == "2023-11-14T22:13:20Z"
    assert server.requests[0].json() == {
        "stateMachineArn": "arn:aws:states:eu-west-1:1:stateMachine:m"
    }
