"""The durable runtime's worker: lease work, step the interpreter, commit atomically.

One ``Worker`` does two kinds of work, both leased from the store so any number of
workers, in any number of processes, can share one database:

* ``advance``: take an execution's lease with every work item due for it, feed the items
  to the interpreter in order (a chain of Pass/Choice states is one step), and commit the
  new state, history events, new work items and task tokens in one transaction. If the
  lease was lost meanwhile the commit is refused and nothing happened: a state transition
  is applied exactly once.
* ``invoke``: take due ``invoke`` items, run the task outside any transaction, and turn
  the outcome into an event item. A worker that dies mid-invocation leaves the lease to
  expire and another runs the task again: invocations are at-least-once, as in AWS.
"""

from __future__ import annotations

import itertools
import logging
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import orjson

from stepwell.engine import events as ev
from stepwell.engine.env import Env
from stepwell.engine.execution import REDRIVE_DONE, ExecutionState
from stepwell.engine.history import HistoryEvent, to_json_text
from stepwell.engine.interpreter import StepResult, start, step
from stepwell.engine.serialize import dump_execution, load_execution
from stepwell.engine.states import resource_kind
from stepwell.integrations.functions import Outcome
from stepwell.integrations.registry import Integrations
from stepwell.integrations.resources import SYNC, SYNC2, parse
from stepwell.language.compiler import load_state_machine
from stepwell.language.model import StateMachine
from stepwell.language.verbatim import parse_kept
from stepwell.runtime.clock import Clock, to_datetime
from stepwell.runtime.codec import (
    decode_event,
    decode_invocation,
    encode_event,
    encode_invocation,
)
from stepwell.runtime.health import backoff
from stepwell.runtime.map_runs import (
    MapRuns,
    create_map_run,
    ended_notice,
    is_map_run,
    orphaned_runs,
)
from stepwell.runtime.redrive_plan import execution_info
from stepwell.runtime.status_events import notice_event, status_notices
from stepwell.runtime.tasks import invocation, outcome_event
from stepwell.store.base import (
    DEFINITIONS,
    LEASE_SECONDS,
    ExecutionRecord,
    Lease,
    LeaseRequest,
    StateMachineRecord,
    StepOutcome,
    Store,
    StoreUnavailable,
    TaskToken,
    WorkItem,
    definition_key,
)

log = logging.getLogger("stepwell.runtime")
RUNTIME = "States.Runtime"
_MAX_TRACKED = 10_000  # executions whose failures a worker counts (back-off), at most
BATCH = 16  # executions leased (and committed) together by ``advance``
ROUNDS = 8  # batches ``advance`` steps before it returns (each commit leases the next)


@dataclass(slots=True)
class _StepBatch:
    """What the items of one lease add up to before they are committed."""

    events: list[HistoryEvent] = field(default_factory=list)
    items: list[WorkItem] = field(default_factory=list)
    tokens: list[TaskToken] = field(default_factory=list)


class FinishWatcher(Protocol):
    """Told when an execution ends, it names the tasks that end completes: a parent's
    ``.sync`` task waiting for this child (``integrations.nested``)."""

    def prepare(self, executions: Sequence[ExecutionRecord]) -> None:
        """This thread is about to step ``executions`` (a batch): a watcher may look up
        what it needs for all of them at once."""
        ...

    def completions(self, execution: ExecutionRecord) -> list[tuple[str, Outcome]]:
        """(task token, outcome) pairs; read-only, as the commit may yet be refused."""
        ...

    def forget(self, execution: ExecutionRecord) -> None:
        """The commit that ended ``execution`` succeeded."""
        ...


_UNKNOWN: Any = object()  # not looked up yet (None: looked up, and missing)


