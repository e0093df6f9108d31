"""Distributed Map through boto3 against a real Stepwell server on SQLite: the parent's
history (B5), ListMapRuns, DescribeMapRun counts, ListExecutions(mapRunArn) with the
children's own histories, UpdateMapRun on a running Map Run, StopExecution, and the
ResultWriter's files in the embedded S3 (API Reference: DescribeMapRun, UpdateMapRun,
ListMapRuns, ListExecutions; Developer Guide, "Viewing a Distributed Map Run")."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stepwell.service.settings import Settings
from stepwell.testing import LocalStepwell, local_stepwell
from tests.conftest import POSTGRES_URL, SKIP_POSTGRES

ROLE = "arn:aws:iam::123456789012:role/stepwell"
FN = "arn:aws:lambda:us-east-1:123456789012:function:"
DISTRIBUTED = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}


FAILED_ONCE: set[str] = set()  # the "fail_once" keys that have failed already


def shout(event: dict[str, Any]) -> dict[str, Any]:
    if "fail_once" in event and event["fail_once"] not in FAILED_ONCE:
        FAILED_ONCE.add(event["fail_once"])
        raise ValueError("asked to fail once")
    if "Items" in event:
        return {"names": [row["name"].upper() for row in event["Items"]]}
    if event.get("fail") and not event.get("redriven"):
        raise ValueError("asked to fail")
    return {"ok": event}


@pytest.fixture(params=["sqlite", "postgres"])
def sw(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalStepwell]:
    schema = f"dmap_{uuid.uuid4().hex[:12]}"
    if request.param == "postgres":
        if not POSTGRES_URL:
            pytest.skip(SKIP_POSTGRES)
        db = f"{POSTGRES_URL}?schema={schema}"
    else:
        db = str(tmp_path / "stepwell.db")
    settings = Settings(db=db, workers=1, invokers=2)
    with local_stepwell(settings, functions={"shout": shout}, virtual_time=True) as running:
        running.host.services.s3.create_bucket(Bucket="data")
        yield running
    if request.param == "postgres":
        from stepwell.store.postgres import PostgresDialect

        PostgresDialect(POSTGRES_URL or "", schema).drop_schema()


def start(sw: LocalStepwell, map_fields: dict[str, Any], states: dict[str, Any], given: Any) -> str:
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {"ProcessorConfig": DISTRIBUTED, "StartAt": "S", "States": states},
                "End": True,
                **map_fields,
            }
        },
    }
    sfn = sw.client()
    machine = sfn.create_state_machine(
        name=f"dm{abs(hash(json.dumps(definition))) % 10**8}",
        definition=json.dumps(definition),
        roleArn=ROLE,
    )["stateMachineArn"]
    arn: str = sfn.start_execution(stateMachineArn=machine, input=json.dumps(given))["executionArn"]
    sw.settle()
    return arn


def eventually(sw: LocalStepwell, check: Callable[[], bool]) -> None:
    """Run due work until ``check`` holds: the pool's own threads may be finishing a
    task the test's thread cannot see (a short poll, not a timed assertion)."""
    deadline = time.monotonic() + 120  # a bound for a loaded machine, not a timing check
    while not check() and time.monotonic() < deadline:
        sw.settle()
        time.sleep(0.02)


def ended(sw: LocalStepwell, execution: str) -> dict[str, Any]:
    sfn = sw.client()
    eventually(sw, lambda: sfn.describe_execution(executionArn=execution)["status"] != "RUNNING")
    described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
    return described


def map_run(sw: LocalStepwell, execution: str) -> dict[str, Any]:
    sfn = sw.client()
    eventually(sw, lambda: bool(sfn.list_map_runs(executionArn=execution)["mapRuns"]))
    [run] = sfn.list_map_runs(executionArn=execution)["mapRuns"]
    described: dict[str, Any] = sfn.describe_map_run(mapRunArn=run["mapRunArn"])
    return described


TASK = {"S": {"Type": "Task", "Resource": FN + "shout", "End": True}}
WAIT_THEN_TASK = {
    "S": {"Type": "Wait", "Seconds": 10, "Next": "T"},
    "T": {"Type": "Task", "Resource": FN + "shout", "End": True},
}


