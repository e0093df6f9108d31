"""Fixtures for the command-line tests: a real Stepwell server, and the CLI run as a user
runs it, in-process (``main([...])``) or as ``python -m stepwell`` in a subprocess.

The server is ``Host`` (memory store, worker pool, service) behind the API app, served by
uvicorn on a free loopback port in a background thread. Its Lambda functions are the
Python functions below; ``remember`` keeps each callback task's token, by execution
name, for the tests to send back with ``send-success`` and friends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import stepwell
from stepwell.api.app import create_app
from stepwell.api.settings import ApiSettings
from stepwell.cli import main
from stepwell.service.host import Host
from stepwell.service.settings import Settings
from stepwell.testing import serve_app

TOKENS: dict[str, str] = {}


def greet(event: dict[str, Any]) -> dict[str, Any]:
    return {"hello": event["name"]}


def broken(event: Any) -> Any:
    raise stepwell.TaskError("Custom.Broken", "it broke")


def remember(event: dict[str, Any]) -> dict[str, Any]:
    TOKENS[event["execution"]] = event["token"]
    return {}


@dataclass(frozen=True)
class Server:
    url: str
    host: Host

    def token(self, execution_name: str, timeout: float = 10.0) -> str:
        """The task token a callback task of that execution handed out."""
        deadline = time.monotonic() + timeout
        while execution_name not in TOKENS:
            assert time.monotonic() < deadline, f"no task token for {execution_name}"
            time.sleep(0.01)
        return TOKENS[execution_name]


serving = serve_app


@contextmanager
def running_server(api: ApiSettings | None = None) -> Iterator[Server]:
    host = Host(Settings(db="memory", workers=1, invokers=2))
    for fn in (greet, broken, remember):
        host.integrations.functions.register(fn.__name__, fn)
    host.start()
    try:
        with serving(create_app(host.service, api or ApiSettings())) as url:
            yield Server(url, host)
    finally:
        host.stop()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with running_server() as running:
        yield running


@pytest.fixture(autouse=True)
def no_aws_profile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The CLI's dummy credentials, whatever the machine running the tests has set."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name in ("FORCE_COLOR", "NO_COLOR", "STEPWELL_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


Cli = Callable[..., Outcome]


@pytest.fixture
def cli(server: Server, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """``stepwell ARGS...`` in-process against the test server (via STEPWELL_ENDPOINT)."""
    monkeypatch.setenv("STEPWELL_ENDPOINT", server.url)

    def run(*args: str) -> Outcome:
        code = main(list(args))
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run


def details(text: str) -> dict[str, str]:
    """The ``Label   value`` lines of a description, as a dict (first line of each value)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        label, _, value = line.partition("  ")
        if label.strip() and value.strip():
            found.setdefault(label.strip(), value.strip())
    return found


def subprocess_env(**extra: str) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "STEPWELL_", "FORCE_COLOR", "NO_COLOR"))
    }
    environment["AWS_CONFIG_FILE"] = environment["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    return {**environment, **extra}


def run_stepwell(*args: str, timeout: float = 60, **extra_env: str) -> Outcome:
    """``python -m stepwell ARGS...`` in a subprocess, as a shell would run it."""
    completed = subprocess.run(
        [sys.executable, "-m", "stepwell", *args],
        env=subprocess_env(**extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Outcome(completed.returncode, completed.stdout, completed.stderr)
