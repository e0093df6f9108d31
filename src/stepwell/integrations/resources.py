"""Task ``Resource`` ARNs: what they name, and which ones AWS refuses.

A service integration is ``arn:PARTITION:states:::SERVICE:ACTION`` (optimized) or
``arn:PARTITION:states:::aws-sdk:SERVICE:ACTION`` (AWS SDK), with or without a region and
account between the colons (``language/resource_arns.py``), optionally followed by an
integration pattern: ``.sync`` (or ``.sync:2``) to run a job, ``.waitForTaskToken`` to
wait for a callback (Developer Guide, "Service integration patterns").

Which patterns a service supports is AWS's table in "Integrating optimized services with
Step Functions": SDK integrations support Request Response and ``.waitForTaskToken`` but
never ``.sync``; DynamoDB supports Request Response only; SQS, SNS, Lambda, API Gateway and
EventBridge add ``.waitForTaskToken``; job services add ``.sync``. AWS refuses anything
else when the state machine is created or updated (``InvalidDefinition``) with
``SCHEMA_VALIDATION_FAILED: The resource provided <ARN> is not recognized. The value is not
a valid resource ARN, or the resource is not available in this region.`` — the 2020
runtime error ``States.Runtime`` quoted in the SQS seed is what the same mistake gave
before that check existed. ``diagnostics`` reproduces today's check.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from stepwell.language.model import Graph, MapState, ParallelState, StateMachine, TaskState
from stepwell.language.resource_arns import canonical_integration, integration_target
from stepwell.language.source import escape_token
from stepwell.language.validation_rules.base import Diagnostic

REQUEST_RESPONSE: Final = ""
SYNC: Final = ".sync"
SYNC2: Final = ".sync:2"
WAIT_FOR_TOKEN: Final = ".waitForTaskToken"
_PATTERNS: Final = (SYNC2, SYNC, WAIT_FOR_TOKEN)

RR: Final = frozenset({REQUEST_RESPONSE})
RR_WAIT: Final = frozenset({REQUEST_RESPONSE, WAIT_FOR_TOKEN})
RR_SYNC: Final = frozenset({REQUEST_RESPONSE, SYNC})
RR_SYNC_WAIT: Final = frozenset({REQUEST_RESPONSE, SYNC, WAIT_FOR_TOKEN})

# Optimized integrations: service → (actions if Stepwell knows them all, patterns).
OPTIMIZED: Final[Mapping[str, tuple[frozenset[str] | None, frozenset[str]]]] = {
    "apigateway": (frozenset({"invoke"}), RR_WAIT),
    "athena": (None, RR_SYNC),
    "batch": (None, RR_SYNC),
    "bedrock": (None, RR_SYNC_WAIT),
    # Developer Guide, "Invoke Amazon Bedrock AgentCore harness with Step Functions":
    # InvokeHarness, Request Response only.
    "bedrockagentcore": (frozenset({"invokeHarness"}), RR),
    "codebuild": (None, RR_SYNC),
    "databrew": (frozenset({"startJobRun"}), RR_SYNC),
    "dynamodb": (frozenset({"getItem", "putItem", "updateItem", "deleteItem"}), RR),
    "ecs": (frozenset({"runTask"}), RR_SYNC_WAIT),
    "eks": (None, RR_SYNC_WAIT),
    "elasticmapreduce": (None, RR_SYNC),
    "emr-containers": (None, RR_SYNC),
    "emr-serverless": (None, RR_SYNC),
    "events": (frozenset({"putEvents"}), RR_WAIT),
    "glue": (None, RR_SYNC),
    "http": (frozenset({"invoke"}), RR),
    # ItemReader's and ResultWriter's resources; Stepwell also runs them as Task resources.
    "s3": (frozenset({"getObject", "putObject", "listObjectsV2"}), RR),
    "lambda": (frozenset({"invoke"}), RR_WAIT),
    "mediaconvert": (frozenset({"createJob"}), RR_SYNC),
    "sagemaker": (None, RR_SYNC),
    "sns": (frozenset({"publish"}), RR_WAIT),
    "sqs": (frozenset({"sendMessage"}), RR_WAIT),
    "states": (frozenset({"startExecution"}), RR_SYNC_WAIT | {SYNC2}),
}
SDK_PATTERNS: Final = RR_WAIT


@dataclass(frozen=True, slots=True)
class ServiceResource:
    """A parsed integration ARN: ``sdk`` for aws-sdk, the service, action and pattern;
    ``arn`` without region and account (``arn:aws:states:::...``), as handlers key it."""

    arn: str
    sdk: bool
    service: str
    action: str
    pattern: str

    @property
    def base(self) -> str:
        """The ARN without its pattern suffix."""
        return self.arn[: len(self.arn) - len(self.pattern)] if self.pattern else self.arn


def parse(resource: str) -> ServiceResource | None:
    """The integration a Resource names, or None for Lambda/activity ARNs and names."""
    rest = integration_target(resource)
    if rest is None:
        return None
    pattern = next((p for p in _PATTERNS if rest.endswith(p)), REQUEST_RESPONSE)
    rest = rest[: len(rest) - len(pattern)]
    sdk = rest.startswith("aws-sdk:")
    service, _, action = rest.removeprefix("aws-sdk:").partition(":")
    return ServiceResource(canonical_integration(resource), sdk, service, action, pattern)


def recognized(resource: ServiceResource) -> bool:
    """Whether AWS accepts this integration and pattern."""
    if not resource.service or not resource.action or ":" in resource.action:
        return False
    if resource.sdk:
        return resource.pattern in SDK_PATTERNS
    known = OPTIMIZED.get(resource.service)
    if known is None:
        return False
    actions, patterns = known
    return resource.pattern in patterns and (actions is None or resource.action in actions)


NOT_RECOGNIZED: Final = (
    "The resource provided {arn} is not recognized. The value is not a valid resource ARN, "
    "or the resource is not available in this region."
)


def diagnostics(machine: StateMachine) -> list[Diagnostic]:
    """Every Task resource of the machine that AWS would refuse, located by JSON Pointer.
    Worked out once per compiled machine: ``stepwell.run`` asks on every run."""
    return list(_diagnostics(machine))


@functools.lru_cache(maxsize=256)
def _diagnostics(machine: StateMachine) -> tuple[Diagnostic, ...]:
    found = []
    for pointer, task in task_states(machine.root, ""):
        resource = parse(task.resource)
        if resource is not None and not recognized(resource):
            message = NOT_RECOGNIZED.format(arn=task.resource)
            found.append(
                Diagnostic("ERROR", "SCHEMA_VALIDATION_FAILED", message, pointer + "/Resource")
            )
    return tuple(found)


def task_states(graph: Graph, prefix: str) -> Iterator[tuple[str, TaskState]]:
    """Each Task state with its JSON Pointer, through Parallel branches and Map processors."""
    for name, state in graph.states.items():
        pointer = f"{prefix}/States/{escape_token(name)}"
        if isinstance(state, TaskState):
            yield pointer, state
        elif isinstance(state, ParallelState):
            for index, branch in enumerate(state.branches):
                yield from task_states(branch, f"{pointer}/Branches/{index}")
        elif isinstance(state, MapState):
            yield from task_states(state.processor, f"{pointer}/ItemProcessor")
