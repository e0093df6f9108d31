"""Worker threads in one process: some advance executions, some run task invocations.

Advancing and invoking run on separate threads so a slow task never holds up state
transitions. An advancing thread works in batches (``Worker.advance``): it leases several
executions at once and commits their steps together with leasing the next batch, which
PostgreSQL does in one round trip. Idle threads sleep until the next due work item, or
until woken: by ``wake()`` from this process (the service calls it when it adds work) or
by the store (PostgreSQL's LISTEN/NOTIFY, SQLite's short poll), whichever comes first.

No exception ends a thread: a round that raises (the database restarting, a file gone)
is reported to the thread's ``LoopHealth``, which logs once per streak and says how long
to back off (doubling, capped); the next round reconnects through the store. Likewise a
thread that keeps finding work due but leased elsewhere (an execution backing off) looks
again less and less often instead of fifty times a second.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence

from stepwell.integrations.registry import Integrations
from stepwell.runtime.clock import Clock, SystemClock
from stepwell.runtime.health import BACKOFF_FIRST, Health, LoopHealth, backoff
from stepwell.runtime.worker import Worker
from stepwell.store.base import LEASE_SECONDS, QUEUES, Store

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
        health: Health | None = None,
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.health = health or Health(store.check)
        self.worker = Worker(store, integrations, self.clock, owner, lease_seconds)
        self._stop = threading.Event()
        # One signal per kind of thread; a wake-up rouses one of each, and a thread that
        # found work passes the wake-up on, so idle threads do not stampede the store.
        self._advancers = threading.Condition()
        self._invokers = threading.Condition()
        # Idle advancers and when each looks again by itself (inf: about to decide), so
        # that a timer due later than that needs no wake-up; and a count of wake-ups, so a
        # thread woken while it was deciding how long to sleep does not sleep.
        self._plans: dict[int, float] = {}
        self._wakes = {id(self._advancers): 0, id(self._invokers): 0}  # under each's lock
        advance = [
            self._thread(self._advance, self._advancers, f"advance-{n}") for n in range(workers)
        ]
        invoke = [
            self._thread(self._invoke, self._invokers, f"invoke-{n}") for n in range(invokers)
        ]
        listen = threading.Thread(
            target=self._guarded,
            args=(self._listen, self.health.loop("listen")),
            daemon=True,
            name="stepwell-listen",
        )
        self.periodic = list(periodic)  # e.g. Schedules.fire_due
        ticker = threading.Thread(
            target=self._guarded,
            args=(self._tick, self.health.loop("periodic")),
            daemon=True,
            name="stepwell-periodic",
        )
        self._threads = [*advance, *invoke, listen, ticker]

    def _thread(
        self, work: Callable[[], bool], signal: threading.Condition, name: str
    ) -> threading.Thread:
        return threading.Thread(
            target=self._guarded,
            args=(self._loop, self.health.loop(name), work, signal),
            daemon=True,
            name=f"stepwell-{name}",
        )

    def start(self) -> WorkerPool:
        for thread in self._threads:
            thread.start()
        return self

    def wake(self, due: float | None = None, queues: frozenset[str] = QUEUES) -> None:
        """Rouse one idle thread of each kind whose queue (``queues``) may have work, or,
        for a timer that comes due at ``due`` (epoch seconds), one advancer, and only if
        every idle advancer would sleep past it: the one roused looks again exactly at
        ``due`` (``_idle_timeout``), so timers fire on time without polling."""
        if due is not None and due > self.clock.now():
            with self._advancers:
                if self._plans and min(self._plans.values()) > due:
                    self._wakes[id(self._advancers)] += 1
                    self._advancers.notify()
            return
        for queue, signal in (("execution", self._advancers), ("invoke", self._invokers)):
            if queue in queues:
                with signal:
                    self._wakes[id(signal)] += 1
                    signal.notify()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for signal in (self._advancers, self._invokers):
            with signal:
                signal.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def _advance(self) -> bool:
        return self.worker.advance() > 0

    def _invoke(self) -> bool:
        return self.worker.invoke_due(limit=1) > 0

    def _guarded(self, run: Callable[..., None], health: LoopHealth, *args: object) -> None:
        """Run a loop; should it ever return by an error of its own, start it again."""
        while not self._stop.is_set():
            try:
                run(health, *args)
            except BaseException as error:  # a bug in the loop itself: keep the thread
                self._stop.wait(health.failed(error))
        health.alive = False

    def _loop(
        self, health: LoopHealth, work: Callable[[], bool], signal: threading.Condition
    ) -> None:
        idle_rounds = 0
        me = threading.get_ident()
        plans = self._plans if signal is self._advancers else None
        # What a round that found work may have added: with a store that announces every
        # item added (by this process too, naming its queue), only this thread's own queue
        # needs passing on; otherwise both.
        own = frozenset({"execution" if plans is not None else "invoke"})
        pass_on = own if getattr(self.store, "announces_work", False) else QUEUES
        while not self._stop.is_set():
            with signal:
                seen = self._wakes[id(signal)]
                if plans is not None:
                    plans[me] = math.inf  # deciding: a timer's wake-up must reach it
            try:
                if work():
                    health.succeeded()
                    idle_rounds = 0
                    self.wake(queues=pass_on)  # there may be more, for another thread
                    continue
                idle_rounds += 1
                timeout = self._idle_timeout(idle_rounds)
                health.succeeded()
            except Exception as error:
                timeout = health.failed(error)
            with signal:
                if self._wakes[id(signal)] == seen:  # else woken while deciding: look again
                    if plans is not None:
                        plans[me] = self.clock.now() + timeout
                    signal.wait(timeout)
                if plans is not None:
                    plans.pop(me, None)

    def _idle_timeout(self, idle_rounds: int) -> float:
        """How long to sleep: until the next due item, at most IDLE_SECONDS. An item due
        already but not leasable (leased elsewhere, or backing off) is looked at again
        soon, then less and less often."""
        now = self.clock.now()
        due = self.store.next_due(now)
        if due is None:
            return IDLE_SECONDS
        if due > now:
            return min(IDLE_SECONDS, due - now)
        return min(IDLE_SECONDS, backoff(idle_rounds) if idle_rounds > 1 else BACKOFF_FIRST / 2)

    def _tick(self, health: LoopHealth) -> None:
        """Run each periodic job every PERIODIC_SECONDS (each is cheap when idle)."""
        while not self._stop.wait(PERIODIC_SECONDS):
            for job in self.periodic:
                each = self.health.loop(f"{health.name} {getattr(job, '__qualname__', job)}")
                try:
                    job()
                    each.succeeded()
                except Exception as error:
                    each.failed(error)

    def _listen(self, health: LoopHealth) -> None:
        """Turn the store's news of work added by other processes into a wake-up."""
        while not self._stop.is_set():
            queues = QUEUES
            try:
                queues = self.store.wait_for_work(IDLE_SECONDS)
                health.succeeded()
            except Exception as error:
                self._stop.wait(health.failed(error))
            self.wake(queues=queues)
