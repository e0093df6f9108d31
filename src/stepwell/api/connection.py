"""The API port's HTTP connections: uvicorn's httptools protocol, with a short way for
Step Functions calls.

uvicorn turns every request into ASGI: a scope dictionary, a task, an event per body
chunk, message dictionaries both ways and a header check per response header. For an
API call that work cost more server CPU than the call itself (about 120 µs of a
DescribeExecution, measured with boto3 clients against ``stepwell serve``). So
``ApiConnection`` looks at each request once its headers are in: a ``POST /`` whose
``X-Amz-Target`` is a Step Functions operation and that the host checks let through
(``ApiApp.takes``) becomes a ``StepFunctionsCall``, which takes the body from the parser's
callbacks, runs the endpoint's own steps (``ApiEndpoint.admit_head``, ``admit_body``,
the service on the loop or in a worker thread) and writes the response in one piece.
Every other request (the console, the embedded AWS services, S3, a Step Functions call
with a query string or a refused host) goes to the ASGI app exactly as before, on the
same connection.

A call keeps every rule of the ASGI way: the declared and actual size limits and the
bytes-in-flight budget (``limits``), the body timeout, ``Expect: 100-continue``, chunked
bodies, SigV4, AWS-shaped errors with ``x-amzn-RequestId``, a logged ``500`` for a bug.
It takes uvicorn's place in the connection's bookkeeping: it is the connection's
current "cycle", waits in uvicorn's pipeline behind an unanswered request (pipelined
requests are answered in order), ends with uvicorn's ``on_response_complete`` (keep-alive
timer, next pipelined request), and honours ``shutdown`` (no keep-alive; a connection
stays open until its call is answered, and uvicorn waits for open connections).

Design decision: subclass uvicorn rather than own an HTTP/1.1 server. The parser,
keep-alive, pipelining, upgrades and graceful shutdown stay uvicorn's; the cost is a
dependency on its internals, so ``pyproject.toml`` pins uvicorn's minor version and
tests/api/test_api_connection.py checks the internals this relies on.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from contextlib import suppress
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import (
    HEADER_VALUE_RE,
    STATUS_LINE,
    HttpToolsProtocol,
)

from stepwell.api.app import Answer, ApiApp, ApiEndpoint, RequestHead
from stepwell.api.auth import CheckedHeaders, HttpRequest
from stepwell.api.limits import BodyReader
from stepwell.api.protocol import (
    CONTENT_TYPE,
    Operation,
    RequestAbortedException,
    encode_response,
    new_request_id,
    response_headers,
)

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_BODY_HEADERS = b"content-length: %d\r\ncontent-type: " + CONTENT_TYPE.encode() + b"\r\n"


class ApiConnection(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 connection, answering Step Functions calls itself when the
    served app is the API (``ApiApp``); with any other app, uvicorn's own."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        app = self.config.app
        self.api: ApiApp | None = app if isinstance(app, ApiApp) else None
        self.reading: StepFunctionsCall | None = None
        """The call whose body is being received, if any (at most one at a time)."""

    def on_headers_complete(self) -> None:
        api = self.api
        if (
            api is not None
            and self.url == b"/"
            and self.limit_concurrency is None
            and self.parser.get_method() == b"POST"
            and not self.parser.should_upgrade()
        ):
            head = RequestHead.read(self.headers)
            if api.takes(head):
                self._begin(StepFunctionsCall(self, api.endpoint, head))
                return
        super().on_headers_complete()

    def _begin(self, call: StepFunctionsCall) -> None:
        """Start ``call`` now, or after the requests before it are answered."""
        previous = self.cycle
        self.cycle = cast(Any, call)
        if previous is None or previous.response_complete:
            call.start()
        else:
            self.flow.pause_reading()
            self.pipeline.appendleft((cast(Any, call), self.app))

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        if type(cycle) is StepFunctionsCall:
            # Called when the request before it is answered: from the end of that answer,
            # which may itself be a call answered on the loop. Starting at once would nest
            # every queued call's answer inside the previous one (hundreds of pipelined
            # calls: a RecursionError), so it starts on the loop's next turn, as uvicorn's
            # own requests start as tasks.
            self.loop.call_soon(cycle.start)
        else:
            super()._start_asgi_task(cycle, app)

    def on_body(self, body: bytes) -> None:
        call: Any = self.cycle
        if type(call) is StepFunctionsCall:
            call.receive(body)
        else:
            super().on_body(body)

    def on_message_complete(self) -> None:
        call: Any = self.cycle
        if type(call) is StepFunctionsCall:
            call.body_complete()
        else:
            super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.reading is not None:  # a body still to come: now it has a deadline
            self.reading.arm_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.reading is not None:
            self.reading.abort()
        call: Any = self.cycle
        if type(call) is StepFunctionsCall:
            self.cycle = cast(Any, None)  # uvicorn's own clean-up is for its cycles
        super().connection_lost(exc)


class StepFunctionsCall:
    """One Step Functions call on a connection, from its headers to its response.

    The attributes uvicorn reads of a request it holds (``response_complete``,
    ``keep_alive``) mean what they mean on uvicorn's own ``RequestResponseCycle``.
    """

    __slots__ = (
        "_body",
        "_checked",
        "_connection",
        "_endpoint",
        "_head",
        "_headers",
        "_operation",
        "_reader",
        "_request_id",
        "_size",
        "_started",
        "_timer",
        "_version",
        "complete_body",
        "expect_continue",
        "keep_alive",
        "response_complete",
    )

    def __init__(self, connection: ApiConnection, endpoint: ApiEndpoint, head: RequestHead):
        parser = connection.parser
        self._connection = connection
        self._endpoint = endpoint
        self._head = head
        self._headers = connection.headers  # uvicorn starts a new list for each request
        self._version = parser.get_http_version()
        self.keep_alive = self._version != "1.0" and parser.should_keep_alive()
        self.expect_continue = connection.expect_100_continue
        self.response_complete = False
        self.complete_body = False
        self._body: list[bytes] = []
        self._size = 0
        self._started = False
        self._reader: BodyReader | None = None
        self._checked: CheckedHeaders | None = None
        self._operation: Operation | None = None
        self._request_id = ""
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """The requests before this one are answered: check the headers, take the
        budget, then read the body (part of it may be here already)."""
        if self._connection.transport.is_closing():  # the client left while it waited
            self.response_complete = True
            return
        self._started = True
        self._request_id = new_request_id()
        endpoint = self._endpoint
        reader = self._reader = endpoint.body_reader()
        try:
            self._checked = endpoint.admit_head(self._head, reader, self._signed)
            reader.hold_declared(self._head.content_length)
            transport = self._connection.transport
            if self.expect_continue and not transport.is_closing():
                transport.write(_CONTINUE)
            if self._size:
                reader.received(self._size)
        except Exception as error:
            self._answer(endpoint.failure(error, None, self._request_id))
            return
        if self.complete_body:
            self._dispatch()
        else:  # the body timeout runs from now: what is missing may never come
            self._connection.reading = self
            self.arm_timer()

    def receive(self, chunk: bytes) -> None:
        """A piece of the body, from the parser."""
        if self.response_complete:  # answered early (an error): the rest is dropped
            return
        self._body.append(chunk)
        self._size += len(chunk)
        if self._reader is not None:
            try:
                self._reader.received(self._size)
            except Exception as error:
                self._answer(self._endpoint.failure(error, None, self._request_id))

    def body_complete(self) -> None:
        """The parser has the whole request."""
        self.complete_body = True
        if self._started and not self.response_complete:
            self._dispatch()

    def arm_timer(self) -> None:
        """Refuse the call if its body is not all in within the body timeout."""
        if self._timer is None and self._reader is not None:
            loop = self._connection.loop
            self._timer = loop.call_later(self._reader.timeout_seconds, self._time_out)

    def _time_out(self) -> None:
        self._timer = None
        if not self.response_complete and self._reader is not None:
            self._answer(self._endpoint.failure(self._reader.timed_out(), None, self._request_id))

    def abort(self) -> None:
        """The client closed the connection before sending the whole body."""
        self.keep_alive = False
        if not self.response_complete:
            error = RequestAbortedException("The client closed the connection")
            self._answer(self._endpoint.failure(error, None, self._request_id))

    def _dispatch(self) -> None:
        """The whole body is in: verify and decode it, then call the service."""
        self._stop_reading()
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        endpoint = self._endpoint
        try:
            operation, members = endpoint.admit_body(self._head, body, self._signed, self._checked)
            self._operation = operation
            if endpoint.runs_inline(operation):
                self._succeed(operation, endpoint.call(operation, members))
            else:
                endpoint.submit(operation, members).add_done_callback(self._thread_done)
        except Exception as error:
            self._answer(endpoint.failure(error, self._operation, self._request_id))

    def _thread_done(self, future: Future[dict[str, Any]]) -> None:
        """In the worker thread: hand the result to the event loop."""
        with suppress(RuntimeError):  # a closed loop: the server is gone, nobody to answer
            self._connection.loop.call_soon_threadsafe(self._thread_result, future)

    def _thread_result(self, future: Future[dict[str, Any]]) -> None:
        operation = cast(Operation, self._operation)
        try:
            self._succeed(operation, future.result())
        except Exception as error:
            self._answer(self._endpoint.failure(error, operation, self._request_id))

    def _succeed(self, operation: Operation, result: dict[str, Any]) -> None:
        body = encode_response(operation, result)
        self._answer(Answer(200, body, response_headers(self._request_id)))

    def _signed(self, body: bytes) -> HttpRequest:
        """The signed parts of this request (``POST /``, no query), as they arrived."""
        headers = [(name.decode("latin-1"), text.decode("latin-1")) for name, text in self._headers]
        return HttpRequest("POST", "/", "", headers, body)

    def _stop_reading(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._connection.reading is self:
            self._connection.reading = None

    def _answer(self, answer: Answer) -> None:
        """Give the budget back, then send ``answer`` (once the client can take it)."""
        self._stop_reading()
        if self._reader is not None:
            self._reader.release()
            self._reader = None
        connection = self._connection
        if connection.flow.write_paused and not connection.transport.is_closing():
            task = connection.loop.create_task(self._send_when_writable(answer))
            connection.tasks.add(task)
            task.add_done_callback(connection.tasks.discard)
        else:
            self._send(answer)

    async def _send_when_writable(self, answer: Answer) -> None:
        await self._connection.flow.drain()
        self._send(answer)

    def _send(self, answer: Answer) -> None:
        self.response_complete = True
        connection = self._connection
        transport = connection.transport
        if connection.access_log:
            self._log_access(answer.status)
        if not transport.is_closing():
            wire = self._wire(answer, connection.server_state.default_headers)
            if wire is None:  # a bug: log it, answer 500
                error = RuntimeError(f"Invalid HTTP header value in {answer.headers}")
                failure = self._endpoint.failure(error, self._operation, self._request_id)
                wire = self._wire(failure, connection.server_state.default_headers)
            transport.write(cast(bytes, wire))
            if not self.keep_alive:
                transport.close()
        connection.on_response_complete()

    def _log_access(self, status: int) -> None:
        """uvicorn's access log line, as its own way writes it."""
        connection = self._connection
        client = f"{connection.client[0]}:{connection.client[1]}" if connection.client else ""
        message = '%s - "%s %s HTTP/%s" %d'
        connection.access_logger.info(message, client, "POST", "/", self._version, status)

    def _wire(self, answer: Answer, defaults: list[tuple[bytes, bytes]]) -> bytes | None:
        """The response's bytes, headers as uvicorn writes them (its own first, names in
        lower case); ``None`` if a header value could break the response."""
        parts = [STATUS_LINE[answer.status]]
        for raw_name, raw_value in defaults:
            parts += (raw_name, b": ", raw_value, b"\r\n")
        for name, text in answer.headers.items():
            value = text.encode("latin-1")
            if HEADER_VALUE_RE.search(value):
                return None
            parts += (name.lower().encode("latin-1"), b": ", value, b"\r\n")
        parts.append(_BODY_HEADERS % len(answer.body))
        if not self.keep_alive:
            parts.append(b"connection: close\r\n")
        parts += (b"\r\n", answer.body)
        return b"".join(parts)
