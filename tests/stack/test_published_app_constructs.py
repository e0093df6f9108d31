"""Template constructs that published SAM applications deploy with, each in a small
application of our own (issue 13: "A held-out set of published SAM applications ...
should come up with ``stepwell up``"; resources Stepwell cannot emulate are "accepted and
reported once as 'not emulated', never a failure").

Stepwell was once checked against 66 published applications (``docs/published-samples.tsv``
names them and what each taught us; ``bench/check_published.py`` re-runs the check on a
checkout). What they exercise is kept here in templates written for this test: each must
plan and pass ``stepwell up --check`` with no problem, and come up with every state machine
ACTIVE. Constructs already covered elsewhere are not repeated: Activities and their Ref,
Scheduler rates such as ``rate(1 minutes)``, go1.x functions, secondary indexes and
capacities written "5" (``test_apply.py``); java runtimes and secondary-index warnings
(``test_plan.py``); AWS::Include, inline code, YAML definition files, nested applications
(``test_sam_features.py``); Mappings, Conditions and the intrinsic functions
(``test_intrinsics.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stepwell.stack.checks import check_plan
from stepwell.stack.plan import plan_stack
from stepwell.stack.template import load_template
from stepwell.testing import local_stack
from tests.stack.test_apply import finished

PYTHON = "def handler(event, context):\n    return {'seen': event}\n"
NODE = "export const handler = async (event) => ({ seen: event });\n"
PASS_MACHINE = "Definition: {StartAt: Hold, States: {Hold: {Type: Pass, End: true}}}"

# SAM Developer Guide: Globals, Connectors, policy templates, Api and HttpApi events,
# AWS::Serverless::SimpleTable; CloudFormation User Guide, "Format version" (a literal
# string; YAML reads an unquoted 2010-09-09 as a date) and Transform as a list.
GLOBALS_AND_EVENTS = f"""
AWSTemplateFormatVersion: 2010-09-09
Transform: [AWS::Serverless-2016-10-31]
Globals:
  Function: {{Runtime: python3.12, Handler: app.handler, CodeUri: src, Timeout: 30,
              Tracing: Active, Tags: {{team: shelf}}}}
  Api: {{OpenApiVersion: 3.0.1}}
Resources:
  Notes: {{Type: AWS::Serverless::SimpleTable}}
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      Architectures: [arm64]
      Policies:
        - DynamoDBReadPolicy: {{TableName: !Ref Notes}}
        - AWSLambdaBasicExecutionRole
        - Statement: [{{Effect: Allow, Action: ["s3:GetObject"], Resource: "*"}}]
      Events:
        Read: {{Type: Api, Properties: {{Path: /notes, Method: get}}}}
        ReadHttp: {{Type: HttpApi, Properties: {{Path: /notes, Method: get}}}}
    Connectors:
      ToNotes:
        Properties: {{Destination: {{Id: Notes}}, Permissions: [Read]}}
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      Type: EXPRESS
      {PASS_MACHINE}
      Policies: [LambdaInvokePolicy: {{FunctionName: !Ref Reader}}]
      Events:
        Start: {{Type: Api, Properties: {{Path: /start, Method: post}}}}
  FlowToReader:
    Type: AWS::Serverless::Connector
    Properties:
      Source: {{Id: Flow}}
      Destination: {{Id: Reader}}
      Permissions: [Write]
Outputs:
  Endpoint: {{Value: !Sub "https://${{ServerlessRestApi}}.execute-api.${{AWS::Region}}.amazonaws.com/Prod/"}}
  ReaderRole: {{Value: !GetAtt ReaderRole.Arn}}
"""

# CloudFormation User Guide: Parameters (a value given at deploy time when there is no
# Default), Mappings with Fn::FindInMap, Conditions; AWS::Lambda::Function Code.ZipFile.
PARAMETERS_MAPPINGS_CONDITIONS = """
Parameters:
  Contact: {Type: String, AllowedPattern: ".+@.+", MinLength: 3, MaxLength: 64}
  Stage: {Type: String, Default: test, AllowedValues: [test, prod]}
