"""From the interpreter's ``InvokeTask`` to an integration call, and from its outcome
back to the interpreter's event: the same two conversions for every runtime."""

from __future__ import annotations

from stepwell.engine import events as ev
from stepwell.integrations.functions import Outcome
from stepwell.integrations.registry import Invocation


def invocation(command: ev.InvokeTask, execution_arn: str, request_id: str) -> Invocation:
    return Invocation(
        resource=command.resource,
        payload=command.input,
        execution_arn=execution_arn,
        state_name=command.state_name,
        task_token=command.task_token,
        request_id=request_id,
        timeout_seconds=command.timeout_seconds,
    )


def outcome_event(frame: int, seq: int, outcome: Outcome) -> ev.Event:
    if outcome.submitted:
        return ev.TaskSubmitted(frame, seq, outcome.output)
    if outcome.ok:
        return ev.TaskSucceeded(frame, seq, outcome.output)
    return ev.TaskFailed(frame, seq, outcome.error or "", outcome.cause)
