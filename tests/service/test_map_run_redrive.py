"""Redriving a parent whose Distributed Map failed redrives its Map Run (Developer Guide,
"Redriving Map Runs"): the same Map Run runs again, only its unsuccessful children (and
any it never started) run again, the children that succeeded keep their results, and
DescribeMapRun counts the redrive (``redriveCount``, ``redriveDate``).

"Child workflow execution redrive behavior": a Standard child that failed, timed out or
was aborted is redriven with RedriveExecution, "from the last state in ItemProcessor that
resulted in their unsuccessful execution", under "the same execution ARN as the original
execution attempt" (its redrives show in DescribeExecution and GetExecutionHistory); an
Express child that failed or timed out is started again from the first state of the
ItemProcessor, also under the same ARN, and its redrives cannot be told apart."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections import Counter
from dataclasses import replace
from typing import Any

import orjson
import pytest

from stepwell.engine import events as ev
from stepwell.runtime.codec import encode_event
from stepwell.runtime.map_runs import child_machine_arn, child_name
from stepwell.store.base import (
    ExecutionRecord,
    StepOutcome,
    Store,
    StoreUnavailable,
    WorkItem,
    definition_key,
)
from tests.service.harness import Harness

FN = "arn:aws:lambda:us-east-1:123456789012:function:"


class Flaky:
    """Fails negative items until ``healed``; counts the calls per item."""

    def __init__(self) -> None:
        self.healed = False
        self.calls: Counter[int] = Counter()

    def __call__(self, event: Any) -> Any:
        self.calls[event] += 1
        if event < 0 and not self.healed:
            raise ValueError("not yet")
        return event * 10


def definition(execution_type: str = "STANDARD", first: str = "T") -> dict[str, Any]:
    states: dict[str, Any] = {"T": {"Type": "Task", "Resource": FN + "flaky", "End": True}}
    if first != "T":  # a Pass state before the Task
        states[first] = {"Type": "Pass", "Next": "T"}
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "MaxConcurrency": 1,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
                    "StartAt": first,
                    "States": states,
                },
                "End": True,
            }
        },
    }


def failed_then_redriven(
    store: Store, execution_type: str, first: str = "T"
) -> tuple[Harness, Flaky, str, str]:
    flaky = Flaky()
    h = Harness(store, functions={"flaky": flaky})
    execution = h.start(h.machine(definition(execution_type, first)), "[1, -1, 2, -2]")
    h.settle()
    assert h.call("DescribeExecution", executionArn=execution)["status"] == "FAILED"
    (run,) = h.call("ListMapRuns", executionArn=execution)["mapRuns"]
    flaky.healed = True
    h.call("RedriveExecution", executionArn=execution)
    h.settle()
    return h, flaky, execution, run["mapRunArn"]


def test_only_the_unsuccessful_children_run_again(store: Store) -> None:
    h, flaky, execution, _ = failed_then_redriven(store, "STANDARD")
    described = h.call("DescribeExecution", executionArn=execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == [10, -10, 20, -20]
    # 1 succeeded before the redrive and does not run again; the failed -1 and the
    # never-started 2 and -2 (MaxConcurrency 1, the run failed at -1) run once more.
    assert flaky.calls == Counter({1: 1, -1: 2, 2: 1, -2: 1})


def test_the_same_map_run_is_redriven_and_counts_it(store: Store) -> None:
    h, _, execution, run = failed_then_redriven(store, "STANDARD")
    (again,) = h.call("ListMapRuns", executionArn=execution)["mapRuns"]
    assert again["mapRunArn"] == run
    described = h.call("DescribeMapRun", mapRunArn=run)
    assert (described["status"], described["redriveCount"]) == ("SUCCEEDED", 1)
    assert "redriveDate" in described
    assert (described["itemCounts"]["succeeded"], described["itemCounts"]["failed"]) == (4, 0)
    types = [e["type"] for e in h.history(execution)]
    redriven = types.index("ExecutionRedriven")
    assert "MapRunRedriven" in types[redriven:]
    assert types[-3:] == ["MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]
    event = next(e for e in h.history(execution) if e["type"] == "MapRunRedriven")
    assert event["mapRunRedrivenEventDetails"] == {"mapRunArn": run, "redriveCount": 1}


def test_express_children_are_redriven_too(store: Store) -> None:
    h, flaky, execution, _ = failed_then_redriven(store, "EXPRESS")
    described = h.call("DescribeExecution", executionArn=execution)
    assert json.loads(described["output"]) == [10, -10, 20, -20]
    assert flaky.calls[1] == 1


def test_i1_the_redriven_state_keeps_the_input_text(store: Store) -> None:
    """I1: the input as sent is kept by later inputs holding that unchanged value; the
    state a redrive enters again holds it too."""
    h, _, execution, _ = failed_then_redriven(store, "STANDARD")
    entered = [e for e in h.history(execution) if e["type"] == "MapStateEntered"]
    assert [e["stateEnteredEventDetails"]["input"] for e in entered] == ["[1, -1, 2, -2]"] * 2


def test_a_parent_redriven_while_its_map_run_is_still_stopping(store: Store) -> None:
    """StopExecution ends the parent at once and stops its Map Run in a later step; a
    redrive in between still gets the Map Run back once it has stopped."""
    waiting = definition()
    processor = waiting["States"]["M"]["ItemProcessor"]
    processor["States"] = {"T": {"Type": "Wait", "Seconds": 10, "End": True}}
    h = Harness(store)
    execution = h.start(h.machine(waiting), "[1, 2]")
    h.worker.run_until_idle()  # the first child waits; the Map Run is running
    h.call("StopExecution", executionArn=execution)
    h.worker.advance_one(execution)  # the parent stops; its Map Run has not yet
    assert h.call("DescribeExecution", executionArn=execution)["status"] == "ABORTED"
    h.call("RedriveExecution", executionArn=execution)
    h.worker.advance_one(execution)  # asks for the Map Run again before it has stopped
    h.settle()
    described = h.call("DescribeExecution", executionArn=execution)
    assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", [1, 2])
    (run,) = h.call("ListMapRuns", executionArn=execution)["mapRuns"]
    assert h.call("DescribeMapRun", mapRunArn=run["mapRunArn"])["redriveCount"] == 1


def children(h: Harness, run: str) -> dict[str, dict[str, Any]]:
    """The run's children by input, described."""
    listed = h.call("ListExecutions", mapRunArn=run)["executions"]
    described = [h.call("DescribeExecution", executionArn=c["executionArn"]) for c in listed]
    return {d["input"]: d for d in described}


