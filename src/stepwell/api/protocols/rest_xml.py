"""AWS's REST-XML protocol (S3): members in the URI, headers, query string and an XML body.

Which member travels where is botocore's model's business, not this module's: each member
of an input or output shape says its ``location`` (``uri``, ``header``, ``headers`` for a
prefix map such as ``x-amz-meta-``, ``querystring``) and ``locationName``; the one member
named by the shape's ``payload`` is the body (an XML structure, or the object's bytes,
which the S3 endpoint streams and never hands to this codec). What is left of an output
goes into one XML document whose root S3 names per operation (``ListBucketResult``).

Errors are S3's::

    <?xml version="1.0" encoding="UTF-8"?>
    <Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>
    <Key>a/b</Key><RequestId>…</RequestId></Error>

Header values go out as HTTP allows them: printable ASCII as is, anything else (user
metadata ``{"who": "日本"}`` written by a Task, a line break) as an RFC 2047 encoded word
``=?UTF-8?B?5pel5pys?=``, as S3 returns non-ASCII metadata. A request's
``response-*`` overrides (GetObject's ``response-content-type`` & co.) with a control
character or text that is not Latin-1 are refused with ``InvalidArgument``.

Design decision: request XML is parsed with the standard library's expat-based parser,
which since expat 2.4 bounds entity amplification; a document type declaration is refused
outright (S3 has no use for one), which rules out external entities too.
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from datetime import datetime
from email.utils import format_datetime
from typing import Any, Final

from stepwell.api.model import ServiceModel, Shape
from stepwell.api.protocols.base import WireError
from stepwell.api.protocols.xml import XmlWriter, element, text
from stepwell.service.errors import ServiceError

XML_DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8"?>'
CONTENT_TYPE: Final = "application/xml"
# S3's root elements of the outputs that are XML documents (the model leaves them out).
ROOTS: Final = {
    "ListBuckets": "ListAllMyBucketsResult",
    "ListObjects": "ListBucketResult",
    "ListObjectsV2": "ListBucketResult",
    "DeleteObjects": "DeleteResult",
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "CompleteMultipartUpload": "CompleteMultipartUploadResult",
}
_SCALAR_TYPES: Final = frozenset({"string", "integer", "long", "boolean"})


class RestXmlError(ServiceError):
    """A request S3 cannot read: ``code`` is S3's (``MalformedXML``, ``InvalidArgument``)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.aws_type = code
        self.code = code
        self.status = status


def malformed_xml() -> RestXmlError:
    return RestXmlError(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
    )


class RequestDecoder:
    """Gathers an operation's input members from where the model says they travel."""

    def __init__(self, model: ServiceModel) -> None:
        self._model = model

    def members(
        self,
        operation: str,
        uri: Mapping[str, str],
        headers: Mapping[str, str],
        query: Mapping[str, str],
        body: bytes,
    ) -> dict[str, Any]:
        """The input members of ``operation`` (not the streamed body, not timestamps)."""
        shape_name = self._model.operation_shape(operation, "input")
        if shape_name is None:
            return {}
        shape = self._model.shapes[shape_name]
        members: dict[str, Any] = {}
        for name, reference in shape.get("members", {}).items():
            value = self._member(shape, name, reference, uri, headers, query, body)
            if value is not None:
                members[name] = value
        return members

    def _member(
        self,
        shape: Shape,
        name: str,
        reference: Mapping[str, Any],
        uri: Mapping[str, str],
        headers: Mapping[str, str],
        query: Mapping[str, str],
        body: bytes,
    ) -> Any:
        location = reference.get("location")
        where = str(reference.get("locationName", name))
        kind = self._model.shapes[reference["shape"]]["type"]
        if location == "uri":
            return uri.get(where)
        if location == "header":
            return _scalar(kind, headers.get(where.lower()), where)
        if location == "headers":
            prefix = where.lower()
            found = {k[len(prefix) :]: v for k, v in headers.items() if k.startswith(prefix)}
            return found or None
        if location == "querystring":
            return _scalar(kind, query.get(where), where)
        if shape.get("payload") == name and kind == "structure" and body.strip():
            return self.xml_payload(reference["shape"], body)
        return None

    def xml_payload(self, shape_name: str, body: bytes) -> dict[str, Any]:
        """A structure sent as the XML body (``<Delete><Object><Key>…``)."""
        if b"<!DOCTYPE" in body.upper():
            raise malformed_xml()
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            raise malformed_xml() from None
        return self._structure(shape_name, root)

    def _structure(self, shape_name: str, node: ElementTree.Element) -> dict[str, Any]:
        members: dict[str, Any] = {}
        for name, reference in self._model.shapes[shape_name].get("members", {}).items():
            tag = str(reference.get("locationName", name))
            children = [child for child in node if _local(child.tag) == tag]
            if children:
                members[name] = self._value(reference, children)
        return members

    def _value(self, reference: Mapping[str, Any], nodes: list[ElementTree.Element]) -> Any:
        shape = self._model.shapes[reference["shape"]]
        kind = shape["type"]
        if kind == "list":
            items = nodes if shape.get("flattened") else [item for node in nodes for item in node]
            return [self._value(shape["member"], [item]) for item in items]
        if kind == "structure":
            return self._structure(reference["shape"], nodes[0])
        return _scalar(kind, nodes[0].text or "", _local(nodes[0].tag))


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _scalar(kind: str, raw: str | None, name: str) -> Any:
    """Text as the modelled type; None for what this front end does not read (dates)."""
    if raw is None or kind not in _SCALAR_TYPES:
        return None
    if kind == "boolean":
        lowered = raw.strip().lower()
        if lowered not in ("true", "false"):
            raise RestXmlError("InvalidArgument", f"Invalid value for {name}: {raw}")
        return lowered == "true"
    if kind in ("integer", "long"):
        try:
            return int(raw.strip())
        except ValueError:
            raise RestXmlError(
                "InvalidArgument", f"Provided {name} not an integer or within integer range"
            ) from None
    return raw


