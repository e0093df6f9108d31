"""Stepwell's server beside moto's, in one run: transitions/s, server CPU per transition
and per API call, and how late a due timer fires (``make bench``).

Both servers run as processes of their own on free loopback ports; the same client load
drives each in turn (Standard executions through boto3, 8 client threads, every output
checked), and each server's CPU time is read from ``/proc`` around each phase, so the
ratios compare engines in the same run on the same (noisy, shared) machine.

* Workloads: ``../shared/bench/sfnbench.py`` (the project's peer-neutral driver) when it
  is beside this repository, run from a copy in a temporary folder; without it, the
  driver below does the same measurement (start, then poll DescribeExecution every 2 ms)
  over the same six workloads kept in ``bench/workloads/``.
* API calls: server CPU per DescribeExecution, StartExecution of an execution that
  waits (a Wait of an hour), and SendTaskSuccess (an activity's task token).
* Timers: executions that Wait 1 s; how long after its due time each left the Wait
  (history timestamps, Stepwell only: moto's waits are real sleeps in threads).

moto runs from ``.venv-bench`` (``moto[server,stepfunctions]``, set up by ``make bench``;
``--moto-venv`` elsewhere, ``--no-moto`` to skip it)::

    .venv/bin/python bench/sidebyside.py [--reps 3] [-n 200] [--workloads a,b]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED_DRIVER = REPO.parent / "shared" / "bench" / "sfnbench.py"
WORKLOADS = ["pass_chain_10", "choice_loop", "map_100", "parallel_4", "retry_catch", "wait_0"]
# Ours, beside the driver's six: 9 Waits of 0 s on pass_chain_10's input, to compare a due
# timer with a Pass per transition with the same fixed costs per execution.
EXTRA_WORKLOADS = ["wait_chain_10"]
ENDS = (".asl.json", ".meta.json")
ROLE = "arn:aws:iam::123456789012:role/bench"
WAITS = json.dumps(
    {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
)
WAIT_1S = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}})


# --------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (seconds)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return sum(int(x) for x in fields[11:13]) / os.sysconf("SC_CLK_TCK")


def _wait_http(url: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError as error:
            if getattr(error, "code", None):  # an HTTP error: it answers
                return
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def start_stepwell(folder: Path, source: Path | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """``stepwell serve`` of this venv, or of another source tree (``source``: its src/)."""
    port = free_port()
    binary = Path(sys.executable).parent / "stepwell"
    command = [str(binary), "serve", "--db", str(folder / "bench.db"), "--port", str(port)]
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    proc = subprocess.Popen(
        [*command, "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "stepwell.log", "wb"),  # noqa: SIM115
    )
    endpoint = f"http://127.0.0.1:{port}"
    _wait_http(endpoint + "/console", proc)
    return proc, endpoint


def start_moto(folder: Path, venv: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(venv / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "moto.log", "wb"),  # noqa: SIM115
    )
    endpoint = f"http://127.0.0.1:{port}"
    _wait_http(endpoint + "/moto-api/", proc)
    # moto runs definitions only with this switch of its config API.
    request = urllib.request.Request(
        endpoint + "/moto-api/config",
        data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()
    return proc, endpoint


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def client(endpoint: str) -> Any:
    config = Config(
        region_name="us-east-1",
        retries={"total_max_attempts": 1},
        max_pool_connections=4,
        read_timeout=120,
        inject_host_prefix=False,
    )
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("stepfunctions", endpoint_url=endpoint, config=config)


# --------------------------------------------------------------------- workloads


def run_workloads(
    endpoint: str, pid: int, label: str, folder: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """{workload: {"transitions_per_s", "cpu_us_per_transition", "errors"}}."""
    if SHARED_DRIVER.exists() and not args.own_driver:
        return _shared_driver(endpoint, pid, label, folder, args)
    return {name: _own_driver(endpoint, pid, name, args) for name in args.workloads}


def _shared_driver(
    endpoint: str, pid: int, label: str, folder: Path, args: argparse.Namespace
) -> dict[str, Any]:
    copy = folder / "driver"
    if not copy.exists():  # never run code inside ../shared itself: a writable copy
        (copy / "workloads").mkdir(parents=True)
        shutil.copyfile(SHARED_DRIVER, copy / SHARED_DRIVER.name)
        shared = SHARED_DRIVER.parent / "workloads"
        ours = [HERE / "workloads" / f"{name}{end}" for name in EXTRA_WORKLOADS for end in ENDS]
        for path in [*shared.glob("*.json"), *ours]:
            shutil.copyfile(path, copy / "workloads" / path.name)
    out = folder / f"{label}.json"
    command = [sys.executable, str(copy / "sfnbench.py"), "run", "--endpoint", endpoint]
    command += ["--label", label, "--server-pid", str(pid), "--out", str(out)]
    command += ["-n", str(args.n), "--workloads", ",".join(args.workloads)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = json.loads(out.read_text())["results"]
    summary = {}
    for name, result in results.items():
        if result.get("fatal"):
            summary[name] = {"fatal": result["fatal"]}
            continue
        throughput = result["throughput"]
        summary[name] = {
            "transitions_per_s": throughput["transitions_per_s"],
            "cpu_us_per_transition": throughput.get("server_cpu_us_per_transition"),
            "errors": result["errors"],
        }
    return summary


def _own_driver(endpoint: str, pid: int, name: str, args: argparse.Namespace) -> dict[str, Any]:
    """The same measurement as the shared driver's ``run`` throughput phase."""
    definition = (HERE / "workloads" / f"{name}.asl.json").read_text()
    meta = json.loads((HERE / "workloads" / f"{name}.meta.json").read_text())
    text = json.dumps(meta["input"])
    clients = [client(endpoint) for _ in range(args.concurrency)]
    arn = clients[0].create_state_machine(
        name=f"bench-{name}-{uuid.uuid4().hex[:8]}", definition=definition, roleArn=ROLE
    )["stateMachineArn"]
    errors = []

    def one(sfn: Any) -> None:
        started = sfn.start_execution(stateMachineArn=arn, input=text)
        while True:
            described = sfn.describe_execution(executionArn=started["executionArn"])
            if described["status"] != "RUNNING":
                break
            time.sleep(0.002)
        output = json.loads(described.get("output") or "null")
        if described["status"] != "SUCCEEDED" or output != meta["expected_output"]:
            errors.append(described["status"])

    one(clients[0])  # warm-up
    seconds, cpu = _load(clients, pid, args.n, one)
    transitions = meta["state_transitions"] * (args.n - len(errors))
    return {
        "transitions_per_s": round(transitions / seconds, 1),
        "cpu_us_per_transition": round(cpu / max(1, transitions) * 1e6, 1),
        "errors": len(errors),
    }


