"""Asynchronous invocations (``InvocationType: Event``): kept in the store until they ran.

Lambda puts an asynchronous event on an internal queue, answers 202, and runs the
function later; when the function fails it runs it up to two more times, at least one
minute and then two minutes later, and then discards the event unless a dead-letter
queue or an on-failure destination is configured (Lambda Developer Guide, "How Lambda
handles errors and retries with asynchronous invocation").

Design decision: the event is written to the store (the ``lambda-events`` documents
namespace, the same transactions the embedded services use) before Invoke answers 202,
and deleted only once the function has run. It is due at once and run soon on a small
thread pool, but a run takes the event only when it starts: in one transaction it checks
that the event is still due and moves its due time past the function's timeout (its
lease, with a token naming this run). A backlog therefore holds no lease: an event
waiting here may be taken by another process, and then this one skips it. While a run
lasts longer than half its lease (an in-process function has no timeout), the periodic
``redeliver_due`` renews it. An event whose run was cut short (the server stopped, the
process died) becomes due again when its lease ends and is run by ``redeliver_due``,
which the worker pool calls periodically. Delivery is therefore at-least-once, as on
AWS. A failure is retried as Lambda does; an event that fails three times is discarded
with a warning in the log (no dead-letter queues for functions yet).

Processes sharing a store need not have the same functions (``stepwell worker``, or
another ``serve`` with other ``--functions``): a process takes only the events of
functions it can run (``has``) and leaves the others in the store for a process that
has them, so an event is never discarded because the process that found it lacks its
function. An event whose function no process has stays stored (``pending``) until one
that has it runs; nothing records which functions exist across processes, so none
could tell a deleted function from one served elsewhere.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Final

import orjson

from stepwell.integrations.functions import Outcome
from stepwell.integrations.services import Documents, DocumentStore

logger = logging.getLogger("stepwell.lambda")

NAMESPACE: Final = "lambda-events"
ATTEMPTS: Final = 3  # the first run and Lambda's two retries
RETRY_DELAY_SECONDS: Final = 60.0  # one minute before the 2nd attempt, two before the 3rd
LEASE_MARGIN_SECONDS: Final = 60.0
RUNNERS: Final = 4

Runner = Callable[[str, Any], Outcome]


def _every_function(name: str) -> bool:
    return True


class AsyncInvocations:
    """The durable queue of asynchronous invocations and the threads that run them."""

    def __init__(self, store: DocumentStore, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock
        self._pool: ThreadPoolExecutor | None = None
        self._running: set[Future[None]] = set()
        self._lock = threading.Lock()
        self._queued: set[str] = set()  # events handed to the pool, not yet started
        self._held: dict[str, str] = {}  # events running here: key -> lease token
        self.run: Runner | None = None  # set by the Lambda API (lambda_api.LambdaFunctions)
        # Whether ``run`` can run a function here; set with ``run``.
        self.has: Callable[[str], bool] = _every_function
        self._left: set[str] = set()  # functions not here whose events were left, logged

    def submit(self, function: str, event: Any, timeout: float) -> str:
        """Keep the event, then run it soon; returns its key."""
        key = f"event/{uuid.uuid4()}"
        record = {
            "function": function,
            "event": event,
            "attempts": 0,
            "timeout": timeout,
            "due": self._clock(),  # due now: the run that starts first takes it
        }
        with self._store.documents(NAMESPACE) as documents:
            documents.put(key, orjson.dumps(record))
        self._start(key)
        return key

    def pending(self) -> list[dict[str, Any]]:
        """The events not yet run (or being run), oldest due time first."""
        with self._store.documents(NAMESPACE) as documents:
            records = [orjson.loads(value) for _, value in documents.scan("event/")]
        return sorted(records, key=lambda record: float(record["due"]))

    def redeliver_due(self) -> int:
        """Renew the leases of the runs in progress here, and hand every event that is
        due (a lease or a retry delay ended) and not already waiting here to the pool;
        how many were handed over."""
        now = self._clock()
        with self._lock:
            held, queued = dict(self._held), set(self._queued)
        due: list[str] = []
        with self._store.documents(NAMESPACE) as documents:
            for key, value in documents.scan("event/"):
                record = orjson.loads(value)
                if key in held:
                    self._renew(documents, key, record, held[key], now)
                elif float(record["due"]) <= now and key not in queued:
                    if self.has(str(record["function"])):
                        due.append(key)
                    else:
                        self._leave(str(record["function"]))
        for key in due:
            self._start(key)
        return len(due)

    def drain(self, timeout: float | None = None) -> None:
        """Wait until the runs started so far have ended."""
        wait(list(self._running), timeout)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _start(self, key: str) -> None:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(RUNNERS, thread_name_prefix="stepwell-lambda-event")
            self._queued.add(key)
            future = self._pool.submit(self._deliver, key)
            self._running.add(future)
        future.add_done_callback(self._running.discard)

    def _deliver(self, key: str) -> None:
        """Take the event if it is still due, run it and record how it went; never
        raises (it runs on a pool)."""
        with self._lock:
            self._queued.discard(key)
        if self.run is None:
            return
        token = str(uuid.uuid4())
        try:
            record = self._take(key, token)
            if record is None:  # run, being run or retried later by someone else
                return
            with self._lock:
                self._held[key] = token
            outcome = self.run(str(record["function"]), record["event"])
            self._settle(key, record, token, outcome)
        except Exception:
            logger.exception("Asynchronous invocation %s failed to run; it will be retried", key)
        finally:
            with self._lock:
                # Only this run's entry: a second delivery of an event running here finds
                # it leased and must not stop the first run's lease from being renewed.
                if self._held.get(key) == token:
                    del self._held[key]

    def _take(self, key: str, token: str) -> dict[str, Any] | None:
        """Lease the event to the run ``token`` if it is due; the record, or None."""
        now = self._clock()
        with self._store.documents(NAMESPACE) as documents:
            value = documents.get(key)
            if value is None:
                return None
            record: dict[str, Any] = orjson.loads(value)
            if float(record["due"]) > now or not self.has(str(record["function"])):
                return None
            record.update(due=now + _lease_seconds(record), lease=token)
            documents.put(key, orjson.dumps(record))
        return record

    def _leave(self, function: str) -> None:
        """Log, once per function, that its events are left for a process that has it."""
        if function not in self._left:
            self._left.add(function)
            logger.warning(
                "Asynchronous invocations of %s are left in the store: this process does "
                "not have the function; a process that has it runs them",
                function,
            )

    def _renew(
        self, documents: Documents, key: str, record: dict[str, Any], token: str, now: float
    ) -> None:
        """Move the lease of a run in progress here past another timeout, once half of
        it is used."""
        lease = _lease_seconds(record)
        if record.get("lease") == token and float(record["due"]) - now < lease / 2:
            record["due"] = now + lease
            documents.put(key, orjson.dumps(record))

    def _settle(self, key: str, record: dict[str, Any], token: str, outcome: Outcome) -> None:
        attempts = int(record["attempts"]) + 1
        final = attempts >= ATTEMPTS
        with self._store.documents(NAMESPACE) as documents:
            value = documents.get(key)
            if value is None or orjson.loads(value).get("lease") != token:
                return  # the lease ended and another run took the event: it settles it
            if outcome.ok or final:
                documents.delete(key)
            else:
                due = self._clock() + RETRY_DELAY_SECONDS * attempts
                record.update(attempts=attempts, due=due, lease=None)
                documents.put(key, orjson.dumps(record))
        if not outcome.ok and final:
            logger.warning(
                "Discarded an asynchronous invocation of %s after %d attempt(s): %s %s",
                record["function"],
                attempts,
                outcome.error,
                outcome.cause,
            )


def _lease_seconds(record: dict[str, Any]) -> float:
    """How long a run may take before another may take its event: the function's timeout
    and a margin."""
    return float(record["timeout"]) + LEASE_MARGIN_SECONDS