class ResponseEncoder:
    """Splits an operation's result into headers and an XML document, as the model says."""

    def __init__(self, model: ServiceModel) -> None:
        self._model = model
        self._writer = XmlWriter(model)

    def headers(self, operation: str, result: Mapping[str, Any]) -> dict[str, str]:
        """The members of the result that travel as headers."""
        found: dict[str, str] = {}
        for name, reference in self._output_members(operation).items():
            value = result.get(name)
            where = str(reference.get("locationName", name))
            if value is None:
                continue
            if reference.get("location") == "header":
                found[where] = header_value(header_text(value))
            elif reference.get("location") == "headers":
                found.update({f"{where}{k}": header_value(str(v)) for k, v in dict(value).items()})
        return found

    def document(self, operation: str, result: Mapping[str, Any]) -> bytes:
        """The XML body of a result ("" when everything travels in headers)."""
        shape_name = self._model.operation_shape(operation, "output")
        if shape_name is None:
            return b""
        shape = self._model.shapes[shape_name]
        namespace = f' xmlns="{self._model.metadata.get("xmlNamespace", S3_NAMESPACE)}"'
        payload = shape.get("payload")
        if payload is not None:
            reference = shape["members"][payload]
            value = result.get(payload)
            if value is None or self._model.shapes[reference["shape"]]["type"] != "structure":
                return b""
            content = self._writer.structure(reference["shape"], value)
            root = str(reference.get("locationName", payload))
        else:
            body = {
                name: result[name]
                for name, reference in shape.get("members", {}).items()
                if "location" not in reference and name in result
            }
            content = self._writer.structure(shape_name, body)
            if not content and operation not in ROOTS:
                return b""  # everything went in headers (PutObject, DeleteObject)
            root = ROOTS.get(operation, f"{operation}Result")
        return f"{XML_DECLARATION}<{root}{namespace}>{content}</{root}>".encode()

    def _output_members(self, operation: str) -> Mapping[str, Any]:
        shape_name = self._model.operation_shape(operation, "output")
        if shape_name is None:
            return {}
        members: Mapping[str, Any] = self._model.shapes[shape_name].get("members", {})
        return members


S3_NAMESPACE: Final = "http://s3.amazonaws.com/doc/2006-03-01/"


def header_text(value: Any) -> str:
    """A header value: dates as HTTP dates (``Wed, 01 Jan 2025 00:00:00 GMT``)."""
    if isinstance(value, datetime):
        return format_datetime(value, usegmt=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_PRINTABLE: Final = re.compile(r"[\t\x20-\x7e]*")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def header_value(text: str) -> str:
    """``text`` as a header value may carry it: RFC 2047 ``=?UTF-8?B?…?=`` unless ASCII."""
    if _PRINTABLE.fullmatch(text):
        return text
    return f"=?UTF-8?B?{base64.b64encode(text.encode('utf-8', 'replace')).decode()}?="


def check_response_overrides(members: Mapping[str, Any]) -> None:
    """Refuse ``response-*`` overrides that no header could carry as sent."""
    for name, value in members.items():
        if not name.startswith("Response") or not isinstance(value, str):
            continue
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            bad = True
        else:
            bad = _CONTROL.search(value) is not None
        if bad:
            raise RestXmlError(
                "InvalidArgument",
                f"Invalid value for {name}: control characters or non-Latin-1 text",
            )


def error_document(error: WireError, request_id: str) -> bytes:
    """S3's ``<Error>`` document, with the error's extra members (``Key``, ``BucketName``)."""
    extra = "".join(element(str(name), text(value)) for name, value in error.extra.items())
    return (
        f"{XML_DECLARATION}<Error>{element('Code', text(error.code))}"
        f"{element('Message', text(error.message))}{extra}"
        f"{element('RequestId', request_id)}</Error>"
    ).encode()
