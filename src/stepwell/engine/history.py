"""Execution history in the shape of GetExecutionHistory.

Every event is a dict exactly as the API returns it: ``timestamp``, ``type``, ``id``,
``previousEventId`` and one ``...EventDetails`` member whose fields follow botocore's
service model. Input and output travel as compact JSON strings, as AWS sends them.

Ids count up from 1 for the whole execution even when history is not recorded, because
error causes name them ("entered at the event id #2").

``previousEventId`` follows one rule: each thread of control (the machine's own frame, a
Parallel branch, a Map iteration) keeps its last event; a new event of the thread points
at it and becomes the last. A branch or iteration starts from its parent's last event, so
a branch's first state points at ``ParallelStateStarted`` and an iteration's
``MapIterationStarted`` at ``MapStateStarted``. The exceptions, each an explicit rule
(rule ids of the AWS behaviour list of issue 8, measured on AWS):

* A1/A4: events of the execution itself, outside any thread (``ExecutionStarted``,
  ``ExecutionAborted``, ``ExecutionTimedOut``), point at 0, and nothing points at them:
  the machine's thread starts with last event 0, so its first ``…StateEntered`` points
  at 0 too (``interpreter.start``).
* ``KEEPS_CHAIN``: ``ParallelStateSucceeded`` and ``MapStateSucceeded`` point back like
  any event, but the thread's next event (``…StateExited``) points where they point.
* A2: a finished iteration's ``MapIterationSucceeded``/``MapIterationFailed`` points at
  the iteration's last event, and its parent Map goes on from that same event (the next
  ``MapIterationStarted``, a retry's ``MapStateStarted``, ``MapStateFailed``), except
  that ``MapStateSucceeded`` points at the last iteration's end (``fanout.py``).
* A3: ``EvaluationFailed`` copies its ``…StateEntered``'s pointer (``previous=``), except
  in a Wait state; later events chain on it (``Interpreter.evaluation_failed``).
* A5/B8: the events of a failure cascade (``TaskStateAborted``, ``MapIterationAborted``)
  point at the event that caused it and do not move any chain (``fanout.py``).

``add`` takes an explicit ``previous`` for these rules and ``advance=False`` for an event
that must not become its thread's last.

An execution has at most 25,000 events (Developer Guide, "Step Functions service
quotas"); AWS then fails it with ``States.Runtime``, "The execution reached the maximum
number of history events (25000).", and that ``ExecutionFailed`` is event 25,000
(floci-io/floci issue #2734, measured). ``add`` raises ``HistoryLimitReached`` instead of
recording any other event as number 25,000; the interpreter ends the execution.
"""

from __future__ import annotations

from typing import Any

import orjson

from stepwell.engine.execution import ExecutionState, Frame
from stepwell.language.evaluation import JSON
from stepwell.language.verbatim import compact_text, json_text

HistoryEvent = dict[str, Any]

HISTORY_LIMIT = 25_000
HISTORY_LIMIT_CAUSE = "The execution reached the maximum number of history events (25000)."
_EXECUTION_ENDS = frozenset(
    ("ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted")
)
# Events after which the thread's next event points where they point (see above).
KEEPS_CHAIN = frozenset(("ParallelStateSucceeded", "MapStateSucceeded"))


class HistoryLimitReached(Exception):
    """The next event would be number 25,000 and does not end the execution."""


def to_json_text(value: JSON) -> str:
    """Compact JSON text, as AWS writes payloads into history and API responses; an
    unmodified input keeps the text it was sent as (I1, ``language.verbatim``)."""
    return json_text(value)


def payload_details(key: str, value: JSON) -> dict[str, Any]:
    return {key: to_json_text(value), f"{key}Details": {"truncated": False}}


class PayloadTexts:
    """Serializes payloads for history, remembering the last one: a state's output is
    usually the next state's input, and is then written once, not twice."""

    __slots__ = ("_text", "_value")

    def __init__(self) -> None:
        self._value: object = None
        self._text = ""

    def details(self, key: str, value: JSON) -> dict[str, Any]:
        return {key: self._text_of(value), f"{key}Details": {"truncated": False}}

    def named(self, name: str, key: str, value: JSON) -> dict[str, Any]:
        """``{"name": name, **details(key, value)}``, built at once (a state's entry and
        exit each record one)."""
        return {"name": name, key: self._text_of(value), _DETAILS[key]: {"truncated": False}}

    def size(self, value: JSON) -> int:
        """The compact size of ``value`` in bytes (the payload limit's measure); when that
        text is also its history text, it is kept for the event that follows, so a
        state's output is serialised once, not twice. Raises TypeError as orjson does."""
        text = compact_text(value)
        if text is None:  # a kept input text inside: the compact form is another text
            return len(orjson.dumps(value))
        self._value = value
        self._text = text.decode()
        return len(text)

    def _text_of(self, value: JSON) -> str:
        if value is not self._value or not self._text:
            self._value = value
            self._text = to_json_text(value)
        return self._text


_DETAILS = {"input": "inputDetails", "output": "outputDetails"}


class HistoryRecorder:
    """Appends events to a list (or only counts them when recording is off)."""

    __slots__ = ("enabled", "events", "execution", "now", "payloads")

    def __init__(self, execution: ExecutionState, now: Any, enabled: bool) -> None:
        self.execution = execution
        self.now = now
        self.enabled = enabled
        self.events: list[HistoryEvent] = []
        self.payloads = PayloadTexts()

    def add(
        self,
        frame: Frame | None,
        event_type: str,
        details_key: str | None = None,
        details: dict[str, Any] | None = None,
        advance: bool = True,
        previous: int | None = None,
    ) -> int:
        """Record an event of ``frame``'s thread (``None``: of the execution itself) and
        return its id; ``previous`` overrides the chaining rule (module docstring)."""
        execution = self.execution
        event_id = execution.event_count + 1
        if event_id >= HISTORY_LIMIT and event_type not in _EXECUTION_ENDS:
            raise HistoryLimitReached
        execution.event_count = event_id
        if previous is None:
            previous = frame.last_event if frame is not None else 0
        if frame is not None and advance and event_type not in KEEPS_CHAIN:
            frame.last_event = event_id
        if self.enabled:
            event: HistoryEvent = {
                "timestamp": self.now,
                "type": event_type,
                "id": event_id,
                "previousEventId": previous,
            }
            if details_key is not None:
                event[details_key] = details if details is not None else {}
            self.events.append(event)
        return event_id