class MachineCache:
    """Compiled state machines, each compiled once: by ARN and revision, and by the
    content key of the definition an execution started with."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._compiled: dict[tuple[str, str], StateMachine] = {}
        self._by_key: dict[str, StateMachine] = {}
        self._children: dict[str, StateMachineRecord] = {}
        self._looked_up: dict[str, StateMachineRecord | None] = {}

    def batch(self) -> None:
        """A new batch of steps begins: look state machines up afresh (once per batch,
        so a deleted one is noticed at the next batch, and a batch of executions of one
        machine costs one look-up)."""
        self._looked_up.clear()

    def known(self, record: StateMachineRecord) -> None:
        """``record`` was read from the store just now: this batch need not read it."""
        self._looked_up[record.arn] = record

    def record(self, arn: str) -> StateMachineRecord | None:
        if "/" not in arn.rsplit(":", 1)[-1]:
            # One get: another thread's ``batch`` may clear the dict between two.
            known: StateMachineRecord | None = self._looked_up.get(arn, _UNKNOWN)
            if known is _UNKNOWN:
                known = self._looked_up[arn] = self.store.get_state_machine(arn)
            return known
        # ``stateMachine:MACHINE/LABEL``: the children of a Distributed Map run the
        # processor (their definition_key) as the machine MACHINE's; its identity (name,
        # role) is all they take from it, so it is looked up once.
        found = self._children.get(arn)
        if found is None:
            parent = self.store.get_state_machine(arn.rsplit("/", 1)[0])
            if parent is None:
                return None
            found = replace(parent, arn=arn, name=arn.rsplit(":", 1)[-1], version_of=None)
            self._children[arn] = found
        return found

    def compiled(self, record: StateMachineRecord) -> StateMachine:
        key = (record.arn, record.revision_id)
        machine = self._compiled.get(key)
        if machine is None:
            machine = self._compiled[key] = load_state_machine(record.definition)
        return machine

    def for_execution(
        self, execution: ExecutionRecord, record: StateMachineRecord | None
    ) -> StateMachine | None:
        """The machine an execution runs: the definition it started with, even if the
        state machine was updated (or deleted) since. None if that cannot be found."""
        key = execution.definition_key
        if key is None:
            return self.compiled(record) if record is not None else None
        machine = self._by_key.get(key)
        if machine is None:
            if record is not None and definition_key(record.definition) == key:
                text = record.definition
            else:
                with self.store.documents(DEFINITIONS) as kept:
                    found = kept.get(key)
                if found is None:
                    return None
                text = found.decode()
            machine = self._by_key[key] = load_state_machine(text)
        return machine


class Worker:
    def __init__(
        self,
        store: Store,
        integrations: Integrations,
        clock: Clock,
        owner: str | None = None,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.store = store
        self.integrations = integrations
        self.clock = clock
        self.owner = owner or f"worker-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.lease_seconds = lease_seconds
        self.machines = MachineCache(store)
        self.watchers: list[FinishWatcher] = []
        self._failures: dict[str, int] = {}  # execution ARN -> store failures in a row
        self.map_runs = MapRuns(
            store, integrations, clock, lambda run: self.machines.for_execution(run, None)
        )

    # ----------------------------------------------------------------- advancing

    def advance(self, limit: int = BATCH, rounds: int = ROUNDS) -> int:
        """Lease up to ``limit`` executions with due work, step each, and commit them
        together with leasing the next batch (``Store.commit_steps``: one round trip on
        PostgreSQL), for at most ``rounds`` batches. Returns how many steps were
        committed or refused (0: nothing was due)."""
        leases = self.store.lease_executions(self._lease_request(limit))
        stepped = 0
        for round_number in range(1, rounds + 1):
            if not leases:
                break
            held = leases  # what this worker must give back if the round fails
            try:
                steps = self._step_all(leases)
                then = self._lease_request(limit) if round_number < rounds else None
                try:
                    committed, leases = self.store.commit_steps(steps, then)
                except StoreUnavailable:
                    raise
                except Exception:  # one step's data broke the batch: only it may fail
                    log.warning(
                        "a batch of steps could not be committed; committing each", exc_info=True
                    )
                    held = []  # ``_commit_each`` gives back what it leaves
                    steps, committed = self._commit_each(steps)
                    leases = []
                held = leases  # the next batch's, leased by the commit
                stepped += len(steps)
                self._committed(steps, committed)
            except Exception:
                self._back_off_all(held)  # not held for lease_seconds after any failure
                raise
        return stepped

    def _commit_each(
        self, steps: list[tuple[Lease, StepOutcome]]
    ) -> tuple[list[tuple[Lease, StepOutcome]], list[bool]]:
        """Commit the steps one by one; if that raises, the steps not yet committed
        (the failing one included) back off."""
        written, committed = [], []
        for index, (lease, outcome) in enumerate(steps):
            try:
                outcome, done = self._commit_alone(lease, outcome)
            except Exception:
                self._back_off_all([left for left, _ in steps[index:]])
                raise
            written.append((lease, outcome))
            committed.append(done)
        return written, committed

    def _commit_alone(self, lease: Lease, outcome: StepOutcome) -> tuple[StepOutcome, bool]:
        """Commit one step; if that raises for a reason other than the store, the step
        ends its execution instead (``_poisoned``). The outcome written, and whether it
        was (False: the lease was lost)."""
        try:
            return outcome, self.store.commit_step(lease, outcome)
        except StoreUnavailable:
            raise
        except Exception as error:
            poisoned = self._poisoned(lease, error)
            return poisoned, self.store.commit_step(lease, poisoned)

    def _lease_request(self, limit: int) -> LeaseRequest:
        return LeaseRequest(self.owner, self.clock.now(), self.lease_seconds, limit)

    def _step_all(self, leases: list[Lease]) -> list[tuple[Lease, StepOutcome]]:
        """Each lease's outcome; a lease whose step fails because of the execution ends
        it (``_poisoned``). If the store fails, nothing of the batch is committed and
        every lease backs off (``advance``): each step is redone later from its stored
        state."""
        self._prepare(leases)
        return [(lease, self._outcome(lease)) for lease in leases]

    def _outcome(self, lease: Lease) -> StepOutcome:
        try:
            return self._apply(lease)
        except StoreUnavailable:
            raise
        except Exception as error:
            return self._poisoned(lease, error)

    def _prepare(self, leases: list[Lease]) -> None:
        """A new batch: state machines are looked up afresh, watchers look ahead."""
        self.machines.batch()
        for watcher in self.watchers:
            watcher.prepare([lease.execution for lease in leases])

    def _back_off_all(self, leases: list[Lease]) -> None:
        for lease in leases:
            self._back_off(lease)

    def _committed(self, steps: list[tuple[Lease, StepOutcome]], committed: list[bool]) -> None:
        for (lease, outcome), done in zip(steps, committed, strict=True):
            self._failures.pop(lease.execution.arn, None)
            if done and _ended(lease, outcome):
                self._forget(outcome.execution)

    def _forget(self, execution: ExecutionRecord) -> None:
        """Tell the watchers ``execution`` ended. The commit is done: a watcher that
        fails to tidy up is logged, and the batch goes on."""
        for watcher in self.watchers:
            try:
                watcher.forget(execution)
            except Exception:
                log.warning("could not tidy up after %s", execution.arn, exc_info=True)

    def advance_one(self, arn: str | None = None) -> bool:
        """Lease one execution with due work (``arn``: that one) and step it. False when
        nothing was due or another worker holds it."""
        return self._advance(arn, self.owner) is not None

    def _advance(self, arn: str | None, owner: str) -> tuple[StepOutcome, bool] | None:
        """``advance_one`` as ``owner``: the outcome and whether it was committed (None:
        no lease)."""
        lease = self.store.lease_execution(owner, self.clock.now(), self.lease_seconds, arn)
        if lease is None:
            return None
        try:
            self._prepare([lease])
            outcome = self._outcome(lease)
            outcome, committed = self._commit_alone(lease, outcome)
        except Exception:
            self._back_off(lease)
            raise
        self._committed([(lease, outcome)], [committed])
        return outcome, committed

    def _back_off(self, lease: Lease) -> None:
        """The store failed under this step: give the lease back with a retry time that
        doubles with each failure in a row. If the store cannot take even that, the
        lease runs out by itself (``lease_seconds``)."""
        arn = lease.execution.arn
        if len(self._failures) >= _MAX_TRACKED:
            self._failures.clear()
        failures = self._failures[arn] = self._failures.get(arn, 0) + 1
        try:
            self.store.release(lease, self.clock.now() + backoff(failures))
        except Exception:
            log.debug("could not release %s; its lease will expire", arn, exc_info=True)

    def _poisoned(self, lease: Lease, error: Exception) -> StepOutcome:
        """End an execution whose step raised because of the execution itself: FAILED,
        ``States.Runtime``, with what went wrong as the cause (logged once, here)."""
        record = lease.execution
        cause = poison_cause(error)
        log.error("execution %s failed: %s", record.arn, cause, exc_info=error)
        if is_map_run(record.arn):
            return self._map_run_poisoned(lease, cause)
        last = self._last_event(lease)
        event = {
            "timestamp": self.clock.now(),
            "type": "ExecutionFailed",
            "id": last + 1,
            "previousEventId": last,
            "executionFailedEventDetails": {"error": RUNTIME, "cause": cause},
        }
        failed = replace(
            record, status="FAILED", stop_date=self.clock.now(), error=RUNTIME, cause=cause
        )
        owed: list[WorkItem] = []
        if record.status == "RUNNING":
            try:
                owed = self._completions(failed)
            except StoreUnavailable:
                raise
            except Exception:  # a parent waiting for it will time out instead
                log.exception("cannot tell the parent of %s that it failed", record.arn)
        return StepOutcome(
            execution=failed,
            state=None,
            events=(event,),
            new_items=tuple(owed),
            done_items=tuple(item.id for item in lease.items if item.id is not None),
        )

    def _map_run_poisoned(self, lease: Lease, cause: str) -> StepOutcome:
        """``_poisoned`` for a Map Run: it fails as a Map Run fails, and its parent's Map
        state with it (``MapRuns.failed_step``). If even that cannot be worked out, the
        run is only marked FAILED, and the parent, whose frame waiting for it is then
        unknown, is stopped: nothing is left waiting for the run forever."""
        try:
            return self.map_runs.failed_step(lease, RUNTIME, cause)
        except StoreUnavailable:
            raise
        except Exception:
            log.exception("cannot end Map Run %s as a failed run", lease.execution.arn)
        record = lease.execution
        owed: tuple[WorkItem, ...] = ()
        if record.status == "RUNNING":
            stop = ev.StopRequested(RUNTIME, f"Its Map Run {record.arn} failed: {cause}")
            parent = record.state_machine_arn  # a Map Run's is its parent execution's ARN
            owed = (WorkItem(parent, "event", encode_event(stop), self.clock.now()),)
        failed = replace(
            record, status="FAILED", stop_date=self.clock.now(), error=RUNTIME, cause=cause
        )
        return StepOutcome(
            execution=failed,
            state=None,
            events=(),
            new_items=owed,
            done_items=tuple(item.id for item in lease.items if item.id is not None),
        )

    def _last_event(self, lease: Lease) -> int:
        """The id of the execution's latest history event."""
        if lease.state is not None:
            try:
                return load_execution(lease.state).event_count
            except Exception:
                pass  # the state itself is what cannot be read: count the history
        return len(self.store.history(lease.execution.arn))

    def inline_owner(self) -> str:
        """A lease owner of its own for one caller that steps executions in its thread
        (``advance_now``, ``start_now``). Not the pool's: an execution one of the pool's
        threads holds must not be leased again by a request thread (the pool's owner
        would be let in by ``lease_execution(arn=...)``), nor one request thread's by
        another, or two threads would step it at once and repeat side effects that are
        not part of the commit (creating a Map Run)."""
        return f"{self.owner}/inline-{next(_inline_callers)}"

    def advance_now(self, arn: str, owner: str | None = None, rounds: int = 8) -> float | None:
        """Step one execution while it has work due now (a task's outcome, a
        ``Continue``), so a short workflow is done by the time the call answers; as
        ``owner`` (default: a new ``inline_owner``), who may hold its lease already.

        Returns when the work these steps left to others (a timer, a task to invoke, a
        parent to tell) is due, the earliest: the caller wakes the pool for it. None when
        they left nothing (the execution ended), so no thread need look."""
        owner = owner or self.inline_owner()
        due: float | None = None
        for attempt in range(rounds):
            stepped = self._advance(arn, owner)
            if stepped is None:  # nothing due, or leased elsewhere: let the pool look
                return self.clock.now() if attempt == 0 else due
            outcome, committed = stepped
            if not committed:  # another worker took the execution over
                return self.clock.now()
            more, due = self._left_over(arn, outcome, due)
            if not more:
                return due
        return self.clock.now()  # work due now is left: the pool goes on with it

    def _left_over(
        self, arn: str, outcome: StepOutcome, due: float | None
    ) -> tuple[bool, float | None]:
        """After a committed step of ``arn``: whether work due now is left for this
        thread to go on with, and when the work left to others is due (``due``: the
        earliest so far; now if a Map Run may have been started, written apart)."""
        now = self.clock.now()
        if not outcome.new_items and outcome.execution.status == "RUNNING":
            return False, now
        more = False
        for item in outcome.new_items:
            if item.execution_arn == arn and item.kind != "invoke" and item.due <= now:
                more = True  # this thread goes on with it
            else:
                due = item.due if due is None else min(due, item.due)
        return more, due

    def start_now(
        self,
        record: ExecutionRecord,
        first: WorkItem,
        machine: StateMachineRecord | None = None,
    ) -> tuple[ExecutionRecord, bool, float | None]:
        """Create an execution and take its first step in one store transaction: the
        step is computed from the record before the execution exists, then written with
        it (``Store.create_execution``'s ``step``) under a lease of this caller's own.
        If the execution exists already, nothing is written. A first step that would
        start a Map Run (a side effect outside the commit) or cannot be computed here is
        left to ``advance_now`` after the creation instead.

        ``machine``: the record of the state machine (or version) it runs, as the
        caller has just read it, so the step need not read it again.

        Returns the stored record, whether it was created, and when the work left to
        others is due (as ``advance_now``)."""
        owner = self.inline_owner()
        lease = Lease(record, None, 0, (first,), owner)
        outcome = self._step_ahead(lease, machine)
        hold = (owner, self.clock.now() + self.lease_seconds)
        stored, created = self.store.create_execution(record, first, hold, outcome)
        if not created:
            return stored, False, None
        if outcome is None:
            return stored, True, self._advance_now_or_defer(record.arn, owner)
        return stored, True, self._after_step_ahead(lease, outcome)

    def resolve_now(self, token: str, event: WorkItem) -> tuple[bool, float | None]:
        """Resolve a task token and apply its outcome ``event`` in one store transaction
        (``Store.resolve_and_step``): the step is computed from the execution as read,
        with no lease taken, and written only if nobody stepped or leased it meanwhile;
        otherwise ``event`` is queued and stepped as ``advance_now`` steps. Whether the
        token was resolved (False: it was used already), and when the work left to
        others is due (as ``advance_now``)."""
        arn = event.execution_arn
        now = self.clock.now()
        seen = self.store.peek_lease(arn, now)
        lease = None
        if seen is not None:  # as ``replace`` would, at a fraction of its cost
            items = (*seen.items, event)
            lease = Lease(seen.execution, seen.state, seen.version, items, seen.owner)
        outcome = self._step_ahead(lease) if lease is not None else None
        if lease is None or outcome is None:
            if not self.store.resolve_task_token(token, event):
                return False, None
            return True, self._advance_now_or_defer(arn, None)
        resolved, stepped = self.store.resolve_and_step(token, event, lease, outcome, now)
        if not resolved:
            return False, None
        if not stepped:
            return True, self._advance_now_or_defer(arn, None)
        return True, self._after_step_ahead(lease, outcome)

    def _after_step_ahead(self, lease: Lease, outcome: StepOutcome) -> float | None:
        """A step computed ahead was committed: tell the watchers, and go on with the
        work it left due now. When the work left to others is due."""
        self._committed([(lease, outcome)], [True])
        arn = lease.execution.arn
        more, due = self._left_over(arn, outcome, None)
        if more:
            later = self._advance_now_or_defer(arn, None)
            due = later if due is None or later is None else min(due, later)
        return due

    def _advance_now_or_defer(self, arn: str, owner: str | None) -> float | None:
        """``advance_now``; if it fails, the work is stored: the pool goes on with it."""
        try:
            return self.advance_now(arn, owner)
        except Exception:
            log.warning("steps of %s deferred to the workers", arn, exc_info=True)
            return self.clock.now()

    def _step_ahead(
        self, lease: Lease, machine: StateMachineRecord | None = None
    ) -> StepOutcome | None:
        """The outcome of stepping ``lease`` before it is committed (a new execution's
        first step, a task's outcome) with no side effect outside the commit;
        None if it has one (``_SideEffect``: a Map Run to start) or fails (the usual path
        then redoes it, and ends the execution if its data is at fault). ``machine``:
        the execution's state machine record, read by the caller just now."""
        if is_map_run(lease.execution.arn):
            return None  # a Map Run's steps start children: never ahead of the commit
        try:
            self._prepare([lease])
            if machine is not None:
                self.machines.known(machine)
            return self._apply(lease, start_map_runs=False)
        except StoreUnavailable:
            raise
        except Exception:
            return None

    def _apply(self, lease: Lease, start_map_runs: bool = True) -> StepOutcome:
        """The outcome of stepping ``lease``'s items. With ``start_map_runs`` False,
        ``_SideEffect`` instead of creating a Map Run (a write outside the commit)."""
        record = lease.execution
        if is_map_run(record.arn):
            return self.map_runs.apply(lease)
        machine_record = self.machines.record(record.version_arn or record.state_machine_arn)
        machine = self.machines.for_execution(record, machine_record)
        if machine_record is None or machine is None:
            return self._abandon(lease, machine)
        execution = load_execution(lease.state) if lease.state is not None else None
        batch = _StepBatch()
        env = Env(now=to_datetime(self.clock.now()), rng=None)  # seeded on first use
        for item in lease.items:
            result = self._apply_item(machine, machine_record, record, execution, item, env)
            if result is None:
                continue
            if not start_map_runs and any(isinstance(c, ev.StartMapRun) for c in result.commands):
                raise _SideEffect
            execution = result.execution
            batch.events.extend(result.events)
            self._schedule(record, result.commands, batch)
        after = _record_after(record, execution, self.clock.now(), batch.events)
        if record.status == "RUNNING" and lease.state is None and _starts(lease):
            batch.items.extend(self._status_notices(record))
        if record.status == "RUNNING" and after.status != "RUNNING":
            batch.items.extend(self._completions(after))
        return StepOutcome(
            execution=after,
            state=dump_execution(execution) if execution and not execution.finished else None,
            events=_stored_events(batch.events),
            new_items=tuple(batch.items),
            done_items=tuple(item.id for item in lease.items if item.id is not None),
            tokens=tuple(batch.tokens),
        )

    def _abandon(self, lease: Lease, machine: StateMachine | None) -> StepOutcome:
        """The state machine was deleted: AWS stops its running executions at their next
        step. Recorded as an abort (with its history event when the state allows)."""
        record = lease.execution
        done = tuple(item.id for item in lease.items if item.id is not None)
        events: tuple[dict[str, Any], ...] = ()
        if machine is not None and lease.state is not None:
            stop = ev.StopRequested("States.Runtime", "The state machine was deleted.")
            env = Env(now=to_datetime(self.clock.now()), rng=None)  # seeded on first use
            result = step(machine, load_execution(lease.state), stop, env)
            events = tuple(_stored_event(e) for e in result.events)
        stopped = replace(
            record,
            status="ABORTED",
            stop_date=self.clock.now(),
            error="States.Runtime",
            cause="The state machine was deleted.",
        )
        owed = tuple(self._completions(stopped)) if record.status == "RUNNING" else ()
        return StepOutcome(
            execution=stopped, state=None, events=events, new_items=owed, done_items=done
        )

    def _apply_item(
        self,
        machine: StateMachine,
        machine_record: StateMachineRecord,
        record: ExecutionRecord,
        execution: ExecutionState | None,
        item: WorkItem,
        env: Env,
    ) -> StepResult | None:
        if item.kind == "start":
            if execution is not None:
                return None  # already started: a duplicate start item
            info = execution_info(record, machine_record)
            return start(machine, parse_kept(record.input), env, info)  # I1: kept as sent
        if execution is None or execution.finished:
            return None
        return step(machine, execution, decode_event(item.payload), env)

    def _schedule(
        self, record: ExecutionRecord, commands: list[ev.Command], batch: _StepBatch
    ) -> None:
        arn = record.arn
        for command in commands:
            if isinstance(command, ev.StartMapRun):
                batch.items.extend(create_map_run(self.store, record, command, self.clock.now()))
                continue
            if isinstance(command, ev.Continue):
                batch.items.append(
                    WorkItem(arn, "event", encode_event(ev.Resume()), self.clock.now())
                )
                continue
            if isinstance(command, ev.StartTimer):
                fired = ev.TimerFired(command.frame, command.seq, command.kind)
                batch.items.append(
                    WorkItem(arn, "event", encode_event(fired), command.due.timestamp())
                )
                continue
            family = resource_kind(command.resource)[0]
            if command.task_token is None and _runs_a_job(command.resource):
                # A .sync task waits for its job (a child execution) to end; the end
                # resolves this token through a watcher (see ``_completions``).
                command = replace(command, task_token=uuid.uuid4().hex + uuid.uuid4().hex)
            if command.task_token is not None or family == "Activity":
                batch.tokens.append(self._token(arn, command, family))
            if family != "Activity":
                batch.items.append(
                    WorkItem(arn, "invoke", encode_invocation(command), self.clock.now())
                )

    def _token(self, arn: str, command: ev.InvokeTask, family: str) -> TaskToken:
        activity = family == "Activity"
        return TaskToken(
            token=command.task_token or uuid.uuid4().hex + uuid.uuid4().hex,
            execution_arn=arn,
            frame=command.frame,
            seq=command.seq,
            created=self.clock.now(),
            activity_arn=command.resource if activity else None,
            input=orjson.dumps(command.input).decode() if activity else None,
            heartbeat_seconds=command.heartbeat_seconds,
        )

    def _completions(self, ended: ExecutionRecord) -> list[WorkItem]:
        """The events that ``ended`` owes the tasks waiting for it, committed with it."""
        items = self._status_notices(ended)
        run_notice = ended_notice(ended, self.clock.now())
        if run_notice is not None:
            items.append(run_notice)
        items.extend(orphaned_runs(self.store, ended, self.clock.now()))
        for watcher in self.watchers:
            for token, outcome in watcher.completions(ended):
                waiting = self.store.get_task_token(token)
                if waiting is None:
                    continue  # the parent moved on (timed out, stopped)
                event = outcome_event(waiting.frame, waiting.seq, outcome)
                items.append(
                    WorkItem(waiting.execution_arn, "event", encode_event(event), self.clock.now())
                )
        return items

    def _status_notices(self, record: ExecutionRecord) -> list[WorkItem]:
        """The "Step Functions Execution Status Change" event of ``record``, as a notice
        committed with the status, when a rule would receive it (``status_events``)."""
        bus = self.integrations.services.events
        if is_map_run(record.arn) or not bus.may_listen():
            return []  # checked first: no rule listens to most executions
        machine = self.machines.record(record.state_machine_arn)
        kind = machine.type if machine is not None else None
        return status_notices(record, bus, self.clock.now(), kind)

    # ----------------------------------------------------------------- invoking

    def invoke_due(self, limit: int = 16) -> int:
        """Run up to ``limit`` due task invocations; returns how many ran."""
        items = self.store.lease_invocations(
            self.owner, self.clock.now(), self.lease_seconds, limit
        )
        for item in items:
            self.invoke(item)
        return len(items)

    def invoke(self, item: WorkItem) -> None:
        noticed = notice_event(item.payload)
        if noticed is not None:  # an event to put on a bus (status_events), not a task
            self.integrations.services.events.publish(*noticed)
            self.store.finish_invocation(item, self.owner, None)
            return
        command = decode_invocation(item.payload)
        outcome = self.integrations.invoke(
            invocation(command, item.execution_arn, str(uuid.uuid4()))
        )
        result = None if outcome is None else outcome_event(command.frame, command.seq, outcome)
        event_item = (
            WorkItem(item.execution_arn, "event", encode_event(result), self.clock.now())
            if result is not None
            else None
        )
        self.store.finish_invocation(item, self.owner, event_item)

    # ----------------------------------------------------------------- driving

    def run_until_idle(self, max_rounds: int = 1_000_000) -> int:
        """Do all work due now (invocations included); returns the number of rounds."""
        rounds = 0
        while rounds < max_rounds:
            progressed = self.advance_one()
            progressed = self.invoke_due() > 0 or progressed
            if not progressed:
                return rounds
            rounds += 1
        return rounds


