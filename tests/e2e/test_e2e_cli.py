"""End to end with the AWS CLI (``python -m awscli``, in a subprocess, dummy credentials):
create a state machine, start an execution, describe it, read its history, exactly as a
user would against AWS with ``--endpoint-url``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import ROLE, running_host

DEFINITION = {
    "StartAt": "Greet",
    "States": {
        "Greet": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:greet",
            "End": True,
        }
    },
}


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("cli")
    with running_host(folder, {"greet": lambda e: {"hello": e["name"]}}) as (url, _):
        environment = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(folder / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(folder / "no-credentials"),
            "HOME": str(folder),
        }

        def run(*arguments: str) -> Any:
            completed = subprocess.run(
                [sys.executable, "-m", "awscli", "stepfunctions", *arguments,
                 "--endpoint-url", url, "--output", "json"],
                env=environment, capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            assert completed.returncode == 0, completed.stderr
            return json.loads(completed.stdout)

        yield run


def test_create_start_describe_history(aws: Any, tmp_path: Path) -> None:
    definition = tmp_path / "greet.asl.json"
    definition.write_text(json.dumps(DEFINITION))
    created = aws(
        "create-state-machine", "--name", "greeter",
        "--definition", f"file://{definition}", "--role-arn", ROLE,
    )  # fmt: skip
    machine = created["stateMachineArn"]
    assert machine == "arn:aws:states:us-east-1:123456789012:stateMachine:greeter"
    started = aws(
        "start-execution", "--state-machine-arn", machine,
        "--name", "hello-ada", "--input", '{"name": "Ada"}',
    )  # fmt: skip
    described = aws("describe-execution", "--execution-arn", started["executionArn"])
    for _ in range(20):  # the worker pool finishes it in milliseconds
        if described["status"] != "RUNNING":
            break
        described = aws("describe-execution", "--execution-arn", started["executionArn"])
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"hello": "Ada"}
    history = aws("get-execution-history", "--execution-arn", started["executionArn"])
    assert [e["type"] for e in history["events"]] == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
