"""The AWS JSON 1.0 protocol of Step Functions, independent of any web framework.

A request is ``POST /`` with ``X-Amz-Target: AWSStepFunctions.<Operation>``, content type
``application/x-amz-json-1.0`` and a JSON object of the operation's input members. A
success is HTTP 200 with a JSON object of the output members. An error is HTTP 400 (or
the error's own status) with ``{"__type": "<ErrorType>", "message": "…"}`` plus any other
members the model gives that error (``reason`` of ``ValidationException``,
``resourceName`` of ``ResourceNotFound``…), and an ``x-amzn-ErrorType`` header. Every
response carries ``x-amzn-RequestId``. botocore reads the error type from ``__type`` and
maps it to ``client.exceptions.<ErrorType>``.

Design decision: everything an operation needs is looked up once per request in
``OPERATIONS``, keyed by the full target string, and was compiled from the service model
at import: the request validator, the response encoder, and whether the operation
long-polls. The short error type is sent as ``__type`` (AWS prefixes a namespace such as
``com.amazonaws.swf.service.v2.model#``, which every SDK strips; the short form is what a
user can match on).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from stepwell.api.model import MODEL, ServiceModel
from stepwell.api.serialization import RESPONSE_ENCODERS, Encode
from stepwell.api.validation import REQUEST_VALIDATORS, RequestValidator
from stepwell.service.errors import (
    SerializationException,
    ServiceError,
    UnknownOperationException,
)

CONTENT_TYPE: Final = f"application/x-amz-json-{MODEL.json_version}"
# AWS SDKs send exactly CONTENT_TYPE; plain JSON is accepted too, for curl and friends.
ACCEPTED_CONTENT_TYPES: Final = frozenset(
    {CONTENT_TYPE, "application/x-amz-json-1.1", "application/json"}
)
REQUEST_ID_HEADER: Final = "x-amzn-RequestId"
ERROR_TYPE_HEADER: Final = "x-amzn-ErrorType"

# Operations that may legitimately wait a long time (GetActivityTask polls up to 60 s).
LONG_POLL_OPERATIONS: Final = frozenset({"GetActivityTask"})


class InternalFailure(ServiceError):
    """The request failed because of an unknown error, exception or failure (a bug)."""

    aws_type = "InternalFailure"
    status = 500


class RequestEntityTooLargeException(ServiceError):
    """The request body is larger than the server accepts."""

    aws_type = "RequestEntityTooLargeException"
    status = 413


class RequestAbortedException(ServiceError):
    """The client closed the connection before the request body was complete."""

    aws_type = "RequestAbortedException"


class RequestTimeoutException(ServiceError):
    """The request body did not arrive in time."""

    aws_type = "RequestTimeoutException"
    status = 408


class ThrottlingException(ServiceError):
    """The server is too busy for this request now; AWS SDKs retry it with back-off."""

    aws_type = "ThrottlingException"


class UnsupportedMediaTypeException(ServiceError):
    """The request's content type is not a JSON type of this protocol."""

    aws_type = "UnsupportedMediaTypeException"
    status = 415


@dataclass(frozen=True, slots=True)
class Operation:
    """One API operation, ready to serve: its validator and its response encoder."""

    name: str
    validate: RequestValidator
    encode: Encode
    long_poll: bool


def compile_operations(model: ServiceModel = MODEL) -> dict[str, Operation]:
    """Every operation of the model, keyed by its ``X-Amz-Target`` value."""
    return {
        f"{model.target_prefix}.{name}": Operation(
            name=name,
            validate=REQUEST_VALIDATORS[name],
            encode=RESPONSE_ENCODERS[name],
            long_poll=name in LONG_POLL_OPERATIONS,
        )
        for name in model.operations
    }


OPERATIONS: Final = compile_operations()


def error_members_by_type(model: ServiceModel = MODEL) -> dict[str, tuple[str, ...]]:
    """For each modelled error type, its members besides ``message``."""
    return {
        name: tuple(member for member in shape["members"] if member != "message")
        for name, shape in model.shapes.items()
        if shape.get("exception")
    }


ERROR_MEMBERS: Final = error_members_by_type()


# The version (4) and variant (RFC 4122) bits of a random UUID.
_UUID4_BITS = (0x4 << 76) | (0x8 << 60)
_UUID4_CLEAR = ~((0xF << 76) | (0xC << 60))


def new_request_id() -> str:
    """A fresh request id, in AWS's UUID form (a version 4 UUID).

    From ``random`` rather than ``uuid.uuid4()``: a request id must be unique, not
    unguessable, and this costs a fifth as much (no system call), on every response.
    """
    text = f"{random.getrandbits(128) & _UUID4_CLEAR | _UUID4_BITS:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def resolve_target(target: str | None) -> Operation:
    """The operation an ``X-Amz-Target`` header names."""
    operation = OPERATIONS.get(target or "")
    if operation is None:
        raise UnknownOperationException(_unknown_target_message(target))
    return operation


def _unknown_target_message(target: str | None) -> str:
    if not target:
        return f"Missing X-Amz-Target header; expected {MODEL.target_prefix}.<Operation>"
    return f"Unknown operation '{target}'"


def accepts_content_type(value: str | None) -> bool:
    """Whether a ``Content-Type`` header names a JSON type this protocol reads."""
    if value is None:
        return False
    media_type = value.partition(";")[0].strip().lower()
    return media_type in ACCEPTED_CONTENT_TYPES


def check_content_type(value: str | None) -> None:
    """Raise UnsupportedMediaTypeException unless the content type is accepted."""
    if not accepts_content_type(value):
        raise UnsupportedMediaTypeException(
            f"Unsupported content type '{value or ''}'; send {CONTENT_TYPE}"
        )


def decode_body(body: bytes) -> Any:
    """The JSON value of a request body; an empty body is an empty request."""
    if not body.strip():
        return {}
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise SerializationException(f"Malformed JSON request body: {error}") from None


def encode_response(operation: Operation, result: Mapping[str, Any]) -> bytes:
    """The wire body of a successful call."""
    return orjson.dumps(operation.encode(result))


def encode_error(error: ServiceError) -> bytes:
    """The wire body of an API error: ``__type``, ``message`` and modelled extras."""
    body: dict[str, Any] = {"__type": error.aws_type, "message": error.message}
    for member in ERROR_MEMBERS.get(error.aws_type, ()):
        value = _error_member(error, member)
        if value is not None:
            body[member] = value
    return orjson.dumps(body, default=str)


def _error_member(error: ServiceError, member: str) -> Any:
    """An error's extra member, from a camelCase or snake_case attribute."""
    value = getattr(error, member, None)
    if value is None:
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in member)
        value = getattr(error, snake, None)
    return value


def response_headers(request_id: str) -> dict[str, str]:
    """Headers of every response."""
    return {REQUEST_ID_HEADER: request_id}


def error_headers(error: ServiceError, request_id: str) -> dict[str, str]:
    """Headers of an error response."""
    return {REQUEST_ID_HEADER: request_id, ERROR_TYPE_HEADER: error.aws_type}
