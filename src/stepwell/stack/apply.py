"""Applying a plan to a running Stepwell: create what is new, update what changed, keep
the data.

Every step is create-or-update, so running ``stepwell up`` again on the same database
changes only what the template changed: a table keeps its items (unless its keys
changed, when CloudFormation too would replace it), a queue its messages, a state
machine gets a new revision when its definition differs. Resources that a previous run
of the same stack created and the template no longer has are deleted, as a stack
update deletes them. Functions start in worker processes of their own
(``integrations.lambda_runtime``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from stepwell.integrations.functions import function_name
from stepwell.integrations.lambda_runtime import FunctionSpec, ProcessFunction, supported_runtime
from stepwell.integrations.lambda_runtime.processes import LogSink, print_log
from stepwell.integrations.services import ServiceError as EmbeddedError
from stepwell.language.cron import ScheduleExpressionError
from stepwell.runtime.event_sources import SqsEventSource
from stepwell.runtime.schedules import Schedule, ScheduleError
from stepwell.service import errors as err
from stepwell.service.host import Host
from stepwell.stack.definitions import attribute_text as _attribute_text
from stepwell.stack.definitions import definition_text
from stepwell.stack.layers import layer_environment, local_layers
from stepwell.stack.plan import Plan, PlannedResource
from stepwell.stack.template import StackError

NAMESPACE = "stacks"


@dataclass
class RunningStack:
    """What ``apply_plan`` started: stop it with ``close``."""

    plan: Plan
    functions: dict[str, ProcessFunction] = field(default_factory=dict)
    event_sources: list[SqsEventSource] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)

    def close(self) -> None:
        for source in self.event_sources:
            source.stop()
        for function in self.functions.values():
            function.close()


def apply_plan(plan: Plan, host: Host, endpoint_url: str, log: LogSink = print_log) -> RunningStack:
    """Make ``host`` hold the application of ``plan``; its functions call ``endpoint_url``."""
    running = RunningStack(plan)
    applier = _Applier(plan, host, endpoint_url, log, running)
    try:
        for resource in plan.resources:
            _STEPS[resource.kind](applier, resource)
        applier.delete_removed()
    except (EmbeddedError, err.ServiceError, ScheduleError, ScheduleExpressionError) as problem:
        running.close()
        raise StackError(f"{_current(applier)}: {problem}") from None
    except BaseException:
        running.close()
        raise
    return running


def _current(applier: _Applier) -> str:
    resource = applier.current
    return f"{resource.logical_id} ({resource.type})" if resource else applier.plan.stack


# Stepwell's embedded DynamoDB keeps a table's own keys only: a table is created without
# these, and the attributes only they name.
SECONDARY_INDEXES = ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")
MAX_LONG: Final = 2**63 - 1
# EventBridge Scheduler User Guide, "One-time schedules": at(yyyy-mm-ddThh:mm:ss).
ONE_TIME: Final = re.compile(r"\s*at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)\s*")


class _Applier:
    def __init__(
        self, plan: Plan, host: Host, endpoint: str, log: LogSink, running: RunningStack
    ) -> None:
        self.plan = plan
        self.host = host
        self.endpoint = endpoint
        self.log = log
        self.running = running
        self.services = host.services
        self.current: PlannedResource | None = None

    def note(self, text: str) -> None:
        self.running.changes.append(text)

    # ----------------------------------------------------------------- tables

    def table(self, resource: PlannedResource) -> None:
        self.current = resource
        props = resource.properties
        request: dict[str, Any] = {
            key: props[key]
            for key in (
                "KeySchema",
                "AttributeDefinitions",
                "BillingMode",
                "ProvisionedThroughput",
            )
            if key in props
        }
        request["TableName"] = resource.name
        throughput = request.get("ProvisionedThroughput")
        if isinstance(throughput, dict):  # CloudFormation takes "5" for an Integer
            request["ProvisionedThroughput"] = {
                k: _integer(v, f"{_current(self)}: ProvisionedThroughput.{k}")
                for k, v in throughput.items()
            }
        if any(props.get(index) for index in SECONDARY_INDEXES):  # check_plan warned
            # Malformed elements stay for CreateTable to refuse (a StackError naming it).
            schema = props.get("KeySchema")
            elements = schema if isinstance(schema, list) else []
            keys = {e.get("AttributeName") for e in elements if isinstance(e, dict)}
            definitions = props.get("AttributeDefinitions")
            if isinstance(definitions, list):
                request["AttributeDefinitions"] = [
                    definition
                    for definition in definitions
                    if not isinstance(definition, dict) or definition.get("AttributeName") in keys
                ]
        if "BillingMode" not in request and "ProvisionedThroughput" not in request:
            request["BillingMode"] = "PAY_PER_REQUEST"
        dynamodb = self.services.dynamodb
        try:
            existing = dynamodb.call("DescribeTable", {"TableName": resource.name})["Table"]
        except EmbeddedError:
            existing = None
        if existing is not None and existing.get("KeySchema") != request["KeySchema"]:
            dynamodb.call("DeleteTable", {"TableName": resource.name})
            self.note(f"table {resource.name}: keys changed, replaced (its items are gone)")
            existing = None
        if existing is None:
            dynamodb.call("CreateTable", request)
            self.note(f"table {resource.name}: created")
        ttl = props.get("TimeToLiveSpecification") or {}
        wanted = bool(ttl.get("Enabled")) and str(ttl.get("AttributeName", ""))
        described = dynamodb.call("DescribeTimeToLive", {"TableName": resource.name})
        current = described["TimeToLiveDescription"]
        enabled = current.get("TimeToLiveStatus") == "ENABLED" and current.get("AttributeName")
        if wanted != enabled:
            attribute = wanted or enabled
            specification = {"Enabled": bool(wanted), "AttributeName": attribute}
            dynamodb.call(
                "UpdateTimeToLive",
                {"TableName": resource.name, "TimeToLiveSpecification": specification},
            )

    # ----------------------------------------------------------------- queues

    def queue(self, resource: PlannedResource) -> None:
        self.current = resource
        attributes = {
            key: _attribute_text(value)
            for key, value in resource.properties.items()
            if key in _QUEUE_ATTRIBUTES
        }
        sqs = self.services.sqs
        try:
            url = sqs.call("GetQueueUrl", {"QueueName": resource.name})["QueueUrl"]
        except EmbeddedError:
            url = None
        if url is None:
            sqs.call("CreateQueue", {"QueueName": resource.name, "Attributes": attributes})
            self.note(f"queue {resource.name}: created")
        elif attributes:
            sqs.call("SetQueueAttributes", {"QueueUrl": url, "Attributes": attributes})

    # ----------------------------------------------------------------- topics

    def topic(self, resource: PlannedResource) -> None:
        self.current = resource
        props = resource.properties
        attributes = {
            key: _attribute_text(props[key])
            for key in ("FifoTopic", "ContentBasedDeduplication", "DisplayName")
            if key in props
        }
        sns = self.services.sns
        arn = sns.call("CreateTopic", {"Name": resource.name, "Attributes": attributes})["TopicArn"]
        for subscription in props.get("Subscription") or []:
            protocol, endpoint = subscription.get("Protocol"), subscription.get("Endpoint")
            sns.call("Subscribe", {"TopicArn": arn, "Protocol": protocol, "Endpoint": endpoint})

    def subscription(self, resource: PlannedResource) -> None:
        self.current = resource
        props = resource.properties
        attributes = {
            key: _attribute_text(props[key])
            for key in ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy")
            if key in props
        }
        request = {key: str(props.get(key)) for key in ("TopicArn", "Protocol", "Endpoint")}
        self.services.sns.call("Subscribe", {**request, "Attributes": attributes})

    # ----------------------------------------------------------------- functions

    def function(self, resource: PlannedResource) -> None:
        self.current = resource
        runtime = str(resource.properties.get("Runtime", ""))
        if not supported_runtime(runtime):  # check_plan warned: it is not started
            self.note(f"function {resource.name}: runtime {runtime or '(none)'} not started")
            return
        spec = function_spec(self.plan, resource, self.host)
        function = ProcessFunction(spec, self.endpoint, self.log)
        self.running.functions[resource.name] = function
        self.host.integrations.functions.register(resource.name, function)

    def _not_started(self) -> set[str]:
        """The template's functions whose runtime cannot run here (``function``)."""
        return {
            r.name
            for r in self.plan.resources
            if r.kind == "function" and not supported_runtime(str(r.properties.get("Runtime", "")))
        }

    # ----------------------------------------------------------------- activities

    def activity(self, resource: PlannedResource) -> None:
        self.current = resource
        if not resource.properties.get("Name"):  # CloudFormation: Name is required
            raise StackError(f"{_current(self)}: the property Name is required")
        arn = self.host.service.arns.activity(resource.name)
        try:
            self.host.service.handle("DescribeActivity", {"activityArn": arn})
        except err.ActivityDoesNotExist:
            self.host.service.handle("CreateActivity", {"name": resource.name})
            self.note(f"activity {resource.name}: created")

    def remove_activity(self, name: str) -> None:
        arn = self.host.service.arns.activity(name)
        self.host.service.handle("DeleteActivity", {"activityArn": arn})

    # ----------------------------------------------------------------- state machines

    def state_machine(self, resource: PlannedResource) -> None:
        self.current = resource
        props = resource.properties
        definition = definition_text(self.plan, resource)
        service = self.host.service
        arn = self.host.service.arns.state_machine(resource.name)
        request: dict[str, Any] = {"definition": definition}
        if props.get("RoleArn"):
            request["roleArn"] = str(props["RoleArn"])
        logging = _logging(props.get("LoggingConfiguration"))
        if logging is not None:
            request["loggingConfiguration"] = logging
        try:
            existing = service.handle("DescribeStateMachine", {"stateMachineArn": arn})
        except err.StateMachineDoesNotExist:
            existing = None
        if existing is None:
            request.setdefault("roleArn", _default_role(self.plan, resource))
            request |= {
                "name": resource.name,
                "type": str(props.get("StateMachineType", "STANDARD")),
            }
            tags = [{"key": t["Key"], "value": t["Value"]} for t in props.get("Tags") or []]
            if tags:
                request["tags"] = tags
            service.handle("CreateStateMachine", request)
            self.note(f"state machine {resource.name}: created")
        elif existing["definition"] != definition:
            service.handle("UpdateStateMachine", {"stateMachineArn": arn, **request})
            self.note(f"state machine {resource.name}: definition updated")

    # ----------------------------------------------------------------- events

    def event_source_mapping(self, resource: PlannedResource) -> None:
        self.current = resource
        props = resource.properties
        source = str(props.get("EventSourceArn", ""))
        if ":sqs:" not in source:
            self.note(f"{resource.logical_id}: only SQS event sources run; {source} does not")
            return
        if str(props.get("Enabled", True)).lower() == "false":
            return
        function = function_name(str(props.get("FunctionName")))
        if function in self._not_started():  # it would only fail and dead-letter messages
            self.note(
                f"event source mapping {resource.logical_id}: not started, its function "
                f"{function} is not started"
            )
            return
        mapping = SqsEventSource(
            self.services.sqs,
            self.host.integrations.functions,
            queue_arn=source,
            function=function,
            batch_size=int(props.get("BatchSize", 10)),
            report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
        )
        mapping.start()
        self.running.event_sources.append(mapping)

    def rule(self, resource: PlannedResource) -> None:
        """An ``AWS::Events::Rule`` (and SAM's ``Schedule``, ``EventBridgeRule`` and
        ``CloudWatchEvent`` events, which the translator turns into one): the same rule
        ``PutRule`` and ``PutTargets`` make, with its pattern or schedule and targets."""
        self.current = resource
        props = resource.properties
        events = self.services.events
        bus = str(props.get("EventBusName") or "default")
        request: dict[str, Any] = {
            "Name": resource.name[:64],
            "EventBusName": bus,
            "State": str(props.get("State") or "ENABLED"),
        }
        if props.get("EventPattern"):
            request["EventPattern"] = _json_text(props["EventPattern"])
        for key in ("ScheduleExpression", "Description"):
            if props.get(key):
                request[key] = str(props[key])
        events.call("PutRule", request)
        name = request["Name"]
        targets = [_rule_target(target) for target in props.get("Targets") or []]
        wanted = {target["Id"] for target in targets}
        listed = events.call("ListTargetsByRule", {"Rule": name, "EventBusName": bus})
        stale = [t["Id"] for t in listed["Targets"] if t["Id"] not in wanted]
        if stale:
            events.call("RemoveTargets", {"Rule": name, "EventBusName": bus, "Ids": stale})
        if targets:
            events.call("PutTargets", {"Rule": name, "EventBusName": bus, "Targets": targets})

    def schedule(self, resource: PlannedResource) -> None:
        self.current = resource
        props = resource.properties
        target = dict(props.get("Target") or {})
        target.setdefault("Input", "{}")
        enabled = str(props.get("State", "ENABLED")) == "ENABLED"
        expression = str(props.get("ScheduleExpression"))
        if ONE_TIME.fullmatch(expression):  # check_plan warned: accepted, not run
            self.note(f"schedule {resource.name}: one-time {expression} not emulated")
            self.host.schedules.delete(resource.name[:64])  # one it replaces stops
            return
        self._schedule(resource.name[:64], _rule_rate(expression), target, enabled)

    def _schedule(self, name: str, expression: str, target: dict[str, Any], on: bool) -> None:
        schedules = self.host.schedules
        text = target.get("Input")
        self.host.schedules.put(
            Schedule(name, expression, str(target.get("Arn")), _json_text(text), on)
        )
        if schedules.invoke_function is None:
            schedules.invoke_function = self.host.integrations.functions.invoke

    # ----------------------------------------------------------------- bookkeeping

    def delete_removed(self) -> None:
        """Delete what the previous run of this stack made and this one does not."""
        self.current = None
        now = {_record(r) for r in self.plan.resources}
        with self.host.store.documents(NAMESPACE) as documents:
            raw = documents.get(self.plan.stack)
            documents.put(self.plan.stack, orjson.dumps(sorted(now)))
        before = {_recorded(entry) for entry in orjson.loads(raw)} if raw is not None else set()
        for kind, name, *where in sorted(before - now):
            remover = _REMOVERS.get(kind)
            if remover is not None:
                remover(self, name, *where)
            self.note(f"{kind} {name}: removed from the template, deleted")

    def remove_table(self, name: str) -> None:
        self.services.dynamodb.call("DeleteTable", {"TableName": name})

    def remove_queue(self, name: str) -> None:
        url = self.services.sqs.call("GetQueueUrl", {"QueueName": name})["QueueUrl"]
        self.services.sqs.call("DeleteQueue", {"QueueUrl": url})

    def remove_topic(self, name: str) -> None:
        self.services.sns.call("DeleteTopic", {"TopicArn": self.services.sns.topic_arn(name)})

    def remove_state_machine(self, name: str) -> None:
        arn = self.host.service.arns.state_machine(name)
        self.host.service.handle("DeleteStateMachine", {"stateMachineArn": arn})

    def remove_schedule(self, name: str) -> None:
        self.host.schedules.delete(name)

    def remove_rule(self, name: str, bus: str = "default") -> None:
        request = {"Name": name[:64], "EventBusName": bus, "Force": True}
        self.services.events.call("DeleteRule", request)


