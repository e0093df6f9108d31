"""Where a durable step's time goes: round trips to the database and Python CPU.

Starts ``--executions`` executions of the benchmark's 10-state chain (queued, nobody
steps them), then advances them all in this process with one ``Worker`` the way a
pool's thread does (``advance``: lease a batch, step, commit), and reports

* steps per second and transitions per second;
* on PostgreSQL, the round trips per step: every frontend message after which the
  client waits for the server (a ``Query`` or a ``Sync``), counted from libpq's own
  protocol trace of every connection the store opened, with the statements most sent;
* with ``--cprofile``, the functions with the most time of their own;
* with ``--private-cluster``, on a throwaway PostgreSQL server of its own (tests'
  ``pg_cluster``, started with ``pg_stat_statements`` loaded; the shared server is never
  reconfigured): the server's time per statement and the WAL written, per step.

    .venv/bin/python bench/step_profile.py [--db postgresql://postgres@127.0.0.1/test]
        [--executions 400] [--batch 16] [--cprofile] [--private-cluster]
        [--starts] [--private-cluster --bench-workers N]

``--starts`` profiles the client instead: StartExecution's CPU time and round trips.
``--bench-workers N`` (with ``--private-cluster``) runs runtime_bench's batch with N
worker processes and reports every statement the server ran, per execution.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import json
import os
import pstats
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

# bench/ is on the path: run as a script
from runtime_bench import CHAIN, ROLE, TRANSITIONS, measure

from stepwell.integrations.functions import FunctionRegistry
from stepwell.integrations.registry import Integrations
from stepwell.runtime.clock import SystemClock
from stepwell.runtime.worker import Worker
from stepwell.service.service import Service
from stepwell.store import open_store

_MESSAGE = re.compile(r'^F\t\d+\t(Query|Sync|Parse|Bind)\b\s*(?:"([^"]*)")?\s*(?:"([^"]*))?')


def trace_postgres(folder: Path) -> Callable[[], None]:
    """Make every psycopg connection opened from now on write libpq's protocol trace
    into ``folder``; returns a function that stops tracing the ones still open."""
    import psycopg
    from psycopg import pq

    opened: list[Any] = []
    connect = psycopg.Connection.connect.__func__  # type: ignore[attr-defined]

    def traced(cls: type, *args: Any, **kwargs: Any) -> Any:
        conn = connect(cls, *args, **kwargs)
        handle = open(folder / f"{uuid.uuid4().hex}.trace", "w")  # noqa: SIM115
        conn.pgconn.trace(handle.fileno())
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        opened.append((conn, handle))
        return conn

    psycopg.Connection.connect = classmethod(traced)  # type: ignore[method-assign,assignment]
    psycopg.connect = psycopg.Connection.connect  # the module's alias, bound at import

    def stop() -> None:
        for conn, handle in opened:
            if not conn.closed:
                conn.pgconn.untrace()
            handle.close()

    return stop


def count_round_trips(folder: Path) -> tuple[int, collections.Counter[str]]:
    """Frontend messages the client waits on (``Query`` and ``Sync``), and how many of
    them each statement accounts for (by its first line)."""
    waits: collections.Counter[str] = collections.Counter()
    for path in folder.glob("*.trace"):
        prepared: dict[str, str] = {}
        current = ""
        for line in path.read_text(errors="replace").splitlines():
            found = _MESSAGE.match(line)
            if found is None:
                continue
            kind, first, second = found.groups()
            if kind == "Query":
                waits[first or ""] += 1
            elif kind == "Parse":
                current = prepared[first or ""] = second or ""
            elif kind == "Bind":
                current = prepared.get(second or "", current)
            else:
                waits[current] += 1
    return sum(waits.values()), waits


def queue_executions(url: str, count: int) -> float:
    """Start ``count`` executions as runtime_bench's client does. The CPU seconds of
    this thread per StartExecution."""
    store = open_store(url)
    service = Service(store)
    machine = service.handle(
        "CreateStateMachine",
        {"name": f"chain{uuid.uuid4().hex[:8]}", "definition": json.dumps(CHAIN), "roleArn": ROLE},
    )["stateMachineArn"]
    begun = time.thread_time()
    for _ in range(count):
        service.handle("StartExecution", {"stateMachineArn": machine, "input": '{"v": 1}'})
    spent = (time.thread_time() - begun) / max(count, 1)
    store.close()
    return spent


def advance_all(url: str, batch: int, profile: cProfile.Profile | None) -> tuple[int, float]:
    store = open_store(url)
    worker = Worker(store, Integrations(FunctionRegistry()), SystemClock())
    advance = getattr(worker, "advance", None) if batch > 0 else None  # 0: one at a time
    steps = 0
    begun = time.perf_counter()
    if profile is not None:
        profile.enable()
    while True:
        done = advance(batch) if advance is not None else int(worker.advance_one())
        if not done:
            break
        steps += done
    if profile is not None:
        profile.disable()
    elapsed = time.perf_counter() - begun
    store.close()
    return steps, elapsed


def private_server() -> tuple[Any, str]:
    """A throwaway cluster with pg_stat_statements loaded (durable settings: fsync on)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.store.pg_cluster import PrivateCluster, postgres_bin

    found = postgres_bin()
    if found is None:
        raise SystemExit("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    cluster = PrivateCluster(found)
    options = (
        f"-p {cluster.port} -k {cluster.root} -c listen_addresses=127.0.0.1"
        " -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
        " -c pg_stat_statements.track_planning=on"
    )
    log = str(cluster.root / "log")
    cluster._run("pg_ctl", "-D", str(cluster.data), "-o", options, "-l", log, "-w", "start")
    with psycopg_connect(cluster.url) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    return cluster, cluster.url


def psycopg_connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True)