def test_standard_children_are_redriven_in_place(store: Store) -> None:
    flaky = Flaky()
    h = Harness(store, functions={"flaky": flaky})
    execution = h.start(h.machine(definition("STANDARD", first="Before")), "[1, -1, 2, -2]")
    h.settle()
    (run,) = h.call("ListMapRuns", executionArn=execution)["mapRuns"]
    before = children(h, run["mapRunArn"])
    flaky.healed = True
    h.call("RedriveExecution", executionArn=execution)
    h.settle()
    after = children(h, run["mapRunArn"])
    assert len(after) == 4  # no second child for any item
    failed = before["-1"]
    assert failed["status"] == "FAILED"
    again = after["-1"]
    assert again["executionArn"] == failed["executionArn"]
    assert (again["status"], again["redriveCount"]) == ("SUCCEEDED", 1)
    assert after["1"]["redriveCount"] == 0  # succeeded the first time: not rerun
    # From the state that failed: the Pass state before it is not entered again.
    types = [e["type"] for e in h.history(again["executionArn"])]
    redriven = types.index("ExecutionRedriven")
    assert types.count("PassStateEntered") == 1
    assert types[redriven + 1] == "TaskStateEntered"
    assert types[-1] == "ExecutionSucceeded"
    event = next(e for e in h.history(again["executionArn"]) if e["type"] == "ExecutionRedriven")
    assert event["executionRedrivenEventDetails"] == {"redriveCount": 1}


