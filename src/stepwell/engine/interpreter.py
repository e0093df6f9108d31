"""The interpreter: ``start`` and ``step``, pure and deterministic.

``step(machine, execution, event, env)`` applies one event to an execution and returns
the history events it produced and the commands the runtime must carry out. It runs
every frame that can make progress until each one finishes or waits on an effect (a
task, a timer), so a chain of Pass and Choice states costs one step. Time and
randomness come only from ``env``.

The state handlers live in ``states.py`` (one function per state type, found through a
dispatch table); this module owns frames, transitions, failure propagation, Retry and
Catch, and the execution's end.
"""

from __future__ import annotations

from collections import ChainMap, deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from stepwell.engine import events as ev
from stepwell.engine.dataflow import (
    apply_result_path,
    check_payload_size,
    context_object,
    jsonata_states,
    jsonpath_output,
    locate,
)
from stepwell.engine.env import Env
from stepwell.engine.execution import REDRIVE_DONE, ExecutionInfo, ExecutionState, Frame
from stepwell.engine.history import (
    HISTORY_LIMIT_CAUSE,
    HistoryEvent,
    HistoryLimitReached,
    HistoryRecorder,
    to_json_text,
)
from stepwell.engine.recovery import first_match, retry_delay
from stepwell.language import errors as e
from stepwell.language.evaluation import JSON, EvalContext
from stepwell.language.model import Graph, State, StateMachine
from stepwell.language.verbatim import with_text

ROOT = 0
STEP_EVENT_BUDGET = 2_000  # history events (recorded or not) one step may add
# For evaluations that read neither the data's context nor variables (constant fields,
# a Catcher without Assign): not built per state.
NO_CONTEXT = EvalContext()


@dataclass(slots=True)
class StepResult:
    execution: ExecutionState
    events: list[HistoryEvent]
    commands: list[ev.Command]


def later(now: datetime, seconds: float) -> datetime:
    """``now`` plus ``seconds``; a wait past the last moment a datetime holds (year 9999)
    ends there, long after any execution's time limit."""
    try:
        return now + timedelta(seconds=seconds)
    except OverflowError:
        return datetime.max.replace(tzinfo=now.tzinfo)