def _record(resource: PlannedResource) -> tuple[str, ...]:
    """What the bookkeeping keeps of a resource to delete it later: its kind and name, and
    for a rule its event bus too (a rule is found by bus and name)."""
    if resource.kind == "rule":
        bus = str(resource.properties.get("EventBusName") or "default")
        return (resource.kind, resource.name, bus)
    return (resource.kind, resource.name)


def _recorded(entry: list[str]) -> tuple[str, ...]:
    """A stored record; a rule kept before buses were recorded was on the default bus."""
    if len(entry) == 2 and entry[0] == "rule":
        return (entry[0], entry[1], "default")
    return tuple(entry)


def function_spec(plan: Plan, resource: PlannedResource, host: Host) -> FunctionSpec:
    props = resource.properties
    path = plan.artifacts.code(props.get("Code"), str(props.get("Runtime", "")))
    if path is None:
        raise StackError(
            f"{resource.logical_id}: its code is not local (give CodeUri a local folder)"
        )
    variables = (props.get("Environment") or {}).get("Variables") or {}
    runtime = str(props.get("Runtime", ""))
    layers, _ = local_layers(plan, props.get("Layers"))
    environment = {str(k): _attribute_text(v) for k, v in variables.items()}
    return FunctionSpec(
        name=resource.name,
        runtime=runtime,
        handler=str(props.get("Handler", "")),
        code=path if path.is_dir() else path.parent,
        environment=layer_environment(layers, runtime, environment),
        timeout=float(props.get("Timeout", 3)),
        memory=int(props.get("MemorySize", 128)),
        region=host.settings.region,
        account=host.settings.account,
    )


