"""XML documents of the query protocol, written from botocore's output shapes.

The layout is the one botocore's ``QueryParser`` reads: a structure member is an element
named by its ``locationName`` (or its member name); a list is ``<Name><member>…</member>
</Name>``, or, when the shape is ``flattened``, one ``<Name>`` element per item (named by
the item's ``locationName`` if it has one: SQS's ``<QueueUrl>``); a map is ``<entry>``
elements with ``<key>``/``<value>``, or flattened pairs such as SQS's
``<Attribute><Name>…</Name><Value>…</Value></Attribute>``.

Text is escaped as AWS escapes it, including ``\\r`` (``&#xD;``): an XML parser would turn
a raw carriage return into ``\\n`` and the MD5 of a message body would no longer match.
Characters XML cannot hold at all become U+FFFD.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final
from xml.sax.saxutils import escape

from stepwell.api.model import ServiceModel, Shape

_ENTITIES: Final = {"\r": "&#xD;", '"': "&quot;"}
# Characters XML 1.0 cannot carry at all, not even as references (they appear only in
# error messages quoting a bad request; SQS refuses them in message bodies).
_NOT_XML: Final = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def text(value: Any) -> str:
    """A scalar as XML text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return escape(_NOT_XML.sub("\ufffd", str(value)), _ENTITIES)


def element(tag: str, content: str) -> str:
    return f"<{tag}>{content}</{tag}>"


class XmlWriter:
    """Writes values of one model's shapes as query-protocol XML."""

    def __init__(self, model: ServiceModel) -> None:
        self._shapes = model.shapes

    def structure(self, shape_name: str, value: Mapping[str, Any]) -> str:
        """The members of a structure value, as sibling elements."""
        shape = self._shapes[shape_name]
        parts = []
        for name, reference in shape.get("members", {}).items():
            item = value.get(name)
            if item is not None:
                parts.append(self._member(name, reference, item))
        return "".join(parts)

    def _member(self, name: str, reference: Mapping[str, Any], value: Any) -> str:
        shape = self._shapes[reference["shape"]]
        tag = str(reference.get("locationName", name))
        if shape["type"] == "list" and shape.get("flattened"):
            tag = str(shape["member"].get("locationName", tag))
            return "".join(element(tag, self._value(shape["member"], item)) for item in value)
        if shape["type"] == "map" and shape.get("flattened"):
            return "".join(element(tag, self._pair(shape, k, v)) for k, v in value.items())
        return element(tag, self._value(reference, value))

    def _value(self, reference: Mapping[str, Any], value: Any) -> str:
        shape: Shape = self._shapes[reference["shape"]]
        kind = shape["type"]
        if kind == "structure":
            return self.structure(reference["shape"], value)
        if kind == "list":
            tag = str(shape["member"].get("locationName", "member"))
            return "".join(element(tag, self._value(shape["member"], item)) for item in value)
        if kind == "map":
            return "".join(element("entry", self._pair(shape, k, v)) for k, v in value.items())
        return text(value)

    def _pair(self, shape: Shape, key: Any, value: Any) -> str:
        key_tag = str(shape["key"].get("locationName", "key"))
        value_tag = str(shape["value"].get("locationName", "value"))
        return element(key_tag, text(key)) + element(value_tag, self._value(shape["value"], value))