class Interpreter:
    """The working memory of one step. Built, used and dropped by ``start``/``step``."""

    __slots__ = ("assigned", "commands", "env", "execution", "history", "machine", "ready")

    def __init__(
        self, machine: StateMachine, execution: ExecutionState, env: Env, record: bool
    ) -> None:
        self.machine = machine
        self.execution = execution
        self.env = env
        self.history = HistoryRecorder(execution, env.now, record)
        self.commands: list[ev.Command] = []
        self.ready: deque[Frame] = deque()
        # Variables the current state assigned, for its ...StateExited event.
        self.assigned: dict[str, JSON] | None = None

    # ----------------------------------------------------------------- running frames

    def drain(self) -> None:
        """Run ready frames until each waits or ends, within the step's budget of
        states; past it, stop with a ``Continue`` command (the runtime answers
        ``Resume``), so no step, however long the loop, holds a worker for long."""
        from stepwell.engine.states import run_state

        ready = self.ready
        execution = self.execution
        graphs = self.machine.graphs
        budget = execution.event_count + STEP_EVENT_BUDGET
        while ready and execution.status == "RUNNING":
            frame = ready.popleft()
            states = graphs[frame.graph].states
            while not frame.done and not frame.waiting and execution.status == "RUNNING":
                if execution.event_count >= budget:
                    self.commands.append(ev.Continue())
                    return
                run_state(self, frame, states[frame.state])

    def resume_all(self) -> None:
        """After ``Resume``: every frame that is neither waiting nor done is ready."""
        self.ready.extend(
            frame
            for _, frame in sorted(self.execution.frames.items())
            if not frame.done and not frame.waiting
        )

    def graph_of(self, frame: Frame) -> Graph:
        return self.machine.graphs[frame.graph]

    def new_frame(self, graph: Graph, state_input: JSON, parent: Frame | None, slot: int) -> Frame:
        execution = self.execution
        frame_id = execution.next_frame_id
        execution.next_frame_id += 1
        frame = Frame(
            id=frame_id,
            graph=graph.key,
            state=graph.start_at,
            input=state_input,
            parent=parent.id if parent is not None else None,
            slot=slot,
            last_event=parent.last_event if parent is not None else 0,
        )
        execution.frames[frame_id] = frame
        return frame

    def enter(self, frame: Frame, name: str, state_input: JSON) -> None:
        """Move a frame into a state: record ``<Type>StateEntered``."""
        state = self.graph_of(frame).states[name]
        frame.state = name
        frame.input = state_input
        frame.retry_counts = None
        frame.retry_total = 0
        frame.task_token = None
        frame.entered_time = self.env.now
        self.assigned = None
        if frame.parent is None and self.execution.extra:
            self.execution.extra.pop(REDRIVE_DONE, None)  # a new top-level state: stale
        frame.entered_previous = frame.last_event
        frame.entered_event = self.history.add(
            frame,
            _ENTERED[state.type],
            "stateEnteredEventDetails",
            self.history.payloads.named(name, "input", state_input)
            if self.history.enabled
            else None,
        )

    def leave(self, frame: Frame, state: State, output: JSON, next_state: str | None) -> None:
        """Record ``<Type>StateExited`` and go to ``next_state`` (or finish the frame)."""
        if self.history.enabled:
            details = self.history.payloads.named(state.name, "output", output)
            if self.assigned:  # J1: "Assign": {} writes no assignedVariables
                details["assignedVariables"] = assigned_texts(self.assigned)
                details["assignedVariablesDetails"] = {"truncated": False}
            self.history.add(frame, _EXITED[state.type], "stateExitedEventDetails", details)
        else:
            self.history.add(frame, _EXITED[state.type])
        self.assigned = None  # before a parent Map/Parallel finishes with this frame
        if next_state is None:
            self.finish_frame(frame, output)
        else:
            self.enter(frame, next_state, output)

    def transition(self, frame: Frame, state: State, output: JSON) -> None:
        self.leave(frame, state, output, None if state.transition.end else state.transition.next)

    # ----------------------------------------------------------------- evaluation

    def eval_context(self, frame: Frame, state: State) -> EvalContext:
        context = (
            context_object(self.execution, frame, state, self.env.now) if state.uses_context else {}
        )
        variables = self.visible_variables(frame)
        return EvalContext(context, variables, self.env.random, self.env.uuid4, self.env.now)

    def visible_variables(self, frame: Frame) -> Mapping[str, JSON]:
        """A frame sees its own variables, then those of the frames that started it."""
        if frame.parent is None:
            return frame.variables
        scopes = [frame.variables]
        parent = self.execution.frames.get(frame.parent)
        while parent is not None:
            scopes.append(parent.variables)
            parent = self.execution.frames.get(parent.parent) if parent.parent is not None else None
        return ChainMap(*scopes)

    def assign(self, frame: Frame, assign: Any, scope: JSON, ctx: EvalContext) -> None:
        """Evaluate an Assign block and store its variables (all at once).

        Every expression of a state reads the variables as they were on state entry
        (Developer Guide, "Passing data between states with variables", "Evaluation
        order"), so callers evaluate the state's output before they assign.
        """
        if assign is None:
            return
        values = assign.evaluate(scope, ctx)
        check_payload_size(values, frame.state, "assigned variables")
        frame.variables.update(values)
        self.assigned = values

    def finish_with_result(self, frame: Frame, state: State, result: JSON) -> None:
        """From a Task/Parallel/Map result to the state's output, then move on."""
        ctx = self.eval_context(frame, state)
        if state.is_jsonata:
            states = jsonata_states(frame.input, ctx, result, has_result=True)
            output = state.output.evaluate(states, ctx) if state.output is not None else result
            self.assign(frame, state.assign, states, ctx)
        else:
            # "$ refers to the API/sub-workflow result": Assign runs beside ResultSelector
            # on the raw result, not on ResultSelector's output ("Passing data between
            # states with variables", "Using variables in JSONPath states").
            output = jsonpath_output(state, frame.input, result, ctx, frame)
            self.assign(frame, state.assign, result, ctx)
        check_payload_size(output, state.name, texts=self.history.payloads)
        self.transition(frame, state, output)

    # ----------------------------------------------------------------- errors

    def state_failed(
        self, frame: Frame, state: State, error: e.StatesError, *, evaluated: bool = True
    ) -> None:
        """A state reported an error: Retry, else Catch, else the frame fails.

        ``evaluated`` is False for an error a task or a child frame reported, which is
        never the state's own ``EvaluationFailed``. A Parallel or Map state records
        ``…StateFailed`` only once no Retry applies (B2), also after its own
        ``EvaluationFailed`` (B3), but not for ``States.Runtime``, which ends the
        execution at once (B4).
        """
        error = _located(error, state, frame)
        if evaluated and state.is_jsonata and error.error == e.QUERY_EVALUATION_ERROR:
            self.evaluation_failed(frame, state, error)
        if self.try_retry(frame, state, error.error):
            return
        if state.type in _FANOUT_TYPES and error.error != e.RUNTIME:
            self.history.add(frame, f"{state.type}StateFailed")
        if self.try_catch(frame, state, error):
            return
        self.fail_frame(frame, error.error, error.cause)

    def evaluation_failed(self, frame: Frame, state: State, error: e.StatesError) -> None:
        """Record ``EvaluationFailed``: a JSONata expression failed in a field of the state
        (API Reference, "EvaluationFailedEventDetails"; recorded once per attempt).

        D6: the cause is the full one (prefix included, as in ``ExecutionFailed``);
        ``location`` only when a named field failed. A3: the event copies its
        ``…StateEntered``'s ``previousEventId``, except in a Wait state, where it points
        at ``WaitStateEntered``; later events chain on it.
        """
        details = {"error": error.error, "cause": error.cause}
        if error.location:
            details["location"] = error.location
        details["state"] = state.name
        previous = frame.last_event if state.type == "Wait" else frame.entered_previous
        self.history.add(
            frame, "EvaluationFailed", "evaluationFailedEventDetails", details, previous=previous
        )

    def try_retry(self, frame: Frame, state: State, error: str) -> bool:
        match = first_match(state.retriers, error)
        if match is None:
            return False
        index, retrier = match
        if frame.retry_counts is None:
            frame.retry_counts = [0] * len(state.retriers)
        attempt = frame.retry_counts[index]
        if attempt >= retrier.max_attempts:
            return False
        frame.retry_counts[index] = attempt + 1
        frame.retry_total += 1
        delay = retry_delay(retrier, attempt, self.env.random)
        if not self.wait_timer(frame, "retry", delay):
            self.ready.append(frame)  # no back-off: the state runs again in this step
        return True

    def try_catch(self, frame: Frame, state: State, error: e.StatesError) -> bool:
        """Catch: the catcher's output leaves the state through ``<Type>StateExited``,
        then its ``Next`` is entered (B1, C5)."""
        match = first_match(state.catchers, error.error)
        if match is None:
            return False
        catcher = match[1]
        error_output = error_output_of(error.error, error.cause)
        # A JSONPath Catcher without Assign evaluates nothing: no context made.
        needs_context = state.is_jsonata or catcher.assign is not None
        ctx = self.eval_context(frame, state) if needs_context else NO_CONTEXT
        self.assigned = None
        try:
            if state.is_jsonata:
                states = jsonata_states(frame.input, ctx)
                states["errorOutput"] = error_output
                output = (
                    catcher.output.evaluate(states, ctx)
                    if catcher.output is not None
                    else error_output
                )
                self.assign(frame, catcher.assign, states, ctx)
            else:
                output = apply_result_path(catcher.result_path, frame.input, error_output)
                self.assign(frame, catcher.assign, error_output, ctx)
        except e.StatesError as failure:
            failure = _located(failure, state, frame)
            if failure.error == e.QUERY_EVALUATION_ERROR and state.is_jsonata:
                self.evaluation_failed(frame, state, failure)
            self.fail_frame(frame, failure.error, failure.cause)
            return True
        self.leave(frame, state, output, catcher.next)
        return True

    def fail_frame(self, frame: Frame, error: str | None, cause: str | None) -> None:
        """The frame failed: its parent's Parallel/Map fails, or the execution does.

        ``States.Runtime`` "will always cause the execution to fail" ("Handling errors"):
        raised inside a branch it ends the execution at once, with no
        ``ParallelStateFailed``/``MapIterationFailed`` (measured on AWS; floci-io/floci
        issue #2868 shows ``PassStateEntered`` followed directly by ``ExecutionFailed``).
        """
        frame.done = True
        frame.waiting = ""
        if frame.parent is None or error == e.RUNTIME:
            self.end_execution("FAILED", error=error, cause=cause, last=frame)
            return
        from stepwell.engine.fanout import child_failed

        child_failed(self, frame, error, cause)

    def finish_frame(self, frame: Frame, output: JSON) -> None:
        frame.done = True
        if frame.parent is None:
            self.end_execution("SUCCEEDED", output=output)
            return
        from stepwell.engine.fanout import child_succeeded

        child_succeeded(self, frame, output)

    # ----------------------------------------------------------------- waiting

    def wait_timer(self, frame: Frame, kind: ev.TimerKind, seconds: float) -> bool:
        """Leave the frame waiting for a timer ``seconds`` from now; True if it waits.

        A timer due already (a Wait of 0 s, a Timestamp in the past, a Retry without
        back-off) fires at once, in this step, as the timer's report would (``seq``
        moves on): no ``StartTimer``, no round trip through the store, and the caller
        goes on as after a Pass. The step is still one commit, so this is as durable.
        """
        if seconds <= 0:
            frame.seq += 1
            return False
        frame.waiting = "retry" if kind == "retry" else "timer"
        due = later(self.env.now, seconds)
        self.commands.append(ev.StartTimer(frame.id, frame.seq, kind, due))
        return True

    def resume(self, frame: Frame) -> None:
        frame.waiting = ""
        frame.seq += 1
        self.ready.append(frame)

    # ----------------------------------------------------------------- the end

    def history_full(self) -> None:
        """The next event would have been number 25,000: fail instead (``history.py``)."""
        self.commands.clear()
        self.end_execution("FAILED", error=e.RUNTIME, cause=HISTORY_LIMIT_CAUSE)

    def end_execution(
        self,
        status: Any,
        output: JSON = None,
        error: str | None = None,
        cause: str | None = None,
        last: Frame | None = None,
    ) -> None:
        """Record the execution's end; its previousEventId is the latest event of ``last``
        (the frame that ended it) or else of the machine's own frame, and 0 for an end
        that comes from outside the execution's threads (A4: StopExecution; the
        execution's TimeoutSeconds likewise). A missing error or cause is omitted, not
        written as "" (D7, C6)."""
        execution = self.execution
        execution.status = status
        execution.output = output
        execution.error = error or None
        execution.cause = cause or None
        root = last if last is not None else execution.frames.get(ROOT)
        if status in _OUTSIDE_ENDS:
            root = None  # an event of the execution itself, outside its threads
        if status == "SUCCEEDED":
            self.history.add(
                root,
                "ExecutionSucceeded",
                "executionSucceededEventDetails",
                self.history.payloads.details("output", output) if self.history.enabled else None,
            )
        else:
            details = failure_details(error, cause)
            event_type, key = _END_EVENTS[status]
            self.history.add(root, event_type, key, details)
        execution.frames.clear()


