"""Distributed Map benchmark: 10,000 items, MaxConcurrency 100, durable.

For SQLite (and PostgreSQL when a URL is given), with ``stepwell worker`` processes:
starts one execution whose Distributed Map runs each item as a child execution (a Pass
state), times it until the parent has ended, and reports items per second and the peak
resident memory (VmHWM) of each worker process.

    .venv/bin/python bench/distributed_map_bench.py [--items 10000] [--workers 2]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from stepwell.service.service import Service
from stepwell.store import open_store

ROLE = "arn:aws:iam::123456789012:role/bench"


def definition(concurrency: int) -> dict[str, object]:
    return {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "MaxConcurrency": concurrency,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Echo",
                    "States": {"Echo": {"Type": "Pass", "End": True}},
                },
                "ResultSelector": {"count.$": "States.ArrayLength($)"},
                "End": True,
            }
        },
    }


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(url: str, items: int, concurrency: int, workers: int) -> tuple[float, list[float]]:
    store = open_store(url)
    service = Service(store)
    machine = service.handle(
        "CreateStateMachine",
        {
            "name": f"fan{uuid.uuid4().hex[:8]}",
            "definition": json.dumps(definition(concurrency)),
            "roleArn": ROLE,
        },
    )["stateMachineArn"]
    command = [sys.executable, "-m", "stepwell", "worker", "--db", url, "--workers", "2"]
    procs = [
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(workers)
    ]
    try:
        time.sleep(1.5)  # workers up
        begun = time.perf_counter()
        arn = service.handle(
            "StartExecution",
            {"stateMachineArn": machine, "input": json.dumps(list(range(items)))},
        )["executionArn"]
        while (record := store.get_execution(arn)) is not None and record.status == "RUNNING":
            time.sleep(0.05)
        elapsed = time.perf_counter() - begun
        assert record is not None and record.status == "SUCCEEDED", record
        assert json.loads(record.output or "{}") == {"count": items}
        return items / elapsed, [peak_rss_mb(p.pid) for p in procs]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("STEPWELL_TEST_POSTGRES_URL"))
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    stores = [("sqlite", str(Path(tempfile.mkdtemp()) / "bench.db"))]
    if args.postgres:
        stores.append(("postgres", f"{args.postgres}?schema=dmap_{uuid.uuid4().hex[:10]}"))
    print(f"{args.items} items, MaxConcurrency {args.concurrency}, {args.workers} worker processes")
    print(f"{'store':10} {'items/s':>9} {'peak RSS per worker':>22}")
    for name, url in stores:
        rate, rss = measure(url, args.items, args.concurrency, args.workers)
        print(f"{name:10} {rate:9,.0f} {', '.join(f'{r:.0f} MB' for r in rss):>22}")


if __name__ == "__main__":
    main()
