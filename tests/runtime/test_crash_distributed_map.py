"""A Distributed Map survives SIGKILL (issue 8, "A map run survives kill -9 like any
execution"): worker processes on SQLite are killed at random while a Map Run dispatches
its children; the run still ends with every item's result, each item ran as exactly one
child execution that succeeded once, and DescribeMapRun's counts add up."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from stepwell.service.service import Service
from stepwell.store import open_store
from tests.runtime.test_crash import FN, ROLE, Workers

ITEMS = 240
DEFINITION = {
    "StartAt": "Fan",
    "States": {
        "Fan": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": 20,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Label",
                "States": {
                    "Label": {"Type": "Task", "Resource": FN + "label", "Next": "Keep"},
                    "Keep": {"Type": "Pass", "End": True},
                },
            },
            "End": True,
        }
    },
}


def test_sigkill_during_a_map_run_loses_nothing_and_runs_nothing_twice(tmp_path: Path) -> None:
    url = str(tmp_path / "crash.db")
    store = open_store(url)
    service = Service(store)
    machine = service.handle(
        "CreateStateMachine",
        {"name": "fan", "definition": json.dumps(DEFINITION), "roleArn": ROLE},
    )["stateMachineArn"]
    given = {"items": list(range(ITEMS))}
    execution = service.handle(
        "StartExecution", {"stateMachineArn": machine, "input": json.dumps(given)}
    )["executionArn"]
    rng = random.Random(8)
    workers = Workers(url, tmp_path / "invocations.log", count=3)
    try:
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(0.05, 0.5))
            workers.kill_one(rng)
        finish_by = time.monotonic() + 120
        while time.monotonic() < finish_by:
            if store.get_execution(execution).status != "RUNNING":  # type: ignore[union-attr]
                break
            time.sleep(0.5)
    finally:
        workers.stop()
    assert workers.kills >= 5
    record = store.get_execution(execution)
    assert record is not None and record.status == "SUCCEEDED", record
    assert json.loads(record.output or "null") == [f"item-{n}" for n in range(ITEMS)]
    [run] = service.handle("ListMapRuns", {"executionArn": execution})["mapRuns"]
    described = service.handle("DescribeMapRun", {"mapRunArn": run["mapRunArn"]})
    assert described["status"] == "SUCCEEDED"
    for kind in ("itemCounts", "executionCounts"):
        assert described[kind]["succeeded"] == ITEMS
        assert described[kind]["total"] == ITEMS
        assert described[kind]["failed"] == described[kind]["aborted"] == 0
        assert described[kind]["pending"] == described[kind]["running"] == 0
    children = store.list_executions(run["stateMachineArn"], None)
    assert len(children) == ITEMS  # one child per item, never a second
    inputs = sorted(json.loads(child.input) for child in children)
    assert inputs == list(range(ITEMS))
    for child in children:
        assert child.status == "SUCCEEDED"
        ends = [e for e in store.history(child.arn) if e["type"] == "ExecutionSucceeded"]
        assert len(ends) == 1
    # The parent's own history has the Map Run once, with no gaps.
    history = store.history(execution)
    assert [e["id"] for e in history] == list(range(1, len(history) + 1))
    assert [e["type"] for e in history].count("MapRunStarted") == 1
    store.close()
