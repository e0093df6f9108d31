"""Schedules: start an execution at every tick of a ``cron(...)`` or ``rate(...)``
expression, as an EventBridge scheduled rule with a Step Functions target does.

Schedules live in the store (``documents("schedules")``, one JSON document per schedule),
so every process sees the same ones and a restart forgets nothing. ``fire_due`` may run
in any number of processes at once and each tick still starts exactly one execution:

* the execution's name is derived from the schedule's name and the tick's time, and its
  input from the schedule alone, so StartExecution's idempotency by name (same name,
  same input: the same execution) turns every repeat of a tick into a no-op;
* the last fired tick is recorded after the start, so a process that dies in between
  leaves the tick to be fired again, by name, by whoever looks next.

A tick missed while nothing ran is fired once, late; older missed ticks are not
replayed (EventBridge does not backfill either). Times come from the runtime's clock,
so tests drive schedules with a ``VirtualClock``.
"""

from __future__ import annotations

import builtins
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

import orjson

from stepwell.runtime.clock import Clock, SystemClock, to_datetime
from stepwell.runtime.cron import ScheduleExpression, parse_schedule
from stepwell.store.base import Store

log = logging.getLogger("stepwell.schedules")
NAMESPACE = "schedules"
RESCAN_SECONDS = 10.0  # how stale this process's view of other processes' schedules gets
_NAME = re.compile(r"[.\-_A-Za-z0-9]{1,64}")  # EventBridge rule names
_IDS = uuid.UUID("6a1f3c2e-5b7d-4e9a-8c0b-2d4f6e8a0c1e")

StartExecution = Callable[[dict[str, Any]], Mapping[str, Any]]
InvokeFunction = Callable[[str, Any, str], Any]


