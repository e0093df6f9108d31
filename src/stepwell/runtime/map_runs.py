"""Durable Map Runs: a Distributed Map's children, dispatched and counted by the workers.

A Map Run is kept like an execution (it is leased, stepped and committed the same way)
but is not one of the ASL interpreter's: its record (in the executions table, under its
``mapRun`` ARN) has the parent execution's ARN as ``state_machine_arn`` (so ListMapRuns
is a listing by that column), the run's specification as ``input`` and its progress (the
counts DescribeMapRun reports) as ``output``. Its work items are its events:

* ``start``: read the items (ItemReader, through the S3 integration), evaluate each
  item's ItemSelector, batch them (ItemBatcher), file the children's inputs in the
  ``mapruns`` documents, tell the parent ``MapRunStarted`` and start the first children;
* ``ended``: a child execution ended (the worker that commits a child's end enqueues it
  in that same transaction); count it, start the next child, or end the run;
* ``update``: UpdateMapRun changed MaxConcurrency or the tolerated failures;
* ``dispatch``: go on starting children (a step starts at most ``STEP_STARTS``);
* ``stop``: the parent was stopped: abort the running children;
* ``redrive``: the redriven parent asks for the run again (committed with the parent's
  step): an ended run reruns the children that did not succeed and reports
  ``MapRunRedriven`` (Developer Guide, "Redriving Map Runs", "Child workflow execution
  redrive behavior"): a Standard child is redriven in place (same ARN, ``redriveCount``
  + 1, ``ExecutionRedriven``, from the state where it failed), an Express child starts
  again from its first state under the same ARN; children never started start.

Crash safety: each step commits the run's progress, consumes its events and enqueues
what it owes (the parent's ``MapRunStarted``/``MapRunEnded``, stops for children) in one
transaction (``Store.commit_step``). Children are created before that commit, under
names derived from the run and the item's index, so a step redone after a crash finds
the children it had created (StartExecution's idempotency by name) instead of starting
them again; one that already ended is counted at once. No item is run twice to success.
A redrive notes, before it reruns anything, which children it reruns and how far each
had got (``redriveCount`` and start), in a ``mapruns`` document kept from the first
attempt, so a redone step tells a child it already reran from one still to rerun. A step
that raises for a reason of its own ends the run FAILED (``failed_step``): the parent is
told as of any failed run, and the run's children are stopped.

Child executions are normal executions of the ItemProcessor (the processor is kept as a
definition of its own), named as AWS names them:
``arn:aws:states:REGION:ACCOUNT:execution:MACHINE/LABEL:NAME``, with state machine
``arn:aws:states:REGION:ACCOUNT:stateMachine:MACHINE/LABEL`` and ``map_run_arn`` set.
With ``ExecutionType: EXPRESS`` they are Express executions
(``...:express:MACHINE/LABEL:NAME:ID``): run as durably here (so the run's counts and
crash safety hold), but with an Express context object (no ``RedriveCount``, G1), and
only DescribeExecution and ListExecutions show them (no history), as on AWS.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, replace
from typing import Any, Final

from stepwell.engine import events as ev
from stepwell.engine.distributed import item_input
from stepwell.engine.fanout import threshold_exceeded
from stepwell.engine.history import HISTORY_LIMIT, HISTORY_LIMIT_CAUSE
from stepwell.integrations.registry import Integrations
from stepwell.language import model as m
from stepwell.language.compiler import load_state_machine
from stepwell.language.evaluation import JSON
from stepwell.language.verbatim import compact_json, parse_json
from stepwell.runtime.clock import Clock
from stepwell.runtime.codec import encode_event
from stepwell.runtime.map_items import (
    THRESHOLD_CAUSE,
    THRESHOLD_EXCEEDED,
    ChildResult,
    MapRunFailure,
    child_inputs,
    exports_results,
    map_output,
    read_items,
)
from stepwell.runtime.redrive_plan import MAX_REDRIVES, plan_redrive
from stepwell.store.base import (
    DEFINITIONS,
    ExecutionRecord,
    Lease,
    StateMachineRecord,
    StepOutcome,
    Store,
    WorkItem,
    definition_key,
)

NAMESPACE: Final = "mapruns"  # documents: the children's inputs, in chunks
CHUNK: Final = 500
STEP_STARTS: Final = 200  # children one step starts at most
UNBOUNDED: Final = 10_000  # MaxConcurrency 0: AWS runs up to 10,000 children at once
_CHILD_NAMES: Final = uuid.UUID("8f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b")
_LABELS: Final = uuid.UUID("1a2b3c4d-5e6f-4a8b-9c0d-e1f2a3b4c5d6")


# --------------------------------------------------------------------- names


def is_map_run(arn: str) -> bool:
    if ":mapRun:" not in arn:  # most ARNs: no split (a step asks a few times)
        return False
    parts = arn.split(":")
    return len(parts) > 6 and parts[5] == "mapRun"


def map_run_arn(parent_arn: str, label: str | None, run_id: str) -> str:
    """``arn:aws:states:R:A:mapRun:MACHINE/LABEL:RUN_ID`` (B5; the label is the Map's
    ``Label`` or, without one, a UUID)."""
    parts = parent_arn.split(":")
    machine = parts[6].split("/")[0] if len(parts) > 6 else "machine"
    label = label or str(uuid.uuid5(_LABELS, run_id))
    return f"arn:aws:states:{parts[3]}:{parts[4]}:mapRun:{machine}/{label}:{run_id}"


def _resource(arn: str) -> tuple[str, str, str, str]:
    """(region, account, MACHINE/LABEL, run id) of a Map Run ARN."""
    parts = arn.split(":")
    return parts[3], parts[4], parts[6], parts[7] if len(parts) > 7 else ""


def child_machine_arn(run_arn: str) -> str:
    region, account, machine_label, _ = _resource(run_arn)
    return f"arn:aws:states:{region}:{account}:stateMachine:{machine_label}"


def child_arn(run_arn: str, index: int, express: bool = False) -> str:
    """A child's ARN, derived from the run and the item's index (so a redone step finds
    it; a redrive reruns it under the same ARN); an EXPRESS child's is an Express
    execution's: ``arn:aws:states:R:A:express:MACHINE/LABEL:NAME:EXECUTION_ID``."""
    region, account, machine_label, run_id = _resource(run_arn)
    name = uuid.uuid5(_CHILD_NAMES, f"{run_id}/{index}")
    if express:
        execution_id = uuid.uuid5(name, "express")
        return f"arn:aws:states:{region}:{account}:express:{machine_label}:{name}:{execution_id}"
    return f"arn:aws:states:{region}:{account}:execution:{machine_label}:{name}"


