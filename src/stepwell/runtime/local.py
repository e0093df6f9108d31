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
from pathlib import Path
from typing import Any

from stepwell.engine import events as ev
from stepwell.engine.env import Env
from stepwell.engine.execution import ExecutionInfo, ExecutionState
from stepwell.engine.history import HistoryEvent
from stepwell.engine.interpreter import StepResult, start, step
from stepwell.integrations.forwarding import ForwardConfig
from stepwell.integrations.functions import FunctionRegistry
from stepwell.integrations.mocks import MockConfig, MockedIntegrations, RouteTarget
from stepwell.integrations.nested import NestedExecutions
from stepwell.integrations.registry import Integrations
from stepwell.integrations.services import Services
from stepwell.language.compiler import InvalidDefinition, load_state_machine
from stepwell.language.evaluation import JSON
from stepwell.language.json_errors import input_problem
from stepwell.language.model import StateMachine
from stepwell.language.verbatim import json_text, parse_sent_json
from stepwell.runtime.inline_map_runs import run_map_inline
from stepwell.runtime.tasks import invocation, outcome_events

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
        executions: LocalExecutions | None = None,
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
        self.info: ExecutionInfo | None = None
        self.executions = executions

    def run(self, execution_input: JSON, info: ExecutionInfo) -> ExecutionState:
        self.execution_arn = info.execution_arn
        self.info = info
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
            elif isinstance(command, ev.StartMapRun):
                self.inbox.extend(self._map_run(command))
            else:
                self.inbox.extend(self._invoke(command))
        return result.execution

    def _invoke(self, command: ev.InvokeTask) -> list[ev.Event]:
        request_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        if self.executions is not None:
            self.executions.enter(self, command)
        outcome = self.integrations.invoke(invocation(command, self.execution_arn, request_id))
        if self.executions is not None:  # a .sync child ran inline: its time has passed
            self.clock = max(self.clock, self.executions.now)
        if outcome is None:
            return []  # waits for a callback (or, if none comes, for its timers)
        return outcome_events(command.frame, command.seq, outcome)

    def _map_run(self, command: ev.StartMapRun) -> list[ev.Event]:
        """A Distributed Map's children, run inline (``inline_map_runs``)."""

        def run_child(
            processor: StateMachine, value: JSON, info: ExecutionInfo
        ) -> tuple[ExecutionState, datetime]:
            child = LocalRunner(
                processor,
                self.integrations,
                self.clock,
                self.rng,
                self.record_history,
                self.real_time,
                self.executions,
            )
            return child.run(value, info), child.clock

        assert self.info is not None
        return run_map_inline(
            command, self.machine, self.info, self.integrations, self.clock, run_child
        )

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
    services: Services | None = None,
    forward: ForwardConfig | None = None,
    machines: Mapping[str, Definition] | None = None,
    mocks: str | Path | Mapping[str, Any] | MockConfig | None = None,
    test_case: str | None = None,
    tasks: Mapping[str, RouteTarget] | None = None,
) -> ExecutionResult:
    """Run a state machine to completion in-process and return the result.

    ``definition`` is ASL as JSON/YAML text, parsed data, or a compiled machine;
    ``input`` a JSON value or JSON text (default ``{}``); ``functions`` maps Lambda
    function names (or ARNs) to Python callables. Time is virtual: Wait states and retry
    back-off advance a clock that starts at ``start_time`` (default: now). ``seed`` fixes
    every random choice (jitter, UUIDs, task tokens) for a reproducible run.

    Tasks may use the embedded DynamoDB, SQS and SNS: pass ``services`` (a
    ``stepwell.integrations.services.Services``) to prepare tables and queues before the
    run and read them after (by default a fresh in-memory set). Services created without a
    clock follow the run's virtual clock while it runs. ``forward`` sends other AWS
    services to a real endpoint.

    ``arn:aws:states:::states:startExecution`` (every pattern) starts the machines of
    ``machines`` (name → definition) inline, on the same clock and integrations; their
    results are in ``result.extra["executions"]``. ``mocks`` is a Step Functions Local
    mock configuration (a path, JSON text or parsed data) and ``test_case`` the test
    case to run; ``tasks`` maps state names to how they run: ``"mock:Response"``,
    ``"function:name"``, a Python callable, ``"service"`` or ``"forward"``.
    """
    machine = definition if isinstance(definition, StateMachine) else load_state_machine(definition)
    execution_input = _parse_input(input)
    services = services if services is not None else Services()
    registry = Integrations(functions, services=services, forward=forward)
    rng = random.Random(seed if seed is not None else os.urandom(16))
    clock = start_time or datetime.now(UTC)
    executions = LocalExecutions(machines or {}, rng, history, clock)
    for compiled in (machine, *executions.machines.values()):
        refused = registry.diagnostics(compiled)
        if refused:
            raise InvalidDefinition(refused)
    NestedExecutions(executions).install(registry)
    executions.integrations = _with_mocks(registry, mocks, test_case, tasks)
    execution_name = name or str(uuid.UUID(int=rng.getrandbits(128), version=4))
    info = ExecutionInfo(
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:machine:{execution_name}",
        name=execution_name,
        start_time=clock,
        input_text=_input_text(input),
    )
    runner = LocalRunner(machine, executions.integrations, clock, rng, history, False, executions)
    execution = _run_on_virtual_time(runner, services, execution_input, info)
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
        extra={"executions": executions.results} if executions.results else {},
    )


