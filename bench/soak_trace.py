"""``stepwell serve`` with timing probes, for the soak (``bench/soak.py --trace``).

Run as ``python bench/soak_trace.py TRACE_FILE serve --db ... --port ...``: it installs
the probes below, then runs the ``stepwell`` command with the remaining arguments. At
exit it writes one JSON object per line to ``TRACE_FILE``:

* ``{"kind": "request", ...}`` for every Step Functions call: wall-clock ``start`` (the
  app got the parsed request from the event loop), then milliseconds spent reading and
  checking the body (``admit``), waiting for a worker thread (``queue``), in the service
  (``handle``; ``thread`` says which thread ran it), and sending the answer (``send``);
* ``{"kind": "loop_lag", ...}``: the event loop woke ``lag`` ms after a 5 ms sleep ended
  (it was busy, or waiting for the interpreter lock or for a CPU);
* ``{"kind": "gil_lag", ...}``: a thread that only sleeps 2 ms woke ``lag`` ms late (it
  waited for the interpreter lock or for a CPU: the CPU-time columns tell which);
* ``{"kind": "store_lock", ...}``: a thread waited ``wait`` ms for the SQLite store's
  connection lock, and whether it was the event loop's thread.

Only lags and waits above ``THRESHOLD_MS`` are written. The probes cost little, but they
are measurement scaffolding: they patch classes of a running server, which no product
code should do, so they live here and not in ``stepwell``.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

THRESHOLD_MS = 10.0
RECORDS: list[dict[str, Any]] = []


def _record(**fields: Any) -> None:
    RECORDS.append(fields)  # list.append is atomic under the interpreter lock


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def install() -> None:
    from stepwell.api import app as api_app
    from stepwell.store import sqlite

    _probe_requests(api_app)
    _probe_store_lock(sqlite)
    threading.Thread(target=_gil_probe, name="soak-gil-probe", daemon=True).start()


def _probe_requests(api_app: Any) -> None:
    """Time each call's stages. The record of the call a thread is serving is found in
    ``_CURRENT`` by the thread's id: on the event loop it is set just before the service
    is called inline or the call is handed to a worker thread (no ``await`` between)."""
    endpoint_class = api_app.ApiEndpoint
    threads_class = api_app.WorkerThreads
    original_init = endpoint_class.__init__
    original_admit = endpoint_class._admit
    original_invoke = endpoint_class.invoke
    original_run = threads_class.run
    records: dict[int, dict[str, Any]] = {}  # id(request) -> its record

    def init(self: Any, service: Any, settings: Any) -> None:
        original_init(self, service, settings)
        handle = self._service.handle

        class Timed:
            def handle(self, operation: str, members: dict[str, Any]) -> Any:
                record = _CURRENT.get(threading.get_ident(), {})
                record["handle_began"] = time.perf_counter()
                try:
                    return handle(operation, members)
                finally:
                    record["handle_ended"] = time.perf_counter()
                    record["thread"] = threading.current_thread().name

        self._service = Timed()

    async def admit(self: Any, request: Any, reader: Any) -> Any:
        record = records.get(id(request), {})
        try:
            return await original_admit(self, request, reader)
        finally:
            record["admitted"] = time.perf_counter()
            _CURRENT[threading.get_ident()] = record

    async def run(self: Any, long_poll: bool, function: Any, *args: Any) -> Any:
        record = _CURRENT.get(threading.get_ident(), {})
        record["submitted"] = time.perf_counter()

        def carried(*inner: Any) -> Any:
            _CURRENT[threading.get_ident()] = record
            try:
                return function(*inner)
            finally:
                _CURRENT.pop(threading.get_ident(), None)

        return await original_run(self, long_poll, carried, *args)

    async def invoke(self: Any, request: Any) -> Any:
        record: dict[str, Any] = {"began": time.perf_counter(), "wall": time.time()}
        records[id(request)] = record
        try:
            response = await original_invoke(self, request)
        finally:
            records.pop(id(request), None)
        record["answered"] = time.perf_counter()
        record["operation"] = request.headers.get("x-amz-target", "").split(".")[-1]
        return _Timed(response, record)

    endpoint_class.__init__ = init
    endpoint_class._admit = admit
    endpoint_class.invoke = invoke
    threads_class.run = run


_CURRENT: dict[int, dict[str, Any]] = {}


class _Timed:
    """A response that notes when it has been sent, then writes its request's record."""

    def __init__(self, response: Any, record: dict[str, Any]) -> None:
        self._response = response
        self._record = record

    def __getattr__(self, name: str) -> Any:
        return getattr(self._response, name)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._response(scope, receive, send)
        r = self._record
        sent = time.perf_counter()
        admitted = r.get("admitted", r["began"])
        handle_began = r.get("handle_began", admitted)
        handle_ended = r.get("handle_ended", handle_began)
        _record(
            kind="request",
            start=r["wall"],
            operation=r.get("operation"),
            status=self._response.status_code,
            admit=_ms(admitted - r["began"]),
            queue=_ms(handle_began - r.get("submitted", handle_began)),
            handle=_ms(handle_ended - handle_began),
            send=_ms(sent - r["answered"]),
            total=_ms(sent - r["began"]),
            thread=r.get("thread"),
        )


def _probe_store_lock(sqlite: Any) -> None:
    original_init = sqlite.SqliteDialect.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._lock = _TimedLock(self._lock)

    sqlite.SqliteDialect.__init__ = init


class _TimedLock:
    def __init__(self, lock: Any) -> None:
        self._lock = lock

    def __enter__(self) -> Any:
        began = time.perf_counter()
        self._lock.acquire()
        waited = time.perf_counter() - began
        if waited * 1000 > THRESHOLD_MS:
            _record(
                kind="store_lock",
                start=time.time() - waited,
                wait=_ms(waited),
                thread=threading.current_thread().name,
            )
        return self

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()

    def acquire(self, *args: Any, **kwargs: Any) -> bool:
        return bool(self._lock.acquire(*args, **kwargs))

    def release(self) -> None:
        self._lock.release()


def _gil_probe() -> None:
    while True:
        began = time.perf_counter()
        cpu = time.process_time()
        time.sleep(0.002)
        late = time.perf_counter() - began - 0.002
        if late * 1000 > THRESHOLD_MS:
            _record(
                kind="gil_lag",
                start=time.time() - late,
                lag=_ms(late),
                process_cpu=_ms(time.process_time() - cpu),
            )


async def _loop_probe() -> None:
    while True:
        began = time.perf_counter()
        await asyncio.sleep(0.005)
        late = time.perf_counter() - began - 0.005
        if late * 1000 > THRESHOLD_MS:
            _record(kind="loop_lag", start=time.time() - late, lag=_ms(late))


def _patch_uvicorn_startup() -> None:
    """Start the loop probe on uvicorn's event loop once it runs."""
    import uvicorn

    original = uvicorn.Server.startup

    async def startup(self: Any, *args: Any, **kwargs: Any) -> None:
        await original(self, *args, **kwargs)
        self._soak_probe = asyncio.get_running_loop().create_task(_loop_probe())

    uvicorn.Server.startup = startup  # type: ignore[method-assign]


def main() -> int:
    trace = Path(sys.argv[1])

    def dump() -> None:
        with trace.open("a") as file:
            for record in list(RECORDS):
                file.write(json.dumps(record) + "\n")

    atexit.register(dump)
    install()
    _patch_uvicorn_startup()
    from stepwell.cli import main as stepwell

    sys.argv = ["stepwell", *sys.argv[2:]]
    return int(stepwell() or 0)


if __name__ == "__main__":
    sys.exit(main())
