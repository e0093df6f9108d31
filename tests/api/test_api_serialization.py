"""Responses shaped by the output model: epoch-second timestamps, no nulls, no extras."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from stepwell.api.model import MODEL
from stepwell.api.patterns import compile_java_pattern, translate_java_pattern
from stepwell.api.serialization import RESPONSE_ENCODERS, encode_blob, encode_timestamp

ARN = "arn:aws:states:us-east-1:123456789012:execution:Hello:run-1"
STARTED = datetime(2025, 3, 1, 12, 30, 15, 123_987, tzinfo=UTC)


def encode(operation: str, result: dict[str, Any]) -> Any:
    return RESPONSE_ENCODERS[operation](result)


def test_timestamps_become_epoch_seconds_truncated_to_milliseconds() -> None:
    wire = encode("StartExecution", {"executionArn": ARN, "startDate": STARTED})
    assert wire == {"executionArn": ARN, "startDate": 1740832215.123}


def test_none_and_unmodelled_members_are_left_out() -> None:
    result = {
        "executionArn": ARN,
        "stateMachineArn": ARN,
        "status": "RUNNING",
        "startDate": STARTED,
        "stopDate": None,
        "output": None,
        "internalBookkeeping": {"lease": 3},
    }
    assert encode("DescribeExecution", result) == {
        "executionArn": ARN,
        "stateMachineArn": ARN,
        "status": "RUNNING",
        "startDate": 1740832215.123,
    }


def test_nested_timestamps_in_lists_are_encoded() -> None:
    events = [
        {"timestamp": STARTED, "type": "ExecutionStarted", "id": 1, "previousEventId": 0},
        {
            "timestamp": STARTED + timedelta(seconds=1),
            "type": "PassStateEntered",
            "id": 2,
            "previousEventId": 1,
            "stateEnteredEventDetails": {"name": "A", "input": "{}", "inputDetails": None},
        },
    ]
    wire = encode("GetExecutionHistory", {"events": events, "nextToken": None})
    assert wire == {
        "events": [
            {
                "timestamp": 1740832215.123,
                "type": "ExecutionStarted",
                "id": 1,
                "previousEventId": 0,
            },
            {
                "timestamp": 1740832216.123,
                "type": "PassStateEntered",
                "id": 2,
                "previousEventId": 1,
                "stateEnteredEventDetails": {"name": "A", "input": "{}"},
            },
        ]
    }


def test_flat_structures_in_lists_drop_nulls() -> None:
    items = [{"stateMachineArn": ARN, "name": "m", "type": "STANDARD", "creationDate": STARTED}]
    wire = encode("ListStateMachines", {"stateMachines": items, "nextToken": None})
    assert wire == {"stateMachines": [{**items[0], "creationDate": 1740832215.123}]}


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (datetime(1970, 1, 1, tzinfo=UTC), 0.0),
        (datetime(2025, 3, 1, 12, 30, 15, 999_999, tzinfo=UTC), 1740832215.999),
        (datetime(2025, 3, 1, 14, 30, 15, tzinfo=timezone(timedelta(hours=2))), 1740832215.0),
        (datetime(2025, 3, 1, 12, 30, 15), 1740832215.0),  # naive: taken as UTC
        (1740832215.5, 1740832215.5),
    ],
)
def test_encode_timestamp(value: Any, seconds: float) -> None:
    assert encode_timestamp(value) == seconds


def test_encode_timestamp_refuses_text() -> None:
    with pytest.raises(TypeError):
        encode_timestamp("2025-03-01")


def test_encode_blob() -> None:
    assert encode_blob(b"\x00\xff") == "AP8="
    assert encode_blob("AP8=") == "AP8="  # the embedded services keep blobs as base64 text
    with pytest.raises(TypeError):
        encode_blob(12)


@pytest.mark.parametrize("operation", sorted(MODEL.operations))
def test_every_operation_encodes_an_empty_result(operation: str) -> None:
    assert encode(operation, {}) == {}


@pytest.mark.parametrize(
    ("java", "python"),
    [
        ("\\p{ASCII}*", "[\\x00-\\x7F]*"),
        ("[\\p{Alnum}_]+", "[a-zA-Z0-9_]+"),
        ("\\P{Digit}", "[^0-9]"),
        ("^[a-z]\\d+$", "^[a-z]\\d+$"),
        ("\\p{L}+", None),
        ("[\\P{Digit}]", None),
        ("\\Qa.b\\E", None),
        ("\\p{ASCII", None),
        ("\\pL", None),
    ],
)
def test_java_patterns_translate_or_are_skipped(java: str, python: str | None) -> None:
    assert translate_java_pattern(java) == python


def test_patterns_that_cannot_be_trusted_are_not_compiled() -> None:
    assert compile_java_pattern(None) is None
    assert compile_java_pattern("a" * 600) is None
    assert compile_java_pattern("(unclosed") is None
    assert compile_java_pattern("\\p{L}+") is None
    compiled = compile_java_pattern("[!-~]+")
    assert compiled is not None and compiled.fullmatch("token-1") is not None
