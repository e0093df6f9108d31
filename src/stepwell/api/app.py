"""The Step Functions API over ASGI: a Starlette app around an ``OperationHandler``.

``POST /`` runs one operation: refuse a declared size above the limit, check the content
type, check the credential from the headers when SigV4 is on (before reading the body),
read the body within the limits of ``limits``, verify the signature, resolve
``X-Amz-Target``, validate the members against the model, call the service in a worker
thread, encode the result.
Every outcome is an AWS-shaped response with ``x-amzn-RequestId``: API errors with their
type and status, any other exception as a logged ``500 InternalFailure`` (that is a bug,
never a user's mistake). ``GET /health`` answers readiness probes. Other paths are
``404``, other methods on ``/`` ``405``, both as JSON errors.

Without authentication the server answers only requests addressed to a loopback name or
an allowed host (``hosts``, against DNS rebinding); with SigV4 on, on any ``Host``.
boto3 prefixes the host of ``StartSyncExecution`` and ``TestState`` with ``sync-`` (the
model's ``hostPrefix``); against an endpoint that is an IP address or ``localhost`` that
name does not resolve, so create the client with
``botocore.config.Config(inject_host_prefix=False)``::

    boto3.client("stepfunctions", endpoint_url="http://127.0.0.1:8083",
                 config=Config(inject_host_prefix=False))

Design decision: the service is synchronous and may block (``GetActivityTask`` waits up
to 60 s), so each call runs in a worker thread and the event loop never blocks; long
polls have their own thread budget so that idle activity workers cannot starve other
callers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from stepwell.api.auth import CheckedHeaders, HttpRequest, SigV4Verifier
from stepwell.api.hosts import AllowedHosts, HostCheck
from stepwell.api.limits import BodyReader, BytesInFlight
from stepwell.api.model import MODEL
from stepwell.api.protocol import (
    CONTENT_TYPE,
    InternalFailure,
    Operation,
    check_content_type,
    decode_body,
    encode_error,
    encode_response,
    error_headers,
    new_request_id,
    resolve_target,
    response_headers,
)
from stepwell.api.settings import ApiSettings, OperationHandler
from stepwell.service.errors import ServiceError, UnknownOperationException

logger = logging.getLogger("stepwell.api")

T = TypeVar("T")


class WorkerThreads:
    """Thread pools for blocking service calls: one for ordinary calls, one for long polls.

    A plain ``ThreadPoolExecutor`` per budget: handing a call to it costs less CPU than
    ``anyio.to_thread`` (measured by bench/api_protocol_bench.py), and it is not bound to
    an event loop. Threads start on demand, up to the budget.
    """

    def __init__(self, workers: int, long_polls: int) -> None:
        self._ordinary = ThreadPoolExecutor(workers, thread_name_prefix="stepwell-api")
        self._long_polls = ThreadPoolExecutor(long_polls, thread_name_prefix="stepwell-poll")

    async def run(self, long_poll: bool, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` in a worker thread of the right budget."""
        executor = self._long_polls if long_poll else self._ordinary
        return await asyncio.get_running_loop().run_in_executor(executor, function, *args)

    def submit(self, long_poll: bool, function: Callable[..., T], *args: Any) -> Future[T]:
        """Start ``function(*args)`` in a worker thread of the right budget, without an
        event loop: the caller chains what follows onto the returned future."""
        executor = self._long_polls if long_poll else self._ordinary
        return executor.submit(function, *args)


