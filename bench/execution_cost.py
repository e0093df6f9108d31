"""The engine's cost per execution of the server benchmark's workloads, in process.

Each execution of ``pass_chain_10``, ``retry_catch`` and ``wait_0`` ends in its first
step, the one StartExecution takes (``Worker.start_now``). Two measures, per workload:

* ``step``: that first step alone, as ``start_now`` computes it ahead of the commit
  (``Worker._step_ahead``: the interpreter's start and run to the end, its events,
  the outcome to store), with no store write;
* ``service``: StartExecution and one DescribeExecution through ``Service.handle`` on
  SQLite, with the step taken inline as the server does (no HTTP).

Prints CPU microseconds per execution (``time.process_time``, the median of rounds) and
per transition. Under callgrind, pass ``--only WORKLOAD --mode step -n N`` twice with two
values of N: the difference of the instruction totals over the difference of N is the
instructions per execution, free of start-up::

    .venv/bin/python bench/execution_cost.py [--mode step|service] [-n 2000] [--rounds 5]
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p \\
        .venv/bin/python bench/execution_cost.py --only wait_0 --mode step -n 400 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stepwell.integrations.registry import Integrations
from stepwell.runtime.clock import SystemClock
from stepwell.runtime.worker import Worker
from stepwell.service.service import Service
from stepwell.store import open_store
from stepwell.store.base import ExecutionRecord, Lease, WorkItem, definition_key

HERE = Path(__file__).resolve().parent
WORKLOADS = ["pass_chain_10", "retry_catch", "wait_0"]
ROLE = "arn:aws:iam::123456789012:role/bench"


def load(name: str) -> tuple[str, dict, int]:
    definition = (HERE / "workloads" / f"{name}.asl.json").read_text()
    meta = json.loads((HERE / "workloads" / f"{name}.meta.json").read_text())
    return definition, meta, meta["state_transitions"]


def created(service: Service, name: str) -> tuple[str, str, str, Any]:
    """The workload's state machine, created: its ARN, definition, input text and the
    output every execution must give."""
    definition, meta, _ = load(name)
    arn = service.handle(
        "CreateStateMachine",
        {"name": f"{name}-{uuid.uuid4().hex[:6]}", "definition": definition, "roleArn": ROLE},
    )["stateMachineArn"]
    return arn, definition, json.dumps(meta["input"]), meta["expected_output"]


def step_runner(service: Service, worker: Worker, name: str) -> Callable[[], None]:
    """One execution's first step, computed as ``start_now`` computes it."""
    arn, definition, text, expected = created(service, name)
    key = definition_key(definition)
    counter = iter(range(10**9))

    def run() -> None:
        execution = f"{arn.replace(':stateMachine:', ':execution:')}:e{next(counter)}"
        record = ExecutionRecord(
            arn=execution,
            state_machine_arn=arn,
            name=execution.rsplit(":", 1)[-1],
            status="RUNNING",
            input=text,
            start_date=time.time(),
            definition_key=key,
        )
        first = WorkItem(execution, "start", b"{}", record.start_date)
        outcome = worker._step_ahead(Lease(record, None, 0, (first,), "bench"))
        assert outcome is not None and outcome.execution.status == "SUCCEEDED"
        assert json.loads(outcome.execution.output or "null") == expected

    return run


def service_runner(service: Service, worker: Worker, name: str) -> Callable[[], None]:
    """StartExecution and one DescribeExecution, with the step taken inline."""
    arn, _, text, expected = created(service, name)

    def run() -> None:
        started = service.handle("StartExecution", {"stateMachineArn": arn, "input": text})
        described = service.handle("DescribeExecution", {"executionArn": started["executionArn"]})
        assert described["status"] == "SUCCEEDED", described
        assert json.loads(described["output"]) == expected

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("step", "service"), default="step")
    parser.add_argument("-n", type=int, default=2000, help="executions per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", help="comma-separated workloads")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else WORKLOADS
    store = open_store(str(Path(tempfile.mkdtemp()) / "cost.db"))
    integrations = Integrations()
    worker = Worker(store, integrations, SystemClock())
    service = Service(store, integrations=integrations, run_now=worker)
    make = step_runner if args.mode == "step" else service_runner
    runners = {name: make(service, worker, name) for name in names}
    for run in runners.values():
        for _ in range(20):  # warm: compiled machine, caches
            run()
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.rounds):  # the workloads interleaved, so they share the noise
        for name, run in runners.items():
            begun = time.process_time()
            for _ in range(args.n):
                run()
            times[name].append((time.process_time() - begun) / args.n * 1e6)
    base = None
    print(f"mode {args.mode}: CPU µs, median of {args.rounds} rounds of {args.n}")
    print(f"{'workload':15} {'µs/execution':>13} {'µs/transition':>14} {'ratio to pass':>16}")
    for name in names:
        per_execution = statistics.median(times[name])
        per_transition = per_execution / load(name)[2]
        if name == "pass_chain_10":
            base = per_transition
        ratio = f"{per_transition / base:16.2f}" if base else f"{'-':>16}"
        print(f"{name:15} {per_execution:13.1f} {per_transition:14.1f} {ratio}")
    store.close()


if __name__ == "__main__":
    main()
