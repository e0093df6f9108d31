"""The store contract: every store (memory, SQLite, PostgreSQL) passes these tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from stepwell.store.base import (
    ActivityRecord,
    ExecutionRecord,
    Lease,
    LeaseRequest,
    StateMachineRecord,
    StepOutcome,
    Store,
    TaskToken,
    WorkItem,
)

ARN = "arn:aws:states:us-east-1:123456789012:execution:m:e"
MACHINE = StateMachineRecord(
    arn="arn:aws:states:us-east-1:123456789012:stateMachine:m",
    name="m",
    type="STANDARD",
    definition="{}",
    role_arn="role",
    creation_date=1.0,
    revision_id="r1",
)


def execution(arn: str = ARN, start: float = 10.0, status: str = "RUNNING") -> ExecutionRecord:
    return ExecutionRecord(
        arn=arn,
        state_machine_arn=MACHINE.arn,
        name=arn.rsplit(":", 1)[1],
        status=status,
        input="{}",
        start_date=start,
    )


def event_item(due: float, arn: str = ARN, payload: bytes = b"{}") -> WorkItem:
    return WorkItem(arn, "event", payload, due)


def outcome(lease: Any, **changes: Any) -> StepOutcome:
    fields: dict[str, Any] = {
        "execution": lease.execution,
        "state": b"state",
        "events": (),
        "new_items": (),
        "done_items": tuple(i.id for i in lease.items),
    }
    fields.update(changes)
    return StepOutcome(**fields)


def test_state_machines_round_trip(store: Store) -> None:
    store.insert_state_machine(MACHINE)
    assert store.get_state_machine(MACHINE.arn) == MACHINE
    updated = replace(MACHINE, definition='{"changed": true}', revision_id="r2")
    store.replace_state_machine(updated)
    assert store.get_state_machine(MACHINE.arn) == updated
    assert store.list_state_machines() == [updated]
    store.delete_state_machine(MACHINE.arn)
    assert store.get_state_machine(MACHINE.arn) is None


def test_an_execution_record_keeps_integers_past_64_bits_exact(store: Store) -> None:
    """A failed top-level Parallel keeps its finished branches' outputs in the record
    (``redrive_keeps``), user data that may hold any integer: stored and read exactly
    (orjson refuses integers past 64 bits; StartExecution raised TypeError, a 500)."""
    keeps = {"state": "Par", "done": [[0, {"n": 2**100 + 1, "m": -(2**70)}]]}
    record = replace(execution(), status="FAILED", redrive_keeps=keeps)
    store.create_execution(record, WorkItem(ARN, "start", b"{}", 10.0))
    found = store.get_execution(ARN)
    assert found is not None and found.redrive_keeps == keeps
    assert type(found.redrive_keeps["done"][0][1]["n"]) is int


def test_create_execution_once_per_arn(store: Store) -> None:
    record, created = store.create_execution(execution(), WorkItem(ARN, "start", b"{}", 10.0))
    assert created
    again, created_again = store.create_execution(
        execution(start=99.0), WorkItem(ARN, "start", b"{}", 99.0)
    )
    assert not created_again and again.start_date == 10.0
    assert store.get_execution(ARN) == record


def test_list_executions_newest_first_with_filters(store: Store) -> None:
    for n, status in ((1, "RUNNING"), (2, "RUNNING"), (3, "SUCCEEDED")):
        arn = f"{ARN}{n}"
        record = execution(arn, start=float(n), status=status)
        store.create_execution(record, WorkItem(arn, "start", b"{}", float(n)))
    assert [r.name for r in store.list_executions(MACHINE.arn, None)] == ["e3", "e2", "e1"]
    assert [r.name for r in store.list_executions(None, "RUNNING")] == ["e2", "e1"]
    assert store.list_executions("other", None) == []


def test_lease_takes_due_items_in_order_and_excludes_others(store: Store) -> None:
    store.create_execution(execution(), WorkItem(ARN, "start", b"{}", 10.0))
    store.enqueue(event_item(12.0, payload=b"second"))
    store.enqueue(event_item(50.0, payload=b"later"))
    assert store.lease_execution("w1", now=5.0, lease_for=30) is None  # nothing due yet
    lease = store.lease_execution("w1", now=20.0, lease_for=30)
    assert lease is not None
    assert [i.kind for i in lease.items] == ["start", "event"]
    assert lease.items[1].payload == b"second"
    assert lease.state is None
    assert store.lease_execution("w2", now=21.0, lease_for=30) is None  # leased by w1


def test_commit_applies_everything_and_bumps_the_version(store: Store) -> None:
    store.create_execution(execution(), WorkItem(ARN, "start", b"{}", 10.0))
    lease = store.lease_execution("w1", now=20.0, lease_for=30)
    assert lease is not None
    token = TaskToken("tok", ARN, frame=0, seq=1, created=20.0)
    events = (
        {"id": 1, "type": "ExecutionStarted", "timestamp": 20.0},
        {"id": 2, "type": "PassStateEntered", "timestamp": 20.0},
    )
    assert store.commit_step(
        lease, outcome(lease, events=events, tokens=(token,), new_items=(event_item(100.0),))
    )
    assert [e["type"] for e in store.history(ARN)] == ["ExecutionStarted", "PassStateEntered"]
    assert store.get_task_token("tok") == token
    assert store.next_due(20.0) == 100.0
    again = store.lease_execution("w2", now=100.0, lease_for=30)
    assert again is not None and again.state == b"state" and again.version == lease.version + 1


def test_a_stale_lease_cannot_commit(store: Store) -> None:
    store.create_execution(execution(), WorkItem(ARN, "start", b"{}", 10.0))
    stale = store.lease_execution("w1", now=20.0, lease_for=5)
    assert stale is not None
    fresh = store.lease_execution("w2", now=30.0, lease_for=5)  # w1's lease expired at 25
    assert fresh is not None
    assert store.commit_step(fresh, outcome(fresh))
    assert not store.commit_step(stale, outcome(stale, state=b"lost"))
    assert store.history(ARN) == []


def test_a_batch_lease_takes_the_oldest_due_executions_with_all_their_due_items(
    store: Store,
) -> None:
    for n in (3, 1, 2, 4):
        store.create_execution(execution(f"{ARN}{n}"), event_item(float(n), f"{ARN}{n}"))
    store.enqueue(event_item(1.5, f"{ARN}1", payload=b"second"))
    store.enqueue(event_item(99.0, f"{ARN}1", payload=b"not due"))
    held = store.lease_execution("w0", now=10.0, lease_for=30, arn=f"{ARN}2")
    assert held is not None
    leases = store.lease_executions(LeaseRequest("w1", now=10.0, lease_for=30, limit=2))
    assert [lease.execution.arn for lease in leases] == [f"{ARN}1", f"{ARN}3"]
    assert [item.payload for item in leases[0].items] == [b"{}", b"second"]
    assert {lease.owner for lease in leases} == {"w1"}
    rest = store.lease_executions(LeaseRequest("w2", now=10.0, lease_for=30, limit=5))
    assert [lease.execution.arn for lease in rest] == [f"{ARN}4"]
    assert store.lease_executions(LeaseRequest("w3", now=10.0, lease_for=30, limit=5)) == []


def test_a_batch_commit_refuses_only_the_lost_lease_and_leases_the_next_batch(
    store: Store,
) -> None:
    for n in (1, 2):
        store.create_execution(execution(f"{ARN}{n}"), event_item(1.0, f"{ARN}{n}"))
    first, second = store.lease_executions(LeaseRequest("w1", now=10.0, lease_for=5, limit=2))
    taken = store.lease_execution("w2", now=20.0, lease_for=30, arn=f"{ARN}2")  # w1 too slow
    assert taken is not None
    event = {"id": 1, "type": "ExecutionStarted", "timestamp": 20.0}
    token = TaskToken("tok", f"{ARN}1", frame=0, seq=1, created=20.0)
    committed, leased = store.commit_steps(
        [
            (
                first,
                outcome(
                    first,
                    events=(event,),
                    tokens=(token,),
                    new_items=(event_item(20.0, f"{ARN}1", payload=b"next"),),
                ),
            ),
            (second, outcome(second, events=(event,), state=b"lost")),
        ],
        LeaseRequest("w1", now=20.0, lease_for=30, limit=4),
    )
    assert committed == [True, False]
    assert [e["type"] for e in store.history(f"{ARN}1")] == ["ExecutionStarted"]
    assert store.history(f"{ARN}2") == []
    assert store.get_task_token("tok") == token
    assert [(lease.execution.arn, [i.payload for i in lease.items]) for lease in leased] == [
        (f"{ARN}1", [b"next"])  # added by the commit, leased in the same call
    ]
    assert leased[0].version == first.version + 1 and leased[0].state == b"state"


def test_a_batch_commit_that_ends_an_execution_keeps_none_of_its_tokens(store: Store) -> None:
    store.create_execution(execution(), event_item(1.0))
    (lease,) = store.lease_executions(LeaseRequest("w1", now=10.0, lease_for=30, limit=1))
    token = TaskToken("tok", ARN, frame=0, seq=1, created=10.0)
    new_event = event_item(11.0)
    assert store.commit_steps(
        [(lease, outcome(lease, tokens=(token,), new_items=(new_event,)))]
    ) == ([True], [])
    assert store.get_task_token("tok") == token
    (last,) = store.lease_executions(LeaseRequest("w1", now=12.0, lease_for=30, limit=1))
    done = replace(last.execution, status="SUCCEEDED")
    later = TaskToken("later", ARN, frame=0, seq=2, created=12.0)
    committed, _ = store.commit_steps([(last, outcome(last, execution=done, tokens=(later,)))])
    assert committed == [True]
    assert store.get_task_token("tok") is None and store.get_task_token("later") is None


def test_release_lets_another_worker_lease(store: Store) -> None:
    store.create_execution(execution(), WorkItem(ARN, "start", b"{}", 10.0))
    lease = store.lease_execution("w1", now=20.0, lease_for=30)
    assert lease is not None
    store.release(lease)
    assert store.lease_execution("w2", now=21.0, lease_for=30) is not None


def test_invocations_are_leased_and_finished_once(store: Store) -> None:
    store.create_execution(execution(), WorkItem(ARN, "start", b"{}", 10.0))
    store.enqueue(WorkItem(ARN, "invoke", b"call", 10.0))
    items = store.lease_invocations("w1", now=20.0, lease_for=30, limit=10)
    assert [i.payload for i in items] == [b"call"]
    assert store.lease_invocations("w2", now=21.0, lease_for=30, limit=10) == []
    retaken = store.lease_invocations("w2", now=60.0, lease_for=30, limit=10)  # w1 timed out
    assert [i.id for i in retaken] == [items[0].id]
    assert not store.finish_invocation(items[0], "w1", event_item(61.0))  # w1 lost it
    assert store.finish_invocation(retaken[0], "w2", event_item(61.0, payload=b"result"))
    lease = store.lease_execution("w3", now=70.0, lease_for=30)
    assert lease is not None and [i.payload for i in lease.items] == [b"{}", b"result"]


def test_task_tokens_resolve_once(store: Store) -> None:
    store.create_execution(execution(), WorkItem(ARN, "start", b"{}", 10.0))
    lease = store.lease_execution("w1", now=20.0, lease_for=30)
    assert lease is not None
    store.commit_step(lease, outcome(lease, tokens=(TaskToken("t", ARN, 0, 1, 20.0),)))
    assert store.resolve_task_token("t", event_item(21.0, payload=b"ok"))
    assert not store.resolve_task_token("t", event_item(22.0))
    assert store.get_task_token("t") is None


def test_finished_execution_drops_its_tokens(store: Store) -> None:
    store.create_execution(execution(), WorkItem(ARN, "start", b"{}", 10.0))
    lease = store.lease_execution("w1", now=20.0, lease_for=30)
    assert lease is not None
    store.commit_step(lease, outcome(lease, tokens=(TaskToken("t", ARN, 0, 1, 20.0),)))
    store.enqueue(event_item(30.0))
    second = store.lease_execution("w1", now=30.0, lease_for=30)
    assert second is not None
    done = replace(second.execution, status="SUCCEEDED")
    store.commit_step(second, outcome(second, execution=done, state=None))
    assert store.get_task_token("t") is None
    assert store.get_execution(ARN) == done


def test_activity_tasks_go_to_one_worker(store: Store) -> None:
    activity = ActivityRecord("arn:aws:states:us-east-1:123456789012:activity:a", "a", 1.0)
    store.insert_activity(activity)
    assert store.list_activities() == [activity]
    store.create_execution(execution(), WorkItem(ARN, "start", b"{}", 10.0))
    lease = store.lease_execution("w1", now=20.0, lease_for=30)
    assert lease is not None
    token = TaskToken("t", ARN, 0, 1, 20.0, activity_arn=activity.arn, input='{"x":1}')
    store.commit_step(lease, outcome(lease, tokens=(token,)))
    taken = store.lease_activity_task(activity.arn, "worker-1")
    assert taken is not None and taken.status == "STARTED" and taken.input == '{"x":1}'
    assert store.lease_activity_task(activity.arn, "worker-2") is None
    store.delete_activity(activity.arn)
    assert store.get_activity(activity.arn) is None


def test_lease_a_named_execution_only(store: Store) -> None:
    for suffix in ("1", "2"):
        store.create_execution(execution(ARN + suffix), WorkItem(ARN + suffix, "start", b"{}", 1.0))
    lease = store.lease_execution("w1", now=5.0, lease_for=30, arn=ARN + "2")
    assert lease is not None and lease.execution.arn == ARN + "2"
    assert store.lease_execution("w2", now=5.0, lease_for=30, arn=ARN + "2") is None
    assert store.lease_execution("w1", now=5.0, lease_for=30) is not None  # e1, not e2
    assert store.lease_execution("w1", now=5.0, lease_for=30, arn=ARN + "3") is None


def test_documents_commit_together_or_not_at_all(store: Store) -> None:
    with store.documents("tables") as docs:
        docs.put("t/a", b"1")
        docs.put("t/b", b"2")
        docs.put("u/c", b"3")
    try:
        with store.documents("tables") as docs:
            docs.put("t/a", b"changed")
            docs.delete("t/b")
            raise RuntimeError("abandon")
    except RuntimeError:
        pass
    with store.documents("tables") as docs:
        assert docs.scan("t/") == [("t/a", b"1"), ("t/b", b"2")]
        assert docs.get("u/c") == b"3"
        assert docs.get("missing") is None
        docs.put("t/a", b"changed")
        docs.delete("t/b")
    with store.documents("tables") as docs:
        assert docs.scan() == [("t/a", b"changed"), ("u/c", b"3")]
    with store.documents("other") as docs:
        assert docs.scan() == []


def test_peek_reads_a_committed_document_without_a_transaction(store: Store) -> None:
    with store.documents("nested") as docs:
        docs.put("child", b"link")
    assert store.peek("nested", ["child", "other"]) == {"child": b"link"}
    assert store.peek("nested", []) == {}
    assert store.peek("tables", ["child"]) == {}
    with store.documents("nested") as docs:
        docs.delete("child")
    assert store.peek("nested", ["child"]) == {}


def test_the_creator_holds_a_new_executions_lease(store: Store) -> None:
    store.create_execution(execution(), WorkItem(ARN, "start", b"{}", 1.0), ("api", 31.0))
    assert store.lease_execution("pool", now=2.0, lease_for=30) is None  # held by its creator
    lease = store.lease_execution("api", now=2.0, lease_for=30, arn=ARN)
    assert lease is not None and [i.kind for i in lease.items] == ["start"]
    assert store.commit_step(lease, outcome(lease))
    later = store.create_execution(
        execution(ARN + "x"), WorkItem(ARN + "x", "start", b"{}", 1.0), ("crashed", 31.0)
    )
    assert later[1]
    assert store.lease_execution("pool", now=40.0, lease_for=30) is not None  # lease ran out


def test_the_contract_runs_against_the_store_a_server_opens(store: Store) -> None:
    """Each store here is the class ``open_store`` gives a server for that backend, so the
    contract covers the code a server runs (PostgreSQL's pipelined ``PostgresStore``)."""
    from stepwell.store.memory import MemoryStore
    from stepwell.store.sql import SqlStore

    dialect = getattr(store, "dialect", None)
    if dialect is None:
        assert type(store) is MemoryStore
    elif type(dialect).__name__ == "SqliteDialect":
        assert type(store) is SqlStore
    else:
        from stepwell.store.postgres import PostgresStore

        assert type(store) is PostgresStore


def test_create_execution_writes_its_first_step_with_it(store: Store) -> None:
    """StartExecution in one transaction: the step computed from a lease of version 0
    holding the start item is written instead of that item, and the lease released."""
    first = WorkItem(ARN, "start", b"{}", 1.0)
    ahead = Lease(execution(), None, 0, (first,), "api")
    timer = event_item(3600.0)
    step = outcome(ahead, new_items=(timer,), events=({"id": 1, "type": "ExecutionStarted"},))
    assert store.create_execution(execution(), first, ("api", 31.0), step)[1]
    assert store.history(ARN) == [{"id": 1, "type": "ExecutionStarted"}]
    assert store.lease_execution("pool", now=2.0, lease_for=30) is None  # no start item left
    assert store.next_due(2.0) == 3600.0
    lease = store.lease_execution("pool", now=3600.0, lease_for=30)
    assert lease is not None and lease.version == 1 and lease.state == b"state"
    # The same ARN again: nothing is written, the stored execution is returned.
    again = store.create_execution(execution(), first, ("api", 31.0), step)
    assert again == (execution(), False)
    assert len(store.history(ARN)) == 1


def test_a_task_outcome_is_applied_with_its_token_in_one_transaction(store: Store) -> None:
    """SendTaskSuccess in one transaction: the token is used and the step computed from
    the execution as peeked (no lease taken) is written, its due items consumed."""
    store.create_execution(execution(), WorkItem(ARN, "start", b"{}", 10.0))
    lease = store.lease_execution("w1", now=20.0, lease_for=30)
    assert lease is not None
    store.commit_step(lease, outcome(lease, tokens=(TaskToken("t", ARN, 0, 1, 20.0),)))
    store.enqueue(event_item(21.0, payload=b"heartbeat"))
    seen = store.peek_lease(ARN, 25.0)
    assert seen is not None and [i.payload for i in seen.items] == [b"heartbeat"]
    success = event_item(25.0, payload=b"ok")
    ahead = replace(seen, items=(*seen.items, success))
    done = replace(seen.execution, status="SUCCEEDED")
    step = outcome(ahead, execution=done, state=None, done_items=(seen.items[0].id,))
    assert store.resolve_and_step("t", success, ahead, step, 25.0) == (True, True)
    assert store.get_execution(ARN) == done
    assert store.get_task_token("t") is None
    assert store.lease_execution("w2", now=30.0, lease_for=30) is None  # nothing left due
    assert store.resolve_and_step("t", success, ahead, step, 26.0) == (False, False)


def test_a_task_outcome_is_queued_if_the_execution_changed_since_it_was_peeked(
    store: Store,
) -> None:
    """Leased (or stepped) by another worker since the peek: the token is still used,
    and the outcome goes to the queue for that worker's next step; nothing else is
    written."""
    store.create_execution(execution(), WorkItem(ARN, "start", b"{}", 10.0))
    lease = store.lease_execution("w1", now=20.0, lease_for=30)
    assert lease is not None
    tokens = (TaskToken("t", ARN, 0, 1, 20.0), TaskToken("u", ARN, 0, 2, 20.0))
    store.commit_step(lease, outcome(lease, tokens=tokens))
    store.enqueue(event_item(21.0))
    seen = store.peek_lease(ARN, 25.0)
    assert seen is not None
    held = store.lease_execution("pool", now=25.0, lease_for=30)  # a pool thread, meanwhile
    assert held is not None
    assert store.peek_lease(ARN, 26.0) is None  # leased: nothing to peek
    success = event_item(26.0, payload=b"ok")
    ahead = replace(seen, items=(*seen.items, success))
    step = outcome(ahead, execution=replace(seen.execution, status="SUCCEEDED"), state=None)
    assert store.resolve_and_step("t", success, ahead, step, 26.0) == (True, False)
    assert store.get_task_token("t") is None
    assert store.get_execution(ARN) == seen.execution  # the step was not written
    assert store.commit_step(held, outcome(held))  # the pool thread's lease still holds
    queued = store.lease_execution("pool", now=27.0, lease_for=30)
    assert queued is not None and [i.payload for i in queued.items] == [b"ok"]
    # Stepped (a new version) since the peek: the same.
    store.commit_step(queued, outcome(queued))
    stale = replace(ahead, version=queued.version)
    assert store.resolve_and_step("u", success, stale, step, 28.0) == (True, False)
    assert store.get_execution(ARN) == seen.execution


def test_next_due_is_the_earliest_execution_item_or_invocation_not_leased(store: Store) -> None:
    """What an idle thread sleeps until: any item of the execution queue, and the
    invocations nobody holds; a held invocation counts again once its lease runs out."""
    assert store.next_due(50.0) is None
    store.create_execution(execution(), WorkItem(ARN, "start", b"{}", 500.0))
    for due in (900.0, 700.0):
        store.enqueue(event_item(due))
    assert store.next_due(50.0) == 500.0
    store.enqueue(WorkItem(ARN, "invoke", b"call", 100.0))
    assert store.next_due(50.0) == 100.0
    assert [i.payload for i in store.lease_invocations("w1", 150.0, 60.0, 10)] == [b"call"]
    assert store.next_due(160.0) == 500.0  # held until 210
    assert store.next_due(211.0) == 100.0  # its lease ran out: due again (and overdue)


def test_peek_lease_gives_the_due_items_in_order_and_no_others(store: Store) -> None:
    """As leasing would: the execution queue's items due at ``now``, by due time then
    id; later ones, other executions' and invocations stay out; none due is no items."""
    other = f"{ARN}-other"
    store.create_execution(execution(), WorkItem(ARN, "start", b"{}", 10.0))
    store.create_execution(execution(other), WorkItem(other, "start", b"{}", 10.0))
    for due, payload in ((30.0, b"c"), (20.0, b"a"), (20.0, b"b"), (99.0, b"later")):
        store.enqueue(event_item(due, payload=payload))
    store.enqueue(WorkItem(ARN, "invoke", b"call", 15.0))
    seen = store.peek_lease(ARN, 40.0)
    assert seen is not None and seen.version == 0 and seen.state is None
    assert [i.payload for i in seen.items] == [b"{}", b"a", b"b", b"c"]
    assert all(i.execution_arn == ARN and i.kind != "invoke" for i in seen.items)
    assert store.peek_lease(ARN, 5.0) == replace(seen, items=())
    assert store.peek_lease(f"{ARN}-missing", 40.0) is None


def test_a_first_step_that_ends_the_execution_is_stored_as_ended(store: Store) -> None:
    """The stepped row, written at once: its record and status are the step's (a
    status filter finds it), with no lease left for anyone to wait out."""
    first = WorkItem(ARN, "start", b"{}", 1.0)
    ahead = Lease(execution(), None, 0, (first,), "api")
    done = replace(execution(), status="SUCCEEDED", stop_date=2.0, output="{}")
    step = outcome(ahead, execution=done, state=None, done_items=())
    assert store.create_execution(execution(), first, ("api", 31.0), step) == (execution(), True)
    assert store.get_execution(ARN) == done
    assert store.list_executions(MACHINE.arn, "SUCCEEDED") == [done]
    assert store.list_executions(MACHINE.arn, "RUNNING") == []
    store.enqueue(event_item(3.0))  # a late event: leasable at once, by anyone
    lease = store.lease_execution("pool", now=3.0, lease_for=30)
    assert lease is not None and lease.version == 1 and lease.execution == done
