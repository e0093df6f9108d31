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


def outcome_events(frame: int, seq: int, outcome: Outcome) -> list[ev.Event]:
    """Every event an outcome makes: TaskSubmitted, then the end when already known."""
    if outcome.submitted and outcome.then is not None:
        submitted = ev.TaskSubmitted(frame, seq, outcome.output)
        return [submitted, outcome_event(frame, seq, outcome.then)]
    return [outcome_event(frame, seq, outcome)]


def outcome_event(frame: int, seq: int, outcome: Outcome) -> ev.Event:
    """The one event a durable runner reports: a known end wins over its submission."""
    if outcome.submitted and outcome.then is not None:
        return outcome_event(frame, seq, outcome.then)
    if outcome.submitted:
        return ev.TaskSubmitted(frame, seq, outcome.output)
    if outcome.ok:
        return ev.TaskSucceeded(frame, seq, outcome.output)
    return ev.TaskFailed(frame, seq, outcome.error or "", outcome.cause)
