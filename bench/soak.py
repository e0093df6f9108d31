"""Soak: executions keep running while the database and the clients misbehave (issue 9).

``make soak`` (not part of ``make test``) runs, for ``--seconds`` (default 180):

* server A, SQLite: executions started continuously (Pass, Wait 1 s, Pass);
* server B, PostgreSQL on a private throwaway cluster (never the shared one): the same,
  while the cluster is stopped and started again ``--pg-restarts`` times;
* server C, SQLite, a throwaway: its database file is deleted, then (after a restart of
  C on a fresh file) corrupted; it must answer 503 ServiceUnavailable, never 500;
* hostile requests against A from ``--hostile-clients`` attackers: input nested 100,000
  deep, numbers of 5,000 digits, a YAML alias bomb, a definition nested 50,000 deep, a
  JSONata bomb in TestState, stalled request bodies;
* an innocent client calling DescribeStateMachine on A every 50 ms, timing every answer.

Before all that, the innocent client runs alone for ``--baseline-seconds`` (default 20):
its latency then is the quiet baseline of this machine at this moment, and the report
gives the soak's 99th percentile both in milliseconds and as a ratio to it. The machine
may be shared and busy: the ratio is the number to compare across runs.

Measuring honestly: the innocent client runs in a process of its own (the soak's other
threads never hold its interpreter lock) with one kept-alive connection, as an SDK
has; every driver keeps its ``httpx`` client, since building one per call costs a TLS
context, 30 to 50 ms of CPU (an earlier version of this soak did, and counted that in
the innocent latency: a p99 of 218 ms in one run, 1,459 ms in a busier one). The
report gives the CPU seconds of each server (with its JSONata workers), of the innocent
client and of the driver, so that a run whose drivers took the cores shows it.

At the end every acknowledged execution on A and B must finish. It prints (and with
``--json`` writes) executions acknowledged, lost (must be 0), stuck (0), 500 answers
(0), 503 answers during the planned outages, peak RSS of each server, the innocent
client's median, 99th percentile and worst latency in each phase, and how many of its
slow calls (over ``--slow-ms``) overlapped each kind of attack or fault. Exit status 1
if anything is lost or stuck, or a 500 was seen. Servers run under an address-space
limit (``--server-memory-mb``) so a hostile request that would eat the machine kills
only its server, which the report then shows.

``--trace`` runs server A under ``bench/soak_trace.py``, which times each call's stages
inside the server (reading the body, waiting for a worker thread, the service) and
records when the event loop, the interpreter lock or the store's lock kept something
waiting; the report then says, for the slow innocent calls, how much of their time was
spent inside the server and what else it was serving.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
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
import urllib.parse
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
    trace: Path | None = None  # run it under bench/soak_trace.py, writing its probes here
    peak_rss_kb: int = 0
    crashes: int = 0
    cpu_seconds: float = 0.0  # of earlier processes of this server (restarts)
    cpu_now: float = 0.0  # of the current process and its children (JSONata workers)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        limit = self.memory_mb * 1024 * 1024

        def limited() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        command = [sys.executable, "-m", "stepwell"]
        if self.trace is not None:
            command = [
                sys.executable,
                str(Path(__file__).parent / "soak_trace.py"),
                str(self.trace),
            ]
        command += ["serve", "--db", self.db]
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
        self.cpu_seconds += self.cpu_now
        self.cpu_now = 0.0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if client().get(self.url + "/health", timeout=2).status_code in (200, 503):
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

    def sample_cpu(self) -> None:
        if self.process is not None:
            self.cpu_now = max(self.cpu_now, cpu_seconds(self.process.pid))

    def alive(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            self.crashes += 1
            return False
        return True

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.sample_rss()
            self.sample_cpu()
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


_CLIENTS = threading.local()


def client() -> httpx.Client:
    """This thread's HTTP client, kept for the whole soak as an SDK keeps its own:
    a new ``httpx`` client per call would build a TLS context each time (30 to 50 ms of
    CPU), and the soak's drivers would then take the cores the servers need."""
    if not hasattr(_CLIENTS, "client"):
        _CLIENTS.client = httpx.Client()
    found: httpx.Client = _CLIENTS.client
    return found


