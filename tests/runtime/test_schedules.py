"""Schedules on every store: each tick starts exactly one execution, across workers,
restarts and crashes, on a virtual clock."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stepwell.integrations.registry import Integrations
from stepwell.language.cron import ScheduleExpressionError
from stepwell.runtime import pool as pool_module
from stepwell.runtime.clock import VirtualClock
from stepwell.runtime.pool import WorkerPool
from stepwell.runtime.schedules import (
    Schedule,
    ScheduleError,
    Schedules,
    add_schedule,
    execution_name,
    list_schedules,
    remove_schedule,
    schedules_from_config,
)
from stepwell.runtime.worker import Worker
from stepwell.service.host import Host
from stepwell.service.service import Service
from stepwell.service.settings import Settings
from stepwell.store.base import Store
from stepwell.store.sqlite import open_sqlite

ROLE = "arn:aws:iam::123456789012:role/stepwell"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:reprocess"
START = datetime(2024, 3, 4, 9, 2, tzinfo=UTC).timestamp()  # a Monday, 09:02 UTC
ECHO = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}


class Harness:
    def __init__(self, store: Store, clock: VirtualClock | None = None) -> None:
        self.clock = clock or VirtualClock(START)
        self.store = store
        self.service = Service(store, self.clock)
        self.worker = Worker(store, Integrations(), self.clock)
        self.schedules = Schedules(store, self.clock, self.service.start_execution)

    def create_machine(self) -> None:
        self.service.create_state_machine(
            {"name": "reprocess", "definition": json.dumps(ECHO), "roleArn": ROLE}
        )

    def executions(self) -> list[dict[str, Any]]:
        listed = self.service.list_executions({"stateMachineArn": MACHINE})["executions"]
        return sorted(listed, key=lambda e: e["name"])


def test_put_get_list_delete(store: Store) -> None:
    h = Harness(store)
    stored = h.schedules.put(Schedule("every-5", "rate(5 minutes)", MACHINE, '{"a": 1}'))
    assert stored.created == START and stored.last_tick is None
    assert h.schedules.get("every-5") == stored
    assert h.schedules.list() == [stored]
    assert h.schedules.delete("every-5") is True
    assert h.schedules.delete("every-5") is False
    assert h.schedules.get("every-5") is None and h.schedules.list() == []


def test_a_rate_schedule_fires_each_tick_once(store: Store) -> None:
    h = Harness(store)
    h.create_machine()
    h.schedules.put(Schedule("every-5", "rate(5 minutes)", MACHINE, '{"batch": 20}'))
    assert h.schedules.fire_due() == []
    h.clock.advance(299)
    assert h.schedules.fire_due() == []
    h.clock.advance(1)
    fired = h.schedules.fire_due()
    assert [(f.schedule, f.tick, f.error) for f in fired] == [("every-5", START + 300, None)]
    assert h.schedules.fire_due() == []  # the same tick again: nothing
    h.clock.advance(300)
    assert len(h.schedules.fire_due()) == 1
    h.worker.run_until_idle()
    executions = h.executions()
    assert [e["name"] for e in executions] == ["every-5-20240304T0907Z", "every-5-20240304T0912Z"]
    assert {e["status"] for e in executions} == {"SUCCEEDED"}
    described = h.service.describe_execution({"executionArn": fired[0].execution_arn})
    assert json.loads(described["input"]) == {"batch": 20}


def test_without_input_the_execution_gets_the_scheduled_event(store: Store) -> None:
    # EventBridge User Guide, "Amazon EventBridge events": a scheduled rule's event.
    h = Harness(store)
    h.create_machine()
    h.schedules.put(Schedule("hourly", "cron(0 * * * ? *)", MACHINE))
    h.clock.set(datetime(2024, 3, 4, 10, 0, 30, tzinfo=UTC).timestamp())
    (fired,) = h.schedules.fire_due()
    event = json.loads(h.service.describe_execution({"executionArn": fired.execution_arn})["input"])
    assert event == {
        "version": "0",
        "id": event["id"],
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2024-03-04T10:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/hourly"],
        "detail": {},
    }


def test_two_workers_fire_a_tick_once(store: Store) -> None:
    h = Harness(store)
    h.create_machine()
    other = Schedules(store, h.clock, Service(store, h.clock).start_execution)
    h.schedules.put(Schedule("quarterly", "cron(0/15 * * * ? *)", MACHINE, "{}"))
    h.clock.set(datetime(2024, 3, 4, 9, 15, tzinfo=UTC).timestamp())
    first, second = h.schedules.fire_due(), other.fire_due()
    assert len(first) == 1 and second == []  # the second saw the tick recorded
    assert len(h.executions()) == 1


def test_two_workers_firing_the_same_tick_at_once_start_one_execution(store: Store) -> None:
    h = Harness(store)
    h.create_machine()
    other = Schedules(store, h.clock, Service(store, h.clock).start_execution)
    seen_by_other = []

    def start_while_the_other_looks(request: dict[str, Any]) -> dict[str, Any]:
        started = h.service.start_execution(request)
        seen_by_other.extend(other.fire_due())  # before this worker records the tick
        return started

    first = Schedules(store, h.clock, start_while_the_other_looks)
    first.put(Schedule("quarterly", "cron(0/15 * * * ? *)", MACHINE, "{}"))
    h.clock.set(datetime(2024, 3, 4, 9, 15, tzinfo=UTC).timestamp())
    (fired,) = first.fire_due()
    assert [f.execution_arn for f in seen_by_other] == [fired.execution_arn]
    assert len(h.executions()) == 1


class Crash(BaseException):
    """The process dies after StartExecution, before the tick is recorded."""


def crash_after_start(h: Harness) -> list[str]:
    started: list[str] = []

    def start_then_die(request: dict[str, Any]) -> dict[str, Any]:
        started.append(h.service.start_execution(request)["executionArn"])
        raise Crash

    dying = Schedules(h.store, h.clock, start_then_die)
    dying.put(Schedule("every-5", "rate(5 minutes)", MACHINE, "{}"))
    h.clock.advance(300)
    with pytest.raises(Crash):
        dying.fire_due()
    return started


def test_a_crash_before_recording_refires_the_same_running_execution(store: Store) -> None:
    h = Harness(store)
    h.create_machine()
    started = crash_after_start(h)
    (again,) = h.schedules.fire_due()  # another worker, or the restarted one
    assert again.execution_arn == started[0] and again.error is None
    assert h.schedules.fire_due() == []
    assert len(h.executions()) == 1


def test_a_crash_before_recording_starts_nothing_new_once_the_execution_ended(
    store: Store,
) -> None:
    h = Harness(store)
    h.create_machine()
    crash_after_start(h)
    h.worker.run_until_idle()
    (again,) = h.schedules.fire_due()
    assert (again.execution_arn, again.error) == (None, None)  # ExecutionAlreadyExists
    (only,) = h.executions()
    assert only["status"] == "SUCCEEDED"


def test_a_restart_does_not_fire_a_tick_again(tmp_path: Path) -> None:
    path = str(tmp_path / "schedules.db")
    clock = VirtualClock(START)
    h = Harness(open_sqlite(path), clock)
    h.create_machine()
    h.schedules.put(Schedule("daily", "cron(0 10 * * ? *)", MACHINE, "{}"))
    clock.set(datetime(2024, 3, 4, 10, 0, tzinfo=UTC).timestamp())
    assert len(h.schedules.fire_due()) == 1
    h.store.close()
    restarted = Harness(open_sqlite(path), clock)
    assert restarted.schedules.fire_due() == []
    clock.set(datetime(2024, 3, 5, 10, 0, tzinfo=UTC).timestamp())
    assert len(restarted.schedules.fire_due()) == 1
    assert len(restarted.executions()) == 2
    restarted.store.close()


def test_missed_ticks_fire_once_late(store: Store) -> None:
    h = Harness(store)
    h.create_machine()
    h.schedules.put(Schedule("every-5", "rate(5 minutes)", MACHINE, "{}"))
    h.clock.advance(3600 + 120)  # down for an hour: twelve ticks missed
    (fired,) = h.schedules.fire_due()
    assert fired.tick == START + 3600
    assert h.schedules.fire_due() == []


def test_disabled_schedules_do_not_fire_and_resume_without_backfill(store: Store) -> None:
    h = Harness(store)
    h.create_machine()
    h.schedules.put(Schedule("every-5", "rate(5 minutes)", MACHINE, "{}", enabled=False))
    h.clock.advance(900)
    assert h.schedules.fire_due() == []
    h.schedules.put(Schedule("every-5", "rate(5 minutes)", MACHINE, "{}"))
    assert h.schedules.fire_due() == []  # the ticks missed while disabled are not replayed
    h.clock.advance(300)
    assert [f.tick for f in h.schedules.fire_due()] == [START + 1200]


def test_putting_the_same_schedule_keeps_its_fired_ticks(store: Store) -> None:
    h = Harness(store)
    h.create_machine()
    h.schedules.put(Schedule("every-5", "rate(5 minutes)", MACHINE, "{}"))
    h.clock.advance(300)
    h.schedules.fire_due()
    again = h.schedules.put(Schedule("every-5", "rate(5 minutes)", MACHINE, "{}"))
    assert again.last_tick == START + 300 and again.created == START
    assert h.schedules.fire_due() == []
    changed = h.schedules.put(Schedule("every-5", "rate(10 minutes)", MACHINE, "{}"))
    assert changed.created == START + 300 and changed.last_tick is None


def test_a_failed_start_is_reported_and_not_retried_forever(store: Store) -> None:
    h = Harness(store)  # no state machine created
    h.schedules.put(Schedule("every-5", "rate(5 minutes)", MACHINE, "{}"))
    h.clock.advance(300)
    (fired,) = h.schedules.fire_due()
    assert fired.execution_arn is None
    assert fired.error is not None and fired.error.startswith("StateMachineDoesNotExist")
    assert h.schedules.fire_due() == []


def test_a_schedule_deleted_while_firing_is_not_recreated(store: Store) -> None:
    h = Harness(store)
    h.create_machine()

    def start_and_delete(request: dict[str, Any]) -> dict[str, Any]:
        h.schedules.delete("every-5")
        return h.service.start_execution(request)

    schedules = Schedules(store, h.clock, start_and_delete)
    schedules.put(Schedule("every-5", "rate(5 minutes)", MACHINE, "{}"))
    h.clock.advance(300)
    assert len(schedules.fire_due()) == 1
    assert schedules.list() == []


def test_between_ticks_the_store_is_looked_at_rarely(store: Store) -> None:
    h = Harness(store)
    h.create_machine()
    h.schedules.put(Schedule("hourly", "rate(1 hour)", MACHINE, "{}"))
    h.schedules.fire_due()
    looked = 0
    original = h.schedules.list

    def counting() -> list[Schedule]:
        nonlocal looked
        looked += 1
        return original()

    h.schedules.list = counting  # type: ignore[method-assign]
    for _ in range(5):
        h.clock.advance(1)
        h.schedules.fire_due()
    assert looked == 0
    h.clock.advance(10)
    h.schedules.fire_due()
    assert looked == 1


def test_fire_due_needs_a_way_to_start_executions(store: Store) -> None:
    schedules = Schedules(store, VirtualClock(START))
    schedules.put(Schedule("every-5", "rate(5 minutes)", MACHINE, "{}"))
    schedules.clock.advance(300)  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="start_execution"):
        schedules.fire_due()


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        (Schedule("bad name", "rate(5 minutes)", MACHINE), ScheduleError),
        (Schedule("x" * 65, "rate(5 minutes)", MACHINE), ScheduleError),
        (Schedule("ok", "rate(5 minute)", MACHINE), ScheduleExpressionError),
        (Schedule("ok", "rate(5 minutes)", "arn:aws:states:::nope"), ScheduleError),
        (Schedule("ok", "rate(5 minutes)", MACHINE, "{not json"), ScheduleError),
    ],
)
def test_invalid_schedules_are_refused(schedule: Schedule, problem: type[Exception]) -> None:
    with pytest.raises(problem):
        Schedules(open_sqlite()).put(schedule)


def test_execution_names_fit_the_api() -> None:
    name = execution_name("x" * 64, datetime(2199, 12, 31, 23, 59, tzinfo=UTC).timestamp())
    assert name.endswith("-21991231T2359Z") and len(name) <= 80


def test_schedules_from_config() -> None:
    schedules = schedules_from_config(
        [
            {
                "name": "reprocess-failed",
                "expression": "cron(0/15 * * * ? *)",
                "state_machine": "reprocess",
                "input": {"batchSize": 20},
            },
            {
                "name": "raw",
                "expression": "rate(1 day)",
                "state_machine_arn": MACHINE,
                "input": '{"a": 1}',
                "enabled": False,
                "description": "nightly",
            },
            {"name": "event", "expression": "rate(1 hour)", "state_machine": "reprocess"},
        ],
        region="eu-west-1",
        account="111122223333",
    )
    assert schedules[0] == Schedule(
        "reprocess-failed",
        "cron(0/15 * * * ? *)",
        "arn:aws:states:eu-west-1:111122223333:stateMachine:reprocess",
        '{"batchSize":20}',
    )
    assert schedules[1] == Schedule("raw", "rate(1 day)", MACHINE, '{"a": 1}', False, "nightly")
    assert schedules[2].input is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "a", "expression": "rate(1 day)", "state_machine": "m", "cron": 1}, "unknown"),
        ({"expression": "rate(1 day)", "state_machine": "m"}, "'name'"),
        ({"name": "a", "state_machine": "m"}, "'expression'"),
        ({"name": "a", "expression": "rate(1 day)"}, "state_machine"),
    ],
)
def test_config_errors(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        schedules_from_config([entry])


def test_cli_functions(store: Store) -> None:
    clock = VirtualClock(START)
    added = add_schedule(store, "nightly", "cron(0 2 * * ? *)", MACHINE, clock=clock)
    add_schedule(store, "paused", "rate(1 day)", MACHINE, "{}", enabled=False, clock=clock)
    assert added.created == START
    listed = list_schedules(store, clock)
    assert [(s["name"], s["next_tick"]) for s in listed] == [
        ("nightly", "2024-03-05T02:00:00+00:00"),
        ("paused", None),
    ]
    assert listed[0]["created"] == "2024-03-04T09:02:00+00:00" and listed[0]["last_tick"] is None
    assert remove_schedule(store, "nightly") is True
    assert remove_schedule(store, "nightly") is False


def test_the_worker_pool_runs_periodic_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "PERIODIC_SECONDS", 0.01)
    ran = threading.Event()
    failures = iter([RuntimeError("first run fails"), None])

    def job() -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        ran.set()

    store = open_sqlite()
    pool = WorkerPool(store, Integrations(), workers=0, invokers=0, periodic=[job]).start()
    try:
        assert ran.wait(5.0)  # ran again after the failure
    finally:
        pool.stop()
        store.close()


def test_the_host_fires_schedules_through_its_service(tmp_path: Path) -> None:
    clock = VirtualClock(START)
    host = Host(Settings(db=str(tmp_path / "host.db")), clock)
    try:
        assert host.pool is not None and host.schedules.fire_due in host.pool.periodic
        host.service.create_state_machine(
            {"name": "reprocess", "definition": json.dumps(ECHO), "roleArn": ROLE}
        )
        host.schedules.put(Schedule("every-5", "rate(5 minutes)", MACHINE, "{}"))
        clock.advance(300)
        (fired,) = host.schedules.fire_due()
        host.pool.worker.run_until_idle()
        described = host.service.describe_execution({"executionArn": fired.execution_arn})
        assert described["status"] == "SUCCEEDED"
    finally:
        host.store.close()  # the pool's threads were never started


def test_put_all_applies_a_whole_config(store: Store) -> None:
    schedules = Schedules(store, VirtualClock(START))
    config = schedules_from_config(
        [
            {"name": "a", "expression": "rate(1 day)", "state_machine": "reprocess"},
            {"name": "b", "expression": "rate(2 days)", "state_machine": "reprocess"},
        ]
    )
    assert [s.name for s in schedules.put_all(config)] == ["a", "b"]
    assert [s.name for s in schedules.list()] == ["a", "b"]


def test_a_scheduled_rule_put_through_the_eventbridge_api_fires_every_target(
    store: Store,
) -> None:
    # Schedules are EventBridge rules: a rule with a ScheduleExpression and several
    # targets, put with PutRule/PutTargets, is a schedule the runtime fires (User Guide,
    # "Creating a rule that runs on a schedule in Amazon EventBridge").
    h = Harness(store)
    h.create_machine()
    events = h.schedules.events
    queue = events.targets.queues.call("CreateQueue", {"QueueName": "ticks"})["QueueUrl"]
    events.call("PutRule", {"Name": "every-10", "ScheduleExpression": "rate(10 minutes)"})
    events.call(
        "PutTargets",
        {
            "Rule": "every-10",
            "Targets": [
                {"Id": "machine", "Arn": MACHINE, "Input": '{"from": "rule"}'},
                {
                    "Id": "queue",
                    "Arn": "arn:aws:sqs:us-east-1:123456789012:ticks",
                    "InputTransformer": {
                        "InputPathsMap": {"at": "$.time"},
                        "InputTemplate": '{"tick": <at>, "rule": "<aws.events.rule-name>"}',
                    },
                },
            ],
        },
    )
    assert [s["name"] for s in list_schedules(store, h.clock)] == ["every-10"]  # the CLI sees it
    h.clock.advance(600)
    machine, queued = h.schedules.fire_due()  # one firing per target
    assert machine.error is None and machine.execution_arn is not None
    assert (queued.error, queued.execution_arn) == (None, None)
    assert h.schedules.fire_due() == []
    h.worker.run_until_idle()
    (execution,) = h.executions()
    assert execution["name"] == "every-10-20240304T0912Z"
    described = h.service.describe_execution({"executionArn": execution["executionArn"]})
    assert json.loads(described["input"]) == {"from": "rule"}
    received = events.targets.queues.call("ReceiveMessage", {"QueueUrl": queue})["Messages"]
    assert [json.loads(m["Body"]) for m in received] == [
        {"tick": "2024-03-04T09:12:00Z", "rule": "every-10"}
    ]
    assert events.call("DescribeRule", {"Name": "every-10"})["ScheduleExpression"] == (
        "rate(10 minutes)"
    )


def test_disable_rule_pauses_a_schedule_without_replaying_missed_ticks(store: Store) -> None:
    h = Harness(store)
    h.create_machine()
    h.schedules.put(Schedule("every-5", "rate(5 minutes)", MACHINE, "{}"))
    h.schedules.events.call("DisableRule", {"Name": "every-5"})
    h.clock.advance(900)
    assert h.schedules.fire_due() == []
    h.schedules.events.call("EnableRule", {"Name": "every-5"})
    h.clock.advance(300)
    assert [f.tick for f in h.schedules.fire_due()] == [START + 1200]


def test_schedules_of_an_older_database_become_rules(store: Store) -> None:
    h = Harness(store)
    legacy = Schedule("old", "rate(1 hour)", MACHINE, "{}", created=START, last_tick=START + 3600)
    with store.documents("schedules") as docs:
        docs.put("old", json.dumps(asdict(legacy)).encode())
    (adopted,) = h.schedules.list()
    assert (adopted.name, adopted.expression, adopted.last_tick) == (
        "old",
        "rate(1 hour)",
        START + 3600,
    )
    assert h.schedules.events.call("DescribeRule", {"Name": "old"})["State"] == "ENABLED"
    with store.documents("schedules") as docs:
        assert docs.scan() == []


FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:tick"


def scheduled_rule(schedules: Schedules, name: str, target: str) -> None:
    events = schedules.events
    events.call("PutRule", {"Name": name, "ScheduleExpression": "rate(10 minutes)"})
    events.call("PutTargets", {"Rule": name, "Targets": [{"Id": "t", "Arn": target}]})


def test_two_workers_firing_a_tick_at_once_invoke_a_function_once(store: Store) -> None:
    # A function target has no name to make a repeat harmless (unlike a state machine's
    # execution): the tick is claimed before it is delivered, by one worker only.
    h = Harness(store)
    calls: list[str] = []
    other = Schedules(store, h.clock, h.service.start_execution)
    other.invoke_function = lambda arn, event, request_id: calls.append("other")

    def invoke_while_the_other_looks(arn: str, event: Any, request_id: str) -> None:
        calls.append("first")
        other.fire_due()  # before this worker records the tick

    first = Schedules(store, h.clock, h.service.start_execution)
    first.invoke_function = invoke_while_the_other_looks
    scheduled_rule(first, "every-10", FUNCTION)
    h.clock.advance(600)
    (fired,) = first.fire_due()
    assert fired.error is None
    assert calls == ["first"]
    assert first.fire_due() == [] and other.fire_due() == []


def test_one_schedule_failing_to_fire_stops_no_other(store: Store) -> None:
    h = Harness(store)
    h.create_machine()

    def broken(arn: str, event: Any, request_id: str) -> None:
        raise RuntimeError("the function binding broke")

    h.schedules.invoke_function = broken
    scheduled_rule(h.schedules, "a-broken", FUNCTION)
    scheduled_rule(h.schedules, "b-fine", MACHINE)
    h.clock.advance(600)
    (fired,) = h.schedules.fire_due()
    assert fired.schedule == "b-fine" and fired.execution_arn is not None
    assert [e["name"] for e in h.executions()] == ["b-fine-20240304T0912Z"]
