"""Run one execution to completion in this process, on a virtual clock.

The smallest runtime there is: it feeds the interpreter's commands back to it as events.
Tasks call Python functions synchronously; timers go on a heap and the clock jumps to
the next one, so a workflow that waits an hour finishes in microseconds and a test never
sleeps. The durable runtimes follow the same loop with a store in between.
"""

from __future__ import annotations

import heapq
import os
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from stepwell.engine import events as ev
from stepwell.engine.env import Env
from stepwell.engine.execution import ExecutionInfo, ExecutionState
from stepwell.engine.history import HistoryEvent
from stepwell.engine.interpreter import StepResult, start, step
from stepwell.integrations.functions import FunctionRegistry
from stepwell.integrations.registry import Integrations, Invocation
from stepwell.language.compiler import load_state_machine
from stepwell.language.evaluation import JSON
from stepwell.language.model import StateMachine

Definition = str | bytes | Mapping[str, JSON] | StateMachine


@dataclass(slots=True)
class ExecutionResult:
    """What DescribeExecution and GetExecutionHistory would tell about a finished run."""

    status: str
    output: JSON
    error: str | None
    cause: str | None
    history: list[HistoryEvent]
    execution_arn: str
    name: str
    start_date: datetime
    stop_date: datetime
    input: JSON = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"


class LocalRunner:
    """Drives one execution: commands out, events in, until it ends."""

    def __init__(
        self,
        machine: StateMachine,
        integrations: Integrations,
        clock: datetime,
        rng: random.Random,
        record_history: bool,
        real_time: bool = False,
    ) -> None:
        self.machine = machine
        self.integrations = integrations
        self.clock = clock
        self.rng = rng
        self.record_history = record_history
        self.real_time = real_time
        self.history: list[HistoryEvent] = []
        self.inbox: deque[ev.Event] = deque()
        self.timers: list[tuple[datetime, int, ev.TimerFired]] = []
        self._timer_count = 0
        self.execution_arn = ""

    def run(self, execution_input: JSON, info: ExecutionInfo) -> ExecutionState:
        self.execution_arn = info.execution_arn
        result = start(self.machine, execution_input, self._env(), info, self.record_history)
        execution = self._absorb(result)
        while not execution.finished:
            event = self._next_event()
            if event is None:
                raise RuntimeError("execution is waiting for something this runner cannot do")
            execution = self._absorb(
                step(self.machine, execution, event, self._env(), self.record_history)
            )
        return execution

    def _env(self) -> Env:
        return Env(now=self.clock, rng=self.rng)

    def _absorb(self, result: StepResult) -> ExecutionState:
        self.history.extend(result.events)
        for command in result.commands:
            if isinstance(command, ev.StartTimer):
                self._timer_count += 1
                fired = ev.TimerFired(command.frame, command.seq, command.kind)
                heapq.heappush(self.timers, (command.due, self._timer_count, fired))
            elif isinstance(command, ev.Continue):
                self.inbox.append(ev.Resume())
            else:
                event = self._invoke(command)
                if event is not None:
                    self.inbox.append(event)
        return result.execution

    def _invoke(self, command: ev.InvokeTask) -> ev.Event | None:
        request_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        outcome = self.integrations.invoke(
            Invocation(
                resource=command.resource,
                payload=command.input,
                execution_arn=self.execution_arn,
                state_name=command.state_name,
                task_token=command.task_token,
                request_id=request_id,
                timeout_seconds=command.timeout_seconds,
            )
        )
        if outcome is None:
            return None  # waits for a callback this runner cannot receive: timers decide
        if outcome.ok:
            return ev.TaskSucceeded(command.frame, command.seq, outcome.output)
        return ev.TaskFailed(command.frame, command.seq, outcome.error or "", outcome.cause)

    def _next_event(self) -> ev.Event | None:
        if self.inbox:
            return self.inbox.popleft()
        if self.timers:
            due, _, fired = heapq.heappop(self.timers)
            if self.real_time:
                self.clock = _sleep_until(due)
            self.clock = max(self.clock, due)
            return fired
        return None


def run(
    definition: Definition,
    input: JSON = None,
    *,
    functions: Mapping[str, Callable[..., Any]] | FunctionRegistry | None = None,
    name: str | None = None,
    history: bool = True,
    start_time: datetime | None = None,
    seed: int | None = None,
) -> ExecutionResult:
    """Run a state machine to completion in-process and return the result.

    ``definition`` is ASL as JSON/YAML text, parsed data, or a compiled machine;
    ``input`` a JSON value or JSON text (default ``{}``); ``functions`` maps Lambda
    function names (or ARNs) to Python callables. Time is virtual: Wait states and retry
    back-off advance a clock that starts at ``start_time`` (default: now). ``seed`` fixes
    every random choice (jitter, UUIDs, task tokens) for a reproducible run.
    """
    machine = definition if isinstance(definition, StateMachine) else load_state_machine(definition)
    execution_input = _parse_input(input)
    registry = Integrations(functions)
    rng = random.Random(seed if seed is not None else os.urandom(16))
    clock = start_time or datetime.now(UTC)
    execution_name = name or str(uuid.UUID(int=rng.getrandbits(128), version=4))
    info = ExecutionInfo(
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:machine:{execution_name}",
        name=execution_name,
        start_time=clock,
    )
    runner = LocalRunner(machine, registry, clock, rng, history)
    execution = runner.run(execution_input, info)
    return ExecutionResult(
        status=execution.status,
        output=execution.output,
        error=execution.error,
        cause=execution.cause,
        history=runner.history,
        execution_arn=info.execution_arn,
        name=execution_name,
        start_date=clock,
        stop_date=runner.clock,
        input=execution_input,
    )


def _sleep_until(due: datetime) -> datetime:
    """Real time: an Express execution in a server really waits."""
    delay = (due - datetime.now(UTC)).total_seconds()
    if delay > 0:
        time.sleep(delay)
    return datetime.now(UTC)


def _parse_input(value: JSON) -> JSON:
    if value is None:
        return {}
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value
