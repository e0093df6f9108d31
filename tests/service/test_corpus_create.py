"""CreateStateMachine accepts every published definition of the language corpus
(``tests/language/corpus``), and DescribeStateMachine gives it back unchanged (issue 8:
"The validator must never reject a definition that AWS accepts"; API reference,
CreateStateMachine: an ``InvalidDefinition`` error only for a definition with ERROR
diagnostics). A distributed Map's ``ExecutionType`` decides nothing here: every machine is
created as STANDARD, the type its authors deployed unless their template said otherwise.
"""

from __future__ import annotations

from stepwell.store.memory import MemoryStore
from tests.language.corpus_definitions import published_definitions, substituted
from tests.service.harness import ROLE, Harness


def test_every_published_definition_is_created_and_described_unchanged() -> None:
    harness = Harness(MemoryStore())
    created = 0
    for number, item in enumerate(published_definitions()):
        definition = substituted(item.file.read_text())
        arn = harness.call(
            "CreateStateMachine", name=f"corpus-{number}", definition=definition, roleArn=ROLE
        )["stateMachineArn"]
        described = harness.call("DescribeStateMachine", stateMachineArn=arn)
        assert described["definition"] == definition, item.name
        created += 1
    assert created == len(published_definitions()) >= 20