def test_express_children_start_again_under_the_same_arn(store: Store) -> None:
    flaky = Flaky()
    h = Harness(store, functions={"flaky": flaky})
    execution = h.start(h.machine(definition("EXPRESS", first="Before")), "[1, -1, 2, -2]")
    h.settle()
    (run,) = h.call("ListMapRuns", executionArn=execution)["mapRuns"]
    failed = children(h, run["mapRunArn"])["-1"]
    flaky.healed = True
    h.call("RedriveExecution", executionArn=execution)
    h.settle()
    after = children(h, run["mapRunArn"])
    assert len(after) == 4
    again = after["-1"]
    assert again["executionArn"] == failed["executionArn"]
    assert ":express:" in again["executionArn"]
    assert again["status"] == "SUCCEEDED"
    assert again["redriveCount"] == 0  # an Express child's redrives cannot be told apart
    assert flaky.calls[-1] == 2


def test_a_redone_redrive_step_reruns_no_child_twice(store: Store) -> None:
    """The Map Run's redrive step is redone (a crash before it committed): the children
    it reran are found rerun, not redriven a second time."""
    flaky = Flaky()
    h = Harness(store, functions={"flaky": flaky})
    execution = h.start(h.machine(definition()), "[1, -1, 2, -2]")
    h.settle()
    (run,) = h.call("ListMapRuns", executionArn=execution)["mapRuns"]
    failed_child = children(h, run["mapRunArn"])["-1"]["executionArn"]
    flaky.healed = True
    commit = store.commit_step
    crashed: list[int] = []

    def crash_once(lease: Any, outcome: Any) -> bool:
        redriving = outcome.execution.arn == run["mapRunArn"] and outcome.execution.redrive_count
        if redriving and not crashed:
            reopened = store.get_execution(failed_child)
            assert reopened is not None
            crashed.append(reopened.redrive_count)  # the step had redriven it
            raise StoreUnavailable("the worker died before the commit")
        return commit(lease, outcome)

    store.commit_step = crash_once  # type: ignore[method-assign]
    h.call("RedriveExecution", executionArn=execution)
    with contextlib.suppress(StoreUnavailable):
        h.worker.run_until_idle()  # reruns the children, then dies before committing
    h.clock.set(h.clock.now() + 3600)  # past the lease the dead step held
    store.commit_step = commit  # type: ignore[method-assign]
    h.settle()
    assert crashed == [1]
    described = h.call("DescribeExecution", executionArn=execution)
    assert json.loads(described["output"]) == [10, -10, 20, -20]
    after = children(h, run["mapRunArn"])
    assert after["-1"]["redriveCount"] == 1
    assert flaky.calls == Counter({1: 1, -1: 2, 2: 1, -2: 1})
    counts = h.call("DescribeMapRun", mapRunArn=run["mapRunArn"])["executionCounts"]
    assert (counts["succeeded"], counts["failed"], counts["total"]) == (4, 0, 4)


def test_the_exported_results_show_a_childs_redrive(store: Store) -> None:
    """ "ResultWriter (Map)": after a redrive, manifest.json names the successful children
    of every attempt; a redriven child's entry has its ``RedriveCount``."""
    flaky = Flaky()
    h = Harness(store, functions={"flaky": flaky})
    h.integrations.services.s3.create_bucket(Bucket="out")
    exporting = definition()
    exporting["States"]["M"]["ResultWriter"] = {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": "out", "Prefix": "runs"},
    }
    execution = h.start(h.machine(exporting), "[1, -1, 2, -2]")
    h.settle()
    flaky.healed = True
    h.call("RedriveExecution", executionArn=execution)
    h.settle()
    described = h.call("DescribeExecution", executionArn=execution)
    assert described["status"] == "SUCCEEDED", described
    s3 = h.integrations.services.s3
    key = json.loads(described["output"])["ResultWriterDetails"]["Key"]
    manifest = json.loads(s3.get_object(Bucket="out", Key=key)["Body"].read())
    assert manifest["ResultFiles"]["FAILED"] == []
    (succeeded,) = manifest["ResultFiles"]["SUCCEEDED"]
    entries = json.loads(s3.get_object(Bucket="out", Key=succeeded["Key"])["Body"].read())
    by_input = {entry["Input"]: entry for entry in entries}
    assert sorted(by_input) == ["-1", "-2", "1", "2"]
    assert (by_input["-1"]["RedriveCount"], by_input["1"]["RedriveCount"]) == (1, 0)


