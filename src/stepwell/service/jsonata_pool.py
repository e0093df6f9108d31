"""A pool of worker processes that evaluate JSONata expressions that are not trivially
bounded, with a memory limit and a time limit each.

jsonatapy holds the interpreter lock while it evaluates, so a hostile expression run in
the server's own process stalls every thread (``language.jsonata_isolation`` explains
which expressions count as bounded and run in-process). Here each worker process has
``RLIMIT_AS`` set to its size at start plus ``MEMORY_LIMIT_BYTES``, so ``$pad('x', 1e9)``
or a doubled string aborts the worker, not the server; the library's own time limit ends
loops, and the caller kills a worker that does not answer within ``deadline_seconds``.
A worker that died or was killed is replaced on the next call; the caller gets
``States.QueryEvaluationError`` saying which limit was hit. Workers run at the lowest
CPU priority (``nice`` 19), so an expression spinning for its whole time limit takes CPU
only that the server does not need. A new worker lowers its priority before it
imports anything of Stepwell: that import is 0.6 s of CPU, which at normal priority
slowed other clients (in the soak, bench/soak.py, most of the innocent client's slow
calls came in the seconds a worker started). While it waits, the calling
thread is blocked in ``Connection.poll`` with the interpreter lock released, so the
server's other threads and its event loop run on.

The pool is an effect (processes), so it lives in ``service/`` and is installed into
``language`` through ``install_isolated_evaluator`` by the ``Host`` that runs the server
or workers. Workers start on first use as ``python -c WORKER_CODE``
(a plain subprocess: nothing of the server is forked, and unlike ``multiprocessing``'s
spawn it never re-imports the server's main module), and talk over their standard input
and a duplicate of their standard output with ``multiprocessing.connection`` framing.

Measured (bench/jsonata_isolation_bench.py, 2 cores shared): a round trip costs about
0.1 ms against 5 µs in-process; with 16 concurrent hostile ``TestState`` calls the p99 of
another client's ``DescribeStateMachine`` was 24 ms with one worker (its p99 without the
attack), against 8.5 s with the expressions in the server's process.
"""

from __future__ import annotations

import os
import queue
import random
import resource
import subprocess
import sys
import threading
import uuid
from multiprocessing.connection import Connection
from typing import Any, Final

import orjson

from stepwell.language.errors import DATA_LIMIT_EXCEEDED, StatesError
from stepwell.language.evaluation import EvalContext
from stepwell.language.jsonata import (
    EVALUATION_TIMEOUT_MS,
    UNDEFINED,
    compile_jsonata,
    query_evaluation_error,
)
from stepwell.language.jsonata_isolation import IsolatedEvaluation, install_isolated_evaluator

JSON = Any
MEMORY_LIMIT_BYTES: Final = 512 * 1024 * 1024
"""Address space a worker may add to what it had at start."""
DEADLINE_SECONDS: Final = EVALUATION_TIMEOUT_MS / 1000 + 1.0
"""How long a caller waits for a worker before killing it (the library stops at 1 s)."""
WORKER_NICENESS: Final = 19
"""Workers yield the CPU to the server: a spinning expression must not slow other clients."""
MAX_RESULT_BYTES: Final = 1024 * 1024
"""A larger value could not fit in any payload (256 KiB): it is refused in the worker,
so that it never crosses to the server (``States.DataLimitExceeded``)."""
WORKER_CODE: Final = (
    f"import os, sys; os.nice({WORKER_NICENESS}); "
    "from stepwell.service.jsonata_pool import serve; serve(int(sys.argv[1]))"
)
"""A worker's program: the priority is lowered first, the import of Stepwell comes after."""
STARTUP_SECONDS: Final = 60.0
"""How long a new worker may take to start (import Python and jsonatapy) on a busy host."""

Reply = tuple[Any, ...]


# --- in the worker process -------------------------------------------------------------


def serve(memory_limit: int) -> None:
    """A worker's life: limit its memory, then evaluate requests until stdin closes.

    Replies go to a duplicate of stdout; stdout itself then points at stderr, so that
    nothing printed can corrupt the replies.
    """
    replies = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)
    requests = Connection(os.dup(0), writable=False)
    _limit_address_space(memory_limit)
    replies.send(("ready",))
    while True:
        try:
            request = requests.recv()
        except EOFError:
            return
        replies.send(evaluate(request))


def _limit_address_space(extra: int) -> None:
    current = _address_space()
    if current is not None:
        resource.setrlimit(resource.RLIMIT_AS, (current + extra, current + extra))


def _address_space() -> int | None:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # pragma: no cover - not Linux: no limit but the deadline
        return None


def evaluate(request: IsolatedEvaluation) -> Reply:
    """Evaluate in this process: ``("value", json)``, ``("undefined",)`` or ``("error", …)``."""
    entropy = random.Random(request.seed)
    ctx = EvalContext(
        context=request.context if request.context is not None else {},
        variables=request.variables,
        random=entropy.random,
        uuid4=lambda: str(uuid.UUID(int=entropy.getrandbits(128), version=4)),
    )
    try:
        expression = compile_jsonata(request.text)
        value = expression.evaluate_for_field(request.states, ctx, request.field)
    except StatesError as error:
        return ("error", error.error, error.cause, error.location)
    except MemoryError:
        return _limit_reply(request, "exceeded the memory limit")
    if value is UNDEFINED:
        return ("undefined",)
    encoded = orjson.dumps(value)
    if len(encoded) > MAX_RESULT_BYTES:
        cause = (
            f"The JSONata expression '{request.text}' returned a value of {len(encoded)} "
            f"bytes; no payload may hold more than {MAX_RESULT_BYTES} bytes"
        )
        return ("error", DATA_LIMIT_EXCEEDED, cause, request.field)
    return ("value", encoded)


