"""SAM and CloudFormation features that published applications use, beyond the seed's:
inline function code, YAML definition files, and definitions checked before anything
starts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepwell.stack.checks import check_plan
from stepwell.stack.plan import plan_stack
from stepwell.stack.template import StackError
from stepwell.testing import local_stack
from tests.stack.test_apply import finished

INLINE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Shout:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      InlineCode: |
        def handler(event, context):
            return {"shout": event["word"].upper()}
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionSubstitutions: {ShoutArn: !GetAtt Shout.Arn}
      Definition:
        StartAt: Shout
        States:
          Shout: {Type: Task, Resource: "${ShoutArn}", End: true}
"""


def test_inline_code_runs_from_a_file_named_index(write_app: Any) -> None:
    # CloudFormation User Guide, AWS::Lambda::Function Code, ZipFile: "CloudFormation
    # places it in a file named index"; SAM's InlineCode becomes that ZipFile.
    path = write_app(INLINE)
    assert check_plan(plan_stack(path, stack_name="inline")).problems == []
    with local_stack(path) as app:
        sfn = app.client()
        started = sfn.start_execution(stateMachineArn=app.physical("Flow"), input='{"word": "hi"}')
        described = finished(app, started["executionArn"])
    assert json.loads(described["output"]) == {"shout": "HI"}


YAML_DEFINITION = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Items: {Type: AWS::Serverless::SimpleTable}
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: flow.asl.yaml
      DefinitionSubstitutions: {Table: !Ref Items}
"""

FLOW_YAML = """\
StartAt: Remember
States:
  Remember:
    Type: Task
    Resource: arn:aws:states:::dynamodb:putItem
    Parameters:
      TableName: ${Table}
      Item:
        id: {S.$: $.id}
    End: true
"""


def test_a_yaml_definition_file_becomes_json_with_its_substitutions(write_app: Any) -> None:
    # CloudFormation User Guide, AWS::StepFunctions::StateMachine DefinitionS3Location:
    # the definition file "must be a JSON or YAML file".
    path = write_app(YAML_DEFINITION, {"flow.asl.yaml": FLOW_YAML})
    with local_stack(path) as app:
        sfn = app.client()
        machine = sfn.describe_state_machine(stateMachineArn=app.physical("Flow"))
        definition = json.loads(machine["definition"])
        table = app.physical("Items")
        assert definition["States"]["Remember"]["Parameters"]["TableName"] == table
        started = sfn.start_execution(stateMachineArn=app.physical("Flow"), input='{"id": "a1"}')
        assert finished(app, started["executionArn"])["status"] == "SUCCEEDED"
        item = app.client("dynamodb").get_item(TableName=table, Key={"id": {"S": "a1"}})
    assert item["Item"] == {"id": {"S": "a1"}}


WAIT_UNTIL_YAML = """\
StartAt: Until
States:
  Until: {Type: Wait, Timestamp: 2016-03-14T01:59:00Z, End: true}
