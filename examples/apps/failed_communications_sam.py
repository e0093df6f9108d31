"""Seed 2 as a SAM application (``failed-communications-sam/``), run as ``stepwell up``
runs it.

    python -m examples.apps.failed_communications_sam     (or: make example-app-reprocessing)

The application's API is ``examples/reprocessing/endpoint.py`` served on a free local
port (45 failed communications; ``c-007`` fails once more, ``c-013`` every time); its URL
is the template's ``EndpointUrl`` parameter, as ``--parameter-overrides`` gives it. The
script writes the 45 communications to the stack's table (``sent`` = 0), moves the
virtual clock to 09:00 so that the hourly rule fires the fetch function, runs the three
executions it starts (20, 20 and 5 communications) to their end, and shows what SNS
delivered to the notification queue and what reached the dead-letter queue; then the
10:00 tick, which finds nothing left to reprocess.

With a real clock instead (the rule fires on the hour)::

    .venv/bin/stepwell up examples/apps/failed-communications-sam/template.yaml \\
        --parameter-overrides EndpointUrl=http://127.0.0.1:8089
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from examples.apps.driving import client, jump, run_to_end, wait_for
from examples.reprocessing.endpoint import CommunicationsApp, serving
from examples.reprocessing.run import failed_communications
from stepwell.runtime.clock import to_datetime
from stepwell.service.settings import Settings
from stepwell.testing import LocalStack, local_stack

TEMPLATE = Path(__file__).with_name("failed-communications-sam") / "template.yaml"
START = datetime(2024, 5, 1, 8, 59, tzinfo=UTC).timestamp()
HOUR = 3600
RULE = "FetchFailedCommunicationsFunctionHourly"  # SAM's name for the function's event


@dataclass
class Running:
    app: LocalStack
    api: CommunicationsApp


@dataclass
class Tick:
    at: datetime
    executions: list[dict[str, Any]]  # what the fetch function started, described when done


@contextmanager
def running(db: str = "memory", stack_name: str = "failed-communications") -> Iterator[Running]:
    """The API with its 45 failed communications, and the application using it."""
    api = CommunicationsApp()
    failed_communications(api)
    settings = Settings(db=db, workers=2, invokers=4, lease_seconds=3600.0)
    with (
        serving(api) as url,
        local_stack(
            TEMPLATE,
            stack_name=stack_name,
            parameters={"EndpointUrl": url},
            settings=settings,
            virtual_time=True,
            start=START,
        ) as app,
    ):
        write_failed(app, api)
        yield Running(app, api)


def write_failed(app: LocalStack, api: CommunicationsApp) -> None:
    """The application's record of its failed communications: one item each, unsent."""
    dynamodb = client(app, "dynamodb")
    for communication in api.communications.values():
        item = {name: {"S": str(value)} for name, value in communication.payload.items()}
        item |= {"sent": {"N": "0"}, "attempts": {"N": "0"}}
        dynamodb.put_item(TableName=app.physical("CommunicationsTable"), Item=item)


def tick(app: LocalStack) -> Tick:
    """Move to the next full hour: the rule fires the fetch function; run what it started."""
    jump(app, HOUR - app.clock.now() % HOUR)
    now = app.clock.now()
    rule = app.physical(RULE)
    wait_for(
        lambda: (fired := app.host.schedules.get(rule)) is not None and fired.last_tick == now,
        "the scheduled rule to fire",
    )
    stamp = f"{to_datetime(now):%Y%m%dT%H%MZ}"
    sfn = client(app, "stepfunctions")
    listed = sfn.list_executions(stateMachineArn=app.physical("ReprocessingStateMachine"))
    mine = sorted(
        (e for e in listed["executions"] if f"-{stamp}-" in e["name"]), key=lambda e: e["name"]
    )
    return Tick(to_datetime(now), [run_to_end(app, e["executionArn"]) for e in mine])


def queue_messages(app: LocalStack, logical_id: str) -> list[dict[str, Any]]:
    """Every message waiting in the stack's queue ``logical_id`` (bodies decoded), read
    with plain boto3 and deleted."""
    sqs = client(app, "sqs")
    url = sqs.get_queue_url(QueueName=app.physical(logical_id))["QueueUrl"]
    bodies: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def main() -> None:
    with running() as run:
        for _ in range(2):
            ticked = tick(run.app)
            print(f"{ticked.at:%H:%M} the rule fired: {len(ticked.executions)} executions")
            for execution in ticked.executions:
                size = len(json.loads(execution["input"])["items"])
                print(f"  {execution['name']}: {size} communications, {execution['status']}")
            for notification in queue_messages(run.app, "NotificationQueue"):
                outcome = json.loads(notification["Message"])
                print(f"  SNS: {notification['Subject']}: dead-lettered {outcome['deadLettered']}")
            for dead in queue_messages(run.app, "DeadLetterQueue"):
                print(f"  dead-letter queue: {dead['primaryId']} ({dead['error']['Error']})")
        print(f"POSTs to the API: {len(run.api.attempts)}")


if __name__ == "__main__":
    main()
