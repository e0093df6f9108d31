"""In-process engine benchmark: microseconds per state transition.

Runs each workload through ``stepwell.run`` (definition compiled once, reused), with and
without history, and times a hand-written Python function doing the same data
movement, so the figures read as "how many times slower than plain Python".

    make bench            # or: .venv/bin/python bench/engine_bench.py [--seconds 1.0]

Figures are medians of several timed rounds; compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import stepwell
from stepwell.language.compiler import load_state_machine


def pass_chain(count: int) -> dict[str, Any]:
    states = {
        f"S{i}": {"Type": "Pass", **({"Next": f"S{i + 1}"} if i < count else {"End": True})}
        for i in range(1, count + 1)
    }
    return {"StartAt": "S1", "States": states}


def parameters_chain(count: int) -> dict[str, Any]:
    states = {
        f"S{i}": {
            "Type": "Pass",
            "Parameters": {"id.$": "$.order.id", "qty.$": "$.order.qty", "step": i},
            "ResultPath": f"$.s{i}",
            **({"Next": f"S{i + 1}"} if i < count else {"End": True}),
        }
        for i in range(1, count + 1)
    }
    return {"StartAt": "S1", "States": states}


CHOICE_LOOP = {
    "StartAt": "Init",
    "States": {
        "Init": {"Type": "Pass", "Parameters": {"i": 0, "n.$": "$.n"}, "Next": "Incr"},
        "Incr": {
            "Type": "Pass",
            "Parameters": {"i.$": "States.MathAdd($.i, 1)", "n.$": "$.n"},
            "Next": "Check",
        },
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.i", "NumericLessThanPath": "$.n", "Next": "Incr"}],
            "Default": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}

MAP_100 = {
    "StartAt": "Fan",
    "States": {
        "Fan": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {
                "StartAt": "P1",
                "States": {
                    "P1": {"Type": "Pass", "Parameters": {"x.$": "$"}, "Next": "P2"},
                    "P2": {
                        "Type": "Pass",
                        "Parameters": {"x.$": "$.x", "y.$": "States.MathAdd($.x, 1)"},
                        "Next": "P3",
                    },
                    "P3": {
                        "Type": "Pass",
                        "Parameters": {"sum.$": "States.MathAdd($.x, $.y)"},
                        "End": True,
                    },
                },
            },
            "ResultPath": "$.results",
            "End": True,
        }
    },
}


# Hand-written Python doing the same data movement as each workload.


def plain_pass_chain(data: Any) -> Any:
    for _ in range(10):
        data = data
    return data


def plain_parameters_chain(data: dict[str, Any]) -> Any:
    for i in range(1, 11):
        data = {
            **data,
            f"s{i}": {"id": data["order"]["id"], "qty": data["order"]["qty"], "step": i},
        }
    return data


def plain_choice_loop(data: dict[str, Any]) -> Any:
    state = {"i": 0, "n": data["n"]}
    while True:
        state = {"i": state["i"] + 1, "n": state["n"]}
        if not state["i"] < state["n"]:
            return state


def plain_map(data: dict[str, Any]) -> Any:
    results = []
    for item in data["items"]:
        p1 = {"x": item}
        p2 = {"x": p1["x"], "y": p1["x"] + 1}
        results.append({"sum": p2["x"] + p2["y"]})
    return {**data, "results": results}


ORDER = {"order": {"id": "o-1", "qty": 3}}
WORKLOADS: list[tuple[str, Any, Any, Callable[[Any], Any]]] = [
    ("pass_chain_10 (plain Pass)", pass_chain(10), {"a": 1}, plain_pass_chain),
    (
        "params_chain_10 (Parameters+ResultPath)",
        parameters_chain(10),
        ORDER,
        plain_parameters_chain,
    ),
    ("choice_loop_100 (MathAdd + Choice)", CHOICE_LOOP, {"n": 100}, plain_choice_loop),
    ("map_100 (3 Pass per item)", MAP_100, {"items": list(range(100))}, plain_map),
]


def best_rate(fn: Callable[[], Any], seconds: float) -> float:
    """Median seconds per call over five rounds of about ``seconds / 5`` each."""
    fn()
    calls = 1
    while True:
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - started
        if elapsed > seconds / 10:
            break
        calls *= 2
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        rounds.append((time.perf_counter() - started) / calls)
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args()
    header = (
        f"{'workload':42} {'trans':>5} {'no history':>11} {'history':>9} {'python':>8} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for name, definition, given, plain in WORKLOADS:
        machine = load_state_machine(definition)
        sample = stepwell.run(machine, given, seed=1)
        assert sample.succeeded, sample.cause
        assert sample.output == plain(given) or name.startswith("choice"), name
        transitions = sum(1 for e in sample.history if e["type"].endswith("StateEntered"))
        bare = best_rate(
            lambda m=machine, g=given: stepwell.run(m, g, history=False, seed=1), args.seconds
        )
        full = best_rate(lambda m=machine, g=given: stepwell.run(m, g, seed=1), args.seconds)
        python = best_rate(lambda p=plain, g=given: p(g), args.seconds)
        per = 1e6 / transitions
        print(
            f"{name:42} {transitions:5d} {bare * per:9.2f}us {full * per:7.2f}us "
            f"{python * per:6.3f}us {bare / python:5.0f}x"
        )
    print("\nus per state transition (execution start/end overhead included); ratio = no")
    print("history / hand-written Python doing the same data movement.")
    print("\nmarginal cost of one Pass transition (200-state chain minus 10-state chain):")
    for history in (False, True):
        cost = {}
        for length in (10, 200):
            machine = load_state_machine(pass_chain(length))
            cost[length] = best_rate(
                lambda m=machine, h=history: stepwell.run(m, {"a": 1}, history=h, seed=1),
                args.seconds,
            )
        marginal = (cost[200] - cost[10]) / 190 * 1e6
        fixed = cost[10] * 1e6 - 10 * marginal
        label = "with history" if history else "no history  "
        print(f"  {label} {marginal:5.2f} us per transition; {fixed:5.1f} us per execution")


if __name__ == "__main__":
    main()
