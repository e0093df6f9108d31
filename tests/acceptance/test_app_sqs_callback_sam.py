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
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from stepwell.testing import LocalStack
from tests.acceptance.stack_apps import (
    APPS,
    cli,
    client,
    events_of,
    run_to_end,
    running_app,
    wait_for,
)

TEMPLATE = APPS / "sqs-callback-sam" / "template.yaml"
REPLY = {"Output": "message", "ack": "success"}


@pytest.fixture(scope="module")
def app(db: str) -> Iterator[LocalStack]:
    with running_app(db, TEMPLATE, "sqs-callback") as running:
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
