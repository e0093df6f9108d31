"""``stepwell up``: the seed application from its template, as a user runs it — the
report, ``--check``, problems that stop it, and a real server a boto3 client and the
functions inside (through ``AWS_ENDPOINT_URL``) both talk to."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from stepwell.cli import main
from stepwell.cli.output import CommandError
from stepwell.cli.up import parse_overrides
from tests.cli.test_cli_server import free_port, subprocess_env, wait_for_port

SEED_APP = Path(__file__).resolve().parents[2] / "examples" / "apps" / "idempotent-workflow-sam"


def test_check_reports_the_plan_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "never.db"
    code = main(["up", str(SEED_APP / "template.yaml"), "--check", "--db", str(db)])
    err = capsys.readouterr().err
    assert code == 0
    assert "Stack idempotent-workflow-sam:" in err
    assert "table                 IdempotencyTable → IdempotencyTable" in err
    assert "not emulated (accepted): IdempotencyConfigFunctionRole (AWS::IAM::Role)" in err
    assert "warning: function IdempotencyConfigFunction: layers are not emulated" in err
    assert not db.exists()


def test_a_function_that_cannot_run_is_a_warning_not_a_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 13: what Stepwell cannot run is accepted and reported, never a failure.
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n"
        "  Legacy:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {Handler: main, Runtime: go1.x, CodeUri: .}\n"
    )
    assert main(["up", str(tmp_path / "template.yaml"), "--check", "--db", "memory"]) == 0
    err = capsys.readouterr().err
    assert "warning: function Legacy: runtime go1.x cannot run here" in err
    assert "problem" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["up", "/no/such/template.yaml"], "no template at /no/such/template.yaml"),
        (["up", "--check", "--parameter-overrides", "novalue"], "is not KEY=VALUE"),
    ],
)
def test_mistakes_are_one_line_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "template.yaml").write_text("Resources: {Q: {Type: AWS::SQS::Queue}}\n")
    import os

    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert main(args) == 2
    finally:
        os.chdir(here)
    assert message in capsys.readouterr().err


def test_up_without_a_template_here_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["up", "--check"]) == 2
    assert "no template.yaml here" in capsys.readouterr().err


def test_a_template_error_is_reported_not_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "t.yaml").write_text(
        "Resources:\n  Q: {Type: AWS::SQS::Queue, Properties: {QueueName: !Ref Nope}}\n"
    )
    assert main(["up", str(tmp_path / "t.yaml"), "--check"]) == 2
    assert "error: StackError: Ref to 'Nope'" in capsys.readouterr().err


def test_parameter_overrides_in_both_spellings() -> None:
    assert parse_overrides(("A=1 B=x=y", "ParameterKey=C,ParameterValue=3")) == {
        "A": "1",
        "B": "x=y",
        "C": "3",
    }
    with pytest.raises(CommandError):
        parse_overrides(("=1",))


def test_up_serves_the_seed_application_and_rerun_keeps_the_data(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    for run in ("first", "again"):
        port = free_port()
        log = tmp_path / f"{run}.log"
        with log.open("w") as stderr:
            server = subprocess.Popen(
                [sys.executable, "-m", "stepwell", "up", str(SEED_APP / "template.yaml")],
                env=subprocess_env(STEPWELL_PORT=str(port), STEPWELL_DB=str(db)),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                cwd=tmp_path,
            )
        try:
            wait_for_port(port, server, log)
            sfn = boto3.client(
                "stepfunctions",
                endpoint_url=f"http://127.0.0.1:{port}",
                region_name="us-east-1",
                aws_access_key_id="x",
                aws_secret_access_key="x",
                config=Config(inject_host_prefix=False),
            )
            machines = sfn.list_state_machines()["stateMachines"]
            assert [m["name"][: len("IdempotentStateMachine-")] for m in machines] == [
                "IdempotentStateMachine-"
            ]
            started = sfn.start_execution(
                stateMachineArn=machines[0]["stateMachineArn"], input='{"run": "cli"}'
            )
            deadline = time.monotonic() + 60
            while (d := sfn.describe_execution(executionArn=started["executionArn"]))[
                "status"
            ] == "RUNNING":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert d["status"] in ("SUCCEEDED", "FAILED")  # the seed fails at random
            assert_template_function_invocable(port)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(30)
        text = log.read_text()
        assert server.returncode == 0, text
        assert "IdempotencyConfigFunction" in text and "| {" in text  # Powertools JSON logs
        if run == "first":
            assert "table IdempotencyTable: created" in text
        else:
            assert "table IdempotencyTable: created" not in text  # kept, with its items
    assert json.loads(d["input"]) == {"run": "cli"}


def assert_template_function_invocable(port: int) -> None:
    """A template function answers the Lambda API by name, as on AWS (issue 11)."""
    lam = boto3.client(
        "lambda",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    [failure_demo] = [name for name in names if "FailureDemoFunction" in name]
    answer = lam.invoke(FunctionName=failure_demo, Payload=b"{}")
    result = json.loads(answer["Payload"].read())
    if "FunctionError" in answer:  # the seed's function fails at random
        assert result["errorType"] == "Exception"
        assert result["errorMessage"] == "We got a failure"
    else:
        assert result == "All good"
