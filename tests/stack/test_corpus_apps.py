"""Published SAM applications pass ``stepwell up --check`` (issue 13: "A held-out set of
published SAM applications ... should come up with ``stepwell up``"; resources Stepwell
cannot emulate are "accepted and reported once as 'not emulated', never a failure").

Each folder of ``corpus/`` is one application from AWS's sample repositories
(``corpus/SOURCES.tsv`` names the repository, path and commit): its template and
state machine definitions as published (banner comments trimmed at most), its function
code replaced by small stand-ins written for these tests. Planning and checking must
find no problem, and every state machine's definition, with its substitutions applied
as ``stepwell up`` applies them, must be one CreateStateMachine accepts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from stepwell.stack.checks import check_plan
from stepwell.stack.plan import plan_stack
from stepwell.testing import local_stack
from tests.stack.test_apply import finished

CORPUS = Path(__file__).resolve().parent / "corpus"
TEMPLATES = {path.parent.name: path for path in CORPUS.glob("*/template.y*ml")}
APPS = sorted(TEMPLATES)
# Parameters without a Default, which `sam deploy --guided` asks for (the samples' READMEs
# say what to give); Stepwell takes them as --parameter-overrides.
PARAMETERS = {
    "sfn-sns": {"SNSEndpoint": "someone@example.com"},
    "execution-error-notification-workflow": {"EmailAddress": "someone@example.com"},
    "callback-example": {"CallbackEmail": "someone@example.com"},
    "step-functions-load-testing": {"LambdaFunctionName": "function-under-load"},
    "dynamodb-migrations": {
        "TableName": "orders",
        "TableARN": "arn:aws:dynamodb:us-east-1:123456789012:table/orders",
    },
    "dynamodb-transfer": {
        "SourceTableName": "source",
        "SourceTableARN": "arn:aws:dynamodb:us-east-1:123456789012:table/source",
        "TargetTableName": "target",
        "TargetTableARN": "arn:aws:dynamodb:us-east-1:123456789012:table/target",
    },
}


def test_the_corpus_is_there_and_sourced() -> None:
    rows = [row.split("\t") for row in (CORPUS / "SOURCES.tsv").read_text().splitlines()[1:]]
    sourced = [row[0] for row in rows]
    assert len(APPS) >= 50
    assert sorted(sourced) == APPS  # one row per application, and an application per row
    assert all(len(row[3]) == 40 for row in rows)


@pytest.mark.parametrize("app", APPS)
def test_published_application_passes_the_check(app: str) -> None:
    plan = plan_stack(TEMPLATES[app], stack_name=app, parameters=PARAMETERS.get(app))
    problems = check_plan(plan).problems
    if shutil.which("node") is None:  # Node.js functions need node; this machine has none
        problems = [p for p in problems if "needs `node` on the PATH" not in p]
    assert problems == []
    assert plan.of_kind("state machine")


@pytest.mark.parametrize("app", APPS)
def test_published_application_comes_up(app: str) -> None:
    with local_stack(TEMPLATES[app], stack_name=app, parameters=PARAMETERS.get(app)) as stack:
        sfn = stack.client()
        for machine in stack.plan.of_kind("state machine"):
            described = sfn.describe_state_machine(
                stateMachineArn=stack.physical(machine.logical_id)
            )
            assert described["status"] == "ACTIVE"


RETRIES_APP = CORPUS / "workflow-dynamic-retries-and-error-handling" / "template.yaml"


def test_dynamic_retries_runs_its_readme_test_events() -> None:
    # The sample's README: {"retries": 3, "payload": {"failureRate": 1}} makes "the
    # business logic Lambda function failing three consecutive times" before the error
    # handler takes over and the workflow succeeds; with failureRate 0 it runs "through
    # the path without retries".
    with local_stack(RETRIES_APP, stack_name="retries") as stack:
        sfn = stack.client()
        machine = stack.physical("ErrorRetryStateMachine")
        failing = sfn.start_execution(
            stateMachineArn=machine, input='{"retries": 3, "payload": {"failureRate": 1}}'
        )
        described = finished(stack, failing["executionArn"])
        events = sfn.get_execution_history(executionArn=failing["executionArn"])["events"]
        passing = sfn.start_execution(
            stateMachineArn=machine, input='{"retries": 3, "payload": {"failureRate": 0}}'
        )
        straight = finished(stack, passing["executionArn"])
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"handled": "RateFailure"}
    assert [e["type"] for e in events].count("TaskFailed") == 3
    assert straight["status"] == "SUCCEEDED"
    assert json.loads(straight["output"]) == {"succeeded": True}


def test_the_sam_quick_start_stock_trader_trades_and_records() -> None:
    # `sam init`'s Step Functions quick start: an execution checks a mock price, buys at
    # 50 or less and sells above, and records the transaction in the table.
    with local_stack(TEMPLATES["stock-trader"], stack_name="trader") as stack:
        sfn = stack.client()
        machine = stack.physical("StockTradingStateMachine")
        started = sfn.start_execution(stateMachineArn=machine, input="{}")
        described = finished(stack, started["executionArn"])
        events = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
        items = stack.client("dynamodb").scan(TableName=stack.physical("TransactionTable"))
    assert described["status"] == "SUCCEEDED"
    # A Task whose Resource is a function ARN records LambdaFunction* events.
    checked = next(e for e in events if e["type"] == "LambdaFunctionSucceeded")
    price = json.loads(checked["lambdaFunctionSucceededEventDetails"]["output"])["stock_price"]
    [item] = items["Items"]
    assert item["Type"] == {"S": "buy" if price <= 50 else "sell"}
    assert item["Price"] == {"N": str(price)}


def test_the_unquoted_format_version_date_is_read_as_text() -> None:
    # CloudFormation User Guide, "Format version": a literal string; YAML reads the
    # unquoted 2010-09-09 of the step-functions-only quick start as a date.
    plan = plan_stack(TEMPLATES["step-functions-only"], stack_name="hello")
    assert plan.get("HelloStateMachine") is not None


def test_batch_write_fills_the_table_in_batches_of_25() -> None:
    # The sample's README: start with the default input; once the execution completes the
    # table holds the generated items (id, name, rating). Its function is called through
    # a qualified ARN (`${LambdaFunctionARN}:$LATEST`) and a distributed Map writes
    # batches of 25 with BatchWriteItem.
    with local_stack(TEMPLATES["sfn-dynamodb-batchwriteitem"], stack_name="batch") as stack:
        sfn = stack.client()
        machine = stack.physical("BatchWriterStateMachine")
        started = sfn.start_execution(stateMachineArn=machine)
        described = finished(stack, started["executionArn"])
        table = stack.plan.outputs["DynamoDBTableName"]
        items = stack.client("dynamodb").scan(TableName=table)["Items"]
    assert described["status"] == "SUCCEEDED", described
    assert table == stack.physical("DataStoreTable")
    assert len(items) == 60
    assert {frozenset(item) for item in items} == {frozenset({"id", "name", "rating"})}
    assert json.loads(described["output"]) == [{"UnprocessedItems": {}}] * 3
