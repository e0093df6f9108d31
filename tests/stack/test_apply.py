"""Applying a plan: create-or-update, data kept across runs, removed resources deleted,
functions in processes, SQS event sources (with partial batch failures), schedules that
invoke functions — a small application through boto3 against a real server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stepwell.runtime.event_sources import SqsEventSource
from stepwell.service.settings import Settings
from stepwell.stack.apply import apply_plan
from stepwell.stack.checks import check_plan
from stepwell.stack.plan import plan_stack
from stepwell.stack.template import StackError
from stepwell.testing import LocalStack, local_stack, local_stepwell

APP = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Timeout: 60}  # a first boto3 import on a loaded machine can pass Lambda's 3 s
Parameters:
  Greeting: {Type: String, Default: hello}
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      BillingMode: PAY_PER_REQUEST
  DeadLetters: {Type: AWS::SQS::Queue}
  Inbox:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 1
      RedrivePolicy: {deadLetterTargetArn: !GetAtt DeadLetters.Arn, maxReceiveCount: 2}
  Greeter:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.greet
      Runtime: python3.11
      Environment: {Variables: {GREETING: !Ref Greeting, TABLE: !Ref Orders}}
  Consumer:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.consume
      Runtime: python3.11
      Environment: {Variables: {TABLE: !Ref Orders}}
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Inbox.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionSubstitutions: {GreeterArn: !GetAtt Greeter.Arn}
      Definition:
        StartAt: Greet
        States:
          Greet: {Type: Task, Resource: "${GreeterArn}", End: true}
"""

FUNCTIONS = """
import json, os
import boto3

def greet(event, context):
    return {"message": f"{os.environ['GREETING']}, {event['name']}"}

def consume(event, context):
    table = boto3.client("dynamodb")  # reaches Stepwell through AWS_ENDPOINT_URL
    failures = []
    for record in event["Records"]:
        body = json.loads(record["body"])
        if body.get("poison"):
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        table.put_item(TableName=os.environ["TABLE"], Item={"id": {"S": body["id"]}})
    return {"batchItemFailures": failures}
"""


def write(tmp_path: Path, template: str = APP) -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text(FUNCTIONS)
    (tmp_path / "template.yaml").write_text(template)
    return tmp_path / "template.yaml"


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + 30
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return result


def finished(app: LocalStack, arn: str) -> dict[str, Any]:
    sfn = app.client()
    return wait_for(  # type: ignore[no-any-return]
        lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
        "the execution",
    )


def test_a_state_machine_calls_a_template_function(tmp_path: Path) -> None:
    with local_stack(write(tmp_path), parameters={"Greeting": "ahoy"}) as app:
        sfn = app.client()
        started = sfn.start_execution(stateMachineArn=app.physical("Flow"), input='{"name": "Ada"}')
        described = finished(app, started["executionArn"])
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"message": "ahoy, Ada"}


def test_an_sqs_event_source_feeds_the_function_and_honours_partial_failures(
    tmp_path: Path,
) -> None:
    with local_stack(write(tmp_path), virtual_time=True) as app:
        sqs = app.host.services.sqs
        inbox = sqs.get_queue_url(QueueName=app.physical("Inbox"))["QueueUrl"]
        dead = sqs.get_queue_url(QueueName=app.physical("DeadLetters"))["QueueUrl"]
        for body in ({"id": "a"}, {"id": "b"}, {"poison": True}):
            sqs.send_message(QueueUrl=inbox, MessageBody=json.dumps(body))
        table = app.physical("Orders")
        dynamodb = app.host.services.dynamodb
        wait_for(lambda: dynamodb.scan(TableName=table)["Count"] == 2, "the consumer's writes")

        # The poison message comes back after each visibility timeout (1 s, virtual time
        # moved on here) until maxReceiveCount 2 sends it to the dead-letter queue.
        def dead_lettered() -> Any:
            app.clock.set(app.clock.now() + 2)
            return sqs.receive_message(QueueUrl=dead).get("Messages")

        moved = wait_for(dead_lettered, "the dead-letter queue")
    assert json.loads(moved[0]["Body"]) == {"poison": True}
    ids = {item["id"]["S"] for item in dynamodb.scan(TableName=table)["Items"]}
    assert ids == {"a", "b"}


