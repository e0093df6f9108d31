"""Published AWS sample definitions are accepted (issue 8: "The validator must never
reject a definition that AWS accepts"; Developer Guide, "ValidateStateMachineDefinition":
only ERROR diagnostics make CreateStateMachine refuse a definition).

Every definition of ``corpus/`` (see ``corpus_definitions``), with its
``DefinitionSubstitutions`` placeholders replaced as CloudFormation does, must pass
validation without an ERROR and compile.
"""

from __future__ import annotations

import json

import pytest

from stepwell.language.compiler import load_state_machine
from stepwell.language.validation import validate_definition
from tests.language.corpus_definitions import (
    Published,
    definition_text,
    published_definitions,
    substituted,
)

CORPUS = published_definitions()


def test_the_corpus_is_there_and_indexed() -> None:
    assert len(CORPUS) >= 135
    assert len({item.name for item in CORPUS}) == len(CORPUS)
    assert len({item.repo for item in CORPUS}) >= 6
    for item in CORPUS:
        assert item.file.exists(), item.name
        assert len(item.commit) == 40


def test_placeholders_are_replaced_by_plausible_values() -> None:
    text = substituted(
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
    resource = substituted('{"Resource": "${DDBPutItem}"}')
    assert json.loads(resource) == {"Resource": "arn:aws:states:::dynamodb:putItem"}


@pytest.mark.parametrize("item", CORPUS, ids=lambda item: item.name)
def test_published_definition_is_accepted(item: Published) -> None:
    text = definition_text(item)
    diagnostics = validate_definition(text)
    errors = [
        f"{d.code}: {d.message} at {d.location}" for d in diagnostics if d.severity == "ERROR"
    ]
    assert errors == []
    load_state_machine(text)