def _load(clients: list[Any], pid: int, n: int, one: Callable[[Any], None]) -> tuple[float, float]:
    """Run ``one`` n times over the clients' threads: (wall seconds, server CPU seconds)."""
    left = iter(range(n))
    lock = threading.Lock()

    def work(sfn: Any) -> None:
        while True:
            with lock:
                if next(left, None) is None:
                    return
            one(sfn)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    cpu = cpu_seconds(pid)
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, cpu_seconds(pid) - cpu


# --------------------------------------------------------------------- API calls, timers


def api_costs(endpoint: str, pid: int, args: argparse.Namespace) -> dict[str, float | None]:
    """Server CPU µs per call of DescribeExecution, StartExecution (of an execution that
    waits) and SendTaskSuccess; None where the server cannot do it."""
    clients = [client(endpoint) for _ in range(args.concurrency)]
    sfn = clients[0]
    machine = sfn.create_state_machine(
        name=f"waits-{uuid.uuid4().hex[:8]}", definition=WAITS, roleArn=ROLE
    )["stateMachineArn"]
    arns: list[str] = []
    calls = args.calls

    def start(c: Any) -> None:
        arns.append(c.start_execution(stateMachineArn=machine, input='{"k": 1}')["executionArn"])

    costs: dict[str, float | None] = {}
    costs["StartExecution"] = _per_call(clients, pid, calls, start)
    costs["DescribeExecution"] = _per_call(
        clients, pid, calls, lambda c: c.describe_execution(executionArn=arns[0])
    )
    costs["SendTaskSuccess"] = _send_task_success(clients, pid, calls)
    return costs


def _per_call(clients: list[Any], pid: int, calls: int, call: Callable[[Any], None]) -> float:
    call(clients[0])
    time.sleep(0.3)  # let work the warm-up left behind finish
    _, cpu = _load(clients, pid, calls, call)
    return round(cpu / calls * 1e6, 1)


