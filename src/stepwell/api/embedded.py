"""The request pipeline of the embedded services' APIs (DynamoDB, SQS, SNS on ``POST /``;
Lambda on its REST paths, ``/2015-03-31/functions/…``).

Read the body (bounded, as for Step Functions), route it to an API and codec
(``routing.py``), verify the SigV4 signature for that API's service name when
credentials are configured, decode and validate, run the operation in a worker
thread, encode. Every outcome is a response in the request's protocol; an unexpected
exception is a logged ``500 InternalFailure``, never a traceback.

Long polls (SQS ``ReceiveMessage`` with ``WaitTimeSeconds``) hold no thread while they
wait: each attempt is one quick receive in a worker thread, and between attempts the
request awaits an asyncio event that a send to that queue sets (from any thread:
the API, a Task state, Python code), re-checking at least every second for what no
event announces (a delay ending, a message becoming visible again, another process).
Without ``WaitTimeSeconds`` the queue's ``ReceiveMessageWaitTimeSeconds`` applies; it is
looked up only when the first receive came back empty.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import replace
from typing import Any, Final, Protocol, runtime_checkable
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from stepwell.api.app import error_response, http_request
from stepwell.api.auth import HttpRequest, SigV4Verifier
from stepwell.api.limits import BodyReader
from stepwell.api.protocol import InternalFailure, new_request_id
from stepwell.api.protocols.base import Codec, DecodedCall, ServiceApi, wire_error
from stepwell.api.protocols.query import error_response as query_error_response
from stepwell.api.routing import Router, is_form
from stepwell.api.services import SERVICE_APIS
from stepwell.api.settings import ApiSettings
from stepwell.service.errors import ServiceError

logger = logging.getLogger("stepwell.api")

RECHECK_SECONDS: Final = 1.0
# The route of SQS query requests POSTed to a queue URL: only form bodies are for it
# (any other POST /A/B is S3's, e.g. CreateMultipartUpload of key B in bucket A).
QUEUE_URL_ROUTE: Final = "sqs-queue-url"
# Query-protocol codes of the errors a form request gets before it reaches any API.
UNROUTED_QUERY_CODES: Final = {"UnknownOperationException": "InvalidAction"}
REST_METHODS: Final = ["GET", "POST", "PUT", "DELETE", "PATCH"]
RunInThread = Callable[..., Awaitable[Any]]
Endpoint = Callable[[Request], Awaitable[Response]]


@runtime_checkable
class EmbeddedApiHandler(Protocol):
    """The embedded services' operations (``service.embedded_apis.EmbeddedApis``)."""

    def handle(
        self, service: str, operation: str, request: dict[str, Any], endpoint: str
    ) -> dict[str, Any]: ...

    def on_message_sent(self, listener: Callable[[str], None]) -> None: ...

    def default_wait_seconds(self, service: str, request: dict[str, Any]) -> float: ...


def embedded_apis(service: object) -> EmbeddedApiHandler | None:
    """The embedded services behind a Step Functions service, if it has any."""
    candidate = getattr(service, "embedded_apis", None)
    return candidate if isinstance(candidate, EmbeddedApiHandler) else None


