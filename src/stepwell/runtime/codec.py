"""Interpreter events and commands as work-item payloads (JSON bytes), and back.

orjson writes a dataclass by its fields directly; ``dataclasses.asdict`` would first copy
every value deeply (a task's whole output), which cost more than the rest of a step.
Integers beyond 64 bits, which orjson refuses to write and reads as floats, go through
``json`` instead (``compact_json``, ``parse_json``), so a task's output keeps them.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import orjson

from stepwell.engine import events as ev
from stepwell.language.verbatim import compact_json, parse_json

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
    return _dumps({"type": kind.__name__, **{name: getattr(event, name) for name in names}})


def decode_event(payload: bytes) -> ev.Event:
    data: dict[str, Any] = parse_json(payload)
    kind = _EVENTS[data.pop("type")]
    event: ev.Event = kind(**data)
    return event


def encode_invocation(command: ev.InvokeTask) -> bytes:
    try:
        return orjson.dumps(command)
    except TypeError:  # an integer beyond 64 bits in the task's input
        return compact_json({f.name: getattr(command, f.name) for f in fields(command)})


def decode_invocation(payload: bytes) -> ev.InvokeTask:
    data: dict[str, Any] = parse_json(payload)
    return ev.InvokeTask(**data)


def _dumps(data: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(data)
    except TypeError:  # an integer beyond 64 bits in the event's data
        return compact_json(data)
