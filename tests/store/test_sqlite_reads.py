"""Reads of a SQLite file never queue behind a write (issue 9: another client's
DescribeStateMachine stays quick while the server is busy writing).

The API answers quick reads on its event loop; if they waited for the store's write
lock, every client would wait with them. In WAL mode a reader sees the last committed
state without waiting, so the store reads through a connection of its own. These tests
hold a write open (in another thread, or in another process's connection) and read
meanwhile: the read must finish while the write is still open, and see only what was
committed."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stepwell.store import sqlite as sqlite_module
from stepwell.store.base import StateMachineRecord, StoreUnavailable
from stepwell.store.sqlite import SqliteDialect, open_sqlite

LIVENESS_SECONDS = 3  # only a broken store ever waits this long; no speed is asserted


def machine(n: int) -> StateMachineRecord:
    return StateMachineRecord(
        arn=f"arn:aws:states:us-east-1:123456789012:stateMachine:m{n}",
        name=f"m{n}",
        type="STANDARD",
        definition='{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}',
        role_arn="arn:aws:iam::123456789012:role/r",
        creation_date=0.0,
        revision_id="1",
    )


def finishes_while(hold: Callable[[threading.Event, threading.Event], None], read: Any) -> Any:
    """Run ``hold`` in a thread until it has a write open, then ``read`` in another
    thread; return what ``read`` returned, failing if it did not finish while the write
    was still open."""
    holding, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold, args=(holding, release))
    holder.start()
    try:
        assert holding.wait(LIVENESS_SECONDS)
        found: list[Any] = []
        reader = threading.Thread(target=lambda: found.append(read()))
        reader.start()
        reader.join(LIVENESS_SECONDS)
        assert found, "the read waited for the open write transaction"
        return found[0]
    finally:
        release.set()
        holder.join()


def test_a_read_does_not_wait_for_another_threads_write_transaction(tmp_path: Path) -> None:
    store = open_sqlite(str(tmp_path / "stepwell.db"))
    store.insert_state_machine(machine(1))

    def hold(holding: threading.Event, release: threading.Event) -> None:
        with store.dialect.transaction() as cursor:
            cursor.execute("DELETE FROM state_machines")  # not committed while held
            holding.set()
            release.wait()
            raise RuntimeError("roll back")

    def hold_and_roll_back(holding: threading.Event, release: threading.Event) -> None:
        with pytest.raises(RuntimeError):
            hold(holding, release)

    seen = finishes_while(hold_and_roll_back, lambda: store.get_state_machine(machine(1).arn))
    assert seen == machine(1)  # the committed state, not the open transaction's
    assert store.get_state_machine(machine(1).arn) == machine(1)  # rolled back
    store.close()


def test_a_read_does_not_wait_for_another_processs_write_lock(tmp_path: Path) -> None:
    """``stepwell worker`` processes share the file: their writes must not stall reads."""
    path = tmp_path / "stepwell.db"
    store = open_sqlite(str(path))
    store.insert_state_machine(machine(1))

    def hold(holding: threading.Event, release: threading.Event) -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("DELETE FROM state_machines")
        holding.set()
        release.wait()
        other.execute("COMMIT")
        other.close()

    listed = finishes_while(hold, store.list_state_machines)
    assert [record.name for record in listed] == ["m1"]
    assert store.list_state_machines() == []  # once committed, the read sees it
    store.close()


def test_reads_see_each_commit_at_once(tmp_path: Path) -> None:
    store = open_sqlite(str(tmp_path / "stepwell.db"))
    for n in range(5):
        assert store.get_state_machine(machine(n).arn) is None
        store.insert_state_machine(machine(n))
        assert store.get_state_machine(machine(n).arn) == machine(n)
    store.delete_state_machine(machine(0).arn)
    assert [record.name for record in store.list_state_machines()] == ["m1", "m2", "m3", "m4"]
    store.close()


def test_an_in_memory_store_reads_what_it_wrote(tmp_path: Path) -> None:
    """In memory there is one database per connection: reads share the writer's."""
    store = open_sqlite(":memory:")
    store.insert_state_machine(machine(1))
    assert store.get_state_machine(machine(1).arn) == machine(1)
    store.close()


def test_a_path_with_uri_characters_is_read_from_the_same_file(tmp_path: Path) -> None:
    folder = tmp_path / "a?b#c%20d"
    folder.mkdir()
    store = open_sqlite(str(folder / "stepwell.db"))
    store.insert_state_machine(machine(1))
    assert store.get_state_machine(machine(1).arn) == machine(1)
    store.close()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a?b#c%20d"]


def test_a_read_of_a_deleted_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "stepwell.db"
    store = open_sqlite(str(path))
    store.insert_state_machine(machine(1))
    path.unlink()
    with pytest.raises(StoreUnavailable, match="deleted or replaced"):
        store.get_state_machine(machine(1).arn)
    assert not path.exists()
    store.close()


def sqlite_error(message: str, name: str) -> sqlite3.OperationalError:
    """An error as SQLite raises it, with its result code's name."""
    error = sqlite3.OperationalError(message)
    error.sqlite_errorname = name
    return error


class BusyAtFirst:
    """A read connection on which SQLite answers SQLITE_BUSY at once the first
    ``times`` statements, as it does while another connection recovers the WAL."""

    def __init__(self, connection: sqlite3.Connection, times: int) -> None:
        self.connection = connection
        self.times = times

    def cursor(self) -> Any:
        outer = self

        class Cursor:
            def __init__(self) -> None:
                self.inner = outer.connection.cursor()

            def execute(self, *args: Any) -> Any:
                if outer.times > 0:
                    outer.times -= 1
                    raise sqlite_error("database is locked", "SQLITE_BUSY")
                return self.inner.execute(*args)

            def close(self) -> None:
                self.inner.close()

        return Cursor()

    def close(self) -> None:
        self.connection.close()


def test_a_read_told_busy_at_once_tries_again(tmp_path: Path) -> None:
    """As a write's BEGIN does: an immediate SQLITE_BUSY is retried within the busy
    timeout, then reported as the store being unavailable."""
    store = open_sqlite(str(tmp_path / "stepwell.db"), busy_timeout=0.2)
    store.insert_state_machine(machine(1))
    dialect = store.dialect
    assert isinstance(dialect, SqliteDialect) and dialect._reader is not None
    dialect._reader = BusyAtFirst(dialect._reader, times=3)  # type: ignore[assignment]
    assert store.get_state_machine(machine(1).arn) == machine(1)
    dialect._reader = BusyAtFirst(dialect._reader.connection, times=10**9)  # type: ignore[attr-defined]
    with pytest.raises(StoreUnavailable):
        store.get_state_machine(machine(1).arn)  # busy for longer than the timeout
    store.close()


def test_a_store_whose_read_connection_cannot_open_leaves_no_connection_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "stepwell.db")
    open_sqlite(path).close()  # the file exists, migrated
    opened: list[sqlite3.Connection] = []
    real_connect = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        if kwargs.get("uri"):  # the read connection
            raise sqlite_error("unable to open database file", "SQLITE_CANTOPEN")
        connection = real_connect(*args, **kwargs)
        opened.append(connection)
        return connection

    monkeypatch.setattr(sqlite_module.sqlite3, "connect", connect)
    with pytest.raises(StoreUnavailable, match="cannot be opened"):
        SqliteDialect(path)
    (write,) = opened
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        write.execute("SELECT 1")
