"""What a Task ``Resource`` ARN names: a service integration, an activity, or a Lambda
function. Shared by the interpreter (which events a Task records) and the integrations
(what runs it), so both read an ARN the same way.

Source: Developer Guide, "Task workflow state", "Specifying Resource ARNs in Tasks": a
Resource is ``arn:partition:service:region:account:task_type:name``, where ``service`` is
``states`` for activities and service integrations and ``task_type`` is ``activity`` or
the name of a connected service. The integration examples leave region and account
empty (``arn:aws:states:::sqs:sendMessage``); the pattern allows them, so
``arn:aws:states:us-east-1:123456789012:aws-sdk:s3:listObjectsV2`` names the same
integration as ``arn:aws:states:::aws-sdk:s3:listObjectsV2``.
"""

from __future__ import annotations

import functools
import re
from typing import Final

_STATES_ARN: Final = re.compile(
    r"arn:(?P<partition>[a-z-]+):states:(?P<region>[a-z0-9-]*):(?P<account>[0-9]*):(?P<rest>.+)"
)
ACTIVITY: Final = "activity"


@functools.lru_cache(maxsize=1024)  # a Task step asks again for the same few resources
def integration_target(resource: str) -> str | None:
    """``SERVICE:ACTION[.pattern]`` (or ``aws-sdk:SERVICE:ACTION[.pattern]``) of an
    integration ARN, with or without region and account; None for anything else."""
    match = _STATES_ARN.fullmatch(resource)
    return None if match is None else _target(match)


def canonical_integration(resource: str) -> str:
    """An integration ARN without region and account (``arn:aws:states:::TARGET``), as the
    interpreter and the integrations key them; anything else unchanged."""
    match = _STATES_ARN.fullmatch(resource)
    target = None if match is None else _target(match)
    if match is None or target is None:
        return resource
    return f"arn:{match['partition']}:states:::{target}"


def _target(match: re.Match[str]) -> str | None:
    rest = match["rest"]
    if rest.split(":", 1)[0] == ACTIVITY and match["region"]:
        return None  # arn:aws:states:REGION:ACCOUNT:activity:NAME
    return rest


def is_activity(resource: str) -> bool:
    """``arn:PARTITION:states:REGION:ACCOUNT:activity:NAME``."""
    return resource.split(":")[5:6] == [ACTIVITY]
