"""SQLite: the default store. One file (or ``:memory:``), WAL, no set-up.

One connection for writes, shared by the threads of a process under a lock: SQLite lets
one writer in at a time anyway, and ``BEGIN IMMEDIATE`` takes the write lock up front so
two processes never deadlock upgrading a read to a write. Several processes may share
the file (WAL mode); ``busy_timeout`` makes them wait their turn.

Reads of a file go through a second connection, under a lock of their own: in WAL mode a
reader sees the last committed state and never waits for a writer, so a quick read
(the API answers DescribeStateMachine on its event loop) is never queued behind another
thread's write transaction or another process's write lock. Measured in the soak
(bench/soak.py --trace): with one connection, reads on the event loop waited up to
13 ms for the workers' writes, and every client waited with them. An in-memory
database has one connection, which reads share with writes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from stepwell.store.base import QUEUES, StoreUnavailable
from stepwell.store.sql import Cursor, Row, SqlStore, migrations

log = logging.getLogger("stepwell.store")
BUSY_TIMEOUT = 30.0  # seconds a write waits for another process's write lock, in all

# SQLite's primary result codes for "the file cannot be used", each with what it means.
# A corrupt file, or one that is no longer the database, stays unusable: Stepwell stops
# writing to it until restarted (``_STICKY``). A full disk or an I/O error may pass.
_FAULTS = {
    "SQLITE_CORRUPT": "is corrupt ({error}); restore it from a backup",
    "SQLITE_NOTADB": "is not a SQLite database ({error}); restore it from a backup",
    "SQLITE_FULL": "cannot grow: the disk (or the database's size limit) is full ({error})",
    "SQLITE_IOERR": "cannot be read or written: I/O error ({error})",
    "SQLITE_CANTOPEN": "cannot be opened ({error})",
    "SQLITE_READONLY": "is read-only ({error})",
    "SQLITE_BUSY": "is locked by another process for longer than the busy timeout ({error})",
    "SQLITE_LOCKED": "is locked by another process for longer than the busy timeout ({error})",
}
_STICKY = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})


def fault_of(error: sqlite3.Error) -> str | None:
    """The primary result code of an error that means the file is unusable, else None
    (a constraint violated, SQL misused: a bug, not the database's fault)."""
    name = getattr(error, "sqlite_errorname", None) or ""
    primary = next((code for code in _FAULTS if name.startswith(code)), None)
    if primary is None and "disk image is malformed" in str(error):
        return "SQLITE_CORRUPT"  # some builds leave the name unset on these
    if primary is None and "file is not a database" in str(error):
        return "SQLITE_NOTADB"
    return primary


_T = TypeVar("_T")


class SqliteDialect:
    name = "sqlite"
    locks = {"lock_executions": "", "lock_items": "", "lock_tokens": ""}

    def __init__(self, path: str, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._broken: str | None = None  # why the file can no longer be used, for good
        self._failing: str | None = None  # the last write's failure, until one succeeds
        self._conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=busy_timeout
        )
        try:
            self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._check_integrity()
        except sqlite3.Error as error:
            self._conn.close()
            raise self._unavailable(error) from None
        except StoreUnavailable:
            self._conn.close()
            raise
        self._watch: sqlite3.Connection | None = None  # for wait_for_work only
        self._read_lock = threading.Lock()
        try:
            self._identity = self._file_identity()
            self._reader = self._open_reader()  # None: reads share the write connection
        except BaseException as error:
            self._conn.close()  # not left open by a store that never opened
            if isinstance(error, sqlite3.Error):
                raise self._unavailable(error) from None
            raise

    def _open_reader(self) -> sqlite3.Connection | None:
        if self._identity is None:  # in memory: another connection is another database
            return None
        reader = sqlite3.connect(
            _uri(self.path), uri=True, isolation_level=None, check_same_thread=False
        )
        try:
            reader.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            reader.execute("PRAGMA query_only=ON")
        except BaseException:
            reader.close()
            raise
        return reader

    # ----------------------------------------------------------------- health

    def _check_integrity(self) -> None:
        """``PRAGMA quick_check`` at open: a corrupt file is refused before any write."""
        rows = self._conn.execute("PRAGMA quick_check").fetchall()
        if [tuple(row) for row in rows] != [("ok",)]:
            lines = "\n".join(str(row[0]) for row in rows).splitlines()
            detail = "; ".join(line for line in lines[:4] if "***" not in line)
            raise StoreUnavailable(self._say(f"is corrupt ({detail}); restore it from a backup"))

    def _file_identity(self) -> tuple[int, int] | None:
        if self.path in ("", ":memory:") or self.path.startswith("file:"):
            return None
        stat = os.stat(self.path)
        return (stat.st_dev, stat.st_ino)

    def check(self) -> None:
        """Raise ``StoreUnavailable`` if the database file cannot be used: deleted or
        replaced under us, found corrupt, or the last write failed (a full disk)."""
        self.check_file()
        if self._failing is not None:
            raise StoreUnavailable(self._failing)

    def check_file(self) -> None:
        """Refuse to go on once the file is no longer the database (its device and inode
        are not the open file's any more) or is corrupt. Cheap: one ``stat``."""
        if self._broken is None and self._identity is not None:
            try:
                now = os.stat(self.path)
                moved = (now.st_dev, now.st_ino) != self._identity
            except FileNotFoundError:
                moved = True
            if moved:
                self._break(
                    "was deleted or replaced while Stepwell was running; Stepwell stopped "
                    "writing to it so as not to lose more. Restore the file and restart"
                )
        if self._broken is not None:
            raise StoreUnavailable(self._broken)

    def _break(self, why: str) -> None:
        """The file is unusable for good: say so once, refuse every later call."""
        if self._broken is None:
            self._broken = self._say(why)
            log.error("%s", self._broken)

    def _say(self, why: str) -> str:
        return f"The SQLite database {self.path} {why}."

    def _unavailable(self, error: sqlite3.Error) -> Exception:
        """The error to raise for ``error``: ``StoreUnavailable`` when the file is at
        fault (remembered, and logged once per kind of fault), else ``error`` itself."""
        code = fault_of(error)
        if code is None:
            return error
        if code in _STICKY:
            self._break(_FAULTS[code].format(error=error))
            return StoreUnavailable(self._broken or self._say(str(error)))
        problem = self._say(_FAULTS[code].format(error=error))
        if problem != self._failing:
            log.error("%s", problem)
        self._failing = problem
        return StoreUnavailable(problem)

    # ----------------------------------------------------------------- transactions

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self._lock:
            self.check_file()
            cursor = self._conn.cursor()
            try:
                self._begin(cursor)
            except sqlite3.Error as error:
                raise self._unavailable(error) from None
            try:
                yield cursor  # type: ignore[misc]
                cursor.execute("COMMIT")
            except BaseException as error:
                self._rollback(cursor)
                if isinstance(error, sqlite3.Error):
                    raise self._unavailable(error) from None
                raise
            self._failing = None

    def _rollback(self, cursor: sqlite3.Cursor) -> None:
        if self._conn.in_transaction:
            # SQLite may have rolled back already (SQLITE_FULL)
            with contextlib.suppress(sqlite3.Error):
                cursor.execute("ROLLBACK")

    def _begin(self, cursor: sqlite3.Cursor) -> None:
        self._while_busy(lambda: cursor.execute("BEGIN IMMEDIATE"))

    def _while_busy(self, action: Callable[[], _T]) -> _T:
        """``action``, tried again while SQLite answers SQLITE_BUSY. ``busy_timeout``
        makes a statement wait for another process's write; SQLite still answers
        SQLITE_BUSY at once in a few cases (WAL recovery, also for a read), so retry
        those until the same timeout has passed in all: never longer than the timeout."""
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                return action()
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)

    def _read_on_reader(self, query: str, params: dict[str, Any]) -> list[Row]:
        """A read on the read connection (see the module docstring): it never waits for
        this process's writers, whose lock it does not take."""
        assert self._reader is not None
        with self._read_lock:
            self.check_file()
            cursor = self._reader.cursor()
            try:
                rows: list[Row] = self._while_busy(lambda: cursor.execute(query, params).fetchall())
            except sqlite3.Error as error:
                raise self._unavailable(error) from None
            finally:
                cursor.close()  # ends the statement, and with it the read's snapshot
            return rows

    def translate(self, query: str) -> str:
        return query

    def read(self, name: str, queries: dict[str, str], params: dict[str, Any]) -> Row | None:
        rows = self.read_all(name, queries, params)
        return rows[0] if rows else None

    def read_all(self, name: str, queries: dict[str, str], params: dict[str, Any]) -> list[Row]:
        """In autocommit mode a statement outside ``BEGIN`` reads its own snapshot and
        takes no write lock: a read never waits for, or holds up, another writer. On the
        read connection when there is one, so it does not wait for this process's writes
        either."""
        if self._reader is not None:
            return self._read_on_reader(queries[name], params)
        with self._lock:
            self.check_file()
            try:
                rows: list[Row] = self._conn.execute(queries[name], params).fetchall()
            except sqlite3.Error as error:
                raise self._unavailable(error) from None
            return rows

    def lock_namespace(self, cursor: Cursor, namespace: str) -> None:
        """BEGIN IMMEDIATE already excludes every other writer."""

    def notify(self, cursor: Cursor, queues: Iterable[str] = QUEUES) -> None:
        """Other processes poll; this process's workers are woken by the runtime."""

    def wait_for_work(self, timeout: float) -> frozenset[str]:
        """Poll ``PRAGMA data_version`` on a connection of its own: it changes whenever
        another connection (another process) commits. Cheap, and it never waits on the
        lock the request threads use. An in-memory database has no other process."""
        if self.path in ("", ":memory:"):
            time.sleep(timeout)
            return QUEUES
        deadline = time.monotonic() + timeout
        try:
            seen = self._data_version()
            while time.monotonic() < deadline:
                time.sleep(0.05)
                if self._data_version() != seen:
                    return QUEUES  # which queue changed is not known
        except (sqlite3.Error, StoreUnavailable):
            self._forget_watch()  # open it afresh next time
            raise
        return QUEUES

    def _data_version(self) -> Row | None:
        self.check()  # also notices a deleted file while the server is idle
        if self._watch is None:
            # mode=rw: never create a new, empty file where the database was deleted.
            self._watch = sqlite3.connect(_uri(self.path), uri=True, check_same_thread=False)
        row: Row | None = self._watch.execute("PRAGMA data_version").fetchone()
        return row

    def _forget_watch(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None

    def migrate(self) -> None:
        with self.transaction() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, applied DOUBLE PRECISION NOT NULL)"
            )
            cur.execute("SELECT version FROM schema_migrations")
            applied = {row[0] for row in cur.fetchall()}
            for version, script in migrations(self.name):
                if version in applied:
                    continue
                for statement in _statements(script):
                    cur.execute(statement)
                cur.execute(
                    "INSERT INTO schema_migrations (version, applied) VALUES (:v, :t)",
                    {"v": version, "t": time.time()},
                )

    def close(self) -> None:
        with self._lock, self._read_lock:
            self._conn.close()
            if self._reader is not None:
                self._reader.close()
            if self._watch is not None:
                self._watch.close()


def _uri(path: str) -> str:
    """The file's URI with ``mode=rw``: never create a new, empty file where the
    database was deleted."""
    return f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=rw"


def _statements(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


def open_sqlite(path: str = ":memory:", busy_timeout: float = BUSY_TIMEOUT) -> SqlStore:
    dialect = SqliteDialect(path, busy_timeout)
    dialect.migrate()
    return SqlStore(dialect)


__all__ = ["SqliteDialect", "fault_of", "open_sqlite"]
