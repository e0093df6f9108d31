"""PostgreSQL: the store for many workers on many machines.

Same SQL as SQLite (``sql/queries.sql``) with two differences: parameters are written
``%(name)s``, and the queries that pick work lock what they pick with
``FOR UPDATE ... SKIP LOCKED``, so concurrent workers each take different work without
waiting on one another. Every transaction that adds work sends ``NOTIFY stepwell_work``
on commit; idle workers ``LISTEN`` and wake at once instead of polling.

``schema`` places every table in a schema of its own (created if missing), so several
Stepwell installations — or test runs — can share one database.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from stepwell.store.sql import Cursor, Row, SqlStore, migrations

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
CHANNEL = "stepwell_work"
_MIGRATION_LOCK = 7_415_001  # pg_advisory_xact_lock key: one migrator at a time


class PostgresDialect:
    name = "postgres"
    locks = {
        "lock_executions": "FOR UPDATE OF e SKIP LOCKED",
        "lock_items": "FOR UPDATE SKIP LOCKED",
        "lock_tokens": "FOR UPDATE SKIP LOCKED",
    }

    def __init__(self, url: str, schema: str = "stepwell", pool_size: int = 8) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", schema):
            raise ValueError(f"not a valid schema name: {schema!r}")
        self.url = url
        self.schema = schema
        self._ensure_schema()
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"options": f"-c search_path={schema}", "autocommit": False},
            open=True,
        )
        self._listener: psycopg.Connection[Any] | None = None

    def _ensure_schema(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            yield cursor  # type: ignore[misc]

    def translate(self, query: str) -> str:
        return _PARAM.sub(r"%(\1)s", query)

    def migrate(self) -> None:
        with self.transaction() as cur:
            cur.execute(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, applied DOUBLE PRECISION NOT NULL)"
            )
            cur.execute("SELECT version FROM schema_migrations")
            applied = {row[0] for row in cur.fetchall()}
            for version, script in migrations(self.name):
                if version not in applied:
                    cur.execute(script)
                    cur.execute(
                        "INSERT INTO schema_migrations (version, applied) VALUES (%(v)s, %(t)s)",
                        {"v": version, "t": time.time()},
                    )

    def read(self, name: str, queries: dict[str, str], params: dict[str, Any]) -> Row | None:
        with self.pool.connection() as conn:
            row: Row | None = conn.execute(queries[name], params).fetchone()
            conn.rollback()
            return row

    def lock_namespace(self, cursor: Cursor, namespace: str) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%(ns)s))", {"ns": namespace})

    def notify(self, cursor: Cursor) -> None:
        cursor.execute(f"NOTIFY {CHANNEL}")

    def wait_for_work(self, timeout: float) -> None:
        """Block until another transaction adds work, or ``timeout`` seconds pass."""
        if self._listener is None:
            self._listener = psycopg.connect(self.url, autocommit=True)
            self._listener.execute(f"LISTEN {CHANNEL}")
        for _ in self._listener.notifies(timeout=timeout, stop_after=1):
            break

    def drop_schema(self) -> None:
        """Remove every table (tests)."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
        self.pool.close()


def open_postgres(url: str, schema: str = "stepwell") -> SqlStore:
    dialect = PostgresDialect(url, schema)
    dialect.migrate()
    return SqlStore(dialect)
