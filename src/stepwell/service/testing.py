"""TestState: run one state in isolation and report what it did (API Reference,
TestState; Developer Guide, "Using TestState API to test a state").

Design decision: the state runs on the real interpreter, not a re-implementation. It is
compiled into a small machine of its own (``state_under_test.py``) in which every state it
can go to is a stub that stops the run on entry. The interpreter state starts with the tested state
already entered and waiting on an immediate retry timer (the test's ``variables``, the
``retrierRetryCount`` and the ``context`` go straight into it), so one delivery runs the
state from the top. The run then says everything: a stub entered means a transition
(``SUCCEEDED`` with ``nextState``, or ``CAUGHT_ERROR`` when a Catcher took it), a retry
timer means ``RETRIABLE``, the end of the machine means ``SUCCEEDED`` or ``FAILED``.
Task states call the real integration unless ``mock`` gives the result or the error;
Wait states do not really wait (the test's clock jumps).

``inspectionData`` (DEBUG and TRACE) replays the state's input and output processing on
its compiled fields: InputPath, Parameters, the result, ResultSelector, ResultPath (or
Arguments in JSONata), and the variables after the state.
"""

from __future__ import annotations

import os
import random
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from stepwell.engine import events as ev
from stepwell.engine.dataflow import apply_result_path, context_object, jsonata_states, select_path
from stepwell.engine.env import Env
from stepwell.engine.execution import ExecutionInfo, ExecutionState, Frame
from stepwell.engine.history import HistoryEvent, to_json_text
from stepwell.engine.interpreter import step
from stepwell.engine.recovery import first_match
from stepwell.integrations.registry import Invocation
from stepwell.language import errors as e
from stepwell.language.evaluation import JSON, EvalContext
from stepwell.language.model import JSONATA, JSONPATH, PassState, State
from stepwell.language.timestamps import parse_timestamp
from stepwell.runtime.clock import to_datetime
from stepwell.service import errors as err
from stepwell.service.core import Request, Response, ServiceCore, present
from stepwell.service.state_under_test import TESTED, StateTest, json_value, read_request

MAX_STEPS = 1_000  # steps one test may take


@dataclass(slots=True)
class _Outcome:
    """How the tested state ended, read off the run."""

    status: str
    output: JSON = None
    has_output: bool = False
    next_state: str | None = None
    error: str | None = None
    cause: str | None = None
    variables: dict[str, JSON] = field(default_factory=dict)
    error_details: dict[str, int] | None = None
    result: JSON = None
    has_result: bool = False


class TestingOperations(ServiceCore):
    def test_state(self, request: Request) -> Response:
        test = read_request(request)
        run = _TestRun(self, test)
        outcome = run.run()
        response = present(
            status=outcome.status,
            nextState=outcome.next_state,
            error=outcome.error,
            cause=outcome.cause,
        )
        if outcome.has_output:
            response["output"] = to_json_text(outcome.output)
        if test.level in ("DEBUG", "TRACE"):
            response["inspectionData"] = run.inspection(outcome)
        return response


