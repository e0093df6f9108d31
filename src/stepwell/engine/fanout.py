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

from typing import Any

from stepwell.engine.dataflow import (
    context_object,
    field_error,
    jsonata_states,
    jsonpath_input,
    select_path,
)
from stepwell.engine.distributed import start_distributed_map
from stepwell.engine.execution import REDRIVE_DONE, Fanout, Frame
from stepwell.engine.history import to_json_text
from stepwell.engine.interpreter import Interpreter
from stepwell.language import errors as e
from stepwell.language import model as m
from stepwell.language.evaluation import JSON, EvalContext

# --------------------------------------------------------------------- Parallel


def start_parallel(interp: Interpreter, frame: Frame, state: m.ParallelState) -> None:
    ctx = interp.eval_context(frame, state)
    branch_input = _fanout_input(frame, state, ctx)
    interp.history.add(frame, "ParallelStateStarted")
    count = len(state.branches)
    done = _done_before_redrive(frame)
    fan = Fanout(results=[done.get(i) for i in range(count)], pending=count - len(done))
    fan.succeeded.extend(sorted(done))
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
    done = {int(index): output for index, output in frame.redrive_done or ()}
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
    if state.distributed is not None:  # DISTRIBUTED mode: a Map Run (engine/distributed.py)
        return start_distributed_map(interp, frame, state)
    ctx = interp.eval_context(frame, state)
    map_input = _fanout_input(frame, state, ctx)
    items = _items(frame, state, map_input, ctx)
    scope = jsonata_states(frame.input, ctx) if state.is_jsonata else map_input
    fan = Fanout(
        results=[None] * len(items),
        pending=0,
        items=items,
        max_concurrency=_whole_number(
            frame, state, "MaxConcurrency", state.max_concurrency, scope, ctx
        )
        or 0,
        tolerated_count=_whole_number(
            frame, state, "ToleratedFailureCount", state.tolerated_failure_count, scope, ctx
        ),
        tolerated_percentage=_percentage(frame, state, scope, ctx),
    )
    done = {i: out for i, out in _done_before_redrive(frame).items() if i < len(items)}
    for index, output in done.items():
        fan.results[index] = output
    fan.succeeded.extend(sorted(done))
    fan.skip.extend(sorted(done))
    frame.effective_input = map_input
    interp.history.add(
        frame, "MapStateStarted", "mapStateStartedEventDetails", {"length": len(items)}
    )
    frame.fanout = fan
    frame.waiting = "children"
    _start_iterations(interp, frame, state)
    if fan.pending == 0:
        _fanout_done(interp, frame, state)


def _items(frame: Frame, state: m.MapState, map_input: JSON, ctx: EvalContext) -> list[JSON]:
    if state.items is not None:
        scope = jsonata_states(frame.input, ctx) if state.is_jsonata else map_input
        items = state.items.evaluate(scope, ctx)
    elif state.items_path is not None:
        items = _read_path(frame, state, state.items_path, map_input, ctx)
    else:
        items = map_input
    if not isinstance(items, list):
        raise field_error(
            state,
            frame,
            "Items",
            f"Map state input must be an array but was: {to_json_text(items)}"
            if state.is_jsonata or state.items_path is None
            else f"Invalid path '{state.items_path.text}': The path must point to a JSON "
            f"array but was: {to_json_text(items)}",
        )
    return items


def _read_path(frame: Frame, state: m.State, path: Any, data: JSON, ctx: EvalContext) -> JSON:
    return select_path(path, data, ctx, state, frame)


def _whole_number(
    frame: Frame, state: m.State, name: str, value: Any, scope: JSON, ctx: EvalContext
) -> int | None:
    if value is None:
        return None
    number = value.evaluate(scope, ctx)
    if isinstance(number, bool) or not isinstance(number, int | float) or number < 0:
        raise field_error(
            state,
            frame,
            name,
            f"The {name} value {to_json_text(number)} is not a non-negative integer.",
        )
    return int(number)


