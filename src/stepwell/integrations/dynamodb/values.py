"""Typed attribute values exactly as DynamoDB's JSON API writes them.

An attribute value is a one-key dict: ``{"S": "x"}``, ``{"N": "1.5"}``, ``{"B": "<base64>"}``,
``{"BOOL": true}``, ``{"NULL": true}``, ``{"M": {...}}``, ``{"L": [...]}``, ``{"SS": [...]}``,
``{"NS": [...]}``, ``{"BS": [...]}`` — the very shape a Step Functions task passes in its
Parameters and gets back in its result. The engine keeps items in that shape (so a store
can persist them as JSON unchanged) but only ever in *canonical* form, which
``canonical_value`` produces once, at the door:

* numbers are exact decimals of at most 38 significant digits with a magnitude between
  1E-130 and 9.99…E+125, written without exponent and with leading and trailing zeros
  trimmed (``"1.50"`` is stored and returned as ``"1.5"``, ``"1E+2"`` as ``"100"``);
* binary is re-encoded as standard padded base64 (``bytes`` are accepted from Python);
* sets have no duplicates and are never empty.

Because the canonical text of a number is unique, equality is structural except for sets,
whose order DynamoDB does not keep. Source: Developer Guide, "Supported data types and
naming rules" (Number, String, Binary, Sets) and "Item sizes and formats".
"""

from __future__ import annotations

import base64
import binascii
import decimal
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from stepwell.integrations.dynamodb.errors import (
    DynamoDBError,
    invalid_parameters,
    serialization,
    validation,
)

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

SCALAR_TYPES: Final = ("S", "N", "B", "BOOL", "NULL")
SET_TYPES: Final = {"SS": "S", "NS": "N", "BS": "B"}
ALL_TYPES: Final = ("B", "NULL", "SS", "BOOL", "L", "BS", "N", "NS", "S", "M")
ORDERED_TYPES: Final = frozenset({"S", "N", "B"})
MAX_ITEM_BYTES: Final = 400 * 1024
MAX_DEPTH: Final = 32

# Wide enough to add, subtract and compare any two storable numbers exactly.
EXACT: Final = decimal.Context(prec=400, Emax=999_999, Emin=-999_999)
_NUMBER_TEXT: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_SET_NAMES: Final = {"SS": "string", "NS": "number", "BS": "binary"}


def type_of(value: AttributeValue) -> str:
    return next(iter(value))


# --- numbers ------------------------------------------------------------------------------


def parse_number(text: str) -> Decimal:
    """The exact value of a number as sent on the wire, checked against DynamoDB's limits."""
    if not _NUMBER_TEXT.fullmatch(text):
        raise validation("A value provided cannot be converted into a number")
    return checked_number(Decimal(text))


def checked_number(number: Decimal) -> Decimal:
    """``number`` if DynamoDB can store it: 38 significant digits, |n| in [1E-130, 1E+126)."""
    digits, exponent = _significant(number)
    if not digits:
        return Decimal(0)
    magnitude = exponent + len(digits) - 1
    if magnitude > 125:
        raise validation(
            "Number overflow. Attempting to store a number with magnitude larger than "
            "supported range"
        )
    if magnitude < -130:
        raise validation(
            "Number underflow. Attempting to store a number with magnitude smaller than "
            "supported range"
        )
    if len(digits) > 38:
        raise validation("Attempting to store more than 38 significant digits in a Number")
    return number


def _significant(number: Decimal) -> tuple[tuple[int, ...], int]:
    """Digits without leading or trailing zeros, and the exponent of the last one."""
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite: parse_number admits no NaN or Infinity
    start, end = 0, len(digits)
    while start < end and digits[start] == 0:
        start += 1
    while end > start and digits[end - 1] == 0:
        end -= 1
    return tuple(digits[start:end]), exponent + (len(digits) - end)