def test_a_child_still_being_stopped_is_redriven_once_it_has_stopped(store: Store) -> None:
    """ "A Map Run can continue to run even after the parent workflow stops ... the running
    Map Run completes its operations before attempting to redrive": a child the failed run
    is still stopping when the redrive comes is redriven once it has ended."""
    flaky = Flaky()
    h = Harness(store, functions={"flaky": flaky})
    processor = definition()["States"]["M"]
    processor["MaxConcurrency"] = 0
    processor["ItemProcessor"]["StartAt"] = "Which"
    processor["ItemProcessor"]["States"] = {
        "Which": {"Type": "Choice", "Default": "Wait",
                  "Choices": [{"Variable": "$", "NumericLessThan": 0, "Next": "T"}]},
        "T": {"Type": "Task", "Resource": FN + "flaky", "End": True},
        "Wait": {"Type": "Wait", "Seconds": 10, "Next": "Done"},
        "Done": {"Type": "Pass", "End": True},
    }  # fmt: skip
    machine = h.machine({"StartAt": "M", "States": {"M": processor}})
    execution = h.start(machine, "[-1, 1]")
    h.worker.advance_one(execution)  # the parent asks for the Map Run
    (run,) = h.call("ListMapRuns", executionArn=execution)["mapRuns"]
    run_arn = run["mapRunArn"]
    while h.worker.advance_one(run_arn):
        pass  # the run starts both children
    listed = h.call("ListExecutions", mapRunArn=run_arn)["executions"]
    arns = {h.call("DescribeExecution", executionArn=c["executionArn"])["input"]: c["executionArn"]
            for c in listed}  # fmt: skip
    while (
        h.worker.advance_one(arns["-1"]) or h.worker.invoke_due() or h.worker.advance_one(arns["1"])
    ):
        pass  # -1 fails; 1 waits
    h.worker.advance_one(run_arn)  # the run fails and asks 1 to stop ...
    while h.worker.advance_one(execution):
        pass
    assert h.call("DescribeExecution", executionArn=execution)["status"] == "FAILED"
    assert h.call("DescribeExecution", executionArn=arns["1"])["status"] == "RUNNING"
    flaky.healed = True
    h.call("RedriveExecution", executionArn=execution)  # ... before 1 has stopped
    h.worker.advance_one(run_arn)
    h.settle()
    described = h.call("DescribeExecution", executionArn=execution)
    assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", [-10, 1])
    redriven = h.call("DescribeExecution", executionArn=arns["1"])
    assert (redriven["status"], redriven["redriveCount"]) == ("SUCCEEDED", 1)
    types = [e["type"] for e in h.history(arns["1"])]
    assert types.count("ExecutionAborted") == 1 and "ExecutionRedriven" in types
    counts = h.call("DescribeMapRun", mapRunArn=run_arn)["executionCounts"]
    assert (counts["succeeded"], counts["aborted"], counts["failed"]) == (2, 0, 0)