class ApiEndpoint:
    """The request pipeline of ``POST /``."""

    def __init__(self, service: OperationHandler, settings: ApiSettings) -> None:
        self._service = service
        self._settings = settings
        self._threads = WorkerThreads(settings.worker_threads, settings.long_poll_threads)
        self._budget = BytesInFlight(settings.max_request_bytes_in_flight)
        self._verifier = (
            SigV4Verifier(
                settings.credentials,
                service=MODEL.signing_name,
                clock=settings.clock,
                max_skew_seconds=settings.max_clock_skew_seconds,
            )
            if settings.authentication_enabled
            else None
        )

    async def invoke(self, request: Request) -> Response:
        """Serve one API call that came through Starlette's router; never raises."""
        head = RequestHead.read(request.scope["headers"])
        answer = await self.answer(request.scope, request.receive, head)
        return Response(answer.body, answer.status, answer.headers, media_type=CONTENT_TYPE)

    async def answer(self, scope: Scope, receive: Receive, head: RequestHead) -> Answer:
        """Serve one API call straight from ASGI (``ApiApp``); never raises."""
        request_id = new_request_id()
        operation: Operation | None = None
        reader = self.body_reader()
        signed = partial(scope_request, scope)
        try:
            checked = self.admit_head(head, reader, signed)
            body = await reader.read_messages(receive, head.content_length)
            operation, members = self.admit_body(head, body, signed, checked)
            if operation.name in self._settings.inline_operations:
                result = self._service.handle(operation.name, members)
            else:
                result = await self._threads.run(
                    operation.long_poll, self._service.handle, operation.name, members
                )
            body = encode_response(operation, result)
        except Exception as error:
            return self.failure(error, operation, request_id)
        finally:
            reader.release()
        return Answer(200, body, response_headers(request_id))

    def body_reader(self) -> BodyReader:
        """A reader for one request's body, within the API's limits and shared budget."""
        settings = self._settings
        return BodyReader(self._budget, settings.max_request_bytes, settings.body_timeout_seconds)

    def admit_head(
        self, head: RequestHead, reader: BodyReader, signed: Callable[[bytes], HttpRequest]
    ) -> CheckedHeaders | None:
        """Everything checked before the body is read: its declared size, the content
        type and, with SigV4 on, the credential (``signed`` gives the request's signed
        parts for a body)."""
        reader.check_declared_length(head.content_length)
        check_content_type(head.content_type)
        return None if self._verifier is None else self._verifier.check_headers(signed(b""))

    def admit_body(
        self,
        head: RequestHead,
        body: bytes,
        signed: Callable[[bytes], HttpRequest],
        checked: CheckedHeaders | None,
    ) -> tuple[Operation, dict[str, Any]]:
        """Everything checked once the body is in: the signature, the operation and its
        members."""
        if self._verifier is not None and checked is not None:
            self._verifier.verify_signature(signed(body), checked)
        operation = resolve_target(head.target)
        return operation, operation.validate(decode_body(body))

    def runs_inline(self, operation: Operation) -> bool:
        """Whether ``operation`` is served on the event loop rather than in a thread."""
        return operation.name in self._settings.inline_operations

    def call(self, operation: Operation, members: dict[str, Any]) -> dict[str, Any]:
        """The service's answer to one call, in this thread."""
        return self._service.handle(operation.name, members)

    def submit(self, operation: Operation, members: dict[str, Any]) -> Future[dict[str, Any]]:
        """Start one call in a worker thread of its budget."""
        return self._threads.submit(
            operation.long_poll, self._service.handle, operation.name, members
        )

    @staticmethod
    def failure(error: Exception, operation: Operation | None, request_id: str) -> Answer:
        """The answer to a call that raised: an API error as itself, anything else a
        logged ``500 InternalFailure`` (a bug)."""
        if isinstance(error, ServiceError):
            return error_answer(error, request_id)
        name = operation.name if operation is not None else "request"
        logger.error("Internal failure in %s (request id %s)", name, request_id, exc_info=error)
        return error_answer(InternalFailure("An internal error occurred."), request_id)


@dataclass(slots=True)
class RequestHead:
    """The request headers the pipeline reads, each the first of its name, found in one
    pass over the raw ASGI headers (``None`` where absent)."""

    target: str | None = None
    content_type: str | None = None
    content_length: str | None = None
    host: str | None = None
    origin: str | None = None
    fetch_site: str | None = None

    @classmethod
    def read(cls, raw_headers: Iterable[tuple[bytes, bytes]]) -> RequestHead:
        target = content_type = content_length = host = origin = fetch_site = None
        for name, value in raw_headers:  # plain branches: this runs on every call
            if name == b"x-amz-target" and target is None:
                target = value
            elif name == b"content-type" and content_type is None:
                content_type = value
            elif name == b"content-length" and content_length is None:
                content_length = value
            elif name == b"host" and host is None:
                host = value
            elif name == b"origin" and origin is None:
                origin = value
            elif name == b"sec-fetch-site" and fetch_site is None:
                fetch_site = value
        return cls(
            _text(target),
            _text(content_type),
            _text(content_length),
            _text(host),
            _text(origin),
            _text(fetch_site),
        )


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


@dataclass(frozen=True, slots=True)
class Answer:
    """An API response, sent either as a Starlette ``Response`` or as raw ASGI messages
    (the same bytes on the wire: lower-case header names, then length and type)."""

    status: int
    body: bytes
    headers: dict[str, str]

    async def send(self, send: Send) -> None:
        raw = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in self.headers.items()
        ]
        raw.append((b"content-length", str(len(self.body)).encode("latin-1")))
        raw.append((b"content-type", _CONTENT_TYPE_BYTES))
        await send({"type": "http.response.start", "status": self.status, "headers": raw})
        await send({"type": "http.response.body", "body": self.body})


_CONTENT_TYPE_BYTES = CONTENT_TYPE.encode("latin-1")


def http_request(request: Request, body: bytes) -> HttpRequest:
    """The signed parts of a Starlette request, as they arrived on the wire."""
    return scope_request(request.scope, body)


