"""ARNs and names as AWS Step Functions forms and checks them.

Formats (Developer Guide, "Resource types defined by AWS Step Functions"):
``arn:aws:states:REGION:ACCOUNT:stateMachine:NAME[:VERSION|ALIAS]``,
``arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME``,
``arn:aws:states:REGION:ACCOUNT:express:MACHINE:NAME:ID`` and
``arn:aws:states:REGION:ACCOUNT:activity:NAME``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from stepwell.service.errors import InvalidArn, InvalidName, ValidationException

# API Reference, CreateStateMachine "name": 1-80 characters, none of: white space,
# brackets < > { } [ ], wildcards ? *, special characters " # % \ ^ | ~ ` $ & , ; : /,
# control characters (U+0000-001F, U+007F-009F).
_BAD_NAME = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")


def check_name(name: str, what: str = "name") -> str:
    if not 1 <= len(name) <= 80 or _BAD_NAME.search(name):
        raise InvalidName(f"Invalid Name: '{name}'")
    return name


@dataclass(frozen=True, slots=True)
class Arns:
    region: str = "us-east-1"
    account: str = "123456789012"

    @property
    def prefix(self) -> str:
        return f"arn:aws:states:{self.region}:{self.account}"

    def state_machine(self, name: str) -> str:
        return f"{self.prefix}:stateMachine:{name}"

    def execution(self, machine_name: str, name: str) -> str:
        return f"{self.prefix}:execution:{machine_name}:{name}"

    def express_execution(self, machine_name: str, name: str, run_id: str) -> str:
        return f"{self.prefix}:express:{machine_name}:{name}:{run_id}"

    def activity(self, name: str) -> str:
        return f"{self.prefix}:activity:{name}"

    def version(self, machine_arn: str, number: int) -> str:
        return f"{machine_arn}:{number}"

    def alias(self, machine_arn: str, name: str) -> str:
        return f"{machine_arn}:{name}"


@dataclass(frozen=True, slots=True)
class MachineArn:
    """A state machine ARN taken apart: the machine's own ARN and the version number or
    alias name that qualifies it, if any (API Reference, StartExecution: "a version ARN,
    which is a combination of state machine ARN and the version number separated by a
    colon", an alias ARN likewise with the alias name)."""

    arn: str
    machine_arn: str
    name: str
    qualifier: str | None = None

    @property
    def version(self) -> int | None:
        return int(self.qualifier) if self.qualifier and self.qualifier.isdigit() else None

    @property
    def alias(self) -> str | None:
        return self.qualifier if self.qualifier and not self.qualifier.isdigit() else None


# The same few ARNs come back in every call (StartExecution takes one apart twice): the
# parts of each are kept (a refused ARN raises again each time; nothing of it is kept).
@functools.lru_cache(maxsize=1024)
def parse_machine_arn(arn: str) -> MachineArn:
    """InvalidArn unless ``arn`` names a state machine, a version or an alias. A labelled
    ARN (``...:stateMachine:NAME/LABEL``, a Distributed Map) is a ValidationException,
    as AWS answers for the operations that take no labels."""
    parts = split_arn(arn, "stateMachine")
    if len(parts) > 2 or not parts[0] or (len(parts) == 2 and not parts[1]):
        raise InvalidArn(f"Invalid Arn: '{arn}'")
    if "/" in parts[0]:
        raise ValidationException(
            f"Labeled ARNs are not supported by this API: '{arn}'",
            reason="API_DOES_NOT_SUPPORT_LABELED_ARNS",
        )
    machine_arn = ":".join(arn.split(":")[:7])
    return MachineArn(arn, machine_arn, parts[0], parts[1] if len(parts) == 2 else None)


def split_arn(arn: str, resource: str) -> list[str]:
    """The parts after ``arn:aws:states:REGION:ACCOUNT:RESOURCE:``; InvalidArn if the ARN
    is not of that resource type."""
    if not arn.startswith("arn:"):
        raise InvalidArn(f"Invalid Arn: 'Invalid ARN prefix: {arn}'")  # K9
    parts = arn.split(":")
    if len(parts) < 7 or parts[:3] != ["arn", "aws", "states"] or parts[5] != resource:
        raise InvalidArn(f"Invalid Arn: '{arn}'")
    return parts[6:]
