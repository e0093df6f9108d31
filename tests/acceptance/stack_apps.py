"""What the acceptance tests of the seed applications share: start an application as
``stepwell up`` runs it (``stepwell.testing.local_stack``) on the test's database with a
virtual clock, and talk to it with plain boto3 clients and the AWS CLI. Moving the clock
(``jump``, ``run_to_end``) is ``examples/apps/driving.py``, shared with the examples.

Leases are an hour of virtual time long: a Lambda invocation still running in its
worker process when the clock jumps ahead must not look abandoned and run twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from examples.apps.driving import client, jump, run_to_end, settle, wait_for
from stepwell.service.settings import Settings
from stepwell.stack.apply import apply_plan
from stepwell.stack.plan import plan_stack
from stepwell.testing import LocalStack, local_stack
from tests.e2e.server import aws_cli

APPS = Path(__file__).resolve().parents[2] / "examples" / "apps"
__all__ = ["client", "jump", "run_to_end", "settle", "wait_for"]


@contextmanager
def running_app(
    db: str, template: Path, stack_name: str, start: float | None = None, **parameters: str
) -> Iterator[LocalStack]:
    settings = Settings(db=db, workers=2, invokers=4, lease_seconds=3600.0)
    with local_stack(
        template,
        stack_name=stack_name,
        settings=settings,
        parameters=parameters or None,
        virtual_time=True,
        start=start,
    ) as app:
        yield app


@contextmanager
def beside(
    app: LocalStack, template: Path, stack_name: str, **parameters: str
) -> Iterator[LocalStack]:
    """A second stack in the same server (same database, same clock), as a second
    ``stepwell up`` of another stack name on the same database would run it. Two servers
    on one database with two virtual clocks would take each other's timers."""
    settings = app.host.settings
    plan = plan_stack(
        template,
        stack_name=stack_name,
        region=settings.region,
        account=settings.account,
        parameters=parameters or None,
    )
    running = apply_plan(plan, app.host, app.url)
    try:
        yield LocalStack(app.url, app.host, app.clock, plan, running)
    finally:
        running.close()


def cli(app: LocalStack, folder: Path, *arguments: str) -> Any:
    """``aws ARGUMENTS --endpoint-url`` the application's server; the JSON it prints."""
    return aws_cli(app.url, folder, *arguments)


def history(app: LocalStack, execution: str) -> list[dict[str, Any]]:
    pages = app.client().get_paginator("get_execution_history")
    return [e for page in pages.paginate(executionArn=execution) for e in page["events"]]


def events_of(app: LocalStack, execution: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in history(app, execution) if e["type"] == kind]


def receive_all(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message now visible in the queue, deleted once read (JSON bodies decoded)."""
    bodies: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        messages = got.get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
