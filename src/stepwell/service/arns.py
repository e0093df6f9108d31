"""ARNs and names as AWS Step Functions forms and checks them.

Formats (Developer Guide, "Resource types defined by AWS Step Functions"):
``arn:aws:states:REGION:ACCOUNT:stateMachine:NAME[:VERSION|ALIAS]``,
``arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME``,
``arn:aws:states:REGION:ACCOUNT:express:MACHINE:NAME:ID`` and
``arn:aws:states:REGION:ACCOUNT:activity:NAME``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stepwell.service.errors import InvalidArn, InvalidName

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


def split_arn(arn: str, resource: str) -> list[str]:
    """The parts after ``arn:aws:states:REGION:ACCOUNT:RESOURCE:``; InvalidArn if the ARN
    is not of that resource type."""
    parts = arn.split(":")
    if len(parts) < 7 or parts[:3] != ["arn", "aws", "states"] or parts[5] != resource:
        raise InvalidArn(f"Invalid Arn: '{arn}'")
    return parts[6:]
