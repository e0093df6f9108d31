"""Interpreter events and commands as work-item payloads (JSON bytes), and back.

orjson writes a dataclass by its fields directly; ``dataclasses.asdict`` would first copy
every value deeply (a task's whole output), which cost more than the rest of a step.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import orjson

from stepwell.engine import events as ev

_EVENTS: dict[str, type[Any]] = {
    "TaskSucceeded": ev.TaskSucceeded,
    "TaskFailed": ev.TaskFailed,
    "TaskHeartbeat": ev.TaskHeartbeat,
    "TaskSubmitted": ev.TaskSubmitted,
    "ActivityStarted": ev.ActivityStarted,
    "TimerFired": ev.TimerFired,
    "StopRequested": ev.StopRequested,
    "Resume": ev.Resume,
    "MapRunStarted": ev.MapRunStarted,
    "MapRunEnded": ev.MapRunEnded,
}

_FIELDS: dict[type[Any], tuple[str, ...]] = {}  # each event type's field names


def encode_event(event: ev.Event) -> bytes:
    kind = type(event)
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f.name for f in fields(kind))
    return orjson.dumps({"type": kind.__name__, **{name: getattr(event, name) for name in names}})


def decode_event(payload: bytes) -> ev.Event:
    data = orjson.loads(payload)
    kind = _EVENTS[data.pop("type")]
    event: ev.Event = kind(**data)
    return event


def encode_invocation(command: ev.InvokeTask) -> bytes:
    return orjson.dumps(command)


def decode_invocation(payload: bytes) -> ev.InvokeTask:
    return ev.InvokeTask(**orjson.loads(payload))
