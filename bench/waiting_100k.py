"""100,000 executions waiting in a Wait state: memory, disk, and completion.

Starts N executions of a Wait (one hour) → Pass machine on a SQLite file through the
service, lets a worker bring every one to its Wait, reports the process's peak memory
and the database size, then advances the virtual clock an hour and checks that all N
complete. Waiting executions live in the database, not in memory.

    .venv/bin/python bench/waiting_100k.py [-n 100000] [--db /tmp/waiting.db]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from collections import Counter

from stepwell.integrations.registry import Integrations
from stepwell.runtime.clock import VirtualClock
from stepwell.runtime.worker import Worker
from stepwell.service.service import Service
from stepwell.store.sqlite import open_sqlite

MACHINE = {
    "StartAt": "Hold",
    "States": {
        "Hold": {"Type": "Wait", "Seconds": 3600, "Next": "Done"},
        "Done": {"Type": "Pass", "Result": "done", "End": True},
    },
}


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000)
    parser.add_argument("--db", default="/tmp/stepwell-waiting.db")
    args = parser.parse_args()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(args.db + suffix):
            os.remove(args.db + suffix)
    clock = VirtualClock(1_700_000_000.0)
    store = open_sqlite(args.db)
    service = Service(store, clock)
    worker = Worker(store, Integrations(), clock)
    arn = service.handle(
        "CreateStateMachine",
        {
            "name": "hold",
            "definition": json.dumps(MACHINE),
            "roleArn": "arn:aws:iam::123456789012:role/r",
        },
    )["stateMachineArn"]
    baseline = peak_mib()
    started = time.perf_counter()
    arns = [
        service.handle("StartExecution", {"stateMachineArn": arn, "name": f"e{i}"})["executionArn"]
        for i in range(args.n)
    ]
    worker.run_until_idle()
    waited = time.perf_counter() - started
    waiting = Counter(r.status for r in store.list_executions(arn, None))
    size = sum(os.path.getsize(args.db + s) for s in ("", "-wal") if os.path.exists(args.db + s))
    print(f"{args.n} executions started and waiting in {waited:.1f} s: {dict(waiting)}")
    print(
        f"peak RSS {peak_mib():.0f} MiB (baseline {baseline:.0f} MiB); "
        f"database {size / 2**20:.0f} MiB = {size / args.n / 1024:.1f} KiB per execution"
    )
    clock.advance(3600)
    started = time.perf_counter()
    worker.run_until_idle()
    done = Counter(r.status for r in store.list_executions(arn, None))
    print(
        f"after advancing the clock one hour: {dict(done)} in {time.perf_counter() - started:.1f} s"
    )
    assert done == Counter({"SUCCEEDED": args.n}), done
    assert len(arns) == args.n


if __name__ == "__main__":
    main()