class _TestRun:
    """One TestState run: the interpreter driven until the tested state is done."""

    def __init__(self, service: ServiceCore, test: StateTest) -> None:
        self.service = service
        self.test = test
        self.state = test.machine.root.states[test.name]
        self.now = to_datetime(service.clock.now())
        self.rng = random.Random(os.urandom(16))
        self.events: list[HistoryEvent] = []
        self.result: tuple[JSON] | None = None  # the task's raw result, when it had one
        self.retry: tuple[datetime, datetime] | None = None  # (now, due) of a retry

    def run(self) -> _Outcome:
        execution = self._initial_execution()
        pending: deque[ev.Event] = deque([ev.TimerFired(0, 0, "retry")])
        for _ in range(MAX_STEPS):
            if not pending:
                break
            result = step(self.test.machine, execution, pending.popleft(), Env(self.now, self.rng))
            execution = result.execution
            self.events.extend(result.events)
            for command in result.commands:
                self._carry_out(command, execution, pending)
            if self.retry is not None or self._left(execution):
                break
        return self._outcome(execution)

    # ----------------------------------------------------------------- set-up

    def _initial_execution(self) -> ExecutionState:
        context = self.test.context
        execution_context = context.get("Execution") or {}
        machine_context = context.get("StateMachine") or {}
        arns = self.service.arns
        name = str(execution_context.get("Name") or uuid.UUID(int=self.rng.getrandbits(128)))
        started = execution_context.get("StartTime")
        info = ExecutionInfo(
            execution_arn=str(execution_context.get("Id") or arns.execution(TESTED, name)),
            name=name,
            state_machine_arn=str(machine_context.get("Id") or arns.state_machine(TESTED)),
            state_machine_name=str(machine_context.get("Name") or TESTED),
            role_arn=str(execution_context.get("RoleArn") or ""),
            region=arns.region,
            start_time=(parse_timestamp(started) if isinstance(started, str) else None) or self.now,
            input_text=to_json_text(self.test.input),
            redrive_count=int(execution_context.get("RedriveCount") or 0),
        )
        return ExecutionState(
            info=info,
            frames={0: self._frame()},
            input=execution_context.get("Input", self.test.input),
            event_count=2,
        )

    def _frame(self) -> Frame:
        """The tested state, entered (as event 2) and about to run."""
        retries = self.test.retries
        return Frame(
            id=0,
            graph=self.test.machine.root.key,
            state=self.test.name,
            input=self.test.input,
            entered_event=2,
            last_event=2,
            waiting="retry",
            retry_counts=[retries] * len(self.state.retriers) if retries else None,
            retry_total=retries,
            entered_time=self.now,
            variables=dict(self.test.variables),
        )

    # ----------------------------------------------------------------- driving

    def _carry_out(
        self, command: ev.Command, execution: ExecutionState, pending: deque[ev.Event]
    ) -> None:
        if isinstance(command, ev.InvokeTask):
            pending.append(self._invoke(command, execution))
        elif isinstance(command, ev.Continue):
            pending.append(ev.Resume())
        elif isinstance(command, ev.StartMapRun):
            return  # TestState does not run a Distributed Map's children
        elif command.kind == "retry":
            self.retry = (self.now, command.due)
        elif command.kind == "wait" and not self._left(execution):
            self.now = max(self.now, command.due)  # no real waiting: the clock jumps
            pending.append(ev.TimerFired(command.frame, command.seq, "wait"))
        # Task timeouts and heartbeats cannot fire: every task here answers at once.

    def _invoke(self, command: ev.InvokeTask, execution: ExecutionState) -> ev.Event:
        mock = self.test.mock
        if mock is not None and "errorOutput" in mock:
            failure = mock["errorOutput"] or {}
            return ev.TaskFailed(
                command.frame, command.seq, failure.get("error", ""), failure.get("cause", "")
            )
        if mock is not None:
            value = json_value(mock["result"], "mock result")
            self.result = (value,)
            return ev.TaskSucceeded(command.frame, command.seq, value)
        outcome = self.service.integrations.invoke(
            Invocation(
                resource=command.resource,
                payload=command.input,
                execution_arn=execution.info.execution_arn,
                state_name=command.state_name,
                task_token=command.task_token,
                request_id=str(uuid.uuid4()),
                timeout_seconds=command.timeout_seconds,
            )
        )
        if outcome is None:
            raise err.ValidationException(
                f"The resource '{command.resource}' waits for a callback; specify a mock"
            )
        if not outcome.ok:
            return ev.TaskFailed(command.frame, command.seq, outcome.error or "", outcome.cause)
        self.result = (outcome.output,)
        return ev.TaskSucceeded(command.frame, command.seq, outcome.output)

    def _left(self, execution: ExecutionState) -> bool:
        """Whether the run has moved on to a stub (the state under test is done)."""
        frame = execution.frames.get(0)
        return frame is not None and frame.state != self.test.name

    # ----------------------------------------------------------------- the outcome

    def _outcome(self, execution: ExecutionState) -> _Outcome:
        outcome = _Outcome(status="SUCCEEDED", variables=self._variables(execution))
        if self.result is not None:
            outcome.result, outcome.has_result = self.result[0], True
        if self.retry is not None:
            return self._retriable(outcome)
        if execution.status == "SUCCEEDED":
            outcome.output, outcome.has_output = execution.output, True
            return outcome
        if execution.finished:
            outcome.status, outcome.error, outcome.cause = (
                "FAILED",
                execution.error,
                execution.cause,
            )
            return outcome
        frame = execution.frames[0]
        if frame.state == self.test.name:
            raise err.ValidationException("The state did not finish within the TestState limits")
        outcome.output, outcome.has_output, outcome.next_state = frame.input, True, frame.state
        if not self._exited():
            self._caught(outcome)
        return outcome

    def _retriable(self, outcome: _Outcome) -> _Outcome:
        assert self.retry is not None
        outcome.status = "RETRIABLE"
        outcome.error, outcome.cause = self._failure()
        match = first_match(self.state.retriers, outcome.error or "")
        now, due = self.retry
        outcome.error_details = {
            "retryIndex": match[0] if match else 0,
            "retryBackoffIntervalSeconds": round((due - now).total_seconds()),
        }
        return outcome

    def _caught(self, outcome: _Outcome) -> None:
        outcome.status = "CAUGHT_ERROR"
        outcome.error, outcome.cause = self._failure()
        match = first_match(self.state.catchers, outcome.error or "")
        outcome.error_details = {"catchIndex": match[0] if match else 0}

    def _exited(self) -> bool:
        exited = f"{self.state.type}StateExited"
        return any(event["type"] == exited for event in self.events)

    def _failure(self) -> tuple[str | None, str | None]:
        """The error the state failed with: from its failure event (TaskFailed,
        LambdaFunctionFailed, EvaluationFailed …), else from replaying its input."""
        for event in reversed(self.events):
            for key, details in event.items():
                if key.endswith("EventDetails") and "error" in (details or ()):
                    return details.get("error"), details.get("cause")
        replay = _Inspection(self, self._frame())
        replay.data()
        if replay.error is not None:
            return replay.error.error, replay.error.cause
        return None, None

    def _variables(self, execution: ExecutionState) -> dict[str, JSON]:
        frame = execution.frames.get(0)
        if frame is not None:
            return dict(frame.variables)
        variables = dict(self.test.variables)
        for event in self.events:
            exited = event.get("stateExitedEventDetails") or {}
            for name, text in exited.get("assignedVariables", {}).items():
                variables[name] = orjson.loads(text)
        return variables

    def inspection(self, outcome: _Outcome) -> dict[str, Any]:
        data = _Inspection(self, self._frame()).data(outcome)
        data["variables"] = to_json_text(outcome.variables)
        if outcome.error_details is not None:
            data["errorDetails"] = outcome.error_details
        return data


