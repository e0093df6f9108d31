"""The API port's connections (``api.connection``): Step Functions calls answered without
ASGI keep every rule of HTTP and of the API, next to uvicorn's way for everything else.

Each test talks to a real uvicorn server on a loopback port over raw sockets, so it
controls what arrives when: pipelined requests, a body in many pieces, a stalled body.
The app's ASGI way for Step Functions calls is switched off (``no_asgi_calls``), so a
call that is answered at all was answered by the connection.
"""

from __future__ import annotations

import inspect
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
import uvicorn
from api_helpers import RecordingService, raising
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from stepwell.api import create_app
from stepwell.api.app import ApiApp
from stepwell.api.connection import ApiConnection
from stepwell.api.settings import ApiSettings
from stepwell.service.errors import ExecutionDoesNotExist
from stepwell.testing import serve_app

ARN = "arn:aws:states:us-east-1:123456789012:execution:m:e"


def describe(request: dict[str, Any]) -> dict[str, Any]:
    return {"executionArn": request["executionArn"], "status": "RUNNING"}


@pytest.fixture
def service() -> RecordingService:
    return RecordingService({"DescribeExecution": describe})


def no_asgi_calls(app: ApiApp) -> ApiApp:
    """Make the ASGI way for Step Functions calls fail, so only the connection's works."""

    async def refuse(*args: Any) -> Any:
        raise AssertionError("a Step Functions call took the ASGI way")

    app.endpoint.answer = refuse  # type: ignore[method-assign]
    return app