def _limit_reply(request: IsolatedEvaluation, what: str) -> Reply:
    error = _limit_error(request, what)
    return ("error", error.error, error.cause, error.location)


def _limit_error(request: IsolatedEvaluation, what: str) -> StatesError:
    return query_evaluation_error(
        request.text, request.field, f"threw an error during evaluation: {what}"
    )


# --- in the server ---------------------------------------------------------------------


class _Worker:
    def __init__(self, memory_limit: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER_CODE, str(memory_limit)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)},
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.requests = Connection(os.dup(self.process.stdin.fileno()), readable=False)
        self.replies = Connection(os.dup(self.process.stdout.fileno()), writable=False)
        self.process.stdin.close()
        self.process.stdout.close()

    def wait_until_ready(self) -> bool:
        """Whether the worker started (it says so once its limits are set)."""
        try:
            return self.replies.poll(STARTUP_SECONDS) and self.replies.recv() == ("ready",)
        except (EOFError, OSError):
            return False

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        self.requests.close()
        self.replies.close()


class JsonataProcessPool:
    """Evaluates ``IsolatedEvaluation`` requests in up to ``size`` worker processes.

    Callable as a ``language.jsonata_isolation.IsolatedEvaluator``; thread-safe. A call
    waits for a free worker when all are busy (hostile expressions queue behind each
    other, not in front of the server's other work).
    """

    def __init__(
        self,
        size: int = 1,
        memory_limit: int = MEMORY_LIMIT_BYTES,
        deadline_seconds: float = DEADLINE_SECONDS,
    ) -> None:
        self.size = size
        self.memory_limit = memory_limit
        self.deadline_seconds = deadline_seconds
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._started = 0
        self._all: set[_Worker] = set()

    def __call__(self, request: IsolatedEvaluation) -> JSON:
        worker = self._take()
        try:
            worker.requests.send(request)
            if not worker.replies.poll(self.deadline_seconds):
                self._discard(worker)
                raise _limit_error(request, f"it ran longer than {self.deadline_seconds:g} s")
            reply = worker.replies.recv()
        except (EOFError, OSError):
            self._discard(worker)
            raise _limit_error(request, _died_message(self.memory_limit)) from None
        self._idle.put(worker)
        return _decode(reply)

    def _take(self) -> _Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            worker = self._start() if self._started < self.size else None
        if worker is None:
            return self._idle.get()
        if not worker.wait_until_ready():  # outside the lock: starting takes a while
            self._discard(worker)
            raise RuntimeError("a JSONata worker process did not start")
        return worker

    def _start(self) -> _Worker:
        self._started += 1
        worker = _Worker(self.memory_limit)
        self._all.add(worker)
        return worker

    def _discard(self, worker: _Worker) -> None:
        worker.stop()
        with self._lock:
            self._all.discard(worker)
            self._started -= 1

    def close(self) -> None:
        """Stop every worker (idle or not); the pool starts new ones if used again."""
        with self._lock:
            workers, self._all, self._started = list(self._all), set(), 0
        while not self._idle.empty():
            self._idle.get_nowait()
        for worker in workers:
            worker.stop()


def _died_message(memory_limit: int) -> str:
    return (
        "the evaluation was stopped: it exceeded the memory limit of "
        f"{memory_limit // (1024 * 1024)} MiB"
    )


def _decode(reply: Reply) -> JSON:
    kind = reply[0]
    if kind == "value":
        return orjson.loads(reply[1])
    if kind == "undefined":
        return UNDEFINED
    _, name, cause, location = reply
    raise StatesError(name, cause, location)


def pool_size(setting: int) -> int:
    """Workers for the ``jsonata_workers`` setting: as given, or for -1 one fewer than
    the CPUs (at least one), so that hostile expressions leave the server a core.

    Measured (bench/jsonata_isolation_bench.py, 2 cores): with 16 hostile clients another
    client's p99 was 24 ms with one worker (its baseline), 48 to 62 ms with two.
    """
    return setting if setting > 0 else max(1, (os.cpu_count() or 2) - 1)


class _SharedPool:
    """The process's one pool, installed while at least one user (a ``Host``) runs."""

    def __init__(self) -> None:
        self.pool: JsonataProcessPool | None = None
        self.users = 0
        self.lock = threading.Lock()

    def attach(self, size: int) -> JsonataProcessPool:
        with self.lock:
            if self.pool is None:
                self.pool = JsonataProcessPool(size)
            self.users += 1
            install_isolated_evaluator(self.pool)
            return self.pool

    def detach(self) -> None:
        """The last user gone, expressions run in-process again (idle workers stay)."""
        with self.lock:
            self.users -= 1
            if self.users == 0:
                install_isolated_evaluator(None)


SHARED: Final = _SharedPool()


if __name__ == "__main__":  # a worker: python -m stepwell.service.jsonata_pool <limit>
    os.nice(WORKER_NICENESS)
    serve(int(sys.argv[1]))
