"""The SQL store: one implementation of ``Store`` for SQLite and PostgreSQL.

The SQL lives in ``sql/queries.sql`` as named queries and the schema in numbered
migrations under ``sql/<dialect>/``; this module only runs them. A ``Dialect`` supplies
what differs: how to connect, how to open a write transaction, the parameter style and
row locking (``FOR UPDATE SKIP LOCKED`` on PostgreSQL). Migrations are applied
automatically when a store opens.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from importlib import resources
from typing import Any, Protocol

import orjson

from stepwell.language.verbatim import compact_json, parse_json
from stepwell.store.base import (
    DEFINITIONS,
    QUEUES,
    ActivityRecord,
    Documents,
    ExecutionRecord,
    Lease,
    LeaseRequest,
    StateMachineRecord,
    StepOutcome,
    TaskToken,
    WorkItem,
    commit_each,
    definition_key,
    lease_each,
    queue_of,
    same_attempt,
)

Row = Sequence[Any]


class Cursor(Protocol):
    """The part of a DB-API cursor the store uses."""

    rowcount: int

    def execute(self, query: str, params: dict[str, Any] | None = None) -> Any: ...
    def executemany(
        self, query: str, params: Sequence[dict[str, Any]] | Sequence[tuple[Any, ...]]
    ) -> Any: ...
    def fetchone(self) -> Row | None: ...
    def fetchall(self) -> list[Row]: ...


class Dialect(Protocol):
    name: str
    locks: dict[str, str]

    def transaction(self) -> AbstractContextManager[Cursor]:
        """A write transaction: commits when the block ends, rolls back on error."""
        ...

    def translate(self, query: str) -> str: ...
    def notify(self, cursor: Cursor, queues: Iterable[str] = QUEUES) -> None:
        """Tell waiting workers (in any process) that work was added to ``queues``."""
        ...

    def wait_for_work(self, timeout: float) -> frozenset[str]: ...
    def read(self, name: str, queries: dict[str, str], params: dict[str, Any]) -> Row | None:
        """One row of a read-only query, outside any write transaction."""
        ...

    def read_all(self, name: str, queries: dict[str, str], params: dict[str, Any]) -> list[Row]:
        """Every row of a read-only query, outside any write transaction."""
        ...

    def lock_namespace(self, cursor: Cursor, namespace: str) -> None:
        """Hold ``namespace`` exclusively until the transaction ends."""
        ...

    def check(self) -> None:
        """Raise ``StoreUnavailable`` if the database cannot be used now."""
        ...

    def close(self) -> None: ...


def load_queries(dialect: Dialect) -> dict[str, str]:
    """The shared named queries, then the dialect's own (``sql/<dialect>/queries.sql``,
    if any), which add to them."""
    folder = resources.files("stepwell.store").joinpath("sql")
    text = folder.joinpath("queries.sql").read_text()
    own = folder.joinpath(dialect.name, "queries.sql")
    if own.is_file():
        text += "\n" + own.read_text()
    queries: dict[str, str] = {}
    for block in re.split(r"^-- name: ", text, flags=re.MULTILINE)[1:]:
        name, _, body = block.partition("\n")
        body = "\n".join(line for line in body.splitlines() if not line.startswith("--"))
        queries[name.strip()] = dialect.translate(body.strip().format(**dialect.locks))
    return queries


def migrations(dialect_name: str) -> list[tuple[int, str]]:
    folder = resources.files("stepwell.store").joinpath(f"sql/{dialect_name}")
    found = []
    for entry in folder.iterdir():
        match = re.match(r"(\d+)_.*\.sql$", entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text()))
    return sorted(found)


# Records are immutable and stored as JSON text: decoding the same text again gives the
# same record, so listings reuse it (a list of state machines no longer re-parses every
# definition on every call).
@functools.lru_cache(maxsize=4096)
def _machine(text: str) -> StateMachineRecord:
    return StateMachineRecord(**orjson.loads(text))


@functools.lru_cache(maxsize=4096)
def _execution(text: str) -> ExecutionRecord:
    return ExecutionRecord(**parse_json(text))  # redrive_keeps may hold big integers


@functools.lru_cache(maxsize=1024)
def _activity(text: str) -> ActivityRecord:
    return ActivityRecord(**orjson.loads(text))


def _json(value: Any) -> str:
    """JSON text of a value or a record: orjson writes a dataclass by its fields, as
    ``dataclasses.asdict`` would, without copying it first (a twentieth of the cost)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # an integer past 64 bits in user data (an execution's redrive_keeps)
        dataclass = dataclasses.is_dataclass(value) and not isinstance(value, type)
        plain = dataclasses.asdict(value) if dataclass else value
        return compact_json(plain).decode()  # read back exactly by parse_json


