"""PostgreSQL's batched commit is all or nothing even when a step's parameters cannot
be built: the worker treats a batch that raised as refused, so none of its steps may
have been committed behind its back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from stepwell.store.base import LeaseRequest, Store, StoreUnavailable
from tests.conftest import POSTGRES_URL, SKIP_POSTGRES
from tests.store.test_contract import ARN, event_item, execution, outcome


@pytest.fixture
def pg_store() -> Iterator[Store]:
    """The PostgreSQL store a server runs (its pipelined work path), in a schema of its own."""
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    from stepwell.store.postgres import open_postgres

    opened = open_postgres(POSTGRES_URL, f"t_{uuid.uuid4().hex[:16]}")
    yield opened
    opened.close()
    opened.dialect.drop_schema()  # type: ignore[attr-defined]


def test_a_step_whose_parameters_fail_commits_none_of_its_batch(pg_store: Store) -> None:
    for n in (1, 2):
        pg_store.create_execution(execution(f"{ARN}{n}"), event_item(1.0, f"{ARN}{n}"))
    first, second = pg_store.lease_executions(LeaseRequest("w1", now=10.0, lease_for=30, limit=2))
    event = {"id": 1, "type": "ExecutionStarted", "timestamp": 20.0}
    unwritable = {"id": 1, "type": "ExecutionStarted", "timestamp": object()}
    with pytest.raises(TypeError):
        pg_store.commit_steps(
            [
                (first, outcome(first, events=(event,), state=b"first")),
                (second, outcome(second, events=(unwritable,))),
            ]
        )
    assert pg_store.history(f"{ARN}1") == []


def test_connections_beside_an_exhausted_pool_are_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Plain overload: the pool's connections are all lent. A few requests get one of
    # their own (as after a restart, while the pool backs off); the next one is told
    # the database is unavailable instead of opening yet another server connection.
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    from stepwell.store import postgres

    monkeypatch.setattr(postgres, "POOL_TIMEOUT", 0.05)
    dialect = postgres.PostgresDialect(POSTGRES_URL, f"t_{uuid.uuid4().hex[:16]}", pool_size=1)
    try:
        with ExitStack() as held:
            lent = [
                held.enter_context(dialect.connection())
                for _ in range(1 + postgres.OWN_CONNECTIONS)
            ]
            assert all(conn.execute("SELECT 1").fetchone() == (1,) for conn in lent)
            with pytest.raises(StoreUnavailable), dialect.connection():
                pass
        with dialect.connection() as conn:  # all given back: lent again
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        dialect.close()
        dialect.drop_schema()