def _percentage(frame: Frame, state: m.MapState, scope: JSON, ctx: EvalContext) -> float | None:
    if state.tolerated_failure_percentage is None:
        return None
    value = state.tolerated_failure_percentage.evaluate(scope, ctx)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise field_error(
            state,
            frame,
            "ToleratedFailurePercentage",
            f"The ToleratedFailurePercentage value {to_json_text(value)} is not between 0 and 100.",
        )
    return float(value)


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
    if isinstance(state, m.MapState):
        interp.history.add(
            child,
            "MapIterationSucceeded",
            "mapIterationSucceededEventDetails",
            {"name": state.name, "index": child.slot},
        )
    _after_child(interp, parent, state, child)


def child_failed(interp: Interpreter, child: Frame, error: str | None, cause: str | None) -> None:
    parent, state = _parent_of(interp, child)
    fan = parent.fanout
    assert fan is not None
    _child_done(interp, parent, child)
    if isinstance(state, m.MapState):
        interp.history.add(
            child,
            "MapIterationFailed",
            "mapIterationFailedEventDetails",
            {"name": state.name, "index": child.slot},
            advance=False,
        )
        fan.failures += 1
        if _tolerated(fan):
            fan.results[child.slot] = {"Error": error, "Cause": cause}
            _after_child(interp, parent, state, child)
            return
        if fan.tolerated_count is not None or fan.tolerated_percentage is not None:
            error = e.EXCEED_TOLERATED_FAILURE_THRESHOLD
            cause = "The specified tolerated failure threshold was exceeded"
    parent.last_event = max(parent.last_event, child.last_event)
    _stop_children(interp, parent, state)
    if parent.parent is None:  # what a redrive of this top-level state may keep
        interp.execution.extra[REDRIVE_DONE] = {
            "state": state.name,
            "done": [[index, fan.results[index]] for index in fan.succeeded],
        }
    interp.history.add(parent, f"{state.type}StateFailed")
    parent.fanout = None
    parent.waiting = ""
    parent.seq += 1
    interp.state_failed(parent, state, e.StatesError(error or "", cause or ""))
    if not parent.done and not parent.waiting:
        interp.ready.append(parent)


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
    if fan.tolerated_count is not None and fan.failures <= fan.tolerated_count:
        return True
    if fan.tolerated_percentage is not None and total:
        return fan.failures * 100 <= fan.tolerated_percentage * total
    return False


def _after_child(interp: Interpreter, parent: Frame, state: Any, child: Frame) -> None:
    parent.last_event = max(parent.last_event, child.last_event)
    fan = parent.fanout
    assert fan is not None
    if isinstance(state, m.MapState):
        _start_iterations(interp, parent, state)
        if fan.pending == 0 and fan.next_index >= len(fan.items or ()):
            _fanout_done(interp, parent, state)
    elif fan.pending == 0:
        _fanout_done(interp, parent, state)


def _fanout_done(interp: Interpreter, parent: Frame, state: Any) -> None:
    fan = parent.fanout
    assert fan is not None
    interp.history.add(parent, f"{state.type}StateSucceeded", advance=False)
    parent.fanout = None
    parent.waiting = ""
    parent.seq += 1
    try:
        interp.finish_with_result(parent, state, fan.results)
    except e.StatesError as error:
        interp.state_failed(parent, state, error)
    if not parent.done and not parent.waiting:
        interp.ready.append(parent)


def _stop_children(interp: Interpreter, parent: Frame, state: Any) -> None:
    """Stop every child still running (and their own children), recording the abort."""
    fan = parent.fanout
    assert fan is not None
    for child_id in list(fan.children):
        child = interp.execution.frames.get(child_id)
        if child is None:
            continue
        if isinstance(state, m.MapState):
            interp.history.add(
                child,
                "MapIterationAborted",
                "mapIterationAbortedEventDetails",
                {"name": state.name, "index": child.slot},
            )
        discard_frame(interp, child)
    fan.children.clear()


def discard_frame(interp: Interpreter, frame: Frame) -> None:
    frame.done = True
    if frame.fanout is not None:
        for child_id in frame.fanout.children:
            child = interp.execution.frames.get(child_id)
            if child is not None:
                discard_frame(interp, child)
    interp.execution.frames.pop(frame.id, None)