class ScheduleError(ValueError):
    """A schedule that cannot be stored: bad name, expression, target or input."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """One schedule. ``input`` is the execution input as JSON text; None sends the
    EventBridge "Scheduled Event" as a rule target without Input does."""

    name: str
    expression: str
    state_machine_arn: str
    input: str | None = None
    enabled: bool = True
    description: str = ""
    created: float = 0.0  # when the expression was set: rate ticks count from here
    last_tick: float | None = None

    def compiled(self) -> ScheduleExpression:
        return parse_schedule(self.expression)

    def next_tick(self, now: float) -> float | None:
        """When this schedule fires next (after ``now`` and any tick already fired)."""
        return self.compiled().next_after(max(now, self.last_tick or now), self.created)

    def due_tick(self, now: float) -> float | None:
        """The latest tick not yet fired and not in the future, or None."""
        after = max(self.created, self.last_tick or self.created)
        return self.compiled().last_between(after, now, self.created)


@dataclass(frozen=True, slots=True)
class Firing:
    """One tick fired: the execution it started, or why it could not."""

    schedule: str
    tick: float
    execution_arn: str | None
    error: str | None = None


class Schedules:
    def __init__(
        self,
        store: Store,
        clock: Clock | None = None,
        start_execution: StartExecution | None = None,
        region: str = "us-east-1",
        account: str = "123456789012",
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.start_execution = start_execution
        self.region = region
        self.account = account
        self._quiet_until = 0.0  # nothing of ours is due before this
        # Runs a Lambda function target (an application's scheduled function); set by
        # whoever binds the functions: (function ARN, event, request id) -> outcome.
        self.invoke_function: InvokeFunction | None = None

    # ----------------------------------------------------------------- managing

    def put(self, schedule: Schedule) -> Schedule:
        """Create or replace a schedule. Changing the expression starts it afresh;
        otherwise the record of fired ticks is kept, so re-applying a config is a no-op."""
        _check(schedule)
        with self.store.documents(NAMESPACE) as docs:
            raw = docs.get(schedule.name)
            old = _decode(raw) if raw is not None else None
            if old is not None and old.expression == schedule.expression:
                # Re-enabling does not fire the ticks missed while disabled.
                resumed = schedule.enabled and not old.enabled
                last = self.clock.now() if resumed else old.last_tick
                stored = replace(schedule, created=old.created, last_tick=last)
            else:
                stored = replace(schedule, created=schedule.created or self.clock.now())
                stored = replace(stored, last_tick=None)
            docs.put(stored.name, _encode(stored))
        self._quiet_until = 0.0
        return stored

    def put_all(self, schedules: Sequence[Schedule]) -> builtins.list[Schedule]:
        return [self.put(schedule) for schedule in schedules]

    def get(self, name: str) -> Schedule | None:
        with self.store.documents(NAMESPACE) as docs:
            raw = docs.get(name)
        return _decode(raw) if raw is not None else None

    def list(self) -> builtins.list[Schedule]:
        with self.store.documents(NAMESPACE) as docs:
            return [_decode(raw) for _, raw in docs.scan()]

    def delete(self, name: str) -> bool:
        with self.store.documents(NAMESPACE) as docs:
            found = docs.get(name) is not None
            docs.delete(name)
        return found

    # ----------------------------------------------------------------- firing

    def fire_due(self) -> builtins.list[Firing]:
        """Start an execution for every schedule whose tick has come; returns what fired.
        Cheap to call often: between ticks it looks at the store every RESCAN_SECONDS."""
        now = self.clock.now()
        if now < self._quiet_until:
            return []
        schedules = [s for s in self.list() if s.enabled]
        due = [(s, tick) for s in schedules if (tick := s.due_tick(now)) is not None]
        firings = [self._fire(schedule, tick) for schedule, tick in due]
        if firings:
            self._record(firings)
        upcoming = [t for s in schedules if (t := s.next_tick(now)) is not None]
        self._quiet_until = min([now + RESCAN_SECONDS, *upcoming])
        return firings

    def _fire(self, schedule: Schedule, tick: float) -> Firing:
        if is_function_arn(schedule.state_machine_arn):
            return self._invoke(schedule, tick)
        if self.start_execution is None:
            raise RuntimeError("these Schedules cannot start executions (no start_execution)")
        request = {
            "stateMachineArn": schedule.state_machine_arn,
            "name": execution_name(schedule.name, tick),
            "input": self.execution_input(schedule, tick),
        }
        try:
            started = self.start_execution(request)
        except Exception as error:
            kind = getattr(error, "aws_type", type(error).__name__)
            if kind == "ExecutionAlreadyExists":
                return Firing(schedule.name, tick, None)  # fired before; it has ended since
            log.warning("schedule %s could not start %s: %s", schedule.name, request, error)
            return Firing(schedule.name, tick, None, f"{kind}: {error}")
        return Firing(schedule.name, tick, str(started["executionArn"]))

    def _invoke(self, schedule: Schedule, tick: float) -> Firing:
        """A function target gets the event, as EventBridge invokes it asynchronously."""
        if self.invoke_function is None:
            return Firing(schedule.name, tick, None, "no function binding for this target")
        event = orjson.loads(self.execution_input(schedule, tick))
        request_id = str(uuid.uuid5(_IDS, f"{schedule.name}@{tick}/invoke"))
        outcome = self.invoke_function(schedule.state_machine_arn, event, request_id)
        if not getattr(outcome, "ok", True):
            log.warning("schedule %s: function failed: %s", schedule.name, outcome)
            return Firing(schedule.name, tick, None, f"{outcome.error}: {outcome.cause}")
        return Firing(schedule.name, tick, None)

    def _record(self, firings: builtins.list[Firing]) -> None:
        with self.store.documents(NAMESPACE) as docs:
            for firing in firings:
                raw = docs.get(firing.schedule)
                if raw is None:
                    continue  # deleted meanwhile
                current = _decode(raw)
                if current.last_tick is None or current.last_tick < firing.tick:
                    docs.put(current.name, _encode(replace(current, last_tick=firing.tick)))

    def execution_input(self, schedule: Schedule, tick: float) -> str:
        """The schedule's input, or the event EventBridge sends for a scheduled rule
        (EventBridge User Guide, "Amazon EventBridge events": "Scheduled Event")."""
        if schedule.input is not None:
            return schedule.input
        event = {
            "version": "0",
            "id": str(uuid.uuid5(_IDS, f"{schedule.name}@{tick}")),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.account,
            "time": to_datetime(tick).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [f"arn:aws:events:{self.region}:{self.account}:rule/{schedule.name}"],
            "detail": {},
        }
        return orjson.dumps(event).decode()


def execution_name(schedule_name: str, tick: float) -> str:
    """``NAME-YYYYMMDDTHHMMZ``: at most 64 + 15 characters, within StartExecution's 80."""
    return f"{schedule_name}-{to_datetime(tick):%Y%m%dT%H%MZ}"


# --------------------------------------------------------------------- config and CLI