def format_number(number: Decimal) -> str:
    """Canonical text: plain notation, no leading or trailing zeros, no negative zero."""
    if number.is_zero():
        return "0"
    return format(number.normalize(EXACT), "f")


def number_value(number: Decimal) -> AttributeValue:
    return {"N": format_number(checked_number(number))}


# --- validation and canonical form ----------------------------------------------------------


def canonical_item(item: object, *, top_level: bool = True) -> Item:
    """A validated, canonical copy of an item (or any name → value map)."""
    if not isinstance(item, Mapping):
        raise serialization("Unexpected value type in payload: expected a map")
    result: Item = {}
    for name, value in item.items():
        if not isinstance(name, str):
            raise serialization("Unexpected field type in payload: attribute names are strings")
        result[name] = canonical_value(value)
    return result


def canonical_value(value: object, depth: int = 1) -> AttributeValue:
    """Validate one attribute value as DynamoDB does and return it in canonical form."""
    if depth > MAX_DEPTH:
        raise invalid_parameters("Nesting Levels have exceeded supported limits")
    if not isinstance(value, Mapping):
        raise serialization("Unexpected value type in payload: expected an AttributeValue")
    if not value:
        raise validation(
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        )
    if len(value) > 1:
        raise validation(
            "Supplied AttributeValue has more than one datatypes set, must contain exactly "
            "one of the supported datatypes"
        )
    kind, payload = next(iter(value.items()))
    canonicalize = _CANONICALIZERS.get(kind)
    if canonicalize is None:
        raise serialization(f"Unknown AttributeValue data type: {kind}")
    return {kind: canonicalize(payload, depth)}


def _string(payload: object, _depth: int = 0) -> str:
    if not isinstance(payload, str):
        raise serialization(f"{json_kind(payload)} cannot be converted to String")
    return payload


def _number(payload: object, _depth: int = 0) -> str:
    return format_number(parse_number(_string(payload)))


def _binary(payload: object, _depth: int = 0) -> str:
    if isinstance(payload, bytes | bytearray):
        return base64.b64encode(payload).decode("ascii")
    try:
        raw = base64.b64decode(_string(payload), validate=True)
    except (binascii.Error, ValueError) as error:
        raise serialization(f"Base64 encoded binary is invalid: {error}") from None
    return base64.b64encode(raw).decode("ascii")


def _boolean(payload: object, _depth: int = 0) -> bool:
    if not isinstance(payload, bool):
        raise serialization(f"{json_kind(payload)} cannot be converted to Boolean")
    return payload


def _null(payload: object, _depth: int = 0) -> bool:
    if _boolean(payload) is not True:
        raise invalid_parameters("Null attribute value types must have the value of true")
    return True


def _map(payload: object, depth: int) -> dict[str, AttributeValue]:
    if not isinstance(payload, Mapping):
        raise serialization(f"{json_kind(payload)} cannot be converted to Map")
    return {_string(name): canonical_value(member, depth + 1) for name, member in payload.items()}


def _list(payload: object, depth: int) -> list[AttributeValue]:
    return [canonical_value(member, depth + 1) for member in _array(payload)]


def _array(payload: object) -> list[Any]:
    if not isinstance(payload, list | tuple):
        raise serialization(f"{json_kind(payload)} cannot be converted to List")
    return list(payload)


def _set_of(kind: str) -> Any:
    element = {"SS": _string, "NS": _number, "BS": _binary}[kind]

    def canonical_set(payload: object, _depth: int = 0) -> list[str]:
        raw = _array(payload)
        if not raw:
            raise invalid_parameters(f"An {_SET_NAMES[kind]} set  may not be empty")
        members = [element(member) for member in raw]
        if len(set(members)) != len(members):
            shown = ", ".join(str(member) for member in raw)
            raise invalid_parameters(f"Input collection [{shown}] contains duplicates.")
        return members

    return canonical_set


