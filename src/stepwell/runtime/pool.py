"""Worker threads in one process: some advance executions, some run task invocations.

Advancing and invoking run on separate threads so a slow task never holds up state
transitions. Idle threads sleep until the next due work item, or until woken: by
``wake()`` from this process (the service calls it when it adds work) or by the store
(PostgreSQL's LISTEN/NOTIFY, SQLite's short poll), whichever comes first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from stepwell.integrations.registry import Integrations
from stepwell.runtime.clock import Clock, SystemClock
from stepwell.runtime.worker import Worker
from stepwell.store.base import LEASE_SECONDS, Store

log = logging.getLogger("stepwell.runtime")
IDLE_SECONDS = 1.0  # the longest an idle thread sleeps before looking again
PERIODIC_SECONDS = 1.0  # how often the periodic jobs (schedules) run


class WorkerPool:
    def __init__(
        self,
        store: Store,
        integrations: Integrations,
        clock: Clock | None = None,
        workers: int = 1,
        invokers: int = 4,
        lease_seconds: float = LEASE_SECONDS,
        owner: str | None = None,
        periodic: Sequence[Callable[[], object]] = (),
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.worker = Worker(store, integrations, self.clock, owner, lease_seconds)
        self._stop = threading.Event()
        # One signal per kind of thread; a wake-up rouses one of each, and a thread that
        # found work passes the wake-up on, so idle threads do not stampede the store.
        self._advancers = threading.Condition()
        self._invokers = threading.Condition()
        advance = [
            self._thread(self._advance, self._advancers, f"advance-{n}") for n in range(workers)
        ]
        invoke = [
            self._thread(self._invoke, self._invokers, f"invoke-{n}") for n in range(invokers)
        ]
        listen = threading.Thread(target=self._listen, daemon=True, name="stepwell-listen")
        self.periodic = list(periodic)  # e.g. Schedules.fire_due
        ticker = threading.Thread(target=self._tick, daemon=True, name="stepwell-periodic")
        self._threads = [*advance, *invoke, listen, ticker]

    def _thread(
        self, work: Callable[[], bool], signal: threading.Condition, name: str
    ) -> threading.Thread:
        return threading.Thread(
            target=self._loop, args=(work, signal), daemon=True, name=f"stepwell-{name}"
        )

    def start(self) -> WorkerPool:
        for thread in self._threads:
            thread.start()
        return self

    def wake(self) -> None:
        for signal in (self._advancers, self._invokers):
            with signal:
                signal.notify()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for signal in (self._advancers, self._invokers):
            with signal:
                signal.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def _advance(self) -> bool:
        return self.worker.advance_one()

    def _invoke(self) -> bool:
        return self.worker.invoke_due(limit=1) > 0

    def _loop(self, work: Callable[[], bool], signal: threading.Condition) -> None:
        while not self._stop.is_set():
            try:
                if work():
                    self.wake()  # what this did may be due for another thread
                    continue
            except Exception:
                log.exception("work failed; retrying after a pause")
            self._idle(signal)

    def _idle(self, signal: threading.Condition) -> None:
        now = self.clock.now()
        due = self.store.next_due(now)
        timeout = IDLE_SECONDS if due is None else min(IDLE_SECONDS, max(due - now, 0.0))
        with signal:
            signal.wait(timeout or 0.02)  # 0: due but leased elsewhere; look again soon

    def _tick(self) -> None:
        """Run each periodic job every PERIODIC_SECONDS (each is cheap when idle)."""
        while not self._stop.wait(PERIODIC_SECONDS):
            for job in self.periodic:
                try:
                    job()
                except Exception:
                    log.exception("periodic job %r failed", job)

    def _listen(self) -> None:
        """Turn the store's news of work added by other processes into a wake-up."""
        while not self._stop.is_set():
            try:
                self.store.wait_for_work(IDLE_SECONDS)
            except Exception:
                log.exception("waiting for work failed")
                self._stop.wait(IDLE_SECONDS)
            self.wake()