def test_running_again_updates_what_changed_and_keeps_the_data(tmp_path: Path) -> None:
    path = write(tmp_path)
    settings = Settings(db=str(tmp_path / "app.db"), workers=1, invokers=2)
    with local_stepwell(settings) as stepwell:
        first = apply_plan(plan_stack(path, stack_name="s"), stepwell.host, stepwell.url)
        first.close()
        table = first.plan.get("Orders")
        assert table is not None
        dynamodb = stepwell.host.services.dynamodb
        dynamodb.put_item(TableName=table.name, Item={"id": {"S": "kept"}})
        changed = (
            APP.replace("Greet: {Type: Task", "Greet: {Comment: new, Type: Task")
            .replace("  DeadLetters: {Type: AWS::SQS::Queue}\n", "")
            .replace(
                "      RedrivePolicy: {deadLetterTargetArn: !GetAtt DeadLetters.Arn, "
                "maxReceiveCount: 2}\n",
                "",
            )
        )
        second = apply_plan(
            plan_stack(write(tmp_path, changed), stack_name="s"), stepwell.host, stepwell.url
        )
        second.close()
        assert dynamodb.scan(TableName=table.name)["Count"] == 1
        assert any("definition updated" in change for change in second.changes)
        assert any("removed from the template, deleted" in c for c in second.changes)
        assert not any("table" in change and "created" in change for change in second.changes)
        queues = stepwell.host.services.sqs.list_queues().get("QueueUrls", [])
        assert not any("DeadLetters" in url for url in queues)


def test_a_failing_resource_is_a_stack_error_naming_it(tmp_path: Path) -> None:
    broken = APP.replace('Resource: "${GreeterArn}"', "Resource: 42")
    with local_stepwell() as stepwell:
        plan = plan_stack(write(tmp_path, broken), stack_name="s")
        with pytest.raises(StackError, match=r"Flow \(AWS::StepFunctions::StateMachine\)"):
            apply_plan(plan, stepwell.host, stepwell.url)


def test_scheduled_rules_invoke_functions_and_start_executions(tmp_path: Path) -> None:
    template = APP + (
        "  Tick:\n    Type: AWS::Events::Rule\n    Properties:\n"
        "      ScheduleExpression: rate(1 hour)\n"
        "      Targets:\n"
        "        - Id: f\n          Arn: !GetAtt Consumer.Arn\n"
        '          Input: \'{"Records": [{"messageId": "t", '
        '"body": "{\\"id\\": \\"tick\\"}"}]}\'\n'
        '        - {Id: m, Arn: !Ref Flow, Input: \'{"name": "cron"}\'}\n'
    )
    with local_stack(write(tmp_path, template), virtual_time=True) as app:
        app.clock.set(app.clock.now() + 3601)
        # The server's own periodic job may fire the tick at the same moment: then this
        # call finds the execution started already, so look it up by its machine.
        fired = app.host.schedules.fire_due()
        assert all(f.error is None for f in fired)
        app.settle()
        # Whoever fired the tick, the function target ran: it wrote the item it was given.
        dynamodb, table = app.host.services.dynamodb, app.physical("Orders")
        wait_for(
            lambda: dynamodb.get_item(TableName=table, Key={"id": {"S": "tick"}}).get("Item"),
            "the scheduled function's write",
        )
        sfn = app.client()
        (execution,) = wait_for(
            lambda: sfn.list_executions(stateMachineArn=app.physical("Flow"))["executions"],
            "the scheduled execution",
        )
        described = finished(app, execution["executionArn"])
    assert json.loads(described["output"]) == {"message": "hello, cron"}


def test_event_source_poll_survives_a_missing_queue() -> None:
    with local_stepwell() as stepwell:
        source = SqsEventSource(
            stepwell.host.services.sqs,
            stepwell.host.integrations.functions,
            queue_arn="arn:aws:sqs:us-east-1:123456789012:nope",
            function="f",
        )
        source.start()
        source.stop()
        with pytest.raises(Exception, match=r"NonExistentQueue|does not exist"):
            source.poll_once()


EVENT_RULES = """
      Events:
        Orders:
          Type: EventBridgeRule
          Properties:
            Pattern: {source: [shop], detail-type: [Order Placed]}
            InputTransformer:
              InputPathsMap: {id: $.detail.id}
              InputTemplate: '{"Records": [{"messageId": "m", "body": "{\\"id\\": \\"<id>\\"}"}]}'
"""
MACHINE_RULE = """      Events:
        Greetings:
          Type: CloudWatchEvent
          Properties:
            Pattern: {source: [shop], detail-type: [Greeting]}
            InputPath: $.detail
"""


