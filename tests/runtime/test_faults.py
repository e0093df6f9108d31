"""Nothing stops the runtime (issue 9, faults 1 and 2; DESIGN.md "Nothing stops the
runtime"): background loops outlive any store error and back off; a step that fails
for an outside reason backs off per execution, in the store, while others proceed; a
step that fails because of the execution itself ends that execution with
``States.Runtime``; StartExecution never fails for an execution it has created."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import pytest

from stepwell.engine.interpreter import STEP_EVENT_BUDGET
from stepwell.integrations.registry import Integrations
from stepwell.runtime.clock import VirtualClock
from stepwell.runtime.health import BACKOFF_CAP, BACKOFF_FIRST, Health, LoopHealth, backoff
from stepwell.runtime.pool import WorkerPool
from stepwell.runtime.worker import Worker
from stepwell.service.service import Service
from stepwell.store.base import ExecutionRecord, Store, StoreUnavailable, WorkItem
from stepwell.store.memory import MemoryStore

ROLE = "arn:aws:iam::123456789012:role/stepwell"
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
START = 1_700_000_000.0


class FlakyStore:
    """A real store whose named methods raise while ``failing`` holds them (optionally
    only for one execution): a database that is down, as the runtime sees it."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.failing: set[str] = set()
        self.only_arn: str | None = None
        self.error: Callable[[], Exception] = lambda: StoreUnavailable("the database is down")

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if name in self.failing and self._concerns(args):
                raise self.error()
            return method(*args, **kwargs)

        return call

    def _concerns(self, args: tuple[Any, ...]) -> bool:
        if self.only_arn is None:
            return True
        first = args[0] if args else None
        leases = [step[0] for step in first] if isinstance(first, list) else [first]
        arns = {getattr(getattr(lease, "execution", None), "arn", None) for lease in leases}
        return self.only_arn in arns  # a lease, or one of a batch of (lease, outcome)