def _with_mocks(
    registry: Integrations,
    mocks: str | Path | Mapping[str, Any] | MockConfig | None,
    test_case: str | None,
    tasks: Mapping[str, RouteTarget] | None,
) -> Integrations:
    if mocks is None and not tasks:
        return registry
    config = mocks if isinstance(mocks, MockConfig) or mocks is None else MockConfig.load(mocks)
    return MockedIntegrations(registry, config, test_case=test_case, routes={"*": tasks or {}})


class LocalServiceError(Exception):
    """A refused operation inside an in-process run, named by its AWS error type."""

    def __init__(self, aws_type: str, message: str) -> None:
        super().__init__(message)
        self.aws_type = aws_type
        self.message = message


class LocalExecutions:
    """StartExecution, DescribeExecution and the task-token callbacks inside one
    in-process run (the ``ExecutionsPort`` of ``integrations.nested``).

    A child runs inline, to its end, on the caller's clock and with the same
    integrations, when StartExecution is called; a ``.sync`` caller then reads its
    result with DescribeExecution, which also moves the caller's clock to the child's
    end. A task token is answered by putting the outcome in the waiting runner's inbox.
    """

    def __init__(
        self,
        machines: Mapping[str, Definition],
        rng: random.Random,
        record_history: bool,
        now: datetime,
        region: str = "us-east-1",
        account: str = "123456789012",
    ) -> None:
        self.machines = {
            name: d if isinstance(d, StateMachine) else load_state_machine(d)
            for name, d in machines.items()
        }
        self.rng = rng
        self.record_history = record_history
        self.now = now  # the clock of the runner calling in
        self.prefix = f"arn:aws:states:{region}:{account}"
        self.integrations = Integrations()
        self.results: dict[str, ExecutionResult] = {}
        self._waiting: dict[str, tuple[LocalRunner, int, int]] = {}

    def enter(self, runner: LocalRunner, command: ev.InvokeTask) -> None:
        """``runner`` is about to invoke ``command``: note its clock and its token."""
        self.now = runner.clock
        if command.task_token is not None:
            self._waiting[command.task_token] = (runner, command.frame, command.seq)

    def start_execution(self, request: Mapping[str, Any]) -> dict[str, Any]:
        machine_arn = str(request["stateMachineArn"])
        parts = machine_arn.split(":")
        machine_name = parts[6] if len(parts) > 6 and parts[5] == "stateMachine" else ""
        machine = self.machines.get(machine_name)
        if machine is None:
            raise LocalServiceError(
                "StateMachineDoesNotExist", f"State Machine Does Not Exist: '{machine_arn}'"
            )
        name = str(request.get("name") or uuid.UUID(int=self.rng.getrandbits(128), version=4))
        text = str(request.get("input") or "{}")
        arn = f"{self.prefix}:execution:{machine_name}:{name}"
        if arn in self.results:
            raise LocalServiceError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
        try:
            execution_input = parse_sent_json(text)  # integers past 64 bits exact
        except ValueError:
            raise LocalServiceError(
                "InvalidExecutionInput",
                f"Invalid State Machine Execution Input: '{input_problem(text)}'",
            ) from None
        started = self.now
        info = ExecutionInfo(
            execution_arn=arn,
            name=name,
            state_machine_arn=f"{self.prefix}:stateMachine:{machine_name}",
            state_machine_name=machine_name,
            start_time=started,
            input_text=text,
        )
        runner = LocalRunner(
            machine, self.integrations, started, self.rng, self.record_history, False, self
        )
        execution = runner.run(execution_input, info)
        self.now = started  # the caller's clock, which the child's run moved
        self.results[arn] = ExecutionResult(
            status=execution.status,
            output=execution.output,
            error=execution.error,
            cause=execution.cause,
            history=runner.history,
            execution_arn=arn,
            name=name,
            start_date=started,
            stop_date=runner.clock,
            input=execution_input,
            extra={"state_machine_arn": info.state_machine_arn, "input_text": text},
        )
        return {"executionArn": arn, "startDate": started}

    def start_sync_execution(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """In-process, every machine runs as a Standard one (inline, to its end)."""
        raise LocalServiceError(
            "StateMachineTypeNotSupported",
            "This operation is not supported by this type of state machine",
        )

    def describe_execution(self, request: Mapping[str, Any]) -> dict[str, Any]:
        arn = str(request["executionArn"])
        result = self.results.get(arn)
        if result is None:
            raise LocalServiceError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        self.now = max(self.now, result.stop_date)
        described: dict[str, Any] = {
            "executionArn": arn,
            "stateMachineArn": result.extra["state_machine_arn"],
            "name": result.name,
            "status": result.status,
            "startDate": result.start_date,
            "stopDate": result.stop_date,
            "input": result.extra["input_text"],
        }
        if result.status == "SUCCEEDED":
            described["output"] = json_text(result.output)
        described.update(
            {k: v for k, v in (("error", result.error), ("cause", result.cause)) if v is not None}
        )
        return described

    def send_task_success(self, request: Mapping[str, Any]) -> dict[str, Any]:
        runner, frame, seq = self._answer(request, done=True)
        runner.inbox.append(ev.TaskSucceeded(frame, seq, parse_sent_json(request["output"])))
        return {}

    def send_task_failure(self, request: Mapping[str, Any]) -> dict[str, Any]:
        runner, frame, seq = self._answer(request, done=True)
        error, cause = request.get("error", ""), request.get("cause", "")
        runner.inbox.append(ev.TaskFailed(frame, seq, error, cause))
        return {}

    def send_task_heartbeat(self, request: Mapping[str, Any]) -> dict[str, Any]:
        runner, frame, seq = self._answer(request, done=False)
        runner.inbox.append(ev.TaskHeartbeat(frame, seq))
        return {}

    def _answer(self, request: Mapping[str, Any], done: bool) -> tuple[LocalRunner, int, int]:
        token = str(request["taskToken"])
        waiting = self._waiting.pop(token, None) if done else self._waiting.get(token)
        if waiting is None:
            raise LocalServiceError("TaskDoesNotExist", "Task Does Not Exist")
        return waiting


def _run_on_virtual_time(
    runner: LocalRunner, services: Services, execution_input: JSON, info: ExecutionInfo
) -> ExecutionState:
    """Run, with services that have no clock of their own following the run's clock (TTLs,
    visibility timeouts and timestamps then agree with the virtual time of Wait states)."""
    if services.clock is not None:
        return runner.run(execution_input, info)
    services.clock = lambda: runner.clock.timestamp()
    try:
        return runner.run(execution_input, info)
    finally:
        services.clock = None


def _sleep_until(due: datetime) -> datetime:
    """Real time: an Express execution in a server really waits."""
    delay = (due - datetime.now(UTC)).total_seconds()
    if delay > 0:
        time.sleep(delay)
    return datetime.now(UTC)


def _input_text(value: JSON) -> str:
    """The input as sent, when sent as text (the history keeps it verbatim, I1)."""
    if isinstance(value, bytes):
        return value.decode()
    return value if isinstance(value, str) else "{}"


def _parse_input(value: JSON) -> JSON:
    if value is None:
        return {}
    if isinstance(value, str | bytes):
        return parse_sent_json(value)
    return value