# History is stored a run of events to a row: a step of an engine-bound workload writes
# hundreds of events (a Choice loop, an inline Map), and storing each in a row of its own
# was most of the step's cost (callgrind: about 60%). Runs are short enough that no row
# comes near SQLite's limit on a value's length (1 GB), with 256 KiB payloads.
EVENTS_PER_ROW = 128


def event_rows(events: Sequence[dict[str, Any]]) -> list[tuple[int, str]]:
    """The rows of ``history_events`` that hold ``events`` (consecutive, as a step adds
    them): each is (id of its first event, JSON array of up to ``EVENTS_PER_ROW``
    events). Rows written before this layout, one event each, are a JSON object; the
    ``history`` reader takes both, in the order of their first ids."""
    return [
        (events[start]["id"], _json(events[start : start + EVENTS_PER_ROW]))
        for start in range(0, len(events), EVENTS_PER_ROW)
    ]


json_text = _json
execution_from_json = _execution


def _item_row(item: WorkItem) -> dict[str, Any]:
    return {
        "execution_arn": item.execution_arn,
        "queue": queue_of(item),
        "kind": item.kind,
        "payload": item.payload,
        "due": item.due,
    }


def _item(row: Row) -> WorkItem:
    return WorkItem(id=row[0], execution_arn=row[1], kind=row[2], payload=bytes(row[3]), due=row[4])


item_from_row = _item