def server_reset(url: str) -> str:
    """Forget the statistics so far; the WAL position now."""
    with psycopg_connect(url) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
        return str(conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0])


def server_report(url: str, since: str, steps: int) -> None:
    """Server time per statement, per step, and the WAL written per step."""
    with psycopg_connect(url) as conn:
        wal = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (since,)).fetchone()[
            0
        ]
        rows = conn.execute(
            "SELECT calls, total_exec_time, wal_bytes, query FROM pg_stat_statements"
            " ORDER BY total_exec_time DESC LIMIT 8"
        ).fetchall()
    total = sum(row[1] for row in rows)
    print(
        f"server: {total * 1000 / steps:,.0f} µs of statement time and {wal / steps:,.0f}"
        " bytes of WAL per step"
    )
    for calls, elapsed, wal_bytes, query in rows:
        text = " ".join(query.split())[:60]
        print(
            f"  {elapsed * 1000 / steps:7,.0f} µs/step {calls:6d} calls {wal_bytes / steps:8,.0f}"
            f" WAL B/step  {text}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=os.environ.get("STEPWELL_TEST_POSTGRES_URL"))
    parser.add_argument("--executions", type=int, default=400)
    parser.add_argument("--batch", type=int, default=16, help="0: advance_one, unbatched")
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--private-cluster", action="store_true")
    parser.add_argument(
        "--starts",
        action="store_true",
        help="profile the client's StartExecution (round trips and CPU per start) instead",
    )
    parser.add_argument(
        "--bench-workers",
        type=int,
        default=0,
        help="with --private-cluster: run runtime_bench's batch with this many worker"
        " processes instead, and report the server's statements per execution",
    )
    args = parser.parse_args()
    cluster = None
    if args.private_cluster:
        cluster, args.db = private_server()
    try:
        if args.starts:
            profile_starts(args)
        elif args.bench_workers:
            profile_bench(args)
        else:
            profile_steps(args)
    finally:
        if cluster is not None:
            cluster.destroy()


def profile_bench(args: argparse.Namespace) -> None:
    """runtime_bench's batch (``--executions`` of them, one client) against the private
    cluster, with ``--bench-workers`` worker processes: every statement the server ran
    (the client's, the workers' and their idle look-ups), per execution."""
    if not args.private_cluster:
        raise SystemExit("--bench-workers needs --private-cluster")
    url = f"{args.db}?schema=bench_{uuid.uuid4().hex[:10]}"
    server_reset(args.db)
    rate, _ = measure(url, args.bench_workers, args.executions, 1)
    print(f"{rate:,.0f} transitions/s with {args.bench_workers} worker process(es)")
    with psycopg_connect(args.db) as conn:
        rows = conn.execute(
            "SELECT calls, total_exec_time, plans, total_plan_time, query"
            " FROM pg_stat_statements ORDER BY calls DESC LIMIT 12"
        ).fetchall()
    print("statements per execution: calls, server time executing; plans, time planning")
    for calls, elapsed, plans, planning, query in rows:
        text = " ".join(query.split())[:60]
        per = args.executions
        print(
            f"  {calls / per:6.2f} calls {elapsed * 1000 / per:6,.0f} µs"
            f" {plans / per:6.2f} plans {planning * 1000 / per:6,.0f} µs  {text}"
        )


def profile_starts(args: argparse.Namespace) -> None:
    """The client side of runtime_bench: ``--executions`` StartExecution calls (nobody
    steps them), their round trips (PostgreSQL) and this thread's CPU time per call."""
    url = args.db or str(Path(tempfile.mkdtemp()) / "profile.db")
    postgres = url.startswith(("postgresql://", "postgres://"))
    if postgres:
        url = f"{url}?schema=profile_{uuid.uuid4().hex[:10]}"
    cpu = queue_executions(url, args.executions)  # untraced: tracing costs CPU too
    print(f"{'postgres' if postgres else 'sqlite'}: {cpu * 1e6:,.0f} µs of CPU per start")
    if postgres:
        folder = Path(tempfile.mkdtemp(prefix="stepwell-trace-"))
        stop = trace_postgres(folder)  # a second run, traced, setup's few included
        queue_executions(url, args.executions)
        stop()
        waits, statements = count_round_trips(folder)
        print(f"round trips: {waits / max(args.executions, 1):.2f} per start (setup included)")
        for text, count in statements.most_common(4):
            print(f"  {count / max(args.executions, 1):6.2f}/start  {text}")


def profile_steps(args: argparse.Namespace) -> None:
    url = args.db or str(Path(tempfile.mkdtemp()) / "profile.db")
    postgres = url.startswith(("postgresql://", "postgres://"))
    if postgres:
        url = f"{url}?schema=profile_{uuid.uuid4().hex[:10]}"
    queue_executions(url, args.executions)
    folder = Path(tempfile.mkdtemp(prefix="stepwell-trace-"))
    stop = trace_postgres(folder) if postgres else None
    profile = cProfile.Profile() if args.cprofile else None
    since = server_reset(args.db) if args.private_cluster else ""
    steps, elapsed = advance_all(url, args.batch, profile)
    print(
        f"{'postgres' if postgres else 'sqlite'}: {steps} steps in {elapsed:.2f}s: "
        f"{steps / elapsed:,.0f} steps/s, {steps * TRANSITIONS / elapsed:,.0f} transitions/s"
    )
    if stop is not None:
        stop()
        waits, statements = count_round_trips(folder)
        print(f"round trips: {waits} in all, {waits / max(steps, 1):.2f} per step")
        for text, count in statements.most_common(12):
            print(f"  {count / max(steps, 1):6.2f}/step  {text}")
    if args.private_cluster:
        server_report(args.db, since, steps)
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
