"""A service on a store, with a worker and a virtual clock: the durable path in one thread."""

from __future__ import annotations

import json
import random
from typing import Any

from stepwell.integrations.registry import Integrations
from stepwell.runtime.clock import VirtualClock
from stepwell.runtime.worker import Worker
from stepwell.service.service import Service
from stepwell.store.base import Store

ROLE = "arn:aws:iam::123456789012:role/stepwell"
FN = "arn:aws:lambda:us-east-1:123456789012:function:"
MACHINES = "arn:aws:states:us-east-1:123456789012:stateMachine:"
START = 1_700_000_000.0

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


class Draws(random.Random):
    """A random source that returns the given numbers in turn (for weighted routing)."""

    def __init__(self, *values: float) -> None:
        super().__init__(0)
        self.values = list(values)

    def random(self) -> float:
        return self.values.pop(0)


class Harness:
    def __init__(
        self,
        store: Store,
        functions: dict[str, Any] | None = None,
        routing: random.Random | None = None,
    ) -> None:
        self.clock = VirtualClock(START)
        self.store = store
        self.integrations = Integrations(functions)
        self.service = Service(store, self.clock, integrations=self.integrations, routing=routing)
        self.worker = Worker(store, self.integrations, self.clock)

    def call(self, operation: str, **request: Any) -> dict[str, Any]:
        return self.service.handle(operation, request)

    def machine(
        self, definition: dict[str, Any] | None = None, name: str = "m", **extra: Any
    ) -> str:
        return self.call(
            "CreateStateMachine",
            name=name,
            definition=json.dumps(definition or PASS),
            roleArn=ROLE,
            **extra,
        )["stateMachineArn"]

    def update(self, arn: str, definition: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return self.call(
            "UpdateStateMachine", stateMachineArn=arn, definition=json.dumps(definition), **extra
        )

    def publish(self, arn: str, **extra: Any) -> str:
        return self.call("PublishStateMachineVersion", stateMachineArn=arn, **extra)[
            "stateMachineVersionArn"
        ]

    def start(self, arn: str, input: str = "{}", **extra: Any) -> str:
        return self.call("StartExecution", stateMachineArn=arn, input=input, **extra)[
            "executionArn"
        ]

    def settle(self, max_advance: float = 10 * 365 * 86400) -> None:
        """Run everything due, advancing the virtual clock to each next timer."""
        limit = self.clock.now() + max_advance
        while True:
            self.worker.run_until_idle()
            due = self.store.next_due(self.clock.now())
            if due is None or due > limit:
                return
            self.clock.set(due)

    def run(self, arn: str, input: str = "{}", **extra: Any) -> dict[str, Any]:
        """Start an execution, run it to its end, and describe it."""
        execution = self.start(arn, input, **extra)
        self.settle()
        return self.call("DescribeExecution", executionArn=execution)

    def history(self, execution: str) -> list[dict[str, Any]]:
        return self.call("GetExecutionHistory", executionArn=execution)["events"]
