"""Request validation compiled from the service model, with AWS's error messages.

AWS's front end rejects a request before the operation runs in two ways, and so does
this module:

* A member of the wrong JSON type cannot be deserialized at all: that is a
  ``SerializationException``, raised at the first such member.
* A request that deserializes but breaks a modelled constraint (required, length, value
  range, enum, pattern) is a ``ValidationException`` listing every broken constraint in
  one message, in AWS's wording::

      2 validation errors detected: Value 'x…' at 'name' failed to satisfy constraint:
      Member must have length less than or equal to 80; Value null at 'stateMachineArn'
      failed to satisfy constraint: Member must not be null

  Paths join member names with ``.`` and name list elements ``tags.1.member`` (counting
  from 1); a sensitive value is left out (``Value at 'output' failed …``); lists and
  structures are shown the way Java prints them (``[a, b]``). Wording follows messages
  AWS returned, e.g. for an 81-character execution name (``Value '…' at 'name' failed to
  satisfy constraint: Member must have length less than or equal to 80``).

Design decision: each shape is compiled once into a closure that checks a value and
returns it cleaned; members the model does not know are dropped (AWS ignores them, so a
newer SDK still works against an older server) and ``null`` counts as absent. Payload
members whose documentation says their length is "expressed as bytes in UTF-8 encoding"
(``input``, ``output``) are measured in UTF-8 bytes, everything else in characters.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from stepwell.api.model import MODEL, ServiceModel, Shape
from stepwell.api.patterns import compile_java_pattern
from stepwell.service.errors import SerializationException, ValidationException

# A compiled check: (value, path, problems) -> the cleaned value. It appends one message
# per broken constraint to ``problems`` and raises SerializationException on a wrong type.
Check = Callable[[Any, str, list[str]], Any]

NOT_NULL: Final = "Member must not be null"
UTF8_DOCUMENTATION_MARK: Final = "expressed as bytes in UTF-8 encoding"

_INT_RANGES: Final = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_FLOAT_LIMIT: Final = 2**1023
_JAVA_TYPE_NAMES: Final = {
    "integer": "Integer",
    "long": "Long",
    "float": "Float",
    "double": "Double",
}


@dataclass(frozen=True, slots=True)
class RequestValidator:
    """Validates one operation's request body and returns its modelled members."""

    operation: str
    check: Check

    def __call__(self, body: Any) -> dict[str, Any]:
        problems: list[str] = []
        request: dict[str, Any] = self.check(body, "", problems)
        if problems:
            raise ValidationException(summarize(problems))
        return request


def summarize(problems: list[str]) -> str:
    """AWS's one-line summary of every broken constraint."""
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(problems)


def problem(value: Any, path: str, constraint: str, *, sensitive: bool = False) -> str:
    """``Value 'x' at 'path' failed to satisfy constraint: <constraint>``."""
    if sensitive:
        return f"Value at '{path}' failed to satisfy constraint: {constraint}"
    shown = "null" if value is None else f"'{java_text(value)}'"
    return f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}"


def java_text(value: Any) -> str:
    """A value as Java's ``toString`` prints it, which is how AWS quotes values."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(java_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={java_text(item)}" for key, item in value.items()) + "}"
    return str(value)


def type_mismatch(value: Any, expected: str) -> SerializationException:
    """The error for a JSON value that cannot become the modelled type."""
    if isinstance(value, dict):
        return SerializationException("Start of structure or map found where not expected.")
    if isinstance(value, list):
        return SerializationException("Start of list found where not expected.")
    token = (
        "STRING_VALUE"
        if isinstance(value, str)
        else "BOOLEAN_VALUE"
        if isinstance(value, bool)
        else "NUMBER_VALUE"
    )
    article = "an" if expected[0] in "AEIOU" else "a"
    return SerializationException(f"{token} can not be converted to {article} {expected}")


def length_problems(
    value: Any, size: int, path: str, shape: Shape, problems: list[str], sensitive: bool
) -> None:
    """Append the broken ``min``/``max`` length constraints of a string, list or map."""
    low, high = shape.get("min"), shape.get("max")
    if low is not None and size < low:
        constraint = f"Member must have length greater than or equal to {low}"
        problems.append(problem(value, path, constraint, sensitive=sensitive))
    if high is not None and size > high:
        constraint = f"Member must have length less than or equal to {high}"
        problems.append(problem(value, path, constraint, sensitive=sensitive))


def range_problems(
    value: float, path: str, shape: Shape, problems: list[str], sensitive: bool
) -> None:
    """Append the broken ``min``/``max`` value constraints of a number."""
    low, high = shape.get("min"), shape.get("max")
    if low is not None and value < low:
        constraint = f"Member must have value greater than or equal to {low}"
        problems.append(problem(value, path, constraint, sensitive=sensitive))
    if high is not None and value > high:
        constraint = f"Member must have value less than or equal to {high}"
        problems.append(problem(value, path, constraint, sensitive=sensitive))


def utf8_length(text: str) -> int:
    """Length in UTF-8 bytes, without encoding when the answer is already known."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class ShapeCompiler:
    """Compiles shapes into checks, once per (shape, measuring) pair."""

    def __init__(self, model: ServiceModel, decode_blobs: bool = True) -> None:
        self._shapes = model.shapes
        self._compiled: dict[tuple[str, bool], Check] = {}
        # The embedded services keep blobs as the base64 text their JSON APIs carry.
        self.decode_blobs = decode_blobs

    def compile(self, shape_name: str, utf8: bool = False) -> Check:
        """The check for ``shape_name`` (lengths in UTF-8 bytes when ``utf8``)."""
        key = (shape_name, utf8)
        compiled = self._compiled.get(key)
        if compiled is not None:
            return compiled
        pending: list[Check] = []  # a recursive shape refers to itself through this

        def forward(value: Any, path: str, problems: list[str]) -> Any:
            return pending[0](value, path, problems)

        self._compiled[key] = forward
        shape = self._shapes[shape_name]
        check = _COMPILERS[shape["type"]](self, shape, utf8)
        pending.append(check)
        self._compiled[key] = check
        return check

    def member_check(self, member: Mapping[str, Any]) -> Check:
        """The check of a structure member, honouring its documented length unit."""
        utf8 = UTF8_DOCUMENTATION_MARK in member.get("documentation", "")
        return self.compile(member["shape"], utf8)


