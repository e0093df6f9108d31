"""``bench/check_published.py``: the check of published samples, re-run on a folder the
user cloned (Stepwell keeps no copy of them; ``docs/published-samples.tsv`` records what
was checked). Definitions must be ones CreateStateMachine accepts once their placeholders
are replaced as CloudFormation would; templates must pass ``stepwell up --check``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "check_published.py"


@pytest.fixture(scope="module")
def checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_published", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_placeholders_are_replaced_by_plausible_values(checker: ModuleType) -> None:
    text = checker.substituted(
        '{"Resource": "${DoWork}", "A": "${OrderTopicArn}", "B": "${Table}", "S": ${Wait},'
        ' "R": "${DDBPutItem}", "P": "arn:${Partition}:states:::sqs:sendMessage"}'
    )
    assert json.loads(text) == {
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:DoWork",
        "A": "arn:aws:sns:us-east-1:123456789012:OrderTopicArn",
        "B": "Table",
        "S": 1,
        "R": "DDBPutItem",  # only as a Resource does it stand for the integration
        "P": "arn:aws:states:::sqs:sendMessage",
    }
    resource = checker.substituted('{"Resource": "${DDBPutItem}"}')
    assert json.loads(resource) == {"Resource": "arn:aws:states:::dynamodb:putItem"}


GOOD = (
    '{"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": "${CallArn}",\n'
    '"TimeoutSeconds": ${Limit}, "End": true}}}'
)
MISSING_TARGET = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}'
YAML_FLOW = "StartAt: Hold\nStates:\n  Hold:\n    Type: Pass\n    ResultPath:\n    End: true\n"
TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Contact: {Type: String}
Resources:
  Alerts: {Type: AWS::SNS::Topic}
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: statemachine/flow.asl.yaml
      DefinitionSubstitutions: {Who: !Ref Contact}
"""


def test_a_folder_is_checked_file_by_file(
    checker: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "app" / "statemachine").mkdir(parents=True)
    (tmp_path / "app" / "template.yaml").write_text(TEMPLATE)
    (tmp_path / "app" / "statemachine" / "flow.asl.yaml").write_text(YAML_FLOW)
    (tmp_path / "good.asl.json").write_text(GOOD)
    (tmp_path / "broken.json").write_text(MISSING_TARGET)
    (tmp_path / "package.json").write_text('{"name": "not a state machine"}')
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "x.asl.json").write_text(MISSING_TARGET)

    status = checker.main([str(tmp_path), "--parameter", "Contact=someone@example.com"])
    lines = capsys.readouterr().out.splitlines()

    assert status == 1
    assert len(lines) == 4  # not package.json, nothing under node_modules
    assert lines[:2] == ["app/statemachine/flow.asl.yaml: ok", "app/template.yaml: ok"]
    assert lines[2].startswith("broken.json: MISSING_TRANSITION_TARGET")
    assert lines[3] == "good.asl.json: ok"


def test_a_template_parameter_without_default_or_value_takes_a_stand_in(
    checker: ModuleType, tmp_path: Path
) -> None:
    (tmp_path / "statemachine").mkdir()
    (tmp_path / "statemachine" / "flow.asl.yaml").write_text(YAML_FLOW)
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    assert checker.template_problems(tmp_path / "template.yaml", {}) == []
    (tmp_path / "statemachine" / "flow.asl.yaml").write_text("StartAt: Gone\nStates: {}\n")
    assert checker.template_problems(tmp_path / "template.yaml", {}) != []


def test_a_yaml_definition_has_its_placeholders_replaced_after_it_is_read(
    checker: ModuleType, tmp_path: Path
) -> None:
    # The same definition as GOOD, in YAML: the quoted Resource stands for a function,
    # the unquoted ${Limit} for a number (as unquoted in JSON).
    flow = tmp_path / "flow.asl.yaml"
    flow.write_text(
        "StartAt: Call\nStates:\n  Call:\n    Type: Task\n"
        '    Resource: "${DoWork}"\n    TimeoutSeconds: ${Limit}  # seconds\n    End: true\n'
    )
    assert checker.definition_problems(flow) == []
    (tmp_path / "good.asl.json").write_text(GOOD)
    assert checker.definition_problems(tmp_path / "good.asl.json") == []


def test_a_parameter_without_a_value_is_a_usage_error(
    checker: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        checker.main([str(tmp_path), "--parameter", "Foo"])
    assert exited.value.code == 2
    assert "--parameter Foo: expected NAME=VALUE" in capsys.readouterr().err
