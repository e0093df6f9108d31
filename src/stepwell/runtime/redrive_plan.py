"""Reopening a finished execution where it stopped: the interpreter state, events and
work a redrive writes (Developer Guide, "Redriving executions"). Used by
RedriveExecution (``service/redrive.py``) and by a redriven Map Run, which redrives its
unsuccessful Standard children in place and restarts its Express ones (Developer Guide,
"Redriving Map Runs", "Child workflow execution redrive behavior").

Design decision: a finished execution keeps no interpreter state, so the state to resume
from is rebuilt from its history: the last top-level state it entered, that state's
input, and the variables the top-level states assigned. The rebuilt state has that state
re-entered and waiting on an immediate retry timer, so the interpreter runs it afresh
(retry counts reset) exactly as it runs a Retry. ``restart`` resumes at ``StartAt`` with
the execution's input instead (an Express child "started using StartExecution").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from stepwell.engine import events as ev
from stepwell.engine.distributed import REDRIVE_MAP_RUN
from stepwell.engine.execution import ExecutionInfo, ExecutionState, Frame
from stepwell.engine.history import payload_details
from stepwell.engine.serialize import dump_execution
from stepwell.language.model import StateMachine
from stepwell.language.verbatim import with_text
from stepwell.runtime.clock import to_datetime
from stepwell.runtime.codec import encode_event
from stepwell.store.base import ExecutionRecord, StateMachineRecord, WorkItem

MAX_REDRIVES = 1000  # Developer Guide, "Step Functions service quotas": redrives per execution


@dataclass(frozen=True, slots=True)
class RedrivePlan:
    """What reopening an execution writes: its interpreter state, events and work."""

    state: bytes
    events: tuple[dict[str, Any], ...]
    items: tuple[WorkItem, ...]


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
    restart: bool = False,
) -> RedrivePlan:
    """The state, events and work items that reopen ``record`` (already updated with its
    new redrive count) at the top-level state where it stopped (at ``StartAt`` if
    ``restart``); a Distributed Map state there redrives its Map Run (``map_runs``: the
    latest Map Run of each such state)."""
    execution_input = with_text(orjson.loads(record.input), record.input)  # I1
    resume = _where_it_stopped(machine, [] if restart else history, execution_input)
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


def execution_info(record: ExecutionRecord, machine: StateMachineRecord) -> ExecutionInfo:
    """Who the execution is, for the context object and history."""
    parts = record.arn.split(":")
    return ExecutionInfo(
        execution_arn=record.arn,
        name=record.name,
        state_machine_arn=machine.version_of or machine.arn,
        state_machine_name=machine.name,
        role_arn=machine.role_arn,
        region=parts[3] if len(parts) > 3 else "us-east-1",
        start_time=to_datetime(record.start_date),
        input_text=record.input,
        redrive_count=record.redrive_count,
        redrive_time=to_datetime(record.redrive_date) if record.redrive_date else None,
        express=len(parts) > 5 and parts[5] == "express",  # a Map Run's EXPRESS child
    )


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
