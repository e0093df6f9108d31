"""From a template to a plan: every resource resolved, named and put in creation order.

Planning changes nothing, so ``stepwell up --check`` prints the plan and stops. A plan
lists the resources Stepwell emulates (with their properties fully resolved), the ones
it accepts without emulating (IAM roles, policies, log groups, layers, ...), and the
problems that stop the application from running (a function runtime Stepwell cannot run,
a missing definition file).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepwell.stack.intrinsics import Resolver, StackIdentity
from stepwell.stack.resources import Physical, generated_name, resource_type
from stepwell.stack.sam import Artifacts, to_cloudformation
from stepwell.stack.template import StackError, Template, include_local_files, load_template

# Creation order: what others refer to comes first (a dead-letter queue before its
# queue is handled inside the queue step).
_ORDER = (
    "table",
    "queue",
    "function",
    "topic",
    "subscription",
    "activity",
    "state machine",
    "event source mapping",
    "rule",
    "schedule",
)
_IDS = uuid.UUID("0d7d0c1e-9a51-4c55-9f0e-53a2c1d5e7a1")


@dataclass(frozen=True, slots=True)
class PlannedResource:
    logical_id: str
    type: str
    kind: str
    name: str
    properties: dict[str, Any]


@dataclass
class Plan:
    stack: str
    base: Path
    artifacts: Artifacts
    resources: list[PlannedResource] = field(default_factory=list)
    not_emulated: list[tuple[str, str]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    layers: dict[str, Path] = field(default_factory=dict)  # layer version ARN -> content

    def of_kind(self, kind: str) -> list[PlannedResource]:
        return [resource for resource in self.resources if resource.kind == kind]

    def get(self, logical_id: str) -> PlannedResource | None:
        return next((r for r in self.resources if r.logical_id == logical_id), None)


def plan_stack(
    path: Path,
    *,
    stack_name: str,
    region: str = "us-east-1",
    account: str = "123456789012",
    parameters: dict[str, Any] | None = None,
) -> Plan:
    """Read, translate and resolve the template at ``path``."""
    template = include_local_files(load_template(path), path.parent)
    return plan_template(template, path.parent, stack_name, region, account, parameters or {})


def plan_template(
    template: Template,
    base: Path,
    stack_name: str,
    region: str,
    account: str,
    parameters: dict[str, Any],
) -> Plan:
    _check_parameters(template, parameters)
    template, artifacts = to_cloudformation(template, base, region, parameters)
    stack_id = f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/" + str(
        uuid.uuid5(_IDS, stack_name)
    )
    planner = _Planner(template, StackIdentity(stack_name, region, account, stack_id))
    resolver = Resolver(template, planner.identity, parameters, planner.lookup)
    planner.resolver = resolver
    plan = Plan(stack_name, base, artifacts)
    for logical, resource in template["Resources"].items():
        if not _included(resolver, logical, resource):
            planner.skipped.add(logical)
    for logical, resource in template["Resources"].items():
        if logical in planner.skipped:
            continue
        kind = resource_type(str(resource.get("Type"))).kind
        if kind is None:
            plan.not_emulated.append((logical, str(resource.get("Type"))))
            if resource.get("Type") == "AWS::Lambda::LayerVersion":
                _note_layer(plan, resolver, logical, resource)
            continue
        properties = resolver.resolve(resource.get("Properties") or {})
        plan.resources.append(
            PlannedResource(logical, resource["Type"], kind, planner.name(logical), properties)
        )
    # A queue naming a dead-letter queue comes after the queues without one.
    plan.resources.sort(key=lambda r: (_ORDER.index(r.kind), "RedrivePolicy" in r.properties))
    for name, output in (template.get("Outputs") or {}).items():
        condition = output.get("Condition") if isinstance(output, dict) else None
        if isinstance(output, dict) and (condition is None or resolver.condition(condition)):
            plan.outputs[name] = resolver.resolve(output.get("Value"))
    return plan


def _note_layer(plan: Plan, resolver: Resolver, logical: str, resource: Any) -> None:
    """Remember where a layer's content is, when it is local (SAM ``ContentUri``)."""
    content = resolver.resolve((resource.get("Properties") or {}).get("Content"))
    if isinstance(content, dict):
        path = plan.artifacts.local(content.get("S3Bucket"), content.get("S3Key"))
        if path is not None:
            plan.layers[str(resolver.resolve({"Ref": logical}))] = path


