"""Execution history in the shape of GetExecutionHistory.

Every event is a dict exactly as the API returns it: ``timestamp``, ``type``, ``id``,
``previousEventId`` and one ``...EventDetails`` member whose fields follow botocore's
service model. Input and output travel as compact JSON strings, as AWS sends them.

Ids count up from 1 for the whole execution even when history is not recorded, because
error causes name them ("entered at the event id #2"). ``previousEventId`` follows the
frame: an event points at the previous event of the same thread of control, and a
branch's first event points at the event that started its Parallel or Map. A few events
do not move that chain on (``advance=False``): ``ParallelStateSucceeded``,
``MapStateSucceeded`` and ``MapIterationFailed`` point back like any event, but the
event after them points where they point (measured on AWS, us-east-1; floci-io/floci
pull request #3167, "previousEventId chaining matches AWS").

An execution has at most 25,000 events (Developer Guide, "Step Functions service
quotas"); AWS then fails it with ``States.Runtime``, "The execution reached the maximum
number of history events (25000).", and that ``ExecutionFailed`` is event 25,000
(floci-io/floci issue #2734, measured). ``add`` raises ``HistoryLimitReached`` instead of
recording any other event as number 25,000; the interpreter ends the execution.
"""

from __future__ import annotations

from typing import Any

from stepwell.engine.execution import ExecutionState, Frame
from stepwell.language.evaluation import JSON
from stepwell.language.verbatim import json_text

HistoryEvent = dict[str, Any]

HISTORY_LIMIT = 25_000
HISTORY_LIMIT_CAUSE = "The execution reached the maximum number of history events (25000)."
_EXECUTION_ENDS = frozenset(
    ("ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted")
)


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
        if value is not self._value or not self._text:
            self._value = value
            self._text = to_json_text(value)
        return {key: self._text, f"{key}Details": {"truncated": False}}


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
    ) -> int:
        execution = self.execution
        event_id = execution.event_count + 1
        if event_id >= HISTORY_LIMIT and event_type not in _EXECUTION_ENDS:
            raise HistoryLimitReached
        execution.event_count = event_id
        previous = frame.last_event if frame is not None else event_id - 1
        if frame is not None and advance:
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
