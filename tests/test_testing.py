"""``stepwell.testing``: a real Stepwell for a user's tests, driven with boto3."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepwell.testing import local_stepwell

WAIT_THEN_GREET = {
    "StartAt": "Later",
    "States": {
        "Later": {"Type": "Wait", "Seconds": 3600, "Next": "Greet"},
        "Greet": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:greet",
            "End": True,
        },
    },
}


def greet(event: dict[str, Any]) -> dict[str, Any]:
    return {"hello": event["name"]}


def test_local_stepwell_with_virtual_time() -> None:
    with local_stepwell(functions={"greet": greet}, virtual_time=True) as sw:
        sfn = sw.client()
        arn = sfn.create_state_machine(
            name="greeter",
            definition=json.dumps(WAIT_THEN_GREET),
            roleArn="arn:aws:iam::123456789012:role/r",
        )["stateMachineArn"]
        started = sfn.start_execution(stateMachineArn=arn, input='{"name": "Ada"}')
        execution = {"executionArn": started["executionArn"]}
        assert sfn.describe_execution(**execution)["status"] == "RUNNING"
        sw.advance(3599)
        assert sfn.describe_execution(**execution)["status"] == "RUNNING"
        sw.advance(1)
        done = sfn.describe_execution(**execution)
        assert done["status"] == "SUCCEEDED"
        assert json.loads(done["output"]) == {"hello": "Ada"}


def test_advance_needs_virtual_time() -> None:
    with local_stepwell() as sw, pytest.raises(TypeError):
        sw.advance(1)
