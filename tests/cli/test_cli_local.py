"""``stepwell run`` and ``stepwell validate``: no server, exit codes, text and JSON."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from stepwell.cli import main
from stepwell.cli.output import json_bytes
from tests.cli.conftest import Outcome, details, run_stepwell

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BUSY_WAITING = str(EXAMPLES / "busy_waiting.asl.json")
BUSY_FUNCTIONS = str(EXAMPLES / "busy_waiting.py")
INVALID = '{"StartAt": "X",\n "States": {"X": {"Type": "Pasz", "End": true}}}'


@pytest.fixture
def stepwell(capsys: pytest.CaptureFixture[str]) -> object:
    def run(*args: str) -> Outcome:
        code = main(list(args))
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run


def write(tmp_path: Path, text: str, name: str = "machine.asl.json") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_run_shows_status_and_output(stepwell: object) -> None:
    done = stepwell("run", BUSY_WAITING, "--functions", BUSY_FUNCTIONS, "--input", '{"job": "r"}')  # type: ignore[operator]
    assert (done.code, done.err) == (0, "")
    assert details(done.out)["Status"] == "SUCCEEDED"
    assert '"status": "success"' in done.out


def test_run_json_keeps_its_report_shape(stepwell: object) -> None:
    done = stepwell(  # type: ignore[operator]
        "run",
        BUSY_WAITING,
        "--functions",
        BUSY_FUNCTIONS,
        "--input",
        '{"job": "r"}',
        "--json",
        "--history",
    )
    report = json.loads(done.out)
    assert report["status"] == "SUCCEEDED"
    assert report["output"] == {"job": "r", "status": "success", "polls": 3}
    assert report["history"][0]["type"] == "ExecutionStarted"
    assert report["history"][-1]["type"] == "ExecutionSucceeded"
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", report["history"][0]["timestamp"]
    )


def test_run_history_table_lists_every_event(stepwell: object) -> None:
    done = stepwell("run", BUSY_WAITING, "--functions", BUSY_FUNCTIONS, "--history")  # type: ignore[operator]
    table = [line.split() for line in done.out.splitlines()]
    assert table[0] == ["ID", "Time", "Type", "State", "Details"]
    retried = [row for row in table if len(row) > 2 and row[2] == "TaskFailed"]
    assert retried and retried[0][3] == "Main"
    assert "Lambda.ServiceException:" in retried[0]


def test_run_reads_input_from_stdin(
    stepwell: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    echo = '{"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": true}}}'
    monkeypatch.setattr("sys.stdin", io.StringIO('{"from": "stdin"}'))
    done = stepwell("run", write(tmp_path, echo), "--input", "@-", "--json")  # type: ignore[operator]
    assert json.loads(done.out) == {"status": "SUCCEEDED", "output": {"from": "stdin"}}


def test_json_output_keeps_integers_beyond_64_bits() -> None:
    assert json_bytes({"n": 2**70}) == b'{\n  "n": 1180591620717411303424\n}'
    assert json_bytes([2**70], indent=False) == b"[1180591620717411303424]"


def test_run_failed_execution_exits_1(stepwell: object, tmp_path: Path) -> None:
    fail = '{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "c"}}}'
    failed = stepwell("run", write(tmp_path, fail), "--json")  # type: ignore[operator]
    assert failed.code == 1
    assert json.loads(failed.out) == {"status": "FAILED", "error": "E", "cause": "c"}
    shown = stepwell("run", write(tmp_path, fail))  # type: ignore[operator]
    assert (details(shown.out)["Error"], details(shown.out)["Cause"]) == ("E", "c")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "{nope"], "error: --input is not valid JSON: "),
        (
            ["--input", "@/no/such/input.json"],
            "error: cannot read --input from /no/such/input.json",
        ),
        (
            ["--functions", "no_such_module_here"],
            "error: cannot load functions from no_such_module_here",
        ),
    ],
)
def test_run_local_mistakes_exit_2(stepwell: object, args: list[str], message: str) -> None:
    failed = stepwell("run", BUSY_WAITING, *args)  # type: ignore[operator]
    assert failed.code == 2
    assert failed.err.startswith(message)
    assert "Traceback" not in failed.err


def test_run_invalid_definition_exits_2_with_locations(stepwell: object, tmp_path: Path) -> None:
    path = write(tmp_path, INVALID)
    failed = stepwell("run", path)  # type: ignore[operator]
    assert failed.code == 2
    first, located = failed.err.splitlines()
    assert first.startswith("error: InvalidDefinition: Invalid State Machine Definition:")
    assert located.startswith(f"{path}:2:")


def test_validate_prints_file_line_col_and_exits_1_on_errors(
    stepwell: object, tmp_path: Path
) -> None:
    path = write(tmp_path, INVALID)
    checked = stepwell("validate", path, BUSY_WAITING)  # type: ignore[operator]
    assert checked.code == 1
    assert checked.out == (
        f'{path}:2:27: ERROR SCHEMA_VALIDATION_FAILED: The state type "Pasz" is not valid '
        "(/States/X/Type)\n"
    )
    assert stepwell("validate", BUSY_WAITING).code == 0  # type: ignore[operator]


def test_validate_json_is_shaped_like_the_api_with_file_positions(
    stepwell: object, tmp_path: Path
) -> None:
    path = write(tmp_path, INVALID)
    checked = stepwell("validate", path, BUSY_WAITING, "--json")  # type: ignore[operator]
    assert checked.code == 1
    assert json.loads(checked.out) == {
        "result": "FAIL",
        "diagnostics": [
            {
                "file": path,
                "line": 2,
                "column": 27,
                "severity": "ERROR",
                "code": "SCHEMA_VALIDATION_FAILED",
                "message": 'The state type "Pasz" is not valid',
                "location": "/States/X/Type",
            }
        ],
    }
    fine = stepwell("validate", BUSY_WAITING, "--json")  # type: ignore[operator]
    assert (fine.code, json.loads(fine.out)) == (0, {"result": "OK", "diagnostics": []})


def test_a_file_that_is_not_text_is_a_local_error(stepwell: object, tmp_path: Path) -> None:
    path = tmp_path / "binary.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    for command in ("validate", "run"):
        failed = stepwell(command, str(path))  # type: ignore[operator]
        assert failed.code == 2
        assert failed.err.startswith(f"error: cannot read {path}: not UTF-8 text")


def test_validate_colours_on_a_terminal(
    stepwell: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    checked = stepwell("validate", write(tmp_path, INVALID))  # type: ignore[operator]
    assert "\x1b[1;31mERROR" in checked.out  # bold red
    assert re.sub(r"\x1b\[[0-9;]*m", "", checked.out).endswith("(/States/X/Type)\n")


def test_python_dash_m_stepwell_runs_and_validates(tmp_path: Path) -> None:
    done = run_stepwell("run", BUSY_WAITING, "--functions", BUSY_FUNCTIONS, "--json")
    assert done.code == 0
    assert json.loads(done.out)["status"] == "SUCCEEDED"
    checked = run_stepwell("validate", write(tmp_path, INVALID))
    assert checked.code == 1
    assert ": ERROR SCHEMA_VALIDATION_FAILED: " in checked.out
    assert "\x1b[" not in checked.out  # a pipe gets no colour


def test_help_and_usage_errors(stepwell: object) -> None:
    helped = stepwell("--help")  # type: ignore[operator]
    assert helped.code == 0
    for command in ("run", "validate", "serve", "create", "start", "history", "send-success"):
        assert re.search(rf"^\s+{command}\s", helped.out, re.MULTILINE), command
    unknown = stepwell("frobnicate")  # type: ignore[operator]
    assert unknown.code == 2
    assert "No such command 'frobnicate'" in unknown.err
