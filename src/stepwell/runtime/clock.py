"""Where the runtime gets the time: the system clock, or a virtual one tests can advance.

Times are epoch seconds (floats). Everything durable — timers, leases, history — is
stamped from the runtime's clock; the interpreter only ever sees the time it is given.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class VirtualClock:
    """A clock that moves only when told to: ``advance(seconds)`` or ``set(epoch)``."""

    def __init__(self, start: float | datetime | None = None) -> None:
        if isinstance(start, datetime):
            start = start.timestamp()
        self._now = start if start is not None else time.time()
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, epoch: float) -> None:
        with self._lock:
            self._now = max(self._now, epoch)


def to_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
