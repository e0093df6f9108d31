"""Which integration runs a Task's Resource, for every runtime.

``Integrations.invoke`` runs one task and says how it ended (``Outcome``), or returns
``None`` when the task now waits for a callback: the ``.waitForTaskToken`` pattern,
where the integration only delivers the token and SendTaskSuccess/Failure finishes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from stepwell.integrations.functions import FunctionRegistry, Outcome

WAIT_FOR_TOKEN = ".waitForTaskToken"


class Integrations:
    def __init__(
        self, functions: FunctionRegistry | Mapping[str, Callable[..., Any]] | None = None
    ) -> None:
        self.functions = (
            functions if isinstance(functions, FunctionRegistry) else FunctionRegistry(functions)
        )

    def invoke(self, resource: str, payload: Any, request_id: str) -> Outcome | None:
        callback = resource.endswith(WAIT_FOR_TOKEN)
        base = resource.removesuffix(WAIT_FOR_TOKEN)
        if self.functions.handles(base):
            outcome = self.functions.invoke(base, payload, request_id)
            return None if callback and outcome.ok else outcome
        return Outcome(
            error="States.TaskFailed",
            cause=f"No integration is configured for the resource '{resource}'.",
        )
