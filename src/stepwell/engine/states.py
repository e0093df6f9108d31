"""What each state type does, one handler per type, and how reports reach a frame.

A handler runs a state whose ``...StateEntered`` has been recorded: it either moves the
frame on (``interp.transition``), fails the state (``interp.state_failed``, which applies
Retry and Catch), or leaves the frame waiting for a task, a timer or child frames. A
Retry re-runs the handler from the top, so handlers never record ``...StateEntered``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from stepwell.engine import distributed, fanout
from stepwell.engine import events as ev
from stepwell.engine.dataflow import (
    check_payload_size,
    field_error,
    jsonata_states,
    jsonpath_input,
    jsonpath_output,
    runtime_error,
)
from stepwell.engine.execution import Frame
from stepwell.engine.history import payload_details, to_json_text
from stepwell.engine.interpreter import NO_CONTEXT, Interpreter, failure_details, later
from stepwell.language import errors as e
from stepwell.language import model as m
from stepwell.language.compiler import Literal, PathValue
from stepwell.language.evaluation import JSON, EvalContext
from stepwell.language.resource_arns import integration_target, is_activity
from stepwell.language.timestamps import parse_timestamp

Handler = Callable[[Interpreter, Frame, Any], None]


def run_state(interp: Interpreter, frame: Frame, state: m.State) -> None:
    try:
        _HANDLERS[type(state)](interp, frame, state)
    except e.StatesError as error:
        interp.state_failed(frame, state, error)


# --------------------------------------------------------------------- Pass, Succeed


def _pass(interp: Interpreter, frame: Frame, state: m.PassState) -> None:
    if state.plain:
        interp.transition(frame, state, frame.input)
        return
    ctx = interp.eval_context(frame, state)
    raw = frame.input
    if state.is_jsonata:
        states = jsonata_states(raw, ctx)
        output = state.output.evaluate(states, ctx) if state.output is not None else raw
        interp.assign(frame, state.assign, states, ctx)
        if state.output is not None:
            check_payload_size(output, state.name, texts=interp.history.payloads)
    else:
        # Assign's "$" is the result: "Result", or InputPath/Parameters' output.
        result = state.result if state.has_result else jsonpath_input(state, raw, ctx, frame)
        output = jsonpath_output(state, raw, result, ctx, frame, selector=False)
        interp.assign(frame, state.assign, result, ctx)
        if state.has_result or state.parameters is not None:
            check_payload_size(output, state.name, texts=interp.history.payloads)
    interp.transition(frame, state, output)


def _succeed(interp: Interpreter, frame: Frame, state: m.SucceedState) -> None:
    interp.leave(frame, state, _plain_output(interp, frame, state), None)


def _plain_output(
    interp: Interpreter,
    frame: Frame,
    state: m.State,
    ctx: EvalContext | None = None,
    data: JSON | None = None,
) -> JSON:
    """Output of a state without a result (Succeed, Wait): the input, filtered. A JSONPath
    state's effective input (``data``) and ``ctx``, when its handler has them already,
    are not made again."""
    if passes_input(state):
        return frame.input
    if ctx is None:
        ctx = interp.eval_context(frame, state)
    if state.is_jsonata:
        states = jsonata_states(frame.input, ctx)
        output = state.output.evaluate(states, ctx) if state.output is not None else frame.input
        interp.assign(frame, state.assign, states, ctx)
        return output
    if data is None:
        data = jsonpath_input(state, frame.input, ctx, frame)  # Assign's "$": effective input
    output = jsonpath_output(state, frame.input, data, ctx, frame, selector=False)
    interp.assign(frame, state.assign, data, ctx)
    return output


def passes_input(state: m.State) -> bool:
    """Whether a state without a result outputs its input as it is: no field of it reads
    or shapes the data, nor assigns variables."""
    return (
        state.input_path is None
        and state.output_path is None
        and state.assign is None
        and state.output is None
        and state.parameters is None
        and state.result_path is None
    )


def _constant(value: Any) -> bool:
    """A field that is absent or written as a constant: evaluated without the data."""
    return value is None or isinstance(value, Literal)


# --------------------------------------------------------------------- Fail


def _fail(interp: Interpreter, frame: Frame, state: m.FailState) -> None:
    if _constant(state.error) and _constant(state.cause):
        ctx, scope = NO_CONTEXT, None  # nothing to read: no context made
    else:
        ctx = interp.eval_context(frame, state)
        scope = jsonata_states(frame.input, ctx) if state.is_jsonata else frame.input
    error = _string_field(state, frame, "Error", state.error, scope, ctx)
    cause = _string_field(state, frame, "Cause", state.cause, scope, ctx)
    interp.fail_frame(frame, error, cause)


def _string_field(
    state: m.State, frame: Frame, name: str, value: Any, scope: JSON, ctx: EvalContext
) -> str | None:
    if value is None:
        return None
    result = value.evaluate(scope, ctx)
    if not isinstance(result, str):
        raise field_error(
            state,
            frame,
            name,
            f"The {name} field must evaluate to a string, got {to_json_text(result)}",
        )
    return result


# --------------------------------------------------------------------- Choice


def _choice(interp: Interpreter, frame: Frame, state: m.ChoiceState) -> None:
    ctx = interp.eval_context(frame, state)
    if state.is_jsonata:
        scope: JSON = jsonata_states(frame.input, ctx)
    else:
        scope = jsonpath_input(state, frame.input, ctx, frame)
    chosen = _first_true(state, frame, scope, ctx)
    if chosen is None and state.default is None:
        raise runtime_error(state, frame, NO_CHOICE_MATCHED_CAUSE)
    # A matched rule's Assign/Output and the state's own are "mutually exclusive at
    # runtime": the state's apply only when no rule matched and Default is taken
    # (Developer Guide, "Choice workflow state", "Using Assign with Choice states").
    assign = chosen.assign if chosen is not None else state.assign
    if state.is_jsonata:
        output_template = chosen.output if chosen is not None else state.output
        output = (
            output_template.evaluate(scope, ctx) if output_template is not None else frame.input
        )
    else:
        output = jsonpath_output(state, frame.input, scope, ctx, frame, selector=False)
    interp.assign(frame, assign, scope, ctx)
    next_state = chosen.next if chosen is not None else state.default
    interp.leave(frame, state, output, next_state)


# No rule matched and there is no Default: "the state machine will throw an error due to a
# failure to transition out of the state" (Developer Guide, "Choice workflow state"). AWS
# reports States.Runtime, not the specification's States.NoChoiceMatched (measured on AWS;
# floci-io/floci pull request #3167); the wording of the cause is ours.
NO_CHOICE_MATCHED_CAUSE = (
    "Failed to transition out of the state: no Choice Rule matched and no Default was specified."
)


def _first_true(
    state: m.ChoiceState, frame: Frame, scope: JSON, ctx: EvalContext
) -> m.ChoiceBranch | None:
    for branch in state.choices:
        verdict = branch.predicate.evaluate(scope, ctx)
        if not isinstance(verdict, bool):
            raise field_error(
                state,
                frame,
                branch.location,
                f"The Condition field evaluated to {to_json_text(verdict)}, not a boolean.",
            )
        if verdict:
            return branch
    return None


# --------------------------------------------------------------------- Wait


def _wait(interp: Interpreter, frame: Frame, state: m.WaitState) -> None:
    if _constant(state.seconds) and _constant(state.timestamp) and passes_input(state):
        # A constant wait on the input as it is: nothing to read, no context made; whole
        # seconds need no datetime arithmetic to tell whether they are due already.
        seconds = state.seconds.value if isinstance(state.seconds, Literal) else None
        if type(seconds) is not int or seconds < 0:
            now = interp.env.now
            seconds = (_wait_until(now, state, frame, None, NO_CONTEXT) - now).total_seconds()
        if not interp.wait_timer(frame, "wait", seconds):
            interp.transition(frame, state, frame.input)
        return
    ctx = interp.eval_context(frame, state)
    if state.is_jsonata:
        scope: JSON = jsonata_states(frame.input, ctx)
    else:
        scope = jsonpath_input(state, frame.input, ctx, frame)
    due = _wait_until(interp.env.now, state, frame, scope, ctx)
    if not interp.wait_timer(frame, "wait", (due - interp.env.now).total_seconds()):
        # Due already: on at once, like a Pass, with what was just evaluated.
        data = None if state.is_jsonata else scope
        interp.transition(frame, state, _plain_output(interp, frame, state, ctx, data))


_LONG_MAX = 2**63 - 1


def _wait_until(
    now: datetime, state: m.WaitState, frame: Frame, scope: JSON, ctx: EvalContext
) -> datetime:
    if state.seconds is not None:
        seconds = state.seconds.evaluate(scope, ctx)
        if isinstance(state.seconds, PathValue):
            return later(now, _seconds_path(state, frame, state.seconds, seconds))
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise field_error(
                state,
                frame,
                "Seconds",
                f"The SecondsPath/Seconds value {to_json_text(seconds)} is not a "
                "non-negative integer.",
            )
        return later(now, seconds)
    assert state.timestamp is not None
    text = state.timestamp.evaluate(scope, ctx)
    moment = parse_timestamp(text) if isinstance(text, str) else None
    if moment is not None:
        return moment
    raw = _raw(text)
    if isinstance(state.timestamp, PathValue):  # D2, JSONPath: States.Runtime
        raise runtime_error(
            state,
            frame,
            "The TimestampPath parameter does not reference a valid ISO-8601 extended offset "
            f"date-time format string: {state.timestamp.text} == {raw}",
        )
    raise field_error(  # D2, JSONata: States.QueryEvaluationError at "Timestamp"
        state,
        frame,
        "Timestamp",
        "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time "
        f"format string: {raw}",
    )


def _seconds_path(state: m.WaitState, frame: Frame, path: PathValue, value: JSON) -> int:
    """D1: SecondsPath must give a whole, non-negative number (AWS fails on 1.5), one a
    Java long holds."""
    whole = isinstance(value, int | float) and not isinstance(value, bool) and value % 1 == 0
    if not whole or abs(value) > _LONG_MAX:
        detail = "cannot be parsed as a long value"
    elif value < 0:
        detail = "references a negative value"
    else:
        return int(value)
    raise runtime_error(
        state, frame, f"The SecondsPath parameter {detail}: {path.text} == {_raw(value)}"
    )


def _raw(value: JSON) -> str:
    """A value as AWS quotes it after ``==``: strings bare, anything else as JSON."""
    return value if isinstance(value, str) else to_json_text(value)


def _wait_over(interp: Interpreter, frame: Frame, state: m.WaitState) -> None:
    interp.transition(frame, state, _plain_output(interp, frame, state))


# --------------------------------------------------------------------- Task


def _task(interp: Interpreter, frame: Frame, state: m.TaskState) -> None:
    if state.resource.endswith(".waitForTaskToken"):
        frame.task_token = interp.env.token()
    ctx = interp.eval_context(frame, state)
    if state.is_jsonata:
        scope: JSON = jsonata_states(frame.input, ctx)
        payload = (
            state.arguments.evaluate(scope, ctx) if state.arguments is not None else frame.input
        )
    else:
        scope = frame.input
        payload = jsonpath_input(state, frame.input, ctx, frame)
    timeout = _positive_seconds(state, frame, "TimeoutSeconds", state.timeout_seconds, scope, ctx)
    heartbeat = _positive_seconds(
        state, frame, "HeartbeatSeconds", state.heartbeat_seconds, scope, ctx
    )
    kind = resource_kind(state.resource)
    _record_scheduled(interp, frame, state, kind, payload, timeout, heartbeat)
    frame.waiting = "task"
    frame.effective_input = None
    interp.commands.append(
        ev.InvokeTask(
            frame.id,
            frame.seq,
            state.resource,
            payload,
            state.name,
            timeout,
            heartbeat,
            frame.task_token,
        )
    )
    now = interp.env.now
    if timeout is not None:
        due = now + timedelta(seconds=timeout)
        interp.commands.append(ev.StartTimer(frame.id, frame.seq, "task_timeout", due))
    if heartbeat is not None:
        due = now + timedelta(seconds=heartbeat)
        frame.heartbeat_due = due
        interp.commands.append(ev.StartTimer(frame.id, frame.seq, "heartbeat", due))


def _positive_seconds(
    state: m.State, frame: Frame, name: str, value: Any, scope: JSON, ctx: EvalContext
) -> float | None:
    if value is None:
        return None
    seconds = value.evaluate(scope, ctx)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        raise field_error(
            state,
            frame,
            name,
            f"The {name} value {to_json_text(seconds)} is not a positive integer.",
        )
    return float(seconds)


def resource_kind(resource: str) -> tuple[str, str, str]:
    """(event family, resourceType, resource) for a Task's Resource.

    A Lambda function ARN or name records ``LambdaFunction...`` events; an activity ARN
    ``Activity...`` events; an ``arn:aws:states:::service:action`` integration (also
    with region and account, ``language/resource_arns.py``)
    ``Task...`` events with resourceType ``service`` and resource ``action``.
    """
    target = integration_target(resource)
    if target is not None:
        pattern = ":2" if target.endswith(".sync:2") else ""  # the one pattern with a colon
        service, _, action = target.removesuffix(pattern).rpartition(":")
        return "Task", service, action + pattern
    if is_activity(resource):
        return "Activity", "", resource
    return "LambdaFunction", "", resource


def _record_scheduled(
    interp: Interpreter,
    frame: Frame,
    state: m.TaskState,
    kind: tuple[str, str, str],
    payload: JSON,
    timeout: float | None,
    heartbeat: float | None,
) -> None:
    family, resource_type, resource = kind
    history = interp.history
    if family == "Task":
        details: dict[str, Any] = {
            "resourceType": resource_type,
            "resource": resource,
            "region": interp.execution.info.region,
            "parameters": to_json_text(payload),
        }
        _add_seconds(details, timeout, heartbeat)
        history.add(frame, "TaskScheduled", "taskScheduledEventDetails", details)
        history.add(
            frame,
            "TaskStarted",
            "taskStartedEventDetails",
            {"resourceType": resource_type, "resource": resource},
        )
        return
    details = {"resource": resource, **payload_details("input", payload)}
    if family == "Activity":
        _add_seconds(details, timeout, heartbeat)
        history.add(frame, "ActivityScheduled", "activityScheduledEventDetails", details)
        return
    _add_seconds(details, timeout, None)
    history.add(frame, "LambdaFunctionScheduled", "lambdaFunctionScheduledEventDetails", details)
    history.add(frame, "LambdaFunctionStarted")


def _add_seconds(details: dict[str, Any], timeout: float | None, heartbeat: float | None) -> None:
    if timeout is not None:
        details["timeoutInSeconds"] = int(timeout)
    if heartbeat is not None:
        details["heartbeatInSeconds"] = int(heartbeat)


def _task_succeeded(interp: Interpreter, frame: Frame, state: m.TaskState, result: JSON) -> None:
    family, resource_type, resource = resource_kind(state.resource)
    output_details = payload_details("output", result)
    if family == "Task":
        interp.history.add(
            frame,
            "TaskSucceeded",
            "taskSucceededEventDetails",
            {"resourceType": resource_type, "resource": resource, **output_details},
        )
    else:
        interp.history.add(
            frame,
            f"{family}Succeeded",
            f"{_lower_first(family)}SucceededEventDetails",
            output_details,
        )
    try:
        # An integration's result is named after the integration ("aws-sdk:cloudformation").
        check_payload_size(result, resource_type or state.name)
        interp.finish_with_result(frame, state, result)
    except e.StatesError as error:
        interp.state_failed(frame, state, error)


def _task_failed(
    interp: Interpreter, frame: Frame, state: m.TaskState, error: str, cause: str, timed_out: bool
) -> None:
    family, resource_type, resource = resource_kind(state.resource)
    outcome = "TimedOut" if timed_out else "Failed"
    details = failure_details(error, cause)  # D7, C6: a missing error or cause is omitted
    if family == "Task":
        details = {"resourceType": resource_type, "resource": resource, **details}
    interp.history.add(
        frame, f"{family}{outcome}", f"{_lower_first(family)}{outcome}EventDetails", details
    )
    interp.state_failed(frame, state, e.StatesError(error, cause), evaluated=False)


def _lower_first(text: str) -> str:
    return text[0].lower() + text[1:]


# --------------------------------------------------------------------- delivery


def deliver(interp: Interpreter, event: ev.Event) -> None:
    """Route a report from the runtime to the frame waiting for it."""
    if isinstance(event, ev.StopRequested):
        interp.end_execution("ABORTED", error=event.error, cause=event.cause)
        return
    if isinstance(event, ev.Resume):
        interp.resume_all()
        return
    if isinstance(event, ev.TimerFired) and event.kind == "execution_timeout":
        # K6: DescribeExecution of a timed-out execution has no error and no cause.
        interp.end_execution("TIMED_OUT")
        return
    frame = interp.execution.frames.get(event.frame)
    if frame is None or frame.done or frame.seq != event.seq:
        return  # stale: the frame has moved on
    state = interp.graph_of(frame).states[frame.state]
    _DELIVERY[type(event)](interp, frame, state, event)
    if not frame.done and not frame.waiting:
        interp.ready.append(frame)


def _on_task_succeeded(interp: Interpreter, frame: Frame, state: Any, event: Any) -> None:
    if frame.waiting != "task":
        return
    frame.waiting = ""
    frame.seq += 1
    _task_succeeded(interp, frame, state, event.output)


def _on_task_failed(interp: Interpreter, frame: Frame, state: Any, event: Any) -> None:
    if frame.waiting != "task":
        return
    frame.waiting = ""
    frame.seq += 1
    _task_failed(interp, frame, state, event.error, event.cause, timed_out=False)


def _on_activity_started(interp: Interpreter, frame: Frame, state: Any, event: Any) -> None:
    if frame.waiting == "task":
        interp.history.add(
            frame,
            "ActivityStarted",
            "activityStartedEventDetails",
            {"workerName": event.worker_name},
        )


def _on_task_submitted(interp: Interpreter, frame: Frame, state: Any, event: Any) -> None:
    """C1: TaskSubmitted, between TaskStarted and the task's end; the task still waits."""
    if frame.waiting != "task" or not isinstance(state, m.TaskState):
        return
    _, resource_type, resource = resource_kind(state.resource)
    details = {"resourceType": resource_type, "resource": resource}
    details.update(payload_details("output", event.output))
    interp.history.add(frame, "TaskSubmitted", "taskSubmittedEventDetails", details)


