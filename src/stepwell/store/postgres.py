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

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

try:
    import psycopg
    from psycopg_pool import ConnectionPool, PoolTimeout
except ImportError as missing:  # pragma: no cover - the extra is installed for the tests
    raise ImportError(
        "A postgresql:// database needs the PostgreSQL extra: pip install 'stepwell[postgres]'"
    ) from missing

from stepwell.store.base import StoreUnavailable
from stepwell.store.sql import Cursor, Row, SqlStore, migrations

log = logging.getLogger("stepwell.store")

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
CHANNEL = "stepwell_work"
_MIGRATION_LOCK = 7_415_001  # pg_advisory_xact_lock key: one migrator at a time
POOL_TIMEOUT = 5.0  # seconds to wait for a pooled connection before answering 503
CONNECT_TIMEOUT = 5  # seconds to wait for the server to accept a connection


@contextmanager
def _unreachable() -> Iterator[None]:
    """Turn "the server cannot be reached" (down, restarting, connections dropped) into
    ``StoreUnavailable``; errors of the SQL itself stay what they are (bugs)."""
    try:
        yield
    except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as error:
        raise StoreUnavailable(f"The PostgreSQL database cannot be reached: {error}") from None


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
            kwargs={
                "options": f"-c search_path={schema}",
                "autocommit": False,
                "connect_timeout": CONNECT_TIMEOUT,
            },
            # A connection broken by a server restart is noticed when it is taken back
            # and replaced; ``check`` tests each before it is lent out.
            check=ConnectionPool.check_connection,
            reconnect_timeout=24 * 3600.0,
            open=True,
        )
        self._listener: psycopg.Connection[Any] | None = None

    def _ensure_schema(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with (
            _unreachable(),
            self.pool.connection(timeout=POOL_TIMEOUT) as conn,
            conn.transaction(),
            conn.cursor() as cursor,
        ):
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
        with _unreachable(), self.pool.connection(timeout=POOL_TIMEOUT) as conn:
            row: Row | None = conn.execute(queries[name], params).fetchone()
            conn.rollback()
            return row

    def check(self) -> None:
        """One round trip to the server (health probe)."""
        with _unreachable(), self.pool.connection(timeout=POOL_TIMEOUT) as conn:
            conn.execute("SELECT 1")
            conn.rollback()

    def lock_namespace(self, cursor: Cursor, namespace: str) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%(ns)s))", {"ns": namespace})

    def notify(self, cursor: Cursor) -> None:
        cursor.execute(f"NOTIFY {CHANNEL}")

    def wait_for_work(self, timeout: float) -> None:
        """Block until another transaction adds work, or ``timeout`` seconds pass. A
        listener that failed (the server restarted) is dropped and opened afresh on the
        next call: notifications sent meanwhile are lost, which the pool's periodic look
        at the store makes up for."""
        try:
            with _unreachable():
                if self._listener is None:
                    self._listener = psycopg.connect(
                        self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT
                    )
                    self._listener.execute(f"LISTEN {CHANNEL}")
                for _ in self._listener.notifies(timeout=timeout, stop_after=1):
                    break
        except StoreUnavailable:
            self._drop_listener()
            raise

    def _drop_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()

    def drop_schema(self) -> None:
        """Remove every table (tests)."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def close(self) -> None:
        self._drop_listener()
        self.pool.close()


def open_postgres(url: str, schema: str = "stepwell") -> SqlStore:
    dialect = PostgresDialect(url, schema)
    dialect.migrate()
    return SqlStore(dialect)
