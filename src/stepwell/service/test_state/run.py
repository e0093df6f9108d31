"""TestState's engine: run one state on the real interpreter and read off what it did.

Design decision: the state runs on the interpreter, not a re-implementation. It runs in
a small machine of its own (``machine.py``) in which every state it can go to is a stub.
The interpreter state starts with the tested state already entered and waiting on an
immediate retry timer (the test's ``variables``, ``retrierRetryCount`` and context go
straight into it), so one delivery runs the state from the top. The run then says
everything: a stub entered means a transition (``SUCCEEDED`` with ``nextState``, or
``CAUGHT_ERROR`` when a Catcher took it), a retry timer means ``RETRIABLE``, the end of
the machine ``SUCCEEDED`` or ``FAILED``. Tasks call the real integration unless ``mock``
gives the result or the error; Wait states do not really wait (the test's clock jumps).
The same engine serves the API, the CLI and ``stepwell.test_state``.
"""

from __future__ import annotations

import os
import random
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from stepwell.engine import events as ev
from stepwell.engine.dataflow import (
    FIXED_CONTEXT,
    jsonata_states,
    jsonpath_input,
    jsonpath_output,
    locate,
)
from stepwell.engine.env import Env
from stepwell.engine.execution import ExecutionInfo, ExecutionState, Frame
from stepwell.engine.history import HistoryEvent
from stepwell.engine.interpreter import step
from stepwell.engine.recovery import first_match
from stepwell.integrations.functions import Outcome as TaskOutcome
from stepwell.integrations.registry import Integrations, Invocation
from stepwell.language import errors as e
from stepwell.language.evaluation import JSON, EvalContext
from stepwell.language.model import Retrier
from stepwell.language.resource_arns import integration_target
from stepwell.runtime.clock import Clock, to_datetime
from stepwell.service import errors as err
from stepwell.service.arns import Arns
from stepwell.service.core import Request, Response, present
from stepwell.service.test_state.context import default_context
from stepwell.service.test_state.fanout import EXCEEDED, read_map, threshold_exceeded
from stepwell.service.test_state.http_trace import trace
from stepwell.service.test_state.request import StateTest, read_request

MAX_STEPS = 1_000  # steps one test may take


@dataclass(slots=True)
class Outcome:
    """How the tested state ended, read off the run."""

    status: str
    output: JSON = None
    has_output: bool = False
    next_state: str | None = None
    error: str | None = None
    cause: str | None = None
    variables: dict[str, JSON] = field(default_factory=dict)
    error_details: dict[str, int] | None = None


@dataclass(slots=True)
class StateTester:
    """Runs TestState requests: the region and account of the ARNs it makes up, the
    clock, and the integrations an unmocked Task calls."""

    arns: Arns
    clock: Clock
    integrations: Integrations

    def test_state(self, request: Request) -> Response:
        from stepwell.service.test_state.inspection import inspection_data

        test = read_request(request)
        run = TestRun(self, test)
        outcome = run.run()
        response = present(
            status=outcome.status,
            nextState=outcome.next_state,
            error=outcome.error,
            cause=outcome.cause,
        )
        if outcome.has_output:
            response["output"] = test.texts.text(outcome.output)
        if test.level in ("DEBUG", "TRACE"):
            response["inspectionData"] = inspection_data(run, outcome)
        return response


