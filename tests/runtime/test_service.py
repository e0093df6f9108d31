"""Service + worker + every store: the durable path end to end, on a virtual clock."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepwell.engine.dataflow import iso_time
from stepwell.integrations.registry import Integrations
from stepwell.runtime.clock import VirtualClock, to_datetime
from stepwell.runtime.worker import Worker
from stepwell.service import errors as err
from stepwell.service.service import Service
from stepwell.store.base import Store

ROLE = "arn:aws:iam::123456789012:role/stepwell"
FN = "arn:aws:lambda:us-east-1:123456789012:function:"


class Harness:
    def __init__(self, store: Store, functions: dict[str, Any] | None = None) -> None:
        self.clock = VirtualClock(1_700_000_000.0)
        self.store = store
        self.service = Service(self.store, self.clock)
        self.worker = Worker(self.store, Integrations(functions), self.clock)

    def call(self, operation: str, **request: Any) -> dict[str, Any]:
        return self.service.handle(operation, request)

    def machine(self, definition: dict[str, Any], name: str = "m") -> str:
        return self.call(
            "CreateStateMachine", name=name, definition=json.dumps(definition), roleArn=ROLE
        )["stateMachineArn"]

    def settle(self, max_advance: float = 10 * 365 * 86400) -> None:
        """Run everything due, advancing the virtual clock to each next timer."""
        limit = self.clock.now() + max_advance
        while True:
            self.worker.run_until_idle()
            due = self.store.next_due(self.clock.now())
            if due is None or due > limit:
                return
            self.clock.set(due)


WAIT_THEN_TASK = {
    "StartAt": "Wait",
    "States": {
        "Wait": {"Type": "Wait", "Seconds": 3600, "Next": "Work"},
        "Work": {"Type": "Task", "Resource": FN + "double", "End": True},
    },
}


def test_start_run_describe_history(store: Store) -> None:
    h = Harness(store, {"double": lambda e: {"n": e["n"] * 2}})
    arn = h.machine(WAIT_THEN_TASK)
    execution = h.call("StartExecution", stateMachineArn=arn, name="e1", input='{"n": 21}')
    h.worker.run_until_idle()
    running = h.call("DescribeExecution", executionArn=execution["executionArn"])
    assert running["status"] == "RUNNING"
    h.settle()
    done = h.call("DescribeExecution", executionArn=execution["executionArn"])
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"n": 42}
    assert (done["stopDate"] - done["startDate"]).total_seconds() == 3600
    history = h.call("GetExecutionHistory", executionArn=execution["executionArn"])["events"]
    types = [e["type"] for e in history]
    assert types == [
        "ExecutionStarted",
        "WaitStateEntered",
        "WaitStateExited",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    assert [e["id"] for e in history] == list(range(1, 10))


def test_start_execution_is_idempotent_by_name_and_input(store: Store) -> None:
    h = Harness(store)
    arn = h.machine(WAIT_THEN_TASK)
    first = h.call("StartExecution", stateMachineArn=arn, name="same", input="{}")
    again = h.call("StartExecution", stateMachineArn=arn, name="same", input="{}")
    assert first == again
    with pytest.raises(err.ExecutionAlreadyExists):
        h.call("StartExecution", stateMachineArn=arn, name="same", input='{"other": 1}')


def test_stop_execution_aborts_a_waiting_execution(store: Store) -> None:
    h = Harness(store)
    arn = h.machine(WAIT_THEN_TASK)
    execution = h.call("StartExecution", stateMachineArn=arn, input="{}")["executionArn"]
    h.worker.run_until_idle()
    h.call("StopExecution", executionArn=execution, error="Bye", cause="test")
    h.worker.run_until_idle()
    described = h.call("DescribeExecution", executionArn=execution)
    assert (described["status"], described["error"]) == ("ABORTED", "Bye")


def test_callback_with_task_token(store: Store) -> None:
    tokens: list[str] = []

    def enqueue(event: Any) -> Any:
        tokens.append(event["token"])
        return {}

    h = Harness(store, {"enqueue": enqueue})
    arn = h.machine(
        {
            "StartAt": "Wait for callback",
            "States": {
                "Wait for callback": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {
                        "FunctionName": "enqueue",
                        "Payload": {"token.$": "$$.Task.Token"},
                    },
                    "TimeoutSeconds": 300,
                    "End": True,
                }
            },
        }
    )
    execution = h.call("StartExecution", stateMachineArn=arn, input="{}")["executionArn"]
    h.worker.run_until_idle()
    assert len(tokens) == 1
    h.call("SendTaskSuccess", taskToken=tokens[0], output='{"approved": true}')
    h.worker.run_until_idle()
    described = h.call("DescribeExecution", executionArn=execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"approved": True}
    with pytest.raises(err.TaskDoesNotExist):  # a token is used once
        h.call("SendTaskSuccess", taskToken=tokens[0], output="{}")


def test_callback_times_out_without_a_consumer(store: Store) -> None:
    h = Harness(store, {"enqueue": lambda e: {}})
    arn = h.machine(
        {
            "StartAt": "T",
            "States": {
                "T": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {"FunctionName": "enqueue", "Payload": {"t.$": "$$.Task.Token"}},
                    "TimeoutSeconds": 300,
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "GracefulFail"}],
                    "End": True,
                },
                "GracefulFail": {"Type": "Fail", "Error": "Graceful"},
            },
        }
    )
    execution = h.call("StartExecution", stateMachineArn=arn, input="{}")["executionArn"]
    h.settle()
    described = h.call("DescribeExecution", executionArn=execution)
    assert (described["status"], described["error"]) == ("FAILED", "Graceful")
    assert (described["stopDate"] - described["startDate"]).total_seconds() == 300


def test_activity_worker_round_trip(store: Store) -> None:
    h = Harness(store)
    activity = h.call("CreateActivity", name="work")["activityArn"]
    arn = h.machine(
        {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": activity, "End": True}}}
    )
    execution = h.call("StartExecution", stateMachineArn=arn, input='{"job": 7}')["executionArn"]
    h.worker.run_until_idle()
    task = h.service.get_activity_task({"activityArn": activity, "workerName": "w"}, 0.0)
    assert json.loads(task["input"]) == {"job": 7}
    h.worker.run_until_idle()
    started = h.store.history(execution)[-1]
    assert started["type"] == "ActivityStarted"
    assert started["activityStartedEventDetails"] == {"workerName": "w"}
    assert h.service.get_activity_task({"activityArn": activity}, 0.0) == {}
    h.call("SendTaskSuccess", taskToken=task["taskToken"], output='{"done": 7}')
    h.worker.run_until_idle()
    assert h.call("DescribeExecution", executionArn=execution)["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("operation", "request_", "error"),
    [
        ("DescribeExecution", {"executionArn": "nope"}, err.InvalidArn),
        (
            "DescribeExecution",
            {"executionArn": "arn:aws:states:us-east-1:123456789012:execution:m:x"},
            err.ExecutionDoesNotExist,
        ),
        (
            "CreateStateMachine",
            {"name": "bad name", "definition": "{}", "roleArn": ROLE},
            err.InvalidName,
        ),
        (
            "CreateStateMachine",
            {"name": "ok", "definition": "{", "roleArn": ROLE},
            err.InvalidDefinition,
        ),
        ("SendTaskSuccess", {"taskToken": "unknown", "output": "{}"}, err.TaskDoesNotExist),
        ("ListExecutions", {}, err.ValidationException),
        ("NoSuchOperation", {}, err.UnknownOperationException),
    ],
)
def test_errors_are_aws_error_types(
    store: Store, operation: str, request_: dict[str, Any], error: type
) -> None:
    with pytest.raises(error):
        Harness(store).service.handle(operation, request_)


def test_start_execution_rejects_bad_input(store: Store) -> None:
    h = Harness(store)
    arn = h.machine(WAIT_THEN_TASK)
    with pytest.raises(err.InvalidExecutionInput):
        h.call("StartExecution", stateMachineArn=arn, input="{not json")


def test_history_pagination_and_reverse_order(store: Store) -> None:
    h = Harness(store, {"double": lambda e: e})
    arn = h.machine(WAIT_THEN_TASK)
    execution = h.call("StartExecution", stateMachineArn=arn, input='{"n": 1}')["executionArn"]
    h.settle()
    first = h.call("GetExecutionHistory", executionArn=execution, maxResults=4, reverseOrder=True)
    assert [e["id"] for e in first["events"]] == [9, 8, 7, 6]
    second = h.call(
        "GetExecutionHistory",
        executionArn=execution,
        maxResults=4,
        reverseOrder=True,
        nextToken=first["nextToken"],
    )
    assert [e["id"] for e in second["events"]] == [5, 4, 3, 2]
    bare = h.call("GetExecutionHistory", executionArn=execution, includeExecutionData=False)
    assert "input" not in bare["events"][0]["executionStartedEventDetails"]


def test_an_update_does_not_change_a_running_execution(store: Store) -> None:
    """Developer Guide, "Updating a state machine": executions already running keep the
    definition they started with."""
    h = Harness(store)
    first = {
        "StartAt": "W",
        "States": {
            "W": {"Type": "Wait", "Seconds": 60, "Next": "P"},
            "P": {"Type": "Pass", "Result": "old", "End": True},
        },
    }
    arn = h.machine(first)
    running = h.call("StartExecution", stateMachineArn=arn, input="{}")["executionArn"]
    h.worker.run_until_idle()
    second = json.loads(json.dumps(first))
    second["States"]["P"]["Result"] = "new"
    h.call("UpdateStateMachine", stateMachineArn=arn, definition=json.dumps(second))
    later = h.call("StartExecution", stateMachineArn=arn, input="{}")["executionArn"]
    h.settle()
    assert h.call("DescribeExecution", executionArn=running)["output"] == '"old"'
    assert h.call("DescribeExecution", executionArn=later)["output"] == '"new"'
    seen = h.call("DescribeStateMachineForExecution", executionArn=running)["definition"]
    assert json.loads(seen) == first


def test_deleting_a_machine_stops_its_running_executions(store: Store) -> None:
    h = Harness(store)
    arn = h.machine(WAIT_THEN_TASK)
    running = h.call("StartExecution", stateMachineArn=arn, input="{}")["executionArn"]
    h.worker.run_until_idle()
    h.call("DeleteStateMachine", stateMachineArn=arn)
    h.settle()
    described = h.store.get_execution(running)
    assert described is not None and described.status == "ABORTED"
    assert h.store.history(running)[-1]["type"] == "ExecutionAborted"


class FailsOnce:
    """A function that fails the first time it sees one particular value."""

    def __init__(self, bad: Any) -> None:
        self.bad = bad
        self.calls: list[Any] = []

    def __call__(self, event: Any) -> Any:
        self.calls.append(event)
        if event == self.bad and self.calls.count(event) == 1:
            raise ValueError(f"{event} failed")
        return {"done": event}


def test_redrive_reruns_only_the_unsuccessful_map_iterations(store: Store) -> None:
    """Developer Guide, "Redriving executions": a redriven Map state runs again only the
    iterations that did not succeed."""
    work = FailsOnce(bad=1)
    h = Harness(store, {"work": work})
    arn = h.machine(
        {
            "StartAt": "M",
            "States": {
                "M": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "MaxConcurrency": 1,
                    "End": True,
                    "ItemProcessor": {
                        "StartAt": "W",
                        "States": {"W": {"Type": "Task", "Resource": FN + "work", "End": True}},
                    },
                }
            },
        }
    )
    execution = h.call("StartExecution", stateMachineArn=arn, input='{"items": [0, 1, 2]}')[
        "executionArn"
    ]
    h.settle()
    assert h.call("DescribeExecution", executionArn=execution)["status"] == "FAILED"
    assert work.calls == [0, 1]
    h.call("RedriveExecution", executionArn=execution)
    h.settle()
    described = h.call("DescribeExecution", executionArn=execution)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == [{"done": 0}, {"done": 1}, {"done": 2}]
    assert work.calls == [0, 1, 1, 2]  # item 0 was not run again


def test_redrive_reruns_only_the_failed_parallel_branches(store: Store) -> None:
    work = FailsOnce(bad={"v": "b"})
    h = Harness(store, {"work": work})

    def branch(value: str) -> dict[str, Any]:
        task = {
            "Type": "Task",
            "Resource": FN + "work",
            "Parameters": {"v": value},
            "OutputPath": "$.done",
            "End": True,
        }
        return {"StartAt": f"T{value}", "States": {f"T{value}": task}}

    arn = h.machine(
        {
            "StartAt": "P",
            "States": {
                "P": {"Type": "Parallel", "Branches": [branch("a"), branch("b")], "End": True}
            },
        }
    )
    execution = h.call("StartExecution", stateMachineArn=arn, input="{}")["executionArn"]
    h.settle()
    assert h.call("DescribeExecution", executionArn=execution)["status"] == "FAILED"
    h.call("RedriveExecution", executionArn=execution)
    h.settle()
    described = h.call("DescribeExecution", executionArn=execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == [{"v": "a"}, {"v": "b"}]
    assert [c["v"] for c in work.calls].count("a") == 1
    assert [c["v"] for c in work.calls].count("b") == 2


def test_the_context_object_of_a_redriven_execution(store: Store) -> None:
    """Developer Guide, "Context object": Execution.RedriveCount and RedriveTime."""
    seen: list[Any] = []

    def work(event: Any) -> Any:
        seen.append(event["execution"])
        if len(seen) == 1:
            raise ValueError("first time")
        return "ok"

    h = Harness(store, {"work": work})
    arn = h.machine(
        {
            "StartAt": "W",
            "States": {
                "W": {
                    "Type": "Task",
                    "Resource": FN + "work",
                    "End": True,
                    "Parameters": {"execution.$": "$$.Execution"},
                }
            },
        }
    )
    execution = h.call("StartExecution", stateMachineArn=arn, input="{}")["executionArn"]
    h.settle()
    h.clock.advance(90)
    h.call("RedriveExecution", executionArn=execution)
    h.settle()
    assert h.call("DescribeExecution", executionArn=execution)["status"] == "SUCCEEDED"
    first, second = seen
    assert first["RedriveCount"] == 0 and "RedriveTime" not in first
    assert second["RedriveCount"] == 1
    assert second["RedriveTime"] == iso_time(to_datetime(h.clock.now()))


BIG = 123456789012345678901234567890  # past 64 bits: orjson refuses it, reads it as a float


@pytest.mark.parametrize("mode", ["INLINE", "DISTRIBUTED"])
def test_integers_beyond_64_bits_survive_a_durable_wait_and_a_map(store: Store, mode: str) -> None:
    """JSON numbers are exact in the input and output (RFC 8259 leaves the range to the
    implementation; Stepwell's inline runs keep Python integers): a durable execution
    stored across a Wait, and a Map's child executions, keep them integers."""
    processor: dict[str, Any] = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    if mode == "DISTRIBUTED":
        processor["ProcessorConfig"] = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    h = Harness(store, {"big": lambda event: {"items": [1, BIG], "n": BIG}})
    arn = h.machine(
        {
            "StartAt": "Big",
            "States": {
                "Big": {"Type": "Task", "Resource": FN + "big", "Next": "Wait"},
                "Wait": {"Type": "Wait", "Seconds": 60, "Next": "Map"},
                "Map": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "ItemProcessor": processor,
                    "ResultPath": "$.mapped",
                    "End": True,
                },
            },
        }
    )
    execution = h.call("StartExecution", stateMachineArn=arn, input=json.dumps({"given": BIG}))
    h.settle()
    done = h.call("DescribeExecution", executionArn=execution["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["input"]) == {"given": BIG}
    assert json.loads(done["output"]) == {"items": [1, BIG], "n": BIG, "mapped": [1, BIG]}


def test_integers_beyond_64_bits_survive_send_task_success(store: Store) -> None:
    """The output a caller sends with SendTaskSuccess keeps its integers exact, as an
    execution's input does (orjson would read one past 64 bits as a float)."""
    tokens: list[str] = []
    h = Harness(store, {"enqueue": lambda event: tokens.append(event["token"]) or {}})
    arn = h.machine(
        {
            "StartAt": "Wait for callback",
            "States": {
                "Wait for callback": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {
                        "FunctionName": "enqueue",
                        "Payload": {"token.$": "$$.Task.Token"},
                    },
                    "Next": "Wait",
                },
                "Wait": {"Type": "Wait", "Seconds": 60, "End": True},
            },
        }
    )
    execution = h.call("StartExecution", stateMachineArn=arn, input="{}")["executionArn"]
    h.worker.run_until_idle()
    h.call("SendTaskSuccess", taskToken=tokens[0], output=json.dumps({"n": BIG, "m": [BIG]}))
    h.settle()
    done = h.call("DescribeExecution", executionArn=execution)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {"n": BIG, "m": [BIG]}
