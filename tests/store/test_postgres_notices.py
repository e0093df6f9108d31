"""PostgreSQL's work notices name the queue they add to, so a worker process wakes only
the threads that can take the work (``WorkerPool.wake(queues=...)``): a step that adds
a task invocation does not send every idle advancer of every process to an empty lease."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from stepwell.store.base import QUEUES, LeaseRequest, WorkItem
from stepwell.store.postgres import CHANNEL, PostgresStore
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
    first, second = pg_store.lease_executions(LeaseRequest("w1", now=10.0, lease_for=30, limit=2))
    pg_store.commit_steps(
        [
            (first, outcome(first, new_items=(invoke_item(f"{ARN}1"),))),
            (second, outcome(second)),
        ]
    )
    assert pg_store.wait_for_work(30) == {"invoke"}
    pg_store.enqueue(event_item(2.0, f"{ARN}2"))
    pg_store.enqueue(invoke_item(f"{ARN}2"))
    assert pg_store.wait_for_work(30) == QUEUES  # both, in one wake-up


def test_a_notice_that_names_no_queue_wakes_every_kind(pg_store: PostgresStore) -> None:
    # As an older Stepwell (or an operator's NOTIFY) sends it.
    assert POSTGRES_URL
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"NOTIFY {CHANNEL}")
    assert pg_store.wait_for_work(30) == QUEUES