def test_eventbridge_rule_events_of_functions_and_state_machines(tmp_path: Path) -> None:
    # SAM's EventBridgeRule and CloudWatchEvent events become AWS::Events::Rule resources
    # with an EventPattern and a target (AWS SAM Developer Guide, "EventBridgeRule").
    template = (
        APP.replace(
            "      Handler: app.consume\n",
            "      Handler: app.consume\n      Timeout: 60\n",  # a cold start on a busy machine
        )
        .replace(
            "            FunctionResponseTypes: [ReportBatchItemFailures]\n",
            "            FunctionResponseTypes: [ReportBatchItemFailures]\n"
            + EVENT_RULES[len("      Events:\n") + 1 :],
        )
        .replace(
            "      DefinitionSubstitutions: {GreeterArn: !GetAtt Greeter.Arn}\n",
            "      DefinitionSubstitutions: {GreeterArn: !GetAtt Greeter.Arn}\n" + MACHINE_RULE,
        )
    )
    with local_stack(write(tmp_path, template)) as app:
        events = app.host.services.events
        rules = {rule["Name"]: rule for rule in events.rules()}
        assert len(rules) == 2 and all(r["EventPattern"] for r in rules.values())
        sent = events.put_events(
            Entries=[
                {"Source": "shop", "DetailType": "Order Placed", "Detail": '{"id": "o-1"}'},
                {"Source": "shop", "DetailType": "Greeting", "Detail": '{"name": "bus"}'},
                {"Source": "elsewhere", "DetailType": "Greeting", "Detail": '{"name": "no"}'},
            ]
        )
        assert sent["FailedEntryCount"] == 0
        table = app.physical("Orders")
        dynamodb = app.host.services.dynamodb
        wait_for(lambda: dynamodb.scan(TableName=table)["Count"] == 1, "the function's write")
        assert dynamodb.scan(TableName=table)["Items"] == [{"id": {"S": "o-1"}}]
        sfn = app.client()
        (execution,) = sfn.list_executions(stateMachineArn=app.physical("Flow"))["executions"]
        described = finished(app, execution["executionArn"])
        assert events.failed_deliveries() == []
    assert json.loads(described["output"]) == {"message": "hello, bus"}


RULES_ON_TWO_BUSES = """
Resources:
  OnOrders:
    Type: AWS::Events::Rule
    Properties: {EventBusName: orders, EventPattern: {source: [shop]}}
  OnDefault:
    Type: AWS::Events::Rule
    Properties: {EventPattern: {source: [shop]}}
"""


def test_a_removed_rule_is_deleted_from_its_own_event_bus(tmp_path: Path) -> None:
    # A rule is named by its bus and name (Amazon EventBridge API Reference, DeleteRule:
    # EventBusName), so removing one from the template deletes it on that bus.
    settings = Settings(db=str(tmp_path / "app.db"), workers=1, invokers=1)
    with local_stepwell(settings) as stepwell:
        events = stepwell.host.services.events
        first = apply_plan(
            plan_stack(write(tmp_path, RULES_ON_TWO_BUSES), stack_name="s"),
            stepwell.host,
            stepwell.url,
        )
        first.close()
        assert len(events.rules("orders")) == 1 and len(events.rules("default")) == 1
        only_default = RULES_ON_TWO_BUSES.replace(
            "  OnOrders:\n    Type: AWS::Events::Rule\n"
            "    Properties: {EventBusName: orders, EventPattern: {source: [shop]}}\n",
            "",
        )
        second = apply_plan(
            plan_stack(write(tmp_path, only_default), stack_name="s"),
            stepwell.host,
            stepwell.url,
        )
        second.close()
        assert events.rules("orders") == []
        assert len(events.rules("default")) == 1


INDEXED_AND_GO = """
Resources:
  Payments:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions:
        - {AttributeName: transaction_id, AttributeType: S}
        - {AttributeName: order_id, AttributeType: S}
      KeySchema: [{AttributeName: transaction_id, KeyType: HASH}]
      ProvisionedThroughput: {ReadCapacityUnits: "5", WriteCapacityUnits: "5"}
      GlobalSecondaryIndexes:
        - IndexName: orderIDIndex
          KeySchema: [{AttributeName: order_id, KeyType: HASH}]
          Projection: {ProjectionType: ALL}
          ProvisionedThroughput: {ReadCapacityUnits: "1", WriteCapacityUnits: "1"}
  Legacy:
    Type: AWS::Lambda::Function
    Properties: {Handler: main, Runtime: go1.x, Code: ., Role: arn:aws:iam::1:role/r}
  Flow:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      RoleArn: arn:aws:iam::123456789012:role/r
      DefinitionString: !Sub '{"StartAt": "Call", "States": {"Call": {"Type": "Task",
        "Resource": "${Legacy.Arn}", "End": true}}}'
"""