def poll(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    """Poll ``condition`` (short sleeps) until true or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def create_machine(service: Service, definition: dict[str, Any] = PASS) -> str:
    arn: str = service.handle(
        "CreateStateMachine", {"name": "m", "definition": json.dumps(definition), "roleArn": ROLE}
    )["stateMachineArn"]
    return arn


def start(service: Service, machine: str, text: str = "{}", name: str | None = None) -> str:
    request = {"stateMachineArn": machine, "input": text, **({"name": name} if name else {})}
    arn: str = service.handle("StartExecution", request)["executionArn"]
    return arn


def status(service: Service, arn: str) -> str:
    found: str = service.handle("DescribeExecution", {"executionArn": arn})["status"]
    return found


# ---------------------------------------------------------------- background loops


def test_every_loop_survives_a_store_that_raises_and_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Fault 1: ``next_due`` (called while idle) and every other store call raise for a
    while; no thread dies, each logs once, and acknowledged executions then complete."""
    flaky = FlakyStore(MemoryStore())
    store = cast(Store, flaky)
    pool = WorkerPool(store, Integrations(), workers=2, invokers=1)
    service = Service(store, VirtualClock(START), wake=pool.wake)
    machine = create_machine(service)
    flaky.failing = {
        "next_due",
        "lease_execution",
        "lease_executions",
        "lease_invocations",
        "wait_for_work",
        "check",
    }
    pool.start()
    try:
        acknowledged = [start(service, machine) for _ in range(5)]
        touching_the_store = [loop for loop in _loops(pool.health) if loop.name != "periodic"]
        assert poll(lambda: all(loop.failures >= 2 for loop in touching_the_store))
        report = pool.health.report()
        assert report["status"] == "unavailable"
        assert report["store"] == {"ok": False, "error": "the database is down"}
        assert all(thread.is_alive() for thread in pool._threads)
        flaky.failing.clear()
        pool.wake()
        assert poll(lambda: all(status(service, a) == "SUCCEEDED" for a in acknowledged))
        assert poll(lambda: pool.health.report()["status"] == "ok")
    finally:
        pool.stop()
    failed = [r for r in caplog.records if "failed; retrying with back-off" in r.getMessage()]
    # One error per loop per streak, not one per attempt.
    assert len(failed) == len({r.getMessage() for r in failed}) <= len(_loops(pool.health))
    assert {loop.alive for loop in _loops(pool.health)} == {False}  # stopped, not crashed


def _loops(health: Health) -> list[LoopHealth]:
    return [health.loop(item["name"]) for item in health.report()["loops"]]


def test_a_loop_whose_own_code_raises_is_restarted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Even an error outside the guarded round (here: in reporting a failure) keeps the
    thread: the loop starts again."""
    flaky = FlakyStore(MemoryStore())
    flaky.failing = {"next_due"}
    reported: list[str] = []
    original = LoopHealth.failed

    def failed_once(self: LoopHealth, error: BaseException) -> float:
        reported.append(self.name)
        if reported.count(self.name) == 1:
            raise ValueError("a bug while reporting")
        return original(self, error)

    monkeypatch.setattr(LoopHealth, "failed", failed_once)
    pool = WorkerPool(cast(Store, flaky), Integrations(), workers=1, invokers=0)
    pool.start()
    try:
        assert poll(lambda: reported.count("advance-0") >= 3)
        assert all(thread.is_alive() for thread in pool._threads)
    finally:
        pool.stop()


def test_a_failing_periodic_job_is_reported_and_retried() -> None:
    runs: list[int] = []
    done = threading.Event()

    def job() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("schedule table unreadable")
        done.set()

    pool = WorkerPool(MemoryStore(), Integrations(), workers=0, invokers=0, periodic=[job])
    pool.start()
    try:
        assert done.wait(10)
    finally:
        pool.stop()
    loops = {loop["name"]: loop for loop in pool.health.report()["loops"]}
    entry = next(loop for name, loop in loops.items() if "job" in name)
    assert entry["failures"] == 0
    assert entry["lastError"] == "RuntimeError: schedule table unreadable"


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [(1, BACKOFF_FIRST), (2, BACKOFF_FIRST * 2), (3, BACKOFF_FIRST * 4), (50, BACKOFF_CAP)],
)
def test_backoff_doubles_up_to_a_cap(failures: int, seconds: float) -> None:
    assert backoff(failures) == pytest.approx(seconds)


# ---------------------------------------------------------------- outside failures


def test_a_step_failing_in_the_store_backs_off_in_the_store_and_starves_no_one(
    store: Store,
) -> None:
    """Fault 2, outside reason: the execution is retried later and later (its lease
    holds its retry time, in the store), and other executions go on meanwhile."""
    flaky = FlakyStore(store)
    clock = VirtualClock(START)
    service = Service(cast(Store, flaky), clock)
    worker = Worker(cast(Store, flaky), Integrations(), clock)
    machine = create_machine(service)
    stuck = start(service, machine, name="stuck")
    clock.advance(0.001)
    other = start(service, machine, name="other")
    flaky.failing, flaky.only_arn = {"commit_step"}, stuck
    retry_times = []
    for failures in (1, 2, 3):
        with pytest.raises(StoreUnavailable):
            worker.advance_one()  # "stuck" is due first
        retry_times.append(clock.now() + backoff(failures))
        if failures == 1:
            assert worker.advance_one()  # the next execution is not held up
            assert status(service, other) == "SUCCEEDED"
        assert not worker.advance_one()  # "stuck" waits out its back-off: no hot retry
        clock.set(retry_times[-1] + 0.001)
    assert retry_times[1] - START > 2 * backoff(1)  # later and later
    flaky.failing.clear()
    assert worker.advance_one()
    assert status(service, stuck) == "SUCCEEDED"


def test_a_batch_the_store_fails_is_retried_later_execution_by_execution(store: Store) -> None:
    """Fault 2, outside reason, in a batch (``Worker.advance``): whether the store fails
    while the batch is stepped or at its commit, nothing of it is committed and each of
    its executions backs off (no hot retry); once the store is back, all complete."""
    flaky = FlakyStore(store)
    clock = VirtualClock(START)
    service = Service(cast(Store, flaky), clock)
    worker = Worker(cast(Store, flaky), Integrations(), clock)
    machine = create_machine(service)
    arns = [start(service, machine, name=f"e{n}") for n in range(3)]
    flaky.failing = {"commit_steps"}
    with pytest.raises(StoreUnavailable):
        worker.advance()
    assert [status(service, arn) for arn in arns] == ["RUNNING"] * 3
    assert worker.advance() == 0  # every execution of the batch waits out its back-off
    clock.advance(backoff(1) + 0.001)
    flaky.failing = {"get_state_machine"}  # now while the batch is stepped
    with pytest.raises(StoreUnavailable):
        worker.advance()
    assert worker.advance() == 0
    flaky.failing.clear()
    clock.advance(backoff(2) + 0.001)
    assert worker.advance() == 3
    assert [status(service, arn) for arn in arns] == ["SUCCEEDED"] * 3


def test_a_step_that_breaks_its_batch_commit_fails_alone(store: Store) -> None:
    """Fault 2, inside reason, in a batch (``Worker.advance``): a batch whose commit
    raises for a reason other than the store is committed step by step, and only the
    execution whose own commit raises ends, with States.Runtime."""
    flaky = FlakyStore(store)
    clock = VirtualClock(START)
    service = Service(cast(Store, flaky), clock)
    worker = Worker(cast(Store, flaky), Integrations(), clock)
    machine = create_machine(service)
    good, bad = start(service, machine, name="good"), start(service, machine, name="bad")
    refusals: list[str] = []

    def refuse() -> Exception:
        refusals.append("refused")
        if len(refusals) == 2:  # the batch, then the bad step alone: then it is written
            flaky.failing.clear()
        return ValueError("the database refuses this row")

    flaky.failing, flaky.only_arn, flaky.error = {"commit_steps", "commit_step"}, bad, refuse
    assert worker.advance() == 2
    assert refusals == ["refused", "refused"]
    assert status(service, good) == "SUCCEEDED"
    failed = service.handle("DescribeExecution", {"executionArn": bad})
    assert (failed["status"], failed["error"]) == ("FAILED", "States.Runtime")
    assert "ValueError: the database refuses this row" in failed["cause"]


def test_start_execution_answers_for_an_execution_it_created_even_if_its_next_step_fails(
    store: Store,
) -> None:
    """Fault 2: never a 500 for an execution that exists; the workers take it over. The
    first step is written with the execution (one transaction); a chain of Pass states
    longer than a step's budget leaves a second step due at once, which StartExecution
    takes inline too, and which fails."""
    flaky = FlakyStore(store)
    clock = VirtualClock(START)
    worker = Worker(cast(Store, flaky), Integrations(), clock)
    service = Service(cast(Store, flaky), clock, run_now=worker)
    length = STEP_EVENT_BUDGET // 2  # states of two events each: past one step's budget
    chain: dict[str, Any] = {f"P{n}": {"Type": "Pass", "Next": f"P{n + 1}"} for n in range(length)}
    chain[f"P{length}"] = {"Type": "Pass", "End": True}
    machine = create_machine(service, {"StartAt": "P0", "States": chain})
    flaky.failing = {"commit_step"}
    arn = start(service, machine, name="e1")
    assert status(service, arn) == "RUNNING"
    flaky.failing.clear()
    clock.advance(BACKOFF_CAP)
    worker.run_until_idle()
    assert status(service, arn) == "SUCCEEDED"


# ---------------------------------------------------------------- poison executions


def test_a_step_that_cannot_process_its_execution_fails_that_execution_once(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Fault 2, inside reason: input nested past what the interpreter can read (written
    to the store directly, as an older Stepwell could have) ends the execution FAILED
    with States.Runtime at the first attempt; the next execution runs normally."""
    clock = VirtualClock(START)
    service = Service(store, clock)
    worker = Worker(store, Integrations(), clock)
    machine = create_machine(service)
    record = service.handle("DescribeStateMachine", {"stateMachineArn": machine})
    poison = ExecutionRecord(
        arn=machine.replace(":stateMachine:", ":execution:") + ":poison",
        state_machine_arn=machine,
        name="poison",
        status="RUNNING",
        input="[" * 3000 + "]" * 3000,
        start_date=clock.now(),
        definition_key=None,
    )
    assert record["status"] == "ACTIVE"
    store.create_execution(poison, WorkItem(poison.arn, "start", b"{}", clock.now()))
    healthy = start(service, machine, name="healthy")
    assert worker.run_until_idle() == 2  # one round each: no retries of the poison
    failed = service.handle("DescribeExecution", {"executionArn": poison.arn})
    assert failed["status"] == "FAILED"
    assert failed["error"] == "States.Runtime"
    assert failed["cause"].startswith("Stepwell could not run the execution's next step:")
    events = service.handle("GetExecutionHistory", {"executionArn": poison.arn})["events"]
    assert [(e["type"], e["id"], e["previousEventId"]) for e in events] == [
        ("ExecutionFailed", 1, 0)
    ]
    assert events[0]["executionFailedEventDetails"]["error"] == "States.Runtime"
    assert status(service, healthy) == "SUCCEEDED"
    assert len([r for r in caplog.records if poison.arn in r.getMessage()]) == 1


def test_an_unreadable_event_mid_execution_fails_it_after_its_last_event(store: Store) -> None:
    """Poison in the middle: a waiting execution gets a work item nobody can decode; it
    fails with States.Runtime, its ExecutionFailed event following the history."""
    clock = VirtualClock(START)
    service = Service(store, clock)
    worker = Worker(store, Integrations(), clock)
    machine = create_machine(
        service,
        {
            "StartAt": "W",
            "States": {
                "W": {"Type": "Wait", "Seconds": 60, "Next": "P"},
                "P": {"Type": "Pass", "End": True},
            },
        },
    )
    arn = start(service, machine)
    worker.run_until_idle()
    before = service.handle("GetExecutionHistory", {"executionArn": arn})["events"]
    store.enqueue(WorkItem(arn, "event", b"\x00 not an event", clock.now()))
    assert worker.advance_one()
    failed = service.handle("DescribeExecution", {"executionArn": arn})
    assert (failed["status"], failed["error"]) == ("FAILED", "States.Runtime")
    after = service.handle("GetExecutionHistory", {"executionArn": arn})["events"]
    assert after[:-1] == before
    assert (after[-1]["type"], after[-1]["id"]) == ("ExecutionFailed", len(before) + 1)
    clock.advance(120)
    worker.run_until_idle()  # the timer fires into a finished execution: nothing happens
    assert service.handle("GetExecutionHistory", {"executionArn": arn})["events"] == after


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,  # deeper than the parser recurses
        "1" * 5000,  # more digits than Python converts
    ],
)
def test_string_to_json_of_hostile_text_is_an_intrinsic_failure(store: Store, text: str) -> None:
    """States.StringToJson catches every error of the parser: the execution gets
    States.IntrinsicFailure (an error of the workflow) instead of a crashing worker."""
    clock = VirtualClock(START)
    service = Service(store, clock)
    worker = Worker(store, Integrations(), clock)
    machine = create_machine(
        service,
        {
            "StartAt": "Parse",
            "States": {
                "Parse": {
                    "Type": "Pass",
                    "Parameters": {"v.$": "States.StringToJson($.text)"},
                    "End": True,
                }
            },
        },
    )
    arn = start(service, machine, json.dumps({"text": text}))
    worker.run_until_idle()
    done = service.handle("DescribeExecution", {"executionArn": arn})
    assert (done["status"], done["error"]) == ("FAILED", "States.IntrinsicFailure")


