"""Planning a template: SAM translated by AWS's translator, names as CloudFormation makes
them, Ref and GetAtt in AWS's shapes, resources Stepwell does not emulate accepted."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from stepwell.stack.checks import check_plan
from stepwell.stack.plan import plan_stack
from stepwell.stack.resources import generated_name
from stepwell.stack.template import StackError
from tests.stack.conftest import SEED_APP


def test_the_seed_application_plans_as_published() -> None:
    plan = plan_stack(SEED_APP / "template.yaml", stack_name="idem")
    kinds = {r.logical_id: r.kind for r in plan.resources}
    assert kinds == {
        "IdempotencyTable": "table",
        "IdempotencyConfigFunction": "function",
        "FailureDemoFunction": "function",
        "IdempotentStateMachine": "state machine",
    }
    assert next(r.kind for r in plan.resources) == "table"  # created before what uses it
    assert {kind for _, kind in plan.not_emulated} == {"AWS::IAM::Role"}
    machine = plan.get("IdempotentStateMachine")
    assert machine is not None
    substitutions = machine.properties["DefinitionSubstitutions"]
    config = plan.get("IdempotencyConfigFunction")
    assert config is not None
    assert substitutions["IdempotencyConfigFunctionArn"] == (
        f"arn:aws:lambda:us-east-1:123456789012:function:{config.name}"
    )
    assert substitutions["DDBTable"] == "IdempotencyTable"
    assert substitutions["DDBGetItem"] == "arn:aws:states:::dynamodb:getItem"
    environment = config.properties["Environment"]["Variables"]
    assert environment == {
        "IDEMPOTENCY_RECORD_TTL_MINUTES": "1440",
        "IDEMPOTENCY_JMESPATH_ATTRIBUTE": "idempotencyKeyJmespath",
    }
    assert plan.outputs["DynamoDBConsoleUrl"].endswith("&table=IdempotencyTable")


def test_parameter_overrides_reach_the_functions() -> None:
    plan = plan_stack(SEED_APP / "template.yaml", stack_name="idem", parameters={"TTLMinutes": "5"})
    config = plan.get("IdempotencyConfigFunction")
    assert config is not None
    assert config.properties["Environment"]["Variables"]["IDEMPOTENCY_RECORD_TTL_MINUTES"] == "5"


def test_unknown_parameters_and_disallowed_values_are_refused(write_app: Any) -> None:
    path = write_app(
        "Parameters:\n  Mode: {Type: String, AllowedValues: [a, b], Default: a}\n"
        "Resources:\n  Q: {Type: AWS::SQS::Queue}\n"
    )
    with pytest.raises(StackError, match="no parameter Other"):
        plan_stack(path, stack_name="s", parameters={"Other": "1"})
    with pytest.raises(StackError, match=r"must be one of \['a', 'b'\]"):
        plan_stack(path, stack_name="s", parameters={"Mode": "c"})


def test_generated_names_look_like_cloudformation_and_never_change() -> None:
    name = generated_name("my-app", "OrdersTable")
    assert re.fullmatch(r"my-app-OrdersTable-[A-Za-z0-9]{12}", name)
    assert generated_name("my-app", "OrdersTable") == name
    assert generated_name("other", "OrdersTable") != name
    assert re.fullmatch(r"Flow-[A-Za-z0-9]{12}", generated_name("my-app", "Flow", short=True))
    assert len(generated_name("s" * 60, "L" * 60, max_length=64)) == 64


RETURN_VALUES = """
Resources:
  Queue: {Type: AWS::SQS::Queue, Properties: {FifoQueue: true}}
  Topic: {Type: AWS::SNS::Topic, Properties: {TopicName: alerts}}
  Table: {Type: AWS::DynamoDB::Table, Properties: {KeySchema: [], AttributeDefinitions: []}}
  Fn:
    Type: AWS::Lambda::Function
    Properties: {FunctionName: worker, Runtime: python3.11, Handler: a.b, Code: {ZipFile: x}}
  Machine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      DefinitionString: '{}'
      RoleArn: !GetAtt Role.Arn
  Role: {Type: AWS::IAM::Role, Properties: {RoleName: runner}}
  Rule: {Type: AWS::Events::Rule, Properties: {Name: nightly, ScheduleExpression: rate(1 day)}}