def _located(error: e.StatesError, state: State, frame: Frame) -> e.StatesError:
    """``locate`` (the cause's state-and-event prefix), keeping the failed field."""
    located = locate(error, state, frame)
    if located is error or not error.location:
        return located
    return e.StatesError(located.error, located.cause, error.location)


def failure_details(error: str | None, cause: str | None) -> dict[str, Any]:
    """``error`` and ``cause`` of a ``…Failed``/``…TimedOut`` event, each omitted when
    missing: a Fail state without Error, SendTaskFailure without fields, a timeout's cause
    (D7, C6). The engine carries a missing error or cause as "" (``StatesError``'s
    default)."""
    details: dict[str, Any] = {}
    if error:
        details["error"] = error
    if cause:
        details["cause"] = cause
    return details


def error_output_of(error: str | None, cause: str | None) -> dict[str, JSON]:
    """What a Catch (or a tolerated Map failure) gets: ``{"Error", "Cause"}``, with
    ``null`` for a missing one (D7)."""
    return {"Error": error or None, "Cause": cause or None}


def assigned_texts(values: Mapping[str, JSON]) -> dict[str, str]:
    """``assignedVariables``: each variable's value as JSON text (API Reference,
    "StateExitedEventDetails": "Map of variable name and value as a serialized JSON
    representation")."""
    return {name: to_json_text(value) for name, value in values.items()}


