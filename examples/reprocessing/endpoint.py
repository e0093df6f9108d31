"""The application's HTTP endpoints that the reprocessing seed talks to, served locally.

The seed's application keeps communications (emails, SMS) that failed to send, and has
endpoints "which can be interrogated which will return a list of entities which
failed" and an API endpoint that (re)sends one. Here:

* ``GET /communications/failed?operation=…&limit=20&offset=0`` → ``{"items": [...],
  "total": N}``: unsent communications, a page at a time. A communication that failed
  ``MAX_ATTEMPTS`` times is no longer offered: it "has to be processed manually".
* ``POST /communications/send`` with a communication → ``200 {"sent": primaryId}``, or
  ``503`` when its channel fails (``flaky`` ones fail a given number of times, ``broken``
  ones always).

Design decision: the standard library's threading HTTP server, so the example needs no
web framework; the state lives in one object behind a lock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

MAX_ATTEMPTS = 3
ALWAYS = -1


@dataclass
class Communication:
    payload: dict[str, Any]  # {"primaryId", "operation", "createdBy", "created"}
    failures_left: int = 0  # sends that fail before one succeeds; ALWAYS: every send
    attempts: int = 0
    sent: bool = False

    def fails_now(self) -> bool:
        """Whether this send fails (using up one of the failures to come)."""
        if self.failures_left == 0:
            return False
        if self.failures_left > 0:
            self.failures_left -= 1
        return True


@dataclass
class CommunicationsApp:
    """The application's side: which communications failed, and every send attempted."""

    communications: dict[str, Communication] = field(default_factory=dict)
    attempts: list[str] = field(default_factory=list)  # primaryId of each POST, in order
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_failed(self, payload: Mapping[str, Any], failures: int = 0) -> None:
        self.communications[str(payload["primaryId"])] = Communication(dict(payload), failures)

    def failed(self, operation: str | None, limit: int, offset: int) -> dict[str, Any]:
        with self.lock:
            waiting = [
                c.payload
                for c in self.communications.values()
                if not c.sent
                and c.attempts < MAX_ATTEMPTS
                and (operation is None or c.payload["operation"] == operation)
            ]
        return {"items": waiting[offset : offset + limit], "total": len(waiting)}

    def send(self, payload: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        primary_id = str(payload.get("primaryId"))
        with self.lock:
            self.attempts.append(primary_id)
            communication = self.communications.get(primary_id)
            if communication is None:
                return 404, {"message": f"no communication {primary_id}"}
            communication.attempts += 1
            if communication.fails_now():
                return 503, {"message": f"the {payload.get('operation')} channel is unavailable"}
            communication.sent = True
        return 200, {"sent": primary_id}


@contextmanager
def serving(app: CommunicationsApp) -> Iterator[str]:
    """Serve ``app`` on a free 127.0.0.1 port; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(app))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _handler(app: CommunicationsApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path != "/communications/failed":
                return self._reply(404, {"message": "not found"})
            query = {name: values[0] for name, values in parse_qs(url.query).items()}
            page = app.failed(
                query.get("operation"), int(query.get("limit", 20)), int(query.get("offset", 0))
            )
            self._reply(200, page)

        def do_POST(self) -> None:
            if self.path != "/communications/send":
                return self._reply(404, {"message": "not found"})
            length = int(self.headers.get("Content-Length") or 0)
            self._reply(*app.send(json.loads(self.rfile.read(length) or b"{}")))

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the example prints what matters."""

    return Handler
