"""The state of one execution, as the interpreter leaves it between events.

An execution is a tree of *frames*. A frame is one thread of control walking one graph:
the machine itself (frame 0), a Parallel branch, or a Map iteration. A frame is always
in exactly one state and either runnable, waiting (for a task, a timer, or its child
frames), or finished. Everything here is plain data (numbers, strings, JSON values,
lists), so a durable runtime can store it between steps and load it on any worker.

``step`` takes ownership of the ``ExecutionState`` it is given and returns it updated;
a caller that wants the previous state keeps its own serialized copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from stepwell.language.evaluation import JSON

REDRIVE_DONE = "redrive_done"  # ExecutionState.extra: see fanout.child_failed

Status = Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
Waiting = Literal["", "task", "timer", "retry", "children", "maprun"]


@dataclass(slots=True)
class ExecutionInfo:
    """Identity of the execution, for the context object and history."""

    execution_arn: str = "arn:aws:states:us-east-1:123456789012:execution:machine:run"
    name: str = "run"
    state_machine_arn: str = "arn:aws:states:us-east-1:123456789012:stateMachine:machine"
    state_machine_name: str = "machine"
    role_arn: str = "arn:aws:iam::123456789012:role/stepwell"
    region: str = "us-east-1"
    start_time: datetime | None = None
    input_text: str = "{}"
    redrive_count: int = 0
    redrive_time: datetime | None = None
    express: bool = False  # express executions have no $$.Execution.RedriveCount (G1)


@dataclass(slots=True)
class Fanout:
    """A Parallel or Map state's bookkeeping while its child frames run."""

    results: list[JSON]
    pending: int  # child frames started and not yet finished
    next_index: int = 0  # Map: next item to start
    items: list[JSON] | None = None  # Map: the items (after ItemsPath/Items)
    max_concurrency: int = 0
    failures: int = 0
    tolerated_count: int | None = None
    tolerated_percentage: float | None = None
    children: list[int] = field(default_factory=list)
    succeeded: list[int] = field(default_factory=list)  # children that ended well, in order
    skip: list[int] = field(default_factory=list)  # Map items done before a redrive


@dataclass(slots=True)
class Frame:
    """One thread of control; see the module docstring."""

    id: int
    graph: str  # key of the graph in StateMachine.graphs
    state: str  # current state name
    input: JSON  # the raw input of the current state
    parent: int | None = None
    slot: int = 0  # branch or item index within the parent's fanout
    entered_event: int = 0  # id of the current state's ...StateEntered event
    entered_previous: int = 0  # that event's previousEventId (EvaluationFailed copies it)
    last_event: int = 0  # id of this frame's latest history event
    seq: int = 0  # bumped whenever the frame stops waiting; stale reports are dropped
    waiting: Waiting = ""
    retry_counts: list[int] | None = None  # attempts used, per retrier of the state
    retry_total: int = 0
    entered_time: datetime | None = None
    variables: dict[str, JSON] = field(default_factory=dict)
    effective_input: JSON = None  # task/fanout input after InputPath + Parameters/Arguments
    task_token: str | None = None
    heartbeat_due: datetime | None = None
    fanout: Fanout | None = None
    # [[index, output], ...]: branches or iterations that succeeded before the execution
    # failed; a redriven Parallel or Map starts with them done and runs only the rest.
    redrive_done: list[list[Any]] | None = None
    map_item: tuple[int, JSON] | None = None  # (index, value) of a Map iteration
    done: bool = False


@dataclass(slots=True)
class ExecutionState:
    info: ExecutionInfo
    frames: dict[int, Frame]
    input: JSON = None
    status: Status = "RUNNING"
    output: JSON = None
    error: str | None = None
    cause: str | None = None
    next_frame_id: int = 1
    event_count: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.status != "RUNNING"
