"""Helpers for the integration tests: a local HTTP server and the durable-path harness."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from stepwell.integrations.registry import Integrations
from stepwell.integrations.services import Services
from stepwell.runtime.clock import VirtualClock
from stepwell.runtime.worker import Worker
from stepwell.service.service import Service
from stepwell.store.base import Store

ROLE = "arn:aws:iam::123456789012:role/stepwell"


@dataclass
class Received:
    """One request the local server got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, dict[str, str], bytes]
Responder = Callable[[Received], Reply]


@dataclass
class LocalServer:
    url: str
    requests: list[Received] = field(default_factory=list)


def json_reply(value: Any, status: int = 200, content_type: str = "application/json") -> Reply:
    return status, {"Content-Type": content_type}, json.dumps(value).encode()


@contextmanager
def local_server(respond: Responder) -> Iterator[LocalServer]:
    """An HTTP server on 127.0.0.1 (a free port) answering every request with ``respond``."""
    server_state = LocalServer("")

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            received = Received(
                self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
            )
            server_state.requests.append(received)
            status, headers, body = respond(received)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()


class Durable:
    """Service + Worker on one store and a virtual clock, sharing embedded services."""

    def __init__(self, store: Store, functions: dict[str, Any] | None = None) -> None:
        self.clock = VirtualClock(1_700_000_000.0)
        self.store = store
        self.services = Services(store, self.clock.now)
        self.integrations = Integrations(functions, services=self.services)
        self.service = Service(store, self.clock, integrations=self.integrations)
        self.worker = Worker(store, self.integrations, self.clock)

    def call(self, operation: str, **request: Any) -> dict[str, Any]:
        return self.service.handle(operation, request)

    def machine(self, definition: dict[str, Any], name: str = "m") -> str:
        return self.call(
            "CreateStateMachine", name=name, definition=json.dumps(definition), roleArn=ROLE
        )["stateMachineArn"]

    def start(self, machine: str, value: Any, name: str | None = None) -> str:
        request: dict[str, Any] = {"stateMachineArn": machine, "input": json.dumps(value)}
        if name is not None:
            request["name"] = name
        return self.call("StartExecution", **request)["executionArn"]

    def settle(self, max_advance: float = 10 * 86400) -> None:
        limit = self.clock.now() + max_advance
        while True:
            self.worker.run_until_idle()
            due = self.store.next_due(self.clock.now())
            if due is None or due > limit:
                return
            self.clock.set(due)

    def describe(self, execution: str) -> dict[str, Any]:
        return self.call("DescribeExecution", executionArn=execution)

    def output(self, execution: str) -> Any:
        return json.loads(self.describe(execution)["output"])
