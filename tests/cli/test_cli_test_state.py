"""``stepwell test-state``: TestState with no server (issue 10), every request member an
option, the answer printed as JSON, a refused request an AWS error and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stepwell.cli import main
from tests.cli.conftest import Outcome

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEED = str(EXAMPLES / "idempotent" / "idempotent.asl.json")


def test_state(capsys: pytest.CaptureFixture[str], *args: str) -> Outcome:
    code = main(["test-state", *args])
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


test_state.__test__ = False  # type: ignore[attr-defined]


def test_a_state_of_a_seed_with_a_mocked_dynamodb_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    mock = tmp_path / "mock.json"
    mock.write_text('{"errorOutput": {"error": "DynamoDB.ConditionalCheckFailedException"}}')
    done = test_state(
        capsys,
        SEED,
        "--state-name",
        "Lock idempotency key",
        "--input",
        '{"idempotencyConfig": {"idempotencyKey": "k", "ttl": "1"}}',
        "--mock",
        f"@{mock}",
        "--inspection-level",
        "DEBUG",
        "--state-configuration",
        '{"retrierRetryCount": 0}',
    )
    answer = json.loads(done.out)
    assert (done.code, answer["status"], answer["nextState"]) == (
        0,
        "CAUGHT_ERROR",
        "Get idempotency record",
    )
    assert answer["inspectionData"]["errorDetails"] == {"catchIndex": 0}


def test_variables_and_context_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    definition = tmp_path / "task.json"
    definition.write_text(
        json.dumps(
            {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"v.$": "$limit", "name.$": "$$.Execution.Name"},
                "End": True,
            }
        )
    )
    done = test_state(
        capsys,
        str(definition),
        "--variables",
        '{"limit": 3}',
        "--context",
        '{"Execution": {"Name": "given"}}',
        "--mock",
        '{"result": "{\\"StatusCode\\": 200}"}',
        "--inspection-level",
        "TRACE",
    )
    data = json.loads(done.out)["inspectionData"]
    assert json.loads(data["afterParameters"]) == {"v": 3, "name": "given"}
    assert json.loads(data["variables"]) == {"limit": 3}


def test_an_unmocked_task_calls_python_functions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    definition = tmp_path / "task.json"
    resource = "arn:aws:lambda:us-east-1:123456789012:function:echo"
    definition.write_text(json.dumps({"Type": "Task", "Resource": resource, "End": True}))
    functions = tmp_path / "functions.py"
    functions.write_text("def echo(event):\n    return {'got': event}\n")
    done = test_state(
        capsys,
        str(definition),
        "--functions",
        str(functions),
        "--role-arn",
        "arn:aws:iam::123456789012:role/r",
        "--input",
        '{"job": "j", "attempt": 9}',
        "--no-reveal-secrets",
    )
    assert done.code == 0
    assert json.loads(done.out) == {
        "status": "SUCCEEDED",
        "output": '{"got":{"job":"j","attempt":9}}',
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mock", '{"result": "{}", "errorOutput": {}}'], "ValidationException: A test mock"),
        (["--mock", "[1]"], "--mock must be a JSON object"),
        (["--mock", "{nope"], "--mock is not valid JSON"),
    ],
)
def test_refused_requests_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    definition = tmp_path / "task.json"
    definition.write_text(
        '{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}'
    )
    done = test_state(capsys, str(definition), *args)
    assert done.code == 2 and message in done.err