def _mid_redrive_as_the_previous_release_left_it(
    h: Harness, execution: str, run: str, old_child: str | None
) -> None:
    """Take the Map Run's redrive step by hand, as the release before in-place child
    redrives committed it: ``progress["redo"]`` lists bare indexes still to rerun, and
    a child it had rerun already (under a new name) is in ``progress["arns"]`` by index.
    Without ``old_child`` the step had reached its start limit (a ``dispatch`` event
    goes on); with it, it had rerun item 1 as ``old_child`` and waits for it to end."""
    h.call("RedriveExecution", executionArn=execution)
    h.worker.advance_one(execution)  # the parent asks for its Map Run again
    lease = h.store.lease_execution("previous-release", h.clock.now(), 30.0, run)
    assert lease is not None
    (message,) = [orjson.loads(item.payload) for item in lease.items]
    record = lease.execution
    request = {**orjson.loads(record.input), "frame": message["frame"], "seq": message["seq"]}
    request["parent_redrive"] = message["parent_redrive"]
    progress = orjson.loads(record.output or "{}")
    for counted in ("failed", "timed_out", "aborted"):
        progress[f"items_{counted}"] = progress[f"executions_{counted}"] = 0
    progress.update(status="RUNNING", error=None, cause=None, redo=[1, 2])  # -1 and -2
    now = h.clock.now()
    redriven = ev.MapRunStarted(message["frame"], message["seq"], run, progress["items"], 1)
    owed = [WorkItem(execution, "event", encode_event(redriven), now)]
    if old_child is None:
        owed.append(WorkItem(run, "event", b'{"type":"dispatch"}', now))
    else:
        progress.update(redo=[2], arns={"1": old_child}, running={old_child: [1, 1]})
        child = ExecutionRecord(
            arn=old_child,
            state_machine_arn=child_machine_arn(run),
            name=child_name(old_child),
            status="RUNNING",
            input="-1",
            start_date=now,
            definition_key=definition_key(request["spec"]["processor_definition"]),
            map_run_arn=run,
        )
        h.store.create_execution(child, WorkItem(old_child, "start", b"{}", now))
    after = replace(
        record,
        status="RUNNING",
        stop_date=None,
        error=None,
        cause=None,
        redrive_count=1,
        redrive_date=now,
        input=orjson.dumps(request).decode(),
        output=orjson.dumps(progress).decode(),
    )
    done = tuple(item.id for item in lease.items if item.id is not None)
    assert h.store.commit_step(lease, StepOutcome(after, None, (), tuple(owed), done))


@pytest.mark.parametrize("rerun_already", [False, True])
def test_a_map_run_mid_redrive_from_the_previous_release_goes_on(
    store: Store, rerun_already: bool
) -> None:
    """An upgrade in the middle of a Map Run's redrive: the redrive goes on from the
    progress the previous release stored, each unsuccessful item runs once more, and
    the result of a child that release had rerun under a new name is the item's."""
    flaky = Flaky()
    h = Harness(store, functions={"flaky": flaky})
    tolerant = definition()
    tolerant["States"]["M"]["ToleratedFailureCount"] = 1
    execution = h.start(h.machine(tolerant), "[1, -1, -2, 2]")
    h.settle()  # MaxConcurrency 1: -1 is tolerated, -2 fails the run, 2 never starts
    (listed,) = h.call("ListMapRuns", executionArn=execution)["mapRuns"]
    run = listed["mapRunArn"]
    flaky.healed = True
    run_id = run.rsplit(":", 1)[-1]
    old_name = uuid.uuid5(uuid.UUID("8f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"), f"{run_id}/1/1")
    old_child = child_machine_arn(run).replace(":stateMachine:", ":execution:") + f":{old_name}"
    _mid_redrive_as_the_previous_release_left_it(
        h, execution, run, old_child if rerun_already else None
    )
    h.settle()
    described = h.call("DescribeExecution", executionArn=execution)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == [10, -10, -20, 20]
    assert flaky.calls == Counter({1: 1, -1: 2, -2: 2, 2: 1})
    counts = h.call("DescribeMapRun", mapRunArn=run)["executionCounts"]
    assert (counts["succeeded"], counts["failed"]) == (4, 0)
    rerun = children(h, run)
    assert rerun["-2"]["redriveCount"] == 1  # rerun in place, as this release reruns
    if rerun_already:  # the result of -1 is the previous release's rerun's
        assert h.call("DescribeExecution", executionArn=old_child)["status"] == "SUCCEEDED"
    else:
        assert rerun["-1"]["redriveCount"] == 1