def test_csv_batched_written_back_and_listed(sw: LocalStepwell) -> None:
    s3 = sw.host.services.s3
    s3.put_object(Bucket="data", Key="people.csv", Body="name\nada\nbob\ncy\n")
    fields = {
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
            "Parameters": {"Bucket": "data", "Key": "people.csv"},
        },
        "ItemBatcher": {"MaxItemsPerBatch": 2},
        "ResultWriter": {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": "data", "Prefix": "out"},
        },
    }
    execution = start(sw, fields, TASK, {})
    sfn = sw.client()
    described = ended(sw, execution)
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    # B5: the parent's events, with no iterations.
    events = sfn.get_execution_history(executionArn=execution)["events"]
    assert [e["type"] for e in events] == [
        "ExecutionStarted",
        "MapStateEntered",
        "MapStateStarted",
        "MapRunStarted",
        "MapRunSucceeded",
        "MapStateSucceeded",
        "MapStateExited",
        "ExecutionSucceeded",
    ]
    run_arn = events[3]["mapRunStartedEventDetails"]["mapRunArn"]
    assert output["MapRunArn"] == run_arn
    run = map_run(sw, execution)
    assert run["mapRunArn"] == run_arn and run["executionArn"] == execution
    assert run["status"] == "SUCCEEDED"
    assert run["itemCounts"]["total"] == 3 and run["itemCounts"]["succeeded"] == 3
    assert run["executionCounts"]["total"] == 2 and run["executionCounts"]["succeeded"] == 2
    assert run["executionCounts"]["resultsWritten"] == 2
    children = sfn.list_executions(mapRunArn=run_arn)["executions"]
    assert len(children) == 2
    machine, label = run_arn.split(":")[6].split("/")
    for child in children:
        assert child["mapRunArn"] == run_arn
        assert child["executionArn"].split(":")[6] == f"{machine}/{label}"
        assert child["stateMachineArn"].endswith(f":stateMachine:{machine}/{label}")
        history = sfn.get_execution_history(executionArn=child["executionArn"])["events"]
        assert history[-1]["type"] == "ExecutionSucceeded"
        assert sfn.describe_execution(executionArn=child["executionArn"])["mapRunArn"] == run_arn
        for_child = sfn.describe_state_machine_for_execution(executionArn=child["executionArn"])
        assert (for_child["mapRunArn"], for_child["label"]) == (run_arn, label)
        assert json.loads(for_child["definition"])["StartAt"] == "S"
    manifest = json.loads(
        s3.get_object(Bucket="data", Key=output["ResultWriterDetails"]["Key"])["Body"].read()
    )
    [succeeded] = manifest["ResultFiles"]["SUCCEEDED"]
    results = json.loads(s3.get_object(Bucket="data", Key=succeeded["Key"])["Body"].read())
    assert sorted(n for r in results for n in json.loads(r["Output"])["names"]) == [
        "ADA",
        "BOB",
        "CY",
    ]


def counts(run: dict[str, Any]) -> tuple[int, int, int]:
    executions = run["executionCounts"]
    return executions["pending"], executions["running"], executions["succeeded"]


def test_update_map_run_raises_max_concurrency_of_a_running_run(sw: LocalStepwell) -> None:
    execution = start(sw, {"MaxConcurrency": 1}, WAIT_THEN_TASK, [{"n": n} for n in range(4)])
    eventually(sw, lambda: counts(map_run(sw, execution)) == (3, 1, 0))
    run = map_run(sw, execution)
    assert run["status"] == "RUNNING" and run["maxConcurrency"] == 1
    assert counts(run) == (3, 1, 0)
    sfn = sw.client()
    sfn.update_map_run(mapRunArn=run["mapRunArn"], maxConcurrency=3)
    eventually(sw, lambda: counts(map_run(sw, execution)) == (1, 3, 0))
    run = map_run(sw, execution)
    assert run["maxConcurrency"] == 3
    assert counts(run) == (1, 3, 0)
    sw.advance(10)
    eventually(sw, lambda: counts(map_run(sw, execution)) == (0, 1, 3))
    sw.advance(10)
    assert ended(sw, execution)["status"] == "SUCCEEDED"
    assert counts(map_run(sw, execution)) == (0, 0, 4)
    assert len(sfn.list_executions(mapRunArn=run["mapRunArn"])["executions"]) == 4
    succeeded = sfn.list_executions(mapRunArn=run["mapRunArn"], statusFilter="SUCCEEDED")
    assert len(succeeded["executions"]) == 4


