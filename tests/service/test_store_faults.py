"""What a client and an operator see when the store fails (issue 9, faults 2 and 3):
a retryable ``503 ServiceUnavailable`` saying what is wrong, never a 500; ``GET /health``
with the store's verdict and every loop; input deeper than the one documented depth
limit refused with a 400; a clear word when the PostgreSQL extra is missing."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from stepwell.engine.serialize import MAX_DEPTH
from stepwell.service import errors as err
from stepwell.service.settings import Settings
from stepwell.store.base import Store
from stepwell.testing import local_stepwell
from tests.service.harness import Harness

TARGET = "AWSStepFunctions."
ROLE = "arn:aws:iam::123456789012:role/stepwell"
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def call(url: str, operation: str, **members: Any) -> httpx.Response:
    return httpx.post(
        url + "/",
        content=json.dumps(members),
        headers={
            "content-type": "application/x-amz-json-1.0",
            "x-amz-target": TARGET + operation,
        },
        timeout=30,
    )


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_a_deleted_sqlite_file_answers_503_with_the_reason_and_health_says_so(
    tmp_path: Path,
) -> None:
    path = tmp_path / "stepwell.db"
    with local_stepwell(Settings(db=str(path), workers=1, invokers=1)) as sw:
        healthy = httpx.get(sw.url + "/health", timeout=30)
        assert healthy.status_code == 200
        assert healthy.json()["status"] == "ok"
        assert {loop["name"] for loop in healthy.json()["loops"]} >= {"advance-0", "listen"}
        created = call(
            sw.url, "CreateStateMachine", name="m", definition=json.dumps(PASS), roleArn=ROLE
        )
        assert created.status_code == 200
        path.unlink()
        for operation, members in [
            ("CreateStateMachine", {"name": "n", "definition": json.dumps(PASS), "roleArn": ROLE}),
            ("ListStateMachines", {}),
            ("StartExecution", {"stateMachineArn": created.json()["stateMachineArn"]}),
        ]:
            answer = call(sw.url, operation, **members)
            assert answer.status_code == 503, answer.text
            assert answer.json()["__type"] == "ServiceUnavailable"
            assert "was deleted or replaced while Stepwell was running" in answer.json()["message"]
        health = httpx.get(sw.url + "/health", timeout=30)
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable"
        assert "deleted or replaced" in health.json()["store"]["error"]
    assert not path.exists()  # nothing wrote a new, empty database in its place


@pytest.mark.parametrize(
    ("depth", "accepted"), [(1, True), (MAX_DEPTH, True), (MAX_DEPTH + 1, False), (1024, False)]
)
def test_input_deeper_than_the_depth_limit_is_refused(
    store: Store, depth: int, accepted: bool
) -> None:
    """One depth limit: what the API accepts, the runtime can run, even wrapped deeper
    by the workflow (Parameters, ResultPath) and kept in history."""
    h = Harness(store)
    arn = h.machine(
        {
            "StartAt": "Wrap",
            "States": {
                "Wrap": {
                    "Type": "Pass",
                    "Parameters": {"a": {"b": {"c.$": "$"}}},
                    "ResultPath": "$.x.y",
                    "Next": "Again",
                },
                "Again": {"Type": "Pass", "Parameters": {"d.$": "$"}, "End": True},
            },
        }
    )
    text = '{"v": ' + nested(depth - 1) + "}" if depth > 1 else "{}"
    if not accepted:
        with pytest.raises(err.InvalidExecutionInput, match=f"more than {MAX_DEPTH} levels"):
            h.call("StartExecution", stateMachineArn=arn, input=text)
        return
    execution = h.call("StartExecution", stateMachineArn=arn, input=text)["executionArn"]
    h.worker.run_until_idle()
    done = h.call("DescribeExecution", executionArn=execution)
    assert done["status"] == "SUCCEEDED", done.get("cause")
    assert json.loads(done["output"])["d"]["x"]["y"]["a"]["b"]["c"] == json.loads(text)


@pytest.mark.parametrize(("depth", "accepted"), [(MAX_DEPTH, True), (MAX_DEPTH + 1, False)])
def test_task_output_deeper_than_the_depth_limit_is_refused(
    store: Store, depth: int, accepted: bool
) -> None:
    """SendTaskSuccess keeps the same limit as StartExecution: a deeper output is an
    InvalidOutput for the caller, not a step that fails later inside the runtime."""
    h = Harness(store)
    activity = h.call("CreateActivity", name="review")["activityArn"]
    arn = h.machine(
        {
            "StartAt": "Review",
            "States": {"Review": {"Type": "Task", "Resource": activity, "End": True}},
        }
    )
    execution = h.start(arn)
    h.worker.run_until_idle()
    token = h.call("GetActivityTask", activityArn=activity)["taskToken"]
    output = nested(depth)
    if not accepted:
        with pytest.raises(err.InvalidOutput, match=f"more than {MAX_DEPTH} levels"):
            h.call("SendTaskSuccess", taskToken=token, output=output)
        assert h.call("DescribeExecution", executionArn=execution)["status"] == "RUNNING"
        return
    h.call("SendTaskSuccess", taskToken=token, output=output)
    h.worker.run_until_idle()
    done = h.call("DescribeExecution", executionArn=execution)
    assert done["status"] == "SUCCEEDED", done.get("cause")
    assert json.loads(done["output"]) == json.loads(output)


HOSTILE_INPUTS = [
    (nested(300), f"nested more than {MAX_DEPTH} levels deep"),
    (nested(100_000), f"nested more than {MAX_DEPTH} levels deep"),  # past orjson's 1,024
    ("1" * 5000, "a number is too long"),  # past Python's 4,300-digit conversion
    ('{"a": ' + "1" * 5000 + "}", "a number is too long"),
]


@pytest.mark.parametrize(("text", "reason"), HOSTILE_INPUTS)
@pytest.mark.parametrize("operation", ["StartExecution", "StartSyncExecution", "TestState"])
def test_the_api_answers_hostile_input_with_400(text: str, reason: str, operation: str) -> None:
    with local_stepwell() as sw:
        kind = "EXPRESS" if operation == "StartSyncExecution" else "STANDARD"
        machine = call(
            sw.url,
            "CreateStateMachine",
            name="m",
            definition=json.dumps(PASS),
            roleArn=ROLE,
            type=kind,
        ).json()["stateMachineArn"]
        target = (
            {"definition": json.dumps({"Type": "Pass", "End": True})}
            if operation == "TestState"
            else {"stateMachineArn": machine}
        )
        answer = call(sw.url, operation, input=text, **target)
        assert answer.status_code == 400
        assert answer.json()["__type"] == "InvalidExecutionInput"
        assert reason in answer.json()["message"]


def test_postgresql_without_the_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "stepwell.store.postgres", raising=False)
    from stepwell.store import open_store

    with pytest.raises(ImportError, match=r"pip install 'stepwell\[postgres\]'"):
        open_store("postgresql://postgres@127.0.0.1:1/nothing")
