"""Parallel and Map: starting child frames, collecting their results, failing together.

A Parallel state starts one child frame per branch, all on the same input; its result
is the list of branch outputs in branch order. A Map state starts one child frame per
item, at most MaxConcurrency at a time (0: all), each on the item (or the ItemSelector's
value); its result is the list of iteration outputs in item order.

Failure (Developer Guide, "Parallel" and "Map" state pages): when a branch fails, the
Parallel state fails with that branch's error and the other branches are stopped. When
an iteration fails, the Map state fails with its error — unless ToleratedFailureCount /
ToleratedFailurePercentage allow it, in which case the failure is counted and, once the
threshold is exceeded, the Map fails with ``States.ExceedToleratedFailureThreshold``.
"""

from __future__ import annotations

import re
from typing import Any

from stepwell.engine.dataflow import (
    context_object,
    field_error,
    jsonata_states,
    jsonpath_input,
    runtime_error,
    select_path,
)
from stepwell.engine.distributed import start_distributed_map
from stepwell.engine.execution import REDRIVE_DONE, Fanout, Frame
from stepwell.engine.history import to_json_text
from stepwell.engine.interpreter import Interpreter, error_output_of
from stepwell.language import errors as e
from stepwell.language import model as m
from stepwell.language.compiler import PathValue
from stepwell.language.evaluation import JSON, EvalContext

# --------------------------------------------------------------------- Parallel


def start_parallel(interp: Interpreter, frame: Frame, state: m.ParallelState) -> None:
    if state.input_path is None and state.parameters is None and state.arguments is None:
        branch_input = frame.input  # nothing to evaluate: no context made
    else:
        branch_input = _fanout_input(frame, state, interp.eval_context(frame, state))
    interp.history.add(frame, "ParallelStateStarted")
    count = len(state.branches)
    done = _done_before_redrive(frame)
    if done:
        fan = Fanout(results=[done.get(i) for i in range(count)], pending=count - len(done))
        fan.succeeded.extend(sorted(done))
    else:  # a first run or a Retry
        fan = Fanout(results=[None] * count, pending=count)
    frame.fanout = fan
    frame.waiting = "children"
    if fan.pending == 0:
        _fanout_done(interp, frame, state)
        return
    for index, branch in enumerate(state.branches):
        if index in done:
            continue
        child = interp.new_frame(branch, branch_input, frame, index)
        fan.children.append(child.id)
        interp.enter(child, branch.start_at, branch_input)
        interp.ready.append(child)


def _done_before_redrive(frame: Frame) -> dict[int, JSON]:
    """The children a redrive keeps (RedriveExecution reruns only the unsuccessful
    branches of a Parallel and iterations of a Map); empty on a first run or a Retry."""
    if frame.redrive_done is None:
        return {}
    done = {int(index): output for index, output in frame.redrive_done}
    frame.redrive_done = None
    return done


def _fanout_input(frame: Frame, state: m.State, ctx: EvalContext) -> JSON:
    if state.is_jsonata:
        if state.arguments is None:
            return frame.input
        return state.arguments.evaluate(jsonata_states(frame.input, ctx), ctx)
    return jsonpath_input(state, frame.input, ctx, frame)


# --------------------------------------------------------------------- Map


def start_map(interp: Interpreter, frame: Frame, state: m.MapState) -> None:
    """Read the Map's fields and start its iterations.

    Order (B3, B4): ItemsPath/Items and MaxConcurrency(Path) are read before
    ``MapStateStarted``, ToleratedFailureCount(Path)/ToleratedFailurePercentage(Path)
    after it. A failure before it records no ``MapStateStarted``.
    """
    if state.distributed is not None:  # DISTRIBUTED mode: a Map Run (engine/distributed.py)
        return start_distributed_map(interp, frame, state)
    ctx = interp.eval_context(frame, state)
    map_input = _fanout_input(frame, state, ctx)
    items = map_items(frame, state, map_input, ctx)
    scope = jsonata_states(frame.input, ctx) if state.is_jsonata else map_input
    max_concurrency = map_count(frame, state, "MaxConcurrency", state.max_concurrency, scope, ctx)
    frame.effective_input = map_input
    interp.history.add(
        frame, "MapStateStarted", "mapStateStartedEventDetails", {"length": len(items)}
    )
    fan = Fanout(
        results=[None] * len(items),
        pending=0,
        items=items,
        max_concurrency=max_concurrency or 0,
        tolerated_count=map_count(
            frame, state, "ToleratedFailureCount", state.tolerated_failure_count, scope, ctx
        ),
        tolerated_percentage=map_percentage(frame, state, scope, ctx),
    )
    done = {i: out for i, out in _done_before_redrive(frame).items() if i < len(items)}
    for index, output in done.items():
        fan.results[index] = output
    fan.succeeded.extend(sorted(done))
    fan.skip.extend(sorted(done))
    frame.fanout = fan
    frame.waiting = "children"
    _start_iterations(interp, frame, state)
    if fan.pending == 0:
        _fanout_done(interp, frame, state)