def call(url: str, operation: str, members: dict[str, Any], timeout: float = 30) -> httpx.Response:
    return client().post(
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
        self.work = Path(tempfile.mkdtemp(prefix="stepwell-soak-"))
        self.innocent_log = self.work / "innocent.log"
        self.spans: list[tuple[str, float, float]] = []  # (what, wall start, wall end)
        self.phases: dict[str, tuple[float, float]] = {}  # quiet / soak: wall start, end
        self.servers: dict[str, Server] = {}
        self.cluster: PrivateCluster | None = None
        self.innocent: subprocess.Popen[bytes] | None = None
        self.innocent_cpu = 0.0
        self.restarting = threading.Lock()  # one hostile client restarts a crashed A

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

    def start_innocent(self, machine: str) -> subprocess.Popen[bytes]:
        """The innocent client, in a process of its own (see ``innocent_client``)."""
        command = [sys.executable, __file__, "innocent", self.servers["A"].url, machine]
        command += [str(self.innocent_log), str(self.args.innocent_interval)]
        return subprocess.Popen(command, stdin=subprocess.PIPE)

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
            began = time.time()
            try:
                answer = attack()
            except httpx.HTTPError as error:
                self.tally.add(f"hostile {name}: connection error", str(error))
                answer = None
            self.spans.append((name, began, time.time()))
            if answer is not None:
                self.tally.add(f"hostile {name}: {answer.status_code}", answer.text[:200])
            with self.restarting:
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
            began = time.time()
            self.cluster.stop("fast" if random.random() < 0.5 else "immediate")
            self.tally.add("PostgreSQL restarts")
            self.stop.wait(self.args.outage_seconds)
            self.cluster.start()
            time.sleep(self.args.outage_seconds)  # 503s may still come while reconnecting
            self.outage.clear()
            self.spans.append(("PostgreSQL restart (B)", began, time.time()))
            began = time.time()
            self.damage_c(c_phase)
            self.spans.append(("SQLite file damaged, C restarted", began, time.time()))

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
        health = client().get(server.url + "/health", timeout=30)
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
        trace: Path | None = self.work / "a.trace" if self.args.trace else None
        self.servers = {
            "A": Server("A", str(self.work / "a.db"), mb, trace=trace),
            "B": Server("B", self.cluster.url, mb),
            "C": Server("C", str(self.work / "c.db"), mb),
        }
        try:
            for server in self.servers.values():
                server.start()
            self.machine_a = create_machine(self.servers["A"].url)
            machine_b = create_machine(self.servers["B"].url)
            self.machine_c = create_machine(self.servers["C"].url)
            self.innocent = self.start_innocent(self.machine_a)
            self.phase("quiet", self.args.baseline_seconds)
            threads = [
                threading.Thread(target=self.starter, args=("A", self.machine_a)),
                threading.Thread(target=self.starter, args=("B", machine_b)),
                threading.Thread(target=self.chaos),
            ]
            if not self.args.no_hostile:
                for _ in range(self.args.hostile_clients):
                    threads.append(threading.Thread(target=self.hostile))
            for thread in threads:
                thread.daemon = True
                thread.start()
            self.phase("soak", self.args.seconds)
            self.stop.set()
            for thread in threads:
                thread.join(60)
            report = self.verdict()
            if self.args.trace:
                self.servers["A"].stop()  # it writes its probes' records as it exits
                samples = read_innocent_log(self.innocent_log)
                trace = self.work / "a.trace"
                report.update(trace_report(trace, samples, self.phases, self.args.slow_ms))
            return report
        finally:
            if self.innocent is not None:
                _end(self.innocent)
            for server in self.servers.values():
                server.stop()
            self.cluster.destroy()

    def phase(self, name: str, seconds: float) -> None:
        """Let ``seconds`` pass, sampling RSS, and note when phase ``name`` ran."""
        began = time.time()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for server in self.servers.values():
                server.sample_rss()
                server.sample_cpu()
            if self.innocent is not None:
                self.innocent_cpu = cpu_seconds(self.innocent.pid)
            time.sleep(0.5)
        self.phases[name] = (began, time.time())

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
        samples = read_innocent_log(self.innocent_log)
        for _, _, status in samples:
            if status != 200:
                self.tally.add(f"innocent {status or 'connection error'} answers")
        quiet = latency_summary(samples, *self.phases["quiet"])
        soak = latency_summary(samples, *self.phases["soak"])
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
            "cpu_seconds": {
                **{k: round(s.cpu_seconds + s.cpu_now, 1) for k, s in self.servers.items()},
                "innocent client": round(self.innocent_cpu, 1),
                "soak driver": round(time.process_time(), 1),
            },
            "innocent_quiet": quiet,
            "innocent_soak": soak,
            "innocent_p99_ratio_to_quiet": round(soak["p99_ms"] / max(quiet["p99_ms"], 0.01), 2),
            "innocent_slow_calls_during": slow_calls_during(
                samples, self.spans, *self.phases["soak"], self.args.slow_ms / 1000
            ),
            "counts": dict(sorted(self.tally.counts.items())),
            "samples": self.tally.samples,
        }


