"""The Lambda API's operations (Invoke, ListFunctions, GetFunction) over Stepwell's functions.

The functions are the ones Task states already call (``integrations.functions``):
Python callables registered with ``--functions`` or ``@lambda_function``, and template
functions that ``stepwell up`` runs in worker processes of their own. This module adds
what a Lambda API caller sees on top, as the Lambda API Reference describes it:

* a function is named by its name, its ARN or a partial ARN (``ACCOUNT:function:NAME``),
  each with an optional version or alias; only ``$LATEST`` exists here, so any other
  qualifier is ``ResourceNotFoundException`` ("Function not found: arn:…:NAME:QUALIFIER");
* ``RequestResponse`` answers 200 with the function's result, or with the error payload
  and ``FunctionError: Unhandled``; ``LogType: Tail`` adds the base64 of the last 4 KB of
  the invocation's log (``START``/``END``/``REPORT`` lines around what the function
  printed, when its runtime keeps output: worker processes do, in-process callables not);
* ``Event`` answers 202 and runs the function later (``lambda_events``), ``DryRun`` 204;
* at most ``SYNC_CONCURRENCY`` ``RequestResponse`` runs at a time: each holds one of the
  API's worker threads (``api.settings.ApiSettings.worker_threads``, 40) for as long as
  the function runs, so past the limit Invoke answers ``429 TooManyRequestsException``
  (``Reason: ConcurrentInvocationLimitExceeded``) before anything runs, as Lambda does
  when the concurrency limit is reached, and long functions never starve other callers;
* a payload that is not JSON is ``InvalidRequestContentException``, before anything runs;
* ``GetFunction`` and ``ListFunctions`` describe each function as ``FunctionConfiguration``:
  a template function with its template's runtime, handler, timeout, memory and
  environment; a Python callable as ``python3.X`` with handler ``module.function``, no
  environment and Lambda's default timeout and memory (nothing enforces them in-process).
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import orjson

from stepwell.integrations.functions import FunctionRegistry, Outcome
from stepwell.integrations.lambda_runtime import FunctionSpec
from stepwell.service.errors import ServiceError
from stepwell.service.lambda_events import AsyncInvocations

LATEST: Final = "$LATEST"
MAX_LOG_BYTES: Final = 4096
# "For synchronous invocations, the maximum payload size is 6 MB. For asynchronous
# invocations, the maximum payload size is 1 MB." (API Reference, Invoke); the limit on
# a synchronous response is the same 6 MB.
MAX_SYNC_PAYLOAD: Final = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD: Final = 1024 * 1024
MAX_CLIENT_CONTEXT: Final = 3583
RESPONSE_TOO_LARGE: Final = Outcome(
    error="Function.ResponseSizeTooLarge",
    cause=orjson.dumps(
        {
            "errorMessage": "Response payload size exceeded maximum allowed payload size "
            f"({MAX_SYNC_PAYLOAD} bytes).",
            "errorType": "Function.ResponseSizeTooLarge",
        }
    ).decode(),
)
# The model's NamespacedFunctionName pattern, with its parts named.
_FUNCTION_REFERENCE: Final = re.compile(
    r"(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?"
    r"(?:(?P<region>[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?(?:function:)?(?P<name>[a-zA-Z0-9-_.]+)"
    r"(?::(?P<qualifier>\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)
MAX_LIST_ITEMS: Final = 50  # "ListFunctions returns a maximum of 50 items in each response"
DEFAULT_TIMEOUT: Final = 3
DEFAULT_MEMORY: Final = 128
SYNC_CONCURRENCY: Final = 10  # a quarter of the API's worker threads


class LambdaError(ServiceError):
    """An error of the Lambda API, as its REST-JSON protocol puts it on the wire."""

    def __init__(self, exception: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.aws_type = exception
        self.code = exception
        self.status = status
        self.extra = {"Type": "User" if status < 500 else "Service"}


class TooManyRequests(LambdaError):
    """Invoke past the concurrency limit: refused before the function runs (the caller's
    SDK retries it with back-off)."""

    def __init__(self) -> None:
        super().__init__("TooManyRequestsException", "Rate Exceeded.", 429)
        self.extra["Reason"] = "ConcurrentInvocationLimitExceeded"


@dataclass(frozen=True, slots=True)
class FunctionRef:
    """A function as a caller named it: its name and the qualifier it asked for."""

    name: str
    qualifier: str | None


class LambdaFunctions:
    """The Lambda API over one ``FunctionRegistry``."""

    def __init__(
        self,
        functions: FunctionRegistry,
        events: AsyncInvocations,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.functions = functions
        self.events = events
        self._clock = clock
        self._seen: dict[str, float] = {}  # when a function was first described: LastModified
        self._sync_slots = threading.BoundedSemaphore(SYNC_CONCURRENCY)
        events.run = self._run_event
        events.has = lambda name: functions.lookup(name) is not None

    def handle(self, operation: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """Run one operation with its validated members."""
        method = OPERATIONS.get(operation)
        if method is None:
            raise LambdaError(
                "UnknownOperationException",
                f"Stepwell's embedded Lambda does not implement {operation}",
                404,
            )
        return method(self, request)

    # ----------------------------------------------------------------- Invoke

    def invoke(self, request: Mapping[str, Any]) -> dict[str, Any]:
        ref = self._existing(str(request["FunctionName"]), request.get("Qualifier"))
        kind = request.get("InvocationType") or "RequestResponse"
        _check_size(request.get("Payload"), kind)
        _check_client_context(request.get("ClientContext"))
        event = _event(request.get("Payload"))
        if kind == "DryRun":
            return {"StatusCode": 204}
        if kind == "Event":
            self.events.submit(ref.name, event, _timeout(self.functions.lookup(ref.name)))
            return {"StatusCode": 202}
        request_id = str(uuid.uuid4())
        tail = request.get("LogType") == "Tail"
        if not self._sync_slots.acquire(blocking=False):
            raise TooManyRequests()
        try:
            outcome, log = self._run(ref.name, event, request_id, keep_log=tail)
        finally:
            self._sync_slots.release()
        response = {"StatusCode": 200, "ExecutedVersion": LATEST, **_answer(outcome)}
        if tail:
            response["LogResult"] = _log_result(log)
        return response

    def _run(
        self, name: str, event: Any, request_id: str, *, keep_log: bool
    ) -> tuple[Outcome, list[str]]:
        lines: list[str] = []
        started = time.monotonic()
        outcome = self.functions.call(name, event, request_id, lines if keep_log else None)
        milliseconds = (time.monotonic() - started) * 1000
        log = [f"START RequestId: {request_id} Version: {LATEST}", *lines]
        log.append(f"END RequestId: {request_id}")
        log.append(
            f"REPORT RequestId: {request_id}\tDuration: {milliseconds:.2f} ms\t"
            f"Billed Duration: {max(1, round(milliseconds))} ms\t"
            f"Memory Size: {_memory(self.functions.lookup(name))} MB\t"
        )
        return outcome, log

    def _run_event(self, name: str, event: Any) -> Outcome:
        outcome, _ = self._run(name, event, str(uuid.uuid4()), keep_log=False)
        return outcome

    # ----------------------------------------------------------------- describing

    def get_function(self, request: Mapping[str, Any]) -> dict[str, Any]:
        ref = self._existing(str(request["FunctionName"]), request.get("Qualifier"))
        fn = self.functions.lookup(ref.name)
        return {
            "Configuration": self._configuration(ref.name, fn),
            "Code": {"RepositoryType": "S3", "Location": _code_location(fn)},
        }

    def list_functions(self, request: Mapping[str, Any]) -> dict[str, Any]:
        names = self.functions.names()
        start = _marker_position(request.get("Marker"), names)
        size = min(int(request.get("MaxItems") or MAX_LIST_ITEMS), MAX_LIST_ITEMS)
        page = names[start : start + size]
        response: dict[str, Any] = {
            "Functions": [self._configuration(n, self.functions.lookup(n)) for n in page]
        }
        if start + size < len(names):
            response["NextMarker"] = _marker(names[start + size])
        return response

    def _configuration(self, name: str, fn: Callable[..., Any] | None) -> dict[str, Any]:
        spec = _spec(fn)
        seen = self._seen.setdefault(name, self._clock())
        configuration: dict[str, Any] = {
            "FunctionName": name,
            "FunctionArn": self.functions.arn(name),
            "Runtime": spec.runtime if spec else _python_runtime(),
            "Role": f"arn:aws:iam::{self.functions.account}:role/stepwell-lambda",
            "Handler": spec.handler if spec else _python_handler(fn),
            "CodeSize": 0,
            "Description": "",
            "Timeout": _timeout(fn),
            "MemorySize": _memory(fn),
            "LastModified": _lambda_time(seen),
            "CodeSha256": _code_sha256(fn),
            "Version": LATEST,
            "TracingConfig": {"Mode": "PassThrough"},
            "RevisionId": str(uuid.UUID(bytes=hashlib.md5(name.encode()).digest())),
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": ["x86_64"],
            "EphemeralStorage": {"Size": 512},
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
        }
        if spec is not None and spec.environment:
            configuration["Environment"] = {"Variables": dict(spec.environment)}
        return configuration

    # ----------------------------------------------------------------- names

    def _existing(self, reference: str, qualifier: Any) -> FunctionRef:
        """The function a name, ARN or partial ARN (and ``Qualifier``) denotes, or
        ``ResourceNotFoundException`` with AWS's message."""
        ref = self._parse(reference, qualifier)
        arn = self.functions.arn(ref.name)
        if ref.qualifier is not None:
            arn = f"{arn}:{ref.qualifier}"
        if self.functions.lookup(ref.name) is None or ref.qualifier not in (None, LATEST):
            raise LambdaError("ResourceNotFoundException", f"Function not found: {arn}", 404)
        return ref

    def _parse(self, reference: str, qualifier: Any) -> FunctionRef:
        found = _FUNCTION_REFERENCE.fullmatch(reference)
        if found is None:  # the model's pattern already refused it; kept for Python callers
            raise LambdaError("ValidationException", f"Invalid function name: {reference}")
        region, account, name, named = found.group("region", "account", "name", "qualifier")
        given = str(qualifier) if qualifier else None
        if named is not None and given is not None and named != given:
            raise LambdaError(
                "InvalidParameterValueException",
                "The derived qualifier from the function name does not match the specified "
                "qualifier.",
            )
        if region not in (None, self.functions.region) or account not in (
            None,
            self.functions.account,
        ):  # another region's or account's function: not on this endpoint
            arn = f"arn:aws:lambda:{region or self.functions.region}:"
            arn += f"{account or self.functions.account}:function:{name}"
            raise LambdaError("ResourceNotFoundException", f"Function not found: {arn}", 404)
        return FunctionRef(name, named or given)


