"""The in-memory store: the ``Store`` contract on dicts, for tests and throwaway runs.

It implements the store's domain methods directly (not SQL), under one lock, and passes
the same contract tests as the SQL stores. Nothing survives the process.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

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
    same_attempt,
)


@dataclass(slots=True)
class _Execution:
    record: ExecutionRecord
    state: bytes | None = None
    version: int = 0
    lease_owner: str | None = None
    lease_expires: float = 0.0
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class _Item:
    item: WorkItem
    lease_owner: str | None = None
    lease_expires: float = 0.0


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._work_added = threading.Condition(self._lock)
        self._machines: dict[str, StateMachineRecord] = {}
        self._executions: dict[str, _Execution] = {}
        self._items: dict[int, _Item] = {}
        self._tokens: dict[str, TaskToken] = {}
        self._activities: dict[str, ActivityRecord] = {}
        self._ids = itertools.count(1)
        self._documents: dict[str, dict[str, bytes]] = {}

    # ----------------------------------------------------------------- state machines

    def insert_state_machine(self, record: StateMachineRecord) -> None:
        with self._lock:
            self._keep_definition(record.definition)
            if record.arn in self._machines:
                raise KeyError(record.arn)
            self._machines[record.arn] = record

    def replace_state_machine(self, record: StateMachineRecord) -> None:
        with self._lock:
            self._keep_definition(record.definition)
            if record.arn in self._machines:
                self._machines[record.arn] = record

    def _keep_definition(self, definition: str) -> None:
        kept = self._documents.setdefault(DEFINITIONS, {})
        kept.setdefault(definition_key(definition), definition.encode())

    def get_state_machine(self, arn: str) -> StateMachineRecord | None:
        with self._lock:
            return self._machines.get(arn)

    def list_state_machines(self) -> list[StateMachineRecord]:
        with self._lock:
            return [self._machines[arn] for arn in sorted(self._machines)]

    def delete_state_machine(self, arn: str) -> None:
        with self._lock:
            self._machines.pop(arn, None)

    # ----------------------------------------------------------------- executions

    def create_execution(
        self,
        record: ExecutionRecord,
        first: WorkItem,
        lease: tuple[str, float] | None = None,
        step: StepOutcome | None = None,
    ) -> tuple[ExecutionRecord, bool]:
        with self._lock:
            existing = self._executions.get(record.arn)
            if existing is not None:
                return existing.record, False
            created = _Execution(record)
            if lease is not None:
                created.lease_owner, created.lease_expires = lease
            self._executions[record.arn] = created
            if step is not None and lease is not None:
                self.commit_step(Lease(record, None, 0, (first,), lease[0]), step)
            else:
                self._add(first)
            return record, True

    def get_execution(self, arn: str) -> ExecutionRecord | None:
        with self._lock:
            found = self._executions.get(arn)
            return found.record if found else None

    def list_executions(
        self, state_machine_arn: str | None, status: str | None
    ) -> list[ExecutionRecord]:
        with self._lock:
            records = [
                e.record
                for e in self._executions.values()
                if (state_machine_arn is None or e.record.state_machine_arn == state_machine_arn)
                and (status is None or e.record.status == status)
            ]
        return sorted(records, key=lambda r: (-r.start_date, r.arn))

    def history(self, arn: str) -> list[dict[str, Any]]:
        with self._lock:
            found = self._executions.get(arn)
            return copy.deepcopy(found.events) if found else []

    def enqueue(self, item: WorkItem) -> None:
        with self._lock:
            self._add(item)

    def redrive_execution(
        self,
        record: ExecutionRecord,
        closed: ExecutionRecord,
        state: bytes,
        events: tuple[dict[str, Any], ...],
        items: tuple[WorkItem, ...],
    ) -> bool:
        with self._lock:
            execution = self._executions.get(record.arn)
            if execution is None or not same_attempt(execution.record, closed):
                return False
            execution.record = record
            execution.state = state
            execution.version += 1
            execution.lease_owner = None
            execution.lease_expires = 0.0
            execution.events.extend(copy.deepcopy(list(events)))
            for item_id in [
                i for i, e in self._items.items() if e.item.execution_arn == record.arn
            ]:
                del self._items[item_id]
            for item in items:
                self._add(item)
            return True

    def _add(self, item: WorkItem) -> None:
        item_id = next(self._ids)
        self._items[item_id] = _Item(replace(item, id=item_id))
        self._work_added.notify_all()

    # ----------------------------------------------------------------- work

    def lease_execution(
        self, owner: str, now: float, lease_for: float, arn: str | None = None
    ) -> Lease | None:
        with self._lock:
            due = sorted(
                (
                    entry.item
                    for entry in self._items.values()
                    if entry.item.kind != "invoke"
                    and entry.item.due <= now
                    and (arn is None or entry.item.execution_arn == arn)
                ),
                key=lambda item: (item.due, item.id),
            )
            for item in due:
                execution = self._executions[item.execution_arn]
                held_by_asker = arn is not None and execution.lease_owner == owner
                if execution.lease_expires < now or held_by_asker:
                    execution.lease_owner = owner
                    execution.lease_expires = now + lease_for
                    mine = tuple(i for i in due if i.execution_arn == item.execution_arn)
                    return Lease(execution.record, execution.state, execution.version, mine, owner)
            return None

    def commit_step(self, lease: Lease, outcome: StepOutcome) -> bool:
        with self._lock:
            execution = self._executions[outcome.execution.arn]
            if execution.version != lease.version or execution.lease_owner != lease.owner:
                return False
            self._write_step(execution, outcome)
            return True

    def _write_step(self, execution: _Execution, outcome: StepOutcome) -> None:
        """Write ``outcome`` to ``execution`` (the caller holds the lock)."""
        execution.record = outcome.execution
        execution.state = outcome.state
        execution.version += 1
        execution.lease_owner = None
        execution.lease_expires = 0.0
        execution.events.extend(copy.deepcopy(list(outcome.events)))
        for item_id in outcome.done_items:
            self._items.pop(item_id, None)
        for item in outcome.new_items:
            self._add(item)
        for token in outcome.tokens:
            self._tokens[token.token] = token
        if outcome.execution.status != "RUNNING":
            for text in [
                t for t, v in self._tokens.items() if v.execution_arn == outcome.execution.arn
            ]:
                del self._tokens[text]

    def lease_executions(self, request: LeaseRequest) -> list[Lease]:
        return lease_each(self, request)

    def commit_steps(
        self, steps: Sequence[tuple[Lease, StepOutcome]], then: LeaseRequest | None = None
    ) -> tuple[list[bool], list[Lease]]:
        return commit_each(self, steps, then)

    def release(self, lease: Lease, retry_at: float = 0.0) -> None:
        with self._lock:
            execution = self._executions[lease.execution.arn]
            if execution.lease_owner == lease.owner:
                execution.lease_owner = None
                execution.lease_expires = retry_at

    def lease_invocations(
        self, owner: str, now: float, lease_for: float, limit: int
    ) -> list[WorkItem]:
        with self._lock:
            free = sorted(
                (
                    e
                    for e in self._items.values()
                    if e.item.kind == "invoke" and e.item.due <= now and e.lease_expires < now
                ),
                key=lambda e: (e.item.due, e.item.id),
            )[:limit]
            for entry in free:
                entry.lease_owner = owner
                entry.lease_expires = now + lease_for
            return [entry.item for entry in free]

    def finish_invocation(self, item: WorkItem, owner: str, result: WorkItem | None) -> bool:
        with self._lock:
            entry = self._items.get(item.id or 0)
            if entry is None or entry.lease_owner != owner:
                return False
            del self._items[item.id or 0]
            if result is not None:
                self._add(result)
            return True

    def next_due(self, now: float = 0.0) -> float | None:
        with self._lock:
            dues = [
                e.item.due
                for e in self._items.values()
                if e.item.kind != "invoke" or e.lease_expires < now
            ]
            return min(dues) if dues else None

    def wait_for_work(self, timeout: float) -> frozenset[str]:
        with self._work_added:
            self._work_added.wait(timeout)
        return QUEUES

    # ----------------------------------------------------------------- task tokens

    def get_task_token(self, token: str) -> TaskToken | None:
        with self._lock:
            return self._tokens.get(token)

    def resolve_task_token(self, token: str, event: WorkItem | None) -> bool:
        with self._lock:
            if self._tokens.pop(token, None) is None:
                return False
            if event is not None:
                self._add(event)
            return True

    def peek_lease(self, arn: str, now: float) -> Lease | None:
        with self._lock:
            execution = self._executions.get(arn)
            if execution is None or execution.lease_expires >= now:
                return None
            due = sorted(
                (
                    entry.item
                    for entry in self._items.values()
                    if entry.item.kind != "invoke"
                    and entry.item.due <= now
                    and entry.item.execution_arn == arn
                ),
                key=lambda item: (item.due, item.id),
            )
            return Lease(execution.record, execution.state, execution.version, tuple(due), "")

    def resolve_and_step(
        self, token: str, event: WorkItem, seen: Lease, outcome: StepOutcome, now: float
    ) -> tuple[bool, bool]:
        with self._lock:
            if token not in self._tokens:
                return False, False
            execution = self._executions.get(event.execution_arn)
            if (
                execution is None
                or execution.version != seen.version
                or execution.lease_expires >= now
            ):
                return self.resolve_task_token(token, event), False
            del self._tokens[token]
            self._write_step(execution, outcome)
            return True, True

    def lease_activity_task(self, activity_arn: str, worker: str) -> TaskToken | None:
        with self._lock:
            waiting = sorted(
                (
                    t
                    for t in self._tokens.values()
                    if t.activity_arn == activity_arn and t.status == "SCHEDULED"
                ),
                key=lambda t: t.created,
            )
            if not waiting:
                return None
            started = replace(waiting[0], status="STARTED")
            self._tokens[started.token] = started
            return started

    # ----------------------------------------------------------------- activities

    def insert_activity(self, record: ActivityRecord) -> None:
        with self._lock:
            self._activities[record.arn] = record

    def replace_activity(self, record: ActivityRecord) -> None:
        with self._lock:
            if record.arn in self._activities:
                self._activities[record.arn] = record

    def get_activity(self, arn: str) -> ActivityRecord | None:
        with self._lock:
            return self._activities.get(arn)

    def list_activities(self) -> list[ActivityRecord]:
        with self._lock:
            return [self._activities[arn] for arn in sorted(self._activities)]

    def delete_activity(self, arn: str) -> None:
        with self._lock:
            self._activities.pop(arn, None)

    @contextmanager
    def documents(self, namespace: str) -> Iterator[Documents]:
        """Writes land in a copy that replaces the namespace only if the block ends."""
        with self._lock:
            current = self._documents.setdefault(namespace, {})
            draft = dict(current)
            yield _MemoryDocuments(draft)
            self._documents[namespace] = draft

    def peek(self, namespace: str, keys: Sequence[str]) -> dict[str, bytes]:
        with self._lock:
            values = self._documents.get(namespace, {})
            return {key: values[key] for key in keys if key in values}

    def check(self) -> None:
        """Memory is always there."""

    def close(self) -> None:
        """Nothing to release."""


class _MemoryDocuments:
    def __init__(self, values: dict[str, bytes]) -> None:
        self._values = values

    def get(self, key: str) -> bytes | None:
        return self._values.get(key)

    def put(self, key: str, value: bytes) -> None:
        self._values[key] = bytes(value)

    def delete(self, key: str) -> None:
        self._values.pop(key, None)

    def scan(self, prefix: str = "") -> list[tuple[str, bytes]]:
        return sorted((k, v) for k, v in self._values.items() if k.startswith(prefix))
