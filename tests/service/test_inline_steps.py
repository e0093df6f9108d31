"""Calls that step an execution in the caller's thread, and the wake-ups they send.

StartExecution and SendTaskSuccess run the execution's steps due at once in the calling
thread (the runtime's ``Worker.advance_now``), so a short workflow has moved on by the
time the call answers; the runtime's idle workers are woken only for the work those
steps left them: a timer (with its due time, so a worker sleeps until exactly then),
a task to invoke. An execution that ended needs no wake-up at all.

A calling thread steps under a lease of its own, never the pool's: an execution one of
the pool's threads holds is left to that thread.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepwell.integrations.registry import Integrations
from stepwell.runtime.clock import VirtualClock
from stepwell.runtime.worker import Worker
from stepwell.service.errors import ExecutionAlreadyExists
from stepwell.service.service import Service
from stepwell.store.base import LEASE_SECONDS, StepOutcome, Store
from tests.service.harness import ROLE, START


class Inline:
    """A service whose calls step executions at once, recording each wake-up."""

    def __init__(self, store: Store) -> None:
        self.clock = VirtualClock(START)
        integrations = Integrations()
        self.wakes: list[float | None] = []
        worker = self.worker = Worker(store, integrations, self.clock)
        self.service = Service(
            store, self.clock, wake=self._wake, integrations=integrations, run_now=worker
        )

    def _wake(self, due: float | None = None) -> None:
        self.wakes.append(due)

    def call(self, operation: str, **request: Any) -> dict[str, Any]:
        return self.service.handle(operation, request)

    def start(self, definition: dict[str, Any]) -> str:
        machine = self.call(
            "CreateStateMachine", name="m", definition=json.dumps(definition), roleArn=ROLE
        )["stateMachineArn"]
        return str(self.call("StartExecution", stateMachineArn=machine)["executionArn"])

    def status(self, execution: str) -> str:
        return str(self.call("DescribeExecution", executionArn=execution)["status"])


def test_a_wait_of_zero_ends_within_start_execution_and_wakes_no_worker(store: Store) -> None:
    inline = Inline(store)
    execution = inline.start(
        {
            "StartAt": "W",
            "States": {
                "W": {"Type": "Wait", "Seconds": 0, "Next": "P"},
                "P": {"Type": "Pass", "End": True},
            },
        }
    )
    assert inline.status(execution) == "SUCCEEDED"
    assert inline.wakes == []


def test_a_timer_wakes_the_workers_for_its_due_time(store: Store) -> None:
    inline = Inline(store)
    execution = inline.start(
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    )
    assert inline.status(execution) == "RUNNING"
    assert inline.wakes == [START + 3600]


def test_send_task_success_applies_the_outcome_before_it_answers(store: Store) -> None:
    inline = Inline(store)
    activity = inline.call("CreateActivity", name="a")["activityArn"]
    execution = inline.start(
        {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": activity, "End": True}}}
    )
    task = inline.call("GetActivityTask", activityArn=activity)
    inline.wakes.clear()
    inline.call("SendTaskSuccess", taskToken=task["taskToken"], output='{"ok": true}')
    assert inline.status(execution) == "SUCCEEDED"
    assert inline.call("DescribeExecution", executionArn=execution)["output"] == '{"ok":true}'
    assert inline.wakes == []


def test_an_execution_a_pool_thread_holds_is_not_stepped_by_a_request_thread(
    store: Store,
) -> None:
    """Issue 12: a request thread stepping with the pool's lease owner could lease an
    execution a pool thread held, and both stepped it (the version check kept the state
    right, but side effects outside the commit ran twice)."""
    inline = Inline(store)
    activity = inline.call("CreateActivity", name="a")["activityArn"]
    execution = inline.start(
        {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": activity, "End": True}}}
    )
    token = inline.call("GetActivityTask", activityArn=activity)["taskToken"]
    # A pool thread (the worker's own owner) leases the execution for the work due on it.
    pool = store.lease_execution(inline.worker.owner, inline.clock.now(), LEASE_SECONDS)
    assert pool is not None and pool.execution.arn == execution
    inline.wakes.clear()

    inline.call("SendTaskSuccess", taskToken=token, output='{"ok": true}')

    # The request thread left the execution alone and woke the pool for the outcome.
    assert inline.status(execution) == "RUNNING"
    assert inline.wakes == [inline.clock.now()]
    # The pool thread's lease still holds: its step commits (before the fix the request
    # thread had leased and stepped the execution meanwhile, and this commit was refused).
    held = StepOutcome(pool.execution, pool.state, (), (), ())
    assert store.commit_step(pool, held)
    inline.worker.run_until_idle()
    assert inline.status(execution) == "SUCCEEDED"
    history = inline.call("GetExecutionHistory", executionArn=execution)["events"]
    assert [e["type"] for e in history].count("ActivitySucceeded") == 1


def test_start_execution_writes_the_first_step_with_the_execution(store: Store) -> None:
    """StartExecution creates the execution and commits its first step together: the
    execution is at its Wait when it answers and no start item is left for the pool."""
    inline = Inline(store)
    execution = inline.start(
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    )
    history = inline.call("GetExecutionHistory", executionArn=execution)["events"]
    assert [e["type"] for e in history] == ["ExecutionStarted", "WaitStateEntered"]
    assert store.lease_execution("someone", inline.clock.now(), LEASE_SECONDS) is None
    assert store.next_due(inline.clock.now()) == START + 3600


def test_start_execution_of_a_name_in_use_writes_nothing(store: Store) -> None:
    """Same name and input: the same execution (API Reference, StartExecution), not
    stepped again; other input: ExecutionAlreadyExists."""
    inline = Inline(store)
    machine = inline.call(
        "CreateStateMachine",
        name="m",
        definition=json.dumps(
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}
        ),
        roleArn=ROLE,
    )["stateMachineArn"]
    first = inline.call("StartExecution", stateMachineArn=machine, name="n", input="{}")
    again = inline.call("StartExecution", stateMachineArn=machine, name="n", input="{}")
    assert again["executionArn"] == first["executionArn"]
    history = inline.call("GetExecutionHistory", executionArn=first["executionArn"])["events"]
    assert [e["type"] for e in history] == ["ExecutionStarted", "WaitStateEntered"]
    with pytest.raises(ExecutionAlreadyExists):
        inline.call("StartExecution", stateMachineArn=machine, name="n", input='{"a": 1}')