def test_what_cannot_run_here_is_stubbed_and_the_application_still_comes_up(
    tmp_path: Path,
) -> None:
    # Issue 13: what Stepwell cannot emulate is accepted and reported, never a failure.
    # A published sample (long-lived-transactions, in docs/published-samples.tsv) had
    # both: a table with a GlobalSecondaryIndex and capacities written "5"
    # (CloudFormation reads an Integer property from a numeric string), and go1.x functions.
    with local_stack(write(tmp_path, INDEXED_AND_GO)) as app:
        table = app.host.services.dynamodb.describe_table(TableName=app.physical("Payments"))
        sfn = app.client()
        started = sfn.start_execution(stateMachineArn=app.physical("Flow"))
        described = finished(app, started["executionArn"])
    assert table["Table"]["KeySchema"] == [{"AttributeName": "transaction_id", "KeyType": "HASH"}]
    assert table["Table"]["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert "GlobalSecondaryIndexes" not in table["Table"]
    assert described["status"] == "FAILED"
    assert described["error"] == "Lambda.ResourceNotFoundException"


ACTIVITY_APP = """
Transform: AWS::Serverless-2016-10-31
Resources:
  MyActivity:
    Type: AWS::StepFunctions::Activity
    Properties: {Name: TestActivity}
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionSubstitutions: {ActivityArn: !Ref MyActivity}
      Definition:
        StartAt: Work
        States:
          Work: {Type: Task, Resource: "${ActivityArn}", End: true}
Outputs:
  Name: {Value: !GetAtt MyActivity.Name}
  Arn: {Value: !Ref MyActivity}
"""


def test_an_activity_is_created_and_its_ref_is_its_arn(tmp_path: Path) -> None:
    # CloudFormation User Guide, AWS::StepFunctions::Activity: "Ref returns the ARN of
    # the created activity"; Fn::GetAtt Name returns its name. (The activity-state-machine
    # sample of docs/published-samples.tsv substitutes it into its definition.)
    with local_stack(write(tmp_path, ACTIVITY_APP)) as app:
        sfn = app.client()
        arn = app.plan.outputs["Arn"]
        started = sfn.start_execution(stateMachineArn=app.physical("Machine"), input='{"a": 1}')
        task = sfn.get_activity_task(activityArn=arn, workerName="w")
        sfn.send_task_success(taskToken=task["taskToken"], output='{"done": true}')
        described = finished(app, started["executionArn"])
        name = app.plan.outputs["Name"]
    assert arn == "arn:aws:states:us-east-1:123456789012:activity:TestActivity"
    assert name == "TestActivity"
    assert json.loads(task["input"]) == {"a": 1}
    assert json.loads(described["output"]) == {"done": True}


SCHEDULED = """
Resources:
  Machine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      RoleArn: arn:aws:iam::123456789012:role/r
      Definition: {StartAt: P, States: {P: {Type: Pass, End: true}}}
  Every:
    Type: AWS::Scheduler::Schedule
    Properties:
      FlexibleTimeWindow: {Mode: "OFF"}
      State: DISABLED
      ScheduleExpression: EXPRESSION
      Target: {Arn: !Ref Machine, RoleArn: arn:aws:iam::123456789012:role/r}
"""


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        # EventBridge Scheduler User Guide, "Rate-based schedules": the unit is one of
        # minutes | hours | days, whatever the value (inventory-management-sam writes
        # rate(1 minutes)); Stepwell runs a schedule as a rule, which wants the singular.
        ("rate(1 minutes)", "rate(1 minute)"),
        ("rate(1 hour)", "rate(1 hour)"),
        ("rate(5 day)", "rate(5 days)"),
        ("cron(0 12 * * ? *)", "cron(0 12 * * ? *)"),
    ],
)
def test_a_scheduler_rate_takes_either_unit_form(tmp_path: Path, written: str, kept: str) -> None:
    with local_stack(write(tmp_path, SCHEDULED.replace("EXPRESSION", written))) as app:
        schedule = app.host.schedules.get(app.physical("Every"))
    assert schedule is not None
    assert schedule.expression == kept
    assert schedule.enabled is False


