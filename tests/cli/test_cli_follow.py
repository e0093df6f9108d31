"""``history --follow`` and ``start --follow``: live progress that ends when the execution
ends, on a pipe (one line per event, then the states), as JSON lines, and on a terminal
(a rich Live table, coloured)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from stepwell.cli import client as client_module
from stepwell.cli import main
from tests.cli.conftest import Cli, Server, subprocess_env
from tests.cli.definitions import BROKEN, CALLBACK, PASS

EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:"


def create(cli: Cli, tmp_path: Path, definition: str) -> str:
    name = f"f-{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.json"
    path.write_text(definition)
    assert cli("create", name, str(path)).code == 0
    return name


def state_rows(out: str) -> dict[str, list[str]]:
    """The state table after the event lines: name -> [type, status, entered, ...]."""
    lines = out.splitlines()
    header = next(
        i for i, line in enumerate(lines) if line.split()[:3] == ["State", "Type", "Status"]
    )
    rows: dict[str, list[str]] = {}
    for line in lines[header + 1 :]:
        cells = line.split()
        if len(cells) < 4 or not cells[3].isdigit():
            break
        rows[cells[0]] = cells[1:]
    return rows


def follow_in_subprocess(server: Server, arn: str, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stepwell",
            "history",
            arn,
            "--follow",
            "--interval",
            "0.05",
            *options,
        ],
        env=subprocess_env(STEPWELL_ENDPOINT=server.url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_follow_on_a_pipe_ends_when_the_execution_ends(
    cli: Cli, server: Server, tmp_path: Path
) -> None:
    name = create(cli, tmp_path, CALLBACK)
    cli("start", name, "--name", "live", "--input", '{"q": 1}')
    token = server.token("live")
    follower = follow_in_subprocess(server, f"{EXECUTION_ARN}{name}:live")
    try:
        assert follower.poll() is None  # the execution waits for its callback
        assert cli("send-success", token, '{"a": 2}').code == 0
        out, err = follower.communicate(timeout=30)
    finally:
        follower.kill()
    assert (follower.returncode, err) == (0, "")
    event_types = [line.split()[2] for line in out.splitlines() if line[:5].strip().isdigit()]
    assert event_types[0] == "ExecutionStarted"
    assert event_types[-1] == "ExecutionSucceeded"
    assert "TaskSucceeded" in event_types
    rows = state_rows(out)
    assert rows["Ask"][:3] == ["Task", "SUCCEEDED", "1"]
    assert rows["Answer"][:3] == ["Pass", "SUCCEEDED", "1"]
    assert '"a": 2' in out  # the output, after the states


def test_follow_json_prints_one_event_per_line(cli: Cli, server: Server, tmp_path: Path) -> None:
    name = create(cli, tmp_path, CALLBACK)
    cli("start", name, "--name", "lines")
    token = server.token("lines")
    follower = follow_in_subprocess(server, f"{EXECUTION_ARN}{name}:lines", "--json")
    try:
        assert cli("send-failure", token, "--error", "Nope").code == 0
        out, _ = follower.communicate(timeout=30)
    finally:
        follower.kill()
    assert follower.returncode == 1  # the execution failed
    events = [json.loads(line) for line in out.splitlines()]
    assert [event["id"] for event in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "ExecutionFailed"
    assert events[-1]["executionFailedEventDetails"]["error"] == "Nope"


def test_follow_of_a_finished_execution_returns_at_once(cli: Cli, tmp_path: Path) -> None:
    name = create(cli, tmp_path, BROKEN)
    cli("start", name, "--name", "done", "--wait")
    followed = cli("history", f"{EXECUTION_ARN}{name}:done", "--follow")
    assert followed.code == 1
    rows = state_rows(followed.out)
    assert rows["Break"][:3] == ["Task", "FAILED", "1"]
    assert "Custom.Broken: it broke" in " ".join(rows["Break"])


def test_start_follow_shows_the_states_and_the_output(cli: Cli, tmp_path: Path) -> None:
    name = create(cli, tmp_path, PASS)
    followed = cli("start", name, "--follow", "--interval", "0.05")
    assert followed.code == 0
    assert state_rows(followed.out)["Done"][:2] == ["Pass", "SUCCEEDED"]
    assert '"ok": true' in followed.out


def test_follow_reads_new_events_across_history_pages(
    cli: Cli,
    server: Server,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(client_module, "_HISTORY_PAGE", 2)
    name = create(cli, tmp_path, CALLBACK)
    cli("start", name, "--name", "paged")
    token = server.token("paged")
    arn = f"{EXECUTION_ARN}{name}:paged"
    codes: list[int] = []
    follower = threading.Thread(
        target=lambda: codes.append(
            main(["history", arn, "--follow", "--json", "--interval", "0.02"])
        )
    )
    follower.start()
    printed = ""
    deadline = time.monotonic() + 10
    while '"TaskStarted"' not in printed:  # the follower has caught up with the waiting task
        assert time.monotonic() < deadline
        time.sleep(0.01)
        printed += capsys.readouterr().out
    server.host.service.handle("SendTaskSuccess", {"taskToken": token, "output": "{}"})
    follower.join(30)
    assert codes == [0]
    events = [json.loads(line) for line in (printed + capsys.readouterr().out).splitlines()]
    assert [event["id"] for event in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "ExecutionSucceeded"


def test_follow_on_a_terminal_draws_a_coloured_live_table(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich then treats the output as a terminal
    name = create(cli, tmp_path, PASS)
    followed = cli("start", name, "--follow")
    assert followed.code == 0
    assert "\x1b[32mSUCCEEDED" in followed.out  # green
    assert "Done" in followed.out
