"""Attribute values of the embedded DynamoDB. Sources: Developer Guide, "Supported data types
and naming rules in Amazon DynamoDB" (Number: 38 digits, range, "leading and trailing
zeroes are trimmed"; Binary as base64; sets unique and non-empty; empty strings allowed
outside keys since May 2020), "Item sizes and formats"; API Reference, "AttributeValue"."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from stepwell.integrations.dynamodb import DynamoDBError
from stepwell.integrations.dynamodb.values import (
    canonical_item,
    canonical_value,
    compare_ordered,
    item_size,
    values_equal,
)

NUMBERS: list[tuple[str, str]] = [
    ("1.50", "1.5"),
    ("0001", "1"),
    ("-0", "0"),
    ("0.000", "0"),
    ("1E+2", "100"),
    ("1e2", "100"),
    (".5", "0.5"),
    ("5.", "5"),
    ("+7", "7"),
    ("-1.2300e-3", "-0.00123"),
    ("123456789012345678901234567890123456780000", "123456789012345678901234567890123456780000"),
    ("1E-130", "0." + "0" * 129 + "1"),
    (
        "9.9999999999999999999999999999999999999E+125",
        "99999999999999999999999999999999999999" + "0" * 88,
    ),
    (
        "-9.9999999999999999999999999999999999999E+125",
        "-99999999999999999999999999999999999999" + "0" * 88,
    ),
]


@pytest.mark.parametrize(("text", "canonical"), NUMBERS)
def test_numbers_are_stored_trimmed_and_without_exponent(text: str, canonical: str) -> None:
    assert canonical_value({"N": text}) == {"N": canonical}


NUMBER_ERRORS: list[tuple[str, str]] = [
    ("ten", "A value provided cannot be converted into a number"),
    ("1.2.3", "A value provided cannot be converted into a number"),
    ("", "A value provided cannot be converted into a number"),
    ("NaN", "A value provided cannot be converted into a number"),
    ("Infinity", "A value provided cannot be converted into a number"),
    (" 1", "A value provided cannot be converted into a number"),
    ("0x10", "A value provided cannot be converted into a number"),
    ("1e", "A value provided cannot be converted into a number"),
    (
        "1E+126",
        "Number overflow. Attempting to store a number with magnitude larger than supported range",
    ),
    (
        "-1E+126",
        "Number overflow. Attempting to store a number with magnitude larger than supported range",
    ),
    (
        "1E-131",
        "Number underflow. Attempting to store a number with magnitude smaller than supported "
        "range",
    ),
    (
        "123456789012345678901234567890123456789",
        "Attempting to store more than 38 significant digits in a Number",
    ),
]


@pytest.mark.parametrize(("text", "message"), NUMBER_ERRORS)
def test_numbers_outside_dynamodbs_limits_are_refused(text: str, message: str) -> None:
    with pytest.raises(DynamoDBError) as caught:
        canonical_value({"N": text})
    assert (caught.value.code, caught.value.message) == ("ValidationException", message)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


VALID: list[tuple[Any, Any]] = [
    ({"S": ""}, {"S": ""}),  # empty strings are allowed outside keys
    ({"B": b"\x00\xff"}, {"B": b64(b"\x00\xff")}),  # bytes from Python become base64
    ({"B": "AP8="}, {"B": "AP8="}),
    ({"BOOL": False}, {"BOOL": False}),
    ({"NULL": True}, {"NULL": True}),
    ({"SS": ["", "a"]}, {"SS": ["", "a"]}),  # an empty string may be a set member
    ({"NS": ["1.0", "2"]}, {"NS": ["1", "2"]}),
    ({"BS": [b"x", b64(b"y")]}, {"BS": [b64(b"x"), b64(b"y")]}),
    ({"M": {}}, {"M": {}}),  # empty maps and lists are allowed
    ({"L": []}, {"L": []}),
    ({"M": {"a": {"L": [{"N": "01"}]}}}, {"M": {"a": {"L": [{"N": "1"}]}}}),
]


@pytest.mark.parametrize(("value", "canonical"), VALID)
def test_valid_values_are_canonicalised(value: Any, canonical: Any) -> None:
    assert canonical_value(value) == canonical


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"S": "leaf"}
    for _ in range(depth - 1):
        value = {"L": [value]}
    return value


INVALID: list[tuple[Any, str, str]] = [
    (
        {},
        "ValidationException",
        "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
    ),
    (
        {"S": "a", "N": "1"},
        "ValidationException",
        "Supplied AttributeValue has more than one "
        "datatypes set, must contain exactly one of the supported datatypes",
    ),
    ({"X": "a"}, "SerializationException", "Unknown AttributeValue data type: X"),
    ("a", "SerializationException", "Unexpected value type in payload: expected an AttributeValue"),
    ({"S": 1}, "SerializationException", "NUMBER_VALUE cannot be converted to String"),
    ({"S": None}, "SerializationException", "VALUE_NULL cannot be converted to String"),
    ({"N": 1.5}, "SerializationException", "NUMBER_VALUE cannot be converted to String"),
    ({"BOOL": "true"}, "SerializationException", "STRING_VALUE cannot be converted to Boolean"),
    (
        {"NULL": False},
        "ValidationException",
        "One or more parameter values were invalid: Null "
        "attribute value types must have the value of true",
    ),
    ({"M": []}, "SerializationException", "START_ARRAY cannot be converted to Map"),
    ({"L": {}}, "SerializationException", "START_OBJECT cannot be converted to List"),
    ({"SS": "a"}, "SerializationException", "STRING_VALUE cannot be converted to List"),
    ({"SS": [True]}, "SerializationException", "BOOLEAN_VALUE cannot be converted to String"),
    (
        {"SS": []},
        "ValidationException",
        "One or more parameter values were invalid: An string set  may not be empty",
    ),
    (
        {"NS": []},
        "ValidationException",
        "One or more parameter values were invalid: An number set  may not be empty",
    ),
    (
        {"BS": []},
        "ValidationException",
        "One or more parameter values were invalid: An binary set  may not be empty",
    ),
    (
        {"SS": ["a", "a"]},
        "ValidationException",
        "One or more parameter values were invalid: Input collection [a, a] contains duplicates.",
    ),
    (
        {"NS": ["1", "1.0"]},
        "ValidationException",
        "One or more parameter values were invalid: Input collection [1, 1.0] contains duplicates.",
    ),
    (
        {"B": "!!"},
        "SerializationException",
        "Base64 encoded binary is invalid: Only base64 data is allowed",
    ),
    ({"B": "AP8"}, "SerializationException", "Base64 encoded binary is invalid"),  # unpadded
    (
        {"M": {"a": {"NS": []}}},
        "ValidationException",
        "One or more parameter values were invalid: An number set  may not be empty",
    ),
    (
        nested(33),
        "ValidationException",
        "One or more parameter values were invalid: Nesting Levels have exceeded supported limits",
    ),
]


@pytest.mark.parametrize(("value", "code", "message"), INVALID)
def test_invalid_values_are_refused_as_dynamodb_refuses_them(
    value: Any, code: str, message: str
) -> None:
    with pytest.raises(DynamoDBError) as caught:
        canonical_value(value)
    assert caught.value.code == code
    assert caught.value.message.startswith(message)


def test_nesting_up_to_32_levels_is_allowed() -> None:
    assert canonical_value(nested(32)) == nested(32)


def test_items_must_be_maps_of_named_values() -> None:
    with pytest.raises(DynamoDBError, match="expected a map"):
        canonical_item([{"S": "a"}])
    with pytest.raises(DynamoDBError, match="attribute names are strings"):
        canonical_item({1: {"S": "a"}})
    assert canonical_item({"a": {"N": "1.0"}}) == {"a": {"N": "1"}}


EQUALITY: list[tuple[Any, Any, bool]] = [
    ({"SS": ["a", "b"]}, {"SS": ["b", "a"]}, True),
    ({"SS": ["a"]}, {"S": "a"}, False),
    ({"M": {"a": {"N": "1"}}}, {"M": {"a": {"N": "1"}}}, True),
    ({"M": {"a": {"N": "1"}}}, {"M": {"b": {"N": "1"}}}, False),
    ({"L": [{"N": "1"}, {"N": "2"}]}, {"L": [{"N": "2"}, {"N": "1"}]}, False),
    ({"L": [{"N": "1"}]}, {"L": [{"N": "1"}, {"N": "1"}]}, False),
    ({"BOOL": True}, {"BOOL": False}, False),
]


@pytest.mark.parametrize(("left", "right", "expected"), EQUALITY)
def test_equality_follows_dynamodb(left: Any, right: Any, expected: bool) -> None:
    assert values_equal(left, right) is expected


ORDER: list[tuple[Any, Any, int | None]] = [
    ({"N": "2"}, {"N": "10"}, -1),  # numbers numerically
    ({"S": "2"}, {"S": "10"}, 1),  # strings by bytes
    ({"S": "a"}, {"S": "A"}, 1),  # "a" (0x61) > "A" (0x41)
    ({"S": "¿"}, {"S": "z"}, 1),  # "¿" (0xC2BF) > "z" (0x7A)
    ({"B": b64(b"\xff")}, {"B": b64(b"\x01")}, 1),  # unsigned bytes
    ({"N": "1"}, {"N": "1"}, 0),
    ({"N": "1"}, {"S": "1"}, None),
    ({"BOOL": True}, {"BOOL": True}, None),
]


@pytest.mark.parametrize(("left", "right", "expected"), ORDER)
def test_ordering_of_strings_numbers_and_binary(
    left: Any, right: Any, expected: int | None
) -> None:
    assert compare_ordered(left, right) == expected


SIZES: list[tuple[Any, int]] = [
    ({"a": {"S": "abc"}}, 1 + 3),
    ({"ab": {"N": "123"}}, 2 + 3),  # 1 byte per two significant digits, plus one
    ({"a": {"N": "1000"}}, 1 + 2),
    ({"a": {"B": b64(b"12345")}}, 1 + 5),
    ({"a": {"BOOL": True}, "b": {"NULL": True}}, 2 + 2),
    ({"a": {"M": {}}}, 1 + 3),
    ({"a": {"L": [{"S": "xy"}]}}, 1 + 3 + 2 + 1),
    ({"a": {"M": {"k": {"S": "xy"}}}}, 1 + 3 + 1 + 2 + 1),
    (
        {"a": {"SS": ["x", "yz"]}, "b": {"NS": ["1"]}, "c": {"BS": [b64(b"q")]}},
        1 + 3 + 1 + 2 + 1 + 1,
    ),
    ({"é": {"S": "é"}}, 4),  # UTF-8 bytes
]


@pytest.mark.parametrize(("item", "size"), SIZES)
def test_item_size_follows_the_developer_guide(item: Any, size: int) -> None:
    assert item_size(item) == size
