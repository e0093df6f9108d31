"""Schedules: start an execution at every tick of a ``cron(...)`` or ``rate(...)``
expression, as an EventBridge scheduled rule with a Step Functions target does.

Design decision: a schedule *is* an EventBridge rule with a ``ScheduleExpression``
(``integrations.services.events``), kept in the store with the event buses' other rules.
``Schedule`` is a view of such a rule and its first target, so ``stepwell schedules``,
``[[schedules]]`` in stepwell.toml, ``PutRule``/``PutTargets`` through the API and
``AWS::Events::Rule`` in a template all make and see the same rules; this module is the
runtime that fires them (the rule's last fired tick is kept in its document).
``fire_due`` may run in any number of processes at once and each tick still starts
exactly one execution:

* the execution's name is derived from the rule's name and the tick's time, and its
  input from the rule alone, so StartExecution's idempotency by name (same name,
  same input: the same execution) turns every repeat of a tick into a no-op;
* the last fired tick is recorded after the start, so a process that dies in between
  leaves the tick to be fired again, by name, by whoever looks next;
* targets that a repeat would reach twice (queues, topics, functions) get a tick only
  from the process that claims it first (``record_tick(..., "delivered_tick")``, a
  compare-and-set before delivering): at most once, so a process that dies between
  the claim and the delivery loses that tick for them.

One schedule that fails to fire (the store, a target) is logged and retried at the next
look; the others fire regardless.

Every target of the rule gets the tick: state machines (as above), Lambda functions
(``invoke_function``), queues and topics (the event bus's own delivery). A tick missed
while nothing ran is fired once, late; older missed ticks are not replayed (EventBridge
does not backfill either). Times come from the runtime's clock, so tests drive schedules
with a ``VirtualClock``. Schedules of databases written before rules existed (the
``schedules`` namespace) are moved into rules the first time they are listed.
"""

from __future__ import annotations

import builtins
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import orjson

from stepwell.integrations.services import Services
from stepwell.integrations.services.base import ServiceError
from stepwell.integrations.services.events import EventsClient, iso_time
from stepwell.integrations.services.events_targets import RuleRef
from stepwell.language.cron import ScheduleExpression, parse_schedule
from stepwell.language.event_input import target_input
from stepwell.runtime.clock import Clock, SystemClock, to_datetime
from stepwell.store.base import Store

log = logging.getLogger("stepwell.schedules")
LEGACY_NAMESPACE = "schedules"  # where schedules lived before they were rules
TARGET_ID = "schedule"  # the target a schedule's state machine (or function) is
RESCAN_SECONDS = 10.0  # how stale this process's view of other processes' schedules gets
_NAME = re.compile(r"[.\-_A-Za-z0-9]{1,64}")  # EventBridge rule names
_IDS = uuid.UUID("6a1f3c2e-5b7d-4e9a-8c0b-2d4f6e8a0c1e")

StartExecution = Callable[[dict[str, Any]], Mapping[str, Any]]
InvokeFunction = Callable[[str, Any, str], Any]


