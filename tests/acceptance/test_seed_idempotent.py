"""Seed 1, the idempotent workflow with concurrency control, through boto3 against a real
server (``examples/idempotent/``).

The seed (aws-samples "idempotent-workflow-sam", README): the key is a hash of the input,
or of what the JMESPath in ``idempotencyKeyJmespath`` selects; a conditional put of
``IN_PROGRESS`` is the semaphore; the steps run in a Parallel whose last step fails at
random; the result is stored as ``SUCCESS`` (or ``FAILED``) with a 24-hour ``ttl``; a
second run with the same input returns the stored result; a run that finds
``IN_PROGRESS`` reads the record every 10 s until ``SUCCESS``, or ``FAILED`` and then
takes the lock again. DynamoDB TTL: Developer Guide, "Using time to live (TTL) in
DynamoDB" (an item whose ``ttl`` epoch seconds have passed is expired).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from examples.idempotent.functions import IdempotentFunctions, create_table, idempotency_key
from examples.local_stepwell import LocalStepwell, local_stepwell

DEFINITION = Path(__file__).parents[2] / "examples" / "idempotent" / "idempotent.asl.json"
START = datetime.fromisoformat("2024-05-01T09:00Z")
DAY = 24 * 60 * 60
# The result the seed's README shows for a run whose random failure did not fail.
RESULT = {
    "step1": {"result": "Output of step 1"},
    "step2": {"result": "Output of step 2"},
    "step3": {"result": "Output of step 3"},
    "step4": {"result": "Output of step 4"},
    "randomFailureFunc": "All good",
}


@pytest.fixture(scope="module")
def local(db: str) -> Iterator[LocalStepwell]:
    with local_stepwell({}, start=START, db=db) as running:
        create_table(running.services.dynamodb)
        yield running


@pytest.fixture(scope="module")
def machine(local: LocalStepwell) -> str:
    return local.create_state_machine("IdempotentWorkflow", DEFINITION)


@pytest.fixture
def functions(local: LocalStepwell) -> IdempotentFunctions:
    """Fresh functions for each test; the random failure never fails unless told to."""
    fresh = IdempotentFunctions(failure_rate=0.0)
    for name, function in fresh.by_name().items():
        local.register_function(name, function)
    return fresh


def run(local: LocalStepwell, machine: str, data: Any) -> dict[str, Any]:
    return local.run_until_done(local.start_execution(machine, data))


def record(local: LocalStepwell, data: Any) -> dict[str, Any] | None:
    key = {"id": {"S": idempotency_key(data)}}
    found = local.services.dynamodb.get_item(TableName="IdempotencyTable", Key=key)
    item: dict[str, Any] | None = found.get("Item")
    return item


def entered(local: LocalStepwell, execution: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in local.history(execution)
        if e["type"].endswith("StateEntered")
    ]


def polls(local: LocalStepwell, execution: str) -> list[float]:
    """When (seconds after its start) the execution entered the 10 s Wait."""
    started = local.describe(execution)["startDate"]
    waits = local.events(execution, "WaitStateEntered")
    return [(e["timestamp"] - started).total_seconds() for e in waits]


def test_the_first_run_executes_the_steps_and_stores_success_for_24_hours(
    local: LocalStepwell, machine: str, functions: IdempotentFunctions
) -> None:
    data = {"top": "level", "nested": {"key1": "value1", "key2": "value2"}}
    now = local.clock.now()
    described = run(local, machine, data)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == RESULT
    assert (functions.step.calls, functions.random_failure.calls) == ([1, 2, 3, 4], 1)
    stored = record(local, data)
    assert stored is not None
    assert stored["executionstatus"] == {"S": "SUCCESS"}
    assert json.loads(stored["executionresult"]["S"]) == RESULT
    assert stored["ttl"] == {"N": str(int(now) + DAY)}
    assert stored["executionid"] == {"S": described["executionArn"]}


def test_a_second_identical_run_returns_the_stored_result_without_the_steps(
    local: LocalStepwell, machine: str, functions: IdempotentFunctions
) -> None:
    data = {"order": "second-run"}
    first = run(local, machine, data)
    second = run(local, machine, data)
    assert second["status"] == "SUCCEEDED"
    assert json.loads(second["output"]) == json.loads(first["output"]) == RESULT
    assert functions.work_calls == 5  # the first run's four steps and random failure only
    states = entered(local, second["executionArn"])
    assert "Workflow steps" not in states
    assert states[-1] == "Return previous result"


def test_the_key_comes_from_idempotency_key_jmespath_when_given(
    local: LocalStepwell, machine: str, functions: IdempotentFunctions
) -> None:
    keyed = {
        "nested": {"key1": "a", "key2": "b"},
        "idempotencyKeyJmespath": "[nested.key1, nested.key2]",
    }
    run(local, machine, {**keyed, "requestId": "r-1"})
    again = run(local, machine, {**keyed, "requestId": "r-2"})  # same selected values
    assert json.loads(again["output"]) == RESULT
    assert functions.work_calls == 5
    digest = hashlib.sha256(b'["a","b"]').hexdigest()
    assert idempotency_key({**keyed, "requestId": "r-3"}) == digest
    other = run(local, machine, {**keyed, "nested": {"key1": "a", "key2": "c"}})
    assert other["status"] == "SUCCEEDED" and functions.work_calls == 10
    unkeyed = {"nested": {"key1": "a", "key2": "b"}}  # the whole input, requestId included
    run(local, machine, {**unkeyed, "requestId": "r-1"})
    run(local, machine, {**unkeyed, "requestId": "r-2"})
    assert functions.work_calls == 20


def hold_first_run(
    local: LocalStepwell, machine: str, functions: IdempotentFunctions, data: Any
) -> tuple[str, str, threading.Event]:
    """Start one run and keep it in its first step; start a second that then waits."""
    functions.step.hold = hold = threading.Event()
    first = local.start_execution(machine, data)
    local.wait_for(functions.step.holding.is_set, what="the first run to reach its steps")
    second = local.start_execution(machine, data)
    local.wait_for_events(second, "WaitStateEntered", 1)
    return first, second, hold


def release(functions: IdempotentFunctions, hold: threading.Event) -> None:
    functions.step.hold = None
    hold.set()


def test_a_concurrent_run_polls_every_10_seconds_until_success(
    local: LocalStepwell, machine: str, functions: IdempotentFunctions
) -> None:
    data = {"order": "concurrent"}
    first, second, hold = hold_first_run(local, machine, functions, data)
    stored = record(local, data)
    assert stored is not None
    assert (stored["executionstatus"], stored["executionid"]) == (
        {"S": "IN_PROGRESS"},
        {"S": first},
    )
    for count in (2, 3):
        local.advance(10, settle=False)  # the first run still works: nothing settles
        local.wait_for_events(second, "WaitStateEntered", count)
    assert local.describe(second)["status"] == "RUNNING"
    release(functions, hold)
    local.wait_for(lambda: local.describe(first)["status"] == "SUCCEEDED", what="the first run")
    local.advance(10)
    described = local.run_until_done(second)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == RESULT
    assert polls(local, second) == [0, 10, 20]
    assert (described["stopDate"] - described["startDate"]).total_seconds() == 30
    assert functions.work_calls == 5  # the steps ran once, in the first run


def test_a_concurrent_run_takes_the_lock_when_the_other_fails(
    local: LocalStepwell, machine: str, functions: IdempotentFunctions
) -> None:
    data = {"order": "concurrent-failure"}
    first, second, hold = hold_first_run(local, machine, functions, data)
    functions.random_failure.failure_rate = 1.0
    release(functions, hold)
    local.wait_for(lambda: local.describe(first)["status"] == "FAILED", what="the first run")
    functions.random_failure.failure_rate = 0.0
    local.advance(10)
    described = local.run_until_done(second)
    assert described["status"] == "SUCCEEDED"
    assert functions.work_calls == 10  # both runs ran the steps
    assert entered(local, second).count("Lock idempotency key") == 2


def test_a_random_failure_stores_failed_and_the_next_run_takes_the_lock_again(
    local: LocalStepwell, machine: str, functions: IdempotentFunctions
) -> None:
    data = {"order": "failing"}
    functions.random_failure.failure_rate = 1.0
    failed = run(local, machine, data)
    assert (failed["status"], failed["error"]) == ("FAILED", "RandomFailure")
    assert entered(local, failed["executionArn"])[-2:] == ["Record failure", "Failure"]
    stored = record(local, data)
    assert stored is not None and stored["executionstatus"] == {"S": "FAILED"}
    assert json.loads(stored["executionerror"]["S"])["Error"] == "RandomFailure"
    functions.random_failure.failure_rate = 0.0
    retried = run(local, machine, data)
    assert retried["status"] == "SUCCEEDED"
    assert functions.work_calls == 10
    assert record(local, data)["executionstatus"] == {"S": "SUCCESS"}  # type: ignore[index]


def test_ttl_expiry_frees_the_key(
    local: LocalStepwell, machine: str, functions: IdempotentFunctions
) -> None:
    data = {"order": "expiring"}
    run(local, machine, data)
    stored = record(local, data)
    assert stored is not None
    expiry = int(stored["ttl"]["N"])
    local.advance(expiry - local.clock.now())  # the TTL's very second: not yet past
    assert run(local, machine, data)["status"] == "SUCCEEDED"
    assert functions.work_calls == 5
    local.advance(1)
    assert record(local, data) is None  # expired: gone, as DynamoDB eventually deletes it
    again = run(local, machine, data)
    assert json.loads(again["output"]) == RESULT
    assert functions.work_calls == 10  # the steps ran again
    renewed = record(local, data)
    assert renewed is not None and int(renewed["ttl"]["N"]) == expiry + 1 + DAY