Mappings:
  Sizes: {test: {Memory: 128}, prod: {Memory: 1024}}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Resources:
  Alerts: {Type: AWS::SNS::Topic}
  ToContact:
    Type: AWS::SNS::Subscription
    Properties: {TopicArn: !Ref Alerts, Protocol: email, Endpoint: !Ref Contact}
  OnlyInProd:
    Type: AWS::SQS::Queue
    Condition: IsProd
  Inline:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      MemorySize: !FindInMap [Sizes, !Ref Stage, Memory]
      Role: arn:aws:iam::123456789012:role/inline
      Code:
        ZipFile: |
          def handler(event, context):
              return event
  Flow:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      StateMachineName: !Sub "${AWS::StackName}-${Stage}-flow"
      RoleArn: arn:aws:iam::123456789012:role/flow
      DefinitionString: !Sub
        - '{"StartAt": "Tell", "States": {"Tell": {"Type": "Task",
           "Resource": "arn:aws:states:::sns:publish", "Parameters": {"TopicArn": "${Topic}",
           "Message.$": "$"}, "Next": "Rest"}, "Rest": {"Type": "Wait",
           "Seconds": ${Pause}, "End": true}}}'
        - {Topic: !Ref Alerts, Pause: 1}
"""

# EventBridge User Guide: rules with InputTransformer, schedule rules with a RoleArn,
# custom buses; EventBridge Scheduler User Guide: schedules targeting a state machine;
# SAM: EventBridgeRule and Schedule events of a state machine.
EVENTS = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Bus: {Type: AWS::Events::EventBus, Properties: {Name: shelf-bus}}
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      PASS_MACHINE
      Events:
        OnArrival:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref Bus
            Pattern: {source: [shelf.books], account: [!Ref AWS::AccountId]}
            InputPath: $.detail
        Nightly: {Type: Schedule, Properties: {Schedule: "rate(1 day)"}}
  Reshaped:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern: {source: [shelf.returns], detail: {key: [{suffix: .csv}]}}
      Targets:
        - Id: flow
          Arn: !Ref Flow
          RoleArn: arn:aws:iam::123456789012:role/events
          InputTransformer:
            InputPathsMap: {title: $.detail.title}
            InputTemplate: '{"returned": <title>}'
  Hourly:
    Type: AWS::Events::Rule
    Properties:
      ScheduleExpression: rate(1 hour)
      Targets: [{Id: flow, Arn: !GetAtt Flow.Arn, RoleArn: arn:aws:iam::123456789012:role/e}]
  Weekly:
    Type: AWS::Scheduler::Schedule
    Properties:
      FlexibleTimeWindow: {Mode: "OFF"}
      ScheduleExpression: cron(0 6 ? * MON *)
      Target: {Arn: !Ref Flow, RoleArn: arn:aws:iam::123456789012:role/s, Input: "{}"}
""".replace("PASS_MACHINE", PASS_MACHINE)

