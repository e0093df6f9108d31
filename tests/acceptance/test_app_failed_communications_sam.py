"""Seed 2 as an application: ``examples/apps/failed-communications-sam`` run as
``stepwell up`` runs it, on SQLite and PostgreSQL, with virtual time, driven with plain
boto3 and the AWS CLI (``examples/apps/failed_communications_sam.py`` starts it).

An hourly SAM ``Schedule`` event fires a Python function that scans the stack's table for
unsent communications and starts the state machine once per batch of 20; the Map calls
another function per communication, which POSTs it to a local HTTP endpoint whose URL is
the template's ``EndpointUrl`` parameter; the Retry (60 s, then 120 s) and the Catch to
the dead-letter queue handle one that keeps failing; SNS publishes a summary per batch
to a topic with an SQS subscription.

Schedules: EventBridge User Guide, "Creating an Amazon EventBridge rule that runs on a
schedule" (``cron(0 * * * ? *)``: every hour on the hour; the target gets the
"Scheduled Event"). Retry timing: Developer Guide, "Handling errors in Step Functions
workflows". SNS to SQS: SNS Developer Guide, "Fanout to Amazon SQS queues" (the message
is the JSON notification with ``Type``, ``TopicArn``, ``Subject``, ``Message``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from examples.apps.failed_communications_sam import (
    Running,
    Tick,
    queue_messages,
    running,
    tick,
)
from examples.reprocessing.run import BROKEN, FLAKY
from tests.acceptance.stack_apps import cli, events_of


@dataclass
class FirstTick:
    tick: Tick
    notifications: list[dict[str, Any]]
    dead_letters: list[dict[str, Any]]


@pytest.fixture(scope="module")
def deployed(db: str) -> Iterator[Running]:
    with running(db) as run:
        yield run


@pytest.fixture(scope="module")
def first(deployed: Running) -> FirstTick:
    ticked = tick(deployed.app)
    notifications = queue_messages(deployed.app, "NotificationQueue")
    dead_letters = queue_messages(deployed.app, "DeadLetterQueue")
    return FirstTick(ticked, notifications, dead_letters)


def test_the_rule_fires_the_function_that_starts_one_execution_per_batch_of_20(
    first: FirstTick,
) -> None:
    assert f"{first.tick.at:%Y-%m-%dT%H:%M}" == "2024-05-01T09:00"
    executions = first.tick.executions
    assert [e["name"] for e in executions] == [
        f"failed-communications-20240501T0900Z-{n}" for n in (1, 2, 3)
    ]
    inputs = [json.loads(e["input"]) for e in executions]
    assert [len(i["items"]) for i in inputs] == [20, 20, 5]
    assert [(i["batch"], i["of"]) for i in inputs] == [(1, 3), (2, 3), (3, 3)]
    assert [i["items"][0]["primaryId"] for i in inputs] == ["c-001", "c-021", "c-041"]
    assert set(inputs[0]["items"][0]) == {"primaryId", "operation", "createdBy", "created"}


def test_every_communication_is_posted_and_failures_are_retried(
    deployed: Running, first: FirstTick
) -> None:
    attempts = deployed.api.attempts
    assert len(set(attempts)) == 45
    assert attempts.count(FLAKY) == 2  # failed once, sent on the first retry
    assert attempts.count(BROKEN) == 3  # the first try and both retries
    assert [e["status"] for e in first.tick.executions] == ["FAILED", "SUCCEEDED", "SUCCEEDED"]
    failed = first.tick.executions[0]
    assert failed["error"] == "ReprocessingFailed"
    assert (failed["stopDate"] - failed["startDate"]).total_seconds() == 180  # 60 s + 120 s


def test_the_retries_wait_60_then_120_seconds(deployed: Running, first: FirstTick) -> None:
    execution = first.tick.executions[0]["executionArn"]
    tries = [
        e["timestamp"]
        for e in events_of(deployed.app, execution, "LambdaFunctionScheduled")
        if json.loads(e["lambdaFunctionScheduledEventDetails"]["input"])["primaryId"] == BROKEN
    ]
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(tries)]
    assert gaps == [60, 120]


def test_sns_notifies_each_batch_through_the_sqs_subscription(
    deployed: Running, first: FirstTick
) -> None:
    topic = deployed.app.physical("NotificationTopic")
    assert {n["Type"] for n in first.notifications} == {"Notification"}
    assert {n["TopicArn"].rsplit(":", 1)[-1] for n in first.notifications} == {topic}
    subjects = sorted(n["Subject"] for n in first.notifications)
    assert subjects == [
        "Failed communications need attention",
        "Failed communications reprocessed",
        "Failed communications reprocessed",
    ]
    failure = next(n for n in first.notifications if "attention" in n["Subject"])
    assert json.loads(failure["Message"])["deadLettered"] == [BROKEN]


def test_the_seeds_email_subscription_gets_the_same_mails(
    deployed: Running, first: FirstTick
) -> None:
    # Stepwell sends no mail: an email subscription's messages wait in the SNS outbox.
    mails = deployed.app.host.services.sns.outbox("ops@example.com")
    assert sorted(m["Subject"] for m in mails) == sorted(n["Subject"] for n in first.notifications)


def test_the_communication_that_keeps_failing_reaches_the_dead_letter_queue(
    first: FirstTick,
) -> None:
    [dead] = first.dead_letters
    assert dead["primaryId"] == BROKEN
    assert dead["error"]["Error"] == "CommunicationFailed"
    assert "503" in dead["error"]["Cause"]


def test_the_table_records_what_was_sent_seen_with_the_aws_cli(
    deployed: Running, first: FirstTick, tmp_path: Path
) -> None:
    table = deployed.app.physical("CommunicationsTable")
    scanned = cli(deployed.app, tmp_path, "dynamodb", "scan", "--table-name", table)
    items = {item["primaryId"]["S"]: item for item in scanned["Items"]}
    assert len(items) == 45
    unsent = sorted(key for key, item in items.items() if item["sent"] == {"N": "0"})
    assert unsent == [BROKEN]
    assert items[BROKEN]["attempts"] == {"N": "3"}
    assert items[FLAKY]["attempts"] == {"N": "2"}


def test_the_next_tick_finds_nothing_left_to_reprocess(deployed: Running, first: FirstTick) -> None:
    second = tick(deployed.app)
    assert f"{second.at:%H:%M}" == "10:00"
    assert second.executions == []  # BROKEN was tried 3 times: it is left to a person
    assert queue_messages(deployed.app, "NotificationQueue") == []
