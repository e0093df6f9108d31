"""Executions beyond the basics: Express StartExecution, ListExecutions filters, Map Runs,
and the errors AWS gives for each (API Reference pages of those operations)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepwell.service import errors as err
from stepwell.store.base import Store
from tests.service.harness import FN, MACHINES, PASS, Harness

FAILING = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Oops", "Cause": "broken"}}}
WAITING = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}
MAP_RUN = "arn:aws:states:us-east-1:123456789012:mapRun:m/map:0f0e0d0c-1234-4321-abcd-000000000000"


def test_start_execution_on_an_express_machine_runs_in_the_background(store: Store) -> None:
    seen: list[Any] = []
    h = Harness(store, {"record": lambda event: seen.append(event) or event})
    arn = h.machine(
        {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN + "record", "End": True}}},
        type="EXPRESS",
    )
    started = h.call("StartExecution", stateMachineArn=arn, name="fast", input='{"n": 1}')
    assert started["executionArn"].startswith(
        "arn:aws:states:us-east-1:123456789012:express:m:fast:"
    )
    assert set(started) == {"executionArn", "startDate"}
    assert h.service.wait_for_background(10)
    assert seen == [{"n": 1}]
    again = h.call("StartExecution", stateMachineArn=arn, name="fast", input='{"n": 1}')
    assert again["executionArn"] != started["executionArn"]  # not idempotent for Express
    assert h.service.wait_for_background(10)
    for operation in ("DescribeExecution", "GetExecutionHistory", "StopExecution"):
        with pytest.raises(err.InvalidArn, match="express"):
            h.service.handle(operation, {"executionArn": started["executionArn"]})
    with pytest.raises(err.StateMachineTypeNotSupported):
        h.call("ListExecutions", stateMachineArn=arn)


def test_start_sync_execution_answers_with_the_result(store: Store) -> None:
    h = Harness(store)
    arn = h.machine(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"a": 1}, "End": True}}},
        type="EXPRESS",
    )
    done = h.call("StartSyncExecution", stateMachineArn=arn, name="sync")
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"a": 1})
    failing = h.machine(FAILING, name="failing", type="EXPRESS")
    failed = h.call("StartSyncExecution", stateMachineArn=failing)
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "Oops", "broken")
    with pytest.raises(err.StateMachineTypeNotSupported):
        h.call("StartSyncExecution", stateMachineArn=h.machine(name="standard"))


def test_list_executions_filters_by_status_and_sorts_newest_first(store: Store) -> None:
    h = Harness(store)
    ok = h.machine()
    h.run(ok, name="first")
    h.clock.advance(10)
    h.run(ok, name="second")
    waiting = h.machine(WAITING, name="w")
    h.start(waiting, name="still")
    h.worker.run_until_idle()
    listed = h.call("ListExecutions", stateMachineArn=ok)["executions"]
    assert [e["name"] for e in listed] == ["second", "first"]
    assert listed[0]["redriveCount"] == 0
    succeeded = h.call("ListExecutions", stateMachineArn=ok, statusFilter="SUCCEEDED")
    assert len(succeeded["executions"]) == 2
    running = h.call("ListExecutions", stateMachineArn=waiting, statusFilter="RUNNING")
    assert [e["name"] for e in running["executions"]] == ["still"]
    assert "stopDate" not in running["executions"][0]


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        ({}, err.ValidationException),
        ({"stateMachineArn": MACHINES + "m", "mapRunArn": MAP_RUN}, err.ValidationException),
        ({"mapRunArn": MAP_RUN}, err.ResourceNotFound),
        ({"stateMachineArn": MACHINES + "m", "statusFilter": "PENDING_REDRIVE"},
         err.ValidationException),
        ({"stateMachineArn": MACHINES + "gone"}, err.StateMachineDoesNotExist),
        ({"stateMachineArn": MACHINES + "m:live"}, err.ResourceNotFound),
        ({"stateMachineArn": "arn:aws:states:us-east-1:123456789012:activity:a"}, err.InvalidArn),
    ],
)  # fmt: skip
def test_list_executions_errors(
    store: Store, request_: dict[str, str], error: type[Exception]
) -> None:
    h = Harness(store)
    h.machine()
    with pytest.raises(error):
        h.service.handle("ListExecutions", request_)


def test_map_runs_are_never_there(store: Store) -> None:
    h = Harness(store)
    execution = h.start(h.machine())
    assert h.call("ListMapRuns", executionArn=execution) == {"mapRuns": []}
    with pytest.raises(err.ExecutionDoesNotExist):
        h.call("ListMapRuns", executionArn=execution + "x")
    for operation in ("DescribeMapRun", "UpdateMapRun"):
        with pytest.raises(err.ResourceNotFound) as missing:
            h.service.handle(operation, {"mapRunArn": MAP_RUN, "maxConcurrency": 2})
        assert missing.value.resource_name == MAP_RUN
        with pytest.raises(err.InvalidArn):
            h.service.handle(operation, {"mapRunArn": execution})


def test_describe_execution_reports_redrive_status(store: Store) -> None:
    h = Harness(store)
    failed = h.run(h.machine(FAILING))
    assert (failed["redriveStatus"], failed["redriveCount"]) == ("REDRIVABLE", 0)
    assert "redriveStatusReason" not in failed
    succeeded = h.run(h.machine(PASS, name="ok"))
    assert succeeded["redriveStatus"] == "NOT_REDRIVABLE"
    assert succeeded["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"  # K6
    h.clock.advance(15 * 86400)
    late = h.call("DescribeExecution", executionArn=failed["executionArn"])
    assert late["redriveStatusReason"] == "Execution redrivable period exceeded."


def test_describe_state_machine_for_an_unknown_execution(store: Store) -> None:
    h = Harness(store)
    with pytest.raises(err.ExecutionDoesNotExist):
        h.call(
            "DescribeStateMachineForExecution",
            executionArn="arn:aws:states:us-east-1:123456789012:execution:m:x",
        )


def test_create_state_machine_is_idempotent_except_for_what_defines_it(store: Store) -> None:
    h = Harness(store)
    arn = h.machine()
    same = h.call(
        "CreateStateMachine",
        name="m",
        definition=json.dumps(PASS),
        roleArn="arn:aws:iam::123456789012:role/another",  # ignored, as on AWS
    )
    assert same["stateMachineArn"] == arn
    with pytest.raises(err.StateMachineAlreadyExists):
        h.machine(WAITING)
    with pytest.raises(err.StateMachineAlreadyExists):
        h.machine(PASS, type="EXPRESS")