Outputs:
  QueueUrl: {Value: !Ref Queue}
  QueueArn: {Value: !GetAtt Queue.Arn}
  TopicRef: {Value: !Ref Topic}
  TableArn: {Value: !GetAtt Table.Arn}
  FnRef: {Value: !Ref Fn}
  FnArn: {Value: !GetAtt Fn.Arn}
  MachineRef: {Value: !Ref Machine}
  MachineName: {Value: !GetAtt Machine.Name}
  RoleArn: {Value: !GetAtt Role.Arn}
  RuleArn: {Value: !GetAtt Rule.Arn}
"""


def test_ref_and_getatt_give_aws_shaped_values(write_app: Any) -> None:
    plan = plan_stack(write_app(RETURN_VALUES), stack_name="app", region="eu-west-1")
    out = plan.outputs
    queue = plan.get("Queue")
    assert queue is not None and queue.name.endswith(".fifo")  # FIFO queues need it
    assert out["QueueUrl"] == f"https://sqs.eu-west-1.amazonaws.com/123456789012/{queue.name}"
    assert out["QueueArn"] == f"arn:aws:sqs:eu-west-1:123456789012:{queue.name}"
    assert out["TopicRef"] == "arn:aws:sns:eu-west-1:123456789012:alerts"
    assert re.fullmatch(
        r"arn:aws:dynamodb:eu-west-1:123456789012:table/app-Table-\w{12}", out["TableArn"]
    )
    assert out["FnRef"] == "worker"
    assert out["FnArn"] == "arn:aws:lambda:eu-west-1:123456789012:function:worker"
    assert re.fullmatch(
        r"arn:aws:states:eu-west-1:123456789012:stateMachine:Machine-\w{12}", out["MachineRef"]
    )
    assert out["MachineRef"].endswith(out["MachineName"])
    assert out["RoleArn"] == "arn:aws:iam::123456789012:role/runner"
    assert out["RuleArn"] == "arn:aws:events:eu-west-1:123456789012:rule/nightly"
    assert plan.not_emulated == [("Role", "AWS::IAM::Role")]


def test_resources_whose_condition_is_false_are_left_out(write_app: Any) -> None:
    path = write_app(
        "Parameters:\n  Env: {Type: String, Default: dev}\n"
        "Conditions:\n  IsProd: !Equals [!Ref Env, prod]\n"
        "Resources:\n"
        "  Audit: {Type: AWS::SQS::Queue, Condition: IsProd}\n"
        "  Main: {Type: AWS::SQS::Queue}\n"
        "Outputs:\n  AuditUrl: {Condition: IsProd, Value: !Ref Audit}\n"
    )
    assert [r.logical_id for r in plan_stack(path, stack_name="s").resources] == ["Main"]
    prod = plan_stack(path, stack_name="s", parameters={"Env": "prod"})
    assert {r.logical_id for r in prod.resources} == {"Audit", "Main"}
    assert "AuditUrl" in prod.outputs


def test_sam_templates_are_translated_with_local_code(write_app: Any) -> None:
    path = write_app(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Globals:\n  Function: {Timeout: 7, CodeUri: src/}\n"
        "Resources:\n"
        "  Hello:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {Handler: app.handler, Runtime: python3.11, Layers: [arn:aws:lambda:x]}\n"
        "  Flow:\n    Type: AWS::Serverless::StateMachine\n"
        "    Properties:\n      Definition: {StartAt: A, States: {A: {Type: Pass, End: true}}}\n",
        {"src/app.py": "def handler(event, context):\n    return event\n"},
    )
    plan = plan_stack(path, stack_name="s")
    hello = plan.get("Hello")
    assert hello is not None and hello.properties["Timeout"] == 7
    code = hello.properties["Code"]
    assert plan.artifacts.local(code["S3Bucket"], code["S3Key"]) == (path.parent / "src").resolve()
    findings = check_plan(plan)
    assert findings.problems == []
    assert any("layers are not emulated" in w for w in findings.warnings)


def test_a_runtime_that_cannot_run_is_a_warning_naming_function_and_runtime(
    write_app: Any,
) -> None:
    # Issue 13: what Stepwell cannot run is accepted and reported, never a failure.
    path = write_app(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n"
        "  JavaFn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {Handler: a.B::handle, Runtime: java17, CodeUri: src/}\n",
        {"src/A.java": ""},
    )
    findings = check_plan(plan_stack(path, stack_name="s"))
    assert findings.problems == []
    assert findings.warnings == [
        "function JavaFn: runtime java17 cannot run here (Stepwell runs python3.x and "
        "nodejs functions); it is not started, and calling it fails with "
        "Lambda.ResourceNotFoundException"
    ]


def test_secondary_indexes_are_a_warning_naming_the_table(write_app: Any) -> None:
    path = write_app(
        "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n"
        "      KeySchema: [{AttributeName: a, KeyType: HASH}]\n"
        "      AttributeDefinitions: [{AttributeName: a, AttributeType: S}]\n"
        "      LocalSecondaryIndexes: [{IndexName: i}]\n",
        {},
    )
    findings = check_plan(plan_stack(path, stack_name="s"))
    assert findings.problems == []
    assert findings.warnings == [
        "table T: LocalSecondaryIndexes are not emulated; the table is created without "
        "them, and a query naming an index fails"
    ]


def test_unmet_requirements_are_named(write_app: Any) -> None:
    path = write_app(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n"
        "  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {Handler: app.h, Runtime: python3.11, CodeUri: src/}\n",
        {"src/app.py": "", "src/requirements.txt": "surely-not-installed-pkg>=1\norjson>=1\n"},
    )
    warnings = check_plan(plan_stack(path, stack_name="s")).warnings
    assert "function Fn: requirements.txt: surely-not-installed-pkg>=1 (not installed)" in warnings
    assert not any("orjson" in w for w in warnings)


def test_sam_translator_refusals_are_stack_errors(write_app: Any) -> None:
    path = write_app(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n"
        "  Fn: {Type: AWS::Serverless::Function, Properties: {Handler: 3}}\n"
    )
    with pytest.raises(StackError, match="the SAM translator refused the template"):
        plan_stack(path, stack_name="s")


def test_a_missing_template_file_is_a_stack_error(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="cannot read the template"):
        plan_stack(tmp_path / "none.yaml", stack_name="s")


RULES = """
Resources:
  Broken:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [{prefix: 1}]}
      Targets: [{Id: q, Arn: arn:aws:sqs:us-east-1:123456789012:q}]
  Streamed:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [shop]}
      Targets: [{Id: k, Arn: arn:aws:kinesis:us-east-1:123456789012:stream/s}]
