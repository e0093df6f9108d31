"""Driving an application that runs on a virtual clock (``local_stack(virtual_time=True)``),
for the example scripts and their acceptance tests.

Nothing waits for real: Waits, retry back-off, task timeouts and schedules read the
virtual clock, and these helpers move it on once the workers have done everything due at
the current moment — including the Lambda invocations running in worker processes,
which ``next_due`` counts when asked about a moment past every lease.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
from botocore.config import Config

from stepwell.testing import LocalStack

EVERYTHING_LEASED = 1e18  # a "now" past every lease: next_due then counts running tasks
T = TypeVar("T")


def client(app: LocalStack, service: str) -> Any:
    """A plain boto3 client of ``service`` with an endpoint_url, as a user would make."""
    return boto3.client(
        service,
        endpoint_url=app.url,
        region_name=app.host.settings.region,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


def wait_for(condition: Callable[[], T], what: str, timeout: float = 60.0) -> T:
    """Poll ``condition`` (real time, a few milliseconds apart) until it is truthy."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
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
    """Jump from timer to timer (Waits, retries, timeouts) until the execution ends, or
    waits for something no timer brings (a callback), or ``max_seconds`` pass."""
    sfn = app.client()
    limit = app.clock.now() + max_seconds
    while True:
        settle(app)
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        due = app.host.store.next_due(EVERYTHING_LEASED)
        if described["status"] != "RUNNING" or due is None or due > limit:
            return described
        jump(app, max(due - app.clock.now(), 0.0))