def child_name(arn: str) -> str:
    """The execution name in a child's ARN (the Express form ends with an execution id)."""
    return arn.split(":")[7]


def is_express_child(spec: dict[str, Any]) -> bool:
    """``ProcessorConfig.ExecutionType: EXPRESS``: the children are Express executions."""
    return spec.get("execution_type") == "EXPRESS"


# --------------------------------------------------------------------- starting a run


def create_map_run(
    store: Store, parent: ExecutionRecord, command: ev.StartMapRun, now: float
) -> list[WorkItem]:
    """Create the Map Run the parent's ``StartMapRun`` asks for (again: the same one);
    the work the parent's step owes it (a redrive), to commit with that step."""
    arn = map_run_arn(parent.arn, command.spec.get("label"), command.run_id)
    request = {
        "parent": parent.arn,
        "frame": command.frame,
        "seq": command.seq,
        "state": command.state_name,
        "graph": command.graph,
        "spec": command.spec,
        "parent_redrive": parent.redrive_count,  # the parent's redrive that asked for it
    }
    record = ExecutionRecord(
        arn=arn,
        state_machine_arn=parent.arn,
        name=arn.rsplit(":", 1)[-1],
        status="RUNNING",
        input=compact_json(request).decode(),
        start_date=now,
        definition_key=parent.definition_key,
    )
    stored, created = store.create_execution(record, WorkItem(arn, "start", b"{}", now))
    if created or request_of(stored).get("parent_redrive", 0) >= parent.redrive_count:
        return []
    # The parent was redriven and asks for this run again (Developer Guide, "Redriving Map
    # Runs"): the run's own step reopens it, after any stop it still has to take.
    redrive = {"type": "redrive", "frame": command.frame, "seq": command.seq}
    redrive["parent_redrive"] = parent.redrive_count
    return [WorkItem(arn, "event", compact_json(redrive), now)]


def ended_notice(child: ExecutionRecord, now: float) -> WorkItem | None:
    """What a child's end owes its Map Run, committed with that end."""
    if child.map_run_arn is None or child.status == "RUNNING":
        return None
    payload = {
        "type": "ended",
        "arn": child.arn,
        "status": child.status,
        "attempt": _attempt(child),
        "redrivable": child_redrivable(child),
    }
    return WorkItem(child.map_run_arn, "event", compact_json(payload), now)