def _answer(outcome: Outcome) -> dict[str, Any]:
    """``Payload`` (and ``FunctionError``) of a synchronous invocation."""
    if outcome.ok:
        result = orjson.dumps(outcome.output)
        if len(result) <= MAX_SYNC_PAYLOAD:
            return {"Payload": result}
        outcome = RESPONSE_TOO_LARGE
    return {"Payload": orjson.dumps(error_payload(outcome)), "FunctionError": "Unhandled"}


def error_payload(outcome: Outcome) -> dict[str, Any]:
    """The error document Lambda returns for a failed invocation: the runtime's own
    (``errorMessage``, ``errorType``, ``requestId``, ``stackTrace``) when the function's
    cause carries it, else one built from the error's name and cause."""
    try:
        document = orjson.loads(outcome.cause)
    except orjson.JSONDecodeError:
        document = None
    if isinstance(document, dict) and "errorType" in document:
        return document
    return {"errorMessage": outcome.cause, "errorType": outcome.error}


def _event(payload: Any) -> Any:
    """The event a payload holds: ``{}`` when there is none, as Lambda passes then."""
    if payload is None or not bytes(payload).strip():
        return {}
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as problem:
        raise LambdaError(
            "InvalidRequestContentException",
            f"Could not parse request body into json: Could not parse payload into json: {problem}",
        ) from None


