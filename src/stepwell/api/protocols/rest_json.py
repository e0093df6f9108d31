"""AWS REST-JSON (Lambda): the operation is the HTTP method and the path, members live in
the path, the query string, headers and a JSON (or raw) body, as the model places them.

Each operation's ``http.requestUri`` (``/2015-03-31/functions/{FunctionName}/invocations``)
compiles once into a path pattern; a request is decoded by the first operation whose
method and pattern match, each member read from its ``location`` (``uri``, ``querystring``,
``header``, else the JSON body; the ``payload`` member is the whole body: raw bytes for a
blob, such as Invoke's ``Payload``). The members are then validated against the model as
for the other protocols. A result goes out the same way round: ``statusCode`` members
are the HTTP status, ``header`` members headers, the payload member the body.

Errors are ``{"Type": "User", "Message": "…"}`` with the error's name in
``x-amzn-ErrorType``, where botocore looks for it (``Type`` is ``Service`` for 5xx).

Not handled (no operation served here needs it): timestamps in headers or query strings,
``jsonvalue`` headers, header-prefix maps (``locationName`` ending in ``-``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs, unquote

import orjson
from starlette.responses import Response

from stepwell.api.auth import HttpRequest
from stepwell.api.protocols.base import REQUEST_ID_HEADER, DecodedCall, ServiceApi, WireError
from stepwell.api.validation import type_mismatch
from stepwell.service.errors import (
    SerializationException,
    UnknownOperationException,
    ValidationException,
)

CONTENT_TYPE: Final = "application/json"
_LABEL: Final = re.compile(r"\{([A-Za-z0-9_]+)(\+?)\}")
_MEMBER_PATH: Final = re.compile(r"at '([A-Za-z0-9_.]+)'")


@dataclass(frozen=True, slots=True)
class Member:
    """One member placed outside the JSON body."""

    name: str
    location: str  # uri, querystring, header, statusCode
    wire_name: str
    shape_type: str


@dataclass(frozen=True, slots=True)
class RestOperation:
    """One operation's place on the wire."""

    name: str
    method: str
    path: re.Pattern[str]
    query: Mapping[str, str]  # literal parameters of the request URI (``?versions``)
    members: tuple[Member, ...]
    payload: str | None  # the member that is the whole body
    payload_type: str | None
    status: int


def rest_path(request_uri: str) -> re.Pattern[str]:
    """The pattern of a request URI's path: ``{Name}`` is one segment, ``{Name+}`` many."""
    path = request_uri.partition("?")[0].rstrip("/")
    pattern, position = "", 0
    for label in _LABEL.finditer(path):
        pattern += re.escape(path[position : label.start()])
        segment = ".+" if label.group(2) else "[^/]+"
        pattern += f"(?P<{label.group(1)}>{segment})"
        position = label.end()
    return re.compile(pattern + re.escape(path[position:]) + "/?")


def path_prefixes(api: ServiceApi) -> frozenset[str]:
    """The first path segments of an API's operations (``/2015-03-31/``), for routing."""
    return frozenset(
        "/" + str(op["http"]["requestUri"]).split("/")[1].partition("?")[0] + "/"
        for op in api.model.operations.values()
    )


def compile_operations(api: ServiceApi) -> tuple[RestOperation, ...]:
    """Every operation of the API's model, most specific path first."""
    compiled = [_compile(api, name) for name in api.model.operations]
    return tuple(sorted(compiled, key=lambda op: -len(op.path.pattern)))


def _compile(api: ServiceApi, name: str) -> RestOperation:
    operation = api.model.operations[name]
    http = operation["http"]
    shapes = api.model.shapes
    members: list[Member] = []
    payload = payload_type = None
    input_name = api.model.operation_shape(name, "input")
    if input_name is not None:
        shape = shapes[input_name]
        payload = shape.get("payload")
        for member_name, member in shape.get("members", {}).items():
            kind = shapes[member["shape"]]["type"]
            if member_name == payload:
                payload_type = kind
            elif "location" in member:
                wire = member.get("locationName", member_name)
                members.append(Member(member_name, member["location"], wire, kind))
    query = parse_qs(str(http["requestUri"]).partition("?")[2], keep_blank_values=True)
    return RestOperation(
        name=name,
        method=str(http["method"]).upper(),
        path=rest_path(str(http["requestUri"])),
        query={key: values[0] for key, values in query.items()},
        members=tuple(members),
        payload=payload,
        payload_type=payload_type,
        status=int(http.get("responseCode", 200)),
    )


