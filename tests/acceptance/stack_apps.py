"""What the acceptance tests of the seed applications share: start an application as
``stepwell up`` runs it (``stepwell.testing.local_stack``) on the test's database with a
virtual clock, talk to it with plain boto3 clients and the AWS CLI, and run an execution
to its end by moving the clock from timer to timer once the workers are idle.

Leases are an hour of virtual time long: a Lambda invocation still running in its
worker process when the clock jumps ahead must not look abandoned and run twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import boto3
from botocore.config import Config

from stepwell.service.settings import Settings
from stepwell.testing import LocalStack, local_stack
from tests.e2e.server import aws_cli

APPS = Path(__file__).resolve().parents[2] / "examples" / "apps"
EVERYTHING_LEASED = 1e18  # a "now" past every lease: next_due then counts running tasks
T = TypeVar("T")


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


def client(app: LocalStack, service: str) -> Any:
    """A plain boto3 client of ``service`` with an endpoint_url, as a user would make."""
    return boto3.client(
        service,
        endpoint_url=app.url,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


def cli(app: LocalStack, folder: Path, *arguments: str) -> Any:
    """``aws ARGUMENTS --endpoint-url`` the application's server; the JSON it prints."""
    return aws_cli(app.url, folder, *arguments)


def wait_for(condition: Callable[[], T], what: str, timeout: float = 60.0) -> T:
    """Poll ``condition`` (real time, a few milliseconds apart) until it is truthy."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
    return value


def settle(app: LocalStack) -> None:
    """Wait until the workers have done everything due now (invocations included)."""

    def quiet() -> bool:
        due = app.host.store.next_due(EVERYTHING_LEASED)
        return due is None or due > app.clock.now()

    wait_for(quiet, "the workers to finish what is due now")


def jump(app: LocalStack, seconds: float) -> None:
    """Settle, move the clock on by ``seconds``, let the workers see it, settle again."""
    settle(app)
    app.clock.set(app.clock.now() + seconds)
    if app.host.pool is not None:
        app.host.pool.wake()
    settle(app)


def run_to_end(app: LocalStack, execution: str, max_seconds: float = 86_400.0) -> dict[str, Any]:
    """Jump from timer to timer (Waits, retries, timeouts) until the execution ends."""
    sfn = app.client()
    limit = app.clock.now() + max_seconds
    while True:
        settle(app)
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        due = app.host.store.next_due(EVERYTHING_LEASED)
        if described["status"] != "RUNNING" or due is None or due > limit:
            return described
        jump(app, max(due - app.clock.now(), 0.0))


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
