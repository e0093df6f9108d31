"""SQLite: the default store. One file (or ``:memory:``), WAL, no set-up.

One connection per store, shared by the threads of a process under a lock: SQLite lets
one writer in at a time anyway, and ``BEGIN IMMEDIATE`` takes the write lock up front so
two processes never deadlock upgrading a read to a write. Several processes may share
the file (WAL mode); ``busy_timeout`` makes them wait their turn.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from stepwell.store.sql import Cursor, Row, SqlStore, migrations


class SqliteDialect:
    name = "sqlite"
    locks = {"lock_executions": "", "lock_items": "", "lock_tokens": ""}

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._watch: sqlite3.Connection | None = None  # for wait_for_work only

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self._lock:
            cursor = self._conn.cursor()
            self._begin(cursor)
            try:
                yield cursor  # type: ignore[misc]
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    def _begin(self, cursor: sqlite3.Cursor) -> None:
        # busy_timeout covers most contention; retry the rare immediate SQLITE_BUSY.
        for attempt in range(100):
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt == 99:
                    raise
                time.sleep(0.01)

    def translate(self, query: str) -> str:
        return query

    def read(self, name: str, queries: dict[str, str], params: dict[str, Any]) -> Row | None:
        with self._lock:
            row: Row | None = self._conn.execute(queries[name], params).fetchone()
            return row

    def lock_namespace(self, cursor: Cursor, namespace: str) -> None:
        """BEGIN IMMEDIATE already excludes every other writer."""

    def notify(self, cursor: Cursor) -> None:
        """Other processes poll; this process's workers are woken by the runtime."""

    def wait_for_work(self, timeout: float) -> None:
        """Poll ``PRAGMA data_version`` on a connection of its own: it changes whenever
        another connection (another process) commits. Cheap, and it never waits on the
        lock the request threads use. An in-memory database has no other process."""
        if self.path in ("", ":memory:"):
            time.sleep(timeout)
            return
        if self._watch is None:
            self._watch = sqlite3.connect(self.path, check_same_thread=False)
        deadline = time.monotonic() + timeout
        seen = self._watch.execute("PRAGMA data_version").fetchone()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            if self._watch.execute("PRAGMA data_version").fetchone() != seen:
                return

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
        with self._lock:
            self._conn.close()
            if self._watch is not None:
                self._watch.close()


def _statements(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


def open_sqlite(path: str = ":memory:") -> SqlStore:
    dialect = SqliteDialect(path)
    dialect.migrate()
    return SqlStore(dialect)


__all__ = ["SqliteDialect", "open_sqlite"]
