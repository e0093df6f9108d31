"""The parent's side of a Distributed Map: start a Map Run, wait, take its result.

A Map whose processor runs in DISTRIBUTED mode does not run iterations in the parent
(aws-behaviour B5): the parent evaluates the state's fields, asks the runtime for a Map
Run (``StartMapRun``) and waits. The runtime reads the items (ItemReader), reports
``MapRunStarted`` (the engine records ``MapStateStarted {"length": n}`` and
``MapRunStarted {"mapRunArn"}``), runs each item or batch as a child execution, and
reports ``MapRunEnded``: ``MapRunSucceeded``, ``MapStateSucceeded`` and the state's
output, or ``MapRunFailed {error, cause}``, ``MapStateFailed`` and the error, which Retry
and Catch handle as for any state. Chaining (A5): ``MapRunStarted`` points at
``MapStateStarted``, ``MapRunSucceeded`` at ``MapRunStarted``, and ``MapStateSucceeded``
and ``MapStateExited`` at ``MapRunSucceeded``.

Design decision: the engine stays pure. It evaluates every field of the state that reads
the state's input or the context object (items, ItemReader parameters, ItemBatcher,
ResultWriter, limits), and passes them, with what an ItemSelector needs later (context
object, variables, inputs), as the command's ``spec``. ``item_input`` evaluates the
ItemSelector for one item, for the runtime that starts the children. The run's id is a
name-based UUID of (execution, frame, seq, redrive count), so a step redone after a crash
asks for the same Map Run and the runtime does not start a second one. A redriven
execution asks for its failed Map Run again (``REDRIVE_MAP_RUN``, Developer Guide,
"Redriving Map Runs"); the runtime reruns that run's unsuccessful children and reports it
as redriven (``MapRunRedriven {"mapRunArn", "redriveCount"}`` instead of
``MapRunStarted``).
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from stepwell.engine import events as ev
from stepwell.engine.dataflow import (
    context_object,
    jsonata_states,
    jsonpath_input,
)
from stepwell.engine.execution import Frame
from stepwell.engine.interpreter import Interpreter
from stepwell.language import errors as e
from stepwell.language import model as m
from stepwell.language.evaluation import JSON, EvalContext

_RUN_IDS = uuid.UUID("5d0c1f3e-8a2b-4c7d-9e6f-1a2b3c4d5e6f")
# ExecutionState.extra: the id of the failed Map Run a redrive of the top-level
# Distributed Map state runs again (set by RedriveExecution, used once)
REDRIVE_MAP_RUN = "redrive_map_run"
STATE_DATA = "STATE_DATA"


def start_distributed_map(interp: Interpreter, frame: Frame, state: m.MapState) -> None:
    # The Map's fields are read as an inline Map reads them (fanout.py imports this module).
    from stepwell.engine.fanout import map_count, map_items, map_percentage

    config = state.distributed
    assert config is not None
    context = context_object(interp.execution, frame, state, interp.env.now)
    ctx = EvalContext(context, interp.visible_variables(frame), interp.env.random, interp.env.uuid4)
    map_input = _map_input(frame, state, ctx)
    scope = jsonata_states(frame.input, ctx) if state.is_jsonata else map_input
    items = None if config.reader_resource else map_items(frame, state, map_input, ctx)  # D5
    reader = (
        _io_spec(config.reader_resource, config.reader_arguments, scope, ctx)
        | _evaluated("ReaderConfig", config.reader_config, scope, ctx)
        if config.reader_resource
        else None
    )
    max_concurrency = map_count(frame, state, "MaxConcurrency", state.max_concurrency, scope, ctx)
    try:  # B4: read after MapStateStarted; failing, the Map Run never starts
        tolerated_count = map_count(
            frame, state, "ToleratedFailureCount", state.tolerated_failure_count, scope, ctx
        )
        tolerated_percentage = map_percentage(frame, state, scope, ctx)
    except e.StatesError:
        details = {"length": len(items) if items is not None else 0}
        interp.history.add(frame, "MapStateStarted", "mapStateStartedEventDetails", details)
        raise
    spec: dict[str, Any] = {
        "items": items,
        "reader": reader,
        "batcher": config.batcher.evaluate(scope, ctx) if config.batcher else None,
        "has_batch_input": config.batch_input is not None,
        "batch_input": config.batch_input.evaluate(scope, ctx) if config.batch_input else None,
        "writer": _io_spec(config.writer_resource, config.writer_arguments, scope, ctx)
        | _evaluated("WriterConfig", config.writer_config, scope, ctx)
        if config.writer_resource or config.writer_config
        else None,
        "max_concurrency": max_concurrency or 0,
        "tolerated_count": tolerated_count,
        "tolerated_percentage": tolerated_percentage,
        "label": state.label,
        "execution_type": config.execution_type,
        "processor_definition": config.processor_definition,
        "context": context,
        "variables": dict(ctx.variables),
        "state_input": frame.input,
        "map_input": map_input,
    }
    execution = interp.execution
    seed = f"{execution.info.execution_arn}/{frame.id}/{frame.seq}/{execution.info.redrive_count}"
    run_id = str(uuid.uuid5(_RUN_IDS, seed))
    if frame.parent is None:  # a redriven execution redrives this state's failed Map Run
        run_id = execution.extra.pop(REDRIVE_MAP_RUN, run_id)
    frame.effective_input = map_input
    frame.waiting = "maprun"
    interp.commands.append(
        ev.StartMapRun(frame.id, frame.seq, state.name, frame.graph, run_id, spec)
    )


def map_run_started(interp: Interpreter, frame: Frame, state: Any, event: Any) -> None:
    if frame.waiting != "maprun":
        return
    history = interp.history
    history.add(frame, "MapStateStarted", "mapStateStartedEventDetails", {"length": event.length})
    if event.redrive_count:
        details = {"mapRunArn": event.map_run_arn, "redriveCount": event.redrive_count}
        history.add(frame, "MapRunRedriven", "mapRunRedrivenEventDetails", details)
        return
    history.add(
        frame, "MapRunStarted", "mapRunStartedEventDetails", {"mapRunArn": event.map_run_arn}
    )


def map_run_ended(interp: Interpreter, frame: Frame, state: Any, event: Any) -> None:
    if frame.waiting != "maprun":
        return
    frame.waiting = ""
    frame.seq += 1
    history = interp.history
    if event.status == "SUCCEEDED":
        history.add(frame, "MapRunSucceeded")
        history.add(frame, "MapStateSucceeded", advance=False)
        try:
            interp.finish_with_result(frame, state, event.output)
        except e.StatesError as error:
            interp.state_failed(frame, state, error)
        return
    details = {k: v for k, v in (("error", event.error), ("cause", event.cause)) if v is not None}
    history.add(frame, "MapRunFailed", "mapRunFailedEventDetails", details)
    failure = e.StatesError(event.error or "", event.cause or "")
    interp.state_failed(frame, state, failure, evaluated=False)  # records MapStateFailed (B2)


def item_input(
    state: m.MapState, spec: dict[str, Any], index: int, item: JSON, source: str
) -> JSON:
    """A child's value for one item: the ItemSelector's, with ``$$.Map.Item`` set, or the
    item itself (Developer Guide, "ItemSelector (Map)")."""
    if state.item_selector is None:
        return item
    context = dict(spec["context"])
    context["Map"] = {"Item": {"Index": index, "Value": item, "Source": source}}
    rng = random.Random(index)
    ctx = EvalContext(
        context,
        spec["variables"],
        rng.random,
        lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    )
    scope = jsonata_states(spec["state_input"], ctx) if state.is_jsonata else spec["map_input"]
    return state.item_selector.evaluate(scope, ctx)


# --------------------------------------------------------------------- fields


def _map_input(frame: Frame, state: m.MapState, ctx: EvalContext) -> JSON:
    if state.is_jsonata:
        if state.arguments is None:
            return frame.input
        return state.arguments.evaluate(jsonata_states(frame.input, ctx), ctx)
    return jsonpath_input(state, frame.input, ctx, frame)


def _io_spec(resource: str | None, arguments: Any, scope: JSON, ctx: EvalContext) -> dict[str, Any]:
    spec: dict[str, Any] = {"Resource": resource}
    if arguments is not None:
        spec["Arguments"] = arguments.evaluate(scope, ctx)
    return spec


def _evaluated(name: str, template: Any, scope: JSON, ctx: EvalContext) -> dict[str, Any]:
    return {name: template.evaluate(scope, ctx)} if template is not None else {}
