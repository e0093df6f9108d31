"""PostgreSQL: the store for many workers on many machines.

Same SQL as SQLite (``sql/queries.sql``) with two differences: parameters are written
``%(name)s``, and the queries that pick work lock what they pick with
``FOR UPDATE ... SKIP LOCKED``, so concurrent workers each take different work without
waiting on one another. Every transaction that adds work sends ``NOTIFY stepwell_work_<schema>``
on commit, naming the queues it added to (``execution``, ``invoke``); idle workers
``LISTEN`` and wake at once, only the threads of those queues, instead of polling.

The work path (``PostgresStore``) is what a round trip costs most on: leasing,
committing a step, starting an execution and reads are single statements of their own
(``sql/postgres/queries.sql``) on autocommit connections, and a batch of step commits
plus the next batch's lease goes out as one pipeline: one round trip, one transaction
(docs/scaling.md has the measurements).

``schema`` places every table in a schema of its own (created if missing), so several
Stepwell installations — or test runs — can share one database.
"""

from __future__ import annotations

import logging
import re
import select
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

try:
    import psycopg
    from psycopg.types.array import ListBinaryDumper
    from psycopg_pool import ConnectionPool, PoolTimeout
except ImportError as missing:  # pragma: no cover - the extra is installed for the tests
    raise ImportError(
        "A postgresql:// database needs the PostgreSQL extra: pip install 'stepwell[postgres]'"
    ) from missing

from stepwell.store.base import (
    QUEUES,
    ExecutionRecord,
    Lease,
    LeaseRequest,
    StateMachineRecord,
    StepOutcome,
    StoreUnavailable,
    WorkItem,
    queue_of,
)
from stepwell.store.sql import (
    Cursor,
    Row,
    SqlStore,
    event_rows,
    execution_from_json,
    item_from_row,
    json_text,
    migrations,
)

log = logging.getLogger("stepwell.store")

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
CHANNEL = "stepwell_work"  # work notices go to CHANNEL_<schema>: one installation's only
MACHINES_CHANNEL = "stepwell_machines"  # sent by a trigger on every change (0005)
SEEN_FRESH = 0.05  # how long an empty lease's next due time stands in for a read
RELISTEN_SECONDS = 1.0  # after the machine cache's listener failed, read uncached this long
# The longest the machine cache keeps a record, whatever its listener says: a listener
# whose connection died without a word (a host or network path gone) hears nothing until
# TCP gives up, hours later, and this bounds how stale a record can be meanwhile.
MACHINE_MAX_AGE_SECONDS = 2.0
_MIGRATION_LOCK = 7_415_001  # pg_advisory_xact_lock key: one migrator at a time
POOL_TIMEOUT = 5.0  # seconds to wait for a pooled connection before answering 503
CONNECT_TIMEOUT = 5  # seconds to wait for the server to accept a connection
OWN_CONNECTIONS = 2  # connections opened beside a pool that has none to lend, at a time
# lease_executions looks at this many due items per execution asked for (an execution
# may have several due at once), before keeping the executions with the oldest.
SCAN_PER_LEASE = 4
RECENT_SECONDS = 0.25  # a pooled connection returned this recently is lent unchecked


class _Array(list[Any]):
    """A list sent as an array of one known type: psycopg otherwise looks through every
    list (each of a step's 17 arrays, every step) to choose the array's type (profiled:
    about a tenth of a worker's time)."""


def _array_type(name: str, element_oid: int, array_oid: int) -> type[_Array]:
    array = type(name, (_Array,), {})
    dumper = type(
        f"{name}Dumper", (ListBinaryDumper,), {"oid": array_oid, "element_oid": element_oid}
    )
    psycopg.adapters.register_dumper(array, dumper)
    return array