# SAM Developer Guide: SQS and DynamoDB event sources (FilterCriteria); EventBridge
# Pipes (AWS::Pipes::Pipe, not emulated); custom resources backed by a function;
# AWS::Lambda::Url and an SSM parameter holding its URL; a Node.js function.
SOURCES_AND_EXTRAS = f"""
Transform: AWS::Serverless-2016-10-31
Resources:
  Stock:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      KeySchema: [{{AttributeName: sku, KeyType: HASH}}, {{AttributeName: at, KeyType: RANGE}}]
      AttributeDefinitions:
        - {{AttributeName: sku, AttributeType: S}}
        - {{AttributeName: at, AttributeType: N}}
      StreamSpecification: {{StreamViewType: NEW_AND_OLD_IMAGES}}
  Failed: {{Type: AWS::SQS::Queue}}
  Orders:
    Type: AWS::SQS::Queue
    Properties: {{RedrivePolicy: {{deadLetterTargetArn: !GetAtt Failed.Arn, maxReceiveCount: 3}}}}
  Watcher:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs22.x
      Handler: index.handler
      CodeUri: node/
      FunctionUrlConfig: {{AuthType: NONE}}
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Stock.StreamArn
            StartingPosition: LATEST
            FilterCriteria: {{Filters: [{{Pattern: '{{"eventName": ["INSERT"]}}'}}]}}
        Incoming: {{Type: SQS, Properties: {{Queue: !GetAtt Orders.Arn, BatchSize: 10}}}}
  Seeder:
    Type: AWS::Serverless::Function
    Properties: {{Runtime: python3.12, Handler: app.handler, CodeUri: src/}}
  Seed:
    Type: Custom::SeedStock
    Properties: {{ServiceToken: !GetAtt Seeder.Arn, Table: !Ref Stock}}
  PublicUrl:
    Type: AWS::Lambda::Url
    Properties: {{TargetFunctionArn: !Ref Seeder, AuthType: NONE}}
  UrlParameter:
    Type: AWS::SSM::Parameter
    Properties: {{Type: String, Value: !GetAtt PublicUrl.FunctionUrl}}
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      Type: EXPRESS
      {PASS_MACHINE}
  OrdersToFlow:
    Type: AWS::Pipes::Pipe
    Properties:
      RoleArn: arn:aws:iam::123456789012:role/pipe
      Source: !GetAtt Orders.Arn
      Target: !Ref Flow
      TargetParameters: {{StepFunctionStateMachineParameters: {{InvocationType: FIRE_AND_FORGET}}}}
"""

# CloudFormation User Guide, AWS::StepFunctions::StateMachine: DefinitionString built by
# Fn::Join with an unquoted ${{Param}} number, DefinitionSubstitutions of a function ARN
# and an activity's Ref, LoggingConfiguration; SAM: Outputs naming a generated role.
RAW_MACHINES = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Patience: {Type: Number, Default: 2}
Resources:
  Worker:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.12, Handler: app.handler, CodeUri: src/}
  Desk: {Type: AWS::StepFunctions::Activity, Properties: {Name: desk}}
  Logs: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: !Join ["-", [flow, logs]]}}
  Joined:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      RoleArn: !GetAtt WorkerRole.Arn
      DefinitionString: !Sub
        - |-
          {"StartAt": "Wait", "States": {
            "Wait": {"Type": "Wait", "Seconds": ${Patience}, "Next": "Work"},
            "Work": {"Type": "Task", "Resource": "${Worker.Arn}",
                     "Parameters": {"run.$": "$$.Execution.Id"}, "Next": "Ask"},
            "Ask": {"Type": "Task", "Resource": "${DeskArn}", "End": true}}}
        - {DeskArn: !Ref Desk}
      LoggingConfiguration:
        Level: ERROR
        IncludeExecutionData: false
        Destinations: [{CloudWatchLogsLogGroup: {LogGroupArn: !GetAtt Logs.Arn}}]
  Pieces:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      RoleArn: !GetAtt WorkerRole.Arn
      DefinitionString: !Join
        - ""
        - - '{"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": "'
          - !GetAtt Worker.Arn
          - '", "End": true}}}'
Outputs:
  Role: {Value: !Ref WorkerRole}
