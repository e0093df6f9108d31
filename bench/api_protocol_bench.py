"""API protocol benchmark: CPU microseconds per request spent in the protocol layer.

Drives the ASGI app directly (no sockets, no HTTP parsing: that is uvicorn's cost) with
a service that answers instantly from prepared results, so what is measured is the
layer itself: routing, body reading, content-type and target checks, JSON decoding,
validation against the model, the worker-thread hop, response encoding and the
Starlette response. Also shown: the same pipeline with SigV4 verification, the error
path, and the pure validate+encode step without ASGI or threads.

    .venv/bin/python bench/api_protocol_bench.py [--requests 5000]

CPU time is process time (all threads), divided by the number of requests; figures are
the median of several rounds. Target: well under 300 µs per request.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from stepwell.api import ApiSettings, create_app
from stepwell.api.protocol import OPERATIONS, encode_response

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:Orders"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:Orders:run-1"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

HISTORY = [
    {
        "timestamp": NOW + timedelta(milliseconds=index),
        "type": "PassStateEntered" if index % 2 else "PassStateExited",
        "id": index + 1,
        "previousEventId": index,
        "stateEnteredEventDetails": {"name": f"S{index}", "input": '{"order": {"id": 7}}'},
    }
    for index in range(50)
]
RESULTS: dict[str, dict[str, Any]] = {
    "StartExecution": {"executionArn": EXECUTION, "startDate": NOW},
    "DescribeExecution": {
        "executionArn": EXECUTION,
        "stateMachineArn": MACHINE,
        "name": "run-1",
        "status": "SUCCEEDED",
        "startDate": NOW,
        "stopDate": NOW + timedelta(seconds=1),
        "input": '{"order": {"id": 7, "qty": 3}}',
        "output": '{"ok": true}',
        "redriveCount": 0,
    },
    "GetExecutionHistory": {"events": HISTORY},
}
REQUESTS: dict[str, dict[str, Any]] = {
    "StartExecution": {
        "stateMachineArn": MACHINE,
        "name": "run-1",
        "input": '{"order": {"id": 7, "qty": 3}}',
    },
    "DescribeExecution": {"executionArn": EXECUTION},
    "GetExecutionHistory": {"executionArn": EXECUTION, "maxResults": 100},
}


class InstantService:
    """Answers every operation at once with a prepared result."""

    def handle(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        return RESULTS.get(operation, {})


def plain_headers(operation: str, body: bytes) -> list[tuple[bytes, bytes]]:
    return [
        (b"host", b"127.0.0.1:8083"),
        (b"content-type", b"application/x-amz-json-1.0"),
        (b"x-amz-target", f"AWSStepFunctions.{operation}".encode()),
        (b"content-length", str(len(body)).encode()),
    ]


def signed_headers(operation: str, body: bytes) -> list[tuple[bytes, bytes]]:
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:8083/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"AWSStepFunctions.{operation}",
        },
    )
    SigV4Auth(Credentials("AKIDBENCH", "secret"), "states", "us-east-1").add_auth(request)
    headers = [(k.lower().encode(), str(v).encode()) for k, v in request.headers.items()]
    return [(b"host", b"127.0.0.1:8083"), *headers]


def asgi_call(
    app: Any, headers: list[tuple[bytes, bytes]], body: bytes
) -> Callable[[], Awaitable[int]]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8083),
    }

    async def call() -> int:
        status = 0
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(dict(scope), receive, send)
        return status

    return call


async def cpu_per_call(call: Callable[[], Awaitable[int]], count: int, expected: int) -> float:
    """CPU microseconds per call, median of five rounds."""
    for _ in range(200):  # warm up: thread pool, caches
        assert await call() == expected
    rounds = []
    for _ in range(5):
        started = time.process_time()
        for _ in range(count):
            await call()
        rounds.append((time.process_time() - started) / count * 1e6)
    return statistics.median(rounds)


def pure_pipeline_us(operation: str, count: int) -> float:
    """Decode, validate and encode without ASGI or threads."""
    op = OPERATIONS[f"AWSStepFunctions.{operation}"]
    body = orjson.dumps(REQUESTS[operation])
    result = RESULTS[operation]
    started = time.process_time()
    for _ in range(count):
        op.validate(orjson.loads(body))
        encode_response(op, result)
    return (time.process_time() - started) / count * 1e6


async def main(count: int) -> None:
    plain = create_app(InstantService())
    clock = time.time
    signed = create_app(
        InstantService(), ApiSettings(credentials={"AKIDBENCH": "secret"}, clock=clock)
    )
    print(f"{'workload':<44}{'CPU µs/request':>16}")
    for operation, request in REQUESTS.items():
        body = orjson.dumps(request)
        micros = await cpu_per_call(
            asgi_call(plain, plain_headers(operation, body), body), count, 200
        )
        print(f"{operation + ' (ASGI + thread hop)':<44}{micros:>16.1f}")
    body = orjson.dumps(REQUESTS["StartExecution"])
    call = asgi_call(signed, signed_headers("StartExecution", body), body)
    print(f"{'StartExecution, SigV4 verified':<44}{await cpu_per_call(call, count, 200):>16.1f}")
    bad = orjson.dumps({"stateMachineArn": MACHINE, "name": "n" * 81})
    call = asgi_call(plain, plain_headers("StartExecution", bad), bad)
    print(
        f"{'StartExecution, ValidationException':<44}{await cpu_per_call(call, count, 400):>16.1f}"
    )
    for operation in REQUESTS:
        label = f"{operation} (decode+validate+encode only)"
        print(f"{label:<44}{pure_pipeline_us(operation, count):>16.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000, help="requests per round")
    asyncio.run(main(parser.parse_args().requests))
