"""PostgreSQL's work notices name the queue they add to, so a worker process wakes only
the threads that can take the work (``WorkerPool.wake(queues=...)``): a step that adds
a task invocation does not send every idle advancer of every process to an empty lease.
Each schema (installation) has a channel of its own, so the notices these tests read are
their own even while other installations share the database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from stepwell.store.base import QUEUES, LeaseRequest, WorkItem
from stepwell.store.postgres import PostgresStore
from tests.conftest import POSTGRES_URL, SKIP_POSTGRES
from tests.store.test_contract import ARN, event_item, execution, outcome


@pytest.fixture
def pg_store() -> Iterator[PostgresStore]:
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    from stepwell.store.postgres import open_postgres

    opened = open_postgres(POSTGRES_URL, f"t_{uuid.uuid4().hex[:16]}")
    assert isinstance(opened, PostgresStore)
    opened.wait_for_work(0)  # LISTEN before the work below is added
    yield opened
    opened.close()
    opened.dialect.drop_schema()


def drain(store: PostgresStore) -> None:
    """Take every notice committed so far: PostgreSQL delivers a listener's pending
    notices before it answers a query, so one round trip on it brings them all."""
    store.dialect._listener.execute("SELECT 1")  # type: ignore[union-attr]
    store.wait_for_work(0)


def invoke_item(arn: str = ARN) -> WorkItem:
    return WorkItem(arn, "invoke", b"{}", 1.0)


def test_a_started_execution_announces_execution_work_only(pg_store: PostgresStore) -> None:
    pg_store.create_execution(execution(), event_item(1.0))
    assert pg_store.wait_for_work(30) == {"execution"}


def test_an_enqueued_invocation_announces_invoke_work_only(pg_store: PostgresStore) -> None:
    pg_store.enqueue(invoke_item())
    assert pg_store.wait_for_work(30) == {"invoke"}


def test_a_batch_of_steps_announces_the_queues_its_items_went_to(
    pg_store: PostgresStore,
) -> None:
    for n in (1, 2):
        pg_store.create_execution(execution(f"{ARN}{n}"), event_item(1.0, f"{ARN}{n}"))
    assert pg_store.wait_for_work(30) == {"execution"}
    drain(pg_store)  # the second start's notice may come after the first was taken
    first, second = pg_store.lease_executions(LeaseRequest("w1", now=10.0, lease_for=30, limit=2))
    pg_store.commit_steps(
        [
            (first, outcome(first, new_items=(invoke_item(f"{ARN}1"),))),
            (second, outcome(second)),
        ]
    )
    assert pg_store.wait_for_work(30) == {"invoke"}
    pg_store.create_execution(execution(f"{ARN}3"), event_item(1.0, f"{ARN}3"))
    assert pg_store.wait_for_work(30) == {"execution"}
    (third,) = pg_store.lease_executions(LeaseRequest("w1", now=10.0, lease_for=30, limit=1))
    both = (invoke_item(f"{ARN}3"), event_item(50.0, f"{ARN}3"))
    pg_store.commit_steps([(third, outcome(third, new_items=both))])
    assert pg_store.wait_for_work(30) == QUEUES


def test_a_notice_that_names_no_queue_wakes_every_kind(pg_store: PostgresStore) -> None:
    # As an older Stepwell (or an operator's NOTIFY) sends it.
    assert POSTGRES_URL
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'NOTIFY "{pg_store.dialect.channel}"')
    assert pg_store.wait_for_work(30) == QUEUES


def test_an_empty_lease_tells_the_same_thread_when_work_is_next_due(
    pg_store: PostgresStore,
) -> None:
    # The pool asks next_due right after a lease that found nothing: the lease's own
    # statement answered it. Asked once, and only just after; else the store is read.
    pg_store.create_execution(execution(), event_item(50.0))
    assert pg_store.lease_executions(LeaseRequest("w1", now=10.0, lease_for=30, limit=4)) == []
    pg_store.enqueue(event_item(30.0))  # after the lease: not in its answer
    assert pg_store.next_due(10.0) == 50.0
    assert pg_store.next_due(10.0) == 30.0
    assert pg_store.lease_executions(LeaseRequest("w1", now=10.0, lease_for=30, limit=4)) == []
    assert pg_store.next_due(20.0) == 30.0  # too long after the lease: read afresh
    (lease,) = pg_store.lease_executions(LeaseRequest("w1", now=60.0, lease_for=30, limit=4))
    assert len(lease.items) == 2
    assert pg_store.next_due(60.0) == 30.0  # a lease that found work says nothing
