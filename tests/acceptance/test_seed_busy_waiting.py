"""Seed 3, busy waiting, as the seed writes it, through boto3 against a real server.

The definition is the seed's, character for character (``examples/busy_waiting/``): a
``lambda:invoke`` Task with Retry on Lambda's transient errors (IntervalSeconds 2,
MaxAttempts 6, BackoffRate 2), Wait 2 s, Choice on ``$.status`` whose Default goes back
to the Wait. The function is busy at first (``Lambda.ServiceException``), so the Retry
polls it, then reports success. Retry timing: Developer Guide, "Handling errors in Step
Functions workflows" (IntervalSeconds * BackoffRate^(retry-1), at most MaxAttempts
retries).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from examples.busy_waiting.functions import FUNCTION_NAME, BusyLambda
from examples.local_stepwell import LocalStepwell, local_stepwell

EXAMPLES = Path(__file__).parents[2] / "examples"
DEFINITION = EXAMPLES / "busy_waiting" / "busy_waiting.asl.json"
VARIANT = EXAMPLES / "busy_waiting.asl.json"  # `make example`: the Default polls again


@pytest.fixture(scope="module")
def local(db: str) -> Iterator[LocalStepwell]:
    with local_stepwell({}, start=datetime.fromisoformat("2024-05-01T09:00Z"), db=db) as running:
        yield running


def start(local: LocalStepwell, function: Any, name: str, definition: Path = DEFINITION) -> str:
    local.register_function(FUNCTION_NAME, function)
    machine = local.create_state_machine(name, definition)
    return local.start_execution(machine, {})


def offsets(local: LocalStepwell, execution: str, event_type: str) -> list[float]:
    """Seconds from the execution's start to each of its events of ``event_type``."""
    started = local.describe(execution)["startDate"]
    return [(e["timestamp"] - started).total_seconds() for e in local.events(execution, event_type)]


def test_the_definition_is_the_seed_as_written() -> None:
    definition = json.loads(DEFINITION.read_text())
    main = definition["States"]["Main"]
    assert main["Parameters"] == {
        "Payload.$": "$",
        "FunctionName": "arn:aws:lambda:us-east-1:031342435657:function:"
        "stepfunctionlambda_test:$LATEST",
    }
    assert main["Retry"] == [
        {
            "ErrorEquals": [
                "Lambda.ServiceException",
                "Lambda.AWSLambdaException",
                "Lambda.SdkClientException",
                "Lambda.TooManyRequestsException",
            ],
            "IntervalSeconds": 2,
            "MaxAttempts": 6,
            "BackoffRate": 2,
        }
    ]
    assert definition["States"]["WaitforInvocation"]["Seconds"] == 2
    assert definition["States"]["CheckInvocationsStatus"]["Default"] == "WaitforInvocation"


def test_the_retry_polls_until_the_function_reports_success(local: LocalStepwell) -> None:
    function = BusyLambda(busy_calls=3)
    execution = start(local, function, "BusyWaiting")
    described = local.run_until_done(execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"status": "success", "message": "Hello, World!"}
    assert function.calls == 4
    # Called at 0 s, then after 2, 4 and 8 s of back-off; Wait 2 s; Choice → Final.
    assert offsets(local, execution, "TaskScheduled") == [0, 2, 6, 14]
    errors = [e["taskFailedEventDetails"]["error"] for e in local.events(execution, "TaskFailed")]
    assert errors == ["Lambda.ServiceException"] * 3
    assert offsets(local, execution, "WaitStateEntered") == [14]
    assert (described["stopDate"] - described["startDate"]).total_seconds() == 16
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in local.history(execution)
        if e["type"].endswith("StateEntered")
    ]
    assert entered == ["Main", "WaitforInvocation", "CheckInvocationsStatus", "Final"]


def test_busy_for_longer_than_six_retries_fails_the_execution(local: LocalStepwell) -> None:
    function = BusyLambda(busy_calls=7)  # the call and its 6 retries
    execution = start(local, function, "BusyTooLong")
    described = local.run_until_done(execution)
    assert (described["status"], described["error"]) == ("FAILED", "Lambda.ServiceException")
    assert function.calls == 7
    assert offsets(local, execution, "TaskScheduled") == [0, 2, 6, 14, 30, 62, 126]


def test_as_written_another_status_loops_on_the_wait_until_stopped(local: LocalStepwell) -> None:
    function = BusyLambda(busy_calls=0, status="in_progress")
    execution = start(local, function, "BusyForever")
    local.run_until_done(execution, max_seconds=20)
    assert local.describe(execution)["status"] == "RUNNING"
    assert function.calls == 1  # the Default goes back to the Wait, not to the Task
    assert offsets(local, execution, "WaitStateEntered") == list(range(0, 21, 2))
    local.sfn.stop_execution(executionArn=execution, error="Stopped", cause="busy forever")
    local.settle()
    stopped = local.describe(execution)
    assert (stopped["status"], stopped["error"]) == ("ABORTED", "Stopped")


def test_the_make_example_variant_asks_the_function_again(local: LocalStepwell) -> None:
    statuses = iter(["in_progress", "in_progress", "success"])
    calls: list[Any] = []

    def reporter(event: Any, context: Any) -> dict[str, Any]:
        calls.append(event)
        return {"status": next(statuses)}

    execution = start(local, reporter, "BusyWaitingVariant", VARIANT)
    described = local.run_until_done(execution)
    assert described["status"] == "SUCCEEDED"
    assert len(calls) == 3
    assert offsets(local, execution, "TaskScheduled") == [0, 2, 4]