class SqlStore:
    """``Store`` over a SQL database; see the module docstring."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.q = load_queries(dialect)

    # ----------------------------------------------------------------- state machines

    def insert_state_machine(self, record: StateMachineRecord) -> None:
        with self.dialect.transaction() as cur:
            self._keep_definition(cur, record.definition)
            cur.execute(
                self.q["insert_state_machine"], {"arn": record.arn, "record": _json(record)}
            )

    def replace_state_machine(self, record: StateMachineRecord) -> None:
        with self.dialect.transaction() as cur:
            self._keep_definition(cur, record.definition)
            cur.execute(
                self.q["replace_state_machine"],
                {"arn": record.arn, "record": _json(record)},
            )

    def get_state_machine(self, arn: str) -> StateMachineRecord | None:
        row = self._one("get_state_machine", {"arn": arn})
        return _machine(row[0]) if row else None

    def list_state_machines(self) -> list[StateMachineRecord]:
        return [_machine(r[0]) for r in self._all("list_state_machines", {})]

    def delete_state_machine(self, arn: str) -> None:
        with self.dialect.transaction() as cur:
            cur.execute(self.q["delete_state_machine"], {"arn": arn})

    # ----------------------------------------------------------------- executions

    def create_execution(
        self,
        record: ExecutionRecord,
        first: WorkItem,
        lease: tuple[str, float] | None = None,
        step: StepOutcome | None = None,
    ) -> tuple[ExecutionRecord, bool]:
        stepped = step if lease is not None else None
        with self.dialect.transaction() as cur:
            if stepped is not None:
                # The row as the first step leaves it (version 1, no lease), at once: what
                # inserting it leased and committing the step to it would leave.
                after = stepped.execution
                cur.execute(
                    self.q["insert_stepped_execution"],
                    {
                        "arn": record.arn,
                        "state_machine_arn": record.state_machine_arn,
                        "status": after.status,
                        "start_date": record.start_date,
                        "record": _json(after),
                        "state": stepped.state,
                    },
                )
            else:
                cur.execute(
                    self.q["insert_execution"],
                    {
                        "arn": record.arn,
                        "state_machine_arn": record.state_machine_arn,
                        "status": record.status,
                        "start_date": record.start_date,
                        "record": _json(record),
                        "lease_owner": lease[0] if lease else None,
                        "lease_expires": lease[1] if lease else 0.0,
                    },
                )
            if cur.rowcount != 1:  # the ARN exists: nothing is written
                cur.execute(self.q["get_execution"], {"arn": record.arn})
                row = cur.fetchone()
                assert row is not None
                return _execution(row[0]), False
            if stepped is not None:
                self._write_step_rows(cur, stepped)
            else:
                cur.execute(self.q["insert_item"], _item_row(first))
                self.dialect.notify(cur, {queue_of(first)})
        return record, True

    def get_execution(self, arn: str) -> ExecutionRecord | None:
        row = self._one("get_execution", {"arn": arn})
        return _execution(row[0]) if row else None

    def list_executions(
        self, state_machine_arn: str | None, status: str | None
    ) -> list[ExecutionRecord]:
        rows = self._all("list_executions", {"machine": state_machine_arn, "status": status})
        return [_execution(r[0]) for r in rows]

    def history(self, arn: str) -> list[dict[str, Any]]:
        """Every event, in id order: a row holds one event or a run of them (see
        ``event_rows``)."""
        events: list[dict[str, Any]] = []
        for row in self._all("history", {"arn": arn}):
            value = orjson.loads(row[0])
            if isinstance(value, list):
                events.extend(value)
            else:
                events.append(value)
        return events

    def enqueue(self, item: WorkItem) -> None:
        with self.dialect.transaction() as cur:
            cur.execute(self.q["insert_item"], _item_row(item))
            self.dialect.notify(cur, {queue_of(item)})

    def redrive_execution(
        self,
        record: ExecutionRecord,
        closed: ExecutionRecord,
        state: bytes,
        events: tuple[dict[str, Any], ...],
        items: tuple[WorkItem, ...],
    ) -> bool:
        with self.dialect.transaction() as cur:
            cur.execute(self.q["read_execution_version"], {"arn": record.arn})
            found = cur.fetchone()
            if found is None or not same_attempt(_execution(found[0]), closed):
                return False
            # Only the version read: a write since (a redrive committed after the read
            # above, on PostgreSQL) makes the update match nothing.
            cur.execute(
                self.q["reopen_execution"],
                {
                    "record": _json(record),
                    "status": record.status,
                    "state": state,
                    "arn": record.arn,
                    "version": found[1],
                },
            )
            if cur.rowcount != 1:
                return False
            self._insert_events(cur, record.arn, events)
            cur.execute(self.q["delete_execution_items"], {"arn": record.arn})
            if items:
                cur.executemany(self.q["insert_item"], [_item_row(item) for item in items])
            self.dialect.notify(cur, {queue_of(item) for item in items})
        return True

    # ----------------------------------------------------------------- work

    def lease_execution(
        self, owner: str, now: float, lease_for: float, arn: str | None = None
    ) -> Lease | None:
        if (
            arn is None
            and self.dialect.read("any_due_execution_work", self.q, {"now": now}) is None
        ):
            return None  # nothing due: no write transaction
        with self.dialect.transaction() as cur:
            cur.execute(self.q["find_leasable_execution"], {"now": now, "arn": arn, "owner": owner})
            found = cur.fetchone()
            if found is None:
                return None
            arn = found[0]
            cur.execute(
                self.q["take_execution_lease"],
                {"owner": owner, "until": now + lease_for, "arn": arn},
            )
            cur.execute(self.q["leased_execution"], {"arn": arn})
            row = cur.fetchone()
            assert row is not None
            cur.execute(self.q["due_items"], {"arn": arn, "now": now})
            items = tuple(_item(r) for r in cur.fetchall())
        return Lease(
            execution=_execution(row[0]),
            state=bytes(row[1]) if row[1] is not None else None,
            version=row[2],
            items=items,
            owner=owner,
        )

    def commit_step(self, lease: Lease, outcome: StepOutcome) -> bool:
        """Write a step's outcome; False (and nothing written) if the lease was lost."""
        try:
            self._commit(lease, outcome)
        except _LeaseLost:
            return False
        return True

    def _commit(self, lease: Lease, outcome: StepOutcome) -> None:
        with self.dialect.transaction() as cur:
            self._write_step(cur, outcome, version=lease.version, owner=lease.owner)

    def _write_step(self, cur: Cursor, outcome: StepOutcome, **held: Any) -> None:
        """A step's outcome, if the execution still has ``version`` and ``owner``'s
        lease, or (``now`` instead of ``owner``) no lease (else ``_LeaseLost``): each
        kind of row in one statement."""
        record = outcome.execution
        query = "commit_execution" if "owner" in held else "commit_unleased_execution"
        cur.execute(
            self.q[query],
            {
                "record": _json(record),
                "status": record.status,
                "state": outcome.state,
                "arn": record.arn,
                **held,
            },
        )
        if cur.rowcount != 1:
            raise _LeaseLost
        self._write_step_rows(cur, outcome)

    def _write_step_rows(self, cur: Cursor, outcome: StepOutcome) -> None:
        """What a step adds besides its execution's row: events, items and tokens."""
        record = outcome.execution
        self._insert_events(cur, record.arn, outcome.events)
        if outcome.done_items:
            cur.executemany(self.q["delete_item"], [{"id": i} for i in outcome.done_items])
        if outcome.new_items:
            cur.executemany(self.q["insert_item"], [_item_row(i) for i in outcome.new_items])
            self.dialect.notify(cur, {queue_of(i) for i in outcome.new_items})
        ended = record.status != "RUNNING"
        tokens = [t for t in outcome.tokens if not (ended and t.execution_arn == record.arn)]
        if tokens:
            cur.executemany(self.q["insert_token"], [_token_row(t) for t in tokens])
        if ended:
            cur.execute(self.q["delete_execution_tokens"], {"arn": record.arn})

    def _insert_events(self, cur: Cursor, arn: str, events: Sequence[dict[str, Any]]) -> None:
        """A step's history events, in rows of ``event_rows``, bound by position (see
        ``insert_event``)."""
        if events:
            cur.executemany(self.q["insert_event"], [(arn, *row) for row in event_rows(events)])

    def lease_executions(self, request: LeaseRequest) -> list[Lease]:
        return lease_each(self, request)

    def commit_steps(
        self, steps: Sequence[tuple[Lease, StepOutcome]], then: LeaseRequest | None = None
    ) -> tuple[list[bool], list[Lease]]:
        return commit_each(self, steps, then)

    def release(self, lease: Lease, retry_at: float = 0.0) -> None:
        with self.dialect.transaction() as cur:
            cur.execute(
                self.q["release_execution"],
                {"arn": lease.execution.arn, "owner": lease.owner, "retry_at": retry_at},
            )

    def lease_invocations(
        self, owner: str, now: float, lease_for: float, limit: int
    ) -> list[WorkItem]:
        if self.dialect.read("any_due_invocation", self.q, {"now": now}) is None:
            return []
        with self.dialect.transaction() as cur:
            cur.execute(self.q["find_invocations"], {"now": now, "limit": limit})
            items = [_item(r) for r in cur.fetchall()]
            for item in items:
                cur.execute(
                    self.q["take_item_lease"],
                    {"owner": owner, "until": now + lease_for, "id": item.id},
                )
        return items

    def finish_invocation(self, item: WorkItem, owner: str, result: WorkItem | None) -> bool:
        with self.dialect.transaction() as cur:
            cur.execute(self.q["finish_invocation"], {"id": item.id, "owner": owner})
            if cur.rowcount != 1:
                return False
            if result is not None:
                cur.execute(self.q["insert_item"], _item_row(result))
                self.dialect.notify(cur, {queue_of(result)})
        return True

    def next_due(self, now: float = 0.0) -> float | None:
        row = self._one("next_due", {"now": now})
        return float(row[0]) if row and row[0] is not None else None

    # ----------------------------------------------------------------- task tokens

    def get_task_token(self, token: str) -> TaskToken | None:
        row = self._one("get_token", {"token": token})
        if row is None:
            return None
        return TaskToken(**{**orjson.loads(row[0]), "status": row[1]})

    def resolve_task_token(self, token: str, event: WorkItem | None) -> bool:
        with self.dialect.transaction() as cur:
            cur.execute(self.q["delete_token"], {"token": token})
            if cur.rowcount != 1:
                return False
            if event is not None:
                cur.execute(self.q["insert_item"], _item_row(event))
                self.dialect.notify(cur, {queue_of(event)})
        return True

    def peek_lease(self, arn: str, now: float) -> Lease | None:
        rows = self._all("peek_execution", {"arn": arn, "now": now})
        if not rows:
            return None
        row = rows[0]
        items = tuple(_item(r[3:]) for r in rows if r[3] is not None)
        state = bytes(row[1]) if row[1] is not None else None
        return Lease(
            execution=_execution(row[0]), state=state, version=row[2], items=items, owner=""
        )

    def resolve_and_step(
        self, token: str, event: WorkItem, seen: Lease, outcome: StepOutcome, now: float
    ) -> tuple[bool, bool]:
        with self.dialect.transaction() as cur:
            cur.execute(self.q["delete_token"], {"token": token})
            if cur.rowcount != 1:
                return False, False
            try:
                self._write_step(cur, outcome, version=seen.version, now=now)
            except _LeaseLost:  # changed or leased since it was read: the queue's turn
                cur.execute(self.q["insert_item"], _item_row(event))
                self.dialect.notify(cur, {queue_of(event)})
                return True, False
        return True, True

    def lease_activity_task(self, activity_arn: str, worker: str) -> TaskToken | None:
        with self.dialect.transaction() as cur:
            cur.execute(self.q["find_activity_task"], {"activity": activity_arn})
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute(self.q["start_activity_task"], {"token": row[0]})
            cur.execute(self.q["get_token"], {"token": row[0]})
            found = cur.fetchone()
        assert found is not None
        return TaskToken(**{**orjson.loads(found[0]), "status": "STARTED"})

    # ----------------------------------------------------------------- activities

    def insert_activity(self, record: ActivityRecord) -> None:
        with self.dialect.transaction() as cur:
            cur.execute(self.q["insert_activity"], {"arn": record.arn, "record": _json(record)})

    def replace_activity(self, record: ActivityRecord) -> None:
        with self.dialect.transaction() as cur:
            cur.execute(self.q["replace_activity"], {"arn": record.arn, "record": _json(record)})

    def get_activity(self, arn: str) -> ActivityRecord | None:
        row = self._one("get_activity", {"arn": arn})
        return _activity(row[0]) if row else None

    def list_activities(self) -> list[ActivityRecord]:
        return [_activity(r[0]) for r in self._all("list_activities", {})]

    def delete_activity(self, arn: str) -> None:
        with self.dialect.transaction() as cur:
            cur.execute(self.q["delete_activity"], {"arn": arn})

    def wait_for_work(self, timeout: float) -> frozenset[str]:
        return self.dialect.wait_for_work(timeout)

    # ----------------------------------------------------------------- documents

    @contextmanager
    def documents(self, namespace: str) -> Iterator[Documents]:
        with self.dialect.transaction() as cur:
            self.dialect.lock_namespace(cur, namespace)
            yield _SqlDocuments(cur, self.q, namespace)

    def peek(self, namespace: str, keys: Sequence[str]) -> dict[str, bytes]:
        found = {}
        for key in keys:
            row = self._one("document_get", {"namespace": namespace, "key": key})
            if row is not None:
                found[key] = bytes(row[0])
        return found

    def check(self) -> None:
        self.dialect.check()

    def close(self) -> None:
        self.dialect.close()

    # ----------------------------------------------------------------- helpers

    def _keep_definition(self, cur: Cursor, definition: str) -> None:
        """Every definition a machine or version ever had stays readable by its key."""
        docs = _SqlDocuments(cur, self.q, DEFINITIONS)
        key = definition_key(definition)
        if docs.get(key) is None:
            docs.put(key, definition.encode())

    def _one(self, name: str, params: dict[str, Any]) -> Row | None:
        """A read of one statement: its own snapshot, outside any write transaction
        (which on SQLite would take the database's write lock for a read)."""
        return self.dialect.read(name, self.q, params)

    def _all(self, name: str, params: dict[str, Any]) -> list[Row]:
        return self.dialect.read_all(name, self.q, params)


