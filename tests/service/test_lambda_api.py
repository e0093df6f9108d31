"""The Lambda API's operations called as the front end calls them (``service.lambda_api``),
for what the end-to-end suite does not reach cheaply. Lambda API Reference, "Invoke"."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import pytest

from stepwell.integrations.functions import FunctionRegistry, TaskError
from stepwell.integrations.services import MemoryDocumentStore
from stepwell.service.lambda_api import (
    MAX_SYNC_PAYLOAD,
    SYNC_CONCURRENCY,
    LambdaError,
    LambdaFunctions,
)
from stepwell.service.lambda_events import AsyncInvocations


def huge(event: Any) -> Any:
    return "x" * (MAX_SYNC_PAYLOAD + 1)


def throttled(event: Any) -> Any:
    raise TaskError("Lambda.TooManyRequestsException", "Rate exceeded")


@pytest.fixture
def api() -> LambdaFunctions:
    registry = FunctionRegistry({"huge": huge, "throttled": throttled, "echo": lambda e: e})
    return LambdaFunctions(registry, AsyncInvocations(MemoryDocumentStore(), lambda: 0.0))


def test_a_response_above_6_mb_is_a_function_error(api: LambdaFunctions) -> None:
    response = api.handle("Invoke", {"FunctionName": "huge"})
    assert response["FunctionError"] == "Unhandled"
    error = orjson.loads(response["Payload"])
    assert error["errorType"] == "Function.ResponseSizeTooLarge"
    assert str(MAX_SYNC_PAYLOAD) in error["errorMessage"]


def test_an_error_without_a_runtime_payload_is_named_and_explained(api: LambdaFunctions) -> None:
    response = api.handle("Invoke", {"FunctionName": "throttled", "Payload": b"{}"})
    assert orjson.loads(response["Payload"]) == {
        "errorMessage": "Rate exceeded",
        "errorType": "Lambda.TooManyRequestsException",
    }


def test_operations_stepwell_does_not_serve_are_refused(api: LambdaFunctions) -> None:
    with pytest.raises(LambdaError) as raised:
        api.handle("CreateFunction", {"FunctionName": "x"})
    assert raised.value.aws_type == "UnknownOperationException"
    assert raised.value.status == 404


@pytest.mark.parametrize(
    ("name", "qualifier", "error"),
    [
        ("echo:v1", "v2", "InvalidParameterValueException"),
        ("arn:aws:lambda:us-east-1:999999999999:function:echo", None, "ResourceNotFoundException"),
        ("not a name", None, "ValidationException"),
    ],
)
def test_names_that_do_not_denote_a_function_here(
    api: LambdaFunctions, name: str, qualifier: str | None, error: str
) -> None:
    with pytest.raises(LambdaError) as raised:
        api.handle("GetFunction", {"FunctionName": name, "Qualifier": qualifier})
    assert raised.value.aws_type == error


def test_a_page_is_never_longer_than_50(api: LambdaFunctions) -> None:
    for n in range(60):
        api.functions.register(f"fn-{n:02d}", lambda e: e)
    first = api.handle("ListFunctions", {"MaxItems": 1000})
    assert len(first["Functions"]) == 50 and "NextMarker" in first
    rest = api.handle("ListFunctions", {"Marker": first["NextMarker"]})
    total = len(api.functions.names())  # 63, and any @lambda_function of this process
    assert len(rest["Functions"]) == total - 50 and "NextMarker" not in rest


@pytest.mark.parametrize("context", ["not base64!", "WzFd", "e30" + "=" * 2 + "x" * 3600])
def test_a_client_context_must_be_base64_json_object(api: LambdaFunctions, context: str) -> None:
    with pytest.raises(LambdaError) as raised:
        api.handle("Invoke", {"FunctionName": "echo", "ClientContext": context})
    assert raised.value.aws_type == "InvalidParameterValueException"
    ok = api.handle("Invoke", {"FunctionName": "echo", "ClientContext": "e30=", "Payload": b"1"})
    assert ok["Payload"] == b"1"


def test_synchronous_runs_beyond_the_concurrency_limit_are_throttled() -> None:
    # A few long RequestResponse invocations must not hold every API thread: past the
    # limit Invoke answers 429 TooManyRequestsException at once, before anything runs,
    # as Lambda does when a function's concurrency is exceeded (API Reference, Invoke;
    # Reason ConcurrentInvocationLimitExceeded).
    running = threading.Semaphore(0)
    release = threading.Event()
    ran: list[Any] = []

    def slow(event: Any) -> Any:
        ran.append(event)
        if event.get("wait"):
            running.release()
            release.wait()
        return event

    api = LambdaFunctions(
        FunctionRegistry({"slow": slow}), AsyncInvocations(MemoryDocumentStore(), lambda: 0.0)
    )
    held = ThreadPoolExecutor(SYNC_CONCURRENCY)
    waiting = [
        held.submit(api.handle, "Invoke", {"FunctionName": "slow", "Payload": b'{"wait": 1}'})
        for _ in range(SYNC_CONCURRENCY)
    ]
    try:
        for _ in range(SYNC_CONCURRENCY):
            assert running.acquire(timeout=10)
        with pytest.raises(LambdaError) as raised:
            api.handle("Invoke", {"FunctionName": "slow", "Payload": b'{"n": 1}'})
        assert raised.value.aws_type == "TooManyRequestsException"
        assert raised.value.status == 429
        assert raised.value.extra["Reason"] == "ConcurrentInvocationLimitExceeded"
        assert {"n": 1} not in ran  # refused before it ran
        # Other operations are served meanwhile, and events are still accepted.
        assert api.handle("GetFunction", {"FunctionName": "slow"})["Configuration"]
        event = api.handle("Invoke", {"FunctionName": "slow", "InvocationType": "DryRun"})
        assert event["StatusCode"] == 204
    finally:
        release.set()
        held.shutdown()
    assert all(done.result()["StatusCode"] == 200 for done in waiting)
    # A slot freed is a slot again.
    again = api.handle("Invoke", {"FunctionName": "slow", "Payload": b'{"n": 2}'})
    assert again["StatusCode"] == 200