_FANOUT_TYPES = frozenset(("Parallel", "Map"))
_OUTSIDE_ENDS = frozenset(("ABORTED", "TIMED_OUT"))
_END_EVENTS = {
    "FAILED": ("ExecutionFailed", "executionFailedEventDetails"),
    "TIMED_OUT": ("ExecutionTimedOut", "executionTimedOutEventDetails"),
    "ABORTED": ("ExecutionAborted", "executionAbortedEventDetails"),
}

_ENTERED = {
    t: f"{t}StateEntered"
    for t in ("Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
}
_EXITED = {
    t: f"{t}StateExited" for t in ("Pass", "Task", "Choice", "Wait", "Succeed", "Parallel", "Map")
}


# --------------------------------------------------------------------- public API


def start(
    machine: StateMachine,
    execution_input: JSON,
    env: Env,
    info: ExecutionInfo | None = None,
    record_history: bool = True,
) -> StepResult:
    """Begin an execution: record ExecutionStarted and run until the first wait."""
    info = info or ExecutionInfo()
    if info.start_time is None:
        info.start_time = env.now
    execution_input = with_text(execution_input, info.input_text)  # I1: kept as sent
    execution = ExecutionState(info=info, frames={}, input=execution_input)
    interp = Interpreter(machine, execution, env, record_history)
    if interp.history.enabled:  # the text is kept for the first state's input
        started = interp.history.payloads.details("input", execution_input)
        started["roleArn"] = info.role_arn
    else:
        started = None
    interp.history.add(None, "ExecutionStarted", "executionStartedEventDetails", started)
    root = Frame(
        id=ROOT,
        graph=machine.root.key,
        state=machine.root.start_at,
        input=execution_input,
        last_event=0,  # A1: nothing points at ExecutionStarted
    )
    execution.frames[ROOT] = root
    if machine.timeout_seconds is not None:
        due = env.now + timedelta(seconds=machine.timeout_seconds)
        interp.commands.append(ev.StartTimer(ROOT, -1, "execution_timeout", due))
    try:
        interp.enter(root, machine.root.start_at, execution_input)
        interp.ready.append(root)
        interp.drain()
    except HistoryLimitReached:
        interp.history_full()
    return StepResult(execution, interp.history.events, interp.commands)


def step(
    machine: StateMachine,
    execution: ExecutionState,
    event: ev.Event,
    env: Env,
    record_history: bool = True,
) -> StepResult:
    """Apply one event; see the module docstring."""
    interp = Interpreter(machine, execution, env, record_history)
    if not execution.finished:
        from stepwell.engine.states import deliver

        try:
            deliver(interp, event)
            interp.drain()
        except HistoryLimitReached:
            interp.history_full()
    return StepResult(execution, interp.history.events, interp.commands)
