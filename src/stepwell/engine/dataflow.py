"""Input and output processing of a state, in both query languages.

JSONPath (Developer Guide, "Processing input and output in Step Functions"):
``InputPath → Parameters → (the state's work) → ResultSelector → ResultPath → OutputPath``.
ResultPath merges the result into the state's *raw* input; ``null`` paths discard.

JSONata ("Transforming data with JSONata in Step Functions"): ``Arguments`` over
``$states.input``; ``Output`` and ``Assign`` over ``$states.input`` and
``$states.result`` (or ``$states.errorOutput`` in a Catcher), evaluated together, both
seeing the variables as they were before the state assigned any.

Errors raised by evaluators are ``StatesError``; ``States.Runtime`` causes are prefixed
here with the state and the event it was entered at, as AWS words them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from stepwell.engine.execution import ExecutionState, Frame
from stepwell.engine.history import PayloadTexts
from stepwell.language import errors as e
from stepwell.language.evaluation import JSON, EvalContext
from stepwell.language.jsonpath import PathNotFound
from stepwell.language.model import NULL_PATH, MapState, State, TaskState
from stepwell.language.timestamps import format_timestamp

PAYLOAD_LIMIT = 262_144  # bytes; Developer Guide, "Step Functions service quotas"


iso_time = format_timestamp  # the context object's timestamps (language/timestamps.py)
_RETRY_COUNTED = (TaskState, MapState)

# ExecutionState.extra key: a context object given whole (TestState's ``context``, M4),
# used as ``$$`` verbatim instead of one built from the execution.
FIXED_CONTEXT = "fixed_context"


def context_object(
    execution: ExecutionState, frame: Frame, state: State, now: datetime
) -> dict[str, JSON]:
    """The ``$$`` object (Developer Guide, "Accessing execution data from the Context
    object"). As on AWS (G1), ``State.RetryCount`` is there only in states that retry
    work (Task; Map, as TestState shows), not in Pass or Choice, and express executions
    have no ``Execution.RedriveCount``."""
    fixed = execution.extra.get(FIXED_CONTEXT)
    if fixed is not None:
        return dict(fixed)
    info = execution.info
    entered = frame.entered_time or now
    execution_context: dict[str, JSON] = {
        "Id": info.execution_arn,
        "Input": execution.input,
        "Name": info.name,
        "RoleArn": info.role_arn,
        "StartTime": iso_time(info.start_time or now),
    }
    if not info.express:
        execution_context["RedriveCount"] = info.redrive_count
    state_context: dict[str, JSON] = {"EnteredTime": iso_time(entered), "Name": state.name}
    if isinstance(state, _RETRY_COUNTED):
        state_context["RetryCount"] = frame.retry_total
    context: dict[str, JSON] = {
        "Execution": execution_context,
        "State": state_context,
        "StateMachine": {"Id": info.state_machine_arn, "Name": info.state_machine_name},
    }
    if info.redrive_time is not None:  # only once the execution has been redriven
        context["Execution"]["RedriveTime"] = iso_time(info.redrive_time)
    if frame.task_token is not None:
        context["Task"] = {"Token": frame.task_token}
    return context


def runtime_error(state: State, frame: Frame, detail: str, error: str = e.RUNTIME) -> e.StatesError:
    """An error raised by a state itself, with AWS's state-and-event prefix."""
    return e.StatesError(
        error,
        f"An error occurred while executing the state '{state.name}' "
        f"(entered at the event id #{frame.entered_event}). {detail}",
    )


def field_error(state: State, frame: Frame, field: str, detail: str) -> e.StatesError:
    """A field's value has the wrong type or range: in a JSONata state that is
    ``States.QueryEvaluationError`` ("Handling expression errors": "Type incompatibility",
    "Value out of range"), located at the field; in a JSONPath state ``States.Runtime``."""
    if state.is_jsonata:  # ``locate`` adds the prefix once the event is recorded
        return e.StatesError(e.QUERY_EVALUATION_ERROR, detail, location=field)
    return runtime_error(state, frame, detail)


_PREFIXED: frozenset[str] = frozenset((e.RUNTIME, e.QUERY_EVALUATION_ERROR))


def locate(error: e.StatesError, state: State, frame: Frame) -> e.StatesError:
    """Give an evaluator's ``States.Runtime`` or ``States.QueryEvaluationError`` AWS's
    state-and-event prefix, once, at the state where it happened (AWS: "An error occurred
    while executing the state 'E' (entered at the event id #2). The JSONata expression
    '$states.input.missing' specified for the field 'Output/v' returned nothing
    (undefined)."; floci-io/floci issue #2665, measured)."""
    if error.error in _PREFIXED and not error.cause.startswith("An error occurred"):
        return runtime_error(state, frame, error.cause, error.error)
    return error


def select_path(path: Any, data: JSON, ctx: EvalContext, state: State, frame: Frame) -> JSON:
    if path is None:
        return data
    if path is NULL_PATH:
        return {}
    try:
        return path.get(data, ctx)
    except PathNotFound:
        raise runtime_error(
            state,
            frame,
            f"Invalid path '{path.text}' : No results for path: {_bracketed(path.text)}",
        ) from None


def _bracketed(text: str) -> str:
    """AWS echoes a path in bracket notation: ``$.a.b`` → ``$['a']['b']``."""
    if not text.startswith("$.") or any(c in text for c in "[*?@"):
        return text
    return "$" + "".join(f"['{part}']" for part in text[2:].split("."))


def jsonpath_input(state: State, raw: JSON, ctx: EvalContext, frame: Frame) -> JSON:
    """InputPath, then Parameters: what the state works on."""
    data = select_path(state.input_path, raw, ctx, state, frame)
    if state.parameters is not None:
        data = state.parameters.evaluate(data, ctx)
    return data


def jsonpath_output(
    state: State,
    raw: JSON,
    result: JSON,
    ctx: EvalContext,
    frame: Frame,
    selector: bool = True,
) -> JSON:
    """ResultSelector, ResultPath, OutputPath: from the state's result to its output."""
    if selector and state.result_selector is not None:
        result = state.result_selector.evaluate(result, ctx)
    output = apply_result_path(state.result_path, raw, result)
    return select_path(state.output_path, output, ctx, state, frame)


def apply_result_path(result_path: Any, raw: JSON, result: JSON) -> JSON:
    if result_path is None:
        return result
    if result_path is NULL_PATH:
        return raw
    return result_path.set(raw, result)


def jsonata_states(
    raw: JSON, ctx: EvalContext, result: JSON = None, has_result: bool = False
) -> dict[str, JSON]:
    states: dict[str, JSON] = {"input": raw, "context": ctx.context}
    if has_result:
        states["result"] = result
    return states


def check_payload_size(
    value: JSON, name: str, what: str = "returned a result", texts: PayloadTexts | None = None
) -> None:
    """Raise ``States.DataLimitExceeded`` for a payload over 256 KiB.

    AWS words it "The state/task 'UpdateMembers' returned a result with a size exceeding
    the maximum number of bytes service limit." (quoted in awslabs/aws-securityhub-
    multiaccount-scripts issue #63); for a service integration's own result it names the
    integration, "The state/task 'aws-sdk:cloudformation' ..." (jogold/cloudstructs #163).

    ``texts``: the history's payload texts, which keep the text measured when it is also
    the history's (``PayloadTexts.size``): the state's exit event then reuses it.
    """
    try:
        size = len(orjson.dumps(value)) if texts is None else texts.size(value)
    except TypeError:
        return
    if size > PAYLOAD_LIMIT:
        raise e.StatesError(
            e.DATA_LIMIT_EXCEEDED,
            f"The state/task '{name}' {what} with a size exceeding the maximum number of "
            "bytes service limit.",
        )
