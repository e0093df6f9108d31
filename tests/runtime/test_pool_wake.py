"""Which threads a wake-up rouses: only those of the queues that may have work."""

from __future__ import annotations

from stepwell.integrations.registry import Integrations
from stepwell.runtime.pool import WorkerPool
from stepwell.store.base import QUEUES
from stepwell.store.memory import MemoryStore


def wakes(pool: WorkerPool) -> tuple[int, int]:
    return pool._wakes[id(pool._advancers)], pool._wakes[id(pool._invokers)]


def test_a_wake_up_for_one_queue_rouses_only_its_threads() -> None:
    pool = WorkerPool(MemoryStore(), Integrations(), workers=2, invokers=2)  # not started
    pool.wake(queues=frozenset({"invoke"}))
    assert wakes(pool) == (0, 1)
    pool.wake(queues=frozenset({"execution"}))
    assert wakes(pool) == (1, 1)
    pool.wake()  # the store cannot tell: every kind
    assert wakes(pool) == (2, 2)
    pool.wake(queues=QUEUES)
    assert wakes(pool) == (3, 3)