def child_redrivable(child: ExecutionRecord) -> bool:
    """Whether a redrive of its Map Run can rerun this child if it did not succeed
    (Developer Guide, "Redriving Map Runs", "Child workflow execution redrive behavior"):
    an Express child always ("always started as a new execution"); a Standard one unless
    it has been redriven the most times an execution can be or ended at the 25,000-event
    history limit ("If an execution isn't redrivable, it won't be attempted again")."""
    if child.arn.split(":")[5:6] == ["express"]:
        return True
    return child.redrive_count < MAX_REDRIVES and child.cause != HISTORY_LIMIT_CAUSE


def orphaned_runs(store: Store, ended: ExecutionRecord, now: float) -> list[WorkItem]:
    """An execution that ended without succeeding (a failure elsewhere, a timeout, an
    abort) stops the Map Runs it left running; committed with its end."""
    if ended.status in ("RUNNING", "SUCCEEDED"):
        return []
    running = store.list_executions(ended.arn, "RUNNING")
    return [stop_item(run.arn, now) for run in running if is_map_run(run.arn)]


def top_level_map_runs(store: Store, arn: str) -> dict[str, str]:
    """The latest Map Run of each top-level Distributed Map state of execution ``arn``,
    by state name: the runs a redrive of that execution redrives."""
    runs = [run for run in store.list_executions(arn, None) if is_map_run(run.arn)]
    found: dict[str, str] = {}
    for run in sorted(runs, key=lambda run: run.start_date):
        request = request_of(run)
        if request.get("frame") == 0:
            found[str(request.get("state"))] = run.arn
    return found


def update_item(run_arn: str, changes: dict[str, Any], now: float) -> WorkItem:
    return WorkItem(run_arn, "event", compact_json({"type": "update", **changes}), now)


def stop_item(run_arn: str, now: float) -> WorkItem:
    return WorkItem(run_arn, "event", compact_json({"type": "stop"}), now)


# --------------------------------------------------------------------- progress


def progress_of(record: ExecutionRecord) -> dict[str, Any] | None:
    """The run's counts and settings (None before its first step)."""
    return parse_json(record.output) if record.output else None


def request_of(record: ExecutionRecord) -> dict[str, Any]:
    request: dict[str, Any] = parse_json(record.input)
    return request


@dataclass
class _Step:
    record: ExecutionRecord
    request: dict[str, Any]
    progress: dict[str, Any] | None
    items: list[WorkItem]
    reopened: bool = False  # the request (the parent's frame) changed: a redrive


