"""Service API benchmark: DynamoDB PutItem/GetItem and SQS SendMessage/ReceiveMessage per
second through boto3, against ``stepwell serve`` (SQLite) and, on the same workload,
moto's server (``moto_server``, in memory), each in its own process on loopback.

    .venv/bin/pip install 'moto[server]'        # benchmark only; not a dependency
    .venv/bin/python bench/service_api_bench.py [--requests 2000] [--threads 1]

Each round runs ``requests`` calls of one operation from ``threads`` boto3 clients (one
client per thread, as boto3 recommends) and reports calls per second of wall time;
figures are the best of ``--rounds``. ReceiveMessage receives one message per call and
deletes it with DeleteMessage (counted as part of the receive). Stepwell keeps its data
durably in SQLite (one transaction per call); moto keeps it in memory.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

BIN = Path(sys.executable).parent
CONFIG = Config(retries={"total_max_attempts": 1}, max_pool_connections=64)
TABLE = "bench-table"
QUEUE = "bench-queue"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(command: list[str], health: str, folder: Path) -> Iterator[None]:
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(health, timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{command[0]} did not start; see {folder / 'server.log'}")
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@contextmanager
def stepwell(folder: Path) -> Iterator[str]:
    port = free_port()
    command = [str(BIN / "stepwell"), "serve", "--port", str(port), "--db",
               str(folder / "bench.db"), "--log-level", "warning"]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with server(command, url + "/health", folder):
        yield url


@contextmanager
def moto(folder: Path) -> Iterator[str]:
    executable = shutil.which("moto_server", path=str(BIN)) or "moto_server"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with server([executable, "-p", str(port)], url + "/moto-api/", folder):
        yield url


def client(url: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=CONFIG,
    )


def timed(threads: int, requests: int, make: Callable[[], Callable[[int], None]]) -> float:
    """Calls per second of ``requests`` calls spread over ``threads`` threads."""
    calls = [make() for _ in range(threads)]
    share = requests // threads

    def run(worker: int) -> None:
        call = calls[worker]
        for index in range(worker * share, (worker + 1) * share):
            call(index)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, range(threads)))
    return share * threads / (time.perf_counter() - started)


def workload(url: str, requests: int, threads: int, rounds: int) -> dict[str, float]:
    ddb = client(url, "dynamodb")
    ddb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    queue_url = client(url, "sqs").create_queue(QueueName=QUEUE)["QueueUrl"]

    def put() -> Callable[[int], None]:
        own = client(url, "dynamodb")
        return lambda n: own.put_item(
            TableName=TABLE, Item={"id": {"S": f"item-{n}"}, "status": {"S": "SUCCESS"}}
        )

    def get() -> Callable[[int], None]:
        own = client(url, "dynamodb")
        return lambda n: own.get_item(TableName=TABLE, Key={"id": {"S": f"item-{n}"}})

    def send() -> Callable[[int], None]:
        own = client(url, "sqs")
        return lambda n: own.send_message(QueueUrl=queue_url, MessageBody=f"message {n}")

    def receive() -> Callable[[int], None]:
        own = client(url, "sqs")

        def call(n: int) -> None:
            for message in own.receive_message(QueueUrl=queue_url).get("Messages", []):
                own.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

        return call

    results: dict[str, float] = {}
    for name, make in (("PutItem", put), ("GetItem", get), ("SendMessage", send),
                       ("ReceiveMessage+Delete", receive)):  # fmt: skip
        results[name] = max(timed(threads, requests, make) for _ in range(rounds))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("stepwell", "moto"))
    options = parser.parse_args()
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    table: dict[str, dict[str, float]] = {}
    targets = {"stepwell serve (SQLite)": stepwell, "moto_server (memory)": moto}
    for label, start in targets.items():
        if options.only and not label.startswith(options.only):
            continue
        with tempfile.TemporaryDirectory() as folder, start(Path(folder)) as url:
            table[label] = workload(url, options.requests, options.threads, options.rounds)
        print(label, {op: round(rate) for op, rate in table[label].items()}, flush=True)
    print(f"calls/s through boto3, {options.requests} calls x best of {options.rounds}, "
          f"{options.threads} client thread(s)")  # fmt: skip
    operations = list(next(iter(table.values())))
    print(f"{'':28}" + "".join(f"{op:>24}" for op in operations))
    for label, results in table.items():
        print(f"{label:28}" + "".join(f"{results[op]:>24.0f}" for op in operations))


if __name__ == "__main__":
    main()
