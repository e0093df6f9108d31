"""What Stepwell remembers, and the one interface every store implements.

A store keeps state machines, executions (with the interpreter's state between steps),
history events, a queue of *work items* and task tokens. Work items carry everything the
runtime must still do:

* ``start`` and ``event`` items belong to an execution and are applied by the
  interpreter, in order, by whichever worker holds that execution's lease. Timers are
  ``event`` items whose ``due`` lies in the future: a Wait of a year is one row.
* ``invoke`` items ask for a task to be run. Any worker may lease one; the result comes
  back as an ``event`` item. Invocation is at-least-once, as in AWS.

``commit_step`` writes a step's whole outcome — new execution state, history events, new
work items, consumed items, task tokens — in one transaction, and only if the execution
still has the version the worker leased: a worker whose lease expired cannot apply a
step twice. Times are epoch seconds (floats) throughout.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

WorkKind = Literal["start", "event", "invoke"]
DEFINITIONS = "definitions"  # Documents namespace: definition text by definition_key


def definition_key(definition: str) -> str:
    """The content address under which a definition is kept (SHA-256, hex)."""
    return hashlib.sha256(definition.encode()).hexdigest()


LEASE_SECONDS = 30.0
# The two queues of work items: execution work (advanced by a worker's advancing threads)
# and task invocations ("invoke" items, run by its invoking threads).
QUEUES = frozenset({"execution", "invoke"})


def queue_of(item: WorkItem) -> str:
    return "invoke" if item.kind == "invoke" else "execution"


class StoreUnavailable(Exception):
    """The database cannot be used now: unreachable, deleted, corrupt or full.

    Not the fault of any request or execution: the service answers it as a retryable
    ``503 ServiceUnavailable``, the runtime retries the work with back-off, and
    ``check()`` (the health probe) says what is wrong. The message says it in words an
    operator can act on."""


@dataclass(frozen=True, slots=True)
class StateMachineRecord:
    arn: str
    name: str
    type: str  # STANDARD | EXPRESS
    definition: str
    role_arn: str
    creation_date: float
    revision_id: str
    status: str = "ACTIVE"
    description: str = ""
    logging_configuration: dict[str, Any] = field(default_factory=dict)
    tracing_configuration: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    version_of: str | None = None  # for a published version: the state machine's ARN
    version: int | None = None


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    arn: str
    state_machine_arn: str
    name: str
    status: str
    input: str
    start_date: float
    stop_date: float | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    version_arn: str | None = None
    alias_arn: str | None = None
    redrive_count: int = 0
    redrive_date: float | None = None
    trace_header: str | None = None
    # The definition this execution runs, by content (``definition_key``): an update of
    # the state machine does not change an execution already started.
    definition_key: str | None = None
    # When the execution failed in a top-level Parallel or Map: that state's name and the
    # branches or iterations that had succeeded ({"state": ..., "done": [[i, output]]}),
    # which RedriveExecution does not run again.
    redrive_keeps: dict[str, Any] | None = None
    # A child execution of a Distributed Map: the Map Run that started it.
    map_run_arn: str | None = None


def same_attempt(stored: ExecutionRecord, closed: ExecutionRecord) -> bool:
    """Whether ``stored`` is still the closed attempt ``closed`` was read as: neither
    redriven since (``redrive_count``) nor restarted (an Express Map Run child keeps its
    ARN but starts again: ``start_date``), nor ended again."""
    return (stored.status, stored.redrive_count, stored.start_date, stored.stop_date) == (
        closed.status,
        closed.redrive_count,
        closed.start_date,
        closed.stop_date,
    )


@dataclass(frozen=True, slots=True)
class WorkItem:
    execution_arn: str
    kind: WorkKind
    payload: bytes
    due: float
    id: int | None = None


@dataclass(frozen=True, slots=True)
class TaskToken:
    token: str
    execution_arn: str
    frame: int
    seq: int
    created: float
    activity_arn: str | None = None
    input: str | None = None
    status: str = "SCHEDULED"  # SCHEDULED | STARTED (an activity worker has it)
    heartbeat_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class ActivityRecord:
    arn: str
    name: str
    creation_date: float
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Lease:
    """A worker's exclusive hold on one execution, with the work due for it."""

    execution: ExecutionRecord
    state: bytes | None  # the serialized interpreter state; None before the start item
    version: int
    items: tuple[WorkItem, ...]
    owner: str


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """Everything one step changes, written atomically by ``commit_step``."""

    execution: ExecutionRecord
    state: bytes | None
    events: tuple[dict[str, Any], ...]
    new_items: tuple[WorkItem, ...]
    done_items: tuple[int, ...]
    tokens: tuple[TaskToken, ...] = ()


