"""DescribeMapRun's redrive counts and the tolerated-failure threshold of a Map Run.

API Reference, MapRunItemCounts / MapRunExecutionCounts: ``pendingRedrive`` is "the number
of unsuccessful child workflow executions currently waiting to be redriven";
``failuresNotRedrivable`` "the number of FAILED, ABORTED, or TIMED_OUT child workflow
executions that cannot be redriven". Developer Guide, "Redriving Map Runs": a redriven run
at its concurrency limit keeps the children still to rerun "in the Pending redrive state"
until it can run them, and "When a Map Run has completed its execution or is aborted, the
count ... is reset to 0"; a Standard child that reached the 25,000-event history limit
"won't be attempted again".

Developer Guide, "Setting failure thresholds for Distributed Map states": "Step Functions
calculates the percentage of failed items as the result of the total number of failed or
timed out items divided by the total number of items": an aborted child is not counted.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from stepwell.engine.history import HISTORY_LIMIT_CAUSE
from stepwell.runtime.map_runs import child_redrivable, counts, ended_notice, progress_of
from stepwell.runtime.redrive_plan import MAX_REDRIVES
from stepwell.store.base import Store
from tests.service.harness import Harness
from tests.service.test_map_run_redrive import Flaky, definition


def tolerating_one() -> dict[str, Any]:
    """One child at a time; the run fails at its second failed child."""
    machine = definition()
    machine["States"]["M"]["ToleratedFailureCount"] = 1
    return machine


def failed_run(store: Store) -> tuple[Harness, Flaky, str, str]:
    flaky = Flaky()
    h = Harness(store, functions={"flaky": flaky})
    execution = h.start(h.machine(tolerating_one()), "[-1, -2, 3]")
    h.settle()
    (run,) = h.call("ListMapRuns", executionArn=execution)["mapRuns"]
    return h, flaky, execution, run["mapRunArn"]


def redrive_counts(h: Harness, run: str) -> tuple[int, int, int, int]:
    described = h.call("DescribeMapRun", mapRunArn=run)
    items, executions = described["itemCounts"], described["executionCounts"]
    return (
        items["pendingRedrive"],
        executions["pendingRedrive"],
        items["failuresNotRedrivable"],
        executions["failuresNotRedrivable"],
    )


def test_children_waiting_for_a_redriven_runs_concurrency_are_pending_redrive(
    store: Store,
) -> None:
    h, flaky, execution, run = failed_run(store)
    described = h.call("DescribeMapRun", mapRunArn=run)
    assert described["status"] == "FAILED"
    assert (described["executionCounts"]["failed"], described["itemCounts"]["pending"]) == (2, 1)
    assert redrive_counts(h, run) == (0, 0, 0, 0)  # redrivable, and no redrive asked yet
    flaky.healed = True
    h.call("RedriveExecution", executionArn=execution)
    h.worker.advance_one(execution)  # the parent asks for its Map Run again
    h.worker.advance_one(run)  # the run reruns its first failed child (MaxConcurrency 1)
    described = h.call("DescribeMapRun", mapRunArn=run)
    assert (described["status"], described["redriveCount"]) == ("RUNNING", 1)
    assert described["executionCounts"]["running"] == 1
    assert redrive_counts(h, run) == (1, 1, 0, 0)  # the second failed child waits its turn
    h.settle()
    described = h.call("DescribeMapRun", mapRunArn=run)
    assert described["status"] == "SUCCEEDED"
    assert described["executionCounts"]["succeeded"] == 3
    assert redrive_counts(h, run) == (0, 0, 0, 0)


def test_a_child_ended_by_the_history_limit_is_a_failure_not_redrivable(store: Store) -> None:
    h, _, _, run = failed_run(store)
    # A failed child, as if it had ended at the history limit: its report to the run says so.
    listed = h.call("ListExecutions", mapRunArn=run, statusFilter="FAILED")["executions"]
    child = h.store.get_execution(listed[0]["executionArn"])
    assert child is not None and child.status == "FAILED"
    assert child_redrivable(child)
    full = replace(child, error="States.Runtime", cause=HISTORY_LIMIT_CAUSE)
    assert not child_redrivable(full)
    notice = ended_notice(full, h.clock.now())
    assert notice is not None and json.loads(notice.payload)["redrivable"] is False


def test_failures_are_not_redrivable_once_the_run_was_redriven_1000_times(store: Store) -> None:
    h, _, _, run = failed_run(store)
    record = h.store.get_execution(run)
    assert record is not None
    progress = progress_of(record)
    assert counts(progress, "executions", 0)["failuresNotRedrivable"] == 0
    assert counts(progress, "executions", MAX_REDRIVES)["failuresNotRedrivable"] == 2
    assert counts(progress, "items", MAX_REDRIVES)["failuresNotRedrivable"] == 2


def waiting_children() -> dict[str, Any]:
    machine = definition()
    processor = machine["States"]["M"]
    del processor["MaxConcurrency"]
    processor["ItemProcessor"]["States"] = {"T": {"Type": "Wait", "Seconds": 10, "End": True}}
    return machine


def test_an_aborted_child_is_not_a_failure_the_threshold_counts(store: Store) -> None:
    h = Harness(store)
    execution = h.start(h.machine(waiting_children()), "[1, 2]")
    h.worker.run_until_idle()  # both children wait
    (run,) = h.call("ListMapRuns", executionArn=execution)["mapRuns"]
    children = h.call("ListExecutions", mapRunArn=run["mapRunArn"])["executions"]
    assert len(children) == 2
    stopped = children[0]["executionArn"]
    h.call("StopExecution", executionArn=stopped)
    h.settle()
    described = h.call("DescribeMapRun", mapRunArn=run["mapRunArn"])
    # No failure tolerated (the default), yet the run goes on: ABORTED is not FAILED.
    assert described["status"] == "SUCCEEDED"
    counted = described["executionCounts"]
    assert (counted["aborted"], counted["succeeded"], counted["failed"]) == (1, 1, 0)
    assert h.call("DescribeExecution", executionArn=execution)["status"] == "SUCCEEDED"


def test_a_failed_child_still_exceeds_the_threshold(store: Store) -> None:
    h, _, execution, run = failed_run(store)
    described = h.call("DescribeExecution", executionArn=execution)
    assert (described["status"], described["error"]) == (
        "FAILED",
        "States.ExceedToleratedFailureThreshold",
    )
    assert h.call("DescribeMapRun", mapRunArn=run)["executionCounts"]["failed"] == 2