def schedules_from_config(
    entries: Sequence[Mapping[str, Any]], region: str = "us-east-1", account: str = "123456789012"
) -> list[Schedule]:
    """``[[schedules]]`` tables of stepwell.toml → schedules::

    [[schedules]]
    name = "reprocess-failed"
    expression = "cron(0/15 * * * ? *)"
    state_machine = "reprocess"            # a name, or state_machine_arn = "arn:..."
    input = { batchSize = 20 }             # a table, or JSON text; omit for the event
    enabled = true
    """
    return [_from_config(entry, region, account) for entry in entries]


def _from_config(entry: Mapping[str, Any], region: str, account: str) -> Schedule:
    known = {"name", "expression", "state_machine", "state_machine_arn", "input", "enabled"}
    unknown = set(entry) - known - {"description"}
    if unknown:
        raise ScheduleError(f"unknown schedule setting(s): {', '.join(sorted(unknown))}")
    for required in ("name", "expression"):
        if required not in entry:
            raise ScheduleError(f"a schedule needs {required!r}")
    arn = entry.get("state_machine_arn") or (
        f"arn:aws:states:{region}:{account}:stateMachine:{entry['state_machine']}"
        if "state_machine" in entry
        else None
    )
    if arn is None:
        raise ScheduleError("a schedule needs 'state_machine' or 'state_machine_arn'")
    raw_input = entry.get("input")
    text = raw_input if isinstance(raw_input, str) or raw_input is None else _json(raw_input)
    schedule = Schedule(
        name=str(entry["name"]),
        expression=str(entry["expression"]),
        state_machine_arn=str(arn),
        input=text,
        enabled=bool(entry.get("enabled", True)),
        description=str(entry.get("description", "")),
    )
    _check(schedule)
    return schedule


def add_schedule(
    store: Store,
    name: str,
    expression: str,
    state_machine_arn: str,
    input: str | None = None,
    *,
    enabled: bool = True,
    description: str = "",
    clock: Clock | None = None,
) -> Schedule:
    """For ``stepwell schedule add``: create or replace one schedule."""
    schedule = Schedule(name, expression, state_machine_arn, input, enabled, description)
    return Schedules(store, clock).put(schedule)


def list_schedules(store: Store, clock: Clock | None = None) -> list[dict[str, Any]]:
    """For ``stepwell schedule list``: every schedule with its next tick (UTC)."""
    now = (clock or SystemClock()).now()
    return [_describe(s, now) for s in Schedules(store, clock).list()]


def remove_schedule(store: Store, name: str) -> bool:
    """For ``stepwell schedule remove``: False when there was no such schedule."""
    return Schedules(store).delete(name)


def _describe(schedule: Schedule, now: float) -> dict[str, Any]:
    described = asdict(schedule)
    upcoming = schedule.next_tick(now) if schedule.enabled else None
    described["next_tick"] = _iso(upcoming)
    described["last_tick"] = _iso(schedule.last_tick)
    described["created"] = _iso(schedule.created)
    return described


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.isoformat(to_datetime(epoch))


# --------------------------------------------------------------------- storage


def _check(schedule: Schedule) -> None:
    if not _NAME.fullmatch(schedule.name):
        raise ScheduleError(
            f"Invalid schedule name {schedule.name!r}: 1-64 letters, digits, '.', '-' or '_'"
        )
    schedule.compiled()  # ScheduleExpressionError (a ValueError) if EventBridge would refuse
    parts = schedule.state_machine_arn.split(":")
    if is_function_arn(schedule.state_machine_arn):
        pass
    elif len(parts) < 7 or parts[:3] != ["arn", "aws", "states"] or parts[5] != "stateMachine":
        raise ScheduleError(f"Invalid state machine ARN: {schedule.state_machine_arn!r}")
    if schedule.input is not None:
        try:
            orjson.loads(schedule.input)
        except orjson.JSONDecodeError:
            raise ScheduleError(f"The input is not JSON: {schedule.input!r}") from None


def is_function_arn(arn: str) -> bool:
    """A Lambda function target (``arn:aws:lambda:REGION:ACCOUNT:function:NAME``)."""
    parts = arn.split(":")
    return len(parts) >= 7 and parts[:3] == ["arn", "aws", "lambda"] and parts[5] == "function"


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _encode(schedule: Schedule) -> bytes:
    return orjson.dumps(asdict(schedule))


def _decode(raw: bytes) -> Schedule:
    return Schedule(**orjson.loads(raw))
