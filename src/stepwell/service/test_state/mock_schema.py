"""A mocked Task result checked against the output shape of the API the Task calls
(aws-behaviour M8; API Reference, ``MockInput.fieldValidationMode``).

Design decision: the shapes come from botocore's service models, not from tables of our
own: ``aws-sdk:<service>:<action>`` is the ``<Action>`` operation's output shape, an
optimised integration ``arn:aws:states:::<service>:<action>`` likewise, except where Step
Functions answers with another shape: ``states:startExecution.sync`` returns what
DescribeExecution returns (``.sync:2`` with ``Input`` and ``Output`` as JSON, not text),
and ``lambda:invoke`` returns ``Payload`` as JSON, not a blob.
Member names are PascalCase, as the integrations return them (``ExecutionArn``).

Present fields must have their type, number ranges, string length minimums and enum
values (not maximum lengths or patterns).
STRICT (the default) checks present fields and requires the required ones; PRESENT
checks present fields only; NONE checks nothing. Unknown fields pass. A failure names the
leaf field only: ``Mock result schema validation error: Field 'StatusCode' must be a
number``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stepwell.integrations.naming import botocore_name
from stepwell.language.evaluation import JSON
from stepwell.language.resource_arns import integration_target
from stepwell.service import errors as err

STRICT, PRESENT, NONE = "STRICT", "PRESENT", "NONE"
_OPTIMISED = "arn:aws:states:::"
_SDK = "arn:aws:states:::aws-sdk:"
_ANY = object()  # a member that holds any JSON (lambda:invoke's Payload)
# Integrations whose result is another operation's output than their name says.
_ANSWERED_BY = {
    ("states", "startExecution.sync"): "DescribeExecution",
    ("states", "startExecution.sync:2"): "DescribeExecution",
}
# Members an integration returns as JSON where the API returns text or a blob.
_JSON_MEMBERS: dict[tuple[str, str], tuple[str, ...]] = {
    ("lambda", "invoke"): ("Payload",),
    ("states", "startExecution.sync:2"): ("input", "output"),
}
_NUMBERS = ("integer", "long", "float", "double")
# Limits AWS checks that differ from this botocore's model, by (service, shape name):
# AWS refused a mocked Lambda MemorySize of 10241 (aws-behaviour M8), botocore's model
# now allows up to 32768.
_AWS_LIMITS: dict[tuple[str, str], dict[str, int]] = {("lambda", "MemorySize"): {"max": 10240}}


@dataclass(frozen=True, slots=True)
class _Rules:
    strict: bool  # required members must be there (STRICT)
    service: str  # botocore's name of the service, for _AWS_LIMITS


def check_mock_result(resource: str, result: JSON, mode: str | None) -> None:
    """Raise ``ValidationException`` if ``result`` does not fit the resource's output."""
    resource = _unqualified(resource)
    mode = mode or STRICT
    if mode == NONE:
        return
    shape = output_shape(resource)
    if shape is None:
        return
    if not isinstance(result, dict):
        return  # only objects are checked; what AWS says of other values is not known
    service = botocore_name(_service(resource)) or ""
    problem = _check(shape, result, "", _Rules(mode == STRICT, service))
    if problem is not None:
        raise err.ValidationException(f"Mock result schema validation error: {problem}")


def _unqualified(resource: str) -> str:
    """An integration ARN as ``arn:aws:states:::TARGET``, whatever its partition, region
    and account ("Task workflow state": they name the same integration)."""
    target = integration_target(resource)
    return resource if target is None else _OPTIMISED + target