class TestRun:
    """One TestState run: the interpreter driven until the tested state is done."""

    __test__ = False  # not a pytest test class

    def __init__(self, tester: StateTester, test: StateTest) -> None:
        self.tester = tester
        self.test = test
        self.state = test.original
        self.now = to_datetime(tester.clock.now())
        self.rng = random.Random(os.urandom(16))
        self.events: list[HistoryEvent] = []
        self.retrying = False
        self.task_output: tuple[JSON] | None = None  # an unmocked task's answer
        self.http: dict[str, Any] = {}  # an unmocked HTTP Task's exchange (TRACE)
        self.context = self._context()
        self.map = read_map(self.state, test, self.eval_context(), self.frame())

    def _context(self) -> dict[str, JSON]:
        if self.test.context is not None:
            return self.test.context
        names = (str(self._uuid()), str(self._uuid()))
        token = (
            f"{self.rng.getrandbits(512):0128x}"
            if str(getattr(self.state, "resource", "")).endswith(".waitForTaskToken")
            else None
        )
        return default_context(
            self.tester.arns,
            names,
            self.test.role_arn,
            self.test.input,
            self.now,
            self.test.type,
            self.test.retries,
            token,
        )

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def eval_context(self) -> EvalContext:
        return EvalContext(
            dict(self.context),
            dict(self.test.variables),
            self.rng.random,
            lambda: str(self._uuid()),
            self.now,
        )

    def run(self) -> Outcome:
        if self.map.failure is not None and self.map.failure.error == e.RUNTIME:
            failure = self.map.failure
            return Outcome("FAILED", error=failure.error, cause=failure.cause)
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
            if self.retrying or self._left(execution):
                break
        return self._outcome(execution)

    # ----------------------------------------------------------------- set-up

    def _initial_execution(self) -> ExecutionState:
        info = ExecutionInfo(
            execution_arn=self.tester.arns.execution("StateMachine", "TestState"),
            name="TestState",
            state_machine_arn=self.tester.arns.state_machine("StateMachine"),
            state_machine_name="StateMachine",
            role_arn=self.test.role_arn or "",
            region=self.tester.arns.region,
            start_time=self.now,
            input_text=self.test.input_text,
        )
        return ExecutionState(
            info=info,
            frames={0: self.frame()},
            input=self.test.input,
            event_count=2,
            extra={FIXED_CONTEXT: self.context},
        )

    def frame(self) -> Frame:
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
        elif not isinstance(command, ev.StartTimer):
            return  # a Map Run: TestState tests a distributed Map only with a mock
        elif command.kind == "retry":
            self.retrying = True
        elif command.kind == "wait" and not self._left(execution):
            self.now = max(self.now, command.due)  # no real waiting: the clock jumps
            pending.append(ev.TimerFired(command.frame, command.seq, "wait"))
        # Task timeouts and heartbeats cannot fire: every task here answers at once.

    def _invoke(self, command: ev.InvokeTask, execution: ExecutionState) -> ev.Event:
        test = self.test
        if test.mock is not None and "errorOutput" in test.mock:
            # A missing error or cause stays missing: omitted from the answer, null in a
            # Catcher's error output (aws-behaviour D7).
            mocked: dict[str, Any] = test.mock["errorOutput"] or {}
            error: Any = mocked.get("error")
            cause: Any = mocked.get("cause")
            return ev.TaskFailed(command.frame, command.seq, error, cause)
        if self.map.failure is not None:  # a JSONata Items or a limit failed: Retry, Catch
            failure = locate(self.map.failure, self.state, self.frame())
            return ev.TaskFailed(command.frame, command.seq, failure.error, failure.cause)
        if test.mock_result is not None:
            if self._exceeded():
                return ev.TaskFailed(command.frame, command.seq, EXCEEDED.error, EXCEEDED.cause)
            return ev.TaskSucceeded(command.frame, command.seq, test.mock_result[0])
        outcome = self._call(
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
        self.task_output = (outcome.output,)
        return ev.TaskSucceeded(command.frame, command.seq, outcome.output)

    def _call(self, invocation: Invocation) -> TaskOutcome | None:
        """The integration's answer; an HTTP Task's exchange is kept for TRACE (unless it
        is forwarded to AWS, which answers with the outcome only)."""
        integrations = self.tester.integrations
        forwarder = integrations.forwarder
        if integration_target(invocation.resource) != "http:invoke" or (
            forwarder is not None and forwarder.config.forwards("http", True)
        ):
            return integrations.invoke(invocation)
        outcome, response = integrations.http.exchange(invocation.payload)
        self.http = trace(integrations.http, invocation.payload, response)
        return outcome

    def _exceeded(self) -> bool:
        result = self.test.mock_result
        total = len(result[0]) if result is not None and isinstance(result[0], list) else 0
        return threshold_exceeded(self.map, self.test.failure_count, total)

    def _left(self, execution: ExecutionState) -> bool:
        """Whether the run has moved on to a stub (the state under test is done)."""
        frame = execution.frames.get(0)
        return frame is not None and frame.state != self.test.name

    # ----------------------------------------------------------------- the outcome

    def _outcome(self, execution: ExecutionState) -> Outcome:
        outcome = Outcome(status="SUCCEEDED", variables=self._variables(execution))
        if self.retrying:
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
            self._retries_ran_out(outcome)
            return outcome
        frame = execution.frames[0]
        if frame.state == self.test.name:
            raise err.ValidationException("The state did not finish within the TestState limits")
        outcome.output, outcome.has_output, outcome.next_state = frame.input, True, frame.state
        if self.failure()[0] is not None or not self._exited():
            self._caught(outcome)
        return outcome

    def _retriable(self, outcome: Outcome) -> Outcome:
        outcome.status = "RETRIABLE"
        outcome.error, outcome.cause = self.failure()
        match = first_match(self.state.retriers, outcome.error or "")
        index, retrier = match if match else (0, Retrier(("States.ALL",)))
        outcome.error_details = {
            "retryIndex": index,
            "retryBackoffIntervalSeconds": backoff_seconds(retrier, self.test.retries),
        }
        return outcome

    def _retries_ran_out(self, outcome: Outcome) -> None:
        """M6: a retrier matched but its attempts are used up."""
        match = first_match(self.state.retriers, outcome.error or "")
        if match is not None:
            outcome.error_details = {"retryIndex": match[0]}

    def _caught(self, outcome: Outcome) -> None:
        outcome.status = "CAUGHT_ERROR"
        outcome.error, outcome.cause = self.failure()
        match = first_match(self.state.catchers, outcome.error or "")
        outcome.error_details = {"catchIndex": match[0] if match else 0}

    def _exited(self) -> bool:
        return any(event["type"].endswith("StateExited") for event in self.events)

    def failure(self) -> tuple[str | None, str | None]:
        """The error the state failed with: from its failure event (TaskFailed,
        LambdaFunctionFailed, EvaluationFailed …), else from replaying its input
        processing and, for JSONPath, its output processing on the task's result
        (an error there, such as ``States.ResultPathMatchFailure``, records no event)."""
        for event in reversed(self.events):
            for key, details in event.items():
                if key.endswith("EventDetails") and "error" in (details or ()):
                    return details.get("error"), details.get("cause")
        frame, state, ctx = self.frame(), self.state, self.eval_context()
        try:
            if state.is_jsonata:
                if state.arguments is not None:
                    state.arguments.evaluate(jsonata_states(self.test.input, ctx), ctx)
            else:
                jsonpath_input(state, self.test.input, ctx, frame)
                result = self.test.mock_result or self.task_output
                if result is not None:
                    jsonpath_output(state, self.test.input, result[0], ctx, frame)
        except e.StatesError as error:
            located = locate(error, state, frame)
            return located.error, located.cause
        return None, None

    def _variables(self, execution: ExecutionState) -> dict[str, JSON]:
        frame = execution.frames.get(0)
        if frame is not None:
            return dict(frame.variables)
        variables = dict(self.test.variables)
        for event in self.events:
            exited = event.get("stateExitedEventDetails") or {}
            for name, text in exited.get("assignedVariables", {}).items():
                variables[name] = self.test.texts.parse(text)
        return variables


def backoff_seconds(retrier: Retrier, count: int) -> int:
    """M6: ``IntervalSeconds * BackoffRate ** retrierRetryCount``, at most MaxDelaySeconds."""
    delay = retrier.interval_seconds * retrier.backoff_rate**count
    if retrier.max_delay_seconds is not None:
        delay = min(delay, retrier.max_delay_seconds)
    return int(delay)
