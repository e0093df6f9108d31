"""End to end: every operation of the Step Functions API, driven with boto3 against a real
Stepwell server (uvicorn, the API app, Host with SQLite and a worker pool), including the
errors, each raised as boto3's modelled exception class, as against AWS.

The last test checks that the tests above called every operation botocore's model has.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stepwell.api.model import MODEL
from tests.e2e.server import ROLE, client, running_host, wait_until_done

FN = "arn:aws:lambda:us-east-1:123456789012:function:"
CALLED: set[str] = set()
TOKENS: list[str] = []
FLAKY = {"calls": 0}
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
MAP_RUN = "arn:aws:states:us-east-1:123456789012:mapRun:m/map:0f0e0d0c-1234-4321-abcd-000000000000"


def double(event: dict[str, Any]) -> dict[str, Any]:
    return {"n": event["n"] * 2}


def remember_token(event: dict[str, Any]) -> dict[str, Any]:
    TOKENS.append(event["token"])
    return {}


def flaky(event: Any) -> Any:
    FLAKY["calls"] += 1
    if FLAKY["calls"] == 1:
        raise RuntimeError("first call fails")
    return {"attempt": FLAKY["calls"]}


@pytest.fixture(scope="module")
def sfn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    functions = {"double": double, "remember_token": remember_token, "flaky": flaky}
    folder: Path = tmp_path_factory.mktemp("e2e")
    with running_host(folder, functions) as (url, _):
        boto = client(url)

        def record(model: Any, **_: Any) -> None:
            CALLED.add(model.name)

        boto.meta.events.register("before-call", record)
        yield boto


def create(sfn: Any, name: str, definition: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response: dict[str, Any] = sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=ROLE, **extra
    )
    return response


def error_code(raised: pytest.ExceptionInfo[Any]) -> str:
    return str(raised.value.response["Error"]["Code"])


# --------------------------------------------------------------------- state machines


def test_state_machine_lifecycle(sfn: Any) -> None:
    created = create(sfn, "lifecycle", PASS, publish=True, versionDescription="first")
    arn = created["stateMachineArn"]
    assert created["stateMachineVersionArn"] == f"{arn}:1"
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert (described["name"], described["type"], described["status"]) == (
        "lifecycle",
        "STANDARD",
        "ACTIVE",
    )
    other = {"StartAt": "Q", "States": {"Q": {"Type": "Pass", "Result": 2, "End": True}}}
    updated = sfn.update_state_machine(
        stateMachineArn=arn, definition=json.dumps(other), publish=True
    )
    assert updated["stateMachineVersionArn"] == f"{arn}:2"
    assert updated["revisionId"] == sfn.describe_state_machine(stateMachineArn=arn)["revisionId"]
    names = [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
    assert "lifecycle" in names
    version = sfn.describe_state_machine(stateMachineArn=f"{arn}:1")
    assert json.loads(version["definition"]) == PASS
    assert version["description"] == "first"
    valid = sfn.validate_state_machine_definition(definition=json.dumps(PASS))
    assert (valid["result"], valid["diagnostics"]) == ("OK", [])
    invalid = sfn.validate_state_machine_definition(definition='{"StartAt": "Nope"}')
    assert invalid["result"] == "FAIL" and invalid["diagnostics"]
    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=arn)


def test_state_machine_errors(sfn: Any) -> None:
    with pytest.raises(sfn.exceptions.InvalidDefinition):
        sfn.create_state_machine(name="bad", definition="{", roleArn=ROLE)
    with pytest.raises(sfn.exceptions.InvalidName):
        create(sfn, "bad name", PASS)
    create(sfn, "taken", PASS)
    with pytest.raises(sfn.exceptions.StateMachineAlreadyExists):
        create(sfn, "taken", {"StartAt": "X", "States": {"X": {"Type": "Succeed"}}})
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_state_machine(stateMachineArn="arn:aws:states:::nothing")
    with pytest.raises(sfn.exceptions.MissingRequiredParameter):
        sfn.update_state_machine(stateMachineArn=create(sfn, "empty", PASS)["stateMachineArn"])
    with pytest.raises(sfn.exceptions.ValidationException):
        sfn.create_state_machine(name="x", definition=json.dumps(PASS), roleArn=ROLE,
                                 versionDescription="needs publish")  # fmt: skip


# --------------------------------------------------------------------- versions and aliases


def test_versions_and_aliases(sfn: Any) -> None:
    arn = create(sfn, "aliased", PASS)["stateMachineArn"]
    first = sfn.publish_state_machine_version(stateMachineArn=arn, revisionId="INITIAL")
    assert first["stateMachineVersionArn"] == f"{arn}:1"
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(
        {"StartAt": "Q", "States": {"Q": {"Type": "Pass", "Result": 2, "End": True}}}))  # fmt: skip
    with pytest.raises(sfn.exceptions.ConflictException):
        sfn.publish_state_machine_version(stateMachineArn=arn, revisionId="INITIAL")
    second = sfn.publish_state_machine_version(stateMachineArn=arn, description="two")
    versions = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in versions] == [f"{arn}:2", f"{arn}:1"]

    routing = [
        {"stateMachineVersionArn": first["stateMachineVersionArn"], "weight": 100},
    ]
    alias = sfn.create_state_machine_alias(name="live", routingConfiguration=routing)
    alias_arn = alias["stateMachineAliasArn"]
    assert alias_arn == f"{arn}:live"
    assert sfn.describe_state_machine_alias(stateMachineAliasArn=alias_arn)["name"] == "live"
    listed = sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"]
    assert [a["stateMachineAliasArn"] for a in listed] == [alias_arn]
    sfn.update_state_machine_alias(
        stateMachineAliasArn=alias_arn,
        routingConfiguration=[{"stateMachineVersionArn": second["stateMachineVersionArn"],
                               "weight": 100}],
    )  # fmt: skip
    run = sfn.start_execution(stateMachineArn=alias_arn, name="via-alias")
    done = wait_until_done(sfn, run["executionArn"])
    assert (done["status"], done["output"]) == ("SUCCEEDED", "2")
    assert done["stateMachineAliasArn"] == alias_arn
    assert done["stateMachineVersionArn"] == second["stateMachineVersionArn"]

    with pytest.raises(sfn.exceptions.ConflictException):
        sfn.delete_state_machine_version(stateMachineVersionArn=second["stateMachineVersionArn"])
    with pytest.raises(sfn.exceptions.ValidationException) as raised:
        sfn.create_state_machine_alias(name="half", routingConfiguration=[
            {"stateMachineVersionArn": first["stateMachineVersionArn"], "weight": 50}])  # fmt: skip
    assert raised.value.response["reason"] == "INVALID_ROUTING_CONFIGURATION"
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias_arn)
    with pytest.raises(sfn.exceptions.ResourceNotFound) as missing:
        sfn.describe_state_machine_alias(stateMachineAliasArn=alias_arn)
    assert missing.value.response["resourceName"] == alias_arn
    sfn.delete_state_machine_version(stateMachineVersionArn=second["stateMachineVersionArn"])
    versions = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert len(versions) == 1


# --------------------------------------------------------------------- executions


def test_execution_round_trip(sfn: Any) -> None:
    task = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN + "double",
                                              "End": True}}}  # fmt: skip
    arn = create(sfn, "doubler", task)["stateMachineArn"]
    started = sfn.start_execution(stateMachineArn=arn, name="run-1", input='{"n": 21}')
    done = wait_until_done(sfn, started["executionArn"])
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"n": 42})
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, name="run-1", input='{"n": 1}')
    history = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    assert history[0]["type"] == "ExecutionStarted"
    assert history[-1]["type"] == "ExecutionSucceeded"
    listed = sfn.list_executions(stateMachineArn=arn, statusFilter="SUCCEEDED")["executions"]
    assert [e["name"] for e in listed] == ["run-1"]
    for_execution = sfn.describe_state_machine_for_execution(executionArn=started["executionArn"])
    assert json.loads(for_execution["definition"]) == task
    assert sfn.list_map_runs(executionArn=started["executionArn"])["mapRuns"] == []
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.describe_execution(executionArn=started["executionArn"] + "-nope")
    with pytest.raises(sfn.exceptions.InvalidExecutionInput):
        sfn.start_execution(stateMachineArn=arn, input="{not json")


def test_stop_execution(sfn: Any) -> None:
    waiting = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    arn = create(sfn, "waiter", waiting)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    sfn.stop_execution(executionArn=execution, error="Stopped", cause="by the test")
    stopped = wait_until_done(sfn, execution)
    assert (stopped["status"], stopped["error"]) == ("ABORTED", "Stopped")
    assert stopped["redriveStatus"] == "REDRIVABLE"


def test_redrive_execution(sfn: Any) -> None:
    task = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN + "flaky",
                                              "End": True}}}  # fmt: skip
    arn = create(sfn, "flaky", task)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert wait_until_done(sfn, execution)["status"] == "FAILED"
    sfn.redrive_execution(executionArn=execution)
    done = wait_until_done(sfn, execution)
    assert (done["status"], done["redriveCount"]) == ("SUCCEEDED", 1)
    types = [e["type"] for e in sfn.get_execution_history(executionArn=execution)["events"]]
    assert "ExecutionRedriven" in types
    listed = sfn.list_executions(stateMachineArn=arn, redriveFilter="REDRIVEN")["executions"]
    assert [e["executionArn"] for e in listed] == [execution]
    with pytest.raises(sfn.exceptions.ExecutionNotRedrivable):
        sfn.redrive_execution(executionArn=execution)


def test_express_executions(sfn: Any) -> None:
    result = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}}
    arn = create(sfn, "express", result, type="EXPRESS")["stateMachineArn"]
    done = sfn.start_sync_execution(stateMachineArn=arn, input="{}")
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"ok": 1})
    started = sfn.start_execution(stateMachineArn=arn)
    assert ":express:express:" in started["executionArn"]
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_execution(executionArn=started["executionArn"])
    standard = create(sfn, "not-express", PASS)["stateMachineArn"]
    with pytest.raises(sfn.exceptions.StateMachineTypeNotSupported):
        sfn.start_sync_execution(stateMachineArn=standard)


def test_map_runs_do_not_exist(sfn: Any) -> None:
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.describe_map_run(mapRunArn=MAP_RUN)
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.update_map_run(mapRunArn=MAP_RUN, maxConcurrency=1)


# --------------------------------------------------------------------- callbacks, activities


def test_task_token_callbacks(sfn: Any) -> None:
    waiting = {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "remember_token",
                               "Payload": {"token.$": "$$.Task.Token"}},
                "HeartbeatSeconds": 600,
                "End": True,
            }
        },
    }  # fmt: skip
    arn = create(sfn, "callback", waiting)["stateMachineArn"]
    approved = sfn.start_execution(stateMachineArn=arn, name="approved")["executionArn"]
    rejected = sfn.start_execution(stateMachineArn=arn, name="rejected")["executionArn"]
    wait_for_tokens(2)
    first, second = TOKENS[:2]
    sfn.send_task_heartbeat(taskToken=first)
    with pytest.raises(sfn.exceptions.InvalidOutput):
        sfn.send_task_success(taskToken=first, output="{nope")
    sfn.send_task_success(taskToken=first, output='{"approved": true}')
    sfn.send_task_failure(taskToken=second, error="Rejected", cause="no")
    outcomes = {wait_until_done(sfn, e)["status"] for e in (approved, rejected)}
    assert outcomes == {"SUCCEEDED", "FAILED"}
    with pytest.raises(sfn.exceptions.TaskDoesNotExist):
        sfn.send_task_success(taskToken=first, output="{}")
    with pytest.raises(sfn.exceptions.TaskDoesNotExist):  # C3: the token is checked first
        sfn.send_task_success(taskToken=first, output="{nope")


def wait_for_tokens(count: int) -> None:
    """The invoker threads call the function soon after StartExecution answers."""
    deadline = time.monotonic() + 10
    while len(TOKENS) < count:
        assert time.monotonic() < deadline, "the callback function was not called"
        time.sleep(0.01)


def test_activities(sfn: Any) -> None:
    activity = sfn.create_activity(name="review", tags=[{"key": "team", "value": "a"}])
    arn = activity["activityArn"]
    assert sfn.describe_activity(activityArn=arn)["name"] == "review"
    assert arn in [a["activityArn"] for a in sfn.list_activities()["activities"]]
    machine = create(sfn, "reviewed", {"StartAt": "R", "States": {
        "R": {"Type": "Task", "Resource": arn, "End": True}}})["stateMachineArn"]  # fmt: skip
    execution = sfn.start_execution(stateMachineArn=machine, input='{"doc": 1}')["executionArn"]
    task = sfn.get_activity_task(activityArn=arn, workerName="tester")
    assert json.loads(task["input"]) == {"doc": 1}
    sfn.send_task_success(taskToken=task["taskToken"], output='{"ok": true}')
    assert wait_until_done(sfn, execution)["status"] == "SUCCEEDED"
    sfn.delete_activity(activityArn=arn)
    with pytest.raises(sfn.exceptions.ActivityDoesNotExist):
        sfn.describe_activity(activityArn=arn)


# --------------------------------------------------------------------- tags


def test_tags(sfn: Any) -> None:
    arn = create(sfn, "tagged", PASS, tags=[{"key": "a", "value": "1"}])["stateMachineArn"]
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "b", "value": "2"}])
    sfn.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "b", "value": "2"}]
    with pytest.raises(sfn.exceptions.TooManyTags):
        sfn.tag_resource(resourceArn=arn, tags=[{"key": f"k{n}", "value": ""} for n in range(50)])
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.list_tags_for_resource(resourceArn=arn + "-gone")


# --------------------------------------------------------------------- TestState


def test_test_state(sfn: Any) -> None:
    state = {"Type": "Task", "Resource": FN + "double", "ResultPath": "$.out", "Next": "After"}
    answer = sfn.test_state(
        definition=json.dumps(state), input='{"n": 2}', inspectionLevel="DEBUG", roleArn=ROLE
    )
    assert (answer["status"], answer["nextState"]) == ("SUCCEEDED", "After")
    assert json.loads(answer["output"]) == {"n": 2, "out": {"n": 4}}
    assert json.loads(answer["inspectionData"]["result"]) == {"n": 4}
    with pytest.raises(sfn.exceptions.InvalidDefinition):
        sfn.test_state(definition='{"Type": "Nope"}')


# --------------------------------------------------------------------- completeness


def test_every_operation_of_the_api_was_called() -> None:
    assert set(MODEL.operations) - CALLED == set()