def test_a_schedule_expression_nobody_accepts_is_a_stack_error_naming_it(tmp_path: Path) -> None:
    template = write(tmp_path, SCHEDULED.replace("EXPRESSION", "rate(0 minutes)"))
    plan = plan_stack(template, stack_name="s")
    refused = pytest.raises(StackError, match=r"Every \(AWS::Scheduler::Schedule\).*positive")
    with local_stepwell() as stepwell, refused:
        apply_plan(plan, stepwell.host, stepwell.url)


TABLE_WITH_INDEX = """
Resources:
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: KEYS
      AttributeDefinitions: DEFINITIONS
      GlobalSecondaryIndexes: [{IndexName: g}]
"""


@pytest.mark.parametrize(
    ("keys", "definitions"),
    [
        ("[a]", "[{AttributeName: a, AttributeType: S}]"),
        ("[{AttributeName: a, KeyType: HASH}]", "[a]"),
        ("{AttributeName: a, KeyType: HASH}", "[{AttributeName: a, AttributeType: S}]"),
    ],
)
def test_a_malformed_table_with_indexes_is_a_stack_error_naming_it(
    tmp_path: Path, keys: str, definitions: str
) -> None:
    # Bad input is a clear error, never a traceback (the no-index path already was).
    text = TABLE_WITH_INDEX.replace("KEYS", keys).replace("DEFINITIONS", definitions)
    plan = plan_stack(write(tmp_path, text), stack_name="s")
    refused = pytest.raises(StackError, match=r"T \(AWS::DynamoDB::Table\)")
    with local_stepwell() as stepwell, refused:
        apply_plan(plan, stepwell.host, stepwell.url)


def test_a_capacity_past_a_long_is_a_stack_error_naming_it(tmp_path: Path) -> None:
    text = TABLE_WITH_INDEX.replace("KEYS", "[{AttributeName: a, KeyType: HASH}]").replace(
        "DEFINITIONS", "[{AttributeName: a, AttributeType: S}]"
    )
    text += '      ProvisionedThroughput: {ReadCapacityUnits: "99999999999999999999999", '
    text += "WriteCapacityUnits: 1}\n"
    plan = plan_stack(write(tmp_path, text), stack_name="s")
    refused = pytest.raises(StackError, match=r"T \(AWS::DynamoDB::Table\).*ReadCapacityUnits")
    with local_stepwell() as stepwell, refused:
        apply_plan(plan, stepwell.host, stepwell.url)


def test_the_mapping_of_a_function_not_started_is_not_started_either(tmp_path: Path) -> None:
    # A go1.x function does not run here; its SQS mapping would only receive messages,
    # fail them and move them to the dead-letter queue. It stays off, with a warning.
    template = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Q: {Type: AWS::SQS::Queue}
  F:
    Type: AWS::Serverless::Function
    Properties:
      Handler: main
      Runtime: go1.x
      CodeUri: src/
      Events:
        E: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}
"""
    plan = plan_stack(write(tmp_path, template), stack_name="s")
    assert any("FE: not started" in warning for warning in check_plan(plan).warnings)
    with local_stepwell() as stepwell:
        running = apply_plan(plan, stepwell.host, stepwell.url)
        running.close()
    assert running.event_sources == []
    assert any("FE: not started" in change for change in running.changes)


def test_an_activity_without_a_name_is_refused_naming_it(tmp_path: Path) -> None:
    # CloudFormation User Guide, AWS::StepFunctions::Activity: Name is "Required: Yes".
    template = "Resources:\n  Work: {Type: AWS::StepFunctions::Activity}\n"
    plan = plan_stack(write(tmp_path, template), stack_name="s")
    assert check_plan(plan).problems == ["activity Work: Name is required"]
    refused = pytest.raises(StackError, match=r"Work \(AWS::StepFunctions::Activity\).*Name")
    with local_stepwell() as stepwell, refused:
        apply_plan(plan, stepwell.host, stepwell.url)


def test_a_one_time_schedule_is_accepted_and_reported_not_emulated(tmp_path: Path) -> None:
    # EventBridge Scheduler User Guide, "One-time schedules": at(yyyy-mm-ddThh:mm:ss).
    # Not run here: the application still comes up, with a warning (issue 13's policy).
    text = SCHEDULED.replace("EXPRESSION", "at(2030-01-01T09:00:00)")
    plan = plan_stack(write(tmp_path, text), stack_name="s")
    assert any("Every: one-time" in warning for warning in check_plan(plan).warnings)
    with local_stepwell() as stepwell:
        running = apply_plan(plan, stepwell.host, stepwell.url)
        running.close()
        assert stepwell.host.schedules.get(plan.get("Every").name) is None
    assert any("not emulated" in change for change in running.changes)
