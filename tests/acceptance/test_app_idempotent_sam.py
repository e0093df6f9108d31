"""Seed 1 as an application: ``examples/apps/idempotent-workflow-sam`` is AWS's published
SAM application, byte for byte (checked below against ``../shared/seeds`` when that is
present), run as ``stepwell up`` runs it — its template translated by AWS's SAM
translator, its two Python Lambdas in processes of their own (one logs with AWS Lambda
Powertools), its table created from the template — on SQLite and PostgreSQL, with virtual
time. The scenarios are the README's ("Testing").
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stepwell.service.settings import Settings
from stepwell.testing import LocalStack, local_stack
from tests.e2e.server import aws_cli

APP = Path(__file__).resolve().parents[2] / "examples" / "apps" / "idempotent-workflow-sam"
SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "idempotent-workflow-sam"

README_EVENT = {"top": "level", "nested": {"key1": "value1", "key2": "value2"}}
README_OUTPUT = {
    "step1": {"result": "Output of step 1"},
    "step2": {"result": "Output of step 2"},
    "step3": {"result": "Output of step 3"},
    "step4": {"result": "Output of step 4"},
    "randomFailureFunc": "All good",
}
ATTEMPTS = 40  # the failure function fails half the time: 2**-40 to never see an outcome


@pytest.fixture(scope="module")
def app(db: str) -> Iterator[LocalStack]:
    settings = Settings(db=db, workers=2, invokers=4)
    with local_stack(
        APP / "template.yaml", stack_name="idem", settings=settings, virtual_time=True
    ) as running:
        yield running


def run(app: LocalStack, event: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    sfn = app.client()
    arn = app.physical("IdempotentStateMachine")
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(event))["executionArn"]
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not finish"
        time.sleep(0.02)
    events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    return described, events


def ran_the_steps(events: list[dict[str, Any]]) -> bool:
    return any(
        e["type"] == "ParallelStateEntered"
        and e["stateEnteredEventDetails"]["name"] == "Your Workflow"
        for e in events
    )


def record(app: LocalStack, event: dict[str, Any]) -> dict[str, Any] | None:
    key = hashlib.sha256(json.dumps(event).encode()).hexdigest()
    table = app.physical("IdempotencyTable")
    item = app.host.services.dynamodb.get_item(TableName=table, Key={"id": {"S": key}})
    found: dict[str, Any] | None = item.get("Item")
    return found


def cli_record(app: LocalStack, folder: Path, key: str) -> dict[str, Any]:
    """The item of ``key`` as ``aws dynamodb scan --endpoint-url …`` shows it."""
    scanned = aws_cli(
        app.url, folder, "dynamodb", "scan", "--table-name", app.physical("IdempotencyTable"),
        "--filter-expression", "id = :key",
        "--expression-attribute-values", json.dumps({":key": {"S": key}}),
    )  # fmt: skip
    [item] = scanned["Items"]
    return dict(item)


def test_the_application_is_the_published_one_unchanged() -> None:
    if not SEED.is_dir():
        pytest.skip("../shared/seeds is not beside this checkout")
    compared = filecmp.dircmp(APP, SEED)
    assert not compared.left_only and not compared.right_only and not compared.diff_files
    for name in ("template.yaml", "statemachine/statemachine.asl.json"):
        assert (APP / name).read_bytes() == (SEED / name).read_bytes()
    for name in ("lambda/idempotency-config/index.py", "lambda/inject-failure/index.py"):
        assert (APP / name).read_bytes() == (SEED / name).read_bytes()


def test_the_readme_event_succeeds_with_the_readme_output_then_comes_from_dynamodb(
    app: LocalStack, tmp_path: Path
) -> None:
    for _ in range(ATTEMPTS):
        described, events = run(app, README_EVENT)
        assert ran_the_steps(events)  # no stored result yet: it takes the lock
        if described["status"] == "SUCCEEDED":
            break
        assert described["status"] == "FAILED"
    assert json.loads(described["output"]) == README_OUTPUT
    stored = record(app, README_EVENT)
    assert stored is not None
    # The README says SUCCESS; the published definition writes SUCCEEDED, as AWS would.
    assert stored["executionstatus"] == {"S": "SUCCEEDED"}
    assert json.loads(stored["executionresult"]["S"]) == README_OUTPUT
    assert len(stored["id"]["S"]) == 64
    assert cli_record(app, tmp_path, stored["id"]["S"]) == stored

    again, events = run(app, README_EVENT)
    assert again["status"] == "SUCCEEDED"
    assert json.loads(again["output"]) == README_OUTPUT
    assert not ran_the_steps(events)  # the stored result, without running the steps


def test_a_failure_is_recorded_and_the_next_run_takes_the_lock_again(app: LocalStack) -> None:
    for attempt in range(ATTEMPTS):
        event = {"attempt": attempt, "test": "failure"}
        described, _ = run(app, event)
        if described["status"] == "FAILED":
            break
    assert described["status"] == "FAILED"
    stored = record(app, event)
    assert stored is not None and stored["executionstatus"] == {"S": "FAILED"}

    _retried, events = run(app, event)
    assert ran_the_steps(events)  # FAILED does not hold the lock


def test_ttl_expiry_frees_the_key(app: LocalStack) -> None:
    event = {"test": "ttl"}
    for _ in range(ATTEMPTS):
        described, _ = run(app, event)
        if described["status"] == "SUCCEEDED":
            break
    assert record(app, event) is not None
    _, events = run(app, event)
    assert not ran_the_steps(events)

    app.advance(25 * 3600)  # the function set a TTL 24 hours ahead
    assert record(app, event) is None
    _, events = run(app, event)
    assert ran_the_steps(events)