class RestJsonCodec:
    """The REST-JSON protocol of any API whose model says ``rest-json``."""

    def __init__(self) -> None:
        self._operations: dict[str, tuple[RestOperation, ...]] = {}

    def operations(self, api: ServiceApi) -> tuple[RestOperation, ...]:
        found = self._operations.get(api.name)
        if found is None:
            found = self._operations[api.name] = compile_operations(api)
        return found

    def decode(self, api: ServiceApi, request: HttpRequest) -> DecodedCall:
        path = request.raw_path.partition("?")[0]
        query = parse_qs(request.query_string, keep_blank_values=True)
        for operation in self.operations(api):
            found = operation.path.fullmatch(path)
            if found is None or operation.method != request.method.upper():
                continue
            if any(query.get(key, [None])[0] != value for key, value in operation.query.items()):
                continue
            members = _body_members(operation, request.body)
            labels = {name: unquote(value) for name, value in found.groupdict().items()}
            for member in operation.members:
                value = _located(member, labels, query, request)
                if value is not None:
                    members[member.name] = value
            validated = _validated(api, operation.name, members)
            if operation.payload_type == "blob":
                validated[str(operation.payload)] = request.body
            return DecodedCall(operation.name, validated)
        raise UnknownOperationException(
            f"No {api.model.metadata.get('serviceId', api.name)} operation at "
            f"{request.method} {path}"
        )

    def encode_result(
        self, api: ServiceApi, operation: str, result: Mapping[str, Any], request_id: str
    ) -> Response:
        shapes = api.model.shapes
        output_name = api.model.operation_shape(operation, "output")
        output = shapes[output_name] if output_name is not None else {}
        status = int(api.model.operations[operation]["http"].get("responseCode", 200))
        headers = {REQUEST_ID_HEADER: request_id}
        body_members = dict(result)
        for name, member in output.get("members", {}).items():
            location = member.get("location")
            if location is None or name not in body_members:
                continue
            value = body_members.pop(name)
            if location == "statusCode":
                status = int(value)
            elif location == "header" and value is not None:
                headers[member.get("locationName", name)] = str(value)
        payload = output.get("payload")
        if payload is not None:
            return _payload_response(body_members.get(payload), status, headers)
        body = orjson.dumps(api.encoders[operation](body_members))
        return Response(body, status, headers, media_type=CONTENT_TYPE)

    def encode_error(self, api: ServiceApi, error: WireError, request_id: str) -> Response:
        document = {
            "Type": "User" if error.status < 500 else "Service",
            "Message": error.message,
            **error.extra,
        }
        headers = {REQUEST_ID_HEADER: request_id, "x-amzn-ErrorType": error.exception}
        body = orjson.dumps(document, default=str)
        return Response(body, error.status, headers, media_type=CONTENT_TYPE)


def _validated(api: ServiceApi, operation: str, members: dict[str, Any]) -> dict[str, Any]:
    """The members checked against the model; a ``ValidationException`` names members as
    Lambda's Java front end does (``at 'functionName'``, not ``at 'FunctionName'``)."""
    try:
        return api.validators[operation](members)
    except ValidationException as error:
        message = _MEMBER_PATH.sub(
            lambda found: f"at '{_java_path(found.group(1))}'", error.message
        )
        raise ValidationException(message, error.reason) from None


def _java_path(path: str) -> str:
    return ".".join(part[:1].lower() + part[1:] for part in path.split("."))


def _body_members(operation: RestOperation, body: bytes) -> dict[str, Any]:
    """The members a JSON body carries (none when the body is the payload blob)."""
    if operation.payload_type == "blob" or not body.strip():
        return {}
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise SerializationException(f"Malformed JSON request body: {error}") from None
    if operation.payload is not None:
        return {operation.payload: document}
    if not isinstance(document, dict):
        raise type_mismatch(document, "Structure")
    return document


def _located(
    member: Member,
    labels: Mapping[str, str],
    query: Mapping[str, list[str]],
    request: HttpRequest,
) -> Any:
    if member.location == "uri":
        text = labels.get(member.wire_name)
    elif member.location == "querystring":
        values = query.get(member.wire_name)
        if values is not None and member.shape_type == "list":
            return values
        text = None if values is None else values[0]
    elif member.location == "header":
        text = request.header(member.wire_name.lower())
    else:
        return None
    return None if text is None else _scalar(text, member)


def _scalar(text: str, member: Member) -> Any:
    """A path, query or header value as its shape's type."""
    if member.shape_type in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise SerializationException(
                f"Value '{text}' for {member.wire_name} is not a valid integer"
            ) from None
    if member.shape_type == "boolean":
        if text not in ("true", "false"):
            raise SerializationException(
                f"Value '{text}' for {member.wire_name} is not a valid boolean"
            )
        return text == "true"
    return text


def _payload_response(value: Any, status: int, headers: dict[str, str]) -> Response:
    if value is None:
        return Response(b"", status, headers)
    if isinstance(value, bytes | bytearray | memoryview):
        return Response(bytes(value), status, headers, media_type=CONTENT_TYPE)
    return Response(orjson.dumps(value), status, headers, media_type=CONTENT_TYPE)
