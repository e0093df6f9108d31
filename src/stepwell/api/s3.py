"""S3's REST API on Stepwell's endpoint, over the same buckets Task states and Maps use.

Which requests are S3's (``S3Route``, placed before every other route):

1. a SigV4 ``Authorization`` (or a presigned URL's ``X-Amz-Credential``) whose
   credential scope names ``s3`` (any other service's scope goes on to the other APIs);
2. else never a request with ``X-Amz-Target`` or a form body (the JSON and query APIs),
   nor one whose path another route takes, whatever the method (``/console``,
   ``/health``, Lambda's ``/2015-03-31/…``: ``PUT /health`` is a 405, not a bucket);
3. else a ``Host`` that is a bucket's virtual host (``b.localhost:8083``,
   ``b.s3.localhost:8083``; ``hosts.virtual_host_bucket``), where ``POST /`` is S3's too;
4. else, when authentication is off, the rest: ``GET /`` lists buckets, ``PUT /bucket``
   creates one, ``GET /bucket/key`` reads. With SigV4 on, an unsigned request cannot be
   a valid S3 call, and other paths keep their 404.

A request is then read as S3 reads it: bucket and key from the virtual host or the path,
the operation from the model's URI templates (``api/services/s3.py``), SigV4 (S3's
variant: the path signed as sent, the payload hash declared in ``x-amz-content-sha256``)
when credentials are configured, members from the URI, headers, query and XML body as
the model places them (``protocols/rest_xml.py``), validated by the model's constraints.

Bodies are streamed both ways, so memory per request is bounded by about two chunks of
1 MiB whatever the object's size: ``PutObject`` passes the body (decoded from
``aws-chunked`` if need be, ``s3_uploads``) to the store chunk by chunk and publishes the
object when the body has ended and its digests match; ``GetObject`` sends the object's
chunks (or those of its ``Range``: HTTP 206 with ``Content-Range``) as it reads them.
An upload takes two chunks from the request-bytes budget while it runs. The largest
object is ``ApiSettings.max_object_bytes`` (5 GiB, S3's limit for one PUT). Other
operations have small bodies and read them within the usual request limits.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, Final, Protocol, TypeVar, runtime_checkable
from urllib.parse import unquote

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from stepwell.api.app import http_request
from stepwell.api.auth import CheckedHeaders, HttpRequest, SigV4Verifier, signing_key
from stepwell.api.aws_chunked import SIGNED_STREAMING, ChunkSignatures
from stepwell.api.embedded import QUEUE_URL_ROUTE, RunInThread
from stepwell.api.hosts import LOOPBACK_NAMES, host_name, virtual_host_bucket
from stepwell.api.limits import BodyReader, BytesInFlight
from stepwell.api.protocol import InternalFailure, new_request_id
from stepwell.api.protocols.base import WireError, wire_error
from stepwell.api.protocols.query import FORM_CONTENT_TYPE
from stepwell.api.protocols.rest_xml import (
    CONTENT_TYPE,
    RequestDecoder,
    ResponseEncoder,
    RestXmlError,
    check_response_overrides,
    error_document,
)
from stepwell.api.routing import credential_service
from stepwell.api.s3_presigned import (
    MAX_EXPIRES_SECONDS,
    as_header_signed,
    is_presigned,
    query_credential_service,
)
from stepwell.api.s3_uploads import UploadBody
from stepwell.api.services.s3 import API, MATCHER, OPERATIONS, query_parameters
from stepwell.api.settings import ApiSettings
from stepwell.integrations.services.s3 import ObjectRead, S3Client
from stepwell.integrations.services.s3_bodies import CHUNK_SIZE, BodyWriter
from stepwell.service.errors import ServiceError

logger = logging.getLogger("stepwell.api")

T = TypeVar("T")
# The front end's own errors as S3 names them: (code, HTTP status).
S3_CODES: Final = {
    "ValidationException": ("InvalidArgument", 400),
    "SerializationException": ("InvalidArgument", 400),
    "RequestEntityTooLargeException": ("EntityTooLarge", 400),
    "RequestTimeoutException": ("RequestTimeout", 400),
    "RequestAbortedException": ("IncompleteBody", 400),
    "ThrottlingException": ("SlowDown", 503),
    "InvalidSignatureException": ("SignatureDoesNotMatch", 403),
    "UnrecognizedClientException": ("InvalidAccessKeyId", 403),
    "MissingAuthenticationTokenException": ("AccessDenied", 403),
    "IncompleteSignatureException": ("AuthorizationHeaderMalformed", 400),
    "InternalFailure": ("InternalError", 500),
}
REQUEST_ID_HEADERS: Final = ("x-amz-request-id", "x-amzn-RequestId")
# Operations whose body is an object's bytes, streamed to the store.
STREAMED_UPLOADS: Final = frozenset({"PutObject", "UploadPart"})
# Operations that need Content-MD5 or an x-amz-checksum-* header (S3 API Reference,
# "DeleteObjects": without one, 400 InvalidRequest "Missing required header ...").
CHECKSUM_REQUIRED: Final = frozenset({"DeleteObjects"})


@runtime_checkable
class S3Backend(Protocol):
    """The embedded S3 as the endpoint calls it (``service.embedded_apis.EmbeddedApis``)."""

    @property
    def s3(self) -> S3Client: ...

    def handle(
        self, service: str, operation: str, request: dict[str, Any], endpoint: str
    ) -> dict[str, Any]: ...

    def s3_step(self, step: Callable[..., T], *args: Any) -> T: ...

    def next_chunk(self, chunks: Iterator[bytes]) -> bytes | None: ...


class S3Endpoint:
    """Serves S3's REST API."""

    def __init__(
        self,
        backend: S3Backend,
        settings: ApiSettings,
        run: RunInThread,
        budget: BytesInFlight,
    ) -> None:
        self._backend = backend
        self._settings = settings
        self._run = run
        self._budget = budget
        self._decoder = RequestDecoder(API.model)
        self._encoder = ResponseEncoder(API.model)
        self._hosts = LOOPBACK_NAMES | {name.lower() for name in settings.allowed_hosts}
        self._verifier = self._new_verifier(settings.max_clock_skew_seconds)
        # A presigned URL may be used until it expires, up to 7 days after signing.
        self._presigned_verifier = self._new_verifier(MAX_EXPIRES_SECONDS)

    def _new_verifier(self, max_skew_seconds: int) -> SigV4Verifier | None:
        settings = self._settings
        if not settings.authentication_enabled:
            return None
        return SigV4Verifier(
            settings.credentials,
            service="s3",
            clock=settings.clock,
            max_skew_seconds=max_skew_seconds,
        )

    # --- which requests ------------------------------------------------------------------------

    def claims(self, scope: Scope, others: list[BaseRoute]) -> bool:
        """Whether a request is S3's (see the module's docstring for the order)."""
        headers = Headers(scope=scope)
        service = credential_service(headers.get("authorization"))
        query = scope.get("query_string", b"").decode("latin-1")
        if service is None and is_presigned(query):
            service = query_credential_service(query)
        if service is not None:
            return service == "s3"
        content_type = headers.get("content-type", "").partition(";")[0].strip().lower()
        if "x-amz-target" in headers or content_type == FORM_CONTENT_TYPE:
            return False
        virtual = self.virtual_bucket(headers) is not None
        if not virtual and self._verifier is not None:  # with SigV4 on, S3's are signed
            return False
        return not any(_taken(route, scope, virtual) for route in others)

    def virtual_bucket(self, headers: Headers) -> str | None:
        name = host_name(headers.get("host", "")) or ""
        return virtual_host_bucket(name, self._hosts)

    # --- serving -------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.serve(Request(scope, receive))
        try:
            await response(scope, receive, send)
        except* _StreamCut:
            pass  # the response stays incomplete: the server closes the connection

    async def serve(self, request: Request) -> Response:
        """Serve one S3 call; never raises."""
        request_id = new_request_id()
        settings = self._settings
        reader = BodyReader(self._budget, settings.max_request_bytes, settings.body_timeout_seconds)
        try:
            return await self._serve(request, request_id, reader)
        except ServiceError as error:
            return self._error(request, error, request_id)
        except Exception:
            logger.exception("Internal failure in S3 (request id %s)", request_id)
            failure = InternalFailure("We encountered an internal error. Please try again.")
            return self._error(request, failure, request_id)
        finally:
            reader.release()  # the body's bytes count until the operation has answered

    async def _serve(self, request: Request, request_id: str, reader: BodyReader) -> Response:
        bucket, key = self._target(request)
        query = query_parameters(request.url.query)
        target = "service" if not bucket else "object" if key else "bucket"
        copy = "x-amz-copy-source" in request.headers
        operation = self._operation(request, MATCHER.operation(request.method, target, query, copy))
        checked = self._check_headers(request)
        uri = {"Bucket": bucket, "Key": key}
        if operation in STREAMED_UPLOADS:
            members = _without_aws_chunked(self._members(operation, uri, request, query, b""))
            result = await self._put(request, operation, members, checked)
        else:
            body = await self._small_body(request, checked, reader)
            if operation in CHECKSUM_REQUIRED:
                _require_checksum(request.headers)
            members = self._members(operation, uri, request, query, body)
            if operation == "GetObject":
                return await self._get(members, request_id)
            endpoint = str(request.base_url).rstrip("/")
            result = await self._run(
                False, self._backend.handle, "s3", operation, members, endpoint
            )
        return self._result(operation, result, request_id)

    def _target(self, request: Request) -> tuple[str, str]:
        """Bucket and key, from the virtual host or the path (keys keep their slashes)."""
        raw = request.scope.get("raw_path") or request.scope["path"].encode()
        try:
            path = raw.decode("utf-8").partition("?")[0]
        except UnicodeDecodeError:
            raise RestXmlError("InvalidURI", "Couldn't parse the specified URI.") from None
        bucket = self.virtual_bucket(request.headers)
        if bucket is not None:
            return bucket, _unquote(path[1:])
        first, _, rest = path[1:].partition("/")
        return _unquote(first), _unquote(rest)

    def _operation(self, request: Request, operation: str | None) -> str:
        """The matched operation, if it is there and Stepwell implements it."""
        if operation is None:
            raise RestXmlError(
                "MethodNotAllowed",
                f"The specified method is not allowed against this resource: "
                f"{request.method} {request.url.path}",
                405,
            )
        if operation not in OPERATIONS:
            raise RestXmlError(
                "NotImplemented",
                f"Stepwell's embedded S3 does not implement {operation}.",
                501,
            )
        return operation

    def _signed(self, request: Request, body: bytes) -> HttpRequest:
        """The request as the signature covers it (a presigned URL's as if in headers)."""
        signed = http_request(request, body)
        if is_presigned(signed.query_string):
            return as_header_signed(signed, self._settings.clock)
        return signed

    def _check_headers(self, request: Request) -> CheckedHeaders | None:
        if self._verifier is None or self._presigned_verifier is None:
            return None
        if is_presigned(request.url.query):
            return self._presigned_verifier.check_headers(self._signed(request, b""))
        if request.headers.get("x-amz-content-sha256") is None:
            raise RestXmlError(
                "InvalidRequest", "Missing required header for this request: x-amz-content-sha256"
            )
        return self._verifier.check_headers(http_request(request, b""))

    async def _small_body(
        self, request: Request, checked: CheckedHeaders | None, reader: BodyReader
    ) -> bytes:
        reader.check_declared_size(request)
        body = await reader.read(request)
        if self._verifier is not None and checked is not None:
            self._verifier.verify_signature(self._signed(request, body), checked)
            declared = request.headers.get("x-amz-content-sha256", "")
            if len(declared) == 64 and declared != hashlib.sha256(body).hexdigest():
                raise RestXmlError(
                    "XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                )
        return body

    def _members(
        self,
        operation: str,
        uri: Mapping[str, str],
        request: Request,
        query: Mapping[str, str],
        body: bytes,
    ) -> dict[str, Any]:
        members = self._decoder.members(operation, uri, request.headers, query, body)
        check_response_overrides(members)
        return API.validators[operation](members)

    # --- objects -------------------------------------------------------------------------------

    async def _put(
        self,
        request: Request,
        operation: str,
        members: dict[str, Any],
        checked: CheckedHeaders | None,
    ) -> dict[str, Any]:
        """PutObject or UploadPart: stream the body into the store, then publish it."""
        signatures = self._chunk_signatures(request, checked)
        settings = self._settings
        body = UploadBody(
            request, settings.max_object_bytes, settings.body_timeout_seconds, signatures
        )
        step, s3 = self._backend.s3_step, self._backend.s3
        reserved = 2 * CHUNK_SIZE
        self._budget.take(reserved)
        try:
            if operation == "UploadPart":
                upload: BodyWriter = await self._run(False, step, s3.begin_part, members)
            else:
                bucket, key = members["Bucket"], members["Key"]
                upload = await self._run(False, step, s3.begin_put, bucket, key)
            try:
                await self._write(body, upload)
            except BaseException:
                await self._run(False, step, upload.abort)
                raise
            if operation == "UploadPart":
                done = await self._run(False, step, s3.finish_part, upload, members)
            else:
                done = await self._run(False, step, s3.finish_put, upload, bucket, key, members)
            result: dict[str, Any] = done
            return result
        finally:
            self._budget.give_back(reserved)

    async def _write(self, body: UploadBody, upload: BodyWriter) -> None:
        pending = bytearray()
        async for data in body.chunks():
            pending += data
            if len(pending) >= CHUNK_SIZE:
                await self._run(False, self._backend.s3_step, upload.write, bytes(pending))
                pending.clear()
        body.verify()
        if pending:
            await self._run(False, self._backend.s3_step, upload.write, bytes(pending))

    def _chunk_signatures(
        self, request: Request, checked: CheckedHeaders | None
    ) -> ChunkSignatures | None:
        if checked is None:
            return None
        if self._verifier is not None:  # the seed signature covers the headers only
            self._verifier.verify_signature(self._signed(request, b""), checked)
        if request.headers.get("x-amz-content-sha256", "").startswith(SIGNED_STREAMING):
            auth = checked.authorization
            key = signing_key(checked.secret, auth.scope_date, auth.region, auth.service)
            return ChunkSignatures(key, checked.amz_date, auth.scope, auth.signature)
        return None

    async def _get(self, members: dict[str, Any], request_id: str) -> Response:
        read: ObjectRead = await self._run(
            False, self._backend.s3_step, self._backend.s3.open_object, members
        )
        headers = self._headers("GetObject", read.head, request_id)
        return StreamingResponse(self._chunks(read), 206 if read.partial else 200, headers=headers)

    async def _chunks(self, read: ObjectRead) -> AsyncIterator[bytes]:
        if read.first:
            yield read.first
        try:
            while (
                chunk := await self._run(False, self._backend.next_chunk, read.rest)
            ) is not None:
                yield chunk
        except ServiceError as error:
            # BodyChanged: overwritten or deleted while being sent. The status is gone: the
            # client gets a short body on a closed connection (its SDK retries), never a
            # mix of two bodies.
            logger.warning("GetObject stopped while sending the object: %s", error.message)
            raise _StreamCut() from None

    # --- responses -----------------------------------------------------------------------------

    def _headers(
        self, operation: str, result: Mapping[str, Any], request_id: str
    ) -> dict[str, str]:
        headers = self._encoder.headers(operation, result)
        headers.update({name: request_id for name in REQUEST_ID_HEADERS})
        return headers

    def _result(self, operation: str, result: Mapping[str, Any], request_id: str) -> Response:
        headers = self._headers(operation, result, request_id)
        status = int(API.model.operations[operation]["http"].get("responseCode", 200))
        if operation in ("HeadObject", "HeadBucket"):
            return Response(b"", status, headers)
        if operation == "CreateBucket" and "Location" in result:
            headers["Location"] = str(result["Location"])
        body = self._encoder.document(operation, result)
        media = CONTENT_TYPE if body else None
        return Response(body, status, headers, media_type=media)

    def _error(self, request: Request, error: ServiceError, request_id: str) -> Response:
        wire = s3_error(error)
        headers = {name: request_id for name in REQUEST_ID_HEADERS}
        if _has_body(request):  # maybe unread: the connection cannot carry another request
            headers["Connection"] = "close"
        if request.method == "HEAD" or wire.status == 304:  # no body: the status says it all
            return Response(b"", wire.status, headers)
        body = error_document(wire, request_id)
        return Response(body, wire.status, headers, media_type=CONTENT_TYPE)


def _require_checksum(headers: Headers) -> None:
    """Refuse a request without ``Content-MD5`` or an ``x-amz-checksum-*`` header."""
    if "content-md5" in headers or any(name.startswith("x-amz-checksum-") for name in headers):
        return
    raise RestXmlError("InvalidRequest", "Missing required header for this request: Content-MD5")


class _StreamCut(Exception):
    """A GetObject stream stopped before its end (the object changed meanwhile)."""


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length", "0")
    return length != "0" or "transfer-encoding" in request.headers


def _without_aws_chunked(members: dict[str, Any]) -> dict[str, Any]:
    """``Content-Encoding: aws-chunked`` is how the body travelled, not what it is."""
    codings = [c.strip() for c in str(members.get("ContentEncoding", "")).split(",")]
    kept = ",".join(c for c in codings if c and c != "aws-chunked")
    members.pop("ContentEncoding", None)
    return {**members, "ContentEncoding": kept} if kept else members


def s3_error(error: ServiceError) -> WireError:
    """An error as S3 names it: the front end's own errors get S3's codes."""
    wire = wire_error(error)
    code, status = S3_CODES.get(wire.exception, (wire.code, wire.status))
    if error.message.startswith(("Signature expired", "Signature not yet current")):
        code = "RequestTimeTooSkewed"
    return WireError(wire.exception, code, wire.message, status, wire.fault, wire.extra)


def _unquote(text: str) -> str:
    try:
        return unquote(text, errors="strict") if "%" in text else text
    except UnicodeDecodeError:
        raise RestXmlError("InvalidURI", "Couldn't parse the specified URI.") from None


def _taken(route: BaseRoute, scope: Scope, virtual: bool) -> bool:
    """Whether another route owns this request's path (a wrong method included).

    ``/{account}/{queue}`` is SQS's only for form posts (checked before). ``POST /`` is
    Step Functions' only on a loopback name: on a bucket's virtual host it is S3's
    (``POST /?delete``), and ``GET /`` (ListBuckets) is S3's everywhere.
    """
    if getattr(route, "name", None) == QUEUE_URL_ROUTE:
        return False
    match = route.matches(scope)[0]
    if getattr(route, "path", None) == "/":
        return not virtual and match == Match.FULL
    return match != Match.NONE


class S3Route(BaseRoute):
    """A route that takes S3's requests before any other route sees them."""

    def __init__(self, endpoint: S3Endpoint) -> None:
        self.endpoint = endpoint

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            router = scope.get("router")
            others = [r for r in getattr(router, "routes", []) if r is not self]
            if self.endpoint.claims(scope, others):
                return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.endpoint(scope, receive, send)


def s3_routes(
    service: object, settings: ApiSettings, run: RunInThread, budget: BytesInFlight
) -> list[BaseRoute]:
    """The S3 route, when the service has the embedded S3."""
    backend = getattr(service, "embedded_apis", None)
    if not isinstance(backend, S3Backend):
        return []
    return [S3Route(S3Endpoint(backend, settings, run, budget))]
