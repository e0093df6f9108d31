"""A SQLite file deleted, replaced, corrupted or full under a running store (issue 9,
fault 3): the store notices, refuses to go on writing to a file that is no longer the
database, raises ``StoreUnavailable`` with a message saying what is wrong, and logs it
once. Real files, real damage: nothing here is simulated but the full disk, which
``PRAGMA max_page_count`` makes real enough for SQLite to answer SQLITE_FULL."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

import pytest

from stepwell.store.base import StateMachineRecord, StoreUnavailable
from stepwell.store.sql import SqlStore
from stepwell.store.sqlite import SqliteDialect, fault_of, open_sqlite

PAGE = 4096


def machine(n: int, size: int = 100) -> StateMachineRecord:
    return StateMachineRecord(
        arn=f"arn:aws:states:us-east-1:123456789012:stateMachine:m{n}",
        name=f"m{n}",
        type="STANDARD",
        definition="x" * size + str(n),
        role_arn="arn:aws:iam::123456789012:role/r",
        creation_date=0.0,
        revision_id="1",
    )


def filled(path: Path, count: int = 200) -> SqlStore:
    """A store at ``path`` with ``count`` machines, everything checkpointed into the file."""
    store = open_sqlite(str(path))
    for n in range(count):
        store.insert_state_machine(machine(n, 3000))
    dialect(store)._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return store


def dialect(store: SqlStore) -> SqliteDialect:
    assert isinstance(store.dialect, SqliteDialect)
    return store.dialect


def overwrite_pages(path: Path, first_page: int = 3) -> None:
    """Real corruption: random bytes over every page from ``first_page`` (1-based) on."""
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.seek(PAGE * (first_page - 1))
        file.write(os.urandom(size - PAGE * (first_page - 1)))


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("damage", ["delete", "replace"])
def test_a_deleted_or_replaced_file_stops_every_write(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "stepwell.db"
    store = open_sqlite(str(path))
    store.insert_state_machine(machine(1))
    if damage == "delete":
        path.unlink()
    else:
        other = tmp_path / "other.db"
        sqlite3.connect(other).close()
        other.replace(path)
    for attempt in range(3):
        with pytest.raises(StoreUnavailable, match="deleted or replaced while Stepwell"):
            store.insert_state_machine(machine(2 + attempt))
    with pytest.raises(StoreUnavailable, match="deleted or replaced"):
        store.get_state_machine(machine(1).arn)
    with pytest.raises(StoreUnavailable, match="deleted or replaced"):
        store.check()
    # Said once, however often it is hit.
    assert len([m for m in errors_logged(caplog) if "deleted or replaced" in m]) == 1
    store.close()


def test_the_watcher_never_recreates_a_deleted_file(tmp_path: Path) -> None:
    """Waiting for work on a deleted file must not create a new, empty database there."""
    path = tmp_path / "stepwell.db"
    store = open_sqlite(str(path))
    store.wait_for_work(0.06)  # opens the watcher on the real file
    path.unlink()
    for _ in range(2):
        with pytest.raises(StoreUnavailable, match="deleted or replaced"):
            store.wait_for_work(0.06)
    assert not path.exists()
    store.close()


def test_a_file_corrupted_while_running_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "stepwell.db"
    store = filled(path)
    overwrite_pages(path)
    # Another process writes: this store's page cache is dropped, pages come from disk.
    other = sqlite3.connect(path)
    other.execute("PRAGMA user_version = 7")
    other.close()
    with pytest.raises(StoreUnavailable, match=r"is corrupt .*restore it from a backup"):
        store.list_state_machines()
    with pytest.raises(StoreUnavailable, match="is corrupt"):
        store.insert_state_machine(machine(1000))
    with pytest.raises(StoreUnavailable, match="is corrupt"):
        store.check()
    assert len([m for m in errors_logged(caplog) if "corrupt" in m]) == 1
    store.close()


@pytest.mark.parametrize(
    ("first_page", "message"),
    [
        (3, r"is corrupt \(.*btreeInitPage.*\); restore it from a backup"),
        (1, r"is not a SQLite database \(file is not a database\)"),
    ],
)
def test_a_corrupt_file_is_refused_at_open(tmp_path: Path, first_page: int, message: str) -> None:
    """``PRAGMA quick_check`` at open: no write reaches a corrupt file."""
    path = tmp_path / "stepwell.db"
    filled(path).close()
    overwrite_pages(path, first_page)
    damaged = path.read_bytes()
    with pytest.raises(StoreUnavailable, match=message):
        open_sqlite(str(path))
    assert path.read_bytes() == damaged


def test_a_full_disk_is_unavailable_until_space_returns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "stepwell.db"
    store = open_sqlite(str(path))
    conn = dialect(store)._conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # the file cannot grow: SQLITE_FULL
    with pytest.raises(StoreUnavailable, match=r"cannot grow: the disk .* is full"):
        for n in range(100):
            store.insert_state_machine(machine(n, 5000))
    with pytest.raises(StoreUnavailable, match="is full"):
        store.check()  # the health probe says so until a write succeeds again
    with pytest.raises(StoreUnavailable, match="is full"):
        store.insert_state_machine(machine(500, 5000))
    assert len([m for m in errors_logged(caplog) if "is full" in m]) == 1
    conn.execute("PRAGMA max_page_count = 1000000")  # space again
    store.insert_state_machine(machine(501, 5000))
    store.check()
    assert store.get_state_machine(machine(501).arn) is not None
    store.close()


def test_a_write_waits_at_most_the_busy_timeout_once(tmp_path: Path) -> None:
    """Another process holds the write lock: the write gives up after one busy timeout
    (one BEGIN), not after a hundred of them."""
    path = tmp_path / "stepwell.db"
    holder = open_sqlite(str(path))
    waiter = open_sqlite(str(path), busy_timeout=0.05)
    begins: list[str] = []
    dialect(waiter)._conn.set_trace_callback(
        lambda sql: begins.append(sql) if sql.startswith("BEGIN") else None
    )
    with holder.dialect.transaction() as cursor:
        cursor.execute("DELETE FROM documents WHERE namespace = 'nothing'")
        with pytest.raises(StoreUnavailable, match="locked by another process"):
            waiter.insert_state_machine(machine(1))
    assert len(begins) <= 2
    waiter.insert_state_machine(machine(1))  # the lock is free: it works again
    waiter.check()
    holder.close()
    waiter.close()


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (sqlite3.IntegrityError("UNIQUE constraint failed"), None),
        (sqlite3.DatabaseError("database disk image is malformed"), "SQLITE_CORRUPT"),
        (sqlite3.DatabaseError("file is not a database"), "SQLITE_NOTADB"),
        (sqlite3.OperationalError("no such table: x"), None),
    ],
)
def test_only_faults_of_the_file_count(error: sqlite3.Error, code: str | None) -> None:
    """A constraint or SQL error is a bug to see, not a database to give up on."""
    assert fault_of(error) == code


def test_a_bug_in_sql_is_not_reported_as_an_unusable_store(tmp_path: Path) -> None:
    store = open_sqlite(str(tmp_path / "stepwell.db"))
    with pytest.raises(sqlite3.OperationalError), store.dialect.transaction() as cursor:
        cursor.execute("SELECT * FROM no_such_table")
    store.check()
    store.close()
