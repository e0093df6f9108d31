"""Seed 4 as an application: ``examples/apps/sqs-callback-sam`` run as ``stepwell up``
runs it, on SQLite and PostgreSQL, with virtual time, driven with plain boto3 and the
AWS CLI.

The state machine sends ``{"Input": messageId, "TaskToken": …}`` to TeamC's queue
(``arn:aws:states:::sqs:sendMessage.waitForTaskToken``) and waits; the
``NotificationHandler`` function, in a worker process of its own and fed by the queue's
event source mapping, calls ``SendTaskSuccess`` with the seed's output through boto3.
Developer Guide, "Wait for a Callback with Task Token": the task's result is the output
given to SendTaskSuccess; "Using Lambda with Amazon SQS": a batch that succeeds is deleted
from the queue.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from stepwell.testing import LocalStack
from tests.acceptance.stack_apps import (
    APPS,
    beside,
    cli,
    client,
    events_of,
    receive_all,
    run_to_end,
    running_app,
    wait_for,
)
from tests.cli.test_cli_server import free_port, subprocess_env, wait_for_port
from tests.e2e.server import aws_cli

TEMPLATE = APPS / "sqs-callback-sam" / "template.yaml"
REPLY = {"Output": "message", "ack": "success"}


@pytest.fixture(scope="module")
def app(db: str) -> Iterator[LocalStack]:
    with running_app(db, TEMPLATE, "sqs-callback") as running:
        yield running


@pytest.fixture(scope="module")
def unanswered(app: LocalStack) -> Iterator[LocalStack]:
    """The same application, as another stack, with the event source mapping disabled."""
    with beside(app, TEMPLATE, "sqs-no-consumer", ConsumerEnabled="false") as running:
        yield running


def answered(app: LocalStack, execution: str) -> list[dict[str, object]]:
    """Wait (real time) until the consumer function's SendTaskSuccess reached the task."""
    return wait_for(lambda: events_of(app, execution, "TaskSucceeded"), "the callback")


def queue_depth(app: LocalStack) -> int:
    sqs = client(app, "sqs")
    url = sqs.get_queue_url(QueueName=app.physical("TeamCSqs"))["QueueUrl"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def test_the_consumer_function_answers_with_send_task_success(app: LocalStack) -> None:
    sfn = client(app, "stepfunctions")
    machine = app.physical("CallbackStateMachine")
    execution = sfn.start_execution(
        stateMachineArn=machine, input=json.dumps({"messageId": "m-1"})
    )["executionArn"]
    [succeeded] = answered(app, execution)
    assert json.loads(succeeded["taskSucceededEventDetails"]["output"]) == REPLY
    [submitted] = events_of(app, execution, "TaskSubmitted")
    assert submitted["taskSubmittedEventDetails"]["resourceType"] == "sqs"

    described = run_to_end(app, execution)  # WaitSometime: 5 s of virtual time
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"messageId": "m-1", "SQS": REPLY}
    wait_for(lambda: queue_depth(app) == 0, "the consumed message to be deleted")


def test_the_aws_cli_starts_a_run_that_the_consumer_answers(
    app: LocalStack, tmp_path: Path
) -> None:
    machine = app.physical("CallbackStateMachine")
    started = cli(
        app, tmp_path, "stepfunctions", "start-execution", "--state-machine-arn", machine,
        "--name", "from-the-cli", "--input", json.dumps({"messageId": "cli-7"}),
    )  # fmt: skip
    execution = started["executionArn"]
    answered(app, execution)
    run_to_end(app, execution)
    described = cli(
        app, tmp_path, "stepfunctions", "describe-execution", "--execution-arn", execution
    )
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["SQS"]["ack"] == "success"


def test_a_message_without_a_task_token_is_only_logged(app: LocalStack, tmp_path: Path) -> None:
    url = cli(app, tmp_path, "sqs", "get-queue-url", "--queue-name", app.physical("TeamCSqs"))
    sent = cli(
        app, tmp_path, "sqs", "send-message", "--queue-url", url["QueueUrl"],
        "--message-body", json.dumps({"Input": "no token here"}),
    )  # fmt: skip
    assert sent["MessageId"]
    # The handler returns normally, so the event source deletes the message.
    wait_for(lambda: queue_depth(app) == 0, "the message to be consumed")


def test_a_token_already_answered_is_refused(app: LocalStack) -> None:
    sfn = client(app, "stepfunctions")
    machine = app.physical("CallbackStateMachine")
    execution = sfn.start_execution(
        stateMachineArn=machine, input=json.dumps({"messageId": "m-2"})
    )["executionArn"]
    answered(app, execution)
    [scheduled] = events_of(app, execution, "TaskScheduled")
    body = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])["MessageBody"]
    with pytest.raises(ClientError) as refused:
        sfn.send_task_success(taskToken=body["TaskToken"], output="{}")
    # API Reference, SendTaskSuccess: a token no longer valid is one of these two.
    assert refused.value.response["Error"]["Code"] in ("TaskDoesNotExist", "TaskTimedOut")
    assert run_to_end(app, execution)["status"] == "SUCCEEDED"


def test_without_the_consumer_the_task_times_out_into_the_catch(unanswered: LocalStack) -> None:
    sfn = client(unanswered, "stepfunctions")
    machine = unanswered.physical("CallbackStateMachine")
    execution = sfn.start_execution(
        stateMachineArn=machine, input=json.dumps({"messageId": "m-3"})
    )["executionArn"]
    described = run_to_end(unanswered, execution)  # TimeoutSeconds: 10 of virtual time
    assert (described["status"], described["error"]) == ("FAILED", "NoReplyFromTeamC")
    [timed_out] = events_of(unanswered, execution, "TaskTimedOut")
    assert timed_out["taskTimedOutEventDetails"]["error"] == "States.Timeout"
    took = described["stopDate"] - described["startDate"]
    assert took.total_seconds() == 10
    sqs = client(unanswered, "sqs")
    url = sqs.get_queue_url(QueueName=unanswered.physical("TeamCSqs"))["QueueUrl"]
    [message] = receive_all(sqs, url)  # sent, never consumed
    assert message["Input"] == "m-3" and len(message["TaskToken"]) > 0


def test_stepwell_up_serves_the_application_to_its_consumer(tmp_path: Path) -> None:
    """The real command, as ``make up-callback`` runs it: the function in its worker
    process reaches the server through AWS_ENDPOINT_URL and answers the task."""
    port = free_port()
    log = tmp_path / "up.log"
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "stepwell", "up", str(TEMPLATE)],
            env=subprocess_env(STEPWELL_PORT=str(port), STEPWELL_DB=str(tmp_path / "up.db")),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=tmp_path,
        )
    try:
        wait_for_port(port, server, log)
        url = f"http://127.0.0.1:{port}"
        cli_out = aws_cli(url, tmp_path, "stepfunctions", "list-state-machines")
        [machine] = cli_out["stateMachines"]
        sfn = boto3.client(
            "stepfunctions",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        started = sfn.start_execution(
            stateMachineArn=machine["stateMachineArn"], input=json.dumps({"messageId": "up"})
        )

        def succeeded() -> list[dict[str, Any]]:
            events = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
            return [e for e in events if e["type"] == "TaskSucceeded"]

        [answer] = wait_for(succeeded, "the consumer's SendTaskSuccess")
        assert json.loads(answer["taskSucceededEventDetails"]["output"]) == REPLY
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)
    assert "In Handler: Executing" in log.read_text()