def map_items(frame: Frame, state: m.MapState, map_input: JSON, ctx: EvalContext) -> list[JSON]:
    """The Map's items (Items, ItemsPath or the input), or its D5 errors; a Distributed
    Map without an ItemReader reads them the same way (``distributed.py``)."""
    if state.items is not None:
        scope = jsonata_states(frame.input, ctx) if state.is_jsonata else map_input
        items = state.items.evaluate(scope, ctx)
    elif state.items_path is not None:
        items = _read_path(frame, state, state.items_path, map_input, ctx)
    else:
        items = map_input
    if isinstance(items, list):
        return items
    if state.items is not None and state.is_jsonata:
        raise field_error(state, frame, "Items", items_not_an_array(state.items, items))
    if state.items_path is not None and not state.is_jsonata:
        raise runtime_error(
            state,
            frame,
            f"Invalid path '{state.items_path.text}': The path must point to a JSON "
            f"array but was: {to_json_text(items)}",
        )
    # D5: no Items field and the input is not an array: no location.
    detail = f"Map state input must be an array but was: {to_json_text(items)}"
    if state.is_jsonata:
        raise e.StatesError(e.QUERY_EVALUATION_ERROR, detail)
    raise runtime_error(state, frame, detail)


def items_not_an_array(items: Any, value: JSON) -> str:
    """D5: "The JSONata expression '<expr>' specified for the field 'Items' returned an
    unexpected result type. Expected 'array', but was '<type>' for value: <json>"."""
    template = getattr(items, "value", None)
    text = template[2:-2].strip() if isinstance(template, str) else to_json_text(template)
    return (
        f"The JSONata expression '{text}' specified for the field 'Items' returned an "
        f"unexpected result type. Expected 'array', but was '{_json_type(value)}' for "
        f"value: {to_json_text(value)}"
    )


def _json_type(value: JSON) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else "object"


def _read_path(frame: Frame, state: m.State, path: Any, data: JSON, ctx: EvalContext) -> JSON:
    return select_path(path, data, ctx, state, frame)


_INTEGER = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def map_count(
    frame: Frame, state: m.State, name: str, value: Any, scope: JSON, ctx: EvalContext
) -> int | None:
    """MaxConcurrency or ToleratedFailureCount: a whole number, not negative (D3)."""
    if value is None:
        return None
    number = value.evaluate(scope, ctx)
    if isinstance(value, PathValue):
        text = _value_text(number)
        if not _INTEGER.fullmatch(text):
            raise runtime_error(
                state,
                frame,
                f'The {name}Path field refers to value "{text}" which is not a valid '
                f"integer: {value.text}",
            )
        number = int(text)
    elif isinstance(number, bool) or not isinstance(number, int | float):
        raise field_error(
            state,
            frame,
            name,
            f"The {name} value {to_json_text(number)} is not a non-negative integer.",
        )
    if number < 0:
        raise field_error(state, frame, name, f"{name} cannot be negative.")
    return int(number)


def map_percentage(frame: Frame, state: m.MapState, scope: JSON, ctx: EvalContext) -> float | None:
    """ToleratedFailurePercentage: a number from 0 to 100 (D3)."""
    field = state.tolerated_failure_percentage
    if field is None:
        return None
    value = field.evaluate(scope, ctx)
    if isinstance(field, PathValue):
        text = _value_text(value)
        if not _FLOAT.fullmatch(text):
            raise runtime_error(
                state,
                frame,
                f'The ToleratedFailurePercentagePath field refers to value "{text}" which '
                f"is not a valid float: {field.text}",
            )
        value = float(text)
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise field_error(
            state,
            frame,
            "ToleratedFailurePercentage",
            f"The ToleratedFailurePercentage value {to_json_text(value)} is not a number.",
        )
    if not 0 <= value <= 100:
        raise field_error(
            state,
            frame,
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentage must be between 0 and 100.",
        )
    return float(value)