# The arrays of ``commit_step``, sent in binary format: (element, array) type oids.
_Texts = _array_type("_Texts", 25, 1009)
_Ints = _array_type("_Ints", 23, 1007)
_Bigints = _array_type("_Bigints", 20, 1016)
_Floats = _array_type("_Floats", 701, 1022)
_Blobs = _array_type("_Blobs", 17, 1001)


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
        self.channel = f"{CHANNEL}_{schema}"[:63]  # PostgreSQL's longest identifier
        self._ensure_schema()
        self._returned_at: weakref.WeakKeyDictionary[psycopg.Connection[Any], float] = (
            weakref.WeakKeyDictionary()
        )
        self._unreachable_at = 0.0
        self._own = threading.BoundedSemaphore(OWN_CONNECTIONS)  # see ``_borrowed``
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={
                "options": f"-c search_path={schema}",
                # A lone statement is its own transaction, in one round trip; several
                # are wrapped in ``conn.transaction()`` (BEGIN ... COMMIT).
                "autocommit": True,
                "connect_timeout": CONNECT_TIMEOUT,
            },
            # A connection broken by a server restart is noticed when it is taken back
            # and replaced; ``check`` tests one that has been idle before lending it.
            # No ``reset`` callback: with one, the pool hands every returned connection
            # to its background thread, and the next borrower waits for that thread to
            # be scheduled (milliseconds on a loaded machine; profiled). ``_borrowed``
            # notes the return time itself.
            check=self._check_idle,
            reconnect_timeout=24 * 3600.0,
            open=True,
        )
        self._listener: psycopg.Connection[Any] | None = None
        self._sessions = threading.local()
        self._opened: list[psycopg.Connection[Any]] = []  # every session, to close
        self._opened_lock = threading.Lock()

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        """``_unreachable``, remembering when the server was last found unreachable."""
        try:
            with _unreachable():
                yield
        except StoreUnavailable:
            self._unreachable_at = time.monotonic()
            raise

    def _check_idle(self, conn: psycopg.Connection[Any]) -> None:
        """Test a connection (one round trip) unless it came back to the pool healthy
        within ``RECENT_SECONDS``: a busy pool lends its connections again at once, and
        a check each time doubled the round trips of every read. One returned before the
        server was last found unreachable (restarting) is always tested."""
        returned = self._returned_at.get(conn)
        recent = returned is not None and time.monotonic() - returned < RECENT_SECONDS
        healthy = conn.pgconn.status == psycopg.pq.ConnStatus.OK
        if not (recent and healthy and (returned or 0.0) > self._unreachable_at):
            ConnectionPool.check_connection(conn)

    def _ensure_schema(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with (
            self._reachable(),
            self._borrowed() as conn,
            conn.transaction(),
            conn.cursor() as cursor,
        ):
            yield cursor  # type: ignore[misc]

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection (checked before it is lent), not in a transaction."""
        with self._reachable(), self._borrowed() as conn:
            yield conn

    @contextmanager
    def _borrowed(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection from the pool; if it has none for POOL_TIMEOUT (after an outage
        it reconnects with a back-off that doubles up to many seconds), one of its own
        for this use, so a server that is back serves at once. At most OWN_CONNECTIONS
        of those at a time: under plain overload the pool's wait is the answer (503),
        not one more server connection per request until max_connections is spent."""
        try:
            conn = self.pool.getconn(timeout=POOL_TIMEOUT)
        except PoolTimeout:
            if not self._own.acquire(blocking=False):
                raise
            try:
                with self._connect() as own:
                    yield own
            finally:
                self._own.release()
            return
        try:
            with conn:  # as the pool's own ``connection()``: ends a transaction left open
                yield conn
        finally:
            self._returned_at[conn] = time.monotonic()
            self.pool.putconn(conn)

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            self.url,
            autocommit=True,
            options=f"-c search_path={self.schema}",
            connect_timeout=CONNECT_TIMEOUT,
        )

    @contextmanager
    def session(self) -> Iterator[psycopg.Connection[Any]]:
        """This thread's own autocommit connection, for the worker threads' hot path:
        no pool checkout and no check round trip per use. One that fails (the server
        restarted) is dropped, and the thread's next call opens a fresh one."""
        conn: psycopg.Connection[Any] | None = getattr(self._sessions, "conn", None)
        try:
            with self._reachable():
                if conn is None or conn.closed:
                    conn = self._sessions.conn = self._connect()
                    with self._opened_lock:
                        self._opened = [c for c in self._opened if not c.closed] + [conn]
                yield conn
        except StoreUnavailable:
            self._sessions.conn = None
            if conn is not None:
                conn.close()
            raise

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
        rows = self.read_all(name, queries, params)
        return rows[0] if rows else None

    def read_all(self, name: str, queries: dict[str, str], params: dict[str, Any]) -> list[Row]:
        with self.connection() as conn:
            return _statement(conn, queries[name], params)

    def check(self) -> None:
        """One round trip to the server (health probe)."""
        with self.connection() as conn:
            conn.execute("SELECT 1")

    def lock_namespace(self, cursor: Cursor, namespace: str) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%(ns)s))", {"ns": namespace})

    def notify(self, cursor: Cursor, queues: Iterable[str] = QUEUES) -> None:
        cursor.execute(f"NOTIFY \"{self.channel}\", '{_payload(queues)}'")

    def wait_for_work(self, timeout: float) -> frozenset[str]:
        """Block until another transaction adds work, or ``timeout`` seconds pass; the
        queues named by the notices (every queue after a timeout, or for a notice that
        names none). A listener that failed (the server restarted) is dropped and opened
        afresh on the next call: notifications sent meanwhile are lost, which the pool's
        periodic look at the store makes up for."""
        queues: set[str] = set()
        try:
            with self._reachable():
                if self._listener is None:
                    self._listener = psycopg.connect(
                        self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT
                    )
                    self._listener.execute(f'LISTEN "{self.channel}"')
                for notice in self._listener.notifies(timeout=timeout, stop_after=1):
                    queues.update(_queues(notice.payload))
                # Notices that came meanwhile are one wake-up, not one each: with many
                # clients starting executions, every notice woke every idle thread of
                # every worker process to an empty look (profiled: the look-ups of 4
                # worker processes outnumbered the steps).
                for notice in self._listener.notifies(timeout=0):
                    queues.update(_queues(notice.payload))
        except StoreUnavailable:
            self._drop_listener()
            raise
        return frozenset(queues) or QUEUES

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
        with self._opened_lock:
            for conn in self._opened:
                conn.close()
            self._opened = []
        self.pool.close()


