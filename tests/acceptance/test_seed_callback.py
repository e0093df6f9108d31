"""Seed 4, callbacks, through boto3 against a real server: the seed's
``sqs:sendMessage.waitForTaskToken`` state puts ``$$.Task.Token`` in a message; a consumer
(the seed's handler, ``examples/callback/consumer.py``) reads the queue and calls
SendTaskSuccess; unanswered, the state times out after ``TimeoutSeconds`` into its
``Catch``. The seed's ``.sync`` variant is refused at CreateStateMachine with AWS's
``InvalidDefinition`` (Developer Guide, "Integrating optimized services with Step
Functions": SQS supports Request Response and ``.waitForTaskToken`` only; the seed's
2020 run-time ``States.Runtime`` is what the same definition gave before that check).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from examples.callback.consumer import QUEUE_NAME, REPLY, NotificationHandler, poll_once
from examples.local_stepwell import LocalStepwell, local_stepwell

EXAMPLE = Path(__file__).parents[2] / "examples" / "callback"
SYNC_REFUSED = (
    "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The resource provided "
    "arn:aws:states:::sqs:sendMessage.sync is not recognized. The value is not a valid "
    "resource ARN, or the resource is not available in this region. "
    "at /States/InformOtherQueue/Resource'"
)


@pytest.fixture(scope="module")
def local(db: str) -> Iterator[LocalStepwell]:
    with local_stepwell({}, start=datetime.fromisoformat("2024-05-01T09:00Z"), db=db) as running:
        running.services.sqs.create_queue(QueueName=QUEUE_NAME)
        yield running


@pytest.fixture(scope="module")
def machine(local: LocalStepwell) -> str:
    return local.create_state_machine("InformTeamC", EXAMPLE / "callback.asl.json")


@pytest.fixture
def queue_url(local: LocalStepwell) -> Iterator[str]:
    url: str = local.services.sqs.get_queue_url(QueueName=QUEUE_NAME)["QueueUrl"]
    yield url
    local.services.sqs.purge_queue(QueueUrl=url)


def messages(local: LocalStepwell, queue_url: str) -> list[dict[str, Any]]:
    found = local.services.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in found.get("Messages", [])]


def test_the_sync_variant_is_refused_at_create_time_as_aws_refuses_it(
    local: LocalStepwell,
) -> None:
    with pytest.raises(ClientError) as refused:
        local.create_state_machine("InformTeamCSync", EXAMPLE / "callback-sync.asl.json")
    error = refused.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("InvalidDefinition", SYNC_REFUSED)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    names = [m["name"] for m in local.sfn.list_state_machines()["stateMachines"]]
    assert "InformTeamCSync" not in names


def test_the_consumer_answers_and_the_execution_goes_on(
    local: LocalStepwell, machine: str, queue_url: str
) -> None:
    execution = local.start_execution(machine, {"messageId": "msg-1"})
    local.settle()
    assert local.describe(execution)["status"] == "RUNNING"  # waiting for the callback
    handler = NotificationHandler(local.sfn)
    assert poll_once(local.services.sqs, queue_url, handler) == 1
    assert handler.answered == ["msg-1"]
    described = local.run_until_done(execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"messageId": "msg-1", "SQS": REPLY}
    assert messages(local, queue_url) == []  # the consumer deleted what it handled
    [succeeded] = local.events(execution, "TaskSucceeded")
    assert json.loads(succeeded["taskSucceededEventDetails"]["output"]) == REPLY
    [waited] = local.events(execution, "WaitStateEntered")
    assert waited["stateEnteredEventDetails"]["name"] == "WaitSometime"


def test_the_message_carries_the_input_and_the_task_token(
    local: LocalStepwell, machine: str, queue_url: str
) -> None:
    execution = local.start_execution(machine, {"messageId": "msg-2"})
    local.settle()
    [body] = messages(local, queue_url)
    assert body["Input"] == "msg-2"
    local.sfn.send_task_success(taskToken=body["TaskToken"], output=json.dumps({"ack": "x"}))
    assert json.loads(local.run_until_done(execution)["output"])["SQS"] == {"ack": "x"}


def test_with_no_consumer_it_times_out_after_timeout_seconds_into_graceful_fail(
    local: LocalStepwell, machine: str, queue_url: str
) -> None:
    execution = local.start_execution(machine, {"messageId": "msg-3"})
    local.advance(9.999)
    assert local.describe(execution)["status"] == "RUNNING"
    local.advance(0.001)
    described = local.describe(execution)
    assert (described["status"], described["error"]) == ("FAILED", "NoReplyFromTeamC")
    assert (described["stopDate"] - described["startDate"]).total_seconds() == 10
    [timed_out] = local.events(execution, "TaskTimedOut")
    assert timed_out["taskTimedOutEventDetails"]["error"] == "States.Timeout"
    [failed] = local.events(execution, "FailStateEntered")
    assert failed["stateEnteredEventDetails"]["name"] == "GracefulFail"
    assert [m["Input"] for m in messages(local, queue_url)] == ["msg-3"]  # sent, unanswered
