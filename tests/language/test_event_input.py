"""What a rule's target receives: the event, Input, InputPath or the InputTransformer
(Amazon EventBridge User Guide, "Amazon EventBridge input transformation",
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepwell.language.event_input import (
    InvalidTargetInput,
    check_target_input,
    render_template,
    target_input,
)

EVENT: dict[str, Any] = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2015-11-11T21:29:54Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {"instance-id": "i-abcd1111", "state": "pending", "count": 3},
}
RULE = ("my-rule", "arn:aws:events:us-east-1:123456789012:rule/my-rule")


def rendered(target: dict[str, Any]) -> str:
    return target_input(target, EVENT, *RULE, "2015-11-11T21:29:55Z")


def transformer(template: str, **paths: str) -> dict[str, Any]:
    return {
        "Id": "t",
        "Arn": "x",
        "InputTransformer": {"InputPathsMap": paths, "InputTemplate": template},
    }


def test_without_input_the_target_gets_the_event() -> None:
    assert json.loads(rendered({"Id": "t", "Arn": "x"})) == EVENT


def test_input_is_sent_as_is() -> None:
    assert rendered({"Id": "t", "Arn": "x", "Input": '{"a": 1}'}) == '{"a": 1}'


def test_input_path_selects_part_of_the_event() -> None:
    assert json.loads(rendered({"Id": "t", "Arn": "x", "InputPath": "$.detail"})) == EVENT["detail"]


def test_variables_outside_quotes_are_json_inside_quotes_text() -> None:
    target = transformer(
        '{"instance": <instance>, "count": <count>, "text": "<instance> is in <state> (<count>)"}',
        instance="$.detail.instance-id",
        state="$.detail.state",
        count="$.detail.count",
    )
    assert json.loads(rendered(target)) == {
        "instance": "i-abcd1111",
        "count": 3,
        "text": "i-abcd1111 is in pending (3)",
    }


def test_a_string_template() -> None:
    target = transformer(
        '"instance <instance> is in <state>"',
        instance="$.detail.instance-id",
        state="$.detail.state",
    )
    assert json.loads(rendered(target)) == "instance i-abcd1111 is in pending"


def test_predefined_variables() -> None:
    target = transformer(
        '{"rule": "<aws.events.rule-name>", "arn": <aws.events.rule-arn>, '
        '"at": "<aws.events.event.ingestion-time>", "event": <aws.events.event>, '
        '"whole": <aws.events.event.json>}'
    )
    result = json.loads(rendered(target))
    assert result["rule"] == "my-rule" and result["arn"] == RULE[1]
    assert result["at"] == "2015-11-11T21:29:55Z"
    assert result["whole"] == EVENT
    assert result["event"] == {k: v for k, v in EVENT.items() if k != "detail"}


def test_a_path_that_finds_nothing_is_null() -> None:
    target = transformer('{"missing": <m>, "text": "[<m>]"}', m="$.detail.nope")
    assert json.loads(rendered(target)) == {"missing": None, "text": "[]"}


def test_quotes_in_values_are_escaped_inside_strings() -> None:
    event = {**EVENT, "detail": {"say": 'he said "hi"'}}
    target = transformer('{"text": "<say>!"}', say="$.detail.say")
    assert json.loads(target_input(target, event, *RULE, "")) == {"text": 'he said "hi"!'}


@pytest.mark.parametrize(
    "target",
    [
        {"Id": "t", "Input": "{", "Arn": "x"},
        {"Id": "t", "Input": "{}", "InputPath": "$", "Arn": "x"},
        {"Id": "t", "InputPath": "$.[", "Arn": "x"},
        transformer("<x>", **{"aws.events.rule-name": "$.source"}),
        transformer("<x>", x="not a path"),
        transformer("<x>", **{f"v{i}": "$.source" for i in range(101)}),
        # API Reference, InputTransformer: InputTemplate is at most 8,192 characters.
        transformer("x" * 8193),
        {"Id": "t", "Arn": "x", "InputTransformer": {"InputTemplate": 5}},
        # API Reference, InputTransformer: InputPathsMap is a map of names to paths.
        {"Id": "t", "Arn": "x", "InputTransformer": {"InputPathsMap": ["$.a"]}},
        {"Id": "t", "Arn": "x", "InputTransformer": {"InputPathsMap": "$.a"}},
    ],
)
def test_invalid_target_inputs_are_refused(target: dict[str, Any]) -> None:
    with pytest.raises(InvalidTargetInput):
        check_target_input(target)


def test_a_template_of_the_maximum_length_is_accepted() -> None:
    check_target_input(transformer("x" * 8192))


class _CountingText(str):
    """A template that counts how many single characters are read from it."""

    reads = 0

    def __getitem__(self, key: Any) -> str:
        if isinstance(key, int):
            _CountingText.reads += 1
        return str.__getitem__(self, key)


def test_a_template_is_scanned_once_left_to_right() -> None:
    # Whether each placeholder sits inside a quoted string is found in one pass, so a
    # template with thousands of placeholders reads each character at most once.
    piece = '"<v> \\" x", <v>, '  # a quoted string with an escaped quote
    template = _CountingText("[" + piece * 2000 + "0]")
    _CountingText.reads = 0
    text = render_template(template, {"v": 'a"b'})
    assert _CountingText.reads <= len(template)
    assert json.loads(text) == ['a"b " x', 'a"b'] * 2000 + [0]
