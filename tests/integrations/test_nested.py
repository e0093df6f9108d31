"""Nested executions (Developer Guide, "Start a new AWS Step Functions state machine from
a running execution"): the four integration patterns, durably on every store and
in-process with ``stepwell.run``."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest

import stepwell
from stepwell.integrations.functions import Outcome
from stepwell.integrations.nested import NAMESPACE, NestedExecutions, finished_outcome
from stepwell.integrations.registry import Integrations, Invocation
from stepwell.integrations.resources import parse
from stepwell.runtime.clock import VirtualClock
from stepwell.runtime.local import LocalExecutions, LocalServiceError
from stepwell.runtime.worker import Worker
from stepwell.service.service import Service
from stepwell.store.base import ExecutionRecord, Store, StoreUnavailable

ROLE = "arn:aws:iam::123456789012:role/stepwell"
PREFIX = "arn:aws:states:us-east-1:123456789012"
START_EXECUTION = "arn:aws:states:::states:startExecution"
T0 = 1_700_000_000.0

DOUBLE = {  # waits an hour, then answers {"doubled": 2n}
    "StartAt": "Wait",
    "States": {
        "Wait": {"Type": "Wait", "Seconds": 3600, "Next": "Double"},
        "Double": {
            "Type": "Pass",
            "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"},
            "End": True,
        },
    },
}
QUICK = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": "quick", "End": True}}}
BOOM = {
    "StartAt": "Boom",
    "States": {"Boom": {"Type": "Fail", "Error": "Boom", "Cause": "it broke"}},
}
APPROVE = {  # answers its parent's task token itself, through the AWS SDK integration
    "StartAt": "Approve",
    "States": {
        "Approve": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:sfn:sendTaskSuccess",
            "Parameters": {"TaskToken.$": "$.token", "Output.$": "States.JsonToString($.n)"},
            "End": True,
        }
    },
}
REJECT = {
    "StartAt": "Beat",
    "States": {
        "Beat": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:sfn:sendTaskHeartbeat",
            "Parameters": {"TaskToken.$": "$.token"},
            "ResultPath": None,
            "Next": "Reject",
        },
        "Reject": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:sfn:sendTaskFailure",
            "Parameters": {"TaskToken.$": "$.token", "Error": "Rejected", "Cause": "no"},
            "End": True,
        },
    },
}
MACHINES = {"double": DOUBLE, "quick": QUICK, "boom": BOOM, "approve": APPROVE, "reject": REJECT}


def parent(pattern: str, child: str, **fields: Any) -> dict[str, Any]:
    parameters = {
        "StateMachineArn": f"{PREFIX}:stateMachine:{child}",
        "Input": {"n.$": "$.n", "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"},
    }
    if pattern == ".waitForTaskToken":
        parameters["Input"]["token.$"] = "$$.Task.Token"
    parameters.update(fields.pop("parameters", {}))
    task = {"Type": "Task", "Resource": START_EXECUTION + pattern, "Parameters": parameters}
    return {"StartAt": "Child", "States": {"Child": {**task, "End": True, **fields}}}


# --------------------------------------------------------------------- durable


class Harness:
    def __init__(self, store: Store, run_now: bool = False) -> None:
        self.clock = VirtualClock(T0)
        self.store = store
        integrations = Integrations()
        self.nested = NestedExecutions(links=store)
        self.nested.install(integrations)
        self.worker = Worker(store, integrations, self.clock)
        self.worker.watchers.append(self.nested)
        self.service = Service(
            store,
            self.clock,
            integrations=integrations,
            run_now=self.worker if run_now else None,
        )
        self.nested.connect(self.service)
        for name, definition in MACHINES.items():
            self.machine(definition, name)

    def machine(self, definition: dict[str, Any], name: str) -> str:
        request = {"name": name, "definition": json.dumps(definition), "roleArn": ROLE}
        return str(self.service.create_state_machine(request)["stateMachineArn"])

    def start(self, definition: dict[str, Any], value: Any = None) -> str:
        arn = self.machine(definition, "parent")
        request = {"stateMachineArn": arn, "input": json.dumps(value or {"n": 21})}
        return str(self.service.start_execution(request)["executionArn"])

    def describe(self, arn: str) -> dict[str, Any]:
        return dict(self.service.describe_execution({"executionArn": arn}))

    def output(self, arn: str) -> Any:
        return json.loads(self.describe(arn)["output"])

    def children(self, machine: str) -> list[ExecutionRecord]:
        return self.store.list_executions(f"{PREFIX}:stateMachine:{machine}", None)

    def settle(self) -> None:
        while True:
            self.worker.run_until_idle()
            due = self.store.next_due(self.clock.now())
            if due is None:
                return
            self.clock.set(due)

    def links(self) -> list[tuple[str, bytes]]:
        with self.store.documents(NAMESPACE) as docs:
            return docs.scan()


def test_request_response_returns_the_child_and_does_not_wait(store: Store) -> None:
    h = Harness(store)
    arn = h.start(parent("", "double"))
    h.worker.run_until_idle()
    described = h.describe(arn)
    assert described["status"] == "SUCCEEDED" and described["stopDate"].timestamp() == T0
    output = json.loads(described["output"])
    (child,) = h.children("double")
    assert child.status == "RUNNING"
    assert output["ExecutionArn"] == child.arn
    assert output["StartDate"] == T0 * 1000
    assert output["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert output["SdkResponseMetadata"]["RequestId"]
    assert json.loads(child.input) == {
        "n": 21,
        "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": arn,
    }


@pytest.mark.parametrize(
    ("pattern", "output"), [(".sync", '{"doubled":42}'), (".sync:2", {"doubled": 42})]
)
def test_sync_waits_for_the_child(store: Store, pattern: str, output: Any) -> None:
    h = Harness(store)
    arn = h.start(parent(pattern, "double"))
    h.worker.run_until_idle()
    assert h.describe(arn)["status"] == "RUNNING" and len(h.links()) == 1
    h.settle()
    (child,) = h.children("double")
    described = h.describe(arn)
    assert described["status"] == "SUCCEEDED"
    assert described["stopDate"].timestamp() == T0 + 3600
    assert h.output(arn) == {
        "ExecutionArn": child.arn,
        # C2: .sync:2 parses Input as it parses Output
        "Input": child.input if pattern == ".sync" else json.loads(child.input),
        "InputDetails": {"Included": True},
        "Name": child.name,
        "Output": output,
        "OutputDetails": {"Included": True},
        "RedriveCount": 0,
        "RedriveStatus": "NOT_REDRIVABLE",
        "RedriveStatusReason": "Execution is SUCCEEDED and cannot be redriven",
        "StartDate": T0 * 1000,
        "StateMachineArn": f"{PREFIX}:stateMachine:double",
        "Status": "SUCCEEDED",
        "StopDate": (T0 + 3600) * 1000,
    }
    assert h.links() == []  # the link went with the child's end


def test_an_express_child_runs_to_its_end_within_the_sync_task(store: Store) -> None:
    h = Harness(store)
    request = {"name": "fast", "definition": json.dumps(QUICK), "roleArn": ROLE}
    h.service.create_state_machine({**request, "type": "EXPRESS"})
    arn = h.start(parent(".sync:2", "fast"))
    h.settle()
    output = h.output(arn)
    assert (output["Status"], output["Output"]) == ("SUCCEEDED", "quick")
    assert ":express:fast:" in output["ExecutionArn"] and h.links() == []


def test_a_child_that_ends_inside_start_execution_still_resolves_the_parent(
    store: Store,
) -> None:
    # run_now steps the child while StartExecution runs, before the integration returns.
    h = Harness(store, run_now=True)
    arn = h.start(parent(".sync:2", "quick"))
    h.settle()
    assert h.output(arn)["Output"] == "quick"


def test_a_failed_child_fails_the_sync_task(store: Store) -> None:
    h = Harness(store)
    arn = h.start(parent(".sync", "boom"))
    h.settle()
    described = h.describe(arn)
    assert (described["status"], described["error"]) == ("FAILED", "States.TaskFailed")
    cause = json.loads(described["cause"])
    assert (cause["Status"], cause["Error"], cause["Cause"]) == ("FAILED", "Boom", "it broke")
    assert cause["RedriveStatus"] == "REDRIVABLE" and "Output" not in cause


def test_a_failed_child_can_be_caught(store: Store) -> None:
    h = Harness(store)
    catch = [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failure", "Next": "Handled"}]
    definition = parent(".sync:2", "boom", Catch=catch)
    del definition["States"]["Child"]["End"]
    definition["States"]["Child"]["Next"] = "Handled"
    definition["States"]["Handled"] = {"Type": "Pass", "End": True}
    arn = h.start(definition)
    h.settle()
    assert json.loads(h.output(arn)["failure"]["Cause"])["Error"] == "Boom"


def test_wait_for_task_token_with_a_consumer_answering(store: Store) -> None:
    h = Harness(store)
    arn = h.start(parent(".waitForTaskToken", "double"))
    h.settle()  # the child ends; the parent still waits for its token
    assert h.describe(arn)["status"] == "RUNNING"
    (child,) = h.children("double")
    token = json.loads(child.input)["token"]
    h.service.send_task_success({"taskToken": token, "output": '{"approved": true}'})
    h.settle()
    assert h.output(arn) == {"approved": True}


def test_wait_for_task_token_answered_by_the_child_itself(store: Store) -> None:
    h = Harness(store)
    arn = h.start(parent(".waitForTaskToken", "approve"))
    h.settle()
    assert h.output(arn) == 21


def test_wait_for_task_token_rejected_by_the_child(store: Store) -> None:
    h = Harness(store)
    arn = h.start(parent(".waitForTaskToken", "reject", HeartbeatSeconds=60))
    h.settle()
    described = h.describe(arn)
    assert (described["status"], described["error"], described["cause"]) == (
        "FAILED",
        "Rejected",
        "no",
    )


def test_a_parent_that_timed_out_ignores_its_child_ending_later(store: Store) -> None:
    h = Harness(store)
    arn = h.start(parent(".sync", "double", TimeoutSeconds=60))
    h.settle()
    described = h.describe(arn)
    assert (described["status"], described["error"]) == ("FAILED", "States.Timeout")
    assert described["stopDate"].timestamp() == T0 + 60
    (child,) = h.children("double")
    assert child.status == "SUCCEEDED"


def test_a_refused_start_fails_the_task_with_the_step_functions_error(store: Store) -> None:
    h = Harness(store)
    arn = h.start(parent(".sync", "missing"))
    h.settle()
    described = h.describe(arn)
    assert described["error"] == "StepFunctions.StateMachineDoesNotExistException"
    assert described["cause"].startswith(
        f"State Machine Does Not Exist: '{PREFIX}:stateMachine:missing' (Service: "
        "AWSStepFunctions; Status Code: 400; Error Code: StateMachineDoesNotExist; Request ID: "
    )
    assert h.links() == []


def test_a_name_used_before_is_refused(store: Store) -> None:
    h = Harness(store)
    first = h.start(parent(".sync", "quick", parameters={"Name": "only-once"}))
    h.settle()
    assert h.describe(first)["status"] == "SUCCEEDED"
    request = {"stateMachineArn": f"{PREFIX}:stateMachine:parent", "input": '{"n": 1}'}
    second = str(h.service.start_execution(request)["executionArn"])
    h.settle()
    assert h.describe(second)["error"] == "StepFunctions.ExecutionAlreadyExistsException"


def test_a_redelivered_invocation_starts_the_same_child(store: Store) -> None:
    h = Harness(store)
    invocation = Invocation(
        START_EXECUTION + ".sync",
        {"StateMachineArn": f"{PREFIX}:stateMachine:double", "Input": {"n": 1}},
        task_token="token-1",
        request_id="request-1",
    )
    resource = parse(invocation.resource)
    assert resource is not None
    first = h.nested.invoke(invocation, resource)
    again = h.nested.invoke(invocation, resource)  # at-least-once delivery
    assert first is not None and first.submitted  # C1: submitted, waiting for the child
    assert again is not None and again.output["ExecutionArn"] == first.output["ExecutionArn"]
    assert len(h.children("double")) == 1


# --------------------------------------------------------------------- in-process


def run(definition: dict[str, Any], **options: Any) -> stepwell.ExecutionResult:
    return stepwell.run(definition, {"n": 21}, machines=MACHINES, seed=7, **options)


def test_in_process_request_response() -> None:
    result = run(parent("", "double"))
    assert result.succeeded and result.stop_date == result.start_date
    (child,) = result.extra["executions"].values()
    assert result.output["ExecutionArn"] == child.execution_arn
    assert child.output == {"doubled": 42}


@pytest.mark.parametrize(
    ("pattern", "output"), [(".sync", '{"doubled":42}'), (".sync:2", {"doubled": 42})]
)
def test_in_process_sync(pattern: str, output: Any) -> None:
    result = run(parent(pattern, "double"))
    assert result.succeeded
    assert result.output["Output"] == output and result.output["Status"] == "SUCCEEDED"
    assert (result.stop_date - result.start_date).total_seconds() == 3600  # the child's hour
    (child,) = result.extra["executions"].values()
    assert child.input == {
        "n": 21,
        "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": result.execution_arn,
    }


def test_in_process_failed_child() -> None:
    result = run(parent(".sync:2", "boom"))
    assert (result.status, result.error) == ("FAILED", "States.TaskFailed")
    assert json.loads(result.cause or "")["Error"] == "Boom"


@pytest.mark.parametrize(
    ("child", "status", "output", "error"),
    [("approve", "SUCCEEDED", 21, None), ("reject", "FAILED", None, "Rejected")],
)
def test_in_process_wait_for_task_token(
    child: str, status: str, output: Any, error: str | None
) -> None:
    result = run(parent(".waitForTaskToken", child, HeartbeatSeconds=60))
    assert (result.status, result.output, result.error) == (status, output, error)


def test_in_process_grandchildren() -> None:
    middle = parent(".sync:2", "double", OutputPath="$.Output")
    result = stepwell.run(
        parent(".sync:2", "middle"), {"n": 5}, machines={**MACHINES, "middle": middle}, seed=1
    )
    assert result.output["Output"] == {"doubled": 10}
    assert (result.stop_date - result.start_date).total_seconds() == 3600


@pytest.mark.parametrize(
    ("fields", "error", "cause"),
    [
        (
            {"parameters": {"StateMachineArn": f"{PREFIX}:stateMachine:nope"}},
            "StepFunctions.StateMachineDoesNotExistException",
            "State Machine Does Not Exist",
        ),
        (
            {"parameters": {"Input": "not json"}},
            "StepFunctions.InvalidExecutionInputException",
            "Invalid State Machine Execution Input: 'Unrecognized token 'not'",  # K10
        ),
        (
            {"parameters": {"StateMachineArn.$": "$.n"}},
            "States.Runtime",
            "needs a StateMachineArn",
        ),
    ],
)
def test_in_process_refusals(fields: dict[str, Any], error: str, cause: str) -> None:
    definition = parent(".sync", "double", **fields)
    if "StateMachineArn.$" in definition["States"]["Child"]["Parameters"]:
        del definition["States"]["Child"]["Parameters"]["StateMachineArn"]
    result = run(definition)
    assert result.error == error and cause in (result.cause or "")


def test_in_process_name_reuse_is_refused() -> None:
    once = parent(".sync", "quick", parameters={"Name": "once"})["States"]["Child"]
    first = {key: value for key, value in once.items() if key != "End"}
    twice = {
        "StartAt": "First",
        "States": {"First": {**first, "ResultPath": None, "Next": "Second"}, "Second": once},
    }
    result = run(twice)
    assert result.error == "StepFunctions.ExecutionAlreadyExistsException"
    assert "Execution Already Exists" in (result.cause or "")


def test_in_process_callbacks_for_unknown_tokens_are_refused() -> None:
    stray = {
        "StartAt": "Answer",
        "States": {
            "Answer": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sfn:sendTaskSuccess",
                "Parameters": {"TaskToken": "nobody", "Output": {"a": 1}},
                "End": True,
            }
        },
    }
    result = stepwell.run(stray, {}, seed=1)
    assert result.error == "Sfn.InvalidTokenException"  # C3
    assert result.cause is not None and result.cause.startswith(
        "Invalid Token: 'Invalid token' (Service: Sfn, Status Code: 400, Request ID: "
    )
    assert result.cause.endswith(") (SDK Attempt Count: 1)")
    stray["States"]["Answer"]["Parameters"] = {"TaskToken": "nobody"}
    missing = stepwell.run(stray, {}, seed=1)
    assert missing.error == "Sfn.ValidationException"
    assert "Value null at 'output'" in (missing.cause or "")


def test_in_process_a_child_waiting_forever_is_an_error() -> None:
    forever = parent(".waitForTaskToken", "double")
    waiting = {
        "StartAt": "Wait",
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "enqueue", "Payload": {"t.$": "$$.Task.Token"}},
                "End": True,
            }
        },
    }
    with pytest.raises(RuntimeError, match="waiting"):
        stepwell.run(
            forever,
            {"n": 1},
            machines={"double": waiting},
            functions={"enqueue": lambda event: {}},
            seed=1,
        )


# --------------------------------------------------------------------- the parts


class StubPort:
    """A port whose answers a test chooses."""

    def __init__(self, fail: Exception | None = None, status: str = "RUNNING") -> None:
        self.fail = fail
        self.status = status
        self.requests: list[dict[str, Any]] = []

    def start_execution(self, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(request)
        if self.fail is not None:
            raise self.fail
        return {"executionArn": "arn:aws:states:us-east-1:1:execution:m:other", "startDate": 1.5}

    def start_sync_execution(self, request: dict[str, Any]) -> dict[str, Any]:
        raise type("Standard", (Exception,), {"aws_type": "StateMachineTypeNotSupported"})()

    def describe_execution(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"status": self.status}

    def send_task_success(self, request: dict[str, Any]) -> dict[str, Any]:
        return {}

    send_task_failure = send_task_heartbeat = send_task_success


def invoke(
    nested: NestedExecutions,
    pattern: str,
    token: str | None = None,
    machine: str = "arn:aws:states:us-east-1:1:stateMachine:m",
) -> Outcome | None:
    resource = parse(START_EXECUTION + pattern)
    assert resource is not None
    payload = {"StateMachineArn": machine}
    return nested.invoke(Invocation(resource.arn, payload, task_token=token), resource)


def test_an_unconnected_port_fails_the_task() -> None:
    outcome = invoke(NestedExecutions(), "")
    assert outcome is not None and outcome.error == "StepFunctions.ValidationException"
    assert "not connected" in outcome.cause


def test_a_port_bug_is_not_disguised_as_a_task_failure() -> None:
    with pytest.raises(ZeroDivisionError):
        invoke(NestedExecutions(StubPort(fail=ZeroDivisionError())), "")


def test_a_still_running_child_without_links_waits() -> None:
    assert invoke(NestedExecutions(StubPort()), ".sync") is None


def test_a_port_that_names_children_its_own_way_is_followed(store: Store) -> None:
    nested = NestedExecutions(StubPort(), links=store)
    submitted = invoke(nested, ".sync:2", token="t")
    assert submitted is not None and submitted.submitted
    with store.documents(NAMESPACE) as docs:
        assert [key for key, _ in docs.scan()] == ["arn:aws:states:us-east-1:1:execution:m:other"]


def test_a_link_under_a_bad_arn_goes_when_the_start_is_refused(store: Store) -> None:
    class Refused(Exception):
        aws_type = "InvalidArn"

    nested = NestedExecutions(StubPort(fail=Refused("Invalid Arn")), links=store)
    outcome = invoke(nested, ".sync", token="t", machine="not-an-arn")
    assert outcome is not None and outcome.error == "StepFunctions.InvalidArnException"
    with store.documents(NAMESPACE) as docs:
        assert docs.scan() == []


def test_a_failed_start_from_the_inline_path() -> None:
    class Refused(Exception):
        aws_type = "ExecutionLimitExceeded"

    outcome = invoke(NestedExecutions(StubPort(fail=Refused("too many"))), ".sync")
    assert outcome is not None and outcome.error == "StepFunctions.ExecutionLimitExceededException"


def test_a_describe_refusal_fails_the_task() -> None:
    class Port(StubPort):
        def describe_execution(self, request: dict[str, Any]) -> dict[str, Any]:
            raise type("Gone", (Exception,), {"aws_type": "ExecutionDoesNotExist"})("gone")

    outcome = invoke(NestedExecutions(Port()), ".sync")
    assert outcome is not None and outcome.error == "StepFunctions.ExecutionDoesNotExistException"


def test_completions_need_links_and_an_ended_child(store: Store) -> None:
    record = ExecutionRecord("arn:x", "arn:m", "x", "RUNNING", "{}", T0)
    assert NestedExecutions().completions(record) == []
    assert NestedExecutions(links=store).completions(record) == []
    NestedExecutions().forget(record)  # nothing to forget without links


def test_finished_outcome_of_a_timed_out_child() -> None:
    outcome = finished_outcome(
        {
            "executionArn": "arn:e",
            "stateMachineArn": "arn:m",
            "name": "e",
            "status": "TIMED_OUT",
            "input": "{}",
            "startDate": 1.0,
            "stopDate": 2.0,
            "error": "States.Timeout",
        },
        ".sync",
    )
    assert outcome.error == "States.TaskFailed"
    cause = json.loads(outcome.cause)
    assert (cause["Status"], cause["Error"], cause["StopDate"]) == (
        "TIMED_OUT",
        "States.Timeout",
        2000,
    )
    assert "Cause" not in cause and cause["RedriveStatus"] == "REDRIVABLE"


def test_a_start_with_a_bad_state_machine_arn_leaves_no_link(store: Store) -> None:
    h = Harness(store)
    arn = h.start(parent(".sync", "double", parameters={"StateMachineArn": "not-an-arn"}))
    h.settle()
    assert h.describe(arn)["error"] == "StepFunctions.InvalidArnException"
    assert h.links() == []


def test_send_task_failure_without_error_or_cause(store: Store) -> None:
    h = Harness(store)
    silent = {
        "StartAt": "Reject",
        "States": {
            "Reject": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sfn:sendTaskFailure",
                "Parameters": {"TaskToken.$": "$.token"},
                "End": True,
            }
        },
    }
    h.machine(silent, "silent")
    arn = h.start(parent(".waitForTaskToken", "silent"))
    h.settle()
    described = h.describe(arn)
    assert described["status"] == "FAILED" and described.get("error", "") == ""


def test_finished_outcome_without_a_stop_date() -> None:
    described = {
        "executionArn": "arn:e",
        "stateMachineArn": "arn:m",
        "name": "e",
        "status": "ABORTED",
        "input": "{}",
        "startDate": 1.0,
    }
    cause = json.loads(finished_outcome(described, ".sync:2").cause)
    assert "StopDate" not in cause and cause["Status"] == "ABORTED"


def test_local_executions_refuse_unknown_executions() -> None:
    executions = LocalExecutions({}, random.Random(1), False, datetime.now(UTC))
    with pytest.raises(LocalServiceError) as raised:
        executions.describe_execution({"executionArn": "arn:nope"})
    assert raised.value.aws_type == "ExecutionDoesNotExist"


def test_child_machines_are_checked_like_the_parent() -> None:
    refused = {
        "StartAt": "S",
        "States": {
            "S": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.sync", "End": True}
        },
    }
    with pytest.raises(stepwell.InvalidDefinition):
        stepwell.run(parent(".sync", "bad"), {"n": 1}, machines={"bad": refused})


def test_deleting_the_child_machine_fails_the_waiting_parent(store: Store) -> None:
    h = Harness(store)
    arn = h.start(parent(".sync", "double"))
    h.worker.run_until_idle()
    h.service.delete_state_machine({"stateMachineArn": f"{PREFIX}:stateMachine:double"})
    h.settle()
    described = h.describe(arn)
    assert (described["status"], described["error"]) == ("FAILED", "States.TaskFailed")
    assert json.loads(described["cause"])["Status"] == "ABORTED"


class UnlinkFailsOnce:
    """The store, but the first exclusive ``documents`` transaction after ``arm`` fails
    as a database that is briefly away (the unlink after a child's end)."""

    def __init__(self, store: Store) -> None:
        self.store, self.armed = store, False

    def documents(self, namespace: str) -> Any:
        if self.armed:
            self.armed = False
            raise StoreUnavailable("the database is down")
        return self.store.documents(namespace)

    def peek(self, namespace: str, keys: Any) -> dict[str, bytes]:
        return self.store.peek(namespace, keys)


def test_a_link_the_store_failed_to_drop_goes_at_the_next_end(store: Store) -> None:
    h = Harness(store)
    flaky = UnlinkFailsOnce(store)
    h.nested.links = flaky
    first = h.start(parent(".sync", "double"))
    h.worker.run_until_idle()
    assert len(h.links()) == 1
    h.clock.advance(3600)
    flaky.armed = True  # the child's end commits; dropping its link fails (logged)
    h.worker.run_until_idle()  # the parent's end, next, drops it
    assert h.describe(first)["status"] == "SUCCEEDED"
    assert not flaky.armed and h.links() == []