def output_shape(resource: str) -> Any:
    """botocore's output shape for a Task resource, or None when it has none we know
    (a Lambda function ARN, an activity, an HTTP task, ``.waitForTaskToken``)."""
    resource = _unqualified(resource)
    if resource.startswith(_SDK):
        service, _, action = resource[len(_SDK) :].partition(":")
        return _operation_output(service, _pascal(action))
    if not resource.startswith(_OPTIMISED) or resource.endswith(".waitForTaskToken"):
        return None
    service, _, action = resource[len(_OPTIMISED) :].partition(":")
    operation = _ANSWERED_BY.get((service, action))
    if operation is None:
        if ".sync" in action:
            return None
        operation = _pascal(action)
    shape = _operation_output(_service(resource), operation)
    as_json = _JSON_MEMBERS.get((service, action))
    return _WithJson(shape, as_json) if as_json and shape is not None else shape


def _service(resource: str) -> str:
    """The service a Task resource calls, as ``botocore_name`` takes it."""
    resource = _unqualified(resource)
    rest = resource[len(_SDK) :] if resource.startswith(_SDK) else resource[len(_OPTIMISED) :]
    service = rest.partition(":")[0]
    return "stepfunctions" if service == "states" else service


@functools.cache
def _operation_output(service: str, operation: str) -> Any:
    name = botocore_name(service)
    if name is None:
        return None
    model = _session().get_service_model(name)
    if operation not in model.operation_names:
        return None
    return model.operation_model(operation).output_shape


@functools.cache
def _session() -> Any:
    from botocore.session import get_session  # type: ignore[import-untyped]

    return get_session()


class _WithJson:
    """An output shape as Step Functions returns it, with some text or blob members
    holding JSON instead (Lambda Invoke's ``Payload``; ``.sync:2``'s ``Input`` and
    ``Output``)."""

    type_name = "structure"

    def __init__(self, shape: Any, members: tuple[str, ...]) -> None:
        self.members = {**shape.members, **dict.fromkeys(members, _ANY)}
        self.required_members = list(shape.required_members)
        self.metadata = shape.metadata


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def _check(shape: Any, value: JSON, name: str, rules: _Rules) -> str | None:
    if shape is _ANY:
        return None
    kind = shape.type_name
    if kind == "structure":
        return _structure(shape, value, name, rules)
    if kind == "list":
        if not isinstance(value, list):
            return f"Field '{name}' must be an array"
        for item in value:
            problem = _check(shape.member, item, name, rules)
            if problem is not None:
                return problem
        return None
    if kind == "map":
        if not isinstance(value, dict):
            return f"Field '{name}' must be an object"
        for key, item in value.items():
            problem = _check(shape.value, item, str(key), rules)
            if problem is not None:
                return problem
        return None
    return _scalar(shape, value, name, rules)


def _structure(shape: Any, value: JSON, name: str, rules: _Rules) -> str | None:
    if not isinstance(value, dict):
        return f"Field '{name}' must be an object"
    members: Mapping[str, Any] = shape.members
    required = set(shape.required_members) if rules.strict else set()
    for member, member_shape in members.items():
        key = _pascal(member)
        if key not in value:
            if member in required:
                return f"Required field '{key}' is missing"
            continue
        problem = _check(member_shape, value[key], key, rules)
        if problem is not None:
            return problem
    return None


def _scalar(shape: Any, value: JSON, name: str, rules: _Rules) -> str | None:
    kind = shape.type_name
    metadata = {**shape.metadata, **_AWS_LIMITS.get((rules.service, shape.name), {})}
    if kind in _NUMBERS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"Field '{name}' must be a number"
        if "min" in metadata and value < metadata["min"]:
            return f"Field '{name}' is less than the minimum value"
        if "max" in metadata and value > metadata["max"]:
            return f"Field '{name}' exceeds the maximum value"
        return None
    if kind == "boolean":
        return None if isinstance(value, bool) else f"Field '{name}' must be a boolean"
    if not isinstance(value, str):  # string, blob, timestamp
        return f"Field '{name}' must be a string"
    enum = metadata.get("enum")
    if enum and value not in enum:
        return f"Field '{name}' is not an expected value"
    if "min" in metadata and len(value) < metadata["min"]:
        return f"Field '{name}' is smaller than the minimum length"
    return None  # M8: AWS checks string length minimums, not maximums or patterns