class _SqlDocuments:
    """``Documents`` inside one open transaction."""

    def __init__(self, cursor: Cursor, queries: dict[str, str], namespace: str) -> None:
        self._cur = cursor
        self._q = queries
        self._ns = namespace

    def get(self, key: str) -> bytes | None:
        self._cur.execute(self._q["document_get"], {"namespace": self._ns, "key": key})
        row = self._cur.fetchone()
        return bytes(row[0]) if row is not None else None

    def put(self, key: str, value: bytes) -> None:
        self.delete(key)
        self._cur.execute(
            self._q["document_insert"], {"namespace": self._ns, "key": key, "value": value}
        )

    def delete(self, key: str) -> None:
        self._cur.execute(self._q["document_delete"], {"namespace": self._ns, "key": key})

    def scan(self, prefix: str = "") -> list[tuple[str, bytes]]:
        self._cur.execute(
            self._q["document_scan"],
            {"namespace": self._ns, "prefix": prefix, "prefix_length": len(prefix)},
        )
        return sorted((row[0], bytes(row[1])) for row in self._cur.fetchall())


class _LeaseLost(Exception):
    """The execution changed under a worker whose lease had expired."""


def _token_row(token: TaskToken) -> dict[str, Any]:
    return {
        "token": token.token,
        "execution_arn": token.execution_arn,
        "activity_arn": token.activity_arn,
        "status": token.status,
        "created": token.created,
        "record": _json(token),
    }


__all__ = [
    "Cursor",
    "Dialect",
    "SqlStore",
    "execution_from_json",
    "item_from_row",
    "json_text",
    "migrations",
]
