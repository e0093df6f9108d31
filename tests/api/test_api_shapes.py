"""Shape kinds the Step Functions input model does not use yet: maps, timestamps, blobs,
recursive structures, operations without input or output.

A newer botocore may add them; the compilers must already handle them, so they are
checked here against a small made-up model.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from stepwell.api.model import ServiceModel
from stepwell.api.serialization import compile_response_encoders
from stepwell.api.validation import compile_request_validators
from stepwell.service.errors import SerializationException, ValidationException

SHAPES: dict[str, Any] = {
    "Input": {
        "type": "structure",
        "members": {
            "labels": {"shape": "Labels"},
            "at": {"shape": "When"},
            "data": {"shape": "Data"},
            "tree": {"shape": "Node"},
        },
    },
    "Labels": {
        "type": "map",
        "key": {"shape": "Key"},
        "value": {"shape": "Key"},
        "max": 2,
    },
    "Key": {"type": "string", "min": 1, "max": 5},
    "When": {"type": "timestamp"},
    "Data": {"type": "blob", "max": 3},
    "Node": {
        "type": "structure",
        "members": {"name": {"shape": "Key"}, "children": {"shape": "Nodes"}},
    },
    "Nodes": {"type": "list", "member": {"shape": "Node"}},
    "Output": {
        "type": "structure",
        "members": {
            "at": {"shape": "When"},
            "data": {"shape": "Data"},
            "labels": {"shape": "Labels"},
            "tree": {"shape": "Node"},
            "stamps": {"shape": "Stamps"},
        },
    },
    "Stamps": {"type": "map", "key": {"shape": "Key"}, "value": {"shape": "When"}},
}
MODEL = ServiceModel(
    metadata={"targetPrefix": "Test", "jsonVersion": "1.0", "endpointPrefix": "test"},
    operations={
        "Both": {"input": {"shape": "Input"}, "output": {"shape": "Output"}},
        "Neither": {},
    },
    shapes=SHAPES,
)
VALIDATORS = compile_request_validators(MODEL)
ENCODERS = compile_response_encoders(MODEL)
MOMENT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_model_metadata() -> None:
    assert (MODEL.target_prefix, MODEL.json_version, MODEL.signing_name) == ("Test", "1.0", "test")


def test_maps_timestamps_blobs_and_recursive_structures_are_read() -> None:
    request = VALIDATORS["Both"](
        {
            "labels": {"a": "b"},
            "at": 1740830400,
            "data": "AAEC",
            "tree": {"name": "root", "children": [{"name": "leaf", "children": []}]},
        }
    )
    assert request == {
        "labels": {"a": "b"},
        "at": MOMENT,
        "data": b"\x00\x01\x02",
        "tree": {"name": "root", "children": [{"name": "leaf", "children": []}]},
    }


@pytest.mark.parametrize(
    "text", ["2025-03-01T12:00:00Z", "2025-03-01T12:00:00+00:00", "2025-03-01T12:00:00"]
)
def test_iso_timestamps_are_read(text: str) -> None:
    assert VALIDATORS["Both"]({"at": text}) == {"at": MOMENT}


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"labels": []}, "Start of list found where not expected."),
        ({"at": "yesterday"}, "STRING_VALUE can not be converted to a Date"),
        ({"at": True}, "BOOLEAN_VALUE can not be converted to a Date"),
        ({"at": 1e300}, "NUMBER_VALUE can not be converted to a Date"),
        ({"data": 5}, "NUMBER_VALUE can not be converted to a ByteBuffer"),
        ({"data": "***"}, "Base64 encoded value is not valid."),
        ({"tree": {"children": [{"name": 1}]}}, "NUMBER_VALUE can not be converted to a String"),
    ],
)
def test_wrong_types_in_other_shapes(members: dict[str, Any], message: str) -> None:
    with pytest.raises(SerializationException) as caught:
        VALIDATORS["Both"](members)
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("members", "problem"),
    [
        (
            {"labels": {"a": "1", "b": "2", "c": "3"}},
            "Value '{a=1, b=2, c=3}' at 'labels' failed to satisfy constraint: "
            "Member must have length less than or equal to 2",
        ),
        (
            {"labels": {"a": "toolong"}},
            "Value 'toolong' at 'labels.a' failed to satisfy constraint: "
            "Member must have length less than or equal to 5",
        ),
        (
            {"labels": {"a": None}},
            "Value null at 'labels.a' failed to satisfy constraint: Member must not be null",
        ),
        (
            {"data": "AAECAw=="},
            "Value 'AAECAw==' at 'data' failed to satisfy constraint: "
            "Member must have length less than or equal to 3",
        ),
        (
            {"tree": {"children": [{"children": [{"name": ""}]}]}},
            "Value '' at 'tree.children.1.member.children.1.member.name' failed to satisfy "
            "constraint: Member must have length greater than or equal to 1",
        ),
    ],
)
def test_constraints_in_other_shapes(members: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationException) as caught:
        VALIDATORS["Both"](members)
    assert caught.value.message == f"1 validation error detected: {problem}"


def test_an_operation_without_input_takes_an_empty_object() -> None:
    assert VALIDATORS["Neither"]({"anything": 1}) == {}
    with pytest.raises(SerializationException):
        VALIDATORS["Neither"]([])


def test_outputs_of_other_shapes_are_encoded() -> None:
    result = {
        "at": MOMENT,
        "data": b"\x00\x01",
        "labels": {"a": "b", "c": None},
        "stamps": {"x": MOMENT, "y": None},
        "tree": {"name": "root", "children": [{"name": "leaf", "children": None}, None]},
    }
    assert ENCODERS["Both"](result) == {
        "at": 1740830400.0,
        "data": "AAE=",
        "labels": {"a": "b"},
        "stamps": {"x": 1740830400.0},
        "tree": {"name": "root", "children": [{"name": "leaf"}]},
    }
    assert ENCODERS["Neither"]({"ignored": 1}) == {}