"""

APPS: list[tuple[str, str, dict[str, str], dict[str, Any]]] = [
    ("globals-connectors-policies-api-events", GLOBALS_AND_EVENTS, {"src/app.py": PYTHON}, {}),
    (
        "parameters-mappings-conditions-inline-code",
        PARAMETERS_MAPPINGS_CONDITIONS,
        {},
        {"Contact": "someone@example.com"},
    ),
    ("rules-schedules-and-transformed-input", EVENTS, {}, {}),
    (
        "event-sources-pipes-custom-resource-url",
        SOURCES_AND_EXTRAS,
        {"src/app.py": PYTHON, "node/index.mjs": NODE},
        {},
    ),
    ("definition-strings-and-substitutions", RAW_MACHINES, {"src/app.py": PYTHON}, {}),
]


def write(root: Path, template: str, files: dict[str, str]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    (root / "template.yaml").write_text(template)
    return root / "template.yaml"


@pytest.mark.parametrize(("app", "template", "files", "parameters"), APPS, ids=[a[0] for a in APPS])
def test_application_passes_the_check(
    tmp_path: Path, app: str, template: str, files: dict[str, str], parameters: dict[str, Any]
) -> None:
    plan = plan_stack(write(tmp_path, template, files), stack_name=app, parameters=parameters)
    assert check_plan(plan).problems == []
    assert plan.of_kind("state machine")


@pytest.mark.parametrize(("app", "template", "files", "parameters"), APPS, ids=[a[0] for a in APPS])
def test_application_comes_up(
    tmp_path: Path, app: str, template: str, files: dict[str, str], parameters: dict[str, Any]
) -> None:
    path = write(tmp_path, template, files)
    with local_stack(path, stack_name=app, parameters=parameters) as stack:
        sfn = stack.client()
        machines = stack.plan.of_kind("state machine")
        for machine in machines:
            arn = stack.physical(machine.logical_id)
            assert sfn.describe_state_machine(stateMachineArn=arn)["status"] == "ACTIVE"
    assert machines


def test_unemulated_resources_are_reported_not_refused(tmp_path: Path) -> None:
    path = write(tmp_path, SOURCES_AND_EXTRAS, {"src/app.py": PYTHON, "node/index.mjs": NODE})
    plan = plan_stack(path, stack_name="extras")
    kinds = {kind for _, kind in plan.not_emulated}
    assert {"AWS::Pipes::Pipe", "Custom::SeedStock", "AWS::SSM::Parameter"} <= kinds


QUALIFIED = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.12, Handler: app.handler, CodeUri: src/, Timeout: 60}
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionSubstitutions: {EchoArn: !GetAtt Echo.Arn}
      DefinitionUri: flow.asl.yaml
"""

# A YAML definition whose ResultPath is left empty (YAML null: the result is discarded,
# Developer Guide, "Specifying state output using ResultPath"), calling a function through
# a version-qualified ARN (Developer Guide, "Invoke an AWS Lambda function": a Task's
# Resource may name a function with a version or alias).
QUALIFIED_FLOW = """---
StartAt: Discard
States:
  Discard:
    Type: Task
    Resource: ${EchoArn}:$LATEST
    ResultPath:
    Next: Keep
  Keep:
    Type: Task
    Resource: ${EchoArn}:$LATEST
    ResultPath: $.echo
    End: true
"""


def test_a_qualified_function_arn_and_an_empty_yaml_result_path_run(tmp_path: Path) -> None:
    path = write(tmp_path, QUALIFIED, {"src/app.py": PYTHON, "flow.asl.yaml": QUALIFIED_FLOW})
    with local_stack(path, stack_name="qualified") as stack:
        sfn = stack.client()
        started = sfn.start_execution(
            stateMachineArn=stack.physical("Flow"), input='{"book": "atlas"}'
        )
        described = finished(stack, started["executionArn"])
        events = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {
        "book": "atlas",
        "echo": {"seen": {"book": "atlas"}},
    }
    # A Task whose Resource is a function ARN records LambdaFunction* events.
    assert [e["type"] for e in events].count("LambdaFunctionSucceeded") == 2


RETRYING = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Flaky:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.12, Handler: app.handler, CodeUri: src/, Timeout: 60}
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionSubstitutions: {FlakyArn: !GetAtt Flaky.Arn}
      Definition:
        StartAt: Try
        States:
          Try:
            Type: Task
            Resource: arn:aws:states:::lambda:invoke
            Parameters: {FunctionName: "${FlakyArn}", Payload.$: $}
            Retry: [{ErrorEquals: [ShelfBusy], IntervalSeconds: 1, MaxAttempts: 2}]
            Catch: [{ErrorEquals: [ShelfBusy], ResultPath: $.error, Next: GaveUp}]
            OutputPath: $.Payload
            End: true
          GaveUp: {Type: Pass, Parameters: {handled.$: $.error.Error}, End: true}