"""


def test_an_unquoted_timestamp_in_a_yaml_definition_stays_a_timestamp(write_app: Any) -> None:
    # YAML reads an unquoted 2016-03-14T01:59:00Z as a date; JSON has only its text.
    template = YAML_DEFINITION.replace("      DefinitionSubstitutions: {Table: !Ref Items}\n", "")
    path = write_app(template, {"flow.asl.yaml": WAIT_UNTIL_YAML})
    assert check_plan(plan_stack(path, stack_name="until")).problems == []
    with local_stack(path) as app:
        machine = app.client().describe_state_machine(stateMachineArn=app.physical("Flow"))
    until = json.loads(machine["definition"])["States"]["Until"]["Timestamp"]
    assert until.startswith("2016-03-14T01:59:00")


def machine_template(definition: str) -> str:
    return (
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Flow:\n"
        "    Type: AWS::Serverless::StateMachine\n    Properties:\n" + definition
    )


def test_the_check_reports_definitions_that_cannot_be_created(write_app: Any) -> None:
    cases = {
        "      DefinitionUri: missing.asl.json\n": "cannot read",
        "      DefinitionUri: {Bucket: my-bucket, Key: flow.json}\n": "s3://my-bucket/flow.json",
        "      Definition: {StartAt: A, States: {A: {Type: Pass, Next: B}}}\n": (
            "MISSING_TRANSITION_TARGET"
        ),
        # A Task resource CreateStateMachine refuses (DynamoDB: Request Response only).
        "      Definition: {StartAt: A, States: {A: {Type: Task, End: true,\n"
        "        Resource: 'arn:aws:states:::dynamodb:putItem.sync'}}}\n": "is not recognized",
    }
    for definition, expected in cases.items():
        path = write_app(machine_template(definition))
        problems = check_plan(plan_stack(path, stack_name="s")).problems
        assert len(problems) == 1 and problems[0].startswith("state machine Flow: "), problems
        assert expected in problems[0]


def test_a_definition_from_a_file_is_checked_with_its_substitutions(write_app: Any) -> None:
    files = {"flow.asl.json": '{"StartAt": "A", "States": {"A": {"Type": "${Kind}", "End": true}}}'}
    accepted = write_app(
        machine_template(
            "      DefinitionUri: flow.asl.json\n      DefinitionSubstitutions: {Kind: Pass}\n"
        ),
        files,
    )
    assert check_plan(plan_stack(accepted, stack_name="s")).problems == []
    refused = write_app(
        machine_template(
            "      DefinitionUri: flow.asl.json\n      DefinitionSubstitutions: {Kind: Nope}\n"
        ),
        files,
    )
    assert check_plan(plan_stack(refused, stack_name="s")).problems != []


CHECKED_APP = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Reminders:
    Type: AWS::Serverless::SimpleTable
    Properties: {TableName: ReminderTable}
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: statemachine/flow.asl.yaml
      DefinitionSubstitutions: {Table: !Ref Reminders}
"""

CHECKED_FLOW = """
StartAt: Both ways
States:
  Both ways:
    Type: Parallel
    End: true
    Branches:
      - StartAt: Wait a bit
        States:
          Wait a bit: {Type: Wait, Seconds: 1, End: true}
      - StartAt: Record it
        States:
          Record it:
            Type: Task
            Resource: arn:aws:states:::dynamodb:putItem
            Parameters:
              TableName: ${Table}
              Item: {id: {S.$: $$.Execution.Name}}
            End: true
"""


def test_the_checked_definition_is_the_one_created(write_app: Any) -> None:
    # A YAML definition file with a substitution inside a Parallel branch: what --check
    # validated is what runs.
    path = write_app(CHECKED_APP, {"statemachine/flow.asl.yaml": CHECKED_FLOW})
    assert check_plan(plan_stack(path, stack_name="s")).problems == []
    with local_stack(path) as app:
        machine = app.client().describe_state_machine(stateMachineArn=app.physical("Flow"))
    definition = json.loads(machine["definition"])
    branch = definition["States"]["Both ways"]["Branches"][1]["States"]
    assert branch["Record it"]["Parameters"]["TableName"] == "ReminderTable"


LAYERED = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: shared/, CompatibleRuntimes: [python3.11]}
    Metadata: {BuildMethod: python3.11}
  Packaged:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: packaged/}
  Greet:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      Layers: [!Ref Shared, !Ref Packaged]
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionSubstitutions: {GreetArn: !GetAtt Greet.Arn}
      Definition:
        StartAt: Greet
        States:
          Greet: {Type: Task, Resource: "${GreetArn}", End: true}