def _compile_structure(compiler: ShapeCompiler, shape: Shape, utf8: bool) -> Check:
    required = frozenset(shape.get("required", ()))
    members = tuple(
        (name, compiler.member_check(member), name in required)
        for name, member in shape.get("members", {}).items()
    )

    def check(value: Any, path: str, problems: list[str]) -> Any:
        if type(value) is not dict:
            raise type_mismatch(value, "Structure")
        cleaned: dict[str, Any] = {}
        for name, check_member, is_required in members:
            item = value.get(name)
            member_path = f"{path}.{name}" if path else name
            if item is None:
                if is_required:
                    problems.append(problem(None, member_path, NOT_NULL))
                continue
            cleaned[name] = check_member(item, member_path, problems)
        return cleaned

    return check


def _compile_list(compiler: ShapeCompiler, shape: Shape, utf8: bool) -> Check:
    check_item = compiler.compile(shape["member"]["shape"], utf8)
    sensitive = bool(shape.get("sensitive"))

    def check(value: Any, path: str, problems: list[str]) -> Any:
        if type(value) is not list:
            raise type_mismatch(value, "List")
        length_problems(value, len(value), path, shape, problems, sensitive)
        cleaned = []
        for index, item in enumerate(value, 1):
            item_path = f"{path}.{index}.member"
            if item is None:
                problems.append(problem(None, item_path, NOT_NULL))
                continue
            cleaned.append(check_item(item, item_path, problems))
        return cleaned

    return check


def _compile_map(compiler: ShapeCompiler, shape: Shape, utf8: bool) -> Check:
    check_key = compiler.compile(shape["key"]["shape"])
    check_value = compiler.compile(shape["value"]["shape"], utf8)
    sensitive = bool(shape.get("sensitive"))

    def check(value: Any, path: str, problems: list[str]) -> Any:
        if type(value) is not dict:
            raise type_mismatch(value, "Map")
        length_problems(value, len(value), path, shape, problems, sensitive)
        cleaned = {}
        for key, item in value.items():
            entry_path = f"{path}.{key}"
            if item is None:
                problems.append(problem(None, entry_path, NOT_NULL))
                continue
            cleaned[check_key(key, path, problems)] = check_value(item, entry_path, problems)
        return cleaned

    return check


# Enum value sets AWS lists in an order of its own, not the model's (K11).
_AWS_ENUM_ORDERS: tuple[tuple[str, ...], ...] = (
    ("SUCCEEDED", "TIMED_OUT", "PENDING_REDRIVE", "ABORTED", "FAILED", "RUNNING"),
)


def aws_order(values: list[str] | None) -> tuple[str, ...] | list[str]:
    """An enum's values in the order AWS's messages list them, where it is known."""
    for order in _AWS_ENUM_ORDERS:
        if values is not None and set(order) == set(values):
            return order
    return values or []