def _included(resolver: Resolver, logical: str, resource: Any) -> bool:
    if not isinstance(resource, dict) or "Type" not in resource:
        raise StackError(f"the resource {logical} has no Type")
    condition = resource.get("Condition")
    return condition is None or resolver.condition(str(condition))


def _check_parameters(template: Template, parameters: dict[str, Any]) -> None:
    declared = template.get("Parameters") or {}
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise StackError(f"the template has no parameter {', '.join(unknown)}")
    for name, value in parameters.items():
        allowed = (declared[name] or {}).get("AllowedValues")
        if allowed and str(value) not in [str(item) for item in allowed]:
            raise StackError(f"the parameter {name} must be one of {allowed}, not {value!r}")


class _Planner:
    """Names resources (once each) and answers the resolver's Ref and GetAtt questions."""

    def __init__(self, template: Template, identity: StackIdentity) -> None:
        self.template = template
        self.identity = identity
        self.resolver: Resolver | None = None
        self.skipped: set[str] = set()
        self._names: dict[str, str] = {}
        self._naming: set[str] = set()

    def lookup(self, logical: str, attribute: str | None) -> Any:
        if logical in self.skipped:
            raise StackError(f"{logical} is referred to, but its Condition leaves it out")
        kind = str(self.template["Resources"][logical].get("Type"))
        described = resource_type(kind)
        physical = Physical(
            logical, self.name(logical), self.identity.region, self.identity.account
        )
        if attribute is None:
            return described.ref(physical)
        value = described.attributes.get(attribute)
        if value is None:
            raise StackError(f"Fn::GetAtt {logical}.{attribute}: {kind} has no such attribute")
        return value(physical)

    def name(self, logical: str) -> str:
        if logical not in self._names:
            if logical in self._naming:
                raise StackError(f"the name of {logical} depends on itself")
            self._naming.add(logical)
            try:
                self._names[logical] = self._physical_name(logical)
            finally:
                self._naming.discard(logical)
        return self._names[logical]

    def _physical_name(self, logical: str) -> str:
        resource = self.template["Resources"][logical]
        kind = str(resource.get("Type"))
        described = resource_type(kind)
        properties = resource.get("Properties") or {}
        resolve = self.resolver.resolve if self.resolver is not None else (lambda v: v)
        if kind in ("AWS::Lambda::Version", "AWS::Lambda::Alias"):
            function = str(resolve(properties.get("FunctionName", "")))
            qualifier = str(resolve(properties.get("Name", "1")))
            region, account = self.identity.region, self.identity.account
            if not function.startswith("arn:"):
                function = f"arn:aws:lambda:{region}:{account}:function:{function}"
            return f"{function}:{qualifier}"
        if kind == "AWS::SNS::Subscription":
            topic = str(resolve(properties.get("TopicArn", "")))
            return f"{topic}:{uuid.uuid5(_IDS, f'{self.identity.name}/{logical}')}"
        if kind == "AWS::Lambda::EventSourceMapping":
            return str(uuid.uuid5(_IDS, f"{self.identity.name}/{logical}"))
        if described.name_property and properties.get(described.name_property) is not None:
            return str(resolve(properties[described.name_property]))
        name = generated_name(
            self.identity.name, logical, described.short_name, described.max_length
        )
        if kind == "AWS::SQS::Queue" and _truthy(properties.get("FifoQueue")):
            name = name[: described.max_length - 5] + ".fifo"
        return name


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