"""

LAYER_FILES = {
    "src/app.py": (
        "import greetings, punctuation\n\n"
        "def handler(event, context):\n"
        "    return {'text': greetings.hello(event['name']) + punctuation.MARK}\n"
    ),
    # A layer sam builds: its source at the top of ContentUri.
    "shared/greetings.py": "def hello(name):\n    return 'hello, ' + name\n",
    # A layer packaged as Lambda lays it out: python/ inside.
    "packaged/python/punctuation.py": "MARK = '!'\n",
}


def test_local_layers_are_on_the_function_path(write_app: Any) -> None:
    # Lambda Developer Guide, "Packaging your layer content": a layer's python/ folder is
    # on the path of a Python function that names the layer.
    path = write_app(LAYERED, LAYER_FILES)
    findings = check_plan(plan_stack(path, stack_name="layered"))
    assert findings.problems == []
    assert not any("layers" in w for w in findings.warnings)
    with local_stack(path) as app:
        sfn = app.client()
        started = sfn.start_execution(stateMachineArn=app.physical("Flow"), input='{"name": "Ada"}')
        described = finished(app, started["executionArn"])
    assert json.loads(described["output"]) == {"text": "hello, Ada!"}


def test_a_layer_from_outside_the_template_is_a_warning_naming_it(write_app: Any) -> None:
    template = LAYERED.replace(
        "[!Ref Shared, !Ref Packaged]", "[arn:aws:lambda:us-east-1:1:layer:x:3]"
    )
    findings = check_plan(plan_stack(write_app(template, LAYER_FILES), stack_name="s"))
    assert any("arn:aws:lambda:us-east-1:1:layer:x:3" in w for w in findings.warnings)


APPLICATIONS = """
Transform: AWS::Serverless-2016-10-31
Resources:
  FromRepository:
    Type: AWS::Serverless::Application
    Properties:
      Location:
        ApplicationId: arn:aws:serverlessrepo:us-east-1:123456789012:applications/tools
        SemanticVersion: 1.2.3
  FromFolder:
    Type: AWS::Serverless::Application
    Properties: {Location: nested/template.yaml}
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionSubstitutions: {Tool: !GetAtt FromRepository.Outputs.ToolArn}
      Definition:
        StartAt: Use
        States:
          Use: {Type: Pass, Result: "${Tool}", End: true}
"""


def test_serverless_applications_are_nested_stacks_reported_not_emulated(
    write_app: Any,
) -> None:
    # SAM's AWS::Serverless::Application becomes an AWS::CloudFormation::Stack; the
    # translator would ask the Serverless Application Repository for the template URL of a
    # repository application, which cannot be reached here: nothing is fetched.
    path = write_app(APPLICATIONS, {"nested/template.yaml": "Resources: {}\n"})
    plan = plan_stack(path, stack_name="apps")
    assert check_plan(plan).problems == []
    assert ("FromRepository", "AWS::CloudFormation::Stack") in plan.not_emulated
    assert ("FromFolder", "AWS::CloudFormation::Stack") in plan.not_emulated


INCLUDING = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        Fn::Transform:
          Name: AWS::Include
          Parameters: {Location: flow/definition.yaml}
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      DefinitionBody:
        Fn::Transform: {Name: AWS::Include, Parameters: {Location: s3://bucket/openapi.yaml}}
"""


def test_aws_include_of_a_local_file_inserts_it(write_app: Any) -> None:
    # CloudFormation User Guide, "AWS::Include transform": the snippet at Location is
    # inserted in place; an S3 Location is left for CloudFormation (not emulated here).
    definition = "StartAt: Hello\nStates:\n  Hello: {Type: Pass, Result: included, End: true}\n"
    path = write_app(INCLUDING, {"flow/definition.yaml": definition})
    plan = plan_stack(path, stack_name="inc")
    assert check_plan(plan).problems == []
    flow = plan.get("Flow")
    assert flow is not None
    assert json.loads(flow.properties["DefinitionString"])["States"]["Hello"]["Result"] == (
        "included"
    )


def test_an_aws_include_that_includes_itself_is_an_error(write_app: Any) -> None:
    looping = "Fn::Transform: {Name: AWS::Include, Parameters: {Location: definition.yaml}}\n"
    path = write_app(INCLUDING, {"flow/definition.yaml": looping})
    with pytest.raises(StackError, match="includes itself"):
        plan_stack(path, stack_name="loop")
