"""Every definition Stepwell ships or documents, and the Developer Guide's examples, pass
ValidateStateMachineDefinition with no ERROR diagnostic (issue 8: "The validator must
never reject a definition that AWS accepts"; F2-F5, H1).

The definitions: every ``*.json`` under ``examples/``; the idempotent-workflow seed exactly
as AWS published it (``data/definitions/idempotent-workflow-sam.asl.json``, a copy of
``../shared/seeds/idempotent-workflow-sam/statemachine/statemachine.asl.json``) with the
``DefinitionSubstitutions`` of its SAM template applied, as CloudFormation does before
creating the machine; and definitions written from the Developer Guide's examples
(``data/definitions/guide-*.asl.json``: Parallel, Choice, inline, legacy and distributed
Map, the intrinsic functions, Retry/Catch, Wait, paths, JSONata).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stepwell.language.compiler import load_state_machine
from stepwell.language.validation import validate_definition

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data" / "definitions"

# The SAM templates' DefinitionSubstitutions, resolved as CloudFormation would.
SAM_SUBSTITUTIONS = {
    "${IdempotencyConfigFunctionArn}": "arn:aws:lambda:us-east-1:123456789012:function:config",
    "${FailureInjectFunctionArn}": "arn:aws:lambda:us-east-1:123456789012:function:failure",
    "${DDBUpdateItem}": "arn:aws:states:::dynamodb:updateItem",
    "${DDBGetItem}": "arn:aws:states:::dynamodb:getItem",
    "${DDBTransactWriteItems}": "arn:aws:states:::aws-sdk:dynamodb:transactWriteItems",
    "${DDBTable}": "IdempotencyTable",
    # The seed applications written for Stepwell (examples/apps/*-sam).
    "${SendCommunicationFunctionArn}": "arn:aws:lambda:us-east-1:123456789012:function:send",
    "${DeadLetterQueueUrl}": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
    "${NotificationTopicArn}": "arn:aws:sns:us-east-1:123456789012:notifications",
    "${TeamCQueueUrl}": "https://sqs.us-east-1.amazonaws.com/123456789012/TeamCSqs",
    "${StatusFunctionArn}": "arn:aws:lambda:us-east-1:123456789012:function:status",
}

# Every JSON file of examples/ that is a state machine (applications also hold others,
# such as the sample collection's example-workflow.json metadata).
DEFINITIONS = sorted(
    path for path in (ROOT / "examples").rglob("*.json") if '"StartAt"' in path.read_text()
) + sorted(DATA.glob("*.json"))


def definition_text(path: Path) -> str:
    text = path.read_text()
    for placeholder, value in SAM_SUBSTITUTIONS.items():
        text = text.replace(placeholder, value)
    return text


def test_the_definitions_are_there() -> None:
    names = {path.name for path in DEFINITIONS}
    assert len([p for p in DEFINITIONS if ROOT / "examples" in p.parents]) >= 5
    assert "idempotent-workflow-sam.asl.json" in names
    assert len([name for name in names if name.startswith("guide-")]) >= 8


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda path: path.name)
def test_definition_is_accepted_without_errors(path: Path) -> None:
    text = definition_text(path)
    errors = [d for d in validate_definition(text) if d.severity == "ERROR"]
    assert errors == []
    load_state_machine(text)  # and it compiles