# ----------------------------------------------------------------- the innocent client


def innocent_client(url: str, machine: str, log: Path, interval: float) -> None:
    """Call DescribeStateMachine every ``interval`` seconds until killed, appending
    ``wall-clock start, seconds taken, HTTP status (0: no answer)`` per call to ``log``.

    It runs in a process of its own, so that the soak's other threads (starters,
    attackers) never hold its interpreter lock while a call is timed, and it uses one
    kept-alive connection with the standard library's client, as an SDK would: creating
    an ``httpx`` client per call (as this soak once did) builds a TLS context each time,
    30 to 50 ms of the client's own CPU that was counted as the server's latency.
    """
    address = urllib.parse.urlsplit(url)
    body = json.dumps({"stateMachineArn": machine}).encode()
    headers = {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": "AWSStepFunctions.DescribeStateMachine",
    }
    connection: http.client.HTTPConnection | None = None
    with log.open("a", buffering=1) as out:
        while True:
            wall = time.time()
            began = time.perf_counter()
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(
                        address.hostname or "127.0.0.1", address.port, timeout=30
                    )
                connection.request("POST", "/", body, headers)
                answer = connection.getresponse()
                answer.read()
                status = answer.status
            except (OSError, http.client.HTTPException):
                status = 0
                if connection is not None:
                    connection.close()
                connection = None
            out.write(f"{wall:.6f} {time.perf_counter() - began:.6f} {status}\n")
            time.sleep(interval)


Sample = tuple[float, float, int]  # wall-clock start, seconds, status


def read_innocent_log(path: Path) -> list[Sample]:
    samples = []
    for line in path.read_text().splitlines():
        wall, seconds, status = line.split()
        samples.append((float(wall), float(seconds), int(status)))
    return samples


def latency_summary(samples: list[Sample], start: float, end: float) -> dict[str, Any]:
    """Calls, median, 99th percentile and worst (ms) of the calls begun in [start, end)."""
    latencies = sorted(s for wall, s, _ in samples if start <= wall < end) or [0.0]
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return {
        "calls": len(latencies),
        "median_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(p99 * 1000, 1),
        "worst_ms": round(latencies[-1] * 1000, 1),
    }


def slow_calls_during(
    samples: list[Sample],
    spans: list[tuple[str, float, float]],
    start: float,
    end: float,
    threshold: float,
) -> dict[str, int]:
    """How many innocent calls slower than ``threshold`` overlapped each kind of attack or
    fault (a call may overlap several; ``nothing hostile`` counts those that overlapped
    none): a hint of which of them slow the innocent client down. A long attack overlaps
    more calls by its length alone (a stalled body lasts 2 s), so compare with
    ``--trace``, which says what the server was doing."""
    found: dict[str, int] = {}
    for wall, seconds, _ in samples:
        if not start <= wall < end or seconds < threshold:
            continue
        found["slow calls"] = found.get("slow calls", 0) + 1
        names = {name for name, a, b in spans if a < wall + seconds and b > wall}
        for name in names or {"nothing hostile"}:
            found[name] = found.get(name, 0) + 1
    return dict(sorted(found.items(), key=lambda item: -item[1]))


def cpu_seconds(pid: int) -> float:
    """CPU time of process ``pid``, of its children it has waited for, and of those
    still running (one level down: a server's JSONata workers)."""
    ticks = os.sysconf("SC_CLK_TCK")

    def own(pid: int, reaped: bool) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        used = int(fields[11]) + int(fields[12])  # utime, stime
        if reaped:
            used += int(fields[13]) + int(fields[14])  # cutime, cstime
        return used / ticks

    total = own(pid, reaped=True)
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            total += sum(own(int(child), reaped=False) for child in children.read_text().split())
    return total