def _value_text(value: JSON) -> str:
    """A path field's value as D3 quotes it: a string's own text, else its JSON."""
    return value if isinstance(value, str) else to_json_text(value)


def _start_iterations(interp: Interpreter, frame: Frame, state: m.MapState) -> None:
    fan = frame.fanout
    assert fan is not None and fan.items is not None
    limit = fan.max_concurrency or len(fan.items)
    skip = set(fan.skip)
    while fan.next_index < len(fan.items) and fan.pending < limit:
        index = fan.next_index
        fan.next_index += 1
        if index not in skip:
            _start_iteration(interp, frame, state, index, fan.items[index])


def _start_iteration(
    interp: Interpreter, frame: Frame, state: m.MapState, index: int, item: JSON
) -> None:
    fan = frame.fanout
    assert fan is not None
    value = item
    if state.item_selector is not None:
        ctx = interp.eval_context(frame, state)
        context = (
            dict(ctx.context)
            if ctx.context
            else context_object(interp.execution, frame, state, interp.env.now)
        )
        # "Source": "STATE_DATA" for items from the state input (Developer Guide,
        # "Context object data for Map states", inline example with ContextSource).
        context["Map"] = {"Item": {"Index": index, "Value": item, "Source": "STATE_DATA"}}
        ctx = EvalContext(context, ctx.variables, ctx.random, ctx.uuid4)
        scope = jsonata_states(frame.input, ctx) if state.is_jsonata else frame.effective_input
        value = state.item_selector.evaluate(scope, ctx)
    child = interp.new_frame(state.processor, value, frame, index)
    child.map_item = (index, item)
    fan.children.append(child.id)
    fan.pending += 1
    interp.history.add(
        child,
        "MapIterationStarted",
        "mapIterationStartedEventDetails",
        {"name": state.name, "index": index},
    )
    interp.enter(child, state.processor.start_at, value)
    interp.ready.append(child)


# --------------------------------------------------------------------- children report


def child_succeeded(interp: Interpreter, child: Frame, output: JSON) -> None:
    parent, state = _parent_of(interp, child)
    fan = parent.fanout
    assert fan is not None
    fan.results[child.slot] = output
    fan.succeeded.append(child.slot)
    _child_done(interp, parent, child)
    ended = _end_child(interp, parent, child, state, "Succeeded")
    _after_child(interp, parent, state, ended)


def child_failed(interp: Interpreter, child: Frame, error: str | None, cause: str | None) -> None:
    """A branch or iteration failed: a tolerated Map failure is counted, otherwise the
    other children are stopped (B8) and the state fails with the error, through its
    Retry and Catch (``…StateFailed`` is recorded only if no Retry applies, B2)."""
    parent, state = _parent_of(interp, child)
    fan = parent.fanout
    assert fan is not None
    _child_done(interp, parent, child)
    ended = _end_child(interp, parent, child, state, "Failed")
    if isinstance(state, m.MapState):
        fan.failures += 1
        if _tolerated(fan):
            fan.results[child.slot] = error_output_of(error, cause)
            _after_child(interp, parent, state, ended)
            return
        if fan.tolerated_count is not None or fan.tolerated_percentage is not None:
            error = e.EXCEED_TOLERATED_FAILURE_THRESHOLD
            cause = "The specified tolerated failure threshold was exceeded"
    _stop_children(interp, parent, state, parent.last_event)  # the failing event
    if parent.parent is None:  # what a redrive of this top-level state may keep
        interp.execution.extra[REDRIVE_DONE] = {
            "state": state.name,
            "done": [[index, fan.results[index]] for index in fan.succeeded],
        }
    parent.fanout = None
    parent.waiting = ""
    parent.seq += 1
    interp.state_failed(parent, state, e.StatesError(error or "", cause or ""), evaluated=False)
    if not parent.done and not parent.waiting:
        interp.ready.append(parent)


