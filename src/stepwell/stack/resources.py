"""What each CloudFormation resource type is called and what it answers to ``Ref`` and
``Fn::GetAtt``, in AWS's shapes (CloudFormation User Guide, "Return values" of each
resource type).

A resource without a name property in the template gets a generated one, as
CloudFormation generates them (``<stack>-<LogicalId>-<suffix>``; a state machine
``<LogicalId>-<suffix>``), except that the suffix comes from a hash of the stack and
logical id rather than chance, so running ``stepwell up`` again finds the same table,
queue and state machine and keeps their data.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class Physical:
    """A resource's physical name and where it lives."""

    logical: str
    name: str
    region: str
    account: str

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        where = self.region if region else ""
        return f"arn:aws:{service}:{where}:{self.account}:{resource}"


Attribute = Callable[[Physical], Any]


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One CloudFormation type: its kind in Stepwell (None: accepted, not emulated), the
    property naming it, how a generated name looks, and its return values."""

    kind: str | None
    name_property: str | None
    ref: Attribute
    attributes: Mapping[str, Attribute] = field(default_factory=dict)
    short_name: bool = False  # generated as <LogicalId>-<suffix>, without the stack name
    max_length: int = 64


def generated_name(stack: str, logical: str, short: bool = False, max_length: int = 64) -> str:
    digest = hashlib.sha256(f"{stack}/{logical}".encode()).digest()
    suffix = "".join(_ALPHABET[byte % len(_ALPHABET)] for byte in digest[:12])
    head = logical if short else f"{stack}-{logical}"
    return f"{head[: max_length - len(suffix) - 1]}-{suffix}"


def _name(p: Physical) -> str:
    return p.name


def _function_arn(p: Physical) -> str:
    return p.arn("lambda", f"function:{p.name}")


def _machine_arn(p: Physical) -> str:
    return p.arn("states", f"stateMachine:{p.name}")


def _activity_arn(p: Physical) -> str:
    return p.arn("states", f"activity:{p.name}")


def _table_arn(p: Physical) -> str:
    return p.arn("dynamodb", f"table/{p.name}")


def _queue_arn(p: Physical) -> str:
    return p.arn("sqs", p.name)


def queue_url(p: Physical) -> str:
    return f"https://sqs.{p.region}.amazonaws.com/{p.account}/{p.name}"


def _topic_arn(p: Physical) -> str:
    return p.arn("sns", p.name)


def _rule_arn(p: Physical) -> str:
    return p.arn("events", f"rule/{p.name}")


def _role_arn(p: Physical) -> str:
    return p.arn("iam", f"role/{p.name}", region=False)


def _layer_version_arn(p: Physical) -> str:
    return p.arn("lambda", f"layer:{p.name}:1")


def _generic_arn(service: str) -> Attribute:
    return lambda p: p.arn(service, p.name)


TYPES: dict[str, ResourceType] = {
    "AWS::Lambda::Function": ResourceType(
        "function", "FunctionName", _name, {"Arn": _function_arn}
    ),
    "AWS::StepFunctions::StateMachine": ResourceType(
        "state machine",
        "StateMachineName",
        _machine_arn,
        {"Arn": _machine_arn, "Name": _name, "StateMachineRevisionId": lambda p: ""},
        short_name=True,
        max_length=80,
    ),
    # CloudFormation User Guide, AWS::StepFunctions::Activity: Ref returns the ARN; its
    # Name property is required.
    "AWS::StepFunctions::Activity": ResourceType(
        "activity",
        "Name",
        _activity_arn,
        {"Arn": _activity_arn, "Name": _name},
        short_name=True,
        max_length=80,
    ),
    "AWS::DynamoDB::Table": ResourceType(
        "table",
        "TableName",
        _name,
        {
            "Arn": _table_arn,
            "StreamArn": lambda p: f"{_table_arn(p)}/stream/1970-01-01T00:00:00.000",
        },
        max_length=255,
    ),
    "AWS::SQS::Queue": ResourceType(
        "queue",
        "QueueName",
        queue_url,
        {"Arn": _queue_arn, "QueueName": _name, "QueueUrl": queue_url},
        max_length=80,
    ),
    "AWS::SNS::Topic": ResourceType(
        "topic",
        "TopicName",
        _topic_arn,
        {"TopicArn": _topic_arn, "TopicName": _name},
        max_length=256,
    ),
    "AWS::SNS::Subscription": ResourceType("subscription", None, _name, {"Arn": _name}),
    "AWS::Events::Rule": ResourceType("rule", "Name", _name, {"Arn": _rule_arn}),
    "AWS::Scheduler::Schedule": ResourceType(
        "schedule",
        "Name",
        _name,
        {"Arn": lambda p: p.arn("scheduler", f"schedule/default/{p.name}")},
    ),
    "AWS::Lambda::EventSourceMapping": ResourceType(
        "event source mapping", None, _name, {"EventSourceMappingId": _name}
    ),
    # Not emulated as a service; a layer with local content is put on the path of the
    # functions that name it (``stack.layers``).
    "AWS::Lambda::LayerVersion": ResourceType(
        None,
        "LayerName",
        _layer_version_arn,
        {"LayerVersionArn": _layer_version_arn},
        max_length=140,
    ),
    "AWS::IAM::Role": ResourceType(
        None, "RoleName", _name, {"Arn": _role_arn, "RoleId": lambda p: f"AROA{p.name[:17]}"}
    ),
    "AWS::Logs::LogGroup": ResourceType(
        None, "LogGroupName", _name, {"Arn": lambda p: p.arn("logs", f"log-group:{p.name}:*")}
    ),
}


def resource_type(kind: str) -> ResourceType:
    """The known type, or a generic not-emulated one answering ``Ref`` with its name and
    any attribute with an ARN-shaped value."""
    known = TYPES.get(kind)
    if known is not None:
        return known
    service = kind.split("::")[1].lower() if kind.count("::") == 2 else "cloudformation"
    return ResourceType(None, None, _name, _AnyAttribute(_generic_arn(service)))


class _AnyAttribute(dict[str, Attribute]):
    """Every attribute of a resource Stepwell does not emulate: an ARN-shaped value."""

    def __init__(self, value: Attribute) -> None:
        super().__init__()
        self._value = value

    def get(self, key: str, default: Any = None) -> Attribute:
        return self._value

    def __contains__(self, key: object) -> bool:
        return True
