"""Asynchronous invocations (``InvocationType: Event``): kept in the store until they ran.

Lambda puts an asynchronous event on an internal queue, answers 202, and runs the
function later; when the function fails it runs it up to two more times, at least one
minute and then two minutes later, and then discards the event unless a dead-letter
queue or an on-failure destination is configured (Lambda Developer Guide, "How Lambda
handles errors and retries with asynchronous invocation").

Design decision: the event is written to the store (the ``lambda-events`` documents
namespace, the same transactions the embedded services use) before Invoke answers 202,
and deleted only once the function has run. It is run at once on a small thread pool;
it carries a lease (its due time moved past the function's timeout), so an event whose
run was cut short (the server stopped, the process died) becomes due again and is run by
``redeliver_due``, which the worker pool calls periodically. Delivery is therefore
at-least-once, as on AWS. A failure is retried as Lambda does; an event that fails three
times, or whose function no longer exists, is discarded with a warning in the log (no
dead-letter queues for functions yet).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Final

import orjson

from stepwell.integrations.functions import Outcome
from stepwell.integrations.services import DocumentStore

logger = logging.getLogger("stepwell.lambda")

NAMESPACE: Final = "lambda-events"
ATTEMPTS: Final = 3  # the first run and Lambda's two retries
RETRY_DELAY_SECONDS: Final = 60.0  # one minute before the 2nd attempt, two before the 3rd
LEASE_MARGIN_SECONDS: Final = 60.0
RUNNERS: Final = 4

Runner = Callable[[str, Any], Outcome]


class AsyncInvocations:
    """The durable queue of asynchronous invocations and the threads that run them."""

    def __init__(self, store: DocumentStore, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock
        self._pool: ThreadPoolExecutor | None = None
        self._running: set[Future[None]] = set()
        self.run: Runner | None = None  # set by the Lambda API (lambda_api.LambdaFunctions)

    def submit(self, function: str, event: Any, timeout: float) -> str:
        """Keep the event, then run it soon; returns its key."""
        key = f"event/{uuid.uuid4()}"
        now = self._clock()
        record = {
            "function": function,
            "event": event,
            "attempts": 0,
            "timeout": timeout,
            "due": now + timeout + LEASE_MARGIN_SECONDS,  # leased to the run starting now
        }
        with self._store.documents(NAMESPACE) as documents:
            documents.put(key, orjson.dumps(record))
        self._start(key)
        return key

    def pending(self) -> list[dict[str, Any]]:
        """The events not yet run (or being run), oldest lease first."""
        with self._store.documents(NAMESPACE) as documents:
            records = [orjson.loads(value) for _, value in documents.scan("event/")]
        return sorted(records, key=lambda record: float(record["due"]))

    def redeliver_due(self) -> int:
        """Run every event whose lease or retry delay has ended; how many."""
        now = self._clock()
        due: list[str] = []
        with self._store.documents(NAMESPACE) as documents:
            for key, value in documents.scan("event/"):
                record = orjson.loads(value)
                if float(record["due"]) <= now:
                    record["due"] = now + float(record["timeout"]) + LEASE_MARGIN_SECONDS
                    documents.put(key, orjson.dumps(record))
                    due.append(key)
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
        if self._pool is None:
            self._pool = ThreadPoolExecutor(RUNNERS, thread_name_prefix="stepwell-lambda-event")
        future = self._pool.submit(self._deliver, key)
        self._running.add(future)
        future.add_done_callback(self._running.discard)

    def _deliver(self, key: str) -> None:
        """Run one event and record how it went; never raises (it runs on a pool)."""
        try:
            with self._store.documents(NAMESPACE) as documents:
                value = documents.get(key)
            if value is None or self.run is None:
                return
            record = orjson.loads(value)
            outcome = self.run(str(record["function"]), record["event"])
            self._settle(key, record, outcome)
        except Exception:
            logger.exception("Asynchronous invocation %s failed to run; it will be retried", key)

    def _settle(self, key: str, record: dict[str, Any], outcome: Outcome) -> None:
        attempts = int(record["attempts"]) + 1
        final = attempts >= ATTEMPTS or outcome.error == "ResourceNotFoundException"
        with self._store.documents(NAMESPACE) as documents:
            if outcome.ok or final:
                documents.delete(key)
            else:
                due = self._clock() + RETRY_DELAY_SECONDS * attempts
                record.update(attempts=attempts, due=due)
                documents.put(key, orjson.dumps(record))
        if not outcome.ok and final:
            logger.warning(
                "Discarded an asynchronous invocation of %s after %d attempt(s): %s %s",
                record["function"],
                attempts,
                outcome.error,
                outcome.cause,
            )