@contextmanager
def server(service: RecordingService, **settings: Any) -> Iterator[tuple[int, ApiApp]]:
    """The API (inline DescribeExecution, the rest in threads) on a loopback port."""
    api = ApiSettings(inline_operations=frozenset({"DescribeExecution"}), **settings)
    app = no_asgi_calls(create_app(service, api))  # type: ignore[arg-type]
    with serve_app(app) as url:
        yield int(url.rsplit(":", 1)[1]), app


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def call_bytes(
    operation: str, members: Any, *, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    payload = body or orjson.dumps(members)
    all_headers = {
        "Host": "127.0.0.1",
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": f"AWSStepFunctions.{operation}",
        "Content-Length": str(len(payload)),
    }
    all_headers.update(headers or {})
    head = "".join(f"{name}: {value}\r\n" for name, value in all_headers.items() if value)
    return f"POST / HTTP/1.1\r\n{head}\r\n".encode() + payload


def get_bytes(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


class Responses:
    """Reads HTTP/1.1 responses (Content-Length bodies) off a socket, one after another."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""

    def _fill(self) -> bool:
        data = self._sock.recv(65536)
        self._buffer += data
        return bool(data)

    def interim(self) -> bytes:
        """An interim response (``100 Continue``): its status line."""
        while b"\r\n\r\n" not in self._buffer:
            assert self._fill(), "connection closed"
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        return head

    def next(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self._buffer:
            assert self._fill(), "connection closed before a response"
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers["content-length"])
        while len(rest) < length:
            data = self._sock.recv(65536)
            assert data, "connection closed inside a body"
            rest += data
        self._buffer = rest[length:]
        return status, headers, rest[:length]

    def closed(self) -> bool:
        """Whether the server closed the connection (after everything read so far)."""
        return not self._buffer and not self._fill()


def test_the_uvicorn_internals_the_connection_relies_on_are_there() -> None:
    """uvicorn's protocol is subclassed: if an upgrade renames what it uses, fail here."""
    assert uvicorn.__version__.startswith("0.55."), (
        f"uvicorn {uvicorn.__version__}: check api/connection.py against its httptools_impl"
    )
    for method in (
        "on_headers_complete",
        "on_body",
        "on_message_complete",
        "on_response_complete",
        "_start_asgi_task",
        "data_received",
        "connection_lost",
        "shutdown",
    ):
        assert callable(getattr(HttpToolsProtocol, method))
    setup = inspect.getsource(HttpToolsProtocol)
    for attribute in (
        "self.pipeline",
        "self.cycle",
        "self.flow",
        "self.url",
        "self.headers",
        "self.expect_100_continue",
        "self.server_state",
        "self.limit_concurrency",
        "self.tasks",
        "self.cycle.response_complete",
        "self.cycle.keep_alive = False",
    ):
        assert attribute in setup, attribute


def test_calls_are_answered_by_the_connection_inline_and_in_threads(
    service: RecordingService,
) -> None:
    service.responses["StartExecution"] = lambda request: {
        "executionArn": ARN,
        "startDate": 1.5,
    }
    with server(service) as (port, _), connect(port) as sock:
        responses = Responses(sock)
        sock.sendall(call_bytes("DescribeExecution", {"executionArn": ARN}))
        status, headers, body = responses.next()
        assert status == 200
        assert orjson.loads(body) == {"executionArn": ARN, "status": "RUNNING"}
        assert headers["content-type"] == "application/x-amz-json-1.0"
        assert len(headers["x-amzn-requestid"]) == 36
        assert "date" in headers and headers["server"] == "uvicorn"
        machine = ARN.replace(":execution:m:e", ":stateMachine:m")
        sock.sendall(call_bytes("StartExecution", {"stateMachineArn": machine}))
        status, _, body = responses.next()
        assert status == 200 and orjson.loads(body)["executionArn"] == ARN
    assert [name for name, _ in service.calls] == ["DescribeExecution", "StartExecution"]


def test_errors_are_aws_shaped_and_a_bug_is_a_logged_500(
    service: RecordingService, caplog: pytest.LogCaptureFixture
) -> None:
    service.responses["DescribeExecution"] = raising(ExecutionDoesNotExist("no such one"))
    service.responses["StopExecution"] = raising(KeyError("bug"))
    with server(service) as (port, _), connect(port) as sock:
        responses = Responses(sock)
        sock.sendall(call_bytes("DescribeExecution", {"executionArn": ARN}))
        status, headers, body = responses.next()
        assert status == 400 and headers["x-amzn-errortype"] == "ExecutionDoesNotExist"
        assert orjson.loads(body)["__type"] == "ExecutionDoesNotExist"
        sock.sendall(call_bytes("StopExecution", {"executionArn": ARN}))
        status, headers, body = responses.next()
        assert status == 500 and orjson.loads(body)["__type"] == "InternalFailure"
        sock.sendall(call_bytes("DescribeExecution", {}))
        status, _, body = responses.next()
        assert status == 400 and orjson.loads(body)["__type"] == "ValidationException"
        sock.sendall(call_bytes("DescribeExecution", {}, body=b"{not json"))
        status, _, body = responses.next()
        assert status == 400 and orjson.loads(body)["__type"] == "SerializationException"
        sock.sendall(call_bytes("NoSuchThing", {}))
        status, _, body = responses.next()
        assert status == 400 and orjson.loads(body)["__type"] == "UnknownOperationException"
        sock.sendall(call_bytes("DescribeExecution", {}, headers={"Content-Type": "text/xml"}))
        status, _, body = responses.next()
        assert orjson.loads(body)["__type"] == "UnsupportedMediaTypeException"
    failures = [r for r in caplog.records if "Internal failure in StopExecution" in r.message]
    assert len(failures) == 1 and failures[0].exc_info is not None


def held_starts(service: RecordingService) -> threading.Event:
    """StartExecution (run in a worker thread) answers only once the event is set."""
    release = threading.Event()

    def slow_start(request: dict[str, Any]) -> dict[str, Any]:
        release.wait(20)
        return {"executionArn": ARN, "startDate": 1.0}

    service.responses["StartExecution"] = slow_start
    return release


def test_pipelined_requests_are_answered_in_order_across_both_ways(
    service: RecordingService,
) -> None:
    release = held_starts(service)
    machine = ARN.replace(":execution:m:e", ":stateMachine:m")
    requests = [
        call_bytes("StartExecution", {"stateMachineArn": machine}),  # in a thread, waits
        call_bytes("DescribeExecution", {"executionArn": ARN + "1"}),
        get_bytes("/health"),
        call_bytes("DescribeExecution", {"executionArn": ARN + "2"}),
        get_bytes("/nowhere"),
        call_bytes("DescribeExecution", {"executionArn": ARN + "3"}),
    ]
    with server(service) as (port, _), connect(port) as sock:
        sock.sendall(b"".join(requests))
        release.set()
        responses = Responses(sock)
        answers = [responses.next() for _ in requests]
    assert [status for status, _, _ in answers] == [200, 200, 200, 200, 404, 200]
    assert orjson.loads(answers[0][2])["executionArn"] == ARN
    assert orjson.loads(answers[1][2])["executionArn"] == ARN + "1"
    assert orjson.loads(answers[2][2])["status"] == "ok"
    assert orjson.loads(answers[3][2])["executionArn"] == ARN + "2"
    assert orjson.loads(answers[4][2])["__type"] == "UnknownOperationException"
    assert orjson.loads(answers[5][2])["executionArn"] == ARN + "3"


def test_hundreds_of_calls_queued_behind_a_thread_call_are_all_answered(
    service: RecordingService, caplog: pytest.LogCaptureFixture
) -> None:
    """Each queued call starts on a turn of the loop of its own: answering one does not
    start the next inside it (that nested 7 frames a call: a RecursionError, 500s and a
    connection that never read again)."""
    release = held_starts(service)
    machine = ARN.replace(":execution:m:e", ":stateMachine:m")
    quick = [call_bytes("DescribeExecution", {"executionArn": f"{ARN}{n}"}) for n in range(600)]
    with server(service) as (port, _), connect(port) as sock:
        sock.sendall(call_bytes("StartExecution", {"stateMachineArn": machine}))
        sock.sendall(b"".join(quick))
        release.set()
        responses = Responses(sock)
        answers = [responses.next() for _ in range(len(quick) + 1)]
    assert [status for status, _, _ in answers] == [200] * (len(quick) + 1)
    arns = [orjson.loads(body)["executionArn"] for _, _, body in answers[1:]]
    assert arns == [f"{ARN}{n}" for n in range(len(quick))]
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


def test_a_queued_call_whose_body_stalls_times_out(service: RecordingService) -> None:
    """The body timeout of a call that waited behind another runs from its start, even
    when all the client will ever send of it arrived while it waited."""
    release = held_starts(service)
    machine = ARN.replace(":execution:m:e", ":stateMachine:m")
    stalled = call_bytes("DescribeExecution", {"executionArn": ARN})[:-5]
    limits = {"body_timeout_seconds": 0.5, "max_request_bytes_in_flight": 4000}
    with server(service, **limits) as (port, _), connect(port) as sock:
        sock.sendall(call_bytes("StartExecution", {"stateMachineArn": machine}) + stalled)
        release.set()
        responses = Responses(sock)
        assert responses.next()[0] == 200
        status, _, body = responses.next()
        assert status == 408 and orjson.loads(body)["__type"] == "RequestTimeoutException"
        with connect(port) as other:  # its budget came back with the answer
            payload = orjson.dumps({"executionArn": ARN, "p": "x" * 3000})
            other.sendall(call_bytes("DescribeExecution", {}, body=payload))
            assert Responses(other).next()[0] == 200


def test_a_connection_goes_from_calls_to_other_requests_and_back(
    service: RecordingService,
) -> None:
    with server(service) as (port, _), connect(port) as sock:
        responses = Responses(sock)
        for n in range(3):
            sock.sendall(call_bytes("DescribeExecution", {"executionArn": f"{ARN}{n}"}))
            status, _, body = responses.next()
            assert status == 200 and orjson.loads(body)["executionArn"] == f"{ARN}{n}"
            sock.sendall(get_bytes("/health"))
            assert responses.next()[0] == 200
            sock.sendall(b"PUT / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
            assert responses.next()[0] == 405
    assert len(service.calls) == 3


def test_a_body_in_many_pieces_and_a_chunked_body_are_read_whole(
    service: RecordingService,
) -> None:
    request = call_bytes("DescribeExecution", {"executionArn": ARN, "pad": None})
    head, _, body = request.partition(b"\r\n\r\n")
    with server(service) as (port, _), connect(port) as sock:
        responses = Responses(sock)
        sock.sendall(head + b"\r\n\r\n")
        for i in range(len(body)):
            sock.sendall(body[i : i + 1])
            time.sleep(0.001)  # separate packets
        status, _, answer = responses.next()
        assert status == 200 and orjson.loads(answer)["executionArn"] == ARN
        chunked = head.replace(b"Content-Length: ", b"X-Was: ") + b"\r\n"
        chunked += b"Transfer-Encoding: chunked\r\n\r\n"
        pieces = [body[:10], body[10:]]
        sock.sendall(chunked)
        for piece in pieces:
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            time.sleep(0.01)
        sock.sendall(b"0\r\n\r\n")
        status, _, answer = responses.next()
        assert status == 200 and orjson.loads(answer)["executionArn"] == ARN
    assert service.calls == [("DescribeExecution", {"executionArn": ARN})] * 2


def test_expect_100_continue_is_answered_before_the_body(service: RecordingService) -> None:
    request = call_bytes("DescribeExecution", {"executionArn": ARN})
    head, _, body = request.partition(b"\r\n\r\n")
    with server(service) as (port, _), connect(port) as sock:
        responses = Responses(sock)
        sock.sendall(head + b"\r\nExpect: 100-continue\r\n\r\n")
        assert responses.interim() == b"HTTP/1.1 100 Continue"
        sock.sendall(body)
        assert responses.next()[0] == 200


def test_a_refused_head_is_answered_without_waiting_for_the_body(
    service: RecordingService,
) -> None:
    with server(service, max_request_bytes=1000) as (port, _), connect(port) as sock:
        responses = Responses(sock)
        head = call_bytes("DescribeExecution", {}, headers={"Content-Length": "5000"})
        sock.sendall(head.rpartition(b"\r\n\r\n")[0] + b"\r\nExpect: 100-continue\r\n\r\n")
        status, _, body = responses.next()  # no 100 Continue first
        assert status == 413 and orjson.loads(body)["__type"] == "RequestEntityTooLargeException"
    assert service.calls == []


def test_an_actual_body_over_the_limit_is_refused(service: RecordingService) -> None:
    with server(service, max_request_bytes=1000) as (port, _), connect(port) as sock:
        responses = Responses(sock)
        request = call_bytes("DescribeExecution", {"executionArn": "x" * 5000})
        head, _, body = request.partition(b"\r\n\r\n")
        head = head.replace(b"Content-Length: ", b"X-Was: ") + b"\r\nTransfer-Encoding: chunked"
        sock.sendall(head + b"\r\n\r\n")
        for start in range(0, len(body), 500):
            piece = body[start : start + 500]
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        sock.sendall(b"0\r\n\r\n")
        status, _, answer = responses.next()
        assert status == 413 and orjson.loads(answer)["__type"] == "RequestEntityTooLargeException"
        sock.sendall(call_bytes("DescribeExecution", {"executionArn": ARN}))
        assert responses.next()[0] == 200  # the same connection serves the next call
    assert service.calls == [("DescribeExecution", {"executionArn": ARN})]


def test_large_headers_reach_the_call(service: RecordingService) -> None:
    with server(service) as (port, _), connect(port) as sock:
        responses = Responses(sock)
        big = {"X-Padding": "p" * 60_000}
        sock.sendall(call_bytes("DescribeExecution", {"executionArn": ARN}, headers=big))
        assert responses.next()[0] == 200


def test_a_stalled_body_times_out_and_stalls_nobody_else(service: RecordingService) -> None:
    with (
        server(service, body_timeout_seconds=0.5) as (port, _),
        connect(port) as stalled,
        connect(port) as other,
    ):
        request = call_bytes("DescribeExecution", {"executionArn": ARN})
        stalled.sendall(request[:-5])
        other_responses = Responses(other)
        other.sendall(call_bytes("DescribeExecution", {"executionArn": ARN + "x"}))
        assert other_responses.next()[0] == 200
        status, _, body = Responses(stalled).next()
        assert status == 408 and orjson.loads(body)["__type"] == "RequestTimeoutException"
    assert service.calls == [("DescribeExecution", {"executionArn": ARN + "x"})]


def test_an_abandoned_body_gives_its_budget_back(service: RecordingService) -> None:
    limits = {"max_request_bytes": 1500, "max_request_bytes_in_flight": 2000}
    with server(service, **limits) as (port, _):
        payload = orjson.dumps({"executionArn": ARN, "p": "x" * 1300})
        partial = call_bytes("DescribeExecution", {}, body=payload)[:-10]
        with connect(port) as first:
            first.sendall(partial)
            with connect(port) as second:  # the budget is held: the second is throttled
                second.sendall(partial)
                status, _, body = Responses(second).next()
                assert orjson.loads(body)["__type"] == "ThrottlingException"
        for _ in range(200):  # the first client has gone: its bytes come back
            with connect(port) as third:
                third.sendall(call_bytes("DescribeExecution", {}, body=payload))
                status, _, body = Responses(third).next()
            if status == 200:
                break
            time.sleep(0.01)
        assert status == 200


def test_connection_close_and_http_1_0_close_after_the_answer(
    service: RecordingService,
) -> None:
    with server(service) as (port, _):
        with connect(port) as sock:
            responses = Responses(sock)
            close = {"Connection": "close"}
            sock.sendall(call_bytes("DescribeExecution", {"executionArn": ARN}, headers=close))
            status, headers, _ = responses.next()
            assert status == 200 and headers["connection"] == "close"
            assert responses.closed()
        with connect(port) as sock:
            responses = Responses(sock)
            request = call_bytes("DescribeExecution", {"executionArn": ARN})
            sock.sendall(request.replace(b"HTTP/1.1", b"HTTP/1.0", 1))
            assert responses.next()[0] == 200
            assert responses.closed()


def test_refused_hosts_take_the_checked_way(service: RecordingService) -> None:
    with server(service) as (port, _), connect(port) as sock:
        responses = Responses(sock)
        evil = {"Host": "evil.example"}
        sock.sendall(call_bytes("DescribeExecution", {"executionArn": ARN}, headers=evil))
        status, _, body = responses.next()
        assert status == 403 and orjson.loads(body)["__type"] == "AccessDeniedException"
    assert service.calls == []


def test_signed_calls_are_verified_on_the_connection(service: RecordingService) -> None:
    import boto3
    from botocore.config import Config

    keys = {"AKIDTEST": "secret"}
    with server(service, credentials=keys) as (port, _):
        options: dict[str, Any] = {
            "endpoint_url": f"http://127.0.0.1:{port}",
            "region_name": "us-east-1",
            "config": Config(retries={"total_max_attempts": 1}),
        }
        good = boto3.client(
            "stepfunctions", aws_access_key_id="AKIDTEST", aws_secret_access_key="secret", **options
        )
        assert good.describe_execution(executionArn=ARN)["status"] == "RUNNING"
        bad = boto3.client(
            "stepfunctions", aws_access_key_id="AKIDTEST", aws_secret_access_key="wrong", **options
        )
        with pytest.raises(bad.exceptions.ClientError) as raised:
            bad.describe_execution(executionArn=ARN)
        assert raised.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert service.calls == [("DescribeExecution", {"executionArn": ARN})]


def test_a_call_in_flight_is_answered_during_a_graceful_shutdown(
    service: RecordingService,
) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow_start(request: dict[str, Any]) -> dict[str, Any]:
        entered.set()
        release.wait(20)
        return {"executionArn": ARN, "startDate": 1.0}

    service.responses["StartExecution"] = slow_start
    app = no_asgi_calls(create_app(service))  # type: ignore[arg-type]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", http=ApiConnection)
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]})
    thread.start()
    while not uvicorn_server.started:
        time.sleep(0.01)
    with connect(port) as client:
        machine = ARN.replace(":execution:m:e", ":stateMachine:m")
        client.sendall(call_bytes("StartExecution", {"stateMachineArn": machine}))
        assert entered.wait(20)
        uvicorn_server.should_exit = True
        while any(c.cycle.keep_alive for c in list(uvicorn_server.server_state.connections)):
            time.sleep(0.01)  # until the server has asked this connection to end
        release.set()
        status, headers, body = Responses(client).next()
    thread.join(20)
    sock.close()
    assert status == 200 and orjson.loads(body)["executionArn"] == ARN
    assert headers["connection"] == "close"
    assert not thread.is_alive()


def test_other_apps_are_served_by_uvicorns_own_way() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain"})

    with serve_app(app) as url, connect(int(url.rsplit(":", 1)[1])) as sock:
        sock.sendall(call_bytes("DescribeExecution", {"executionArn": ARN}))
        data = b""
        while not data.endswith(b"0\r\n\r\n"):  # uvicorn's chunked body, to its end
            received = sock.recv(4096)
            assert received, "connection closed"
            data += received
        assert data.startswith(b"HTTP/1.1 200 OK") and b"\r\nplain\r\n" in data
