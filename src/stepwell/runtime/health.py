"""How the background loops are doing, for ``GET /health`` and for the logs.

Every background loop (advancers, invokers, the store listener, the periodic jobs)
reports each round to a ``LoopHealth``: it never dies of an exception, it backs off
(doubling, capped) while failures last, and it logs once per streak of failures
("failing since ...", then "recovered after N failures"), not a traceback a second.
``Health`` collects the loops of one process and the store's own verdict.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stepwell.store.base import StoreUnavailable

log = logging.getLogger("stepwell.runtime")

BACKOFF_FIRST = 0.05  # seconds after the first failure of a streak
BACKOFF_CAP = 5.0  # the longest pause between two attempts of a failing loop


@dataclass(slots=True)
class LoopHealth:
    """One loop's streak of failures; updated by its own thread only."""

    name: str
    failures: int = 0  # consecutive failures; 0 while the loop works
    last_error: str | None = None
    failing_since: float | None = None
    alive: bool = True

    def succeeded(self) -> None:
        if self.failures:
            log.warning("%s recovered after %d failures", self.name, self.failures)
            self.failures = 0
            self.failing_since = None

    def failed(self, error: BaseException) -> float:
        """Record a failure; the seconds to wait before trying again. Logs the first
        failure of a streak with its traceback, and nothing more until it ends."""
        self.failures += 1
        self.last_error = f"{type(error).__name__}: {error}"
        if self.failures == 1:
            self.failing_since = time.time()
            # A store that is down is an expected fault, said in words; anything else
            # is a bug whose traceback is worth having.
            trace = None if isinstance(error, StoreUnavailable) else error
            log.error("%s failed; retrying with back-off: %s", self.name, error, exc_info=trace)
        return backoff(self.failures)


def backoff(failures: int) -> float:
    """Exponential back-off: BACKOFF_FIRST, doubling with each failure, at most BACKOFF_CAP."""
    return float(min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** min(failures - 1, 32)))


class Health:
    """The loops of one process, and a probe of the store (``Store.check``)."""

    def __init__(self, probe: Callable[[], None] | None = None) -> None:
        self._probe = probe
        self._loops: dict[str, LoopHealth] = {}
        self._lock = threading.Lock()

    def loop(self, name: str) -> LoopHealth:
        with self._lock:
            found = self._loops.get(name)
            if found is None:
                found = self._loops[name] = LoopHealth(name)
            return found

    def report(self) -> dict[str, Any]:
        """``{"status": "ok" | "unavailable" | "degraded", "store": {...}, "loops": [...]}``:
        unavailable when the store cannot be used, degraded when a loop is failing or
        dead."""
        store: dict[str, Any] = {"ok": True}
        if self._probe is not None:
            try:
                self._probe()
            except Exception as error:
                store = {"ok": False, "error": str(error) or type(error).__name__}
        with self._lock:
            loops = [
                {
                    "name": loop.name,
                    "alive": loop.alive,
                    "failures": loop.failures,
                    "lastError": loop.last_error,
                    "failingSince": loop.failing_since,
                }
                for loop in self._loops.values()
            ]
        troubled = any(not loop["alive"] or loop["failures"] for loop in loops)
        status = "unavailable" if not store["ok"] else "degraded" if troubled else "ok"
        return {"status": status, "store": store, "loops": loops}