@dataclass(frozen=True, slots=True)
class LeaseRequest:
    """What ``lease_executions`` is asked: up to ``limit`` executions for ``owner``."""

    owner: str
    now: float
    lease_for: float
    limit: int


class Documents(Protocol):
    """Key → bytes in one namespace, inside a transaction that holds the namespace
    exclusively: what the embedded services keep (tables, queues, topics, schedules)."""

    def get(self, key: str) -> bytes | None: ...
    def put(self, key: str, value: bytes) -> None: ...
    def delete(self, key: str) -> None: ...
    def scan(self, prefix: str = "") -> list[tuple[str, bytes]]:
        """Every (key, value) whose key starts with ``prefix``, in key order."""
        ...


class Store(Protocol):
    """The store interface. Every method is one transaction."""

    # State machines -------------------------------------------------------------------
    def insert_state_machine(self, record: StateMachineRecord) -> None: ...
    def replace_state_machine(self, record: StateMachineRecord) -> None: ...
    def get_state_machine(self, arn: str) -> StateMachineRecord | None: ...
    def list_state_machines(self) -> list[StateMachineRecord]: ...
    def delete_state_machine(self, arn: str) -> None: ...

    # Executions -----------------------------------------------------------------------
    def create_execution(
        self,
        record: ExecutionRecord,
        first: WorkItem,
        lease: tuple[str, float] | None = None,
        step: StepOutcome | None = None,
    ) -> tuple[ExecutionRecord, bool]:
        """Insert the execution and its first work item, unless an execution with that
        ARN exists: then return the existing one and False (and write nothing).
        ``lease`` (owner, until) gives the new execution's lease to its creator, who
        steps it at once. ``step``, with ``lease``: the outcome of that first step,
        computed before the execution existed (from a lease of version 0 holding
        ``first``), committed in the same transaction instead of inserting ``first``:
        StartExecution is one transaction."""
        ...

    def get_execution(self, arn: str) -> ExecutionRecord | None: ...
    def list_executions(
        self, state_machine_arn: str | None, status: str | None
    ) -> list[ExecutionRecord]: ...
    def history(self, arn: str) -> list[dict[str, Any]]: ...
    def enqueue(self, item: WorkItem) -> None: ...
    def redrive_execution(
        self,
        record: ExecutionRecord,
        closed: ExecutionRecord,
        state: bytes,
        events: tuple[dict[str, Any], ...],
        items: tuple[WorkItem, ...],
    ) -> bool:
        """Reopen a closed execution (RedriveExecution), only if it is still ``closed``,
        the attempt its redrive was planned from (``same_attempt``): write ``record`` and
        the interpreter ``state``, append ``events``, and replace its pending work items
        with ``items``. False (and nothing written) if the execution changed meanwhile:
        another redrive of the same attempt was first."""
        ...

    # Work -----------------------------------------------------------------------------
    def lease_execution(
        self, owner: str, now: float, lease_for: float, arn: str | None = None
    ) -> Lease | None:
        """Lease an execution with due work (``arn``: that one only), or None. Asked by
        ``arn``, an execution whose lease ``owner`` already holds is leased again (the
        creator stepping a new execution); a pool's threads, which share an owner, never
        name one, so they never take an execution another of them holds."""
        ...

    def lease_executions(self, request: LeaseRequest) -> list[Lease]:
        """Lease up to ``request.limit`` executions with due work, oldest due first;
        never one with a live lease (the asker's own included). PostgreSQL: one round
        trip."""
        ...

    def commit_step(self, lease: Lease, outcome: StepOutcome) -> bool: ...
    def commit_steps(
        self, steps: Sequence[tuple[Lease, StepOutcome]], then: LeaseRequest | None = None
    ) -> tuple[list[bool], list[Lease]]:
        """``commit_step`` each step (each all or nothing, as if alone; the list says
        which were committed), then, if ``then`` asks, lease the next batch. PostgreSQL
        sends it all at once: one round trip and one transaction for the batch."""
        ...

    def release(self, lease: Lease, retry_at: float = 0.0) -> None:
        """Give the lease up; nobody leases the execution again before ``retry_at``
        (a back-off after a step failed for a reason outside the execution)."""
        ...

    def lease_invocations(
        self, owner: str, now: float, lease_for: float, limit: int
    ) -> list[WorkItem]: ...
    def finish_invocation(self, item: WorkItem, owner: str, result: WorkItem | None) -> bool: ...
    def next_due(self, now: float) -> float | None: ...
    def wait_for_work(self, timeout: float) -> frozenset[str]:
        """Block until work may have been added (by any process), at most ``timeout``;
        the queues (``QUEUES``) that may have new work: all of them when the store cannot
        tell, or when ``timeout`` passed."""
        ...

    # Task tokens ----------------------------------------------------------------------
    def get_task_token(self, token: str) -> TaskToken | None: ...
    def resolve_task_token(self, token: str, event: WorkItem | None) -> bool:
        """Delete the token and enqueue its outcome event in one transaction; False if
        the token was already used (or never existed)."""
        ...

    def peek_lease(self, arn: str, now: float) -> Lease | None:
        """What leasing ``arn`` would give (its record, state, version and due items),
        read without taking the lease (``owner`` empty); None if the execution does not
        exist or someone holds its lease (or it backs off) at ``now``."""
        ...

    def resolve_and_step(
        self, token: str, event: WorkItem, seen: Lease, outcome: StepOutcome, now: float
    ) -> tuple[bool, bool]:
        """``resolve_task_token`` with its outcome applied at once: ``outcome`` is the
        step of ``seen`` (from ``peek_lease`` at ``now``) with ``event`` as its last item,
        written in the same transaction instead of enqueueing ``event`` if the execution
        still has ``seen``'s version and nobody leased it since; else ``event`` is
        enqueued. Whether the token was resolved (False: already used, nothing written),
        and whether the step was written."""
        ...

    def lease_activity_task(self, activity_arn: str, worker: str) -> TaskToken | None: ...

    # Activities -----------------------------------------------------------------------
    def insert_activity(self, record: ActivityRecord) -> None: ...
    def replace_activity(self, record: ActivityRecord) -> None: ...
    def get_activity(self, arn: str) -> ActivityRecord | None: ...
    def list_activities(self) -> list[ActivityRecord]: ...
    def delete_activity(self, arn: str) -> None: ...

    # Documents ------------------------------------------------------------------------
    def documents(self, namespace: str) -> AbstractContextManager[Documents]:
        """A transaction with exclusive access to ``namespace``: commits when the block
        ends, rolls back if it raises. Other processes wait for it."""
        ...

    def peek(self, namespace: str, keys: Sequence[str]) -> dict[str, bytes]:
        """The documents of ``keys`` that exist (key → value), read without holding
        ``namespace``: whatever a ``documents`` transaction committed before the read
        began is seen. PostgreSQL: one round trip for all the keys."""
        ...

    def check(self) -> None:
        """Raise ``StoreUnavailable`` if the store cannot be used now (health probe)."""
        ...

    def close(self) -> None: ...


def lease_each(store: Store, request: LeaseRequest) -> list[Lease]:
    """``lease_executions`` by ``lease_execution`` calls, for stores where a call is
    cheap (memory, SQLite)."""
    leases: list[Lease] = []
    while len(leases) < request.limit:
        lease = store.lease_execution(request.owner, request.now, request.lease_for)
        if lease is None:
            break
        leases.append(lease)
    return leases


def commit_each(
    store: Store, steps: Sequence[tuple[Lease, StepOutcome]], then: LeaseRequest | None
) -> tuple[list[bool], list[Lease]]:
    """``commit_steps`` by ``commit_step`` calls (memory, SQLite)."""
    committed = [store.commit_step(lease, outcome) for lease, outcome in steps]
    return committed, lease_each(store, then) if then is not None else []