def scope_request(scope: Scope, body: bytes) -> HttpRequest:
    """The signed parts of an ASGI request, as they arrived on the wire."""
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
    headers = scope["headers"]
    return HttpRequest(
        method=scope["method"],
        raw_path=raw_path.decode("latin-1"),
        query_string=scope.get("query_string", b"").decode("latin-1"),
        headers=[(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers],
        body=body,
    )


def error_answer(error: ServiceError, request_id: str) -> Answer:
    """An AWS JSON error answer, with the error's own status."""
    return Answer(error.status, encode_error(error), error_headers(error, request_id))


def error_response(error: ServiceError, request_id: str, status: int | None = None) -> Response:
    """An AWS JSON error response, with the error's own status unless told otherwise."""
    return Response(
        encode_error(error),
        error.status if status is None else status,
        error_headers(error, request_id),
        media_type=CONTENT_TYPE,
    )


async def health(request: Request) -> Response:
    """Readiness: the server is up and answering."""
    body = orjson.dumps({"status": "ok"})
    return Response(body, 200, response_headers(new_request_id()), media_type="application/json")


async def http_error(request: Request, exc: Exception) -> Response:
    """404 and 405 from routing, in the API's error format."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    message = f"No API operation at {request.method} {request.url.path}; send POST /"
    response = error_response(UnknownOperationException(message), new_request_id(), status)
    if status == 405:
        response.headers["Allow"] = "POST"
    return response


def api_routes(service: OperationHandler, settings: ApiSettings | None = None) -> list[BaseRoute]:
    """The API's routes, for composing with other routes (the console) in one app."""
    settings = settings or ApiSettings()
    return _routes(service, ApiEndpoint(service, settings), settings)


def _routes(
    service: OperationHandler, endpoint: ApiEndpoint, settings: ApiSettings
) -> list[BaseRoute]:
    from stepwell.api.embedded import ServicesEndpoint, embedded_apis  # imports this module
    from stepwell.api.s3 import s3_routes  # imports this module

    apis = embedded_apis(service)
    root: list[BaseRoute] = [Route("/", endpoint.invoke, methods=["POST"])]
    if apis is not None:  # DynamoDB, SQS and SNS share "/" (api/routing.py)
        services = ServicesEndpoint(apis, settings, endpoint._threads.run, endpoint.body_reader)
        root = services.routes(endpoint.invoke)
    # S3's route goes first: it takes only requests that are S3's (api/s3.py).
    s3 = s3_routes(service, settings, endpoint._threads.run, endpoint._budget)
    return [*s3, *root, Route("/health", health, methods=["GET"])]


STEP_FUNCTIONS_TARGET = f"{MODEL.target_prefix}."


class ApiApp(Starlette):
    """Starlette, with a short way in for Step Functions calls.

    ``POST /`` with an ``X-Amz-Target`` of ``AWSStepFunctions.*`` goes straight to the
    endpoint, past the middleware stack and the router, as raw ASGI: no Starlette
    ``Request``, ``Headers`` or ``Response`` objects, the headers read in one pass
    (``RequestHead``). The endpoint answers every outcome itself and never raises, so the
    call needs none of that work (routing, error pages); the host and cross-site checks
    (``hosts``) stay. Every other request takes the full way.
    """

    def __init__(self, endpoint: ApiEndpoint, hosts: HostCheck | None, **options: Any) -> None:
        super().__init__(**options)
        self._endpoint = endpoint
        self._hosts = hosts

    @property
    def endpoint(self) -> ApiEndpoint:
        """The Step Functions endpoint, for a server that reaches it without ASGI
        (``api.connection``)."""
        return self._endpoint

    def takes(self, head: RequestHead) -> bool:
        """Whether a ``POST /`` with these headers is a Step Functions call the endpoint
        answers directly: the target is one, and the host checks let it through."""
        return (
            head.target is not None
            and head.target.startswith(STEP_FUNCTIONS_TARGET)
            and (
                self._hosts is None
                or self._hosts.refusal(head.host, head.origin, head.fetch_site) is None
            )
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/" and scope["method"] == "POST":
            head = RequestHead.read(scope["headers"])
            if self.takes(head):
                answer = await self._endpoint.answer(scope, receive, head)
                await answer.send(send)
                return
        await super().__call__(scope, receive, send)


def create_app(service: OperationHandler, settings: ApiSettings | None = None) -> Starlette:
    """The API as an ASGI app serving ``service`` (routes added later share its checks)."""
    settings = settings or ApiSettings()
    open_to_hosts = not settings.authentication_enabled
    middleware = (
        [Middleware(AllowedHosts, allowed_hosts=settings.allowed_hosts)] if open_to_hosts else []
    )
    endpoint = ApiEndpoint(service, settings)
    return ApiApp(
        endpoint,
        HostCheck(settings.allowed_hosts) if open_to_hosts else None,
        routes=_routes(service, endpoint, settings),
        middleware=middleware,
        exception_handlers={404: http_error, 405: http_error},
    )
