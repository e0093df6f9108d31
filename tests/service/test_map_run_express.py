"""Distributed Map with ``ProcessorConfig.ExecutionType: EXPRESS``: the Map Run's children
are Express executions (Developer Guide, "Distributed Map state": the child workflow type;
API Reference, DescribeExecution: "Executions of an EXPRESS state machine aren't supported
by DescribeExecution unless a Map Run dispatched them"; GetExecutionHistory: "not
supported by EXPRESS state machines"; aws-behaviour G1: express executions have no
``$$.Execution.RedriveCount``; B5 for the parent's events)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from stepwell.service import errors as err
from stepwell.store.base import Store
from tests.service.harness import Harness

EXPRESS_PREFIX = "arn:aws:states:us-east-1:123456789012:express:m/"


def distributed(execution_type: str) -> dict[str, Any]:
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
                    "StartAt": "P",
                    "States": {
                        "P": {"Type": "Pass", "Parameters": {"e.$": "$$.Execution"}, "End": True}
                    },
                },
                "End": True,
            }
        },
    }


def run_map(store: Store, execution_type: str) -> tuple[Harness, dict[str, Any], str]:
    h = Harness(store)
    arn = h.machine(distributed(execution_type))
    execution = h.start(arn, "[1, 2, 3]")
    h.settle()
    described = h.call("DescribeExecution", executionArn=execution)
    (run,) = h.call("ListMapRuns", executionArn=execution)["mapRuns"]
    return h, described, run["mapRunArn"]


def test_express_children_run_as_express_executions(store: Store) -> None:
    h, described, run = run_map(store, "EXPRESS")
    assert described["status"] == "SUCCEEDED"
    contexts = [item["e"] for item in json.loads(described["output"])]
    assert [c["Input"] for c in contexts] == [1, 2, 3]
    for context in contexts:
        assert context["Id"].startswith(EXPRESS_PREFIX)
        assert "RedriveCount" not in context  # G1: express executions have none
    children = h.call("ListExecutions", mapRunArn=run)["executions"]
    assert len(children) == 3
    assert {child["executionArn"] for child in children} == {c["Id"] for c in contexts}
    assert all(child["mapRunArn"] == run for child in children)
    counts = h.call("DescribeMapRun", mapRunArn=run)["executionCounts"]
    assert (counts["succeeded"], counts["total"]) == (3, 3)


def test_a_map_run_express_child_can_be_described_but_has_no_history(store: Store) -> None:
    h, _, run = run_map(store, "EXPRESS")
    child = h.call("ListExecutions", mapRunArn=run)["executions"][0]["executionArn"]
    described = h.call("DescribeExecution", executionArn=child)
    assert (described["status"], described["mapRunArn"]) == ("SUCCEEDED", run)
    assert described["name"] == child.split(":")[7]
    with pytest.raises(err.InvalidArn):
        h.call("GetExecutionHistory", executionArn=child)


def test_an_express_arn_no_map_run_dispatched_stays_unsupported(store: Store) -> None:
    h = Harness(store)
    with pytest.raises(err.InvalidArn):
        h.call("DescribeExecution", executionArn=EXPRESS_PREFIX + "label:name:run")


def test_standard_children_keep_their_histories(store: Store) -> None:
    h, described, run = run_map(store, "STANDARD")
    child = h.call("ListExecutions", mapRunArn=run)["executions"][0]["executionArn"]
    assert ":execution:m/" in child
    events = h.call("GetExecutionHistory", executionArn=child)["events"]
    assert events[0]["type"] == "ExecutionStarted"
    context = json.loads(described["output"])[0]["e"]
    assert context["RedriveCount"] == 0


def test_a_durable_map_run_formats_its_results_with_writer_config(store: Store) -> None:
    """Developer Guide, "ResultWriter (Map)": WriterConfig alone formats the state output
    (FLATTEN: array outputs flattened), through the workers as through ``stepwell.run``."""
    definition = distributed("EXPRESS")
    state = definition["States"]["M"]
    state["ItemProcessor"]["States"]["P"] = {
        "Type": "Pass",
        "Parameters": {"xs.$": "States.Array($, $)"},
        "OutputPath": "$.xs",
        "End": True,
    }
    state["ResultWriter"] = {"WriterConfig": {"Transformation": "FLATTEN"}}
    h = Harness(store)
    described = h.run(h.machine(definition), "[1, 2]")
    assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", [1, 1, 2, 2])


def test_an_express_child_times_out_after_five_minutes(store: Store) -> None:
    """Express workflows run for at most five minutes (Developer Guide, "Choosing workflow
    type in Step Functions"); a Map Run's EXPRESS child that waits longer times out."""
    definition = distributed("EXPRESS")
    processor = definition["States"]["M"]["ItemProcessor"]
    processor["States"] = {"P": {"Type": "Wait", "Seconds": 400, "End": True}}
    h = Harness(store)
    execution = h.start(h.machine(definition), "[1]")
    h.settle()
    described = h.call("DescribeExecution", executionArn=execution)
    assert (described["status"], described["error"]) == (
        "FAILED",
        "States.ExceedToleratedFailureThreshold",
    )
    (listed,) = h.call("ListMapRuns", executionArn=execution)["mapRuns"]
    counts = h.call("DescribeMapRun", mapRunArn=listed["mapRunArn"])["itemCounts"]
    assert (counts["timedOut"], counts["succeeded"]) == (1, 0)
    (child,) = h.call("ListExecutions", mapRunArn=listed["mapRunArn"])["executions"]
    child_described = h.call("DescribeExecution", executionArn=child["executionArn"])
    assert child_described["status"] == "TIMED_OUT"
    assert child_described["stopDate"] - child_described["startDate"] == timedelta(seconds=300)
