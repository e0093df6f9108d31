"""Asynchronous invocations (``InvocationType: Event``) are kept in the store until they ran,
retried as Lambda retries them, and run again when a run was cut short.

Lambda Developer Guide, "How Lambda handles errors and retries with asynchronous
invocation": on a function error Lambda runs the function up to two more times, waiting
at least one minute before the second attempt and two minutes before the third.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from stepwell.integrations.functions import Outcome
from stepwell.integrations.services import MemoryDocumentStore
from stepwell.runtime.clock import VirtualClock
from stepwell.service import lambda_events
from stepwell.service.lambda_events import LEASE_MARGIN_SECONDS, AsyncInvocations
from stepwell.store.base import Store


class Recorder:
    """A function runner that fails as told and remembers what it ran."""

    def __init__(self, failures: int = 0, crash: bool = False) -> None:
        self.failures = failures
        self.crash = crash
        self.calls: list[tuple[str, Any]] = []

    def __call__(self, function: str, event: Any) -> Outcome:
        self.calls.append((function, event))
        if self.crash:
            self.crash = False
            raise RuntimeError("the worker died mid-run")
        if self.failures:
            self.failures -= 1
            return Outcome(error="ValueError", cause="not yet")
        return Outcome(output=event)


def events(runner: Recorder) -> tuple[AsyncInvocations, VirtualClock, MemoryDocumentStore]:
    store, clock = MemoryDocumentStore(), VirtualClock(1_000.0)
    queue = AsyncInvocations(store, clock.now)
    queue.run = runner
    return queue, clock, store


def test_an_event_runs_at_once_and_leaves_the_store() -> None:
    runner = Recorder()
    queue, _, _ = events(runner)
    queue.submit("greet", {"name": "Ada"}, timeout=3)
    queue.drain(10)
    assert runner.calls == [("greet", {"name": "Ada"})]
    assert queue.pending() == []
    queue.close()


def test_a_failing_event_is_retried_twice_a_minute_then_two_minutes_later() -> None:
    runner = Recorder(failures=5)
    queue, clock, _ = events(runner)
    queue.submit("flaky", {"n": 1}, timeout=3)
    queue.drain(10)
    [kept] = queue.pending()
    assert kept["attempts"] == 1 and kept["due"] == 1_000.0 + 60
    clock.advance(59)
    assert queue.redeliver_due() == 0  # not before the minute is up
    clock.advance(1)
    assert queue.redeliver_due() == 1
    queue.drain(10)
    [kept] = queue.pending()
    assert kept["attempts"] == 2 and kept["due"] == 1_060.0 + 120
    clock.advance(120)
    assert queue.redeliver_due() == 1
    queue.drain(10)
    assert len(runner.calls) == 3  # the first run and two retries, then discarded
    assert queue.pending() == []
    queue.close()


def test_a_run_cut_short_is_run_again_once_its_lease_ends(store: Store) -> None:
    # every store: the event outlives the process that took it (SQLite, PostgreSQL)
    runner = Recorder(crash=True)
    clock = VirtualClock(1_000.0)
    queue = AsyncInvocations(store, clock.now)
    queue.run = runner
    queue.submit("greet", {"n": 2}, timeout=3)
    queue.drain(10)
    assert len(queue.pending()) == 1  # the crash lost nothing
    assert queue.redeliver_due() == 0  # still leased to the run that crashed
    clock.advance(3 + LEASE_MARGIN_SECONDS)
    # Another process (here: a second queue over the same store) picks it up.
    other = AsyncInvocations(store, clock.now)
    other.run = runner
    assert other.redeliver_due() == 1
    other.drain(10)
    assert runner.calls == [("greet", {"n": 2})] * 2
    assert other.pending() == []
    queue.close()
    other.close()


class Gate:
    """A function runner whose first call waits until ``release`` (a long run), and that
    remembers every event it ran."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.released = threading.Event()
        self.calls: list[Any] = []
        self._lock = threading.Lock()

    def __call__(self, function: str, event: Any) -> Outcome:
        with self._lock:
            self.calls.append(event)
            first = len(self.calls) == 1
        if first:
            self.started.set()
            self.released.wait()
        return Outcome(output=event)

    def release(self) -> None:
        self.released.set()


