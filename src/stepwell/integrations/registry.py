"""Which integration runs a Task's Resource, for every runtime.

``Integrations.invoke`` runs one task and says how it ended (``Outcome``), or returns
``None`` when the task now waits for a callback: the ``.waitForTaskToken`` pattern,
where the integration only delivers the token and SendTaskSuccess/Failure finishes it.
``Integrations.check`` runs when a state machine is created or updated, so a Resource or
integration pattern that AWS would refuse is refused then, with AWS's message.

Resolution, in order (``resources.py`` parses the ARN):

1. Lambda function ARNs and names, and ``arn:aws:states:::lambda:invoke``: the Python
   functions (``functions.py``).
2. A handler registered with ``register`` for ``service:action`` or ``service`` (how other
   parts of Stepwell add, say, nested executions).
3. A service that ``ForwardConfig.services`` lists explicitly: forwarded through botocore.
4. ``arn:aws:states:::http:invoke``: the HTTP Task (``http_task.py``).
5. DynamoDB, SQS, SNS, S3 and EventBridge actions the embedded services implement (``embedded.py``).
6. Any other service, when forwarding is configured: forwarded.
7. Otherwise the task fails with ``States.TaskFailed`` and a cause that says how to
   configure forwarding.

A resource AWS would not recognize (``sqs:sendMessage.sync``) fails at run time with the
``States.Runtime`` error AWS gave before it checked at creation; ``check`` refuses it
earlier, as AWS does today.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stepwell.integrations.embedded import EmbeddedTasks
from stepwell.integrations.forwarding import ForwardConfig, Forwarder
from stepwell.integrations.functions import FunctionRegistry, Outcome
from stepwell.integrations.http_task import HttpTask
from stepwell.integrations.resources import (
    WAIT_FOR_TOKEN,
    ServiceResource,
    diagnostics,
    parse,
    recognized,
)
from stepwell.integrations.services import Services
from stepwell.language.model import StateMachine
from stepwell.language.validation_rules.base import Diagnostic

__all__ = ["WAIT_FOR_TOKEN", "Integrations", "Invocation", "TaskHandler"]


@dataclass(frozen=True, slots=True)
class Invocation:
    """One task to run: the state's Resource and effective input, and who asks."""

    resource: str
    payload: Any
    execution_arn: str = ""
    state_name: str = ""
    task_token: str | None = None
    request_id: str = ""
    timeout_seconds: float | None = None


TaskHandler = Callable[[Invocation, ServiceResource], Outcome | None]


class Integrations:
    def __init__(
        self,
        functions: FunctionRegistry | Mapping[str, Callable[..., Any]] | None = None,
        *,
        services: Services | None = None,
        forward: ForwardConfig | None = None,
        http: HttpTask | None = None,
    ) -> None:
        self.functions = (
            functions if isinstance(functions, FunctionRegistry) else FunctionRegistry(functions)
        )
        self.services = services if services is not None else Services(functions=self.functions)
        if self.services.sns.functions is None:
            self.services.sns.functions = self.functions
        self.embedded = EmbeddedTasks(self.services)
        self.http = http or HttpTask(region=self.functions.region)
        self.forward = forward
        self.forwarder = Forwarder(forward) if forward is not None else None
        self._handlers: dict[str, TaskHandler] = {}

    def register(self, target: str, handler: TaskHandler) -> None:
        """Run ``arn:aws:states:::TARGET`` resources (``service:action``, ``service`` or
        ``aws-sdk:service:action``) with ``handler``; it returns an Outcome, or None to
        wait for a callback."""
        self._handlers[target] = handler

    # ----------------------------------------------------------------- creation-time check

    def diagnostics(self, machine: StateMachine) -> list[Diagnostic]:
        """The machine's Task resources AWS would refuse, as ValidateStateMachineDefinition
        diagnostics (code, message, JSON Pointer)."""
        return diagnostics(machine)

    def check(self, machine: StateMachine) -> list[str]:
        """Problems with the machine's Task resources, as AWS words them."""
        return [f"{d.code}: {d.message} at {d.location}" for d in self.diagnostics(machine)]

    # ----------------------------------------------------------------- running

    def invoke(self, invocation: Invocation) -> Outcome | None:
        resource = parse(invocation.resource)
        outcome: Outcome | None
        if resource is None or (resource.service == "lambda" and not resource.sdk):
            base = resource.base if resource is not None else invocation.resource
            outcome = self.functions.invoke(base, invocation.payload, invocation.request_id)
        elif not recognized(resource):
            outcome = Outcome(
                error="States.Runtime",
                cause=f"An error occurred while scheduling the state '{invocation.state_name}'. "
                f"The provided ARN '{invocation.resource}' is not recognized.",
            )
        else:
            outcome = self._service(resource, invocation)
        if outcome is not None and outcome.ok and invocation.resource.endswith(WAIT_FOR_TOKEN):
            return Outcome(output=outcome.output, submitted=True)  # aws-behaviour C1
        return outcome

    def _service(self, resource: ServiceResource, invocation: Invocation) -> Outcome | None:
        if resource.sdk:  # e.g. "aws-sdk:sfn:sendTaskSuccess" (nested.py)
            handler = self._handlers.get(f"aws-sdk:{resource.service}:{resource.action}")
        else:
            handler = self._handlers.get(f"{resource.service}:{resource.action}")
            handler = handler or self._handlers.get(resource.service)
        if handler is not None:
            return handler(invocation, resource)
        embedded = self.embedded.handles(resource)
        payload, request_id = invocation.payload, invocation.request_id
        if self.forwarder is not None and self.forwarder.config.forwards(
            resource.service, embedded or resource.service == "http"
        ):
            return self.forwarder.invoke(resource, payload, request_id)
        if resource.service == "http" and not resource.sdk:
            return self.http.invoke(payload)
        if embedded:
            return self.embedded.invoke(resource, payload, request_id)
        return Outcome(
            error="States.TaskFailed",
            cause=f"Stepwell has no embedded implementation of '{resource.base}' and no AWS "
            "endpoint to forward it to. Configure forwarding with "
            "Integrations(forward=ForwardConfig(endpoint_url=..., region=...)) or, for a "
            "server, the STEPWELL_FORWARD_ENDPOINT_URL / STEPWELL_FORWARD_SERVICES variables.",
        )