def test_update_map_run_tolerates_more_failures(sw: LocalStepwell) -> None:
    execution = start(sw, {}, WAIT_THEN_TASK, [{"fail": True}, {"fail": False}])
    eventually(sw, lambda: counts(map_run(sw, execution))[1] == 2)
    run = map_run(sw, execution)
    sfn = sw.client()
    sfn.update_map_run(mapRunArn=run["mapRunArn"], toleratedFailureCount=1)
    eventually(sw, lambda: map_run(sw, execution)["toleratedFailureCount"] == 1)
    assert map_run(sw, execution)["toleratedFailureCount"] == 1
    sw.advance(10)
    described = ended(sw, execution)
    assert described["status"] == "SUCCEEDED"
    run = map_run(sw, execution)
    assert (run["itemCounts"]["failed"], run["itemCounts"]["succeeded"]) == (1, 1)


def test_a_failure_past_the_threshold_fails_the_parent(sw: LocalStepwell) -> None:
    execution = start(sw, {}, TASK, [{"fail": True}])
    sfn = sw.client()
    described = ended(sw, execution)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.ExceedToleratedFailureThreshold"
    events = sfn.get_execution_history(executionArn=execution)["events"]
    failed = next(e for e in events if e["type"] == "MapRunFailed")
    assert failed["mapRunFailedEventDetails"]["error"] == "States.ExceedToleratedFailureThreshold"
    assert map_run(sw, execution)["status"] == "FAILED"


def test_stop_execution_aborts_the_map_run_and_its_children(sw: LocalStepwell) -> None:
    execution = start(sw, {"MaxConcurrency": 2}, WAIT_THEN_TASK, [{}, {}, {}])
    sfn = sw.client()
    eventually(sw, lambda: counts(map_run(sw, execution))[1] == 2)
    sfn.stop_execution(executionArn=execution)
    assert ended(sw, execution)["status"] == "ABORTED"
    eventually(sw, lambda: map_run(sw, execution)["status"] != "RUNNING")
    run = map_run(sw, execution)
    assert run["status"] == "ABORTED"
    assert run["executionCounts"]["aborted"] == 2
    listed = lambda: sfn.list_executions(mapRunArn=run["mapRunArn"])["executions"]  # noqa: E731
    eventually(sw, lambda: {c["status"] for c in listed()} == {"ABORTED"})
    assert {c["status"] for c in listed()} == {"ABORTED"}


def test_map_run_errors(sw: LocalStepwell) -> None:
    sfn = sw.client()
    execution = start(sw, {"MaxConcurrency": 1}, WAIT_THEN_TASK, [1])
    eventually(sw, lambda: bool(sfn.list_map_runs(executionArn=execution)["mapRuns"]))
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_map_run(mapRunArn=execution)
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.list_executions(mapRunArn=execution.replace(":execution:", ":mapRun:") + ":x")
    run = map_run(sw, execution)
    with pytest.raises(sfn.exceptions.ClientError) as raised:
        sfn.update_map_run(mapRunArn=run["mapRunArn"])
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(sfn.exceptions.ClientError):
        sfn.list_executions(mapRunArn=run["mapRunArn"], stateMachineArn="x" * 10)


def test_item_reader_failure_in_the_durable_runtime(sw: LocalStepwell) -> None:
    sw.host.services.s3.put_object(Bucket="data", Key="dup.csv", Body="a,a\n1,2\n")
    reader = {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "CSV"},
        "Parameters": {"Bucket": "data", "Key": "dup.csv"},
    }
    execution = start(sw, {"ItemReader": reader}, TASK, {})
    described = ended(sw, execution)
    assert (described["status"], described["error"], described["cause"]) == (
        "FAILED",
        "States.ItemReaderFailed",
        "CSV headers cannot contain duplicates.",
    )
    assert map_run(sw, execution)["status"] == "FAILED"


