"""Soak: executions keep running while the database and the clients misbehave (issue 9).

``make soak`` (not part of ``make test``) runs, for ``--seconds`` (default 180):

* server A, SQLite: executions started continuously (Pass, Wait 1 s, Pass);
* server B, PostgreSQL on a private throwaway cluster (never the shared one): the same,
  while the cluster is stopped and started again ``--pg-restarts`` times;
* server C, SQLite, a throwaway: its database file is deleted, then (after a restart of
  C on a fresh file) corrupted; it must answer 503 ServiceUnavailable, never 500;
* hostile requests against A: input nested 100,000 deep, numbers of 5,000 digits, a
  YAML alias bomb, a JSONata bomb in TestState, stalled request bodies;
* an innocent client calling DescribeStateMachine on A, timing every answer.

At the end every acknowledged execution on A and B must finish. It prints (and with
``--json`` writes) executions acknowledged, lost (must be 0), stuck (0), 500 answers
(0), 503 answers during the planned outages, peak RSS of each server, and the
innocent client's worst and 99th-percentile latency. Exit status 1 if anything lost,
stuck, or a 500 was seen. Servers run under an address-space limit
(``--server-memory-mb``) so a hostile request that would eat the machine kills only its
server, which the report then shows.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.store.pg_cluster import PrivateCluster, postgres_bin

ROLE = "arn:aws:iam::123456789012:role/soak"
WAIT_A_SECOND = {
    "StartAt": "Before",
    "States": {
        "Before": {"Type": "Pass", "Next": "Wait"},
        "Wait": {"Type": "Wait", "Seconds": 1, "Next": "After"},
        "After": {"Type": "Pass", "End": True},
    },
}
YAML_BOMB = "\n".join(
    ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    + [f"a{n}: &a{n} [{','.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 9)]
    + ["StartAt: P", "States: {P: {Type: Pass, End: true}}"]
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """``stepwell serve`` in a process of its own."""

    name: str
    db: str
    memory_mb: int
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    peak_rss_kb: int = 0
    crashes: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        limit = self.memory_mb * 1024 * 1024

        def limited() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        command = [sys.executable, "-m", "stepwell", "serve", "--db", self.db]
        command += ["--port", str(self.port), "--workers", "2", "--log-level", "warning"]
        # The limit is on address space: glibc's per-thread malloc arenas (64 MiB each,
        # reserved, not used) would take most of it; two arenas leave it for real use.
        environment = {**os.environ, "MALLOC_ARENA_MAX": "2"}
        self.process = subprocess.Popen(
            command,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=open(Path(tempfile.gettempdir()) / f"soak-{self.name}.log", "ab"),  # noqa: SIM115
            preexec_fn=limited,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"server {self.name} did not start")

    def sample_rss(self) -> None:
        """VmHWM: the process's peak resident set size so far."""
        if self.process is None:
            return
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                self.peak_rss_kb = max(self.peak_rss_kb, int(line.split()[1]))

    def alive(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            self.crashes += 1
            return False
        return True

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.sample_rss()
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.samples: list[str] = []

    def add(self, key: str, sample: str = "") -> None:
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            if sample and len(self.samples) < 20:
                self.samples.append(f"{key}: {sample[:300]}")


def call(url: str, operation: str, members: dict[str, Any], timeout: float = 30) -> httpx.Response:
    return httpx.post(
        url + "/",
        content=json.dumps(members),
        headers={
            "content-type": "application/x-amz-json-1.0",
            "x-amz-target": "AWSStepFunctions." + operation,
        },
        timeout=timeout,
    )


def create_machine(url: str, name: str = "soak") -> str:
    answer = call(
        url,
        "CreateStateMachine",
        {"name": name, "definition": json.dumps(WAIT_A_SECOND), "roleArn": ROLE},
    )
    answer.raise_for_status()
    arn: str = answer.json()["stateMachineArn"]
    return arn


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stop = threading.Event()
        self.outage = threading.Event()  # a planned outage of B (PostgreSQL) is on
        self.tally = Tally()
        self.acknowledged: dict[str, list[str]] = {"A": [], "B": []}
        self.latencies: list[float] = []
        self.work = Path(tempfile.mkdtemp(prefix="stepwell-soak-"))
        self.servers: dict[str, Server] = {}
        self.cluster: PrivateCluster | None = None

    # ----------------------------------------------------------------- drivers

    def starter(self, key: str, machine: str) -> None:
        server = self.servers[key]
        while not self.stop.is_set():
            try:
                answer = call(server.url, "StartExecution", {"stateMachineArn": machine})
            except httpx.HTTPError as error:
                self.tally.add(f"{key} connection errors", str(error))
                time.sleep(0.2)
                continue
            if answer.status_code == 200:
                self.acknowledged[key].append(answer.json()["executionArn"])
            elif answer.status_code == 503 and key == "B" and self.outage.is_set():
                self.tally.add("B 503 during PostgreSQL outages")
                time.sleep(0.2)
            else:
                self.tally.add(f"{key} {answer.status_code} answers", answer.text)
            time.sleep(self.args.start_interval)

    def innocent(self, machine: str) -> None:
        url = self.servers["A"].url
        while not self.stop.is_set():
            began = time.perf_counter()
            try:
                answer = call(url, "DescribeStateMachine", {"stateMachineArn": machine})
                status = answer.status_code
            except httpx.HTTPError as error:
                status = 0
                self.tally.add("innocent connection errors", str(error))
            self.latencies.append(time.perf_counter() - began)
            if status != 200:
                self.tally.add(f"innocent {status} answers")
            time.sleep(0.05)

    def hostile(self) -> None:
        url = self.servers["A"].url
        deep = "[" * 100_000 + "]" * 100_000
        attacks: list[tuple[str, Callable[[], httpx.Response | None]]] = [
            ("deep input", lambda: call(url, "StartExecution", self._start(deep))),
            ("big number", lambda: call(url, "StartExecution", self._start("1" * 5000))),
            (
                "deep definition",
                lambda: call(url, "CreateStateMachine", self._create('{"a":' * 50_000)),
            ),
            ("yaml alias bomb", lambda: call(url, "CreateStateMachine", self._create(YAML_BOMB))),
            ("jsonata bomb", lambda: call(url, "TestState", self._jsonata_bomb())),
            ("stalled body", lambda: self._stalled_body()),
        ]
        while not self.stop.is_set():
            name, attack = random.choice(attacks)
            try:
                answer = attack()
            except httpx.HTTPError as error:
                self.tally.add(f"hostile {name}: connection error", str(error))
                answer = None
            if answer is not None:
                self.tally.add(f"hostile {name}: {answer.status_code}", answer.text[:200])
            if not self.servers["A"].alive():
                self.tally.add("A crashed", name)
                self.servers["A"].start()
            time.sleep(self.args.hostile_interval)

    def _start(self, text: str) -> dict[str, Any]:
        return {"stateMachineArn": self.machine_a, "input": text}

    def _create(self, definition: str) -> dict[str, Any]:
        name = f"hostile-{random.randrange(10**9)}"
        return {"name": name, "definition": definition, "roleArn": ROLE}

    def _jsonata_bomb(self) -> dict[str, Any]:
        state = {
            "Type": "Pass",
            "QueryLanguage": "JSONata",
            "Output": "{% $count([1..10000000].($string($)&$string($))) %}",
            "End": True,
        }
        return {"definition": json.dumps(state), "roleArn": ROLE, "input": "{}"}

    def _stalled_body(self) -> None:
        """Claim a 7 MiB body, send a little, stall, and go away."""
        with socket.create_connection(("127.0.0.1", self.servers["A"].port), timeout=10) as sock:
            sock.sendall(
                b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-amz-json-1.0"
                b"\r\nX-Amz-Target: AWSStepFunctions.ListStateMachines\r\n"
                b"Content-Length: 7340032\r\n\r\n" + b"{" * 1024
            )
            self.stop.wait(2.0)
        self.tally.add("hostile stalled body: sent")

    # ----------------------------------------------------------------- chaos

    def chaos(self) -> None:
        assert self.cluster is not None
        plan = max(1, self.args.pg_restarts)
        pause = self.args.seconds / (plan + 1)
        for c_phase in range(plan):
            if self.stop.wait(pause):
                return
            self.outage.set()
            self.cluster.stop("fast" if random.random() < 0.5 else "immediate")
            self.tally.add("PostgreSQL restarts")
            self.stop.wait(self.args.outage_seconds)
            self.cluster.start()
            time.sleep(self.args.outage_seconds)  # 503s may still come while reconnecting
            self.outage.clear()
            self.damage_c(c_phase)

    def damage_c(self, phase: int) -> None:
        """Delete or corrupt server C's file; it must answer 503 with the reason."""
        server = self.servers["C"]
        path = Path(server.db)
        if phase % 2 == 0:
            path.unlink(missing_ok=True)
            what = "deleted"
        else:
            # Checkpoint (as any other process may) so the pages live in the main file,
            # overwrite every page after the first, then write from another connection:
            # C drops its page cache and reads the damaged pages.
            _sqlite(path, "PRAGMA wal_checkpoint(TRUNCATE)")
            size = path.stat().st_size
            with path.open("r+b") as file:
                file.seek(4096)
                file.write(os.urandom(max(0, size - 4096)))
            _sqlite(path, "PRAGMA user_version=9")
            what = "corrupted"
        for _ in range(10):
            try:
                answer = call(server.url, "ListStateMachines", {})
                self.tally.add(f"C {what}: {answer.status_code}", answer.text[:200])
                if answer.status_code == 503:
                    break
            except httpx.HTTPError as error:
                self.tally.add(f"C {what}: connection error", str(error))
            time.sleep(0.3)
        health = httpx.get(server.url + "/health", timeout=30)
        self.tally.add(f"C {what}: health {health.status_code}", health.text[:300])
        server.stop()
        for suffix in ("", "-wal", "-shm"):
            Path(server.db + suffix).unlink(missing_ok=True)
        server.start()  # a fresh file for the next round
        create_machine(server.url)
        for _ in range(20):
            call(server.url, "StartExecution", {"stateMachineArn": self.machine_c})

    # ----------------------------------------------------------------- run

    def run(self) -> dict[str, Any]:
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise SystemExit("soak: PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.cluster = PrivateCluster(bin_dir)
        self.cluster.start()
        mb = self.args.server_memory_mb
        self.servers = {
            "A": Server("A", str(self.work / "a.db"), mb),
            "B": Server("B", self.cluster.url, mb),
            "C": Server("C", str(self.work / "c.db"), mb),
        }
        try:
            for server in self.servers.values():
                server.start()
            self.machine_a = create_machine(self.servers["A"].url)
            machine_b = create_machine(self.servers["B"].url)
            self.machine_c = create_machine(self.servers["C"].url)
            threads = [
                threading.Thread(target=self.starter, args=("A", self.machine_a)),
                threading.Thread(target=self.starter, args=("B", machine_b)),
                threading.Thread(target=self.innocent, args=(self.machine_a,)),
                threading.Thread(target=self.chaos),
            ]
            if not self.args.no_hostile:
                threads.append(threading.Thread(target=self.hostile))
            for thread in threads:
                thread.daemon = True
                thread.start()
            deadline = time.monotonic() + self.args.seconds
            while time.monotonic() < deadline:
                for server in self.servers.values():
                    server.sample_rss()
                time.sleep(0.5)
            self.stop.set()
            for thread in threads:
                thread.join(60)
            return self.verdict()
        finally:
            for server in self.servers.values():
                server.stop()
            self.cluster.destroy()

    def verdict(self) -> dict[str, Any]:
        lost: dict[str, list[str]] = {"A": [], "B": []}
        stuck: dict[str, list[str]] = {"A": [], "B": []}
        for key, arns in self.acknowledged.items():
            url = self.servers[key].url
            pending = list(arns)
            deadline = time.monotonic() + self.args.settle_seconds
            while pending and time.monotonic() < deadline:
                still = []
                for arn in pending:
                    answer = call(url, "DescribeExecution", {"executionArn": arn})
                    if answer.status_code == 400 and "ExecutionDoesNotExist" in answer.text:
                        lost[key].append(arn)
                    elif answer.status_code != 200 or answer.json()["status"] == "RUNNING":
                        still.append(arn)
                pending = still
                if pending:
                    time.sleep(1)
            stuck[key] = pending
        latencies = sorted(self.latencies) or [0.0]
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        for server in self.servers.values():
            server.sample_rss()
        return {
            "seconds": self.args.seconds,
            "acknowledged": {k: len(v) for k, v in self.acknowledged.items()},
            "lost": {k: len(v) for k, v in lost.items()},
            "stuck": {k: len(v) for k, v in stuck.items()},
            "answers_5xx_unplanned": sum(
                n for k, n in self.tally.counts.items() if _unplanned_5xx(k)
            ),
            "answers_503_planned": sum(n for k, n in self.tally.counts.items() if _planned_503(k)),
            "peak_rss_mb": {k: round(s.peak_rss_kb / 1024, 1) for k, s in self.servers.items()},
            "server_crashes": {k: s.crashes for k, s in self.servers.items()},
            "innocent_describe_calls": len(self.latencies),
            "innocent_worst_ms": round(latencies[-1] * 1000, 1),
            "innocent_p99_ms": round(p99 * 1000, 1),
            "innocent_median_ms": round(statistics.median(latencies) * 1000, 2),
            "counts": dict(sorted(self.tally.counts.items())),
            "samples": self.tally.samples,
        }


def _sqlite(path: Path, statement: str) -> None:
    """Run one statement on ``path`` from another process, whatever it answers."""
    script = f"import sqlite3; sqlite3.connect({str(path)!r}).execute({statement!r})"
    subprocess.run([sys.executable, "-c", script], check=False, capture_output=True)


def _unplanned_5xx(key: str) -> bool:
    """A 5xx from A, the innocent client, a hostile request, B outside its outages, or a
    5xx other than 503 from C."""
    code = re.search(r"\b(5\d\d)\b", key)
    return code is not None and not _planned_503(key)


def _planned_503(key: str) -> bool:
    return "during PostgreSQL outages" in key or (key.startswith("C ") and key.endswith(" 503"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="how long (default 180)")
    parser.add_argument("--pg-restarts", type=int, default=3)
    parser.add_argument("--outage-seconds", type=float, default=3.0)
    parser.add_argument("--start-interval", type=float, default=0.05)
    parser.add_argument("--hostile-interval", type=float, default=0.5)
    parser.add_argument("--settle-seconds", type=float, default=120.0)
    parser.add_argument("--server-memory-mb", type=int, default=2048)
    parser.add_argument("--no-hostile", action="store_true", help="skip hostile requests")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    report = Soak(args).run()
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    bad = sum(report["lost"].values()) + sum(report["stuck"].values())
    bad += report["answers_5xx_unplanned"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