def _on_heartbeat(interp: Interpreter, frame: Frame, state: Any, event: Any) -> None:
    if frame.waiting != "task" or frame.heartbeat_due is None:
        return
    assert isinstance(state, m.TaskState)
    ctx = interp.eval_context(frame, state)
    scope = jsonata_states(frame.input, ctx) if state.is_jsonata else frame.input
    seconds = _positive_seconds(
        state, frame, "HeartbeatSeconds", state.heartbeat_seconds, scope, ctx
    )
    due = interp.env.now + timedelta(seconds=seconds or 0)
    frame.heartbeat_due = due
    interp.commands.append(ev.StartTimer(frame.id, frame.seq, "heartbeat", due))


def _on_timer(interp: Interpreter, frame: Frame, state: Any, event: Any) -> None:
    kind = event.kind
    if kind == "wait" and frame.waiting == "timer":
        frame.waiting = ""
        frame.seq += 1
        try:
            _wait_over(interp, frame, state)
        except e.StatesError as error:
            interp.state_failed(frame, state, error)
    elif kind == "retry" and frame.waiting == "retry":
        frame.waiting = ""
        frame.seq += 1
    elif kind == "task_timeout" and frame.waiting == "task":
        frame.waiting = ""
        frame.seq += 1
        _task_failed(interp, frame, state, e.TIMEOUT, "", timed_out=True)
    elif kind == "heartbeat" and frame.waiting == "task":
        if frame.heartbeat_due is not None and interp.env.now < frame.heartbeat_due:
            return  # a heartbeat arrived since this timer was set
        frame.waiting = ""
        frame.seq += 1
        _task_failed(interp, frame, state, e.HEARTBEAT_TIMEOUT, "", timed_out=True)


_DELIVERY: dict[type, Callable[[Interpreter, Frame, Any, Any], None]] = {
    ev.ActivityStarted: _on_activity_started,
    ev.TaskSucceeded: _on_task_succeeded,
    ev.TaskFailed: _on_task_failed,
    ev.TaskHeartbeat: _on_heartbeat,
    ev.TaskSubmitted: _on_task_submitted,
    ev.TimerFired: _on_timer,
    ev.MapRunStarted: distributed.map_run_started,
    ev.MapRunEnded: distributed.map_run_ended,
}

_HANDLERS: dict[type, Handler] = {
    m.PassState: _pass,
    m.TaskState: _task,
    m.ChoiceState: _choice,
    m.WaitState: _wait,
    m.SucceedState: _succeed,
    m.FailState: _fail,
    m.ParallelState: fanout.start_parallel,
    m.MapState: fanout.start_map,
}
