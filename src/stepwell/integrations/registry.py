"""Which integration runs a Task's Resource, for every runtime.

``Integrations.invoke`` runs one task and says how it ended (``Outcome``), or returns
``None`` when the task now waits for a callback: the ``.waitForTaskToken`` pattern,
where the integration only delivers the token and SendTaskSuccess/Failure finishes it.
``Integrations.check`` runs when a state machine is created or updated, so a Resource or
integration pattern that AWS would refuse is refused then, with AWS's message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stepwell.integrations.functions import FunctionRegistry, Outcome
from stepwell.language.model import StateMachine

WAIT_FOR_TOKEN = ".waitForTaskToken"


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


class Integrations:
    def __init__(
        self, functions: FunctionRegistry | Mapping[str, Callable[..., Any]] | None = None
    ) -> None:
        self.functions = (
            functions if isinstance(functions, FunctionRegistry) else FunctionRegistry(functions)
        )

    def check(self, machine: StateMachine) -> list[str]:
        """Problems with the machine's Task resources, as AWS words them (none here)."""
        return []

    def invoke(self, invocation: Invocation) -> Outcome | None:
        resource = invocation.resource
        callback = resource.endswith(WAIT_FOR_TOKEN)
        base = resource.removesuffix(WAIT_FOR_TOKEN)
        if self.functions.handles(base):
            outcome = self.functions.invoke(base, invocation.payload, invocation.request_id)
            return None if callback and outcome.ok else outcome
        return Outcome(
            error="States.TaskFailed",
            cause=f"No integration is configured for the resource '{resource}'.",
        )
