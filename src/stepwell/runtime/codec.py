"""Interpreter events and commands as work-item payloads (JSON bytes), and back."""

from __future__ import annotations

from dataclasses import asdict
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


def encode_event(event: ev.Event) -> bytes:
    return orjson.dumps({"type": type(event).__name__, **asdict(event)})


def decode_event(payload: bytes) -> ev.Event:
    data = orjson.loads(payload)
    kind = _EVENTS[data.pop("type")]
    event: ev.Event = kind(**data)
    return event


def encode_invocation(command: ev.InvokeTask) -> bytes:
    return orjson.dumps(asdict(command))


def decode_invocation(payload: bytes) -> ev.InvokeTask:
    return ev.InvokeTask(**orjson.loads(payload))
