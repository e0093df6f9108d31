"""CreateStateMachine accepts every published definition of the language corpus
(``tests/language/corpus``), and DescribeStateMachine gives it back unchanged (issue 8:
"The validator must never reject a definition that AWS accepts"; API reference,
CreateStateMachine: ``InvalidDefinition`` only for a definition with ERROR diagnostics).
CreateStateMachine checks more than the language's validator: the Task resources AWS
recognises (``stepwell.integrations.resources``)."""

from __future__ import annotations

import pytest

from stepwell.store.memory import MemoryStore
from tests.language.corpus_definitions import (
    Published,
    definition_text,
    published_definitions,
)
from tests.service.harness import ROLE, Harness


@pytest.mark.parametrize("item", published_definitions(), ids=lambda item: item.name)
def test_published_definition_is_created_and_described_unchanged(item: Published) -> None:
    harness = Harness(MemoryStore())
    definition = definition_text(item)
    arn = harness.call("CreateStateMachine", name="corpus", definition=definition, roleArn=ROLE)[
        "stateMachineArn"
    ]
    described = harness.call("DescribeStateMachine", stateMachineArn=arn)
    assert described["definition"] == definition
