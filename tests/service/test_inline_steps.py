"""Calls that step an execution in the caller's thread, and the wake-ups they send.

StartExecution and SendTaskSuccess run the execution's steps due at once in the calling
thread (the runtime's ``Worker.advance_now``), so a short workflow has moved on by the
time the call answers; the runtime's idle workers are woken only for the work those
steps left them: a timer (with its due time, so a worker sleeps until exactly then),
a task to invoke. An execution that ended needs no wake-up at all.
"""

from __future__ import annotations

import json
from typing import Any

from stepwell.integrations.registry import Integrations
from stepwell.runtime.clock import VirtualClock
from stepwell.runtime.worker import Worker
from stepwell.service.service import Service
from stepwell.store.base import Store
from tests.service.harness import ROLE, START


class Inline:
    """A service whose calls step executions at once, recording each wake-up."""

    def __init__(self, store: Store) -> None:
        self.clock = VirtualClock(START)
        integrations = Integrations()
        self.wakes: list[float | None] = []
        worker = Worker(store, integrations, self.clock)
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