class QueueWaiters:
    """Asyncio events that long polls wait on, set when a message is sent to their queue."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._events: dict[str, set[asyncio.Event]] = {}

    @asynccontextmanager
    async def watch(self, key: str) -> AsyncIterator[asyncio.Event]:
        """An event set by every ``notify(key)`` while the block runs."""
        self._loop = asyncio.get_running_loop()
        event = asyncio.Event()
        self._events.setdefault(key, set()).add(event)
        try:
            yield event
        finally:
            waiting = self._events.get(key)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._events[key]

    def notify(self, key: str) -> None:
        """Wake the long polls on ``key``; safe to call from any thread."""
        loop = self._loop
        if loop is not None and key in self._events and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake, key)

    def _wake(self, key: str) -> None:
        for event in self._events.get(key, ()):
            event.set()


class ServicesEndpoint:
    """Serves the embedded services' APIs."""

    def __init__(
        self,
        apis: EmbeddedApiHandler,
        settings: ApiSettings,
        run: RunInThread,
        body_reader: Callable[[], BodyReader],
    ) -> None:
        self._apis = apis
        self._body_reader = body_reader
        self._settings = settings
        self._run = run
        self.router = Router(SERVICE_APIS)
        self._verifiers = {
            api.name: SigV4Verifier(
                settings.credentials,
                service=api.signing_name,
                clock=settings.clock,
                max_skew_seconds=settings.max_clock_skew_seconds,
            )
            for api in SERVICE_APIS
            if settings.authentication_enabled
        }
        self.waiters = QueueWaiters()
        apis.on_message_sent(self.waiters.notify)

    def routes(self, step_functions: Endpoint) -> list[BaseRoute]:
        """``POST /`` shared with Step Functions, SQS's queue URLs for query clients and the
        REST APIs' paths (Lambda's ``/2015-03-31/…``)."""

        async def root(request: Request) -> Response:
            if self.router.claims(request.headers):
                return await self.invoke(request)
            return await step_functions(request)

        rest = [
            Route(prefix + "{rest_path:path}", self.invoke, methods=REST_METHODS)
            for prefix in self.router.rest_prefixes
        ]
        return [
            *rest,
            Route("/", root, methods=["POST"]),
            Route("/{account}/{queue}", self.invoke, methods=["POST"], name=QUEUE_URL_ROUTE),
        ]

    async def invoke(self, request: Request) -> Response:
        """Serve one call; never raises."""
        request_id = new_request_id()
        routed: tuple[ServiceApi, Codec] | None = None
        reader = self._body_reader()  # the same size, budget and time limits as Step Functions
        try:
            reader.check_declared_size(request)
            body = await reader.read(request)
            signed = http_request(request, body)
            wire = _with_queue_path(signed, request.path_params)
            routed = api, codec = self.router.route(wire)
            verifier = self._verifiers.get(api.name)
            if verifier is not None:
                verifier.verify(signed)
            call = codec.decode(api, wire)
            endpoint = str(request.base_url).rstrip("/")
            result = await self._call(api, call, endpoint)
            return codec.encode_result(api, call.operation, result, request_id)
        except ServiceError as error:
            return self._error(request, routed, error, request_id)
        except Exception:
            logger.exception("Internal failure in an embedded API (request id %s)", request_id)
            failure = InternalFailure("An internal error occurred.")
            return self._error(request, routed, failure, request_id)
        finally:
            reader.release()

    def _error(
        self,
        request: Request,
        routed: tuple[ServiceApi, Codec] | None,
        error: ServiceError,
        request_id: str,
    ) -> Response:
        if routed is not None:
            api, codec = routed
            return codec.encode_error(api, wire_error(error), request_id)
        if is_form(request.headers.get("content-type")):  # a query client reads XML
            code = UNROUTED_QUERY_CODES.get(error.aws_type, error.aws_type)
            return query_error_response("", code, wire_error(error), request_id)
        return error_response(error, request_id)

    async def _call(self, api: ServiceApi, call: DecodedCall, endpoint: str) -> dict[str, Any]:
        result = await self._once(api, call, endpoint)
        poll = api.long_poll
        if poll is None or poll.operation != call.operation or not poll.empty(result):
            return result
        seconds = poll.seconds(call.members)
        if seconds is None:  # the queue's ReceiveMessageWaitTimeSeconds, only when it matters
            seconds = await self._run(
                False, self._apis.default_wait_seconds, api.name, call.members
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        async with self.waiters.watch(poll.key(call.members)) as sent:
            while (remaining := deadline - loop.time()) > 0:
                with suppress(TimeoutError):
                    await asyncio.wait_for(sent.wait(), min(remaining, RECHECK_SECONDS))
                sent.clear()
                result = await self._once(api, call, endpoint)
                if not poll.empty(result):
                    break
        return result

    async def _once(self, api: ServiceApi, call: DecodedCall, endpoint: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._run(
            False, self._apis.handle, api.name, call.operation, call.members, endpoint
        )
        return result


def _with_queue_path(request: HttpRequest, path: Mapping[str, Any]) -> HttpRequest:
    """A query request POSTed to a queue URL names its queue (and SQS) by the path."""
    if "queue" not in path:
        return request
    url = f"http://localhost/{path['account']}/{path['queue']}"
    defaults = urlencode({"QueueUrl": url, "Version": "2012-11-05"})
    query = f"{defaults}&{request.query_string}" if request.query_string else defaults
    return replace(request, query_string=query)
