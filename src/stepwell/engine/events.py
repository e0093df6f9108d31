"""What flows into the interpreter (events) and out of it (commands).

The interpreter never performs an effect. It answers each event with commands — invoke
this task, wake me at this time — and the runtime carries them out and reports back
with new events. Each command names the frame it belongs to and that frame's current
``seq``; a report whose ``seq`` is stale (the frame moved on: a timeout won, a branch
was cancelled) is ignored, so no command needs cancelling.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from stepwell.language.evaluation import JSON

TimerKind = Literal["wait", "retry", "task_timeout", "heartbeat", "execution_timeout"]


# Commands: interpreter → runtime.


@dataclass(frozen=True, slots=True)
class InvokeTask:
    """Run a Task state's resource with this input; report TaskSucceeded/TaskFailed."""

    frame: int
    seq: int
    resource: str
    input: JSON
    state_name: str
    timeout_seconds: float | None = None
    heartbeat_seconds: float | None = None
    task_token: str | None = None


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Report TimerFired for (frame, seq, kind) at ``due``."""

    frame: int
    seq: int
    kind: TimerKind
    due: datetime


@dataclass(frozen=True, slots=True)
class Continue:
    """The step ran its budget of states and stopped; report ``Resume`` to go on."""


@dataclass(frozen=True, slots=True)
class StartMapRun:
    """A Distributed Map state starts a Map Run: report ``MapRunStarted`` once its items
    are known, then ``MapRunEnded``. ``spec`` is everything the run needs, evaluated
    (``engine.distributed``); ``run_id`` names the run (stable across a redone step)."""

    frame: int
    seq: int
    state_name: str
    graph: str
    run_id: str
    spec: JSON


Command = InvokeTask | StartTimer | Continue | StartMapRun


# Events: runtime → interpreter.


@dataclass(frozen=True, slots=True)
class TaskSucceeded:
    frame: int
    seq: int
    output: JSON


@dataclass(frozen=True, slots=True)
class TaskFailed:
    frame: int
    seq: int
    error: str
    cause: str = ""


@dataclass(frozen=True, slots=True)
class TaskSubmitted:
    """The resource took the task and answered ``output``; its end comes later (aws-behaviour
    C1: ``.sync`` and ``.waitForTaskToken``): recorded, the task keeps waiting."""

    frame: int
    seq: int
    output: JSON


@dataclass(frozen=True, slots=True)
class TaskHeartbeat:
    frame: int
    seq: int


@dataclass(frozen=True, slots=True)
class ActivityStarted:
    """An activity worker took the task (GetActivityTask): recorded, nothing changes."""

    frame: int
    seq: int
    worker_name: str = ""


@dataclass(frozen=True, slots=True)
class TimerFired:
    frame: int
    seq: int
    kind: TimerKind


@dataclass(frozen=True, slots=True)
class StopRequested:
    """StopExecution: abort with an optional error and cause."""

    error: str | None = None
    cause: str | None = None


@dataclass(frozen=True, slots=True)
class MapRunStarted:
    frame: int
    seq: int
    map_run_arn: str
    length: int
    redrive_count: int = 0  # above 0: an earlier Map Run, redriven (MapRunRedriven)


@dataclass(frozen=True, slots=True)
class MapRunEnded:
    """The Map Run ended: SUCCEEDED with the Map's result, or FAILED/ABORTED."""

    frame: int
    seq: int
    status: str
    output: JSON = None
    error: str | None = None
    cause: str | None = None


@dataclass(frozen=True, slots=True)
class Resume:
    """Go on after a ``Continue``: run every frame that can run."""


Event = (
    TaskSucceeded
    | TaskFailed
    | TaskHeartbeat
    | TaskSubmitted
    | ActivityStarted
    | TimerFired
    | StopRequested
    | Resume
    | MapRunStarted
    | MapRunEnded
)
