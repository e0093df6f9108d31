"""RedriveExecution: restart a failed, timed-out or aborted Standard execution from the
state where it stopped, keeping its ARN, input and history (API Reference,
RedriveExecution; Developer Guide, "Redriving executions").

Design decision: a finished execution keeps no interpreter state, so the state to resume
from is rebuilt from its history: the last top-level state it entered, that state's
input, and the variables the top-level states assigned. The rebuilt state has that state
re-entered and waiting on an immediate retry timer, so the interpreter runs it afresh
(retry counts reset) exactly as it runs a Retry. The service appends
``ExecutionRedriven`` and the state's ``...StateEntered`` event and reopens the
execution in one store transaction (``Store.redrive_execution``), which also drops the
previous attempt's leftover timers.

A Parallel or inline Map state reruns only its failed or aborted branches and iterations
(``redrive_keeps``); a Distributed Map state redrives its Map Run, which reruns only its
unsuccessful children (Developer Guide, "Redriving Map Runs").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import orjson

from stepwell.engine import events as ev
from stepwell.engine.distributed import REDRIVE_MAP_RUN
from stepwell.engine.execution import ExecutionState, Frame
from stepwell.engine.history import HISTORY_LIMIT, payload_details
from stepwell.engine.serialize import dump_execution
from stepwell.language.model import StateMachine
from stepwell.language.verbatim import with_text
from stepwell.runtime.clock import to_datetime
from stepwell.runtime.codec import encode_event
from stepwell.runtime.map_runs import is_map_run, request_of
from stepwell.runtime.status_events import status_notices
from stepwell.runtime.worker import execution_info
from stepwell.service import errors as err
from stepwell.service.core import Request, Response, ServiceCore
from stepwell.store.base import ExecutionRecord, StateMachineRecord, WorkItem

REDRIVABLE_DAYS = 14  # "the redrivable period of 14 days"
MAX_OPEN_DAYS = 365  # "the maximum open time of one year"
MAX_REDRIVES = 1000  # Developer Guide, "Step Functions service quotas": redrives per execution
CLIENT_TOKENS = "redrive-tokens"  # document namespace: execution ARN -> recent client tokens
TOKENS_KEPT = 10  # "idempotent responses for the last 10 client tokens ..."
TOKEN_SECONDS = 15 * 60  # "... valid for up to 15 minutes after they are first used"
_DAY = 86_400.0
_REDRIVEN_FROM = ("FAILED", "TIMED_OUT", "ABORTED")


def redrive_status(record: ExecutionRecord, now: float) -> tuple[str, str | None]:
    """DescribeExecution's ``redriveStatus`` and ``redriveStatusReason``; the reasons are
    AWS's (API Reference, DescribeExecution, redriveStatusReason)."""
    reason = _not_redrivable(record, now)
    return ("NOT_REDRIVABLE", reason) if reason else ("REDRIVABLE", None)


def _not_redrivable(record: ExecutionRecord, now: float) -> str | None:
    if record.status not in _REDRIVEN_FROM:
        return f"Execution is {record.status} and cannot be redriven"  # K6: no period
    if now - record.start_date > MAX_OPEN_DAYS * _DAY:
        return "Execution has exceeded the max execution time."
    if record.stop_date is not None and now - record.stop_date > REDRIVABLE_DAYS * _DAY:
        return "Execution redrivable period exceeded."
    if record.redrive_count >= MAX_REDRIVES:
        return f"Execution has been redriven the maximum number of times ({MAX_REDRIVES})."
    return None


@dataclass(frozen=True, slots=True)
class RedrivePlan:
    """What reopening an execution writes: its interpreter state, events and work."""

    state: bytes
    events: tuple[dict[str, Any], ...]
    items: tuple[WorkItem, ...]


class RedriveOperations(ServiceCore):
    def redrive_execution(self, request: Request) -> Response:
        record = self._execution(request["executionArn"])
        token = request.get("clientToken")
        now = self.clock.now()
        earlier = self._redrive_for_token(record.arn, token, now)
        if earlier is not None:
            return {"redriveDate": to_datetime(earlier)}
        reason = _not_redrivable(record, now)
        history = self.store.history(record.arn)
        if reason is None and len(history) >= HISTORY_LIMIT - 1:
            reason = "Execution history event limit exceeded."
        machine_record = self.store.get_state_machine(
            record.version_arn or record.state_machine_arn
        )
        if reason is None and machine_record is None:
            reason = "State machine is in DELETING status."
        if reason is not None or machine_record is None:
            raise err.ExecutionNotRedrivable(
                f"Execution '{record.arn}' cannot be redriven: {reason}"
            )
        redriven = replace(
            record,
            status="RUNNING",
            stop_date=None,
            output=None,
            error=None,
            cause=None,
            redrive_count=record.redrive_count + 1,
            redrive_date=now,
            redrive_keeps=None,
        )
        machine = self.machines.for_execution(record, machine_record)
        if machine is None:
            raise err.ExecutionNotRedrivable(
                f"Execution '{record.arn}' cannot be redriven: its definition is gone."
            )
        plan = plan_redrive(
            machine,
            machine_record,
            redriven,
            history,
            now,
            record.redrive_keeps,
            self._top_level_map_runs(record.arn),
        )
        bus = self.integrations.services.events
        running = status_notices(redriven, bus, now, machine_record.type)  # RUNNING again
        if not self.store.redrive_execution(
            redriven, record.status, plan.state, plan.events, (*plan.items, *running)
        ):
            raise err.ExecutionNotRedrivable(
                f"Execution '{record.arn}' cannot be redriven: Execution is RUNNING and "
                "cannot be redriven"
            )
        self._remember_token(record.arn, token, now)
        self._step_now(record.arn)
        return {"redriveDate": to_datetime(now)}

    def _top_level_map_runs(self, arn: str) -> dict[str, str]:
        """The latest Map Run of each top-level Distributed Map state, by state name."""
        runs = [run for run in self.store.list_executions(arn, None) if is_map_run(run.arn)]
        found: dict[str, str] = {}
        for run in sorted(runs, key=lambda run: run.start_date):
            request = request_of(run)
            if request.get("frame") == 0:
                found[str(request.get("state"))] = run.arn
        return found

    def _redrive_for_token(self, arn: str, token: str | None, now: float) -> float | None:
        """The redrive date an earlier request with this client token got, if recent."""
        if not token:
            return None
        with self.store.documents(CLIENT_TOKENS) as documents:
            stored = documents.get(arn)
        for used, date, first_used in orjson.loads(stored) if stored else []:
            if used == token and now - first_used <= TOKEN_SECONDS:
                return float(date)
        return None

    def _remember_token(self, arn: str, token: str | None, now: float) -> None:
        if not token:
            return
        with self.store.documents(CLIENT_TOKENS) as documents:
            stored = documents.get(arn)
            tokens = orjson.loads(stored) if stored else []
            tokens = [*tokens, [token, now, now]][-TOKENS_KEPT:]
            documents.put(arn, orjson.dumps(tokens))


