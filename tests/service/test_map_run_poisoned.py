"""A Map Run whose step raises for a reason of its own (a bug, data Stepwell cannot
process) fails as a Map Run fails, and its parent learns it: B5's failed-run sequence
(``MapRunStarted``, ``MapRunFailed``, then the execution fails), never a parent left
RUNNING forever. The error is ``States.Runtime``, which "will always cause the execution
to fail" (Developer Guide, "Handling errors"), as an execution's own poisoned step does.
The same run's reader failure (a damaged GZIP object) is ``States.ItemReaderFailed`` (B5).
"""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from stepwell.runtime import map_runs
from stepwell.store.base import Store
from tests.service.harness import Harness

DISTRIBUTED = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}


def definition(processor_states: dict[str, Any], **fields: Any) -> dict[str, Any]:
    processor = {"ProcessorConfig": DISTRIBUTED, "StartAt": "P", "States": processor_states}
    body = {"Type": "Map", "ItemProcessor": processor, "End": True, **fields}
    return {"StartAt": "M", "States": {"M": body}}


def read_from(key: str) -> dict[str, Any]:
    return {
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket": "data", "Key": key},
        }
    }


PASS = {"P": {"Type": "Pass", "End": True}}
WAIT = {"P": {"Type": "Wait", "SecondsPath": "$", "End": True}}  # each item waits its seconds


def ended(h: Harness, execution: str) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """The parent described, its Map Run described, its history's event types."""
    described = h.call("DescribeExecution", executionArn=execution)
    (run,) = h.call("ListMapRuns", executionArn=execution)["mapRuns"]
    run_described = h.call("DescribeMapRun", mapRunArn=run["mapRunArn"])
    return described, run_described, [e["type"] for e in h.history(execution)]


def test_b5_a_damaged_gzip_object_fails_the_reader(store: Store) -> None:
    h = Harness(store)
    h.integrations.services.s3.create_bucket(Bucket="data")
    packed = gzip.compress(b"[1,2,3]" * 100)
    damaged = packed[:10] + b"\xff" * 20 + packed[30:]  # a sound header, a broken stream
    h.integrations.services.s3.put_object(Bucket="data", Key="rows.json.gz", Body=damaged)
    execution = h.start(h.machine(definition(PASS, **read_from("rows.json.gz"))))
    h.settle()
    described, run, types = ended(h, execution)
    assert (described["status"], described["error"]) == ("FAILED", "States.ItemReaderFailed")
    assert "The object rows.json.gz is not valid GZIP" in described["cause"]
    assert run["status"] == "FAILED"
    assert types[-4:] == ["MapRunStarted", "MapRunFailed", "MapStateFailed", "ExecutionFailed"]


def test_a_map_run_failing_on_its_own_while_starting_fails_its_parent(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = Harness(store)
    h.integrations.services.s3.create_bucket(Bucket="data")
    h.integrations.services.s3.put_object(Bucket="data", Key="rows.json.gz", Body=b"")

    def broken(*_: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(h.integrations.services.s3, "call", broken)
    execution = h.start(h.machine(definition(PASS, **read_from("rows.json.gz"))))
    h.settle()
    described, run, types = ended(h, execution)
    assert (described["status"], described["error"]) == ("FAILED", "States.Runtime")
    assert "RuntimeError: disk on fire" in described["cause"]
    assert (run["status"], run["executionCounts"]["total"]) == ("FAILED", 0)
    # B5's failed-run events; States.Runtime ends the execution at once (no MapStateFailed).
    assert types == [
        "ExecutionStarted",
        "MapStateEntered",
        "MapStateStarted",
        "MapRunStarted",
        "MapRunFailed",
        "ExecutionFailed",
    ]
    failed = next(e for e in h.history(execution) if e["type"] == "MapRunFailed")
    assert failed["mapRunFailedEventDetails"]["error"] == "States.Runtime"
    # The Map Run has no history of its own, poisoned or not.
    assert store.history(run["mapRunArn"]) == []


def test_a_map_run_failing_on_its_own_later_stops_its_children(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = Harness(store)
    execution = h.start(h.machine(definition(WAIT)), "[1, 1000]")
    h.worker.run_until_idle()  # both children wait

    def broken(*_: Any) -> bool:
        raise RuntimeError("cannot count")

    monkeypatch.setattr(map_runs, "threshold_exceeded", broken)  # counting the first end
    h.settle(max_advance=10)
    described, run, types = ended(h, execution)
    assert (described["status"], described["error"]) == ("FAILED", "States.Runtime")
    assert "RuntimeError: cannot count" in described["cause"]
    assert types[-3:] == ["MapRunStarted", "MapRunFailed", "ExecutionFailed"]
    assert run["status"] == "FAILED"
    assert run["executionCounts"]["aborted"] == 1  # the child still waiting was stopped
    children = h.call("ListExecutions", mapRunArn=run["mapRunArn"])["executions"]
    assert sorted(child["status"] for child in children) == ["ABORTED", "SUCCEEDED"]


def test_a_map_run_failing_on_its_own_when_redriven_fails_its_redriven_parent(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The redriven parent waits for its Map Run in a new frame: it is told there."""
    h = Harness(store)
    fail = {"P": {"Type": "Fail", "Error": "Nope"}}
    execution = h.start(h.machine(definition(fail)), "[1]")
    h.settle()
    assert h.call("DescribeExecution", executionArn=execution)["status"] == "FAILED"

    def broken(*_: Any) -> None:
        raise RuntimeError("cannot redrive")

    monkeypatch.setattr(map_runs.MapRuns, "_redrive", broken)
    h.call("RedriveExecution", executionArn=execution)
    h.settle()
    described, run, types = ended(h, execution)
    assert (described["status"], described["error"]) == ("FAILED", "States.Runtime")
    assert "RuntimeError: cannot redrive" in described["cause"]
    assert types[types.index("ExecutionRedriven") :][-2:] == ["MapRunFailed", "ExecutionFailed"]
    assert run["status"] == "FAILED"


def test_a_map_run_that_cannot_even_be_failed_stops_its_parent(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last resort: when the run's failure cannot be worked out either, the parent
    is stopped rather than left waiting."""
    h = Harness(store)
    execution = h.start(h.machine(definition(WAIT)), "[1, 1000]")
    h.worker.run_until_idle()  # both children wait

    def broken(*_: Any) -> Any:
        raise RuntimeError("broken beyond repair")

    monkeypatch.setattr(map_runs.MapRuns, "apply", broken)  # counting the first end
    monkeypatch.setattr(map_runs.MapRuns, "failed_step", broken)
    h.settle(max_advance=10)
    described = h.call("DescribeExecution", executionArn=execution)
    assert (described["status"], described["error"]) == ("ABORTED", "States.Runtime")
    assert "RuntimeError: broken beyond repair" in described["cause"]
    (run,) = h.call("ListMapRuns", executionArn=execution)["mapRuns"]
    assert h.call("DescribeMapRun", mapRunArn=run["mapRunArn"])["status"] == "FAILED"
