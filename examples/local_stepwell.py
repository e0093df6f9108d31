"""A whole Stepwell inside one Python process, for the seed examples and their tests.

``local_stepwell(functions, start=...)`` assembles what ``stepwell serve`` runs — a
``Host`` (store, worker threads, the embedded DynamoDB/SQS/SNS, schedules) behind the AWS
Step Functions API served by uvicorn on a free 127.0.0.1 port — and hands back a
``LocalStepwell`` with a boto3 ``stepfunctions`` client pointed at it.

Design decision: time is a ``VirtualClock``. Nothing waits for real: Wait states, retry
back-off, task timeouts, schedules and DynamoDB TTL all read the virtual clock, and the
example moves it on (``advance``, ``advance_to_next_timer``) once the workers have done
everything due at the current moment (``settle``). A day of workflow time passes in
milliseconds, and each run prints the same timestamps.

Worker leases are made long (an hour of virtual time): a task that is still running
when the clock jumps ahead must not look abandoned and be run a second time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import boto3
from botocore.config import Config

from stepwell.api import create_app
from stepwell.integrations.services import Services
from stepwell.runtime.clock import VirtualClock, to_datetime
from stepwell.service.host import Host
from stepwell.service.settings import Settings
from stepwell.testing import serve_app

ROLE = "arn:aws:iam::123456789012:role/stepwell-examples"
LEASE_SECONDS = 3600.0
EVERYTHING_LEASED = 1e18  # a "now" past every lease: next_due then counts running tasks too
T = TypeVar("T")


class LocalStepwell:
    """A running Stepwell: ``sfn`` (boto3), ``services`` (embedded AWS services), ``clock``."""

    def __init__(self, host: Host, clock: VirtualClock, url: str) -> None:
        self.host = host
        self.clock = clock
        self.url = url
        self.sfn: Any = self.client("stepfunctions")

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` on this Stepwell's endpoint, as a user makes one:
        the embedded DynamoDB, SQS and SNS answer their own APIs there."""
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=self.host.settings.region,
            aws_access_key_id="local",
            aws_secret_access_key="local",
            # StartSyncExecution and TestState would go to http://sync-127.0.0.1:…
            config=Config(
                inject_host_prefix=False, retries={"mode": "standard", "max_attempts": 1}
            ),
        )

    @property
    def services(self) -> Services:
        return self.host.services

    def now(self) -> datetime:
        return to_datetime(self.clock.now())

    def register_function(self, name: str, function: Callable[..., Any]) -> None:
        """Bind ``function`` as the Lambda function ``name`` (or replace it)."""
        self.host.integrations.functions.register(name, function)

    # ----------------------------------------------------------------- Step Functions

    def create_state_machine(self, name: str, definition: Path | Mapping[str, Any]) -> str:
        text = definition.read_text() if isinstance(definition, Path) else json.dumps(definition)
        created = self.sfn.create_state_machine(name=name, definition=text, roleArn=ROLE)
        return str(created["stateMachineArn"])

    def start_execution(self, machine_arn: str, data: Any, name: str | None = None) -> str:
        request = {"stateMachineArn": machine_arn, "input": json.dumps(data)}
        started = self.sfn.start_execution(**request, **({"name": name} if name else {}))
        return str(started["executionArn"])

    def describe(self, execution_arn: str) -> dict[str, Any]:
        described: dict[str, Any] = self.sfn.describe_execution(executionArn=execution_arn)
        return described

    def output(self, execution_arn: str) -> Any:
        return json.loads(self.describe(execution_arn)["output"])

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        pages = self.sfn.get_paginator("get_execution_history")
        return [e for page in pages.paginate(executionArn=execution_arn) for e in page["events"]]

    def events(self, execution_arn: str, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.history(execution_arn) if e["type"] == event_type]

    def wait_for_events(self, execution_arn: str, event_type: str, count: int) -> list[Any]:
        """Wait (real time) until the execution has ``count`` events of ``event_type``."""

        def enough() -> list[dict[str, Any]]:
            found = self.events(execution_arn, event_type)
            return found if len(found) >= count else []

        return self.wait_for(enough, what=f"{count} {event_type} events")

    # ----------------------------------------------------------------- virtual time

    def settle(self, timeout: float = 10.0) -> None:
        """Wait (real time) until the workers have done all that is due now."""
        self.wait_for(self._quiet, timeout, "the workers to finish what is due now")

    def advance(self, seconds: float, settle: bool = True) -> None:
        """Move virtual time on by ``seconds``; then, unless told not to, settle."""
        self.clock.advance(seconds)
        self._wake()
        if settle:
            self.settle()

    def advance_to_next_timer(self) -> float | None:
        """Settle, then jump to the next due timer (a Wait, a retry, a timeout) and settle
        again. Returns the seconds jumped, or None when nothing is scheduled."""
        self.settle()
        due = self.host.store.next_due(EVERYTHING_LEASED)
        if due is None:
            return None
        jumped = max(due - self.clock.now(), 0.0)
        self.advance(jumped)
        return jumped

    def run_until_done(self, execution_arn: str, max_seconds: float = 86_400.0) -> dict[str, Any]:
        """Jump from timer to timer until the execution ends (or ``max_seconds`` of
        virtual time pass, or it waits for something no timer brings, like a callback)."""
        deadline = self.clock.now() + max_seconds
        self.settle()
        described = self.describe(execution_arn)
        while described["status"] == "RUNNING" and self.clock.now() < deadline:
            if self.advance_to_next_timer() is None:
                break
            described = self.describe(execution_arn)
        return described

    def wait_for(self, condition: Callable[[], T], timeout: float = 10.0, what: str = "") -> T:
        """Poll ``condition`` (real time, a few milliseconds apart) until it is truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"gave up waiting for {what or condition}")
            time.sleep(0.005)

    def _quiet(self) -> bool:
        due = self.host.store.next_due(EVERYTHING_LEASED)
        return due is None or due > self.clock.now()

    def _wake(self) -> None:
        if self.host.pool is not None:
            self.host.pool.wake()


def clock_time(stamp: datetime) -> str:
    """A history timestamp as HH:MM:SS in UTC, the virtual clock's zone."""
    return f"{stamp.astimezone(UTC):%H:%M:%S}"


@contextmanager
def local_stepwell(
    functions: Mapping[str, Callable[..., Any]],
    *,
    start: datetime,
    db: str = "memory",
    **settings: Any,
) -> Iterator[LocalStepwell]:
    """A started Stepwell on a virtual clock set to ``start``, with ``functions`` bound
    as Lambda functions by name; ``settings`` are further ``Settings`` fields."""
    clock = VirtualClock(start)
    chosen = {"workers": 1, "invokers": 4, "lease_seconds": LEASE_SECONDS, **settings}
    host = Host(Settings(db=db, **chosen), clock)
    host.start()
    try:
        with _serving(create_app(host.service)) as url:
            local = LocalStepwell(host, clock, url)
            for name, function in functions.items():
                local.register_function(name, function)
            yield local
    finally:
        host.stop()


_serving = serve_app  # uvicorn on a free 127.0.0.1 port, in a thread