def _end(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def trace_report(
    path: Path, samples: list[Sample], phases: dict[str, tuple[float, float]], slow_ms: float
) -> dict[str, Any]:
    """What server A's probes (bench/soak_trace.py) saw, per phase: the innocent calls'
    time inside the app, and how often and how long the event loop, a sleeping thread
    (the interpreter lock) and the store's lock kept someone waiting; then, for the
    innocent calls slower than ``slow_ms``, the server's own time for them and what
    else the server was running meanwhile."""
    if not path.exists():
        return {"trace": "no trace (server A did not exit cleanly)"}
    records = [json.loads(line) for line in path.read_text().splitlines()]
    report: dict[str, Any] = {}
    for phase, (start, end) in phases.items():
        inside = [r for r in records if start <= r["start"] < end]
        describe = [r for r in inside if r.get("operation") == "DescribeStateMachine"]
        seen: dict[str, Any] = {
            "innocent_in_app_ms": _spread([r["total"] for r in describe]),
            "innocent_in_handler_ms": _spread([r["handle"] for r in describe]),
        }
        for kind, field_name in (("loop_lag", "lag"), ("gil_lag", "lag"), ("store_lock", "wait")):
            waits = [r[field_name] for r in inside if r["kind"] == kind]
            seen[f"{kind}_over_10ms"] = {
                "count": len(waits),
                "worst_ms": max(waits, default=0.0),
                "total_ms": round(sum(waits), 1),
            }
        report[phase] = seen
    slow = [(w, s) for w, s, _ in samples if s * 1000 >= slow_ms and w >= phases["soak"][0]]
    in_app = []
    beside: dict[str, int] = {}
    for wall, seconds in slow:
        window = [r for r in records if r["start"] < wall + seconds and r["kind"] == "request"]
        window = [r for r in window if r["start"] + r["total"] / 1000 > wall]
        mine = [r for r in window if r["operation"] == "DescribeStateMachine"]
        if mine:
            in_app.append(mine[0]["total"])
        for r in window:
            if r["operation"] != "DescribeStateMachine":
                key = f"{r['operation']} {r['status']}"
                beside[key] = beside.get(key, 0) + 1
    report["slow_innocent_calls"] = {
        "count": len(slow),
        "client_ms": _spread([s * 1000 for _, s in slow]),
        "in_app_ms": _spread(in_app),
        "server_requests_beside": dict(sorted(beside.items(), key=lambda item: -item[1])),
    }
    return {"trace_a": report}


def _spread(values: list[float]) -> dict[str, float]:
    """Median, 99th percentile and worst of ``values``."""
    ordered = sorted(values) or [0.0]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {
        "n": len(values),
        "median": round(statistics.median(ordered), 2),
        "p99": round(p99, 1),
        "worst": round(ordered[-1], 1),
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
    if sys.argv[1:2] == ["innocent"]:  # the innocent client's own process
        url, machine, log, interval = sys.argv[2:6]
        innocent_client(url, machine, Path(log), float(interval))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="how long (default 180)")
    parser.add_argument("--pg-restarts", type=int, default=3)
    parser.add_argument("--outage-seconds", type=float, default=3.0)
    parser.add_argument("--start-interval", type=float, default=0.05)
    parser.add_argument("--hostile-interval", type=float, default=0.5)
    parser.add_argument(
        "--hostile-clients", type=int, default=1, help="attackers at once (default 1)"
    )
    parser.add_argument("--settle-seconds", type=float, default=120.0)
    parser.add_argument("--server-memory-mb", type=int, default=2048)
    parser.add_argument("--no-hostile", action="store_true", help="skip hostile requests")
    parser.add_argument(
        "--baseline-seconds",
        type=float,
        default=20.0,
        help="first, the innocent client alone for this long: its quiet baseline (default 20)",
    )
    parser.add_argument("--innocent-interval", type=float, default=0.05)
    parser.add_argument(
        "--slow-ms", type=float, default=50.0, help="an innocent call this slow is counted slow"
    )
    parser.add_argument(
        "--trace", action="store_true", help="time server A's stages (bench/soak_trace.py)"
    )
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
