"""``stepwell serve`` and ``stepwell worker``: settings from flags and ``STEPWELL_*``
variables (documented in ``--help``), a server a user starts and the CLI then talks to,
and endpoints and credentials as the client commands find them."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from stepwell.api.settings import ApiSettings
from stepwell.cli import main
from tests.cli.conftest import run_stepwell, running_server, subprocess_env
from tests.cli.definitions import PASS

SETTINGS = ("DB", "WORKERS", "INVOKERS", "FUNCTIONS_MODULE", "REGION", "ACCOUNT", "LEASE_SECONDS")


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_help_names_the_environment_variable_of_every_flag(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for name in SETTINGS + (("HOST", "PORT") if command == "serve" else ()):
        assert f"STEPWELL_{name}" in text
    assert "Settings come from flags, then STEPWELL_* environment variables" in text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_reads_stepwell_variables_and_the_cli_talks_to_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "stepwell", "serve"],
            env=subprocess_env(
                STEPWELL_PORT=str(port), STEPWELL_DB="memory", STEPWELL_REGION="eu-west-1"
            ),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=tmp_path,
        )
    endpoint = {"STEPWELL_ENDPOINT": f"http://127.0.0.1:{port}"}
    try:
        wait_for_port(port, server, log)
        listed = run_stepwell("list", **endpoint)
        assert listed.out == "No state machines.\n"
        definition = tmp_path / "pass.json"
        definition.write_text(PASS)
        created = run_stepwell("create", "hello", str(definition), **endpoint)
        assert created.out == "Created arn:aws:states:eu-west-1:123456789012:stateMachine:hello\n"
        capsys.readouterr()
        assert (
            main(
                ["start", "hello", "--wait", "--json", "--endpoint", endpoint["STEPWELL_ENDPOINT"]]
            )
            == 0
        )
        assert json.loads(capsys.readouterr().out)["status"] == "SUCCEEDED"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/console/api/machines") as reply:
            assert [m["name"] for m in json.load(reply)["stateMachines"]] == ["hello"]
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)
    assert server.returncode == 0
    assert f"on http://127.0.0.1:{port} (store: memory)" in log.read_text()
    assert f"Web console: http://127.0.0.1:{port}/console" in log.read_text()


def wait_for_port(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    """Until the server accepts connections (it imports, then binds)."""
    deadline = time.monotonic() + 30
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert server.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "stepwell serve did not start"
        time.sleep(0.02)
    assert server.returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--config", "/no/such/stepwell.toml"], "error: settings: config file not found"),
        (["worker", "--workers", "many"], "Invalid value for '--workers'"),
        (
            ["worker", "--db", "memory", "--functions", "no_such_module_here"],
            "error: cannot start: ",
        ),
    ],
)
def test_settings_mistakes_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_a_bad_stepwell_variable_is_an_error_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STEPWELL_WORKERS", "lots")
    assert main(["worker"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: settings: invalid literal for int()")


def test_endpoint_flag_beats_the_variable_and_unreachable_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    monkeypatch.setenv("STEPWELL_ENDPOINT", "http://127.0.0.1:9/never-used")
    assert main(["list", "--endpoint", f"http://127.0.0.1:{port}"]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"error: cannot reach a Stepwell server at http://127.0.0.1:{port}: start one with "
        "`stepwell serve`, or point --endpoint (or STEPWELL_ENDPOINT) at it\n"
    )


def test_signed_requests_use_the_aws_variables_when_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_server(ApiSettings(credentials={"AKIDSTEPWELL": "s3cret"})) as server:
        monkeypatch.setenv("STEPWELL_ENDPOINT", server.url)
        assert main(["list"]) == 1  # the dummy credentials are not the server's
        assert capsys.readouterr().err.startswith("error: UnrecognizedClientException: ")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSTEPWELL")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cret")
        assert main(["list", "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == {"stateMachines": []}
