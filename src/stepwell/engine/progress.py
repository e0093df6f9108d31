"""Each state's status during an execution, read from its history events as they arrive.

``ExecutionProgress.add(event)`` takes GetExecutionHistory events in id order and keeps,
for every visit of a state (one ``…StateEntered``), its status: in progress, waiting
(a Wait state, or a Task waiting for a callback token), succeeded (``…StateExited``),
failed, caught (a failure followed by a Catch's next state), timed out or aborted.
``rows()`` folds the visits into one row per state, as the Step Functions console
colours the graph: a state with a visit still running shows that, otherwise its latest
outcome.

Design decision: events are matched to their state through ``previousEventId``, not by
position, because the branches of a Parallel and the iterations of a Map interleave in
the history. An event belongs to the visit its previous event belongs to; an
``…StateExited``, or an event of a Parallel or Map itself (``MapIterationSucceeded``),
is matched to the nearest open visit up its chain that has the right name or type,
skipping whole finished visits at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Event = Mapping[str, Any]

EXECUTION_ENDS: Mapping[str, str] = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}
IN_PROGRESS, WAITING, SUCCEEDED, FAILED, CAUGHT = (
    "IN_PROGRESS",
    "WAITING",
    "SUCCEEDED",
    "FAILED",
    "CAUGHT_ERROR",  # the console's name too (Step Functions console: "Caught error")
)
_ACTIVE = frozenset((IN_PROGRESS, WAITING))
_SHOWS_ERROR = frozenset((FAILED, CAUGHT, "TIMED_OUT"))
_CALLBACK = ".waitForTaskToken"


@dataclass(slots=True)
class _Visit:
    state: str
    state_type: str
    status: str
    updated: datetime | None
    open: bool = True
    error: str = ""
    retries: int = 0


@dataclass(frozen=True, slots=True)
class StateRow:
    """One state of the machine as the progress view shows it."""

    name: str
    state_type: str
    status: str
    entered: int  # how many times the state was entered (loops, Map iterations)
    retries: int
    error: str
    updated: datetime | None


def event_details(event: Event) -> Mapping[str, Any]:
    """The event's ``…EventDetails`` member (empty when it has none)."""
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            return value
    return {}


def error_summary(details: Mapping[str, Any]) -> str:
    error, cause = details.get("error"), details.get("cause")
    return ": ".join(str(part) for part in (error, cause) if part)


