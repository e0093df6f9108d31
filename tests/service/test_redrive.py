"""RedriveExecution (API Reference, RedriveExecution; Developer Guide, "Redriving
executions"): failed, timed-out and aborted Standard executions restart at the state that
stopped them, keep their ARN, input, history and variables, and count their redrives."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepwell.service import errors as err
from stepwell.store.base import Store
from tests.service.harness import FN, Harness


class Flaky:
    """A Lambda function that fails the first ``failures`` times it is called."""

    def __init__(self, failures: int = 1) -> None:
        self.failures = failures
        self.calls: list[Any] = []

    def __call__(self, event: Any) -> Any:
        self.calls.append(event)
        if len(self.calls) <= self.failures:
            raise RuntimeError("not yet")
        return {"done": event}


TWO_STEPS = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {
            "Type": "Pass",
            "Result": "ready",
            "ResultPath": "$.prep",
            "Assign": {"token": 7},
            "Next": "Work",
        },
        "Work": {
            "Type": "Task",
            "Resource": FN + "flaky",
            "Parameters": {
                "prep.$": "$.prep",
                "token.$": "$token",
                "redrives.$": "$$.Execution.RedriveCount",
            },
            "End": True,
        },
    },
}


def test_a_failed_execution_continues_from_the_failed_state(store: Store) -> None:
    flaky = Flaky()
    h = Harness(store, {"flaky": flaky})
    execution = h.run(h.machine(TWO_STEPS))["executionArn"]
    failed_events = len(h.history(execution))
    h.clock.advance(60)
    redriven = h.call("RedriveExecution", executionArn=execution)
    assert redriven["redriveDate"].timestamp() == h.clock.now()
    running = h.call("DescribeExecution", executionArn=execution)
    assert (running["status"], running["redriveCount"]) == ("RUNNING", 1)
    assert "stopDate" not in running and "error" not in running
    h.settle()
    done = h.call("DescribeExecution", executionArn=execution)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"done": {"prep": "ready", "token": 7, "redrives": 1}}
    assert done["redriveDate"] == redriven["redriveDate"]
    assert len(flaky.calls) == 2  # Prepare did not run again; Work ran once more
    events = h.history(execution)
    redrive = events[failed_events]
    assert redrive["type"] == "ExecutionRedriven"
    assert redrive["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert redrive["id"] == failed_events + 1
    assert events[failed_events + 1]["type"] == "TaskStateEntered"
    assert events[failed_events + 1]["stateEnteredEventDetails"]["name"] == "Work"
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "ExecutionSucceeded"


def test_redriving_twice_counts_both(store: Store) -> None:
    h = Harness(store, {"flaky": Flaky(failures=2)})
    execution = h.run(h.machine(TWO_STEPS))["executionArn"]
    for expected in ("FAILED", "SUCCEEDED"):
        h.call("RedriveExecution", executionArn=execution)
        h.settle()
        assert h.call("DescribeExecution", executionArn=execution)["status"] == expected
    described = h.call("DescribeExecution", executionArn=execution)
    assert described["redriveCount"] == 2
    assert json.loads(described["output"])["done"]["redrives"] == 2
    listed = h.call("ListExecutions", stateMachineArn=described["stateMachineArn"])
    assert listed["executions"][0]["redriveCount"] == 2


def test_aborted_and_timed_out_executions_can_be_redriven(store: Store) -> None:
    h = Harness(store)
    waiting = {
        "StartAt": "W",
        "TimeoutSeconds": 100,
        "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}},
    }
    arn = h.machine(waiting)
    aborted = h.start(arn, name="aborted")
    h.worker.run_until_idle()
    h.call("StopExecution", executionArn=aborted)
    h.worker.run_until_idle()
    assert h.call("DescribeExecution", executionArn=aborted)["status"] == "ABORTED"
    h.call("RedriveExecution", executionArn=aborted)
    h.settle()
    assert h.call("DescribeExecution", executionArn=aborted)["status"] == "SUCCEEDED"

    slow = h.machine(waiting | {"TimeoutSeconds": 10}, name="slow")
    timed_out = h.run(slow, name="late")
    assert timed_out["status"] == "TIMED_OUT"
    # AWS behaviour K6: no error and no cause after TimeoutSeconds; redrivable.
    assert "error" not in timed_out and "cause" not in timed_out
    assert (timed_out["redriveCount"], timed_out["redriveStatus"]) == (0, "REDRIVABLE")
    h.call("RedriveExecution", executionArn=timed_out["executionArn"])
    h.settle()
    again = h.call("DescribeExecution", executionArn=timed_out["executionArn"])
    assert (again["status"], again["redriveCount"]) == ("TIMED_OUT", 1)


def test_redrive_with_the_same_client_token_is_idempotent(store: Store) -> None:
    h = Harness(store, {"flaky": Flaky(failures=5)})
    execution = h.run(h.machine(TWO_STEPS))["executionArn"]
    first = h.call("RedriveExecution", executionArn=execution, clientToken="once")
    h.settle()
    h.clock.advance(5)
    assert h.call("RedriveExecution", executionArn=execution, clientToken="once") == first
    assert h.call("DescribeExecution", executionArn=execution)["redriveCount"] == 1
    h.call("RedriveExecution", executionArn=execution, clientToken="twice")
    assert h.call("DescribeExecution", executionArn=execution)["redriveCount"] == 2


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        # K6: no trailing period
        ("succeeded", "Execution is SUCCEEDED and cannot be redriven"),
        ("running", "Execution is RUNNING and cannot be redriven"),
        ("too late", "Execution redrivable period exceeded."),
        ("deleted", "State machine is in DELETING status."),
    ],
)
def test_executions_that_cannot_be_redriven(store: Store, setup: str, reason: str) -> None:
    h = Harness(store, {"flaky": Flaky(failures=0 if setup == "succeeded" else 1)})
    definition = TWO_STEPS
    if setup == "running":
        definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 9, "End": True}}}
    arn = h.machine(definition)
    execution = h.start(arn)
    h.worker.run_until_idle()
    if setup == "too late":
        h.clock.advance(14 * 86400 + 1)
    if setup == "deleted":
        h.call("DeleteStateMachine", stateMachineArn=arn)
    with pytest.raises(err.ExecutionNotRedrivable, match=reason):
        h.call("RedriveExecution", executionArn=execution)


@pytest.mark.parametrize("again", ["running", "failed again"])
def test_of_two_concurrent_redrives_the_later_is_refused(
    store: Store, monkeypatch: pytest.MonkeyPatch, again: str
) -> None:
    """Two RedriveExecution requests read the same failed attempt; the first redrives
    it (and, in one case, it fails again before the second writes). The second gets
    ExecutionNotRedrivable (K6 wording when it runs), never a 500, and the execution
    keeps the first redrive's count and an unbroken history."""
    h = Harness(store, {"flaky": Flaky(failures=5)})
    execution = h.run(h.machine(TWO_STEPS))["executionArn"]
    history = store.history
    raced: list[bool] = []

    def first_redrive_meanwhile(arn: str) -> list[dict[str, Any]]:
        events = history(arn)
        if not raced:  # the second request has read the record and its history
            raced.append(True)
            h.call("RedriveExecution", executionArn=execution)
            if again == "failed again":
                h.settle()
        return events

    monkeypatch.setattr(store, "history", first_redrive_meanwhile)
    reason = {
        "running": "Execution is RUNNING and cannot be redriven",
        "failed again": "Execution was redriven by another request meanwhile",
    }[again]
    with pytest.raises(err.ExecutionNotRedrivable, match=reason):
        h.call("RedriveExecution", executionArn=execution)
    monkeypatch.setattr(store, "history", history)
    assert h.call("DescribeExecution", executionArn=execution)["redriveCount"] == 1
    h.settle()
    ids = [event["id"] for event in h.history(execution)]
    assert ids == list(range(1, len(ids) + 1))
    assert [e["type"] for e in h.history(execution)].count("ExecutionRedriven") == 1


