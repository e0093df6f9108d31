"""``stepwell start | describe | executions | stop | history`` and the callback commands,
against a real server, checking what a user reads and what a script parses."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, Server, details
from tests.cli.definitions import BROKEN, CALLBACK, GREET, PASS

EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:"


@pytest.fixture
def machine(cli: Cli, tmp_path: Path) -> object:
    """Create a state machine from a definition; return its name."""

    def create(definition: str, *options: str) -> str:
        name = f"m-{uuid.uuid4().hex[:8]}"
        path = tmp_path / f"{name}.json"
        path.write_text(definition)
        assert cli("create", name, str(path), *options).code == 0
        return name

    return create


def test_start_wait_shows_the_output_and_exits_0(cli: Cli, machine: object) -> None:
    name = machine(GREET)  # type: ignore[operator]
    done = cli("start", name, "--input", '{"name": "Ada"}', "--name", "ada", "--wait")
    assert done.code == 0
    shown = details(done.out)
    assert shown["Status"] == "SUCCEEDED"
    assert shown["ARN"] == f"{EXECUTION_ARN}{name}:ada"
    assert '"hello": "Ada"' in done.out


def test_start_wait_json_is_describe_execution(cli: Cli, machine: object) -> None:
    name = machine(GREET)  # type: ignore[operator]
    done = cli("start", name, "--input", '{"name": "Grace"}', "--wait", "--json")
    described = json.loads(done.out)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"hello": "Grace"}
    assert "ResponseMetadata" not in described


def test_a_failed_execution_exits_1_with_its_error(cli: Cli, machine: object) -> None:
    name = machine(BROKEN)  # type: ignore[operator]
    failed = cli("start", name, "--wait")
    assert failed.code == 1
    assert details(failed.out)["Status"] == "FAILED"
    assert details(failed.out)["Error"] == "Custom.Broken"
    assert failed.err == ""  # the execution failed, the command did not


def test_start_prints_the_execution_arn(cli: Cli, machine: object, tmp_path: Path) -> None:
    name = machine(PASS)  # type: ignore[operator]
    payload = tmp_path / "input.json"
    payload.write_text('{"from": "file"}')
    started = cli("start", name, "--input", f"@{payload}", "--name", "from-file")
    assert started.out == f"Started {EXECUTION_ARN}{name}:from-file\n"
    described = json.loads(cli("describe", f"{EXECUTION_ARN}{name}:from-file", "--json").out)
    assert json.loads(described["input"]) == {"from": "file"}
    as_json = json.loads(cli("start", name, "--json").out)
    assert as_json["executionArn"].startswith(f"{EXECUTION_ARN}{name}:")
    assert set(as_json) == {"executionArn", "startDate"}


def test_start_sync_runs_an_express_machine(cli: Cli, machine: object) -> None:
    name = machine(GREET, "--type", "EXPRESS")  # type: ignore[operator]
    done = cli("start", name, "--sync", "--input", '{"name": "Lin"}', "--json")
    assert done.code == 0
    assert json.loads(json.loads(done.out)["output"]) == {"hello": "Lin"}


@pytest.mark.parametrize(
    ("args", "error", "code"),
    [
        (["start", "no-such-machine"], "error: StateMachineDoesNotExist: ", 1),
        (["start", "{machine}", "--input", "{not json"], "error: InvalidExecutionInput: ", 1),
        (["start", "{machine}", "--input", "@/no/such/file"], "error: cannot read --input", 2),
        (["executions", "{machine}", "--status", "BORED"], "Invalid value for '--status'", 2),
        (["history", EXECUTION_ARN + "x:nope"], "error: ExecutionDoesNotExist: ", 1),
        (["history", EXECUTION_ARN + "x:nope", "--follow"], "error: ExecutionDoesNotExist: ", 1),
        (["list", "--endpoint", "nonsense"], "error: Invalid endpoint: nonsense", 1),
        (["stop", EXECUTION_ARN + "x:nope"], "error: ExecutionDoesNotExist: ", 1),
        # InvalidToken or TaskDoesNotExist: the server's choice; the shape is the CLI's
        (["send-heartbeat", "not-a-token"], "error: [A-Za-z]+: ", 1),
    ],
)
def test_errors_are_one_line_without_traceback(
    cli: Cli, machine: object, args: list[str], error: str, code: int
) -> None:
    name = machine(PASS)  # type: ignore[operator]
    failed = cli(*[arg.replace("{machine}", name) for arg in args])
    assert failed.code == code
    assert re.search(error, failed.err), failed.err
    assert len(failed.err.splitlines()) == 1 or code == 2  # usage errors show the usage
    assert "Traceback" not in failed.err


def test_executions_lists_newest_first_and_filters(cli: Cli, machine: object) -> None:
    good, bad = machine(GREET), machine(BROKEN)  # type: ignore[operator]
    for run in ("one", "two"):
        cli("start", good, "--name", run, "--input", '{"name": "x"}', "--wait")
    listed = cli("executions", good)
    rows = [line.split() for line in listed.out.splitlines()[1:]]
    assert [(row[0], row[1]) for row in rows] == [("two", "SUCCEEDED"), ("one", "SUCCEEDED")]
    assert cli("executions", bad).out == "No executions.\n"
    cli("start", bad, "--wait")
    assert json.loads(cli("executions", bad, "--status", "succeeded", "--json").out) == {
        "executions": []
    }
    failed = json.loads(cli("executions", bad, "--status", "FAILED", "--json").out)["executions"]
    assert [item["status"] for item in failed] == ["FAILED"]
    assert cli("executions", good, "--max", "1", "--json").out.count("executionArn") == 1


def test_history_table_and_json(cli: Cli, machine: object) -> None:
    name = machine(GREET)  # type: ignore[operator]
    cli("start", name, "--name", "h", "--input", '{"name": "Ada"}', "--wait")
    arn = f"{EXECUTION_ARN}{name}:h"
    table = cli("history", arn).out.splitlines()
    assert table[0].split() == ["ID", "Time", "Type", "State", "Details"]
    assert [line.split()[2] for line in table[1:]] == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    assert table[2].split()[3] == "Greet"
    events = json.loads(cli("history", arn, "--json").out)["events"]
    assert [event["id"] for event in events] == list(range(1, 8))
    assert events[-1]["executionSucceededEventDetails"]["output"] == '{"hello":"Ada"}'


def test_callback_success_failure_heartbeat(cli: Cli, server: Server, machine: object) -> None:
    name = machine(CALLBACK)  # type: ignore[operator]
    cli("start", name, "--name", "yes")
    cli("start", name, "--name", "no")
    token = server.token("yes")
    assert cli("send-heartbeat", token).out == "Sent task heartbeat.\n"
    assert cli("send-success", token, '{"answer": 42}').out == "Sent task success.\n"
    answered = json.loads(cli("describe", f"{EXECUTION_ARN}{name}:yes", "--wait", "--json").out)
    assert json.loads(answered["output"]) == {"answer": 42}

    refused = cli("send-failure", server.token("no"), "--error", "No.Way", "--cause", "declined")
    assert (refused.code, refused.out) == (0, "Sent task failure.\n")
    declined = cli("describe", f"{EXECUTION_ARN}{name}:no", "--wait", "--json")
    assert declined.code == 1  # it failed
    described = json.loads(declined.out)
    assert (described["error"], described["cause"]) == ("No.Way", "declined")

    again = cli("send-success", token, "{}")
    assert again.code == 1
    assert again.err.startswith("error: TaskTimedOut: ") or again.err.startswith("error: Task")


def test_send_success_json_output_and_file_output(
    cli: Cli, server: Server, machine: object, tmp_path: Path
) -> None:
    name = machine(CALLBACK)  # type: ignore[operator]
    cli("start", name, "--name", "file-output")
    output = tmp_path / "output.json"
    output.write_text('{"from": "a file"}')
    sent = cli("send-success", server.token("file-output"), f"@{output}", "--json")
    assert json.loads(sent.out) == {}
    arn = f"{EXECUTION_ARN}{name}:file-output"
    done = json.loads(cli("describe", arn, "--wait", "--json").out)
    assert json.loads(done["output"]) == {"from": "a file"}


def test_stop_aborts_a_running_execution(cli: Cli, server: Server, machine: object) -> None:
    name = machine(CALLBACK)  # type: ignore[operator]
    cli("start", name, "--name", "stopped")
    server.token("stopped")  # it is waiting for its callback
    arn = f"{EXECUTION_ARN}{name}:stopped"
    stopped = cli("stop", arn, "--error", "Operator", "--cause", "not needed")
    assert stopped.out == f"Stopped {arn}\n"
    ended = cli("describe", arn, "--wait", "--interval", "0.05")
    assert ended.code == 1
    assert details(ended.out)["Status"] == "ABORTED"
