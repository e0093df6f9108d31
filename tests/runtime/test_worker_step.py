"""One durable step's bookkeeping: the ended execution's record, its output text, and
the random source a step draws from."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from stepwell.engine.env import Env
from stepwell.engine.execution import REDRIVE_DONE, ExecutionInfo, ExecutionState
from stepwell.integrations.registry import Integrations
from stepwell.runtime.clock import VirtualClock
from stepwell.runtime.worker import Worker, _record_after
from stepwell.service.service import Service
from stepwell.store.base import ExecutionRecord, Store

ROLE = "arn:aws:iam::123456789012:role/stepwell"


def _record() -> tuple[ExecutionRecord, dict[str, Any]]:
    """A record whose every field holds a value of its own."""
    values: dict[str, Any] = {f.name: f"value of {f.name}" for f in fields(ExecutionRecord)}
    return ExecutionRecord(**values), values


def test_record_after_keeps_every_other_field() -> None:
    """An ended execution's record changes its status, stop date, output, error, cause
    and redrive_keeps; every other field, one added later included, is carried over."""
    record, values = _record()
    keeps = {"state": "P", "done": [[0, {"ok": 1}]]}
    failed = ExecutionState(info=ExecutionInfo(), frames={}, status="FAILED", error="E", cause="C")
    failed.extra[REDRIVE_DONE] = keeps
    after = _record_after(record, failed, 42.0)
    changed = {
        "status": "FAILED",
        "stop_date": 42.0,
        "output": None,
        "error": "E",
        "cause": "C",
        "redrive_keeps": keeps,
    }
    for field in fields(ExecutionRecord):
        assert getattr(after, field.name) == changed.get(field.name, values[field.name])


def test_record_after_a_success_takes_the_output_text_of_its_history_event() -> None:
    record, values = _record()
    succeeded = ExecutionState(info=ExecutionInfo(), frames={}, status="SUCCEEDED", output=[1])
    event = {"type": "ExecutionSucceeded", "executionSucceededEventDetails": {"output": "[1]"}}
    after = _record_after(record, succeeded, 7.0, [event])
    assert (after.status, after.stop_date, after.output) == ("SUCCEEDED", 7.0, "[1]")
    assert (after.error, after.cause, after.redrive_keeps) == (None, None, None)
    assert after.arn == values["arn"] and after.input == values["input"]
    # Ended in an earlier step (no event of its end here): the output is written anew.
    assert _record_after(record, succeeded, 7.0).output == "[1]"
    running = ExecutionState(info=ExecutionInfo(), frames={})
    assert _record_after(record, running, 7.0) is record


def _service(store: Store) -> Service:
    clock = VirtualClock(1_700_000_000.0)
    worker = Worker(store, Integrations(), clock)
    return Service(store, clock, run_now=worker)


def test_described_output_is_the_history_output_kept_as_sent(store: Store) -> None:
    """I1: an input passed through unchanged keeps its text (spacing included) in
    ExecutionSucceeded and in DescribeExecution's output alike."""
    service = _service(store)
    definition = {
        "StartAt": "W",
        "States": {
            "W": {"Type": "Wait", "Seconds": 0, "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    machine = service.handle(
        "CreateStateMachine", {"name": "m", "definition": json.dumps(definition), "roleArn": ROLE}
    )["stateMachineArn"]
    sent = '{"a":  [1, 2],  "b": "x"}'
    arn = service.handle("StartExecution", {"stateMachineArn": machine, "input": sent})[
        "executionArn"
    ]
    described = service.handle("DescribeExecution", {"executionArn": arn})
    events = service.handle("GetExecutionHistory", {"executionArn": arn})["events"]
    assert described["status"] == "SUCCEEDED"
    assert described["output"] == sent
    assert events[-1]["executionSucceededEventDetails"]["output"] == sent


def test_each_durable_step_draws_from_a_source_of_its_own(store: Store) -> None:
    """States.UUID in two executions (each one step, seeded from the OS when first
    drawn from) gives two different UUIDs."""
    service = _service(store)
    definition = {
        "StartAt": "Id",
        "States": {"Id": {"Type": "Pass", "Parameters": {"id.$": "States.UUID()"}, "End": True}},
    }
    machine = service.handle(
        "CreateStateMachine", {"name": "u", "definition": json.dumps(definition), "roleArn": ROLE}
    )["stateMachineArn"]
    ids = []
    for _ in range(2):
        arn = service.handle("StartExecution", {"stateMachineArn": machine})["executionArn"]
        output = service.handle("DescribeExecution", {"executionArn": arn})["output"]
        ids.append(json.loads(output)["id"])
    assert len(set(ids)) == 2 and all(len(i) == 36 for i in ids)


def test_env_without_a_source_seeds_one_when_first_drawn_from() -> None:
    env = Env(rng=None)
    assert env.rng is None
    first = env.random()
    assert env.rng is not None and 0 <= first < 1
    source = env.rng
    env.uuid4()
    assert env.rng is source  # made once
    assert Env().random() == Env().random()  # the default: seeded, replays identically
