"""The AWS query protocol: a form body ``Action=Op&Version=…&Name.member.1=…``, XML back.

SNS speaks only this; SQS spoke it before its JSON protocol, and older SDKs still do
(POSTing to the queue URL, which is why the endpoint also answers ``/ACCOUNT/QUEUE``).
Requests are decoded from the input shape exactly inverting botocore's
``QuerySerializer`` (``.member.N`` lists, ``.entry.N.key`` maps, ``flattened`` shapes and
``locationName`` renames), converted to the modelled types, then validated by the same
validators as the JSON protocols. Errors are::

    <ErrorResponse><Error><Type>Sender</Type><Code>NotFound</Code>
    <Message>Topic does not exist</Message></Error><RequestId>…</RequestId></ErrorResponse>

Design decision: the front end's own errors get each service's query codes
(``ServiceApi.query_error_codes``: a ValidationException is ``ValidationError``), since
query clients match on codes, not on JSON types.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import parse_qsl

from starlette.responses import Response

from stepwell.api.auth import HttpRequest
from stepwell.api.model import ServiceModel
from stepwell.api.protocols.base import (
    REQUEST_ID_HEADER,
    DecodedCall,
    ServiceApi,
    WireError,
)
from stepwell.api.protocols.xml import XmlWriter, element, text
from stepwell.service.errors import ServiceError

CONTENT_TYPE: Final = "text/xml"
FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"
_MISSING: Final = object()


class QueryError(ServiceError):
    """A query request that names no known action or cannot be read."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.aws_type = code
        self.code = code


def form_parameters(request: HttpRequest) -> dict[str, str]:
    """The request's parameters: the URL's query string, then the form body's."""
    try:
        body = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise QueryError("MalformedQueryString", "The request body is not UTF-8") from None
    pairs = parse_qsl(request.query_string, keep_blank_values=True)
    pairs += parse_qsl(body, keep_blank_values=True)
    return dict(pairs)


class QueryCodec:
    """The query protocol of one service."""

    def decode(self, api: ServiceApi, request: HttpRequest) -> DecodedCall:
        parameters = form_parameters(request)
        action = parameters.get("Action", "")
        validate = api.validators.get(action)
        if validate is None:
            raise QueryError(
                "InvalidAction", f"The action {action} is not valid for this web service."
            )
        shape = api.model.operation_shape(action, "input")
        members = {} if shape is None else QueryDecoder(api.model, parameters).structure(shape)
        return DecodedCall(action, validate(members))

    def encode_result(
        self, api: ServiceApi, operation: str, result: Mapping[str, Any], request_id: str
    ) -> Response:
        model = api.model
        output = model.operations[operation].get("output")
        content = ""
        if output is not None:
            wrapper = str(output.get("resultWrapper", f"{operation}Result"))
            content = element(wrapper, XmlWriter(model).structure(output["shape"], result))
        metadata = element("ResponseMetadata", element("RequestId", request_id))
        root = f"{operation}Response"
        body = f'<{root} xmlns="{model.xml_namespace}">{content}{metadata}</{root}>'
        return Response(body, 200, {REQUEST_ID_HEADER: request_id}, media_type=CONTENT_TYPE)

    def encode_error(self, api: ServiceApi, error: WireError, request_id: str) -> Response:
        code = api.query_error_codes.get(error.code, error.code)
        return error_response(api.model.xml_namespace, code, error, request_id)


def error_response(namespace: str, code: str, error: WireError, request_id: str) -> Response:
    """An ``<ErrorResponse>`` (also for form requests that reach no API at all)."""
    detail = (
        element("Type", error.fault)
        + element("Code", text(code))
        + element("Message", text(error.message))
    )
    body = (
        f'<ErrorResponse xmlns="{namespace}">{element("Error", detail)}'
        f"{element('RequestId', request_id)}</ErrorResponse>"
    )
    headers = {REQUEST_ID_HEADER: request_id}
    return Response(body, error.status, headers, media_type=CONTENT_TYPE)


class QueryDecoder:
    """Rebuilds a request's members from its flat ``Name.member.1`` parameters."""

    def __init__(self, model: ServiceModel, parameters: Mapping[str, str]) -> None:
        self._shapes = model.shapes
        self._parameters = parameters

    def structure(self, shape_name: str, prefix: str = "") -> dict[str, Any]:
        """The members of a structure whose parameters start with ``prefix``."""
        members: dict[str, Any] = {}
        for name, reference in self._shapes[shape_name].get("members", {}).items():
            key = str(reference.get("locationName", name))
            value = self._value(reference, f"{prefix}.{key}" if prefix else key)
            if value is not _MISSING:
                members[name] = value
        return members

    def _value(self, reference: Mapping[str, Any], prefix: str) -> Any:
        shape = self._shapes[reference["shape"]]
        kind = shape["type"]
        if kind == "structure":
            found = self.structure(reference["shape"], prefix)
            return found if found else _MISSING
        if kind == "list":
            return self._list(shape, prefix)
        if kind == "map":
            return self._map(shape, prefix)
        raw = self._parameters.get(prefix)
        return _MISSING if raw is None else _scalar(kind, raw, prefix)

    def _list(self, shape: Mapping[str, Any], prefix: str) -> Any:
        if self._parameters.get(prefix) == "":
            return []  # botocore sends an empty list as ``Name=``
        member = shape["member"]
        if shape.get("flattened"):
            name = member.get("locationName")
            base = prefix if name is None else ".".join([*prefix.split(".")[:-1], name])
        else:
            base = f"{prefix}.{member.get('locationName', 'member')}"
        indices = self._indices(base)
        if not indices:
            return _MISSING
        values = (self._value(member, f"{base}.{index}") for index in indices)
        return [value for value in values if value is not _MISSING]

    def _map(self, shape: Mapping[str, Any], prefix: str) -> Any:
        base = prefix if shape.get("flattened") else f"{prefix}.entry"
        key_name = shape["key"].get("locationName", "key")
        value_name = shape["value"].get("locationName", "value")
        indices = self._indices(base)
        if not indices:
            return _MISSING
        entries: dict[str, Any] = {}
        for index in indices:
            key = self._parameters.get(f"{base}.{index}.{key_name}")
            value = self._value(shape["value"], f"{base}.{index}.{value_name}")
            if key is not None and value is not _MISSING:
                entries[key] = value
        return entries

    def _indices(self, base: str) -> list[int]:
        """The item numbers present under ``base.N``, in order."""
        start = base + "."
        found = set()
        for name in self._parameters:
            if name.startswith(start):
                head = name[len(start) :].split(".", 1)[0]
                if head.isdigit():
                    found.add(int(head))
        return sorted(found)


def _scalar(kind: str, raw: str, name: str) -> Any:
    """A parameter's text as the modelled type (the validators check it further)."""
    try:
        if kind in ("integer", "long"):
            return int(raw)
        if kind in ("float", "double"):
            return float(raw)
    except ValueError:
        raise _malformed(name, raw) from None
    if kind == "boolean":
        lowered = raw.lower()
        if lowered not in ("true", "false"):
            raise _malformed(name, raw)
        return lowered == "true"
    return raw


def _malformed(name: str, raw: str) -> QueryError:
    return QueryError("InvalidParameterValue", f"Value ({raw}) for parameter {name} is invalid.")