class TroubledWatcher:
    """A finish watcher (``integrations.nested``) whose store calls fail as named."""

    def __init__(self, failing: str, error: Exception) -> None:
        self.failing, self.error = failing, error
        self.forgotten: list[str] = []

    def prepare(self, executions: Any) -> None:
        if self.failing == "prepare":
            raise self.error

    def completions(self, execution: ExecutionRecord) -> list[Any]:
        return []

    def forget(self, execution: ExecutionRecord) -> None:
        self.forgotten.append(execution.arn)
        if self.failing == "forget":
            raise self.error


def test_a_watcher_failing_after_a_commit_holds_up_no_batch(store: Store) -> None:
    """Fault 2 after the commit: the batch is written, so a watcher that cannot tidy up
    is logged and the next batch (leased by that commit) is stepped at once."""
    clock = VirtualClock(START)
    service = Service(store, clock)
    worker = Worker(store, Integrations(), clock)
    watcher = TroubledWatcher("forget", StoreUnavailable("the database is down"))
    worker.watchers.append(watcher)
    machine = create_machine(service)
    arns = [start(service, machine, name=f"e{n}") for n in range(2)]
    assert worker.advance(limit=1) == 2
    assert [status(service, arn) for arn in arns] == ["SUCCEEDED"] * 2
    assert watcher.forgotten == arns