def _rule_rate(expression: str) -> str:
    """A Scheduler rate expression as an EventBridge rule takes it (Stepwell runs schedules
    as rules). EventBridge Scheduler User Guide, "Rate-based schedules": the unit is one of
    minutes | hours | days (the API Reference adds the singulars), so ``rate(1 minutes)``
    is valid there; a rule's rate wants the singular for 1 and the plural otherwise."""
    match = re.fullmatch(r"\s*rate\(\s*(\d+)\s+(minute|hour|day)s?\s*\)\s*", expression)
    if match is None:
        return expression
    value, unit = match[1], match[2]
    return f"rate({value} {unit if int(value) == 1 else unit + 's'})"


def _integer(value: Any, what: str) -> Any:
    """A template's number as CloudFormation reads an Integer property: ``"5"`` is 5; one
    past a 64-bit Long (DynamoDB's capacity units) is refused here."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_LONG:
        raise StackError(f"{what}: {value} is more than the largest Long, {MAX_LONG}")
    return value


def _logging(configuration: Any) -> dict[str, Any] | None:
    if not isinstance(configuration, dict):
        return None
    destinations = [
        {"cloudWatchLogsLogGroup": {"logGroupArn": d["CloudWatchLogsLogGroup"]["LogGroupArn"]}}
        for d in configuration.get("Destinations") or []
        if isinstance(d, dict) and isinstance(d.get("CloudWatchLogsLogGroup"), dict)
    ]
    logging: dict[str, Any] = {"destinations": destinations}
    if "Level" in configuration:
        logging["level"] = str(configuration["Level"])
    if "IncludeExecutionData" in configuration:
        logging["includeExecutionData"] = configuration["IncludeExecutionData"] in (True, "true")
    return logging


def _default_role(plan: Plan, resource: PlannedResource) -> str:
    return f"arn:aws:iam::123456789012:role/{plan.stack}-{resource.logical_id}-Role"


_TARGET_MEMBERS = ("Id", "Arn", "Input", "InputPath", "InputTransformer", "SqsParameters")


def _rule_target(target: Any) -> dict[str, Any]:
    """A template's rule target as ``PutTargets`` takes it (what Stepwell delivers by)."""
    chosen = {key: target[key] for key in _TARGET_MEMBERS if key in target}
    if "Input" in chosen:
        chosen["Input"] = _json_text(chosen["Input"])
    return chosen


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