@dataclass(slots=True)
class _Resume:
    """Where the execution stopped, read back from its history."""

    state: str
    input: Any
    variables: dict[str, Any]


def plan_redrive(
    machine: StateMachine,
    machine_record: StateMachineRecord,
    record: ExecutionRecord,
    history: list[dict[str, Any]],
    now: float,
    keeps: dict[str, Any] | None = None,
    map_runs: dict[str, str] | None = None,
) -> RedrivePlan:
    """The state, events and work items that reopen ``record`` (already updated with its
    new redrive count) at the top-level state where it stopped; a Distributed Map state
    there redrives its Map Run (``map_runs``: the latest Map Run of each such state)."""
    execution_input = with_text(orjson.loads(record.input), record.input)  # I1
    resume = _where_it_stopped(machine, history, execution_input)
    last_id = max((e["id"] for e in history), default=0)
    redriven_id, entered_id = last_id + 1, last_id + 2
    moment = to_datetime(now)
    frame = Frame(
        id=0,
        graph=machine.root.key,
        state=resume.state,
        input=resume.input,
        entered_event=entered_id,
        entered_previous=redriven_id,  # EvaluationFailed copies it (AWS behaviour A3)
        last_event=entered_id,
        waiting="retry",
        entered_time=moment,
        variables=resume.variables,
        redrive_done=_kept_children(keeps, resume.state),
    )
    execution = ExecutionState(
        info=execution_info(record, machine_record),
        frames={0: frame},
        input=execution_input,
        event_count=entered_id,
    )
    failed_run = (map_runs or {}).get(resume.state)
    if failed_run is not None:
        execution.extra[REDRIVE_MAP_RUN] = failed_run.rsplit(":", 1)[-1]
    state_type = machine.root.states[resume.state].type
    events = (
        _event(
            now,
            "ExecutionRedriven",
            redriven_id,
            last_id,
            "executionRedrivenEventDetails",
            {"redriveCount": record.redrive_count},
        ),
        _event(
            now,
            f"{state_type}StateEntered",
            entered_id,
            redriven_id,
            "stateEnteredEventDetails",
            {"name": resume.state, **payload_details("input", resume.input)},
        ),
    )
    items = [_timer(record.arn, ev.TimerFired(0, 0, "retry"), moment)]
    if machine.timeout_seconds is not None:
        due = moment + timedelta(seconds=machine.timeout_seconds)
        items.append(_timer(record.arn, ev.TimerFired(0, -1, "execution_timeout"), due))
    return RedrivePlan(dump_execution(execution), events, tuple(items))


def _kept_children(keeps: dict[str, Any] | None, state: str) -> list[list[Any]] | None:
    """The branches or iterations of the failed Parallel/Map ``state`` that succeeded:
    a redrive reruns only the others (Developer Guide, "Redriving executions")."""
    if keeps is None or keeps.get("state") != state:
        return None
    done: list[list[Any]] = keeps.get("done", [])
    return done


def _where_it_stopped(
    machine: StateMachine, history: list[dict[str, Any]], execution_input: Any
) -> _Resume:
    """The last top-level state entered, its input, and the top-level variables."""
    top_level = machine.root.states
    resume = _Resume(machine.root.start_at, execution_input, {})
    for event in history:
        entered = event.get("stateEnteredEventDetails")
        if entered is not None and entered["name"] in top_level:
            resume.state = entered["name"]
            text = entered.get("input", "null")
            resume.input = with_text(orjson.loads(text), text)  # I1: an unchanged input
        exited = event.get("stateExitedEventDetails")
        if exited is not None and exited["name"] in top_level:
            for name, text in exited.get("assignedVariables", {}).items():
                resume.variables[name] = orjson.loads(text)
    return resume


def _event(
    now: float, event_type: str, event_id: int, previous: int, key: str, details: dict[str, Any]
) -> dict[str, Any]:
    return {
        "timestamp": now,
        "type": event_type,
        "id": event_id,
        "previousEventId": previous,
        key: details,
    }


def _timer(arn: str, fired: ev.TimerFired, due: datetime) -> WorkItem:
    return WorkItem(arn, "event", encode_event(fired), due.timestamp())