def test_many_children_with_unbounded_concurrency(sw: LocalStepwell) -> None:
    items = list(range(450))  # more than one step starts: the run dispatches on
    execution = start(sw, {}, {"S": {"Type": "Pass", "End": True}}, items)
    described = ended(sw, execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == items
    run = map_run(sw, execution)
    assert run["maxConcurrency"] == 0 and run["itemCounts"]["succeeded"] == 450


def test_update_map_run_tolerated_percentage(sw: LocalStepwell) -> None:
    execution = start(sw, {"MaxConcurrency": 1}, WAIT_THEN_TASK, [{}, {}])
    eventually(sw, lambda: map_run(sw, execution)["status"] == "RUNNING")
    run = map_run(sw, execution)
    sfn = sw.client()
    sfn.update_map_run(mapRunArn=run["mapRunArn"], toleratedFailurePercentage=12.5)
    eventually(sw, lambda: map_run(sw, execution)["toleratedFailurePercentage"] == 12.5)
    assert map_run(sw, execution)["toleratedFailurePercentage"] == 12.5


def test_a_parent_that_fails_elsewhere_aborts_its_map_run(sw: LocalStepwell) -> None:
    # One branch runs a Map Run whose children wait; the other fails 5 s later.
    mapped = {
        "Type": "Map",
        "ItemProcessor": {"ProcessorConfig": DISTRIBUTED, "StartAt": "S", "States": WAIT_THEN_TASK},
        "End": True,
    }
    failing = {
        "Pause": {"Type": "Wait", "Seconds": 5, "Next": "Boom"},
        "Boom": {"Type": "Fail", "Error": "Boom"},
    }
    fork = {
        "Type": "Parallel",
        "Branches": [
            {"StartAt": "Pause", "States": failing},
            {"StartAt": "M", "States": {"M": mapped}},
        ],
        "End": True,
    }
    sfn = sw.client()
    machine = sfn.create_state_machine(
        name="forked",
        definition=json.dumps({"StartAt": "Fork", "States": {"Fork": fork}}),
        roleArn=ROLE,
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps([{}, {}]))[
        "executionArn"
    ]
    eventually(sw, lambda: counts(map_run(sw, execution))[1] == 2)
    sw.advance(5)
    assert ended(sw, execution)["status"] == "FAILED"
    eventually(sw, lambda: map_run(sw, execution)["status"] != "RUNNING")
    run = map_run(sw, execution)
    assert run["status"] == "ABORTED" and run["executionCounts"]["aborted"] == 2


def test_an_s3_inventory_manifest_through_boto3(sw: LocalStepwell) -> None:
    """Developer Guide, "ItemReader (Map)", Amazon S3 inventory: the objects are put with
    boto3's S3 client; the children get the inventory rows keyed by ``fileSchema``."""
    s3 = sw.client("s3")
    s3.put_object(Bucket="data", Key="inv/data/1.csv", Body=b'"src","a.txt","3","d1"\n')
    manifest = {
        "sourceBucket": "src",
        "destinationBucket": "arn:aws:s3:::data",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size, LastModifiedDate",
        "files": [{"key": "inv/data/1.csv", "size": 23}],
    }
    s3.put_object(Bucket="data", Key="inv/manifest.json", Body=json.dumps(manifest).encode())
    reader = {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "MANIFEST"},
        "Parameters": {"Bucket": "data", "Key": "inv/manifest.json"},
    }
    execution = start(sw, {"ItemReader": reader}, {"S": {"Type": "Pass", "End": True}}, {})
    described = ended(sw, execution)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == [
        {"Bucket": "src", "Key": "a.txt", "Size": "3", "LastModifiedDate": "d1"}
    ]


def test_a_redrive_reruns_the_failed_child_in_place(sw: LocalStepwell) -> None:
    """Developer Guide, "Redriving Map Runs": RedriveExecution of the parent redrives the
    failed Standard child under its own ARN (``redriveCount`` 1, ``ExecutionRedriven``)."""
    sfn = sw.client()
    # the Task fails until its execution is redriven; the Pass before it runs once
    states = {"S": {"Type": "Pass", "Next": "T"},
              "T": {"Type": "Task", "Resource": FN + "shout", "End": True,
                    "Parameters": {"fail.$": "$.fail",
                                   "redriven.$": "$$.Execution.RedriveCount"}}}  # fmt: skip
    # One child at a time: the first has succeeded before the second fails the run (with
    # both at once, the run could fail first and abort it, and a redrive reruns it too).
    fields = {"ItemsPath": "$.xs", "MaxConcurrency": 1}
    execution = start(sw, fields, states, {"xs": [{"fail": False}, {"fail": True}]})
    assert ended(sw, execution)["status"] == "FAILED"
    run = map_run(sw, execution)["mapRunArn"]
    children = sfn.list_executions(mapRunArn=run)["executions"]
    assert sorted(c["status"] for c in children) == ["FAILED", "SUCCEEDED"]
    failed = [c["executionArn"] for c in children if c["status"] == "FAILED"]
    sfn.redrive_execution(executionArn=execution)
    described = ended(sw, execution)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == [
        {"ok": {"fail": False, "redriven": 0}},
        {"ok": {"fail": True, "redriven": 1}},
    ]
    again = sfn.list_executions(mapRunArn=run)["executions"]
    assert sorted(c["executionArn"] for c in again) == sorted(c["executionArn"] for c in children)
    child = sfn.describe_execution(executionArn=failed[0])
    assert (child["status"], child["redriveCount"]) == ("SUCCEEDED", 1)
    types = [e["type"] for e in sfn.get_execution_history(executionArn=failed[0])["events"]]
    assert types.count("PassStateEntered") == 1  # from the state that failed
    assert types[types.index("ExecutionRedriven") + 1] == "TaskStateEntered"


