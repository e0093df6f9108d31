"""Seed 3 as an application: ``examples/apps/busy-waiting-sam`` run as ``stepwell up``
runs it, on SQLite and PostgreSQL, with virtual time, driven with plain boto3 and the
AWS CLI.

The seed's definition as written (``lambda:invoke`` with ``OutputPath: $.Payload``, Wait
2 s, a Choice on ``$.status`` whose Default goes back to the Wait) and the polling
variant (Default back to the Task), both calling one Python function in a worker
process that reads its job's status from the stack's DynamoDB table through boto3.
Developer Guide, "Wait" (Seconds) and "Choice" (Default); "Invoke Lambda with Step
Functions": the optimised integration's result is the function's answer in ``Payload``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stepwell.testing import LocalStack
from tests.acceptance.stack_apps import (
    APPS,
    cli,
    client,
    events_of,
    history,
    jump,
    run_to_end,
    running_app,
)

TEMPLATE = APPS / "busy-waiting-sam" / "template.yaml"


@pytest.fixture(scope="module")
def app(db: str) -> Iterator[LocalStack]:
    with running_app(db, TEMPLATE, "busy-waiting") as running:
        yield running


def start(app: LocalStack, machine: str, data: dict[str, Any]) -> str:
    sfn = client(app, "stepfunctions")
    arn = app.physical(machine)
    return str(sfn.start_execution(stateMachineArn=arn, input=json.dumps(data))["executionArn"])


def asked(app: LocalStack, execution: str) -> int:
    """How many times the state machine invoked the status function."""
    return len(events_of(app, execution, "TaskScheduled"))


def test_the_seed_run_succeeds_after_one_wait_of_two_seconds(app: LocalStack) -> None:
    execution = start(app, "BusyWaitingStateMachine", {})
    described = run_to_end(app, execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"status": "success", "message": "Hello, World!"}
    events = history(app, execution)
    waited = [e for e in events if e["type"] in ("WaitStateEntered", "WaitStateExited")]
    assert (waited[1]["timestamp"] - waited[0]["timestamp"]).total_seconds() == 2
    assert asked(app, execution) == 1
    [scheduled] = events_of(app, execution, "TaskScheduled")
    parameters = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])
    assert parameters["FunctionName"] == (
        f"arn:aws:lambda:us-east-1:123456789012:function:{app.physical('StatusFunction')}:$LATEST"
    )


def test_the_polling_variant_asks_every_two_seconds_until_the_job_is_done(
    app: LocalStack, tmp_path: Path
) -> None:
    table = app.physical("JobsTable")
    dynamodb = client(app, "dynamodb")
    dynamodb.put_item(
        TableName=table, Item={"jobId": {"S": "report-42"}, "status": {"S": "RUNNING"}}
    )
    execution = start(app, "PollingStateMachine", {"jobId": "report-42"})
    for _ in range(3):
        jump(app, 2)
    assert asked(app, execution) == 4  # at 0, 2, 4 and 6 s
    assert (
        client(app, "stepfunctions").describe_execution(executionArn=execution)["status"]
        == "RUNNING"
    )

    item = json.dumps({"jobId": {"S": "report-42"}, "status": {"S": "success"}})
    cli(app, tmp_path, "dynamodb", "put-item", "--table-name", table, "--item", item)
    described = run_to_end(app, execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {
        "jobId": "report-42",
        "status": "success",
        "message": "job report-42: success",
    }
    assert asked(app, execution) == 5


def test_as_written_the_function_is_asked_once_and_the_run_waits_until_stopped(
    app: LocalStack, tmp_path: Path
) -> None:
    execution = start(app, "BusyWaitingStateMachine", {"jobId": "never-done"})
    for _ in range(5):
        jump(app, 2)
    assert asked(app, execution) == 1  # the Default loops to the Wait, not to Main
    assert len(events_of(app, execution, "WaitStateEntered")) == 6
    cli(app, tmp_path, "stepfunctions", "stop-execution", "--execution-arn", execution)
    described = cli(
        app, tmp_path, "stepfunctions", "describe-execution", "--execution-arn", execution
    )
    assert described["status"] == "ABORTED"