"""

FLAKY = """
class ShelfBusy(Exception):
    pass

def handler(event, context):
    if event["busy"]:
        raise ShelfBusy("the shelf is busy")
    return {"shelved": True}
"""


def test_a_function_error_is_retried_then_caught_by_its_name(tmp_path: Path) -> None:
    # Developer Guide, "Handling errors in Step Functions workflows": a Lambda function's
    # unhandled exception is reported under its class name, which Retry and Catch match.
    path = write(tmp_path, RETRYING, {"src/app.py": FLAKY})
    with local_stack(path, stack_name="retrying") as stack:
        sfn = stack.client()
        machine = stack.physical("Flow")
        busy = sfn.start_execution(stateMachineArn=machine, input='{"busy": true}')
        caught = finished(stack, busy["executionArn"])
        events = sfn.get_execution_history(executionArn=busy["executionArn"])["events"]
        free = sfn.start_execution(stateMachineArn=machine, input='{"busy": false}')
        straight = finished(stack, free["executionArn"])
    assert caught["status"] == "SUCCEEDED", caught
    assert json.loads(caught["output"]) == {"handled": "ShelfBusy"}
    assert [e["type"] for e in events].count("TaskFailed") == 3  # one try, two retries
    assert json.loads(straight["output"]) == {"shelved": True}


BATCHES = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Ratings:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionSubstitutions: {Table: !Ref Ratings}
      Definition:
        StartAt: Count
        States:
          Count:
            Type: Pass
            Parameters: {numbers.$: "States.ArrayRange(1, 60, 1)"}
            Next: Write
          Write:
            Type: Map
            ItemsPath: $.numbers
            ItemSelector:
              PutRequest:
                Item:
                  id: {S.$: "States.Format('r-{}', $$.Map.Item.Value)"}
                  stars: {N.$: "States.JsonToString($$.Map.Item.Value)"}
            ItemBatcher: {MaxItemsPerBatch: 25}
            ItemProcessor:
              ProcessorConfig: {Mode: DISTRIBUTED, ExecutionType: STANDARD}
              StartAt: Put
              States:
                Put:
                  Type: Task
                  Resource: arn:aws:states:::aws-sdk:dynamodb:batchWriteItem
                  Parameters: {RequestItems: {"${Table}.$": $.Items}}
                  End: true
            End: true
"""


def test_a_distributed_map_writes_batches_of_25(tmp_path: Path) -> None:
    # Developer Guide, "ItemBatcher (Map)": items are sent to each child in batches of at
    # most MaxItemsPerBatch, under "Items"; DynamoDB API Reference, BatchWriteItem takes up
    # to 25 put requests.
    with local_stack(write(tmp_path, BATCHES, {}), stack_name="batches") as stack:
        sfn = stack.client()
        started = sfn.start_execution(stateMachineArn=stack.physical("Flow"), input="{}")
        described = finished(stack, started["executionArn"])
        items = stack.client("dynamodb").scan(TableName=stack.physical("Ratings"))["Items"]
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == [{"UnprocessedItems": {}}] * 3  # 25, 25, 10
    assert len(items) == 60
    assert {"id": {"S": "r-60"}, "stars": {"N": "60"}} in items


def test_an_unquoted_format_version_date_is_read_as_text(tmp_path: Path) -> None:
    # CloudFormation User Guide, "Format version": a literal string. YAML reads the
    # unquoted 2010-09-09 as a date; `sam init`'s quick starts write it so, in a file
    # named template.yml.
    (tmp_path / "template.yml").write_text(
        "AWSTemplateFormatVersion: 2010-09-09\n"
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n  Hello:\n    Type: AWS::Serverless::StateMachine\n"
        f"    Properties:\n      {PASS_MACHINE}\n"
    )
    assert load_template(tmp_path / "template.yml")["AWSTemplateFormatVersion"] == "2010-09-09"
    plan = plan_stack(tmp_path / "template.yml", stack_name="hello")
    assert plan.get("Hello") is not None