def redrive_counts(run: dict[str, Any]) -> tuple[int, int, int, int]:
    items, executions = run["itemCounts"], run["executionCounts"]
    return (
        items["pendingRedrive"],
        executions["pendingRedrive"],
        items["failuresNotRedrivable"],
        executions["failuresNotRedrivable"],
    )


def test_describe_map_run_counts_the_children_pending_redrive(sw: LocalStepwell) -> None:
    """API Reference, MapRunExecutionCounts ``pendingRedrive``; Developer Guide, "Redriving
    Map Runs": a redriven run at its concurrency limit holds the children still to rerun
    in "Pending redrive", and the count is reset to 0 when the run has completed. Express
    children start again from their first state (here a Wait) when redriven."""
    sfn = sw.client()
    express = {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}
    tag = uuid.uuid4().hex
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "MaxConcurrency": 1,
                "ToleratedFailureCount": 1,
                "ItemProcessor": {
                    "ProcessorConfig": express,
                    "StartAt": "S",
                    "States": WAIT_THEN_TASK,
                },
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(
        name=f"pending{tag[:8]}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    given = [{"fail_once": f"{tag}/0"}, {"fail_once": f"{tag}/1"}, {}]
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(given))
    execution_arn = execution["executionArn"]
    for _ in range(2):  # each failing child waits 10 s, then fails: the second one is one too many
        eventually(sw, lambda: counts(map_run(sw, execution_arn))[1] == 1)
        sw.advance(10)
    assert ended(sw, execution_arn)["status"] == "FAILED"
    run = map_run(sw, execution_arn)
    assert run["executionCounts"]["failed"] == 2
    assert redrive_counts(run) == (0, 0, 0, 0)
    sfn.redrive_execution(executionArn=execution_arn)
    eventually(sw, lambda: map_run(sw, execution_arn)["status"] == "RUNNING")
    eventually(sw, lambda: counts(map_run(sw, execution_arn))[1] == 1)
    run = map_run(sw, execution_arn)
    assert redrive_counts(run) == (1, 1, 0, 0)  # the first reruns; the second waits
    for _ in range(10):  # the two reruns, then the child never started, wait 10 s each
        if map_run(sw, execution_arn)["status"] != "RUNNING":
            break
        sw.advance(10)
        sw.settle()
    assert ended(sw, execution_arn)["status"] == "SUCCEEDED"
    run = map_run(sw, execution_arn)
    assert (run["status"], run["executionCounts"]["succeeded"]) == ("SUCCEEDED", 3)
    assert redrive_counts(run) == (0, 0, 0, 0)


def test_a_child_stopped_by_the_user_is_not_a_tolerated_failure(sw: LocalStepwell) -> None:
    """Developer Guide, "Setting failure thresholds for Distributed Map states": the
    threshold counts "failed or timed out items"; a child stopped with StopExecution is
    ABORTED and the run (which tolerates no failure) goes on."""
    sfn = sw.client()
    execution = start(sw, {}, WAIT_THEN_TASK, [{"n": 1}, {"n": 2}])
    eventually(sw, lambda: counts(map_run(sw, execution))[1] == 2)
    run = map_run(sw, execution)["mapRunArn"]
    child = sfn.list_executions(mapRunArn=run)["executions"][0]["executionArn"]
    sfn.stop_execution(executionArn=child)
    sw.advance(10)
    assert ended(sw, execution)["status"] == "SUCCEEDED"
    described = map_run(sw, execution)
    assert described["status"] == "SUCCEEDED"
    counted = described["executionCounts"]
    assert (counted["aborted"], counted["succeeded"], counted["failed"]) == (1, 1, 0)