# Numbers the lease owners of ``Worker.inline_owner`` (``next`` on a count is atomic).
_inline_callers = itertools.count(1)


class _SideEffect(Exception):
    """A step computed ahead of its commit would have a side effect outside it."""


def _runs_a_job(resource: str) -> bool:
    parsed = parse(resource)
    return parsed is not None and parsed.pattern in (SYNC, SYNC2)


def _starts(lease: Lease) -> bool:
    return any(item.kind == "start" for item in lease.items)


def _ended(lease: Lease, outcome: StepOutcome) -> bool:
    return lease.execution.status == "RUNNING" and outcome.execution.status != "RUNNING"


def _record_after(
    record: ExecutionRecord,
    execution: ExecutionState | None,
    now: float,
    events: Sequence[HistoryEvent] = (),
) -> ExecutionRecord:
    """``record`` as the step leaves it: ended if ``execution`` is. Built field by field,
    not by ``dataclasses.replace`` (twice the cost, and every execution ends once);
    ``test_record_after_keeps_every_other_field`` checks no field is forgotten. The
    output's text is the one ``ExecutionSucceeded`` (``events``' last, when this step
    ended it) holds already."""
    if execution is None or not execution.finished:
        return record
    status = execution.status
    output = None
    if status == "SUCCEEDED":
        last = events[-1] if events else None
        if last is not None and last["type"] == "ExecutionSucceeded":
            output = last["executionSucceededEventDetails"]["output"]
        else:
            output = to_json_text(execution.output)
    return ExecutionRecord(
        record.arn,
        record.state_machine_arn,
        record.name,
        status,
        record.input,
        record.start_date,
        now,  # stop_date
        output,
        execution.error,
        execution.cause,
        record.version_arn,
        record.alias_arn,
        record.redrive_count,
        record.redrive_date,
        record.trace_header,
        record.definition_key,
        execution.extra.get(REDRIVE_DONE) if status != "SUCCEEDED" else None,  # redrive_keeps
        record.map_run_arn,
    )


def poison_cause(error: BaseException) -> str:
    """The cause an execution fails with when Stepwell cannot process its data."""
    if isinstance(error, RecursionError) or "Recursion limit" in str(error):
        detail = "its data is nested too deeply to be processed"
    else:
        detail = f"{type(error).__name__}: {error}"
    return f"Stepwell could not run the execution's next step: {detail}"[:32_768]


def _stored_event(event: HistoryEvent) -> dict[str, Any]:
    return {**event, "timestamp": event["timestamp"].timestamp()}


def _stored_events(events: list[HistoryEvent]) -> tuple[dict[str, Any], ...]:
    """``_stored_event`` of each, converted in place: the events are this step's own,
    fresh from the interpreter, and a loop's step has hundreds (no copy of each). The
    events of a step share one time, converted once."""
    last: Any = None
    stamp = 0.0
    for event in events:
        when = event["timestamp"]
        if when is not last:
            last, stamp = when, when.timestamp()
        event["timestamp"] = stamp
    return tuple(events)
