"""Helpers for the API tests: a recording service, an in-process ASGI client, a server.

``AsgiClient`` calls the app directly through ASGI on one long-lived event loop (an anyio
blocking portal), so tests see exactly the status, headers and body the app produced.
``running_server`` starts uvicorn on a free 127.0.0.1 port in a background thread for
the boto3 end-to-end tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from anyio.from_thread import BlockingPortal, start_blocking_portal
from starlette.types import ASGIApp, Message

from stepwell.service.errors import ServiceError
from stepwell.testing import serve_app

JSON_CONTENT_TYPE = "application/x-amz-json-1.0"
TARGET_PREFIX = "AWSStepFunctions."

Responder = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class RecordingService:
    """An OperationHandler that records calls and answers from a table.

    ``responses`` maps an operation to a function of the request; an operation without
    one returns ``{}``. A function may raise a ServiceError (or anything else).
    """

    responses: dict[str, Responder] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def handle(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((operation, request))
        respond = self.responses.get(operation)
        return {} if respond is None else respond(request)


def raising(error: Exception) -> Responder:
    """A responder that raises ``error``."""

    def respond(request: dict[str, Any]) -> dict[str, Any]:
        raise error

    return respond


@dataclass(frozen=True)
class Reply:
    """What the app sent back."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def error_type(self) -> str:
        return str(self.json()["__type"])

    @property
    def message(self) -> str:
        return str(self.json()["message"])


class AsgiClient:
    """Calls an ASGI app in-process, as a server would."""

    def __init__(self, app: ASGIApp, portal: BlockingPortal) -> None:
        self._app = app
        self._portal = portal

    def call(
        self, operation: str, members: Any = None, *, body: bytes | None = None, **headers: str
    ) -> Reply:
        """POST / with ``X-Amz-Target: AWSStepFunctions.<operation>``."""
        all_headers = {
            "content-type": JSON_CONTENT_TYPE,
            "x-amz-target": TARGET_PREFIX + operation,
        }
        all_headers.update({name.replace("_", "-"): value for name, value in headers.items()})
        payload = body if body is not None else orjson.dumps({} if members is None else members)
        return self.request("POST", "/", all_headers, payload)

    def call_soon(self, operation: str, members: Any = None) -> Future[Reply]:
        """Start a call on the event loop without waiting for it."""
        headers = {"content-type": JSON_CONTENT_TYPE, "x-amz-target": TARGET_PREFIX + operation}
        body = orjson.dumps({} if members is None else members)
        return self._portal.start_task_soon(self._send, "POST", "/", headers, body, b"")

    def request(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        query_string: bytes = b"",
        *,
        complete: bool = True,
        chunks: Sequence[bytes] = (),
    ) -> Reply:
        """Any HTTP request; ``complete=False`` disconnects after the first body chunk;
        ``chunks`` sends the body in those pieces instead of ``body`` in one."""
        return self._portal.call(
            self._send, method, path, dict(headers or {}), body, query_string, complete, chunks
        )

    async def _send(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        query: bytes,
        complete: bool = True,
        chunks: Sequence[bytes] = (),
    ) -> Reply:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8083),
        }
        incoming = [{"type": "http.request", "body": body, "more_body": not complete}]
        if chunks:
            incoming = [
                {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
                for i, chunk in enumerate(chunks)
            ]
        sent: list[Message] = []

        async def receive() -> Message:
            return incoming.pop(0) if incoming else {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            sent.append(message)

        await self._app(scope, receive, send)
        start = sent[0]
        reply_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        reply_body = b"".join(message.get("body", b"") for message in sent[1:])
        return Reply(start["status"], reply_headers, reply_body)


@contextmanager
def asgi_client(app: ASGIApp) -> Iterator[AsgiClient]:
    """An in-process client on its own event loop thread."""
    with start_blocking_portal() as portal:
        yield AsgiClient(app, portal)


running_server = serve_app  # a free loopback port, uvicorn in a thread


def service_error(error_class: type[ServiceError], message: str, **attributes: Any) -> ServiceError:
    """An API error with extra attributes (``reason``, ``resource_name``…)."""
    error = error_class(message)
    for name, value in attributes.items():
        setattr(error, name, value)
    return error