def test_a_process_without_the_function_leaves_its_events_to_one_that_has_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Processes sharing a store may serve other functions (``stepwell worker``, another
    # ``serve --functions``): the one lacking the function must neither take nor discard
    # an event that waits in the backlog of the process that has it.
    monkeypatch.setattr(lambda_events, "RUNNERS", 1)  # one runner: the second event waits
    runner, clock, store = Gate(), VirtualClock(1_000.0), MemoryDocumentStore()
    server = AsyncInvocations(store, clock.now)
    server.run, server.has = runner, lambda name: name == "slow"
    server.submit("slow", {"n": 1}, timeout=3)
    assert runner.started.wait(10)
    server.submit("slow", {"n": 2}, timeout=3)  # due, unleased, in the server's backlog
    elsewhere = Recorder()
    worker = AsyncInvocations(store, clock.now)
    worker.run, worker.has = elsewhere, lambda name: False
    handed_over = worker.redeliver_due()  # its periodic job
    worker.drain(10)
    runner.release()
    server.drain(10)
    assert handed_over == 0 and elsewhere.calls == []  # left the event alone
    assert sorted(event["n"] for event in runner.calls) == [1, 2]  # nothing lost
    assert server.pending() == []
    server.close()
    worker.close()


def test_a_function_error_named_resource_not_found_is_retried_like_any_other() -> None:
    # The function's own error (e.g. a DynamoDB call it made) is a function error:
    # Lambda retries it (Developer Guide, asynchronous invocation retries).
    queue, _, _ = events(Recorder())
    queue.run = lambda name, event: Outcome(error="ResourceNotFoundException", cause="table")
    queue.submit("reads", {}, timeout=3)
    queue.drain(10)
    [kept] = queue.pending()
    assert kept["attempts"] == 1
    queue.close()


def test_a_long_run_and_the_event_waiting_behind_it_each_run_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every store: neither a run that outlasts its first lease nor a backlog may make a
    # second worker run an event that the first one runs, or is still due to run.
    monkeypatch.setattr(lambda_events, "RUNNERS", 1)  # one runner: the second event waits
    runner, clock = Gate(), VirtualClock(1_000.0)
    first = AsyncInvocations(store, clock.now)
    first.run = runner
    first.submit("slow", {"n": 1}, timeout=3)
    assert runner.started.wait(10)
    first.submit("slow", {"n": 2}, timeout=3)  # waits behind the long run
    clock.advance(40)
    first.redeliver_due()  # the periodic job of the process that runs them
    clock.advance(LEASE_MARGIN_SECONDS)  # past any lease taken at submit
    second = AsyncInvocations(store, clock.now)  # another worker process
    second.run = runner
    second.redeliver_due()
    second.drain(10)
    runner.release()
    first.drain(10)
    second.drain(10)
    assert sorted(event["n"] for event in runner.calls) == [1, 2]  # each ran once
    assert first.pending() == []
    first.close()
    second.close()


def test_a_second_hand_over_of_a_running_event_does_not_let_it_run_twice() -> None:
    """An event handed to the pool twice (a submit racing ``redeliver_due``): the second
    delivery finds it leased and does nothing, and the first run's lease is still
    renewed, so the event is not handed over again while it runs."""
    runner = Gate()
    queue, clock, _ = events(Recorder())
    queue.run = runner
    key = queue.submit("slow", {"n": 1}, timeout=3)
    assert runner.started.wait(10)
    queue._deliver(key)  # the duplicate hand-over, in this thread
    clock.advance(3 + LEASE_MARGIN_SECONDS + 1)  # the first run outlasts its lease
    assert queue.redeliver_due() == 0  # renewed, not run again
    runner.release()
    queue.drain(10)
    assert runner.calls == [{"n": 1}]
    assert queue.pending() == []
    queue.close()