class ExecutionProgress:
    def __init__(self) -> None:
        self.status = "RUNNING"
        self.event_count = 0
        self.started: datetime | None = None
        self.stopped: datetime | None = None
        self.end_details: Mapping[str, Any] = {}
        self._previous: dict[int, int] = {}
        self._owner: dict[int, int] = {}
        self._visits: dict[int, _Visit] = {}
        self._by_state: dict[str, list[int]] = {}

    @property
    def finished(self) -> bool:
        return self.status != "RUNNING"

    def add(self, event: Event) -> None:
        self.event_count += 1
        self._previous[event["id"]] = event.get("previousEventId") or 0
        _handler(event["type"])(self, event)

    def state_of(self, event_id: int) -> str:
        """The name of the state an event belongs to ("" for execution events)."""
        visit = self._owner.get(event_id)
        return self._visits[visit].state if visit is not None else ""

    def rows(self) -> list[StateRow]:
        return [self._row(name, ids) for name, ids in self._by_state.items()]

    def _row(self, name: str, ids: list[int]) -> StateRow:
        visits = [self._visits[visit] for visit in ids]
        active = [visit for visit in visits if visit.open and visit.status in _ACTIVE]
        shown = active[-1] if active else visits[-1]
        return StateRow(
            name=name,
            state_type=shown.state_type,
            status=shown.status,
            entered=len(visits),
            retries=sum(visit.retries for visit in visits),
            error=shown.error if shown.status in _SHOWS_ERROR else "",
            updated=max((v.updated for v in visits if v.updated), default=None),
        )

    # ------------------------------------------------------------- event handlers

    def _started(self, event: Event) -> None:
        self.started = event.get("timestamp")

    def _ended(self, event: Event) -> None:
        self.status = EXECUTION_ENDS[event["type"]]
        self.stopped = event.get("timestamp")
        self.end_details = event_details(event)
        leftover = "TIMED_OUT" if self.status == "TIMED_OUT" else "ABORTED"
        for visit in self._visits.values():
            if visit.open:
                visit.open = False
                visit.status = visit.status if visit.status == FAILED else leftover

    def _entered(self, event: Event) -> None:
        failed = self._open_visit(self._owner.get(self._previous[event["id"]]))
        if failed is not None and failed.status == FAILED:
            failed.status, failed.open = CAUGHT, False
        state_type = event["type"].removesuffix("StateEntered")
        status = {"Wait": WAITING, "Fail": FAILED}.get(state_type, IN_PROGRESS)
        name = str(event_details(event).get("name", ""))
        visit = _Visit(name, state_type, status, event.get("timestamp"))
        visit.open = state_type != "Fail"
        self._visits[event["id"]] = visit
        self._owner[event["id"]] = event["id"]
        self._by_state.setdefault(name, []).append(event["id"])

    def _exited(self, event: Event) -> None:
        """A state left; after a failure, through a Catch, which writes the failed
        state's ``…StateExited`` too (AWS behaviour B1)."""
        name = event_details(event).get("name")
        visit_id = self._find_open(event, lambda visit: visit.state == name)
        if visit_id is not None:
            caught = self._visits[visit_id].status == FAILED
            self._update(visit_id, event, CAUGHT if caught else SUCCEEDED).open = False

    def _evaluation_failed(self, event: Event) -> None:
        """``EvaluationFailed`` points where its state's ``…StateEntered`` points (at it
        in a Wait state; AWS behaviour A3), so its visit is found by name and pointer."""
        details = event_details(event)
        previous = self._previous[event["id"]]
        for visit_id in reversed(self._by_state.get(str(details.get("state")), [])):
            visit = self._visits[visit_id]
            if visit.open and previous in (visit_id, self._previous.get(visit_id)):
                self._owner[event["id"]] = visit_id
                self._update(visit_id, event, FAILED).error = error_summary(details)
                return

    def _scheduled(self, event: Event) -> None:
        visit_id = self._follow(event)
        visit = self._open_visit(visit_id)
        if visit_id is None or visit is None:
            return
        if visit.status == FAILED:
            visit.retries += 1
        callback = str(event_details(event).get("resource", "")).endswith(_CALLBACK)
        self._update(visit_id, event, WAITING if callback else IN_PROGRESS)

    def _submitted(self, event: Event) -> None:
        visit_id = self._follow(event)
        if self._open_visit(visit_id) is not None and visit_id is not None:
            self._update(visit_id, event, WAITING)

    def _failed(self, event: Event) -> None:
        visit_id = self._follow(event)
        if self._open_visit(visit_id) is not None and visit_id is not None:
            self._update(visit_id, event, FAILED).error = error_summary(event_details(event))

    def _fanout(self, event: Event, state_type: str, status: str | None) -> None:
        """An event of a Parallel or Map state itself, found up the chain by type."""
        visit_id = self._find_open(event, lambda visit: visit.state_type == state_type)
        if visit_id is not None and status is not None:
            self._update(visit_id, event, status).error = error_summary(event_details(event))
            self._abort_inside(visit_id, event)

    def _abort_inside(self, fanout_id: int, event: Event) -> None:
        """A Parallel or Map state failed: the visits still open in its branches and
        iterations were stopped (their abort events point at the failure, not at them)."""
        for visit_id, visit in self._visits.items():
            active = visit.open and visit.status in _ACTIVE
            if visit_id > fanout_id and active and self._inside(visit_id, fanout_id):
                self._update(visit_id, event, "ABORTED").open = False

    def _inside(self, visit_id: int, ancestor: int) -> bool:
        """Whether a visit's chain of previous events leads back into ``ancestor``."""
        cursor = self._previous.get(visit_id, 0)
        while cursor > ancestor:
            owner = self._owner.get(cursor)
            if owner is None:
                return False
            if owner == ancestor:
                return True
            cursor = self._previous.get(owner, 0)  # the event before that visit
        return False

    def _other(self, event: Event) -> None:
        self._follow(event)

    # ------------------------------------------------------------- chain walking

    def _follow(self, event: Event) -> int | None:
        """Attach the event to its previous event's visit, and return that visit."""
        visit_id = self._owner.get(self._previous[event["id"]])
        if visit_id is not None:
            self._owner[event["id"]] = visit_id
        return visit_id

    def _find_open(self, event: Event, wanted: Callable[[_Visit], bool]) -> int | None:
        cursor = self._previous[event["id"]]
        while cursor > 0:
            visit_id = self._owner.get(cursor)
            if visit_id is None:
                return None
            visit = self._visits[visit_id]
            if visit.open and wanted(visit):
                self._owner[event["id"]] = visit_id
                return visit_id
            cursor = self._previous.get(visit_id, 0)
        return None

    def _open_visit(self, visit_id: int | None) -> _Visit | None:
        visit = self._visits.get(visit_id) if visit_id is not None else None
        return visit if visit is not None and visit.open else None

    def _update(self, visit_id: int, event: Event, status: str) -> _Visit:
        visit = self._visits[visit_id]
        visit.status = status
        visit.updated = event.get("timestamp") or visit.updated
        return visit


Handler = Callable[[ExecutionProgress, Event], None]


def _fanout_handler(state_type: str, status: str | None) -> Handler:
    return lambda progress, event: progress._fanout(event, state_type, status)


_EXACT: Mapping[str, Handler] = {
    "ExecutionStarted": ExecutionProgress._started,
    **dict.fromkeys(EXECUTION_ENDS, ExecutionProgress._ended),
    "TaskSubmitted": ExecutionProgress._submitted,
    "EvaluationFailed": ExecutionProgress._evaluation_failed,
    "ParallelStateFailed": _fanout_handler("Parallel", FAILED),
    "ParallelStateAborted": _fanout_handler("Parallel", "ABORTED"),
    "ParallelStateSucceeded": _fanout_handler("Parallel", None),
    "MapStateFailed": _fanout_handler("Map", FAILED),
    "MapStateAborted": _fanout_handler("Map", "ABORTED"),
    "MapStateSucceeded": _fanout_handler("Map", None),
}
_PREFIXES: tuple[tuple[str, Handler], ...] = (
    ("MapIteration", _fanout_handler("Map", None)),
    ("MapRun", _fanout_handler("Map", None)),
)
_SUFFIXES: tuple[tuple[str, Handler], ...] = (
    ("StateEntered", ExecutionProgress._entered),
    ("StateExited", ExecutionProgress._exited),
    ("Scheduled", ExecutionProgress._scheduled),
    ("Failed", ExecutionProgress._failed),
    ("TimedOut", ExecutionProgress._failed),
)


def _handler(event_type: str) -> Handler:
    exact = _EXACT.get(event_type)
    if exact is not None:
        return exact
    for prefix, handler in _PREFIXES:
        if event_type.startswith(prefix):
            return handler
    for suffix, handler in _SUFFIXES:
        if event_type.endswith(suffix):
            return handler
    return ExecutionProgress._other