def test_a_batch_failing_for_any_reason_gives_its_leases_back(store: Store) -> None:
    """Fault 2, a failure outside the store's own calls (a watcher looking ahead): the
    batch's executions back off, rather than stay leased for ``lease_seconds``."""
    clock = VirtualClock(START)
    service = Service(store, clock)
    troubled = Worker(store, Integrations(), clock)
    troubled.watchers.append(TroubledWatcher("prepare", RuntimeError("a bug")))
    machine = create_machine(service)
    arns = [start(service, machine, name=f"e{n}") for n in range(2)]
    with pytest.raises(RuntimeError):
        troubled.advance()
    clock.advance(backoff(1) + 0.001)
    assert backoff(1) + 0.001 < troubled.lease_seconds
    assert Worker(store, Integrations(), clock).advance() == 2
    assert [status(service, arn) for arn in arns] == ["SUCCEEDED"] * 2


def test_a_store_failing_while_a_batch_commits_step_by_step_backs_off_the_rest(
    store: Store,
) -> None:
    """Fault 1 amid fault 2: the batch's commit refuses a row, and while its steps are
    committed one by one the store goes away: the steps not yet committed all back off
    (not only the one that failed)."""
    flaky = FlakyStore(store)
    clock = VirtualClock(START)
    service = Service(cast(Store, flaky), clock)
    worker = Worker(cast(Store, flaky), Integrations(), clock)
    machine = create_machine(service)
    first, second = start(service, machine, name="first"), start(service, machine, name="second")
    errors: list[Exception] = [ValueError("the database refuses this row")]

    def error() -> Exception:
        return errors.pop() if errors else StoreUnavailable("the database is down")

    flaky.failing, flaky.only_arn, flaky.error = {"commit_steps", "commit_step"}, first, error
    with pytest.raises(StoreUnavailable):
        worker.advance()
    flaky.failing.clear()
    clock.advance(backoff(1) + 0.001)
    assert worker.advance() == 2
    assert [status(service, arn) for arn in (first, second)] == ["SUCCEEDED"] * 2