class MapRuns:
    """Steps Map Runs for a worker: ``apply`` is its ``_apply`` for a ``mapRun`` lease."""

    def __init__(
        self,
        store: Store,
        integrations: Integrations,
        clock: Clock,
        machine: Any,
    ) -> None:
        self.store = store
        self.integrations = integrations
        self.clock = clock
        self._machine = machine  # (ExecutionRecord) -> StateMachine | None: the parent's

    def apply(self, lease: Lease) -> StepOutcome:
        record = lease.execution
        step = _Step(record, request_of(record), progress_of(record), [])
        self._upgrade(step)
        for item in lease.items:
            self._apply_item(step, item)
        if step.progress is not None and step.progress["status"] == "RUNNING":
            self._dispatch(step)
        return self._outcome(step, lease)

    def failed_step(self, lease: Lease, error: str, cause: str) -> StepOutcome:
        """The outcome of a step of the run that raised for a reason of its own (Stepwell
        cannot process its data: the worker's ``_poisoned``). The run, as it was before
        the step, ends FAILED with ``error`` and ``cause``: its parent is told as a
        failed run tells it (``MapRunFailed``, then the Map state fails: B5), and its
        running children are stopped, so that nothing waits for it forever. A run that
        had ended already stays as it was, unless this step's redrive was asking for it
        again: the parent waits for it in its redriven frame, and is told there."""
        record = lease.execution
        step = _Step(record, request_of(record), progress_of(record), [])
        for item in lease.items:
            if item.kind != "event":
                continue
            try:
                message = parse_json(item.payload)
            except ValueError:
                continue  # perhaps what failed the step: not a redrive the parent waits on
            if message.get("type") == "redrive":
                self._report_to_redriven(step, message)
        if record.status != "RUNNING" and not step.reopened:
            return self._outcome(step, lease)
        now = self.clock.now()
        if step.progress is None:  # failed before it read its items (as a reader failure)
            step.progress = _new_progress(step.request["spec"])
            self._tell_parent(step, ev.MapRunStarted(0, 0, record.arn, 0), now)
        running = {
            child.arn
            for child in self.store.list_executions(child_machine_arn(record.arn), "RUNNING")
            if child.map_run_arn == record.arn
        }
        self._count_ended(step.progress, running)
        listed = set(step.progress["running"]) | set(step.progress.get("stopping", ()))
        self._end(step, "FAILED", error, cause, write_results=False)
        # A child created by a step whose commit failed is not in the progress: stop it too.
        for arn in sorted(running - listed):
            stop = ev.StopRequested("States.Aborted", "The Map Run was stopped.")
            step.items.append(WorkItem(arn, "event", encode_event(stop), now))
        return self._outcome(step, lease)

    def _count_ended(self, progress: dict[str, Any], running: set[str]) -> None:
        """Count the children the progress has running that have ended (their reports
        may be in the step that failed), so that only the others count as aborted."""
        for table in (progress["running"], progress.get("stopping", {})):
            for arn in [arn for arn in table if arn not in running]:
                child = self.store.get_execution(arn)
                entry = table.pop(arn)
                if child is not None:
                    _tally(progress, child.status, entry[1])

    def _outcome(self, step: _Step, lease: Lease) -> StepOutcome:
        """What the step commits: the run's record with its progress, the work it owes."""
        after = step.record
        if step.reopened:
            after = replace(after, input=compact_json(step.request).decode())
        if step.progress is not None:
            status = step.progress["status"]
            after = replace(
                after,
                status=status,
                output=compact_json(step.progress).decode(),
                stop_date=self.clock.now() if status != "RUNNING" else None,
                error=step.progress.get("error"),
                cause=step.progress.get("cause"),
            )
        return StepOutcome(
            execution=after,
            state=None,
            events=(),
            new_items=tuple(step.items),
            done_items=tuple(item.id for item in lease.items if item.id is not None),
        )

    def _apply_item(self, step: _Step, item: WorkItem) -> None:
        if item.kind == "start":
            if step.progress is None:
                self._start(step)
            return
        message = parse_json(item.payload)
        kind = message.get("type")
        progress = step.progress
        if kind == "redrive":
            self._reopen(step, message)
            return
        if progress is None or progress["status"] != "RUNNING":
            return  # a late report for an ended run
        if kind == "ended":
            self._ended(step, message)
        elif kind == "update":
            for key in ("max_concurrency", "tolerated_count", "tolerated_percentage"):
                if key in message:
                    progress[key] = message[key]
            self._check_threshold(step)
        elif kind == "stop":
            self._end(step, "ABORTED", None, None)

    def _ended(self, step: _Step, message: dict[str, Any]) -> None:
        """A child ended: count it; rerun it if a redrive waited for it to stop."""
        progress = step.progress
        assert progress is not None
        arn = message["arn"]
        stopping = progress.setdefault("stopping", {}).pop(arn, None)
        if stopping is not None:  # stopped by the run's end; the redrive reruns it now
            self._rerun_child(step, stopping[0], stopping[2], stopping[1])
            return
        running = progress["running"].get(arn)
        if running is None:
            return  # counted already (a redone step's report)
        if len(running) > 2 and message.get("attempt") != running[2]:
            return  # the report of the attempt before a redrive reran it
        del progress["running"][arn]
        self._count(step, str(message["status"]), running[1], message.get("redrivable", True))

    # ----------------------------------------------------------------- start

    def _start(self, step: _Step) -> None:
        spec = step.request["spec"]
        now = self.clock.now()
        progress = step.progress = _new_progress(spec)
        try:
            inputs = self._child_inputs(step.record, step.request)
        except MapRunFailure as failure:
            self._tell_parent(step, ev.MapRunStarted(0, 0, step.record.arn, 0), now)
            self._end(step, "FAILED", failure.error, failure.cause)
            return
        progress["items"] = sum(size for _, size in inputs)
        progress["total"] = len(inputs)
        self._file(step.record.arn, spec, inputs)
        started = ev.MapRunStarted(0, 0, step.record.arn, progress["items"])
        self._tell_parent(step, started, now)
        if not inputs:
            self._finish(step)

    def _child_inputs(self, record: ExecutionRecord, request: dict[str, Any]) -> list[Any]:
        spec = request["spec"]
        read = read_items(self.integrations, spec)
        state = self._state(record, request)
        if state is not None and state.item_selector is not None:
            values = [
                item_input(state, spec, i, v, read.source_of(i)) for i, v in enumerate(read.items)
            ]
        else:
            values = read.items
        return child_inputs(values, spec)

    def _state(self, record: ExecutionRecord, request: dict[str, Any]) -> m.MapState | None:
        machine = self._machine(record)
        if machine is None:
            return None
        state = machine.graphs[request["graph"]].states.get(request["state"])
        return state if isinstance(state, m.MapState) else None

    def _file(self, arn: str, spec: dict[str, Any], inputs: list[Any]) -> None:
        definition = spec["processor_definition"]
        with self.store.documents(DEFINITIONS) as kept:
            key = definition_key(definition)
            if kept.get(key) is None:
                kept.put(key, definition.encode())
        with self.store.documents(NAMESPACE) as docs:
            for start in range(0, len(inputs), CHUNK):
                chunk = [[compact_json(v).decode(), n] for v, n in inputs[start : start + CHUNK]]
                docs.put(_chunk_key(arn, start // CHUNK), compact_json(chunk))

    def _reopen(self, step: _Step, message: dict[str, Any]) -> None:
        """The redriven parent asks for this run again: report to its new frame, and, if
        the run has ended, redrive it."""
        if not self._report_to_redriven(step, message):
            return  # a redone step's duplicate
        if step.progress is not None and step.progress["status"] != "RUNNING":
            self._redrive(step)

    def _report_to_redriven(self, step: _Step, message: dict[str, Any]) -> bool:
        """The run reports to the frame of the parent's redrive that ``message`` comes
        from; False if it does already (a redone step's duplicate)."""
        request = step.request
        if message["parent_redrive"] <= request.get("parent_redrive", 0):
            return False
        request.update(
            frame=message["frame"], seq=message["seq"], parent_redrive=message["parent_redrive"]
        )
        step.reopened = True
        return True

    def _redrive(self, step: _Step) -> None:
        """Run again the children that did not succeed (and those never started); the
        ones that succeeded keep their results."""
        progress = step.progress
        assert progress is not None
        now = self.clock.now()
        step.record = replace(
            step.record, redrive_count=step.record.redrive_count + 1, redrive_date=now
        )
        progress["redo"] = self._redo(step)
        progress["redo_items"] = self._items_in(step.record.arn, progress["redo"])
        for counted in ("failed", "timed_out", "aborted", "not_redrivable"):
            progress[f"items_{counted}"] = progress[f"executions_{counted}"] = 0
        progress["status"], progress["error"], progress["cause"] = "RUNNING", None, None
        redriven = ev.MapRunStarted(
            0, 0, step.record.arn, progress["items"], step.record.redrive_count
        )
        self._tell_parent(step, redriven, now)

    def _redo(self, step: _Step) -> list[list[Any]]:
        """``[index, attempt]`` of each child this redrive reruns, ``attempt`` being how
        far the child had got (``_attempt``). Kept in a document by the first attempt of
        this step, so a step redone after a crash reruns the same children and knows
        which of them it reran already."""
        progress = step.progress
        assert progress is not None
        key = f"{step.record.arn}/redrive/{step.record.redrive_count}"
        with self.store.documents(NAMESPACE) as docs:
            kept = docs.get(key)
        if kept is not None:
            redo: list[list[Any]] = parse_json(kept)
            return redo
        redo = []
        for index in range(progress["next"]):
            child = self.store.get_execution(self._child(step, index))
            if child is None or child.status != "SUCCEEDED":
                redo.append([index, _attempt(child)])
        with self.store.documents(NAMESPACE) as docs:
            kept = docs.get(key)  # a step that did not commit may have noted it first
            if kept is not None:
                redo = parse_json(kept)
            else:
                docs.put(key, compact_json(redo))
        return redo

    def _items_in(self, arn: str, redo: list[list[Any]]) -> int:
        """How many items the children of ``redo`` hold (a child runs a batch of them)."""
        items = 0
        chunk: tuple[int, list[Any]] | None = None
        for index, _ in redo:
            if chunk is None or chunk[0] != index // CHUNK:
                chunk = (index // CHUNK, self._chunk(arn, index // CHUNK))
            items += chunk[1][index % CHUNK][1]
        return items

    def _child(self, step: _Step, index: int) -> str:
        """The ARN of the child that runs item ``index``: the one the previous release
        reran it as, if it did (it started a child under a new name, noted in
        ``progress["arns"]``), else the item's own."""
        rerun = step.progress.get("arns", {}).get(str(index)) if step.progress else None
        if rerun:
            return str(rerun)
        express = is_express_child(step.request["spec"])
        return child_arn(step.record.arn, index, express)

    def _upgrade(self, step: _Step) -> None:
        """A redrive the previous release began listed the items to rerun by index
        alone, without how far each child had got (``_redo``). Such an item's child has
        not been rerun by this redrive yet (that release removed an item from the list
        when it reran it): how far it had got is how far it has got now."""
        redo = step.progress.get("redo") if step.progress else None
        if not redo or all(isinstance(entry, list) for entry in redo):
            return
        assert step.progress is not None
        step.progress["redo"] = [
            entry
            if isinstance(entry, list)
            else [entry, _attempt(self.store.get_execution(self._child(step, entry)))]
            for entry in redo
        ]

    def _rerun_child(self, step: _Step, index: int, attempt: Any, size: int) -> None:
        """Rerun the child of item ``index`` for a redrive (Developer Guide, "Redriving
        Map Runs"): a Standard child is redriven from the state where it stopped, an
        Express one starts again; one rerun already (a redone step) is only counted, one
        still stopping is rerun when it has ended, one that cannot be redriven (history
        or redrive limit) keeps its result."""
        progress = step.progress
        assert progress is not None
        arn = self._child(step, index)
        child = self.store.get_execution(arn)
        if child is None:  # never created: start it
            text, _ = self._chunk(step.record.arn, index // CHUNK)[index % CHUNK]
            self._start_child(step, index, text, size)
            return
        if _attempt(child) == attempt and child.status == "RUNNING":
            progress.setdefault("stopping", {})[arn] = [index, size, attempt]
            return  # still being stopped by the run's end: rerun once it has ended
        redrivable = True
        if _attempt(child) == attempt and child.status != "SUCCEEDED":
            reopened = self._reopen_child(step, child)
            redrivable = reopened is not None
            child = reopened or self.store.get_execution(arn) or child
        if child.status == "RUNNING":
            progress["running"][arn] = [index, size, _attempt(child)]
        else:
            self._count(step, child.status, size, redrivable and child_redrivable(child))

    def _reopen_child(self, step: _Step, child: ExecutionRecord) -> ExecutionRecord | None:
        """Reopen an ended child: the reopened record, or None if it was not reopened."""
        machine = load_state_machine(step.request["spec"]["processor_definition"])
        machine_record = self._child_machine_record(child)
        if machine_record is None:
            return None
        now = self.clock.now()
        express = is_express_child(step.request["spec"])
        history = self.store.history(child.arn)
        if not express and (
            child.redrive_count >= MAX_REDRIVES or len(history) >= HISTORY_LIMIT - 1
        ):
            return None  # "If an execution isn't redrivable, it won't be attempted again."
        reopened = replace(
            child,
            status="RUNNING",
            stop_date=None,
            output=None,
            error=None,
            cause=None,
            redrive_keeps=None,
        )
        if express:  # "started using the StartExecution API action", same ARN
            reopened = replace(reopened, start_date=now)
        else:
            reopened = replace(reopened, redrive_count=child.redrive_count + 1, redrive_date=now)
        plan = plan_redrive(
            machine,
            machine_record,
            reopened,
            history,
            now,
            None if express else child.redrive_keeps,
            None if express else top_level_map_runs(self.store, child.arn),
            restart=express,
        )
        if not self.store.redrive_execution(reopened, child, plan.state, plan.events, plan.items):
            return None
        return reopened

    def _child_machine_record(self, child: ExecutionRecord) -> StateMachineRecord | None:
        """The children's state machine (``stateMachine:MACHINE/LABEL``): the parent's,
        under the children's ARN and name."""
        parent = self.store.get_state_machine(child.state_machine_arn.rsplit("/", 1)[0])
        if parent is None:
            return None
        arn = child.state_machine_arn
        return replace(parent, arn=arn, name=arn.rsplit(":", 1)[-1], version_of=None)

    # ----------------------------------------------------------------- children

    def _dispatch(self, step: _Step) -> None:
        progress = step.progress
        assert progress is not None
        limit = progress["max_concurrency"] or UNBOUNDED
        started = 0
        chunk: tuple[int, list[Any]] | None = None
        redo: list[list[Any]] = progress.get("redo", [])
        while (
            progress["status"] == "RUNNING"
            and (redo or progress["next"] < progress["total"])
            and len(progress["running"]) + len(progress.get("stopping", ())) < limit
        ):
            if started >= STEP_STARTS:
                step.items.append(
                    WorkItem(step.record.arn, "event", b'{"type":"dispatch"}', self.clock.now())
                )
                return
            again = redo.pop(0) if redo else None
            index = again[0] if again else progress["next"]
            if chunk is None or chunk[0] != index // CHUNK:
                chunk = (index // CHUNK, self._chunk(step.record.arn, index // CHUNK))
            text, size = chunk[1][index % CHUNK]
            started += 1
            if again:
                progress["redo_items"] = progress.get("redo_items", 0) - size
                self._rerun_child(step, index, again[1], size)
                continue
            progress["next"] = index + 1
            self._start_child(step, index, text, size)
        idle = not progress["running"] and not progress.get("stopping")
        if (
            progress["status"] == "RUNNING"
            and idle
            and not redo
            and progress["next"] >= progress["total"]
        ):
            self._finish(step)

    def _chunk(self, arn: str, number: int) -> list[Any]:
        with self.store.documents(NAMESPACE) as docs:
            raw = docs.get(_chunk_key(arn, number))
        return parse_json(raw) if raw else []

    def _start_child(self, step: _Step, index: int, text: str, size: int) -> None:
        run = step.record.arn
        now = self.clock.now()
        arn = self._child(step, index)
        record = ExecutionRecord(
            arn=arn,
            state_machine_arn=child_machine_arn(run),
            name=child_name(arn),
            status="RUNNING",
            input=text,
            start_date=now,
            definition_key=definition_key(step.request["spec"]["processor_definition"]),
            map_run_arn=run,
        )
        stored, _ = self.store.create_execution(record, WorkItem(arn, "start", b"{}", now))
        assert step.progress is not None
        if stored.status == "RUNNING":
            step.progress["running"][arn] = [index, size]
        else:  # created by a step that did not commit, and already ended
            self._count(step, stored.status, size)

    def _count(self, step: _Step, status: str, size: int, redrivable: bool = True) -> None:
        """Count a child that ended; one that did not succeed and cannot be redriven
        (``child_redrivable``) is also one of the run's ``failuresNotRedrivable``."""
        progress = step.progress
        assert progress is not None
        _tally(progress, status, size)
        if _STATUS_COUNTS.get(status, "failed") != "succeeded" and not redrivable:
            for kind, n in (("items", size), ("executions", 1)):
                progress[f"{kind}_not_redrivable"] = progress.get(f"{kind}_not_redrivable", 0) + n
        self._check_threshold(step)

    def _check_threshold(self, step: _Step) -> None:
        progress = step.progress
        assert progress is not None
        # "the total number of failed or timed out items divided by the total number of
        # items" (Developer Guide, "Setting failure thresholds for Distributed Map
        # states"): an aborted child is not a failure the threshold counts.
        failed = progress["items_failed"] + progress["items_timed_out"]
        if progress["status"] == "RUNNING" and threshold_exceeded(
            failed,
            progress["items"],
            progress["tolerated_count"],
            progress["tolerated_percentage"],
        ):
            self._end(step, "FAILED", THRESHOLD_EXCEEDED, THRESHOLD_CAUSE)

    # ----------------------------------------------------------------- the end

    def _finish(self, step: _Step) -> None:
        try:
            output = self._output(step)
        except MapRunFailure as failure:
            self._end(step, "FAILED", failure.error, failure.cause)
            return
        self._end(step, "SUCCEEDED", None, None, output)

    def _output(self, step: _Step) -> JSON:
        progress = step.progress
        assert progress is not None
        run = step.record.arn
        children = []
        for index in range(progress["next"]):
            child = self.store.get_execution(self._child(step, index))
            if child is not None:
                children.append(_child_result(child))
        output = map_output(self.integrations, step.request["spec"], run, children)
        if exports_results(step.request["spec"]):
            progress["results_written"] = len(children)
        return output

    def _end(
        self,
        step: _Step,
        status: str,
        error: str | None,
        cause: str | None,
        output: JSON = None,
        write_results: bool = True,
    ) -> None:
        """End the run: stop its children, tell the parent. A run that fails still writes
        the results it has, if it exports them (unless ``write_results`` is False)."""
        progress = step.progress
        assert progress is not None
        now = self.clock.now()
        exports = exports_results(step.request["spec"]) and write_results
        if status == "FAILED" and exports and progress["total"]:
            with contextlib.suppress(MapRunFailure):  # the run fails with its own error anyway
                self._output(step)
        for arn in progress["running"]:
            stop = ev.StopRequested("States.Aborted", "The Map Run was stopped.")
            step.items.append(WorkItem(arn, "event", encode_event(stop), now))
        stopping = progress.pop("stopping", {})
        progress["executions_aborted"] += len(progress["running"]) + len(stopping)
        progress["items_aborted"] += sum(
            entry[1] for entry in (*progress["running"].values(), *stopping.values())
        )
        progress["running"] = {}
        progress["status"] = status
        progress["error"], progress["cause"] = error, cause
        if status != "ABORTED":
            ended = ev.MapRunEnded(0, 0, status, output, error, cause)
            self._tell_parent(step, ended, now)

    def _tell_parent(self, step: _Step, event: Any, now: float) -> None:
        request = step.request
        event = replace(event, frame=request["frame"], seq=request["seq"])
        step.items.append(WorkItem(request["parent"], "event", encode_event(event), now))


_COUNTED: Final = ("succeeded", "failed", "timed_out", "aborted")
_STATUS_COUNTS: Final = {
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "TIMED_OUT": "timed_out",
    "ABORTED": "aborted",
}


def _tally(progress: dict[str, Any], status: str, size: int) -> None:
    """Count a child that ended with ``status``, carrying ``size`` items."""
    counted = _STATUS_COUNTS.get(status, "failed")
    progress[f"items_{counted}"] += size
    progress[f"executions_{counted}"] += 1


def _new_progress(spec: dict[str, Any]) -> dict[str, Any]:
    """A run's progress before it has read its items."""
    progress: dict[str, Any] = {
        "status": "RUNNING",
        "items": 0,
        "total": 0,
        "next": 0,
        "running": {},
        "max_concurrency": spec["max_concurrency"],
        "tolerated_count": spec["tolerated_count"],
        "tolerated_percentage": spec["tolerated_percentage"],
    }
    progress.update({f"{k}_{s}": 0 for k in ("items", "executions") for s in _COUNTED})
    return progress


def _attempt(child: ExecutionRecord | None) -> list[Any] | None:
    """How far a child had got: its redrive count and start (a Standard child's redrive
    adds one to the first, an Express child's restart changes the second)."""
    return None if child is None else [child.redrive_count, child.start_date]


def _chunk_key(arn: str, number: int) -> str:
    return f"{arn}/{number:08d}"


def _child_result(child: ExecutionRecord) -> ChildResult:
    return ChildResult(
        arn=child.arn,
        name=child.name,
        state_machine_arn=child.state_machine_arn,
        status=child.status,
        input=child.input,
        start=child.start_date,
        stop=child.stop_date,
        output=child.output,
        error=child.error,
        cause=child.cause,
        redrive_count=child.redrive_count,
    )


def counts(progress: dict[str, Any] | None, kind: str, redrives: int = 0) -> dict[str, int]:
    """DescribeMapRun's ``itemCounts`` (kind "items") or ``executionCounts`` of a run
    redriven ``redrives`` times."""
    if progress is None:
        zero = dict.fromkeys(
            ("pending", "running", "succeeded", "failed", "timedOut", "aborted", "total"), 0
        )
        return {**zero, "resultsWritten": 0, "failuresNotRedrivable": 0, "pendingRedrive": 0}
    total = progress["items"] if kind == "items" else progress["total"]
    running = progress["running"].values()
    now_running = sum(entry[1] for entry in running) if kind == "items" else len(running)
    done = sum(progress[f"{kind}_{k}"] for k in _COUNTED)
    written = progress.get("results_written", 0)
    return {
        "pending": max(0, total - done - now_running),
        "running": now_running,
        "succeeded": progress[f"{kind}_succeeded"],
        "failed": progress[f"{kind}_failed"],
        "timedOut": progress[f"{kind}_timed_out"],
        "aborted": progress[f"{kind}_aborted"],
        "total": total,
        "resultsWritten": written if kind == "executions" else _items_written(progress),
        "failuresNotRedrivable": _not_redrivable(progress, kind, redrives),
        "pendingRedrive": _pending_redrive(progress, kind),
    }


def _not_redrivable(progress: dict[str, Any], kind: str, redrives: int) -> int:
    """API Reference, MapRunItemCounts / MapRunExecutionCounts, ``failuresNotRedrivable``:
    the failed, aborted or timed-out children (or their items) that cannot be redriven;
    all of them once the run has been redriven 1,000 times (Developer Guide, "Redriving
    Map Runs": "the hard limit of 1000 redrives of a given Map Run")."""
    if redrives >= MAX_REDRIVES:
        return sum(progress[f"{kind}_{k}"] for k in ("failed", "timed_out", "aborted"))
    return int(progress.get(f"{kind}_not_redrivable", 0))


def _pending_redrive(progress: dict[str, Any], kind: str) -> int:
    """``pendingRedrive``: the unsuccessful children (or their items) a redriven run has
    still to rerun, held back by its concurrency; reset to 0 when the run ends (Developer
    Guide, "Redriving Map Runs": "When a Map Run has completed its execution or is aborted,
    the count of child workflow executions in the Pending redrive state is reset to 0")."""
    if progress["status"] != "RUNNING":
        return 0
    stopping = progress.get("stopping", {}).values()  # rerun once the run's stop has ended
    if kind == "items":
        held = max(0, int(progress.get("redo_items", 0)))
        return held + sum(int(entry[1]) for entry in stopping)
    return len(progress.get("redo", ())) + len(stopping)


def _items_written(progress: dict[str, Any]) -> int:
    return progress["items"] if progress.get("results_written") else 0
