"""Delivering an EventBridge event to a rule's targets: state machines, functions, queues
and topics, each as EventBridge calls it (User Guide, "Event bus targets").

* a Step Functions state machine: ``StartExecution`` with the target's input; the
  execution's name is derived from the event and the target, so delivering the same
  event twice (a retry after a crash) starts one execution;
* a Lambda function: an asynchronous invoke with the input as the event;
* an SQS queue: ``SendMessage`` of the input (``SqsParameters.MessageGroupId`` for FIFO);
* an SNS topic: ``Publish`` of the input.

Design decision: a failed delivery never fails ``PutEvents`` (AWS delivers after it
answers); it is recorded in ``failed_deliveries()`` of the event bus and logged. The
state machine and function targets reach outside the embedded services, so whoever
assembles Stepwell connects them (``start_execution``, ``functions``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson

from stepwell.language.event_input import target_input

if TYPE_CHECKING:
    from stepwell.integrations.services.sns import FunctionInvoker, SnsClient
    from stepwell.integrations.services.sqs import SqsClient

log = logging.getLogger("stepwell.events")
_NAMES: Final = uuid.UUID("0f5c8e0a-7d1b-4f3e-9a62-5b8c4d2e1f70")
StartExecution = Callable[[dict[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One target reached (or not): the execution it started, or why it failed."""

    target_id: str
    arn: str
    execution_arn: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class RuleRef:
    """What a target's input may name of its rule."""

    name: str
    arn: str


class TargetDelivery:
    """Sends one event's input to one target by the kind of its ARN."""

    def __init__(self, queues: SqsClient, topics: SnsClient) -> None:
        self.queues = queues
        self.topics = topics
        self.start_execution: StartExecution | None = None
        self.functions: FunctionInvoker | None = None  # None: SNS's (the function registry)

    def deliver(
        self,
        rule: RuleRef,
        target: Mapping[str, Any],
        event: Mapping[str, Any],
        ingestion_time: str,
        execution_name: str | None = None,
    ) -> Delivery:
        """Deliver, never raising for the target's sake (``Delivery.error`` says why)."""
        arn = str(target.get("Arn", ""))
        target_id = str(target.get("Id", ""))
        try:
            text = target_input(target, event, rule.name, rule.arn, ingestion_time)
            service = arn_service(arn)
            send = _SENDERS.get(service)
            if send is None:
                raise ValueError(f"targets of service '{service or arn}' are not emulated")
            name = execution_name or _execution_name(event, rule, target_id)
            started = send(self, arn, text, name, target)
        except Exception as failure:  # the event bus outlives any target
            log.warning("rule %s could not deliver to %s: %s", rule.name, arn, failure)
            return Delivery(target_id, arn, error=f"{type(failure).__name__}: {failure}")
        return Delivery(target_id, arn, execution_arn=started)

    def _to_state_machine(
        self, arn: str, text: str, name: str, target: Mapping[str, Any]
    ) -> str | None:
        if self.start_execution is None:
            raise RuntimeError("no Step Functions service is connected to the event bus")
        try:
            started = self.start_execution({"stateMachineArn": arn, "name": name, "input": text})
        except Exception as error:
            if getattr(error, "aws_type", "") == "ExecutionAlreadyExists":
                return None  # delivered before: the same event to the same target
            raise
        return str(started["executionArn"])

    def _to_function(self, arn: str, text: str, name: str, target: Mapping[str, Any]) -> None:
        functions = self.functions or self.topics.functions
        if functions is None:
            raise RuntimeError("no functions are bound for Lambda targets")
        try:
            payload: Any = orjson.loads(text)
        except orjson.JSONDecodeError:
            payload = text
        outcome = functions.invoke(arn, payload, name)
        error = getattr(outcome, "error", None)
        if error is not None:
            raise RuntimeError(f"{error}: {getattr(outcome, 'cause', '')}")

    def _to_queue(self, arn: str, text: str, name: str, target: Mapping[str, Any]) -> None:
        request: dict[str, Any] = {"QueueUrl": arn, "MessageBody": text}
        group = (target.get("SqsParameters") or {}).get("MessageGroupId")
        if group:
            request["MessageGroupId"] = str(group)
            request["MessageDeduplicationId"] = name
        self.queues.call("SendMessage", request)

    def _to_topic(self, arn: str, text: str, name: str, target: Mapping[str, Any]) -> None:
        self.topics.call("Publish", {"TopicArn": arn, "Message": text})


def _execution_name(event: Mapping[str, Any], rule: RuleRef, target_id: str) -> str:
    return str(uuid.uuid5(_NAMES, f"{event.get('id')}/{rule.arn}/{target_id}"))


_SENDERS: Final[Mapping[str, Callable[[TargetDelivery, str, str, str, Mapping[str, Any]], Any]]] = {
    "states": TargetDelivery._to_state_machine,
    "lambda": TargetDelivery._to_function,
    "sqs": TargetDelivery._to_queue,
    "sns": TargetDelivery._to_topic,
}

TARGET_SERVICES: Final = frozenset(_SENDERS)  # the ARN services Stepwell delivers to


def arn_service(arn: str) -> str:
    """The service of an ARN (``arn:partition:service:region:account:resource``); ``""``
    for text that is not one."""
    return arn.split(":")[2] if arn.count(":") >= 5 else ""


__all__ = [
    "TARGET_SERVICES",
    "Delivery",
    "RuleRef",
    "StartExecution",
    "TargetDelivery",
    "arn_service",
]
