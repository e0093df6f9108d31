"""Response serialization compiled from the output shapes of the service model.

The service returns plain dicts with the AWS member names; what goes on the wire is
shaped by the model, as AWS's own front end does:

* timestamps become epoch seconds as a JSON number with millisecond precision (the
  ``awsJson1_0`` protocol; botocore parses them back into ``datetime``);
* ``None`` members are left out (AWS omits unset members, it never sends ``null``);
* members the model does not define are left out;
* blobs become base64 text.

Design decision: each shape compiles to an encoder, or to ``None`` when its values go out
unchanged (strings, numbers, booleans), so a response without timestamps or nesting
costs one dict comprehension.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from stepwell.api.model import MODEL, ServiceModel, Shape

Encode = Callable[[Any], Any]

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MILLISECOND: Final = timedelta(milliseconds=1)


def encode_timestamp(value: Any) -> float | int:
    """Epoch seconds, truncated to milliseconds; a naive ``datetime`` is taken as UTC."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        milliseconds = (aware - EPOCH) // ONE_MILLISECOND
        return milliseconds / 1000
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise TypeError(f"a timestamp member holds {type(value).__name__}, not a datetime")


def encode_blob(value: Any) -> str:
    """Base64 text of a ``bytes`` value; text is already base64 (the embedded services')."""
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, str):
        return value
    raise TypeError(f"a blob member holds {type(value).__name__}, not bytes")


class ShapeEncoderCompiler:
    """Compiles output shapes into encoders, once per shape."""

    def __init__(self, model: ServiceModel) -> None:
        self._shapes = model.shapes
        self._compiled: dict[str, Encode | None] = {}

    def compile(self, shape_name: str) -> Encode | None:
        """The encoder for ``shape_name``, or None when values need no change."""
        if shape_name in self._compiled:
            return self._compiled[shape_name]
        pending: list[Encode | None] = []

        def forward(value: Any) -> Any:
            encode = pending[0]
            return value if encode is None else encode(value)

        self._compiled[shape_name] = forward
        shape = self._shapes[shape_name]
        encoder = _COMPILERS.get(shape["type"], _unchanged)(self, shape)
        pending.append(encoder)
        self._compiled[shape_name] = encoder
        return encoder


def _unchanged(compiler: ShapeEncoderCompiler, shape: Shape) -> Encode | None:
    return None


def _compile_structure(compiler: ShapeEncoderCompiler, shape: Shape) -> Encode:
    members = {name: compiler.compile(member["shape"]) for name, member in shape["members"].items()}
    if all(encode is None for encode in members.values()):
        names = frozenset(members)

        def encode_flat(value: Any) -> Any:
            return {k: v for k, v in value.items() if v is not None and k in names}

        return encode_flat

    def encode(value: Any) -> Any:
        return {
            key: item if (encode_member := members[key]) is None else encode_member(item)
            for key, item in value.items()
            if item is not None and key in members
        }

    return encode


def _compile_list(compiler: ShapeEncoderCompiler, shape: Shape) -> Encode:
    encode_item = compiler.compile(shape["member"]["shape"])
    if encode_item is None:
        return lambda value: [item for item in value if item is not None]
    return lambda value: [encode_item(item) for item in value if item is not None]


def _compile_map(compiler: ShapeEncoderCompiler, shape: Shape) -> Encode:
    encode_item = compiler.compile(shape["value"]["shape"])
    if encode_item is None:
        return lambda value: {k: v for k, v in value.items() if v is not None}
    return lambda value: {k: encode_item(v) for k, v in value.items() if v is not None}


_COMPILERS: Final[dict[str, Callable[[ShapeEncoderCompiler, Shape], Encode | None]]] = {
    "structure": _compile_structure,
    "list": _compile_list,
    "map": _compile_map,
    "timestamp": lambda compiler, shape: encode_timestamp,
    "blob": lambda compiler, shape: encode_blob,
}


def _empty(value: Any) -> Any:
    return {}


def compile_response_encoders(model: ServiceModel = MODEL) -> dict[str, Encode]:
    """One encoder per operation, from the service's result dict to the wire dict."""
    compiler = ShapeEncoderCompiler(model)
    encoders: dict[str, Encode] = {}
    for operation in model.operations:
        shape_name = model.operation_shape(operation, "output")
        encoder = None if shape_name is None else compiler.compile(shape_name)
        encoders[operation] = _empty if encoder is None else encoder
    return encoders


RESPONSE_ENCODERS: Final = compile_response_encoders()