class PostgresStore(SqlStore):
    """``SqlStore`` whose work path is one statement per operation (the data-modifying
    CTEs of ``sql/postgres/queries.sql``), sent in pipelines: leasing a batch is one
    round trip, and committing a batch of steps together with leasing the next batch
    is one round trip and one transaction. The pool's worker threads use connections
    of their own (``PostgresDialect.session``); everything else uses the pool."""

    dialect: PostgresDialect
    # Every item added, by any process (this one too), is announced to ``wait_for_work``
    # by a NOTIFY naming its queue: the pool's threads pass wake-ups on to their own kind
    # only (``WorkerPool._loop``).
    announces_work = True

    def __init__(self, dialect: PostgresDialect) -> None:
        super().__init__(dialect)
        self.machines = StateMachineCache(dialect)
        self._idle = threading.local()  # .seen: (now, next due) from an empty lease
        # A step's events, items and tokens travel as arrays in binary format: psycopg's
        # text format escapes every quote of every JSON document with a regular
        # expression, which cost more than the database's whole work (profiled).
        self.q["commit_step"] = re.sub(r"%\((\w+)\)s", r"%(\1)b", self.q["commit_step"])

    def get_state_machine(self, arn: str) -> StateMachineRecord | None:
        """From ``StateMachineCache`` when it is sure of it: StartExecution and every
        batch of steps look their state machine up, one round trip each otherwise."""
        found, generation = self.machines.get(arn)
        if found is not None:
            return found
        record = super().get_state_machine(arn)
        if record is not None:
            self.machines.keep(arn, record, generation)
        return record

    def insert_state_machine(self, record: StateMachineRecord) -> None:
        try:
            super().insert_state_machine(record)
        finally:
            self.machines.forget()

    def replace_state_machine(self, record: StateMachineRecord) -> None:
        try:
            super().replace_state_machine(record)
        finally:
            self.machines.forget()

    def delete_state_machine(self, arn: str) -> None:
        try:
            super().delete_state_machine(arn)
        finally:
            self.machines.forget()

    def close(self) -> None:
        self.machines.close()
        super().close()

    def create_execution(
        self,
        record: ExecutionRecord,
        first: WorkItem,
        lease: tuple[str, float] | None = None,
        step: StepOutcome | None = None,
    ) -> tuple[ExecutionRecord, bool]:
        if step is not None:  # the shared statements, in one transaction
            return super().create_execution(record, first, lease, step)
        params = {
            "arn": record.arn,
            "state_machine_arn": record.state_machine_arn,
            "status": record.status,
            "start_date": record.start_date,
            "record": json_text(record),  # orjson writes a dataclass as asdict would
            "lease_owner": lease[0] if lease else None,
            "lease_expires": lease[1] if lease else 0.0,
            "queue": "execution",
            "kind": first.kind,
            "payload": first.payload,
            "due": first.due,
            "channel": self.dialect.channel,
        }
        with self.dialect.connection() as conn:
            row = _statement(conn, self.q["create_execution"], params)[0]
        if row[0] == 1:
            return record, True
        if row[1] is None:  # inserted meanwhile by a transaction this statement waited for
            existing = self.get_execution(record.arn)
            assert existing is not None
            return existing, False
        return execution_from_json(row[1]), False

    def lease_execution(
        self, owner: str, now: float, lease_for: float, arn: str | None = None
    ) -> Lease | None:
        query, params = self._lease_batch(LeaseRequest(owner, now, lease_for, 1), arn)
        with self.dialect.connection() as conn:
            leases = _leases(_statement(conn, query, params), owner)
        return leases[0] if leases else None

    def lease_executions(self, request: LeaseRequest) -> list[Lease]:
        query, params = self._lease_batch(request)
        with self.dialect.session() as conn:
            return self._leased(_statement(conn, query, params), request)

    def commit_step(self, lease: Lease, outcome: StepOutcome) -> bool:
        with self.dialect.connection() as conn:
            return self._commit_batch(conn, [(lease, outcome)], None)[0][0]

    def commit_steps(
        self, steps: Sequence[tuple[Lease, StepOutcome]], then: LeaseRequest | None = None
    ) -> tuple[list[bool], list[Lease]]:
        with self.dialect.session() as conn:
            return self._commit_batch(conn, steps, then)

    def lease_invocations(
        self, owner: str, now: float, lease_for: float, limit: int
    ) -> list[WorkItem]:
        params = {"owner": owner, "now": now, "until": now + lease_for, "limit": limit}
        with self.dialect.session() as conn:
            rows = _statement(conn, self.q["lease_invocations"], params)
        return sorted((item_from_row(row) for row in rows), key=lambda i: (i.due, i.id or 0))

    def peek(self, namespace: str, keys: Sequence[str]) -> dict[str, bytes]:
        rows = self._all("documents_get", {"namespace": namespace, "keys": list(keys)})
        return {row[0]: bytes(row[1]) for row in rows}

    def next_due(self, now: float = 0.0) -> float | None:
        """When work is next due; what this thread's last lease said, if it found nothing
        just now (the pool asks right after an empty lease: no second round trip)."""
        seen, self._idle.seen = getattr(self._idle, "seen", None), None
        if seen is not None and now - SEEN_FRESH <= seen[0] <= now:
            due: float | None = seen[1]
            return due
        row = self._one("next_due_by_queue", {"now": now})
        return float(row[0]) if row and row[0] is not None else None

    def _leased(self, rows: Sequence[Row], request: LeaseRequest) -> list[Lease]:
        """``_leases``, noting for ``next_due`` when work is next due if there were none."""
        leases = _leases(rows, request.owner)
        if leases or not rows:
            self._idle.seen = None
        else:
            due = rows[0][7]
            self._idle.seen = (request.now, float(due) if due is not None else None)
        return leases

    def _one(self, name: str, params: dict[str, Any]) -> Row | None:
        """A read in one round trip (the shared store's transaction costs three)."""
        rows = self._all(name, params)
        return rows[0] if rows else None

    def _all(self, name: str, params: dict[str, Any]) -> list[Row]:
        with self.dialect.connection() as conn:
            return _statement(conn, self.q[name], params)

    def _lease_batch(
        self, request: LeaseRequest, arn: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """``lease_executions``: up to ``request.limit`` executions, or the one ``arn``."""
        params = {
            "owner": request.owner,
            "now": request.now,
            "until": request.now + request.lease_for,
            "limit": request.limit,
            "scan": request.limit * SCAN_PER_LEASE,
            "arn": arn,
        }
        return self.q["lease_executions"], params

    def _commit_batch(
        self,
        conn: psycopg.Connection[Any],
        steps: Sequence[tuple[Lease, StepOutcome]],
        then: LeaseRequest | None,
    ) -> tuple[list[bool], list[Lease]]:
        """Every step's statement, a NOTIFY if work was added, and the next lease, in
        one pipeline: one round trip, and one transaction (the statements before a
        pipeline's Sync form one implicit transaction on an autocommit connection: if
        one fails, none is committed). Every parameter is built before the pipeline opens:
        its exit syncs what was queued, so a step raising there would commit the steps
        before it while the caller sees the batch refused."""
        params = [_commit_params(lease, outcome) for lease, outcome in steps]
        cursors = []
        leasing = None
        with conn.pipeline():
            for step in params:
                cursor = conn.cursor()
                cursor.execute(self.q["commit_step"], step)
                cursors.append(cursor)
            added = {queue_of(item) for _, outcome in steps for item in outcome.new_items}
            if added:
                conn.execute(f"NOTIFY \"{self.dialect.channel}\", '{_payload(added)}'")
            if then is not None:
                leasing = conn.cursor()
                leasing.execute(*self._lease_batch(then))
        committed = [_first(cursor) == 1 for cursor in cursors]
        leases = self._leased(leasing.fetchall(), then) if leasing and then else []
        return committed, leases


class StateMachineCache:
    """State machine records as read, kept only while a connection of its own LISTENs
    on ``MACHINES_CHANNEL``, where a trigger (migration 0005) announces every change to
    the ``state_machines`` table, whoever makes it. Each look-up first reads what that
    connection has received (no round trip: what has arrived on its socket) and forgets
    everything at any notice. The LISTEN is in place before any record it keeps is read,
    so a change committed after a read always reaches it; what a look-up can miss is a
    change committed in another process in the moment (well under a millisecond on one
    host) before its notice arrives, as Step Functions' own StartExecution may use the
    definition from before an UpdateStateMachine for a few seconds. This store's own
    writes are forgotten at once. If the connection fails, look-ups read the table,
    uncached, until it is back; and no record is kept longer than
    ``MACHINE_MAX_AGE_SECONDS``, for a connection that fails without a word."""

    def __init__(self, dialect: PostgresDialect) -> None:
        self._dialect = dialect
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._records: dict[str, tuple[StateMachineRecord, float]] = {}  # and when read
        self._generation = 0  # how many times the records were forgotten
        self._failed_at = -RELISTEN_SECONDS
        self._arrived = select.poll()  # the listener's socket has something to read

    def get(self, arn: str) -> tuple[StateMachineRecord | None, int | None]:
        """The record kept for ``arn`` if any, and the generation to ``keep`` a record
        read now under (None: not to be kept, the cache is not listening)."""
        with self._lock:
            if not self._listening():
                return None, None
            kept = self._records.get(arn)
            if kept is None or time.monotonic() - kept[1] >= MACHINE_MAX_AGE_SECONDS:
                return None, self._generation
            return kept[0], self._generation

    def keep(self, arn: str, record: StateMachineRecord, generation: int | None) -> None:
        """Keep a record read after ``get`` said ``generation``, unless a notice came
        since (the read may be older than the change announced)."""
        with self._lock:
            if generation is not None and generation == self._generation:
                self._records[arn] = (record, time.monotonic())

    def forget(self) -> None:
        with self._lock:
            self._records.clear()
            self._generation += 1

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _listening(self) -> bool:
        """Whether the listener is up and nothing was announced since the records were
        read; it is opened (and everything forgotten) if it is not."""
        conn = self._conn
        try:
            if conn is None:
                if time.monotonic() - self._failed_at < RELISTEN_SECONDS:
                    return False
                conn = self._conn = self._dialect._connect()
                conn.execute(f"LISTEN {MACHINES_CHANNEL}")
                self._arrived = select.poll()  # poll, not select: any descriptor number
                self._arrived.register(conn.pgconn.socket, select.POLLIN)
                self._records.clear()
                self._generation += 1
                return True
            pgconn = conn.pgconn
            if not self._arrived.poll(0):
                return True  # nothing has arrived: nothing changed
            pgconn.consume_input()  # what has arrived (never waits); raises at its end
            if pgconn.notifies() is None:
                # The listener only ever receives notices. Anything else is the server's
                # goodbye (a restart, a terminated backend): libpq reads it without an
                # error and raises only on a later read, when the socket has closed.
                raise psycopg.OperationalError("the machine cache's listener was closed")
            while pgconn.notifies() is not None:
                pass
            self._records.clear()
            self._generation += 1
            return True
        except (psycopg.Error, OSError):
            self._failed_at = time.monotonic()
            self._drop()
            return False

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._records.clear()
        self._generation += 1
        if conn is not None:
            conn.close()


def _payload(queues: Iterable[str]) -> str:
    """A work notice's payload: the queues it is about, by name (``QUEUES`` only, so the
    text is safe to put in the statement)."""
    return ",".join(sorted(QUEUES.intersection(queues)))


def _queues(payload: str) -> frozenset[str]:
    """The queues a notice names; every queue if it names none (an older sender)."""
    return QUEUES.intersection(payload.split(",")) or QUEUES


def _statement(conn: psycopg.Connection[Any], query: str, params: dict[str, Any]) -> list[Row]:
    """Run one statement on an autocommit connection: its own transaction, one round
    trip. Its rows."""
    return conn.execute(query, params).fetchall()


def _first(cursor: psycopg.Cursor[Any]) -> Any:
    row = cursor.fetchone()
    return row[0] if row is not None else None


def _leases(rows: Sequence[Row], owner: str) -> list[Lease]:
    """Leases from ``lease_executions`` rows (one per due item; NULL item columns for
    an execution with none left), in the order of their first due item. Items read in
    a snapshot older than the locked row (a step was committed in between: the
    versions differ) are left out, as they may be consumed already."""
    found: dict[str, tuple[Row, list[WorkItem]]] = {}
    for row in rows:
        arn = row[0]
        if arn is None:  # nothing was leased: the row says when work is next due
            continue
        entry = found.setdefault(arn, (row, []))
        if row[4] is not None and row[8] == row[3]:
            entry[1].append(item_from_row((row[4], arn, row[5], row[6], row[7])))
    return [
        Lease(
            execution=execution_from_json(row[1]),
            state=bytes(row[2]) if row[2] is not None else None,
            version=row[3],
            items=tuple(items),
            owner=owner,
        )
        for row, items in found.values()
    ]


def _commit_params(lease: Lease, outcome: StepOutcome) -> dict[str, Any]:
    record = outcome.execution
    ended = record.status != "RUNNING"
    tokens = [t for t in outcome.tokens if not (ended and t.execution_arn == record.arn)]
    items = outcome.new_items
    rows = event_rows(outcome.events)
    return {
        "record": json_text(record),  # orjson writes a dataclass as asdict would
        "status": record.status,
        "state": outcome.state,
        "arn": record.arn,
        "version": lease.version,
        "owner": lease.owner,
        "event_ids": _Ints(first for first, _ in rows),
        "events": _Texts(text for _, text in rows),
        "done_items": _Bigints(outcome.done_items),
        "item_arns": _Texts(item.execution_arn for item in items),
        "item_queues": _Texts("invoke" if item.kind == "invoke" else "execution" for item in items),
        "item_kinds": _Texts(item.kind for item in items),
        "item_payloads": _Blobs(item.payload for item in items),
        "item_dues": _Floats(item.due for item in items),
        "token_ids": _Texts(token.token for token in tokens),
        "token_arns": _Texts(token.execution_arn for token in tokens),
        "token_activities": _Texts(token.activity_arn for token in tokens),
        "token_statuses": _Texts(token.status for token in tokens),
        "token_created": _Floats(token.created for token in tokens),
        "token_records": _Texts(json_text(token) for token in tokens),
        "ended": ended,
    }


def open_postgres(url: str, schema: str = "stepwell") -> SqlStore:
    dialect = PostgresDialect(url, schema)
    dialect.migrate()
    return PostgresStore(dialect)
