"""SNS subscription filter policies, table-driven from the Amazon SNS Developer Guide
("Amazon SNS message filtering operators", "Filter policy constraints")."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepwell.integrations.services.base import ServiceError
from stepwell.integrations.services.sns_filters import accepts, matches, parse_policy


def string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


def number(value: str) -> dict[str, str]:
    return {"DataType": "Number", "StringValue": value}


ATTRIBUTE_CASES = [
    # (policy, attributes, delivered)
    ({"status": ["FAILED"]}, {"status": string("FAILED")}, True),
    ({"status": ["FAILED"]}, {"status": string("SUCCEEDED")}, False),
    ({"status": ["FAILED", "TIMED_OUT"]}, {"status": string("TIMED_OUT")}, True),  # OR
    ({"status": ["FAILED"], "env": ["prod"]}, {"status": string("FAILED")}, False),  # AND
    ({"status": [{"prefix": "TIME"}]}, {"status": string("TIMED_OUT")}, True),
    ({"file": [{"suffix": ".png"}]}, {"file": string("a.png")}, True),
    ({"env": [{"equals-ignore-case": "PROD"}]}, {"env": string("prod")}, True),
    ({"status": [{"anything-but": "FAILED"}]}, {"status": string("OK")}, True),
    ({"status": [{"anything-but": ["FAILED", "X"]}]}, {"status": string("X")}, False),
    ({"status": [{"anything-but": {"prefix": "F"}}]}, {"status": string("FAILED")}, False),
    ({"status": [{"anything-but": "FAILED"}]}, {}, False),  # missing never matches
    ({"price": [{"numeric": [">", 0, "<=", 100]}]}, {"price": number("100")}, True),
    ({"price": [{"numeric": [">", 0, "<=", 100]}]}, {"price": number("100.5")}, False),
    ({"price": [{"numeric": ["=", 5]}]}, {"price": string("5")}, False),  # a String
    ({"price": [5]}, {"price": number("5.0")}, True),
    ({"price": [5]}, {"price": string("5")}, False),
    ({"id": [{"exists": True}]}, {"id": string("x")}, True),
    ({"id": [{"exists": False}]}, {}, True),
    ({"id": [{"exists": False}]}, {"id": string("x")}, False),
    (
        {"colors": ["red"]},
        {"colors": {"DataType": "String.Array", "StringValue": '["blue","red"]'}},
        True,
    ),
    ({"blob": ["x"]}, {"blob": {"DataType": "Binary", "BinaryValue": "eA=="}}, False),
    ({"$or": [{"a": ["1"]}, {"b": ["2"]}]}, {"b": string("2")}, True),
    ({"$or": [{"a": ["1"]}, {"b": ["2"]}]}, {"c": string("3")}, False),
]


@pytest.mark.parametrize(("policy", "attributes", "delivered"), ATTRIBUTE_CASES)
def test_attribute_scope(
    policy: dict[str, Any], attributes: dict[str, Any], delivered: bool
) -> None:
    subscription = {"FilterPolicy": json.dumps(policy)}
    assert accepts(subscription, "message", attributes) is delivered


BODY_CASES = [
    ({"order": {"total": [{"numeric": [">=", 100]}]}}, {"order": {"total": 150}}, True),
    ({"order": {"total": [{"numeric": [">=", 100]}]}}, {"order": {"total": 50}}, False),
    ({"order": {"total": [{"numeric": [">=", 100]}]}}, {"order": 3}, False),
    ({"tags": ["urgent"]}, {"tags": ["low", "urgent"]}, True),
    ({"ok": [True]}, {"ok": True}, True),
    ({"ok": [True]}, {"ok": 1}, False),
    ({"missing": [None]}, {"missing": None}, True),
]


@pytest.mark.parametrize(("policy", "body", "delivered"), BODY_CASES)
def test_message_body_scope(policy: dict[str, Any], body: Any, delivered: bool) -> None:
    subscription = {"FilterPolicy": json.dumps(policy), "FilterPolicyScope": "MessageBody"}
    assert accepts(subscription, json.dumps(body), {}) is delivered


def test_body_scope_needs_a_json_object() -> None:
    subscription = {"FilterPolicy": '{"a": ["b"]}', "FilterPolicyScope": "MessageBody"}
    assert not accepts(subscription, "not json", {})
    assert not accepts(subscription, "[1]", {})


def test_no_policy_accepts_everything() -> None:
    assert accepts({}, "anything", {})
    assert matches({}, {})


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        "{}",
        '{"a": "b"}',
        '{"a": []}',
        '{"a": [{"bogus": 1}]}',
        '{"a": [{"prefix": 1}]}',
        '{"a": [{"exists": "yes"}]}',
        '{"a": [{"numeric": [">"]}]}',
        '{"a": [{"numeric": ["~", 1]}]}',
        '{"$or": [{"a": ["b"]}]}',
    ],
)
def test_malformed_policies_are_invalid_parameters(text: str) -> None:
    with pytest.raises(ServiceError) as caught:
        parse_policy(text)
    assert caught.value.code == "InvalidParameter"