def _end_child(interp: Interpreter, parent: Frame, child: Frame, state: Any, outcome: str) -> int:
    """A child's thread ends. Its parent goes on from the child's last event (A2, A5:
    the next iteration's ``MapIterationStarted``, a retry's ``…StateStarted``,
    ``…StateFailed``); a Map iteration also records ``MapIteration<outcome>``, pointing
    at that event too. Returns the id of the child's final event."""
    parent.last_event = child.last_event
    if not isinstance(state, m.MapState):
        return child.last_event
    return interp.history.add(
        child,
        f"MapIteration{outcome}",
        f"mapIteration{outcome}EventDetails",
        {"name": state.name, "index": child.slot},
    )


def _parent_of(interp: Interpreter, child: Frame) -> tuple[Frame, Any]:
    assert child.parent is not None
    parent = interp.execution.frames[child.parent]
    return parent, interp.graph_of(parent).states[parent.state]


def _child_done(interp: Interpreter, parent: Frame, child: Frame) -> None:
    fan = parent.fanout
    assert fan is not None
    fan.pending -= 1
    fan.children.remove(child.id)
    interp.execution.frames.pop(child.id, None)


def _tolerated(fan: Fanout) -> bool:
    total = len(fan.items or ())
    return not threshold_exceeded(
        fan.failures, total, fan.tolerated_count, fan.tolerated_percentage
    )


def threshold_exceeded(
    failed: int, total: int, count: int | None, percentage: float | None
) -> bool:
    """More failed items than a Map tolerates (none, by default): above
    ``ToleratedFailureCount`` and above ``ToleratedFailurePercentage`` of ``total``. The one
    rule for inline Maps, Map Runs and TestState."""
    if failed == 0:
        return False
    if count is not None and failed <= count:
        return False
    return not (percentage is not None and total and failed * 100 <= percentage * total)


def _after_child(interp: Interpreter, parent: Frame, state: Any, ended: int) -> None:
    """Start the next iterations; once every child is done, the state succeeds.
    ``MapStateSucceeded`` (and so ``MapStateExited``) points at the last iteration's end
    event, ``ParallelStateSucceeded`` at the last branch event (A2, A5)."""
    fan = parent.fanout
    assert fan is not None
    if isinstance(state, m.MapState):
        _start_iterations(interp, parent, state)
        if fan.pending == 0 and fan.next_index >= len(fan.items or ()):
            parent.last_event = ended
            _fanout_done(interp, parent, state)
    elif fan.pending == 0:
        _fanout_done(interp, parent, state)


def _fanout_done(interp: Interpreter, parent: Frame, state: Any) -> None:
    fan = parent.fanout
    assert fan is not None
    interp.history.add(parent, f"{state.type}StateSucceeded")  # history.KEEPS_CHAIN
    parent.fanout = None
    parent.waiting = ""
    parent.seq += 1
    try:
        interp.finish_with_result(parent, state, fan.results)
    except e.StatesError as error:
        interp.state_failed(parent, state, error)
    if not parent.done and not parent.waiting:
        interp.ready.append(parent)


def _stop_children(interp: Interpreter, parent: Frame, state: Any, cause: int) -> None:
    """Stop every child still running, and their own children (B8): a child in a Task
    state records ``TaskStateAborted``, then a Map iteration ``MapIterationAborted``, all
    pointing at ``cause``, the event that failed the state (A5). The order is chosen from
    the rule's text (AWS showed each pattern once): children in the order they started,
    a nested child's events before its parent's."""
    fan = parent.fanout
    assert fan is not None
    for child_id in list(fan.children):
        child = interp.execution.frames.get(child_id)
        if child is not None:
            _abort(interp, child, state, cause)
    fan.children.clear()


def _abort(interp: Interpreter, frame: Frame, owner: Any, cause: int) -> None:
    history = interp.history
    if frame.fanout is not None:
        inner = interp.graph_of(frame).states[frame.state]
        _stop_children(interp, frame, inner, cause)
    if interp.graph_of(frame).states[frame.state].type == "Task":
        history.add(frame, "TaskStateAborted", advance=False, previous=cause)
    if isinstance(owner, m.MapState):
        history.add(
            frame,
            "MapIterationAborted",
            "mapIterationAbortedEventDetails",
            {"name": owner.name, "index": frame.slot},
            advance=False,
            previous=cause,
        )
    discard_frame(interp, frame)


def discard_frame(interp: Interpreter, frame: Frame) -> None:
    """Drop a stopped frame (its own children were stopped before it)."""
    frame.done = True
    interp.execution.frames.pop(frame.id, None)