def _check_size(payload: Any, kind: str) -> None:
    limit, operation = (
        (MAX_ASYNC_PAYLOAD, "InvokeAsync") if kind == "Event" else (MAX_SYNC_PAYLOAD, "Invoke")
    )
    if payload is not None and len(payload) > limit:
        raise LambdaError(
            "RequestTooLargeException",
            f"Request must be smaller than {limit} bytes for the {operation} operation",
            413,
        )


def _check_client_context(text: Any) -> None:
    """``ClientContext``: "up to 3,583 bytes of base64-encoded data" holding a JSON object
    (checked, not yet passed on to the function's context)."""
    if text is None:
        return
    try:
        document = orjson.loads(base64.b64decode(str(text), validate=True))
    except (ValueError, orjson.JSONDecodeError):
        document = None
    if not isinstance(document, dict) or len(str(text)) > MAX_CLIENT_CONTEXT:
        raise LambdaError(
            "InvalidParameterValueException",
            "Client context must be a valid Base64-encoded JSON object.",
        )


def _log_result(lines: list[str]) -> str:
    text = ("\n".join(lines) + "\n").encode()
    return base64.b64encode(text[-MAX_LOG_BYTES:]).decode("ascii")


def _marker(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode("ascii")


def _marker_position(marker: Any, names: list[str]) -> int:
    """Where a page starts: at the first name not before the marker's."""
    if not marker:
        return 0
    try:
        after = base64.urlsafe_b64decode(str(marker).encode("ascii")).decode()
    except (ValueError, UnicodeError):
        raise LambdaError("InvalidParameterValueException", f"Invalid marker: {marker}") from None
    return sum(1 for name in names if name < after)


def _spec(fn: Callable[..., Any] | None) -> FunctionSpec | None:
    spec = getattr(fn, "spec", None)
    return spec if isinstance(spec, FunctionSpec) else None


def _timeout(fn: Callable[..., Any] | None) -> int:
    spec = _spec(fn)
    return round(spec.timeout) if spec is not None else DEFAULT_TIMEOUT


def _memory(fn: Callable[..., Any] | None) -> int:
    spec = _spec(fn)
    return spec.memory if spec is not None else DEFAULT_MEMORY


def _python_runtime() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def _python_handler(fn: Callable[..., Any] | None) -> str:
    module = getattr(fn, "__module__", None) or "handler"
    return f"{module}.{getattr(fn, '__qualname__', 'handler')}"


def _source(fn: Callable[..., Any] | None) -> Path | None:
    """The function's code: a template function's folder, a callable's source file."""
    spec = _spec(fn)
    if spec is not None:
        return spec.code
    try:
        found = inspect.getsourcefile(fn) if fn is not None else None
    except TypeError:
        found = None
    return None if found is None else Path(found)


def _code_location(fn: Callable[..., Any] | None) -> str:
    source = _source(fn)
    return source.resolve().as_uri() if source is not None else ""


def _code_sha256(fn: Callable[..., Any] | None) -> str:
    """The base64 SHA-256 of the code: a callable's source file, a template function's
    handler module (the folder may be large)."""
    source = _source(fn)
    spec = _spec(fn)
    if spec is not None and source is not None:
        module = spec.handler.rpartition(".")[0]
        candidates = [source / f"{module}{suffix}" for suffix in (".py", ".js", ".mjs")]
        source = next((path for path in candidates if path.is_file()), None)
    data = source.read_bytes() if source is not None and source.is_file() else b""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def _lambda_time(seconds: float) -> str:
    """Lambda's ``LastModified`` format: ``2024-01-31T12:00:00.000+0000``."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


OPERATIONS: Final[dict[str, Callable[[LambdaFunctions, Mapping[str, Any]], dict[str, Any]]]] = {
    "Invoke": LambdaFunctions.invoke,
    "GetFunction": LambdaFunctions.get_function,
    "ListFunctions": LambdaFunctions.list_functions,
}
