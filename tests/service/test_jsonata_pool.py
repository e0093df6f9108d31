"""The process pool that evaluates unbounded JSONata expressions (issue 9, fault 6):
results and errors as in-process, but a loop, a huge value or a crash costs a worker
process, never the server, and the server's threads are not held while it runs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from stepwell.language.errors import StatesError
from stepwell.language.evaluation import EvalContext
from stepwell.language.jsonata import UNDEFINED, compile_jsonata
from stepwell.language.jsonata_isolation import ISOLATION, IsolatedEvaluation
from stepwell.service.host import Host
from stepwell.service.jsonata_pool import (
    WORKER_CODE,
    WORKER_NICENESS,
    JsonataProcessPool,
    evaluate,
    pool_size,
)
from stepwell.service.settings import Settings


def request(text: str, **fields: Any) -> IsolatedEvaluation:
    defaults: dict[str, Any] = {
        "field": "Output",
        "states": {},
        "variables": {},
        "context": None,
        "seed": None,
    }
    return IsolatedEvaluation(text=text, **{**defaults, **fields})


@pytest.fixture(scope="module")
def pool() -> Iterator[JsonataProcessPool]:
    pool = JsonataProcessPool(size=1, memory_limit=64 * 1024 * 1024, deadline_seconds=5.0)
    yield pool
    pool.close()


def test_values_undefined_and_errors_come_back_as_in_process(pool: JsonataProcessPool) -> None:
    doubled = request(
        "$map($states.input.a, function($v){ $v * $k })",
        states={"input": {"a": [1, 2]}},
        variables={"k": 3},
    )
    assert pool(doubled) == [3, 6]
    assert pool(request("$map([], function($v){$v})[0]")) is UNDEFINED
    with pytest.raises(StatesError) as raised:
        pool(request("( $f := function(){ 1 + 'a' }; $f() )"))
    assert raised.value.error == "States.QueryEvaluationError"
    assert raised.value.location == "Output"


def test_the_evaluation_runs_in_another_process(pool: JsonataProcessPool) -> None:
    pid = pool(request("( $p := function(){ $pid }; $p() )", variables={"pid": 0}))
    assert pid == 0
    (worker,) = pool._all
    assert worker.process.pid != os.getpid() and worker.process.poll() is None


def test_a_worker_runs_at_the_lowest_priority_from_before_its_imports(
    pool: JsonataProcessPool,
) -> None:
    """A hostile expression spins in the worker for its whole time limit: at the lowest
    priority it takes only CPU the server does not need. Starting a worker (importing
    Stepwell) costs most of a second of CPU, so the priority is lowered before that."""
    pool(request("( $f := function(){ 1 }; $f() )"))
    (worker,) = pool._all
    assert os.getpriority(os.PRIO_PROCESS, worker.process.pid) == WORKER_NICENESS == 19
    assert WORKER_CODE.index("os.nice(") < WORKER_CODE.index("from stepwell")


def test_entropy_comes_from_the_seed_so_a_replay_draws_the_same(pool: JsonataProcessPool) -> None:
    text = "( $r := function(){ [$random(), $uuid()] }; $r() )"
    first = pool(request(text, seed=0.25, context={}))
    assert pool(request(text, seed=0.25, context={})) == first
    assert pool(request(text, seed=0.5, context={})) != first
    assert evaluate(request(text, seed=0.25, context={}))[0] == "value"


def test_a_value_past_the_memory_limit_kills_the_worker_not_the_server(
    pool: JsonataProcessPool,
) -> None:
    # $pad('x', 1e9) took the server to +3-7 GB; the worker is limited to +64 MiB here.
    with pytest.raises(StatesError) as raised:
        pool(request("$substring($pad('x', 2e8) & 'y', 0, 3)"))
    assert "memory limit of 64 MiB" in raised.value.cause or "ran longer" in raised.value.cause
    assert pool(request("$map([1, 2], function($v){ $v })")) == [1, 2]  # a new worker


def test_a_worker_that_does_not_answer_in_time_is_killed() -> None:
    pool = JsonataProcessPool(size=1, deadline_seconds=0.3)
    try:
        assert pool(request("$map([2, 3], function($v){ $v })")) == [2, 3]  # warm
        (first,) = pool._all
        with pytest.raises(StatesError, match=r"ran longer than 0\.3 s"):
            pool(request("( $f := function($n){ $f($n+1) }; $f(0) )"))
        assert first.process.poll() is not None  # killed
        assert pool._all == set()
    finally:
        pool.close()


def test_the_library_guardrails_still_apply_inside_the_worker(pool: JsonataProcessPool) -> None:
    with pytest.raises(StatesError, match="D2015"):
        pool(request("$count([1..1e7])"))


def test_a_host_installs_the_pool_while_it_runs() -> None:
    assert ISOLATION.evaluator is None
    host = Host(Settings(db="memory", workers=0, jsonata_workers=1)).start()
    try:
        assert isinstance(ISOLATION.evaluator, JsonataProcessPool)
        state = {
            "Type": "Pass",
            "QueryLanguage": "JSONata",
            "Output": "{% ( $f := function($n){ $n > 2 ? $n : $f($n + 1) }; $f(0) ) %}",
            "End": True,
        }
        answer = host.service.handle("TestState", {"definition": json.dumps(state)})
        assert (answer["status"], json.loads(answer["output"])) == ("SUCCEEDED", 3)
    finally:
        host.stop()
    assert ISOLATION.evaluator is None
    ctx = EvalContext()
    assert compile_jsonata("$map([1, 2], function($v){ $v })").evaluate({}, ctx) == [1, 2]


def test_a_value_too_large_for_any_payload_stays_in_the_worker(pool: JsonataProcessPool) -> None:
    # Fault 6: the 256 KiB limit was checked only after the value reached the server.
    with pytest.raises(StatesError) as raised:
        pool(request("( $s := function(){ $pad('x', 2e6) }; $s() )"))
    assert raised.value.error == "States.DataLimitExceeded"
    assert "returned a value of 2000002 bytes" in raised.value.cause


@pytest.mark.parametrize(
    ("setting", "cpus", "size"), [(3, 8, 3), (-1, 8, 7), (-1, 2, 1), (-1, 1, 1)]
)
def test_the_default_pool_leaves_the_server_a_core(
    monkeypatch: pytest.MonkeyPatch, setting: int, cpus: int, size: int
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    assert pool_size(setting) == size
