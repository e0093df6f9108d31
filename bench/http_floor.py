"""The HTTP floor of an API call: server CPU per boto3 call when the service costs nothing.

Serves the API app over a service that answers DescribeExecution (inline, on the event
loop) and SendTaskSuccess (in a worker thread) from a prepared result, in a child
process, two ways side by side: uvicorn's own httptools protocol (every call through
ASGI) and ``ApiConnection`` (api/connection.py, as ``stepwell serve`` runs); and, as the
floor, a bare httptools protocol on uvloop that answers every request with fixed bytes. Eight boto3
clients in threads call it; the figure is the server process's CPU time (user + system,
all threads, from /proc) divided by the number of calls, the median of ``--reps`` rounds
alternating the two ways.

    .venv/bin/python bench/http_floor.py [--calls 3000] [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:m:e"
WAYS = ("asgi", "connection", "floor")


def serve(way: str, port: int) -> None:
    """In the child: serve the app ``way``'s way until killed."""
    if way == "floor":
        serve_floor(port)
        return
    import uvicorn

    from stepwell.api import ApiSettings, create_app
    from stepwell.api.connection import ApiConnection

    class Instant:
        def handle(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
            return {"executionArn": EXECUTION, "status": "RUNNING"} if request else {}

    settings = ApiSettings(inline_operations=frozenset({"DescribeExecution"}))
    app = create_app(Instant(), settings)
    http: Any = ApiConnection if way == "connection" else "httptools"
    uvicorn.run(app, port=port, log_level="warning", access_log=False, http=http)


def serve_floor(port: int) -> None:
    """The least a Python server can do: parse with httptools, answer a fixed response."""
    import asyncio

    import httptools  # type: ignore[import-untyped]
    import uvloop

    body = b'{"executionArn":"%s","status":"RUNNING"}' % EXECUTION.encode()
    response = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\n"
        b"x-amzn-requestid: 0\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    )

    class Fixed(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.parser = httptools.HttpRequestParser(self)

        def data_received(self, data: bytes) -> None:
            self.parser.feed_data(data)

        def on_message_complete(self) -> None:
            self.transport.write(response)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Fixed, "127.0.0.1", port)
        await server.serve_forever()

    uvloop.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(way: str, calls: int, concurrency: int) -> dict[str, float]:
    port = free_port()
    child = subprocess.Popen([sys.executable, __file__, "--serve", way, "--port", str(port)])
    try:
        url = f"http://127.0.0.1:{port}"
        config = Config(retries={"total_max_attempts": 1})
        clients = [
            boto3.client(
                "stepfunctions",
                endpoint_url=url,
                region_name="us-east-1",
                aws_access_key_id="a",
                aws_secret_access_key="b",
                config=config,
            )
            for _ in range(concurrency)
        ]
        deadline = time.monotonic() + 30
        while True:
            try:
                clients[0].describe_execution(executionArn=EXECUTION)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        return {
            "DescribeExecution": run_calls(
                clients, child.pid, calls, lambda c: c.describe_execution(executionArn=EXECUTION)
            ),
            "SendTaskSuccess": run_calls(
                clients, child.pid, calls, lambda c: c.send_task_success(taskToken="t", output="{}")
            ),
        }
    finally:
        child.kill()
        child.wait()


def run_calls(clients: list[Any], pid: int, calls: int, call: Any) -> float:
    for each in clients:  # connections open, first-call costs paid
        call(each)
    left = iter(range(calls))
    lock = threading.Lock()

    def work(each: Any) -> None:
        while True:
            with lock:
                if next(left, None) is None:
                    return
            call(each)

    before = cpu_seconds(pid)
    threads = [threading.Thread(target=work, args=(each,)) for each in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (cpu_seconds(pid) - before) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--serve", choices=WAYS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    runs: dict[str, list[dict[str, float]]] = {way: [] for way in WAYS}
    for _ in range(args.reps):
        for way in WAYS:
            runs[way].append(measure(way, args.calls, args.concurrency))
    print("| call (trivial service) | server CPU µs: ASGI / connection / floor | ASGI/connection |")
    print("|---|---|---|")
    for name in ("DescribeExecution", "SendTaskSuccess"):
        asgi, direct, floor = (statistics.median(run[name] for run in runs[way]) for way in WAYS)
        print(f"| {name} | {asgi:.0f} / {direct:.0f} / {floor:.0f} | {asgi / direct:.2f}x |")
    print("floor: httptools + uvloop answering a fixed response (no API, no threads)")


if __name__ == "__main__":
    main()