def test_redrive_of_unknown_executions(store: Store) -> None:
    h = Harness(store)
    with pytest.raises(err.ExecutionDoesNotExist):
        h.call(
            "RedriveExecution", executionArn="arn:aws:states:us-east-1:123456789012:execution:m:x"
        )
    with pytest.raises(err.InvalidArn):
        h.call("RedriveExecution", executionArn="not an arn")


def test_a_failed_parallel_state_runs_again(store: Store) -> None:
    flaky = Flaky()
    h = Harness(store, {"flaky": flaky})
    parallel = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
                    {
                        "StartAt": "B",
                        "States": {"B": {"Type": "Task", "Resource": FN + "flaky", "End": True}},
                    },
                ],
                "End": True,
            }
        },
    }
    execution = h.run(h.machine(parallel), input='{"x": 1}')["executionArn"]
    h.call("RedriveExecution", executionArn=execution)
    h.settle()
    done = h.call("DescribeExecution", executionArn=execution)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == [{"x": 1}, {"done": {"x": 1}}]


def test_a_redriven_evaluation_failure_copies_the_redriven_state_s_pointer(
    store: Store,
) -> None:
    """AWS behaviour A3: EvaluationFailed copies its StateEntered's previousEventId, also
    for the state a redrive re-enters (which points at ExecutionRedriven)."""
    h = Harness(store, {})
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Bad",
        "States": {"Bad": {"Type": "Pass", "Output": "{% $missing %}", "End": True}},
    }
    execution = h.run(h.machine(definition))["executionArn"]
    first = len(h.history(execution))
    h.call("RedriveExecution", executionArn=execution)
    h.settle()
    events = h.history(execution)[first:]
    assert [(e["type"], e["previousEventId"]) for e in events] == [
        ("ExecutionRedriven", first),
        ("PassStateEntered", first + 1),
        ("EvaluationFailed", first + 1),
        ("ExecutionFailed", first + 3),
    ]
