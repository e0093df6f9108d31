"""The store contract, for what the service adds: reopening a closed execution
(``redrive_execution``) and replacing an activity (its tags). Every store passes these."""

from __future__ import annotations

from dataclasses import replace

from stepwell.store.base import ActivityRecord, ExecutionRecord, StepOutcome, Store, WorkItem

ARN = "arn:aws:states:us-east-1:123456789012:execution:m:e"
MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:m"


def failed_execution(store: Store) -> ExecutionRecord:
    """An execution that ran one step and failed, leaving a future timer behind."""
    record = ExecutionRecord(ARN, MACHINE_ARN, "e", "RUNNING", "{}", 10.0)
    store.create_execution(record, WorkItem(ARN, "start", b"{}", 10.0))
    lease = store.lease_execution("w", 10.0, 30.0)
    assert lease is not None
    failed = replace(record, status="FAILED", stop_date=11.0, error="E")
    store.commit_step(
        lease,
        StepOutcome(
            execution=failed,
            state=None,
            events=({"id": 1, "type": "ExecutionStarted", "timestamp": 10.0},),
            new_items=(WorkItem(ARN, "event", b"stale timer", 500.0),),
            done_items=tuple(i.id for i in lease.items if i.id is not None),
        ),
    )
    return failed


def test_redrive_reopens_a_closed_execution(store: Store) -> None:
    failed = failed_execution(store)
    reopened = replace(failed, status="RUNNING", stop_date=None, redrive_count=1, redrive_date=20.0)
    event = {"id": 2, "type": "ExecutionRedriven", "timestamp": 20.0}
    timer = WorkItem(ARN, "event", b"retry now", 20.0)
    assert store.redrive_execution(reopened, failed, b"resumed", (event,), (timer,))
    assert store.get_execution(ARN) == reopened
    assert [e["type"] for e in store.history(ARN)] == ["ExecutionStarted", "ExecutionRedriven"]
    lease = store.lease_execution("w2", 600.0, 30.0)
    assert lease is not None
    assert lease.state == b"resumed"
    assert [i.payload for i in lease.items] == [b"retry now"]  # the stale timer is gone


def test_redrive_refuses_an_execution_that_changed(store: Store) -> None:
    failed = failed_execution(store)
    reopened = replace(failed, status="RUNNING", redrive_count=1)
    assert store.redrive_execution(reopened, failed, b"s", (), ())
    assert not store.redrive_execution(reopened, failed, b"again", (), ())
    assert store.get_execution(ARN) == reopened
    unknown = replace(reopened, arn=ARN + "-missing")
    assert not store.redrive_execution(unknown, failed, b"s", (), ())


def test_redrive_refuses_an_execution_redriven_since_it_was_read(store: Store) -> None:
    """Two redrives planned from the same failed attempt: the first reopens it; once it
    has failed again (FAILED, as read), the second still finds another attempt and
    writes nothing (its events would repeat the first's ids)."""
    failed = failed_execution(store)
    first = replace(failed, status="RUNNING", stop_date=None, redrive_count=1)
    event = {"id": 2, "type": "ExecutionRedriven", "timestamp": 20.0}
    go = WorkItem(ARN, "event", b"go", 20.0)
    assert store.redrive_execution(first, failed, b"s", (event,), (go,))
    lease = store.lease_execution("w", 30.0, 30.0, ARN)
    again = replace(first, status="FAILED", stop_date=31.0)
    ended = {"id": 3, "type": "ExecutionFailed", "timestamp": 31.0}
    assert lease is not None
    done = tuple(i.id for i in lease.items if i.id is not None)
    assert store.commit_step(lease, StepOutcome(again, None, (ended,), (), done))
    assert not store.redrive_execution(first, failed, b"second", (event,), ())
    assert store.get_execution(ARN) == again
    assert [e["id"] for e in store.history(ARN)] == [1, 2, 3]
    # An Express Map Run child restarts under its ARN with the same redrive count: a new
    # start date is another attempt too.
    restarted = replace(again, start_date=40.0, stop_date=41.0)
    assert not store.redrive_execution(
        replace(restarted, status="RUNNING"), restarted, b"x", (), ()
    )


def test_replace_activity(store: Store) -> None:
    activity = ActivityRecord("arn:aws:states:us-east-1:123456789012:activity:a", "a", 1.0)
    store.replace_activity(activity)  # absent: nothing happens
    assert store.get_activity(activity.arn) is None
    store.insert_activity(activity)
    tagged = replace(activity, tags={"team": "x"})
    store.replace_activity(tagged)
    assert store.get_activity(activity.arn) == tagged
