"""History stored a run of events to a row (``sql.event_rows``): a step's events come
back whole and in order however many rows they take, on every store, and the SQL stores
still read databases whose rows hold one event each (the layout before, which
PostgreSQL's earlier step commits wrote too)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from stepwell.store.base import Store, WorkItem
from stepwell.store.sql import EVENTS_PER_ROW, SqlStore
from tests.conftest import drop_test_store, open_test_store
from tests.store.test_contract import ARN, execution, outcome


def events(first: int, count: int) -> tuple[dict[str, object], ...]:
    return tuple({"id": i, "type": "PassStateEntered", "n": i} for i in range(first, first + count))


def step(store: Store, added: tuple[dict[str, object], ...], now: float) -> None:
    lease = store.lease_execution("w", now=now, lease_for=30)
    assert lease is not None
    assert store.commit_step(
        lease, outcome(lease, events=added, new_items=(WorkItem(ARN, "event", b"{}", now + 1),))
    )


def test_a_step_of_more_events_than_a_row_holds_reads_back_whole(store: Store) -> None:
    store.create_execution(execution(), WorkItem(ARN, "start", b"{}", 10.0))
    big = EVENTS_PER_ROW * 2 + 5  # three rows on a SQL store
    step(store, events(1, big), now=20.0)
    step(store, events(big + 1, 1), now=21.0)
    step(store, events(big + 2, EVENTS_PER_ROW), now=22.0)  # exactly one full row
    history = store.history(ARN)
    assert [e["id"] for e in history] == list(range(1, big + 2 + EVENTS_PER_ROW))
    assert history[EVENTS_PER_ROW] == {
        "id": EVENTS_PER_ROW + 1,
        "type": "PassStateEntered",
        "n": EVENTS_PER_ROW + 1,
    }


@pytest.fixture(params=["sqlite", "postgres"])
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    opened, handle = open_test_store(request.param, tmp_path)
    assert isinstance(opened, SqlStore)
    yield opened
    drop_test_store(opened, handle)


def test_rows_of_one_event_each_read_with_runs_in_id_order(sql_store: SqlStore) -> None:
    sql_store.create_execution(execution(), WorkItem(ARN, "start", b"{}", 10.0))
    with sql_store.dialect.transaction() as cur:  # the layout before: an event to a row
        cur.executemany(
            sql_store.q["insert_event"],
            [(ARN, e["id"], orjson.dumps(e).decode()) for e in events(1, 3)],
        )
    step(sql_store, events(4, 3), now=20.0)
    with sql_store.dialect.transaction() as cur:
        cur.executemany(
            sql_store.q["insert_event"], [(ARN, 7, orjson.dumps(events(7, 1)[0]).decode())]
        )
    assert [e["id"] for e in sql_store.history(ARN)] == [1, 2, 3, 4, 5, 6, 7]