_QUEUE_ATTRIBUTES = frozenset(
    {
        "ContentBasedDeduplication",
        "DeduplicationScope",
        "DelaySeconds",
        "FifoQueue",
        "FifoThroughputLimit",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "ReceiveMessageWaitTimeSeconds",
        "RedriveAllowPolicy",
        "RedrivePolicy",
        "VisibilityTimeout",
    }
)

_STEPS: dict[str, Callable[[_Applier, PlannedResource], None]] = {
    "table": _Applier.table,
    "queue": _Applier.queue,
    "topic": _Applier.topic,
    "subscription": _Applier.subscription,
    "function": _Applier.function,
    "activity": _Applier.activity,
    "state machine": _Applier.state_machine,
    "event source mapping": _Applier.event_source_mapping,
    "rule": _Applier.rule,
    "schedule": _Applier.schedule,
}

_REMOVERS: dict[str, Callable[..., None]] = {
    "table": _Applier.remove_table,
    "queue": _Applier.remove_queue,
    "topic": _Applier.remove_topic,
    "activity": _Applier.remove_activity,
    "state machine": _Applier.remove_state_machine,
    "rule": _Applier.remove_rule,
    "schedule": _Applier.remove_schedule,
}

__all__ = ["RunningStack", "apply_plan", "function_spec"]
