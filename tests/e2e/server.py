"""A real Stepwell for end-to-end tests: ``Host`` (SQLite store, worker pool, service)
behind the API app, served by uvicorn on a free 127.0.0.1 port in a background thread."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from stepwell.api import create_app
from stepwell.service.host import Host
from stepwell.service.settings import Settings
from stepwell.testing import serve_app

# StartSyncExecution and TestState would otherwise go to http://sync-127.0.0.1:…
CONFIG = Config(inject_host_prefix=False, retries={"mode": "standard", "max_attempts": 1})
ROLE = "arn:aws:iam::123456789012:role/stepwell"


@contextmanager
def running_host(
    folder: Path, functions: dict[str, Callable[..., Any]]
) -> Iterator[tuple[str, Host]]:
    """A started Host with ``functions`` as Lambda functions; yields (base URL, host)."""
    host = Host(Settings(db=str(folder / "stepwell.db"), workers=1, invokers=2))
    for name, fn in functions.items():
        host.integrations.functions.register(name, fn)
    host.start()
    try:
        with serving(create_app(host.service)) as url:
            yield url, host
    finally:
        host.stop()


serving = serve_app


def client(url: str) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=CONFIG,
    )


def wait_until_done(sfn: Any, execution_arn: str, timeout: float = 10.0) -> dict[str, Any]:
    """Describe the execution until it is no longer RUNNING (a few round trips at most)."""
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.01)


def service_client(url: str, service: str) -> Any:
    """A boto3 client of any API Stepwell serves (dynamodb, sqs, sns), dummy credentials."""
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=CONFIG,
    )


def aws_cli(url: str, folder: Path, *arguments: str) -> Any:
    """Run ``aws ARGUMENTS --endpoint-url URL`` in a subprocess; its JSON output."""
    environment = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(folder / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(folder / "no-credentials"),
        "HOME": str(folder),
    }
    completed = subprocess.run(
        [sys.executable, "-m", "awscli", *arguments, "--endpoint-url", url, "--output", "json"],
        env=environment, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout) if completed.stdout.strip() else None
