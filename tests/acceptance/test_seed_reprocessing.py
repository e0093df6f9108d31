"""Seed 2, reprocessing failed communications, through boto3 against a real server
(``examples/reprocessing/``): a cron schedule fires a function that fetches the failed
communications from the application's HTTP endpoint in batches of 20 and starts one
execution per batch; a Map calls a function per item that POSTs it to the endpoint,
retrying (60 s, then 120 s); an item that keeps failing ends in the dead-letter queue;
SNS notifies on success and on failure.

Schedules follow EventBridge's scheduled rules (EventBridge User Guide, "Creating an
Amazon EventBridge rule that runs on a schedule": ``cron(0 * * * ? *)`` is every hour on
the hour, and the target gets the "Scheduled Event"). Retry timing: Developer Guide,
"Handling errors in Step Functions workflows".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from examples.local_stepwell import LocalStepwell, local_stepwell
from examples.reprocessing.endpoint import CommunicationsApp, serving
from examples.reprocessing.run import (
    BROKEN,
    FLAKY,
    SCHEDULE,
    failed_communications,
    prepare,
)

START = datetime.fromisoformat("2024-05-01T08:59Z")
HOUR = 3600


@dataclass
class Deployed:
    local: LocalStepwell
    app: CommunicationsApp
    dlq: str
    scheduled: str  # the state machine the schedule starts
    reprocess: str  # the state machine it starts per batch


@dataclass
class Tick:
    fired: dict[str, Any]  # the execution the schedule started
    output: dict[str, Any]  # the function's answer: items, executions started
    batches: list[dict[str, Any]]  # each execution it started, described when done


@pytest.fixture(scope="module")
def deployed(db: str) -> Iterator[Deployed]:
    app = CommunicationsApp()
    failed_communications(app)  # 45, with FLAKY failing once and BROKEN always
    with (
        serving(app) as api,
        local_stepwell({}, start=START, db=db, schedules=(SCHEDULE,)) as local,
    ):
        dlq, scheduled, reprocess = prepare(local, api)
        yield Deployed(local, app, dlq, scheduled, reprocess)


def tick(deployed: Deployed, number: int) -> Tick:
    """Move to the next full hour and let the schedule fire; run all it started."""
    local = deployed.local
    local.advance(HOUR - local.clock.now() % HOUR)

    def fired() -> list[dict[str, Any]]:
        found = local.sfn.list_executions(stateMachineArn=deployed.scheduled)["executions"]
        return found if len(found) == number else []

    [latest, *_] = local.wait_for(fired, what=f"tick {number} of the schedule")
    output = json.loads(local.run_until_done(latest["executionArn"])["output"])
    batches = [local.run_until_done(arn) for arn in output["executions"]]
    return Tick(latest, output, batches)


@pytest.fixture(scope="module")
def first(deployed: Deployed) -> Tick:
    return tick(deployed, 1)


def test_the_schedule_fires_the_function_that_starts_one_execution_per_batch_of_20(
    deployed: Deployed, first: Tick
) -> None:
    assert first.fired["name"] == "reprocess-failed-communications-20240501T0900Z"
    assert first.output["items"] == 45
    assert [b["name"] for b in first.batches] == [
        f"failed-communications-20240501T0900Z-{n}" for n in (1, 2, 3)
    ]
    inputs = [json.loads(b["input"]) for b in first.batches]
    assert [len(i["items"]) for i in inputs] == [20, 20, 5]
    assert [i["items"][0]["primaryId"] for i in inputs] == ["c-001", "c-021", "c-041"]
    event = json.loads(deployed.local.describe(first.fired["executionArn"])["input"])
    assert (event["detail-type"], event["time"]) == ("Scheduled Event", "2024-05-01T09:00:00Z")


def test_every_item_is_posted_and_failures_are_retried(deployed: Deployed, first: Tick) -> None:
    attempts = deployed.app.attempts
    assert len(attempts) == 45 + 1 + 2  # FLAKY once more, BROKEN twice more
    assert (attempts.count(FLAKY), attempts.count(BROKEN)) == (2, 3)
    assert all(attempts.count(f"c-{n:03}") == 1 for n in range(41, 46))
    [batch1, batch2, batch3] = first.batches
    assert (batch2["status"], batch3["status"]) == ("SUCCEEDED", "SUCCEEDED")
    assert (batch1["status"], batch1["error"]) == ("FAILED", "ReprocessingFailed")
    # BROKEN was tried at +0 s, +60 s and +180 s (IntervalSeconds 60, BackoffRate 2).
    assert (batch1["stopDate"] - batch1["startDate"]).total_seconds() == 180
    failures = deployed.local.events(batch1["executionArn"], "LambdaFunctionFailed")
    errors = [f["lambdaFunctionFailedEventDetails"]["error"] for f in failures]
    assert errors == ["CommunicationFailed"] * 4


def test_sns_notifies_on_success_and_on_failure(deployed: Deployed, first: Tick) -> None:
    mails = sorted(deployed.local.services.sns.outbox("ops@example.com"), key=_batch)
    assert [m["Subject"] for m in mails] == [
        "Failed communications need attention",
        "Failed communications reprocessed",
        "Failed communications reprocessed",
    ]
    bodies = [json.loads(m["Body"]) for m in mails]
    assert bodies[0]["deadLettered"] == [BROKEN]
    assert FLAKY in bodies[0]["sent"] and len(bodies[0]["sent"]) == 19
    assert [(len(b["sent"]), b["deadLettered"]) for b in bodies[1:]] == [(20, []), (5, [])]
    assert json.loads(first.batches[1]["output"]) == bodies[1]


def test_items_that_keep_failing_end_in_the_dead_letter_queue(
    deployed: Deployed, first: Tick
) -> None:
    sqs = deployed.local.services.sqs
    found = sqs.receive_message(QueueUrl=deployed.dlq, MaxNumberOfMessages=10)["Messages"]
    [dead] = [json.loads(m["Body"]) for m in found]
    assert dead["primaryId"] == BROKEN
    assert dead["error"]["Error"] == "CommunicationFailed"
    assert "503" in dead["error"]["Cause"]


def test_the_next_tick_finds_nothing_left_to_reprocess(deployed: Deployed, first: Tick) -> None:
    second = tick(deployed, 2)
    assert second.fired["name"] == "reprocess-failed-communications-20240501T1000Z"
    assert second.output == {"items": 0, "executions": []}
    assert deployed.local.describe(second.fired["executionArn"])["status"] == "SUCCEEDED"


def _batch(mail: dict[str, Any]) -> int:
    batch: int = json.loads(mail["Body"])["batch"]
    return batch