def _compile_string(compiler: ShapeCompiler, shape: Shape, utf8: bool) -> Check:
    measure = utf8_length if utf8 else len
    has_length = shape.get("min", 0) > 0 or "max" in shape
    values = shape.get("enum")
    enum = frozenset(values) if values else None
    enum_constraint = f"Member must satisfy enum value set: [{', '.join(aws_order(values))}]"
    pattern = compile_java_pattern(shape.get("pattern"))
    pattern_constraint = f"Member must satisfy regular expression pattern: {shape.get('pattern')}"
    sensitive = bool(shape.get("sensitive"))

    def check(value: Any, path: str, problems: list[str]) -> Any:
        if type(value) is not str:
            raise type_mismatch(value, "String")
        if has_length:
            length_problems(value, measure(value), path, shape, problems, sensitive)
        if enum is not None and value not in enum:
            problems.append(problem(value, path, enum_constraint, sensitive=sensitive))
        if pattern is not None and pattern.fullmatch(value) is None:
            problems.append(problem(value, path, pattern_constraint, sensitive=sensitive))
        return value

    return check


def _compile_integer(compiler: ShapeCompiler, shape: Shape, utf8: bool) -> Check:
    java_type = _JAVA_TYPE_NAMES[shape["type"]]
    lowest, highest = _INT_RANGES[shape["type"]]
    has_range = "min" in shape or "max" in shape
    sensitive = bool(shape.get("sensitive"))

    def check(value: Any, path: str, problems: list[str]) -> Any:
        if type(value) is not int:
            if type(value) is not float or not value.is_integer():
                raise type_mismatch(value, java_type)
            value = int(value)
        if not lowest <= value <= highest:
            raise type_mismatch(value, java_type)
        if has_range:
            range_problems(value, path, shape, problems, sensitive)
        return value

    return check


def _compile_float(compiler: ShapeCompiler, shape: Shape, utf8: bool) -> Check:
    java_type = _JAVA_TYPE_NAMES[shape["type"]]
    has_range = "min" in shape or "max" in shape
    sensitive = bool(shape.get("sensitive"))

    def check(value: Any, path: str, problems: list[str]) -> Any:
        if type(value) is not float:
            if type(value) is not int or not -_FLOAT_LIMIT <= value <= _FLOAT_LIMIT:
                raise type_mismatch(value, java_type)
            value = float(value)
        if has_range:
            range_problems(value, path, shape, problems, sensitive)
        return value

    return check


def _compile_boolean(compiler: ShapeCompiler, shape: Shape, utf8: bool) -> Check:
    def check(value: Any, path: str, problems: list[str]) -> Any:
        if type(value) is not bool:
            raise type_mismatch(value, "Boolean")
        return value

    return check


def _compile_timestamp(compiler: ShapeCompiler, shape: Shape, utf8: bool) -> Check:
    def check(value: Any, path: str, problems: list[str]) -> Any:
        if type(value) is int or type(value) is float:
            try:
                return datetime.fromtimestamp(value, UTC)
            except (OverflowError, OSError, ValueError):
                raise type_mismatch(value, "Date") from None
        if type(value) is str:
            return _parse_iso_timestamp(value)
        raise type_mismatch(value, "Date")

    return check


def _parse_iso_timestamp(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise type_mismatch(text, "Date") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _compile_blob(compiler: ShapeCompiler, shape: Shape, utf8: bool) -> Check:
    sensitive = bool(shape.get("sensitive"))

    def check(value: Any, path: str, problems: list[str]) -> Any:
        if type(value) is not str:
            raise type_mismatch(value, "ByteBuffer")
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise SerializationException("Base64 encoded value is not valid.") from None
        length_problems(value, len(data), path, shape, problems, sensitive)
        return data if compiler.decode_blobs else value

    return check


_COMPILERS: Final[dict[str, Callable[[ShapeCompiler, Shape, bool], Check]]] = {
    "structure": _compile_structure,
    "list": _compile_list,
    "map": _compile_map,
    "string": _compile_string,
    "integer": _compile_integer,
    "long": _compile_integer,
    "float": _compile_float,
    "double": _compile_float,
    "boolean": _compile_boolean,
    "timestamp": _compile_timestamp,
    "blob": _compile_blob,
}


def _accept_empty(value: Any, path: str, problems: list[str]) -> Any:
    if type(value) is not dict:
        raise type_mismatch(value, "Structure")
    return {}


def compile_request_validators(
    model: ServiceModel = MODEL, decode_blobs: bool = True
) -> dict[str, RequestValidator]:
    """One validator per operation of the model, keyed by operation name (blobs become
    ``bytes`` unless ``decode_blobs`` is false: then they stay checked base64 text)."""
    compiler = ShapeCompiler(model, decode_blobs)
    validators = {}
    for operation in model.operations:
        shape_name = model.operation_shape(operation, "input")
        check = _accept_empty if shape_name is None else compiler.compile(shape_name)
        validators[operation] = RequestValidator(operation, check)
    return validators


REQUEST_VALIDATORS: Final = compile_request_validators()