_CANONICALIZERS: Final[dict[str, Any]] = {
    "S": _string,
    "N": _number,
    "B": _binary,
    "BOOL": _boolean,
    "NULL": _null,
    "M": _map,
    "L": _list,
    "SS": _set_of("SS"),
    "NS": _set_of("NS"),
    "BS": _set_of("BS"),
}


def json_kind(payload: object) -> str:
    """How the service names a JSON token of the wrong type (``NUMBER_VALUE``, …)."""
    if isinstance(payload, bool):
        return "BOOLEAN_VALUE"
    if isinstance(payload, int | float | Decimal):
        return "NUMBER_VALUE"
    if isinstance(payload, str):
        return "STRING_VALUE"
    if isinstance(payload, list | tuple):
        return "START_ARRAY"
    if isinstance(payload, Mapping):
        return "START_OBJECT"
    return "VALUE_NULL"


# --- equality and order ---------------------------------------------------------------------


def values_equal(left: AttributeValue, right: AttributeValue) -> bool:
    """DynamoDB equality: same type and value; sets compare as sets, maps as maps."""
    kind = type_of(left)
    if kind != type_of(right):
        return False
    if kind in SET_TYPES:
        return set(left[kind]) == set(right[kind])
    if kind == "M":
        mine, theirs = left["M"], right["M"]
        return mine.keys() == theirs.keys() and all(
            values_equal(mine[name], theirs[name]) for name in mine
        )
    if kind == "L":
        return len(left["L"]) == len(right["L"]) and all(
            values_equal(a, b) for a, b in zip(left["L"], right["L"], strict=True)
        )
    return bool(left[kind] == right[kind])


def sort_key(value: AttributeValue) -> Any:
    """An order key for S (UTF-8 bytes, i.e. code points), N (numeric) and B (bytes)."""
    kind = type_of(value)
    if kind == "N":
        return Decimal(value["N"])
    if kind == "B":
        return base64.b64decode(value["B"])
    return value[kind]


def compare_ordered(left: AttributeValue, right: AttributeValue) -> int | None:
    """-1, 0 or 1 when both are the same ordered type (S, N, B); None otherwise."""
    kind = type_of(left)
    if kind != type_of(right) or kind not in ORDERED_TYPES:
        return None
    a, b = sort_key(left), sort_key(right)
    return int(a > b) - int(a < b)


def describe(value: AttributeValue) -> str:
    """How DynamoDB quotes a value in an error message: ``{N:5}``."""
    kind = type_of(value)
    return f"{{{kind}:{value[kind]}}}"


# --- sizes ----------------------------------------------------------------------------------


def item_size(item: Item) -> int:
    """Bytes an item counts for against the 400 KB limit (Developer Guide, "Item sizes")."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def value_size(value: AttributeValue) -> int:
    kind, payload = next(iter(value.items()))
    return int(_SIZERS[kind](payload))


def _number_size(text: str) -> int:
    digits = len(_significant(Decimal(text))[0])
    return (digits + 1) // 2 + 1


def _map_size(members: dict[str, AttributeValue]) -> int:
    return 3 + sum(len(name.encode()) + value_size(v) + 1 for name, v in members.items())


def _list_size(members: list[AttributeValue]) -> int:
    return 3 + sum(value_size(member) + 1 for member in members)


def _binary_size(text: str) -> int:
    return len(base64.b64decode(text))


_SIZERS: Final[dict[str, Any]] = {
    "S": lambda text: len(text.encode()),
    "N": _number_size,
    "B": _binary_size,
    "BOOL": lambda _: 1,
    "NULL": lambda _: 1,
    "M": _map_size,
    "L": _list_size,
    "SS": lambda members: sum(len(m.encode()) for m in members),
    "NS": lambda members: sum(_number_size(m) for m in members),
    "BS": lambda members: sum(_binary_size(m) for m in members),
}


def check_item_size(
    item: Item, message: str = "Item size has exceeded the maximum allowed size"
) -> None:
    if item_size(item) > MAX_ITEM_BYTES:
        raise DynamoDBError("ValidationException", message)