class Unbound(RuntimeError):
    """These Schedules were made without a way to start executions."""


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
        events: EventsClient | None = None,
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.start_execution = start_execution
        self.region = region
        self.account = account
        self.events = (
            events or Services(store, self.clock.now, region=region, account=account).events
        )
        self._quiet_until = 0.0  # nothing of ours is due before this
        self._legacy_checked = False
        # Runs a Lambda function target (an application's scheduled function); set by
        # whoever binds the functions: (function ARN, event, request id) -> outcome.
        self.invoke_function: InvokeFunction | None = None

    # ----------------------------------------------------------------- managing

    def put(self, schedule: Schedule) -> Schedule:
        """Create or replace a schedule (a rule and its one target). Changing the
        expression starts it afresh; otherwise the record of fired ticks is kept, so
        re-applying a config is a no-op."""
        _check(schedule)
        rule: dict[str, Any] = {
            "Name": schedule.name,
            "ScheduleExpression": schedule.expression,
            "State": "ENABLED" if schedule.enabled else "DISABLED",
        }
        if schedule.description:
            rule["Description"] = schedule.description
        target: dict[str, Any] = {"Id": TARGET_ID, "Arn": schedule.state_machine_arn}
        if schedule.input is not None:
            target["Input"] = schedule.input
        self.events.call("PutRule", rule)
        others = [t["Id"] for t in self.events.rule(schedule.name)["targets"]]
        if others:
            self.events.call("RemoveTargets", {"Rule": schedule.name, "Ids": others})
        self.events.call("PutTargets", {"Rule": schedule.name, "Targets": [target]})
        self._quiet_until = 0.0
        stored = self.get(schedule.name)
        assert stored is not None  # just written
        return stored

    def put_all(self, schedules: Sequence[Schedule]) -> builtins.list[Schedule]:
        return [self.put(schedule) for schedule in schedules]

    def get(self, name: str) -> Schedule | None:
        try:
            rule = self.events.rule(name)
        except ServiceError:
            return None
        return _view(rule)

    def list(self) -> builtins.list[Schedule]:
        self._adopt_legacy()
        return [s for rule in self.events.rules() if (s := _view(rule)) is not None]

    def delete(self, name: str) -> bool:
        """Delete a schedule's rule (False when there is no scheduled rule of that name)."""
        if self.get(name) is None:
            return False
        self.events.call("DeleteRule", {"Name": name, "Force": True})
        return True

    def _adopt_legacy(self) -> None:
        if self._legacy_checked:
            return
        self._legacy_checked = True
        with self.store.documents(LEGACY_NAMESPACE) as docs:
            legacy = [Schedule(**orjson.loads(raw)) for _, raw in docs.scan()]
            for schedule in legacy:
                docs.delete(schedule.name)
        for schedule in legacy:
            self.put(schedule)
            if schedule.last_tick is not None:
                self.events.record_tick(schedule.name, schedule.last_tick)

    # ----------------------------------------------------------------- firing

    def fire_due(self) -> builtins.list[Firing]:
        """Fire every schedule whose tick has come; returns what fired (one per target).
        Cheap to call often: between ticks it looks at the store every RESCAN_SECONDS."""
        now = self.clock.now()
        if now < self._quiet_until:
            return []
        schedules = [s for s in self.list() if s.enabled]
        due = [(s, tick) for s in schedules if (tick := s.due_tick(now)) is not None]
        firings = [
            firing for schedule, tick in due for firing in self._fire_and_record(schedule, tick)
        ]
        upcoming = [t for s in schedules if (t := s.next_tick(now)) is not None]
        self._quiet_until = min([now + RESCAN_SECONDS, *upcoming])
        return firings

    def _fire_and_record(self, schedule: Schedule, tick: float) -> builtins.list[Firing]:
        """``_fire``, then record the tick; if either raises, log it and go on (the tick
        stays due, for the next look)."""
        try:
            firings = self._fire(schedule, tick)
            self.events.record_tick(schedule.name, tick)
        except Unbound:
            raise  # this process is set up wrong: no look will fire it
        except Exception:
            log.warning(
                "schedule %s could not fire %s", schedule.name, iso_time(tick), exc_info=True
            )
            return []
        return firings

    def _fire(self, schedule: Schedule, tick: float) -> builtins.list[Firing]:
        """Deliver the tick to every target of the rule: one Firing per target. Targets
        other than state machines get it only if this call claims the tick."""
        try:
            targets = self.events.rule(schedule.name)["targets"]
        except ServiceError:
            targets = []  # deleted meanwhile
        if not targets:
            return [Firing(schedule.name, tick, None, "the rule has no targets")]
        once = [t for t in targets if not is_state_machine_arn(str(t.get("Arn", "")))]
        if once and not self.events.record_tick(schedule.name, tick, "delivered_tick"):
            targets = [t for t in targets if t not in once]  # another call delivers them
        return [self._fire_target(schedule, target, tick) for target in targets]

    def _fire_target(self, schedule: Schedule, target: Mapping[str, Any], tick: float) -> Firing:
        arn = str(target.get("Arn", ""))
        if is_function_arn(arn):
            return self._invoke(schedule, target, tick)
        if not is_state_machine_arn(arn):
            rule = RuleRef(schedule.name, self.events.rule_arn(schedule.name))
            event = self.scheduled_event(schedule.name, tick)
            delivery = self.events.targets.deliver(rule, target, event, iso_time(tick))
            return Firing(schedule.name, tick, None, delivery.error)
        if self.start_execution is None:
            raise Unbound("these Schedules cannot start executions (no start_execution)")
        request = {
            "stateMachineArn": arn,
            "name": execution_name(schedule.name, tick),
            "input": self.target_input(schedule.name, target, tick),
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

    def _invoke(self, schedule: Schedule, target: Mapping[str, Any], tick: float) -> Firing:
        """A function target gets the event, as EventBridge invokes it asynchronously."""
        if self.invoke_function is None:
            return Firing(schedule.name, tick, None, "no function binding for this target")
        event = orjson.loads(self.target_input(schedule.name, target, tick))
        request_id = str(uuid.uuid5(_IDS, f"{schedule.name}@{tick}/invoke"))
        outcome = self.invoke_function(str(target["Arn"]), event, request_id)
        if not getattr(outcome, "ok", True):
            log.warning("schedule %s: function failed: %s", schedule.name, outcome)
            return Firing(schedule.name, tick, None, f"{outcome.error}: {outcome.cause}")
        return Firing(schedule.name, tick, None)

    def target_input(self, name: str, target: Mapping[str, Any], tick: float) -> str:
        """What a target gets for a tick: its Input (or InputPath, InputTransformer), or
        the "Scheduled Event" itself."""
        event = self.scheduled_event(name, tick)
        return target_input(target, event, name, self.events.rule_arn(name), iso_time(tick))

    def execution_input(self, schedule: Schedule, tick: float) -> str:
        """The schedule's input, or the event EventBridge sends for a scheduled rule."""
        target = {} if schedule.input is None else {"Input": schedule.input}
        return self.target_input(schedule.name, target, tick)

    def scheduled_event(self, name: str, tick: float) -> dict[str, Any]:
        """The event of a scheduled rule's tick (EventBridge User Guide, "Amazon
        EventBridge events": "Scheduled Event"); its id is the same for every repeat."""
        return {
            "version": "0",
            "id": str(uuid.uuid5(_IDS, f"{name}@{tick}")),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.account,
            "time": to_datetime(tick).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [self.events.rule_arn(name)],
            "detail": {},
        }


def _view(rule: Mapping[str, Any]) -> Schedule | None:
    """The schedule a rule is (its first target), or None for a pattern rule."""
    expression = rule.get("ScheduleExpression")
    if not expression:
        return None
    targets = rule.get("targets") or [{}]
    return Schedule(
        name=str(rule["Name"]),
        expression=str(expression),
        state_machine_arn=str(targets[0].get("Arn", "")),
        input=targets[0].get("Input"),
        enabled=rule.get("State") != "DISABLED",
        description=str(rule.get("Description", "")),
        created=float(rule.get("created", 0.0)),
        last_tick=rule.get("last_tick"),
    )


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
    arn = schedule.state_machine_arn
    if not (is_function_arn(arn) or is_state_machine_arn(arn)):
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


def is_state_machine_arn(arn: str) -> bool:
    """A Step Functions target (``arn:aws:states:REGION:ACCOUNT:stateMachine:NAME``)."""
    parts = arn.split(":")
    return len(parts) >= 7 and parts[:3] == ["arn", "aws", "states"] and parts[5] == "stateMachine"


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()
