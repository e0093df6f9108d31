"""Crash recovery with real processes: SIGKILL the workers at random, restart them, and
every execution still ends with the right output and a history with no missing and no
duplicated state transitions (DESIGN.md, "One transaction per step")."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import stepwell
from stepwell.service.service import Service
from tests.conftest import POSTGRES_URL, SKIP_POSTGRES
from tests.runtime import crash_functions

ROLE = "arn:aws:iam::123456789012:role/stepwell"
FN = "arn:aws:lambda:us-east-1:123456789012:function:"
FUNCTIONS = Path(crash_functions.__file__)

MIXED = {
    "StartAt": "Square",
    "States": {
        "Square": {
            "Type": "Task",
            "Resource": FN + "square",
            "ResultPath": "$.sq",
            "Next": "Pause",
        },
        "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Fan"},
        "Fan": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": 2,
            "ItemProcessor": {
                "StartAt": "Label",
                "States": {
                    "Label": {"Type": "Task", "Resource": FN + "label", "Next": "Keep"},
                    "Keep": {"Type": "Pass", "End": True},
                },
            },
            "ResultPath": "$.labels",
            "Next": "Both",
        },
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": True}}},
                {
                    "StartAt": "B",
                    "States": {
                        "B": {
                            "Type": "Task",
                            "Resource": FN + "square",
                            "InputPath": "$.sq",
                            "End": True,
                        }
                    },
                },
            ],
            "ResultPath": "$.both",
            "End": True,
        },
    },
}


def db_url(kind: str, tmp_path: Path) -> tuple[str, Any]:
    if kind == "sqlite":
        return str(tmp_path / "crash.db"), None
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    schema = f"crash_{os.getpid()}_{random.randrange(10**9)}"
    return f"{POSTGRES_URL}?schema={schema}", schema


class Workers:
    """Worker processes that can be killed and restarted."""

    def __init__(self, url: str, log: Path, count: int) -> None:
        self.env = {**os.environ, "STEPWELL_CRASH_LOG": str(log), "STEPWELL_LEASE_SECONDS": "1"}
        self.url = url
        self.procs = [self._spawn() for _ in range(count)]
        self.kills = 0

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stepwell",
                "worker",
                "--db",
                self.url,
                "--functions",
                str(FUNCTIONS),
                "--workers",
                "2",
                "--invokers",
                "2",
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill_one(self, rng: random.Random) -> None:
        index = rng.randrange(len(self.procs))
        self.procs[index].send_signal(signal.SIGKILL)
        self.procs[index].wait()
        self.kills += 1
        self.procs[index] = self._spawn()

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGKILL)
            proc.wait()


def expected_run(given: dict[str, Any]) -> stepwell.ExecutionResult:
    return stepwell.run(
        MIXED,
        given,
        functions={"square": crash_functions.square, "label": crash_functions.label},
        seed=1,
    )


def transitions(history: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter(
        (
            e["type"],
            e.get("stateEnteredEventDetails", e.get("stateExitedEventDetails", {})).get("name", ""),
        )
        for e in history
    )


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_sigkill_workers_at_random_nothing_lost_nothing_twice(kind: str, tmp_path: Path) -> None:
    from stepwell.store import open_store

    url, schema = db_url(kind, tmp_path)
    store = open_store(url)
    service = Service(store)
    machine = service.handle(
        "CreateStateMachine", {"name": "mixed", "definition": json.dumps(MIXED), "roleArn": ROLE}
    )["stateMachineArn"]
    inputs = {f"run-{n}": {"n": n, "items": list(range(n % 4))} for n in range(200)}
    arns = {
        name: service.handle(
            "StartExecution", {"stateMachineArn": machine, "name": name, "input": json.dumps(given)}
        )["executionArn"]
        for name, given in inputs.items()
    }
    rng = random.Random(42)
    log = tmp_path / "invocations.log"
    workers = Workers(url, log, count=3)
    try:
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(0.05, 0.6))
            workers.kill_one(rng)
        finish_by = time.monotonic() + 120
        while time.monotonic() < finish_by:
            statuses = Counter(store.get_execution(a).status for a in arns.values())  # type: ignore[union-attr]
            if statuses.get("RUNNING", 0) == 0:
                break
            time.sleep(0.5)
    finally:
        workers.stop()
    assert workers.kills >= 10
    for name, arn in arns.items():
        record = store.get_execution(arn)
        assert record is not None and record.status == "SUCCEEDED", (name, record)
        expected = expected_run(inputs[name])
        assert json.loads(record.output or "null") == expected.output, name
        history = store.history(arn)
        assert [e["id"] for e in history] == list(range(1, len(history) + 1)), name
        assert transitions(history) == transitions(expected.history), name
    # Every task ran at least once; a crash mid-invocation may have run one again.
    calls = log.read_text().splitlines()
    expected_calls = sum(1 + len(g["items"]) + 1 for g in inputs.values())
    assert len(calls) >= expected_calls
    store.close()
    if schema:
        from stepwell.store.postgres import PostgresDialect

        PostgresDialect(POSTGRES_URL or "", schema).drop_schema()


def test_three_workers_share_the_work_on_postgres(tmp_path: Path) -> None:
    """Scale-out: three worker processes on one PostgreSQL database split the work, and
    with no crash every task runs exactly once and every transition is applied once."""
    from stepwell.store import open_store

    url, schema = db_url("postgres", tmp_path)
    store = open_store(url)
    service = Service(store)
    machine = service.handle(
        "CreateStateMachine", {"name": "mixed", "definition": json.dumps(MIXED), "roleArn": ROLE}
    )["stateMachineArn"]
    log = tmp_path / "invocations.log"
    workers = Workers(url, log, count=3)
    inputs = {f"run-{n}": {"n": n, "items": list(range(n % 3))} for n in range(150)}
    try:
        arns = {
            name: service.handle(
                "StartExecution",
                {"stateMachineArn": machine, "name": name, "input": json.dumps(given)},
            )["executionArn"]
            for name, given in inputs.items()
        }
        finish_by = time.monotonic() + 120
        while time.monotonic() < finish_by:
            if all(store.get_execution(a).status != "RUNNING" for a in arns.values()):  # type: ignore[union-attr]
                break
            time.sleep(0.3)
    finally:
        workers.stop()
    for name, arn in arns.items():
        record = store.get_execution(arn)
        assert record is not None and record.status == "SUCCEEDED", name
        history = store.history(arn)
        assert [e["id"] for e in history] == list(range(1, len(history) + 1))
        assert transitions(history) == transitions(expected_run(inputs[name]).history)
    calls = log.read_text().splitlines()
    assert len(calls) == sum(1 + len(g["items"]) + 1 for g in inputs.values())
    assert len({line.split()[0] for line in calls}) == 3  # every worker process took work
    store.close()
    from stepwell.store.postgres import PostgresDialect

    PostgresDialect(POSTGRES_URL or "", schema).drop_schema()