class _Inspection:
    """The state's input and output processing, step by step, as inspectionData."""

    def __init__(self, run: _TestRun, frame: Frame) -> None:
        self.run = run
        self.state: State = run.state
        self.frame = frame
        self.error: e.StatesError | None = None
        execution = run._initial_execution()
        self.ctx = EvalContext(
            context_object(execution, frame, self.state, run.now),
            frame.variables,
            run.rng.random,
            lambda: str(uuid.UUID(int=run.rng.getrandbits(128), version=4)),
        )

    def data(self, outcome: _Outcome | None = None) -> dict[str, Any]:
        found: dict[str, Any] = {"input": to_json_text(self.frame.input)}
        try:
            if self.state.query_language == JSONATA:
                self._jsonata(found, outcome)
            else:
                self._jsonpath(found, outcome)
        except e.StatesError as error:
            self.error = error
        return found

    def _jsonpath(self, found: dict[str, Any], outcome: _Outcome | None) -> None:
        state, raw, ctx = self.state, self.frame.input, self.ctx
        effective = select_path(state.input_path, raw, ctx, state, self.frame)
        found["afterInputPath"] = to_json_text(effective)
        if state.parameters is not None:
            effective = state.parameters.evaluate(effective, ctx)
        found["afterParameters"] = to_json_text(effective)
        result = self._result(outcome, effective)
        if result is None:
            return
        found["result"] = to_json_text(result[0])
        selected = result[0]
        if state.result_selector is not None:
            selected = state.result_selector.evaluate(selected, ctx)
        found["afterResultSelector"] = to_json_text(selected)
        found["afterResultPath"] = to_json_text(apply_result_path(state.result_path, raw, selected))

    def _jsonata(self, found: dict[str, Any], outcome: _Outcome | None) -> None:
        state = self.state
        if state.arguments is not None:
            scope = jsonata_states(self.frame.input, self.ctx)
            found["afterArguments"] = to_json_text(state.arguments.evaluate(scope, self.ctx))
        result = self._result(outcome, None)
        if result is not None:
            found["result"] = to_json_text(result[0])

    def _result(self, outcome: _Outcome | None, effective: JSON) -> tuple[JSON] | None:
        """The state's raw result: a task's answer, or a Pass state's Result (or its
        effective input)."""
        if outcome is not None and outcome.has_result:
            return (outcome.result,)
        if isinstance(self.state, PassState) and self.state.query_language == JSONPATH:
            return (self.state.result if self.state.has_result else effective,)
        return None
