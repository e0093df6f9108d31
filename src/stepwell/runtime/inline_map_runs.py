"""A Distributed Map's Map Run inside one in-process run (``stepwell.run``, Express).

The children run one after another, inline, each to its end, on the caller's clock and
integrations, as nested executions do in-process; the parent then sees
``MapRunStarted`` and ``MapRunEnded`` exactly as the durable runtime reports them
(``map_runs.py``), so its history is the same. MaxConcurrency has nothing to limit
here; the tolerated-failure threshold stops the run at the first failure past it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from stepwell.engine import events as ev
from stepwell.engine.distributed import item_input
from stepwell.engine.execution import ExecutionInfo, ExecutionState
from stepwell.engine.fanout import threshold_exceeded
from stepwell.integrations.registry import Integrations
from stepwell.language import model as m
from stepwell.language.compiler import load_state_machine
from stepwell.language.evaluation import JSON
from stepwell.language.verbatim import compact_json
from stepwell.runtime.map_items import (
    THRESHOLD_CAUSE,
    THRESHOLD_EXCEEDED,
    ChildResult,
    MapRunFailure,
    child_inputs,
    exports_results,
    map_output,
    read_items,
)
from stepwell.runtime.map_runs import (
    child_arn,
    child_machine_arn,
    child_name,
    is_express_child,
    map_run_arn,
)

# (processor, input, identity) → (the child's end state, the clock at its end)
RunChild = Callable[[m.StateMachine, JSON, ExecutionInfo], tuple[ExecutionState, datetime]]


def run_map_inline(
    command: ev.StartMapRun,
    machine: m.StateMachine,
    parent: ExecutionInfo,
    integrations: Integrations,
    now: datetime,
    run_child: RunChild,
) -> list[ev.Event]:
    spec: dict[str, Any] = command.spec
    run = map_run_arn(parent.execution_arn, spec.get("label"), command.run_id)

    def told(
        status: str, output: JSON = None, error: str | None = None, cause: str | None = None
    ) -> ev.Event:
        return ev.MapRunEnded(command.frame, command.seq, status, output, error, cause)

    try:
        read = read_items(integrations, spec)
    except MapRunFailure as failure:
        started = ev.MapRunStarted(command.frame, command.seq, run, 0)
        return [started, told("FAILED", error=failure.error, cause=failure.cause)]
    state = machine.graphs[command.graph].states.get(command.state_name)
    if isinstance(state, m.MapState) and state.item_selector is not None:
        values = [
            item_input(state, spec, i, v, read.source_of(i)) for i, v in enumerate(read.items)
        ]
    else:
        values = read.items
    inputs = child_inputs(values, spec)
    total = sum(size for _, size in inputs)
    events: list[ev.Event] = [ev.MapRunStarted(command.frame, command.seq, run, total)]
    processor = load_state_machine(spec["processor_definition"])
    children: list[ChildResult] = []
    failed = 0
    clock = now
    express = is_express_child(spec)
    for index, (value, size) in enumerate(inputs):
        arn = child_arn(run, index, express)
        info = ExecutionInfo(
            execution_arn=arn,
            name=child_name(arn),
            state_machine_arn=child_machine_arn(run),
            state_machine_name=child_machine_arn(run).rsplit(":", 1)[-1],
            role_arn=parent.role_arn,
            region=parent.region,
            start_time=clock,
            input_text=compact_json(value).decode().lstrip(),
            express=express,
        )
        execution, ended = run_child(processor, value, info)
        children.append(_result(info, execution, clock, ended))
        clock = max(clock, ended)
        if execution.status != "SUCCEEDED":
            failed += size
            if threshold_exceeded(
                failed, total, spec.get("tolerated_count"), spec.get("tolerated_percentage")
            ):
                _write_anyway(integrations, spec, run, children)
                return [*events, told("FAILED", error=THRESHOLD_EXCEEDED, cause=THRESHOLD_CAUSE)]
    try:
        output = map_output(integrations, spec, run, children)
    except MapRunFailure as failure:
        return [*events, told("FAILED", error=failure.error, cause=failure.cause)]
    return [*events, told("SUCCEEDED", output)]


def _write_anyway(
    integrations: Integrations, spec: dict[str, Any], run: str, children: list[ChildResult]
) -> None:
    if exports_results(spec):
        with contextlib.suppress(MapRunFailure):  # the run fails with its own error anyway
            map_output(integrations, spec, run, children)


def _result(
    info: ExecutionInfo, execution: ExecutionState, started: datetime, ended: datetime
) -> ChildResult:
    succeeded = execution.status == "SUCCEEDED"
    return ChildResult(
        arn=info.execution_arn,
        name=info.name,
        state_machine_arn=info.state_machine_arn,
        status=execution.status,
        input=info.input_text,
        start=started.timestamp(),
        stop=ended.timestamp(),
        output=compact_json(execution.output).decode() if succeeded else None,
        error=execution.error,
        cause=execution.cause,
    )
