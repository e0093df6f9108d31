"""Durable runtime benchmark: transitions per second and start-to-finish latency.

For SQLite and PostgreSQL, with 1, 2 and 4 worker processes (``stepwell worker``):
starts a batch of executions of a 10-state machine and times until all have finished
(throughput), then runs executions one at a time (latency). The in-process figure
(``stepwell.run``, no store) is printed beside them.

    .venv/bin/python bench/runtime_bench.py [--postgres postgresql://postgres@127.0.0.1/test]
        [--workers 1,2,4] [--repeat 3] [--clients 1]

With PostgreSQL it prints, per worker count, PostgreSQL's transitions/s as a fraction of
SQLite's, measured side by side (each round runs both stores in turn), so the ratio
holds on a noisy machine where the absolute figures do not.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import stepwell
from stepwell.service.service import Service
from stepwell.store import open_store

CHAIN = {
    "StartAt": "S1",
    "States": {
        **{
            f"S{i}": {"Type": "Pass", "Parameters": {"i": i, "v.$": "$.v"}, "Next": f"S{i + 1}"}
            for i in range(1, 9)
        },
        "S9": {"Type": "Pass", "Parameters": {"v.$": "$.v"}, "ResultPath": "$.r", "Next": "S10"},
        "S10": {"Type": "Succeed"},
    },
}
TRANSITIONS = 10
ROLE = "arn:aws:iam::123456789012:role/bench"


def wait_all(service: Service, arns: list[str], timeout: float = 300) -> None:
    """Until every execution in ``arns`` has ended: one look-up by ARN per look, past
    the ones seen ended (a listing of every running execution, every 2 ms, would load
    the store more than the workers do)."""
    deadline = time.monotonic() + timeout
    for arn in arns:
        while (found := service.store.get_execution(arn)) and found.status == "RUNNING":
            if time.monotonic() > deadline:
                raise TimeoutError("executions still running")
            time.sleep(0.002)


def start_one(service: Service, machine: str) -> str:
    request = {"stateMachineArn": machine, "input": '{"v": 1}'}
    arn: str = service.handle("StartExecution", request)["executionArn"]
    return arn


def measure(
    url: str, workers: int, batch: int, sequential: int, clients: int = 1
) -> tuple[float, float]:
    store = open_store(url)
    service = Service(store)
    machine = service.handle(
        "CreateStateMachine",
        {"name": f"chain{uuid.uuid4().hex[:8]}", "definition": json.dumps(CHAIN), "roleArn": ROLE},
    )["stateMachineArn"]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stepwell",
                "worker",
                "--db",
                url,
                "--workers",
                "1",
                "--invokers",
                "1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        # Workers up: one execution through first (a slow start would count otherwise).
        wait_all(service, [start_one(service, machine)])
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            arns = list(pool.map(lambda _: start_one(service, machine), range(batch)))
        wait_all(service, arns)
        throughput = batch * TRANSITIONS / (time.perf_counter() - start)
        latencies = []
        for _ in range(sequential):
            begun = time.perf_counter()
            wait_all(service, [start_one(service, machine)])
            latencies.append(time.perf_counter() - begun)
        return throughput, statistics.median(latencies) * 1000
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("STEPWELL_TEST_POSTGRES_URL"))
    parser.add_argument("--batch", type=int, default=400)
    parser.add_argument("--sequential", type=int, default=30)
    parser.add_argument("--workers", default="1,2,4", help="worker process counts")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; medians are printed")
    parser.add_argument("--clients", type=int, default=1, help="threads starting the batch")
    args = parser.parse_args()
    machine = stepwell.load_state_machine(CHAIN)
    runs = 2000
    begun = time.perf_counter()
    for _ in range(runs):
        stepwell.run(machine, {"v": 1}, history=False, seed=1)
    in_process = runs * TRANSITIONS / (time.perf_counter() - begun)
    print(f"in-process (no store, no history): {in_process:,.0f} transitions/s")
    stores = {"sqlite": lambda: str(Path(tempfile.mkdtemp()) / "bench.db")}
    if args.postgres:
        stores["postgres"] = lambda: f"{args.postgres}?schema=bench_{uuid.uuid4().hex[:10]}"
    counts = [int(n) for n in args.workers.split(",")]
    results: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for _ in range(args.repeat):
        for workers in counts:  # the stores side by side, so a ratio shares the noise
            for name, make_url in stores.items():
                measured = measure(make_url(), workers, args.batch, args.sequential, args.clients)
                results.setdefault((name, workers), []).append(measured)
    report(results, counts, list(stores), args.repeat)


def report(
    results: dict[tuple[str, int], list[tuple[float, float]]],
    counts: list[int],
    stores: list[str],
    repeat: int,
) -> None:
    """Medians per store and worker count and, with PostgreSQL, its ratio to SQLite (the
    median of the ratios within each round)."""
    median = statistics.median
    print(f"medians of {repeat} round(s)")
    print(f"{'store':10} {'workers':>7} {'transitions/s':>14} {'latency p50':>12}")
    for name in stores:
        for workers in counts:
            runs = results[(name, workers)]
            rate, latency = median(r[0] for r in runs), median(r[1] for r in runs)
            print(f"{name:10} {workers:7d} {rate:14,.0f} {latency:10.1f}ms")
    if "postgres" in stores:
        for workers in counts:
            pairs = zip(results[("postgres", workers)], results[("sqlite", workers)], strict=True)
            ratio = median(pg[0] / lite[0] for pg, lite in pairs)
            print(f"postgres / sqlite transitions/s, {workers} worker(s): {ratio:.2f}")


if __name__ == "__main__":
    main()