"""


def test_rules_are_checked_before_anything_starts(write_app: Any) -> None:
    # A pattern PutRule would refuse is a problem; a target Stepwell cannot reach, a warning.
    findings = check_plan(plan_stack(write_app(RULES), stack_name="s"))
    (problem,) = findings.problems
    assert problem.startswith("rule Broken: Event pattern is not valid. Reason: prefix")
    (warning,) = findings.warnings
    assert "rule Streamed: target arn:aws:kinesis" in warning and "not emulated" in warning


def test_rule_targets_are_checked_by_the_service_of_their_arn(write_app: Any) -> None:
    # An ARN names its service third (arn:partition:service:…); a bare word is no ARN.
    path = write_app(
        "Resources:\n"
        "  Rule:\n    Type: AWS::Events::Rule\n    Properties:\n"
        "      EventPattern: {source: [shop]}\n"
        "      Targets:\n"
        "        - {Id: q, Arn: 'arn:aws:sqs:us-east-1:123456789012:q'}\n"
        "        - {Id: k, Arn: 'arn:aws:kinesis:us-east-1:123456789012:stream/s'}\n"
        "        - {Id: w, Arn: sqs}\n",
        {},
    )
    findings = check_plan(plan_stack(path, stack_name="s"))
    assert findings.problems == []
    flagged = [w for w in findings.warnings if "is not emulated" in w]
    assert len(flagged) == 2
    assert any("kinesis" in w for w in flagged) and any("target sqs " in w for w in flagged)


def test_a_too_deep_rule_pattern_is_a_problem_not_a_crash(write_app: Any) -> None:
    deep = '{"a":' * 300 + '["b"]' + "}" * 300
    path = write_app(
        "Resources:\n  Rule:\n    Type: AWS::Events::Rule\n"
        f"    Properties:\n      EventPattern: '{deep}'\n",
        {},
    )
    (problem,) = check_plan(plan_stack(path, stack_name="s")).problems
    assert problem.startswith("rule Rule: Event pattern is not valid") and "nested" in problem
