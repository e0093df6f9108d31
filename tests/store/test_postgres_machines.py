"""PostgreSQL stores cache state machine records while they listen for the trigger's
notices of change (``store.postgres.StateMachineCache``): a change made through another
store on the same schema, as by another process, reaches every store; a store's own
change is seen at once; and a cache whose listener is gone reads the table again."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest

from stepwell.store.base import StateMachineRecord, Store
from tests.conftest import POSTGRES_URL, SKIP_POSTGRES
from tests.store.test_contract import MACHINE

# Only how long to keep looking for a notice that must come, not a speed that is tested.
PATIENCE = 30.0


@pytest.fixture
def two_stores() -> Iterator[tuple[Store, Store]]:
    """Two stores on one schema: each with its pool, its cache and its listener."""
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    from stepwell.store.postgres import open_postgres

    schema = f"t_{uuid.uuid4().hex[:16]}"
    first, second = open_postgres(POSTGRES_URL, schema), open_postgres(POSTGRES_URL, schema)
    yield first, second
    first.close()
    second.close()
    first.dialect.drop_schema()  # type: ignore[attr-defined]


def seen_eventually(store: Store, expected: StateMachineRecord | None) -> StateMachineRecord | None:
    deadline = time.monotonic() + PATIENCE
    found = store.get_state_machine(MACHINE.arn)
    while found != expected and time.monotonic() < deadline:
        time.sleep(0.01)
        found = store.get_state_machine(MACHINE.arn)
    return found


def test_a_change_through_another_store_reaches_the_cache(
    two_stores: tuple[Store, Store],
) -> None:
    reader, writer = two_stores
    writer.insert_state_machine(MACHINE)
    assert seen_eventually(reader, MACHINE) == MACHINE
    assert reader.get_state_machine(MACHINE.arn) == MACHINE  # kept: read again from the cache
    updated = replace(MACHINE, definition='{"Comment": "2"}', revision_id="r2")
    writer.replace_state_machine(updated)
    assert seen_eventually(reader, updated) == updated
    writer.delete_state_machine(MACHINE.arn)
    assert seen_eventually(reader, None) is None


def test_a_stores_own_change_is_seen_at_once(two_stores: tuple[Store, Store]) -> None:
    store, _ = two_stores
    store.insert_state_machine(MACHINE)
    assert store.get_state_machine(MACHINE.arn) == MACHINE
    updated = replace(MACHINE, definition='{"Comment": "2"}', revision_id="r2")
    store.replace_state_machine(updated)
    assert store.get_state_machine(MACHINE.arn) == updated
    store.delete_state_machine(MACHINE.arn)
    assert store.get_state_machine(MACHINE.arn) is None


def test_a_cache_whose_listener_is_gone_reads_the_table(two_stores: tuple[Store, Store]) -> None:
    import psycopg

    reader, writer = two_stores
    writer.insert_state_machine(MACHINE)
    assert seen_eventually(reader, MACHINE) == MACHINE
    listener = reader.machines._conn  # type: ignore[attr-defined]
    assert listener is not None
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (listener.info.backend_pid,))
    updated = replace(MACHINE, definition='{"Comment": "2"}', revision_id="r2")
    writer.replace_state_machine(updated)
    assert seen_eventually(reader, updated) == updated


def test_the_first_look_up_after_the_listener_is_terminated_reads_the_table(
    two_stores: tuple[Store, Store],
) -> None:
    """The server's goodbye is read without an error; the look-up checks for the end of
    the connection at once, so it does not serve what was cached before."""
    import select

    import psycopg

    reader, writer = two_stores
    writer.insert_state_machine(MACHINE)
    assert seen_eventually(reader, MACHINE) == MACHINE
    listener = reader.machines._conn  # type: ignore[attr-defined]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (listener.info.backend_pid,))
    assert select.select([listener.pgconn.socket], [], [], PATIENCE)[0]  # the goodbye is here
    updated = replace(MACHINE, definition='{"Comment": "2"}', revision_id="r2")
    writer.replace_state_machine(updated)
    assert reader.get_state_machine(MACHINE.arn) == updated


def test_no_record_is_kept_past_its_age_if_the_listener_hears_nothing(
    two_stores: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listener whose connection dies without a word hears no notice; records are kept
    at most ``MACHINE_MAX_AGE_SECONDS`` (here 0: none is served from the cache)."""
    from stepwell.store import postgres

    reader, writer = two_stores
    writer.insert_state_machine(MACHINE)
    assert seen_eventually(reader, MACHINE) == MACHINE
    reader.machines._conn.execute(f"UNLISTEN {postgres.MACHINES_CHANNEL}")  # type: ignore[attr-defined]
    monkeypatch.setattr(postgres, "MACHINE_MAX_AGE_SECONDS", 0.0, raising=False)
    updated = replace(MACHINE, definition='{"Comment": "2"}', revision_id="r2")
    writer.replace_state_machine(updated)
    assert reader.get_state_machine(MACHINE.arn) == updated
