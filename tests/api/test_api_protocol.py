"""The AWS JSON 1.0 protocol over ASGI: targets, bodies, errors, headers, threads."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from api_helpers import AsgiClient, RecordingService, asgi_client, raising, service_error

from stepwell.api import ApiSettings, create_app
from stepwell.api.app import RequestHead
from stepwell.api.protocol import new_request_id
from stepwell.service.errors import (
    ExecutionDoesNotExist,
    ResourceNotFound,
    ServiceQuotaExceededException,
    ValidationException,
)

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:Hello"


@pytest.fixture
def service() -> RecordingService:
    return RecordingService()


@pytest.fixture
def client(service: RecordingService) -> Iterator[AsgiClient]:
    with asgi_client(create_app(service)) as client:
        yield client


def test_success_is_200_json_with_request_id(client: AsgiClient, service: RecordingService) -> None:
    started = datetime(2025, 3, 1, tzinfo=UTC)
    service.responses["StartExecution"] = lambda request: {
        "executionArn": ARN + ":run",
        "startDate": started,
    }
    reply = client.call("StartExecution", {"stateMachineArn": ARN, "input": "{}"})
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/x-amz-json-1.0"
    assert len(reply.headers["x-amzn-requestid"]) == 36
    assert reply.json() == {"executionArn": ARN + ":run", "startDate": started.timestamp()}
    assert service.calls == [("StartExecution", {"stateMachineArn": ARN, "input": "{}"})]


def test_the_service_sees_only_validated_modelled_members(
    client: AsgiClient, service: RecordingService
) -> None:
    client.call("ListExecutions", {"maxResults": 10.0, "unknownFlag": True, "nextToken": None})
    assert service.calls == [("ListExecutions", {"maxResults": 10})]


def test_service_errors_keep_their_type_message_and_status(
    client: AsgiClient, service: RecordingService
) -> None:
    service.responses["DescribeExecution"] = raising(
        ExecutionDoesNotExist("Execution Does Not Exist: 'arn:x'")
    )
    reply = client.call("DescribeExecution", {"executionArn": ARN})
    assert reply.status == 400
    assert reply.json() == {
        "__type": "ExecutionDoesNotExist",
        "message": "Execution Does Not Exist: 'arn:x'",
    }
    assert reply.headers["x-amzn-errortype"] == "ExecutionDoesNotExist"
    assert "x-amzn-requestid" in reply.headers


def test_error_status_comes_from_the_error(client: AsgiClient, service: RecordingService) -> None:
    service.responses["PublishStateMachineVersion"] = raising(
        ServiceQuotaExceededException("too many versions")
    )
    reply = client.call("PublishStateMachineVersion", {"stateMachineArn": ARN})
    assert (reply.status, reply.error_type) == (402, "ServiceQuotaExceededException")


def test_modelled_error_members_are_sent(client: AsgiClient, service: RecordingService) -> None:
    service.responses["DescribeStateMachineAlias"] = raising(
        service_error(ResourceNotFound, "Alias not found", resource_name=ARN + ":live")
    )
    service.responses["DeleteStateMachine"] = raising(
        service_error(ValidationException, "labelled", reason="API_DOES_NOT_SUPPORT_LABELED_ARNS")
    )
    alias = client.call("DescribeStateMachineAlias", {"stateMachineAliasArn": ARN + ":live"})
    assert alias.json()["resourceName"] == ARN + ":live"
    deleted = client.call("DeleteStateMachine", {"stateMachineArn": ARN})
    assert deleted.json() == {
        "__type": "ValidationException",
        "message": "labelled",
        "reason": "API_DOES_NOT_SUPPORT_LABELED_ARNS",
    }


def test_validation_errors_never_reach_the_service(
    client: AsgiClient, service: RecordingService
) -> None:
    reply = client.call("StartExecution", {"stateMachineArn": ARN, "name": "n" * 81})
    assert (reply.status, reply.error_type) == (400, "ValidationException")
    assert reply.message.startswith("1 validation error detected: Value 'nnn")
    assert service.calls == []


@pytest.mark.parametrize(
    ("target", "error_type"),
    [
        ("AWSStepFunctions.LaunchRocket", "UnknownOperationException"),
        ("DynamoDB_20120810.ListTables", "UnknownOperationException"),
        ("AWSStepFunctions.startExecution", "UnknownOperationException"),
        ("", "UnknownOperationException"),
    ],
)
def test_unknown_targets(client: AsgiClient, target: str, error_type: str) -> None:
    headers = {"content-type": "application/x-amz-json-1.0", "x-amz-target": target}
    reply = client.request("POST", "/", headers, b"{}")
    assert (reply.status, reply.error_type) == (400, error_type)


def test_missing_target(client: AsgiClient) -> None:
    reply = client.request("POST", "/", {"content-type": "application/x-amz-json-1.0"}, b"{}")
    assert (reply.status, reply.error_type) == (400, "UnknownOperationException")
    assert "X-Amz-Target" in reply.message


@pytest.mark.parametrize(
    "body", [b"{", b"not json", b'{"a": NaN}', b"\xff\xfe", b'{"a": 1e999}', b"[1,"]
)
def test_malformed_json_is_a_serialization_error(client: AsgiClient, body: bytes) -> None:
    reply = client.call("ListStateMachines", body=body)
    assert (reply.status, reply.error_type) == (400, "SerializationException")


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"42", b"null", b"true"])
def test_a_body_that_is_not_an_object_is_a_serialization_error(
    client: AsgiClient, body: bytes
) -> None:
    reply = client.call("ListStateMachines", body=body)
    assert (reply.status, reply.error_type) == (400, "SerializationException")


def test_an_empty_body_is_an_empty_request(client: AsgiClient, service: RecordingService) -> None:
    reply = client.call("ListActivities", body=b"")
    assert reply.status == 200
    assert service.calls == [("ListActivities", {})]


@pytest.mark.parametrize(
    "content_type",
    ["application/x-amz-json-1.0", "application/json", "application/x-amz-json-1.0; charset=utf-8"],
)
def test_json_content_types_are_accepted(client: AsgiClient, content_type: str) -> None:
    assert client.call("ListActivities", content_type=content_type).status == 200


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_other_content_types_are_refused(client: AsgiClient, content_type: str) -> None:
    reply = client.call("ListActivities", content_type=content_type)
    assert (reply.status, reply.error_type) == (415, "UnsupportedMediaTypeException")


def test_missing_content_type_is_refused(client: AsgiClient) -> None:
    headers = {"x-amz-target": "AWSStepFunctions.ListActivities"}
    reply = client.request("POST", "/", headers, b"{}")
    assert reply.status == 415


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/", 405), ("PUT", "/", 405), ("DELETE", "/", 405), ("GET", "/x", 404)],
)
def test_wrong_method_or_path_is_a_json_4xx(
    client: AsgiClient, method: str, path: str, status: int
) -> None:
    reply = client.request(method, path)
    assert (reply.status, reply.error_type) == (status, "UnknownOperationException")
    assert "x-amzn-requestid" in reply.headers
    if status == 405:
        assert reply.headers["allow"] == "POST"


def test_post_to_another_path_is_404(client: AsgiClient) -> None:
    headers = {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": "AWSStepFunctions.ListActivities",
    }
    assert client.request("POST", "/other", headers, b"{}").status == 404


def test_health(client: AsgiClient) -> None:
    reply = client.request("GET", "/health")
    assert (reply.status, reply.json()) == (200, {"status": "ok"})
    assert "x-amzn-requestid" in reply.headers


def test_request_ids_are_unique(client: AsgiClient) -> None:
    ids = {client.call("ListActivities").headers["x-amzn-requestid"] for _ in range(20)}
    assert len(ids) == 20


def test_request_ids_are_random_uuids_in_their_canonical_form() -> None:
    for _ in range(200):
        request_id = new_request_id()
        parsed = uuid.UUID(request_id)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == request_id


def test_unexpected_exception_is_a_logged_internal_failure(
    client: AsgiClient, service: RecordingService, caplog: pytest.LogCaptureFixture
) -> None:
    service.responses["ListActivities"] = raising(RuntimeError("bug in the service"))
    with caplog.at_level(logging.ERROR, logger="stepwell.api"):
        reply = client.call("ListActivities")
    assert (reply.status, reply.error_type) == (500, "InternalFailure")
    assert "bug in the service" not in reply.body.decode()
    request_id = reply.headers["x-amzn-requestid"]
    assert any(request_id in record.getMessage() for record in caplog.records)
    assert any(record.exc_info for record in caplog.records)


def test_unserializable_result_is_an_internal_failure(
    client: AsgiClient, service: RecordingService
) -> None:
    service.responses["StartExecution"] = lambda request: {"startDate": "yesterday"}
    reply = client.call("StartExecution", {"stateMachineArn": ARN})
    assert (reply.status, reply.error_type) == (500, "InternalFailure")


def test_oversized_body_is_refused_before_it_is_read() -> None:
    service = RecordingService()
    with asgi_client(create_app(service, ApiSettings(max_request_bytes=100))) as client:
        small = client.call("StartExecution", {"stateMachineArn": ARN})
        large = client.call("StartExecution", {"stateMachineArn": ARN, "input": "x" * 200})
        declared = client.call("StartExecution", {"stateMachineArn": ARN}, content_length="5000")
    assert small.status == 200
    assert (large.status, large.error_type) == (413, "RequestEntityTooLargeException")
    assert declared.status == 413
    assert len(service.calls) == 1


def test_a_client_that_disconnects_midway_is_not_an_internal_failure(
    client: AsgiClient, service: RecordingService, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": "AWSStepFunctions.ListActivities",
    }
    reply = client.request("POST", "/", headers, b'{"maxRes', complete=False)
    assert (reply.status, reply.error_type) == (400, "RequestAbortedException")
    assert service.calls == [] and not caplog.records


class BlockingService(RecordingService):
    """StartExecution blocks in its worker thread until GetActivityTask (or a test) releases it."""

    def __init__(self) -> None:
        super().__init__({"StartExecution": self._start, "GetActivityTask": self._poll})
        self.entered = threading.Event()
        self.release = threading.Event()
        self.outcome: list[str] = []

    def _start(self, request: dict[str, Any]) -> dict[str, Any]:
        self.entered.set()
        self.outcome.append("released" if self.release.wait(timeout=10) else "timed out")
        return {}

    def _poll(self, request: dict[str, Any]) -> dict[str, Any]:
        self.release.set()
        return {}


def test_long_polls_have_their_own_threads() -> None:
    """With the only ordinary worker busy, GetActivityTask still runs (and frees it)."""
    service = BlockingService()
    with asgi_client(create_app(service, ApiSettings(worker_threads=1))) as client:
        started = client.call_soon("StartExecution", {"stateMachineArn": ARN})
        assert service.entered.wait(timeout=10)
        assert client.call("GetActivityTask", {"activityArn": ARN}).status == 200
        assert started.result(timeout=20).status == 200
    assert service.outcome == ["released"]


def test_the_event_loop_stays_free_while_the_service_blocks() -> None:
    service = BlockingService()
    with asgi_client(create_app(service)) as client:
        started = client.call_soon("StartExecution", {"stateMachineArn": ARN})
        assert service.entered.wait(timeout=10)
        assert client.request("GET", "/health").status == 200
        service.release.set()
        assert started.result(timeout=20).status == 200
    assert service.outcome == ["released"]


def test_request_head_reads_the_first_of_each_header_it_needs() -> None:
    head = RequestHead.read(
        [
            (b"x-amz-target", b"AWSStepFunctions.ListActivities"),
            (b"content-length", b"2"),
            (b"x-amz-target", b"AWSStepFunctions.DeleteActivity"),
            (b"host", b"127.0.0.1:8083"),
            (b"user-agent", b"Boto3"),
            (b"host", b"evil.example"),
        ]
    )
    assert head == RequestHead(
        target="AWSStepFunctions.ListActivities", content_length="2", host="127.0.0.1:8083"
    )
    assert head.content_type is None and head.origin is None and head.fetch_site is None


def test_a_body_in_several_chunks_is_read_whole(
    client: AsgiClient, service: RecordingService
) -> None:
    reply = client.request(
        "POST",
        "/",
        headers={
            "content-type": "application/x-amz-json-1.0",
            "x-amz-target": "AWSStepFunctions.DescribeExecution",
        },
        chunks=[b'{"executionArn": "', ARN.encode(), b':run"}'],
    )
    assert reply.status == 200
    assert service.calls == [("DescribeExecution", {"executionArn": ARN + ":run"})]