def _send_task_success(clients: list[Any], pid: int, calls: int) -> float | None:
    sfn = clients[0]
    try:
        activity = sfn.create_activity(name=f"act-{uuid.uuid4().hex[:8]}")["activityArn"]
        definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": activity}}}
        definition["States"]["T"]["End"] = True
        machine = sfn.create_state_machine(
            name=f"activity-{uuid.uuid4().hex[:8]}",
            definition=json.dumps(definition),
            roleArn=ROLE,
        )["stateMachineArn"]
        tokens = []
        for _ in range(calls + 1):
            sfn.start_execution(stateMachineArn=machine, input="{}")
            task = sfn.get_activity_task(activityArn=activity, workerName="bench")
            if not task.get("taskToken"):
                return None
            tokens.append(task["taskToken"])
    except Exception:  # the peer has no activities
        return None
    left = iter(tokens)
    lock = threading.Lock()

    def send(c: Any) -> None:
        with lock:
            token = next(left)
        c.send_task_success(taskToken=token, output='{"ok": true}')

    cost = _per_call(clients, pid, calls, send)
    time.sleep(0.5)
    return cost


def timer_lateness(endpoint: str, count: int = 40) -> dict[str, float]:
    """Executions that Wait 1 s, started a few ms apart: how late each left the Wait."""
    sfn = client(endpoint)
    machine = sfn.create_state_machine(
        name=f"wait1-{uuid.uuid4().hex[:8]}", definition=WAIT_1S, roleArn=ROLE
    )["stateMachineArn"]
    arns = []
    for _ in range(count):
        arns.append(sfn.start_execution(stateMachineArn=machine)["executionArn"])
        time.sleep(0.013)
    time.sleep(1.5)
    late = []
    for arn in arns:
        events = sfn.get_execution_history(executionArn=arn)["events"]
        stamps = {e["type"]: e["timestamp"].timestamp() for e in events}
        late.append((stamps["WaitStateExited"] - stamps["WaitStateEntered"] - 1.0) * 1000)
    late.sort()
    return {"p50_ms": round(late[len(late) // 2], 2), "max_ms": round(late[-1], 2)}


# --------------------------------------------------------------------- report


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}x" if a and b else "-"


def _num(value: float | None, spec: str = ",.0f") -> str:
    return "-" if value is None else format(value, spec)


def report(runs: list[dict[str, Any]], args: argparse.Namespace) -> None:
    sides = ["stepwell", "moto"] if args.baseline is None else ["stepwell", "baseline", "moto"]
    names = " / ".join(_TITLES[side] for side in sides)
    for index, run in enumerate([*runs, None] if len(runs) > 1 else runs):
        chosen = [run] if run is not None else runs
        title = f"run {index + 1}" if run is not None else f"median of {len(runs)} runs"
        print(f"\n### {title}\n")
        if args.workloads:
            _workload_table(chosen, sides, names, args)
        before = "baseline" in sides
        extra = " before / Stepwell |" if before else ""
        print(f"\n| API call | server CPU µs {names} |{extra}\n|---|---|{'---|' if before else ''}")
        for call in ("StartExecution", "DescribeExecution", "SendTaskSuccess"):
            costs = {
                side: _median([r.get(f"{side}_calls", {}).get(call) for r in chosen])
                for side in sides
            }
            gain = f" {_ratio(costs['baseline'], costs['stepwell'])} |" if before else ""
            print(f"| {call} | {_row(costs, sides)} |{gain}")
        lateness = [r["timers"] for r in chosen if r.get("timers")]
        if lateness:
            p50 = _median([t["p50_ms"] for t in lateness])
            worst = max(t["max_ms"] for t in lateness)
            print(
                f"\nA due timer (Wait 1 s) fires {p50:.2f} ms late (median), {worst:.2f} at most."
            )
        errors = sum(
            r.get("errors", 0) or 0
            for one in chosen
            for side in sides
            for r in one.get(side, {}).values()
        )
        if errors:
            print(f"\n{errors} executions ended wrong (see the drivers' output)")


def _workload_table(
    chosen: list[dict[str, Any]], sides: list[str], names: str, args: argparse.Namespace
) -> None:
    print(
        f"| workload | transitions/s {names} | ratio to moto | server CPU µs per transition "
        f"{names} | moto / Stepwell |"
    )
    print("|---|---|---|---|---|")
    for name in args.workloads:
        rate = {side: _pick(chosen, side, name, "transitions_per_s") for side in sides}
        cpu = {side: _pick(chosen, side, name, "cpu_us_per_transition") for side in sides}
        print(
            f"| {name} | {_row(rate, sides)} | {_ratios(rate, sides, False)} "
            f"| {_row(cpu, sides)} | {_ratios(cpu, sides, True)} |"
        )
    for side in sides[:-1]:
        _against_pass(chosen, side)


_TITLES = {"stepwell": "Stepwell", "baseline": "before", "moto": "moto"}


def _row(values: dict[str, float | None], sides: list[str]) -> str:
    return " / ".join(_num(values[side]) for side in sides)


def _ratios(values: dict[str, float | None], sides: list[str], inverse: bool) -> str:
    """Each Stepwell's figure against moto's (for CPU, moto's against it: higher is better)."""
    peer = values["moto"]
    parts = []
    for side in sides[:-1]:
        ours = values[side]
        parts.append(_ratio(peer, ours) if inverse else _ratio(ours, peer))
    return " / ".join(parts)


def _against_pass(chosen: list[dict[str, Any]], side: str) -> None:
    pass_cost = _pick(chosen, side, "pass_chain_10", "cpu_us_per_transition")
    found = []
    for name in ("wait_0", "retry_catch", "wait_chain_10"):
        cost = _pick(chosen, side, name, "cpu_us_per_transition")
        if cost and pass_cost:
            found.append(f"{name} {cost / pass_cost:.1f}x")
    if found:
        print(f"\n{_TITLES[side]}: CPU per transition against pass_chain_10: " + ", ".join(found))


def _pick(chosen: list[dict[str, Any]], side: str, name: str, key: str) -> float | None:
    return _median([r.get(side, {}).get(name, {}).get(key) for r in chosen])


# --------------------------------------------------------------------- main


def one_run(folder: Path, args: argparse.Namespace, rep: int) -> dict[str, Any]:
    run: dict[str, Any] = {}
    stepwells = [("stepwell", None)]
    if args.baseline is not None:
        stepwells.append(("baseline", args.baseline))
    for side, source in stepwells:
        (folder / side).mkdir()
        proc, endpoint = start_stepwell(folder / side, source)
        try:
            if args.workloads:
                run[side] = run_workloads(endpoint, proc.pid, f"{side}-rep{rep}", folder, args)
            run[f"{side}_calls"] = api_costs(endpoint, proc.pid, args)
            if side == "stepwell" and args.workloads:
                run["timers"] = timer_lateness(endpoint)
        finally:
            stop(proc)
    if args.moto_venv is not None:
        proc, endpoint = start_moto(folder, args.moto_venv)
        try:
            if args.workloads:
                run["moto"] = run_workloads(endpoint, proc.pid, f"moto-rep{rep}", folder, args)
            run["moto_calls"] = api_costs(endpoint, proc.pid, args)
        finally:
            stop(proc)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("-n", type=int, default=200, help="executions per workload")
    parser.add_argument("-c", "--concurrency", type=int, default=8)
    parser.add_argument("--calls", type=int, default=400, help="API calls per kind")
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS + EXTRA_WORKLOADS),
        help="comma-separated; empty (--workloads '') measures the API calls only",
    )
    parser.add_argument("--moto-venv", type=Path, default=REPO / ".venv-bench")
    parser.add_argument("--no-moto", action="store_true")
    parser.add_argument("--own-driver", action="store_true", help="not ../shared's driver")
    parser.add_argument("--out", type=Path, help="write every run's figures here (JSON)")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="also run the Stepwell of this src/ folder (e.g. an older commit's, from "
        "`git archive COMMIT src | tar -x -C DIR`): a before column",
    )
    args = parser.parse_args()
    args.workloads = [name for name in args.workloads.split(",") if name]
    if args.no_moto or not (args.moto_venv / "bin" / "moto_server").exists():
        if not args.no_moto:
            print(f"no moto in {args.moto_venv}: Stepwell only", file=sys.stderr)
        args.moto_venv = None
    driver = "the shared driver" if SHARED_DRIVER.exists() and not args.own_driver else "own"
    print(f"driver: {driver}; {args.n} executions per workload, {args.concurrency} threads")
    runs = []
    with tempfile.TemporaryDirectory(prefix="stepwell-bench-") as tmp:
        for rep in range(1, args.reps + 1):
            folder = Path(tmp) / f"rep{rep}"
            folder.mkdir()
            runs.append(one_run(folder, args, rep))
            print(f"run {rep} of {args.reps} done", file=sys.stderr)
    report(runs, args)
    if args.out:
        args.out.write_text(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
