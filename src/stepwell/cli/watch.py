"""Following an execution while it runs: ``history --follow`` and ``start --follow``.

Design decision: the CLI polls GetExecutionHistory (newest page first, so each poll
costs one request however long the history) rather than holding a connection open: it
is what the AWS API offers, and it works against any Stepwell server. Polls come quickly
after something happened and slow down to ``--interval`` while nothing does. Following ends
with the event that ends the execution (``ExecutionSucceeded``, ``…Failed``,
``…TimedOut``, ``…Aborted``).

Three displays of the same events: on a terminal, a live table of the states coloured
by status (rich ``Live``), redrawn on every poll; on a pipe, one line per event as it
arrives, then the table; with ``--json``, one JSON document per event per line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Protocol

from rich.live import Live

from stepwell.cli.client import StepFunctions
from stepwell.cli.output import console, show, write_json
from stepwell.cli.views import event_line, outcome_view, progress_view
from stepwell.engine.progress import EXECUTION_ENDS, ExecutionProgress

Event = dict[str, Any]
DEFAULT_INTERVAL = 0.5


class Display(Protocol):
    def __enter__(self) -> Display: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def show(self, events: Sequence[Event], progress: ExecutionProgress) -> None: ...


def follow(
    client: StepFunctions,
    execution_arn: str,
    *,
    as_json: bool,
    interval: float = DEFAULT_INTERVAL,
    sleep: Callable[[float], None] = time.sleep,
) -> ExecutionProgress:
    """Show an execution's events until it ends; return what they told."""
    progress = ExecutionProgress()
    name = execution_arn.rsplit(":", 1)[-1]
    with _display(as_json, name) as display:
        for batch in _polls(client, execution_arn, interval, sleep):
            for event in batch:
                progress.add(event)
            display.show(batch, progress)
    if not as_json:
        show(outcome_view(progress))
    return progress


def _polls(
    client: StepFunctions, execution_arn: str, interval: float, sleep: Callable[[float], None]
) -> Iterator[list[Event]]:
    """The new events of each poll (maybe none), until the execution's end event."""
    last_id = 0
    delays = backoff(interval)
    while True:
        events = client.events_after(execution_arn, last_id)
        yield events
        if events:
            last_id = events[-1]["id"]
            if events[-1]["type"] in EXECUTION_ENDS:
                return
            delays = backoff(interval)  # things are happening: look again soon
        sleep(next(delays))


def backoff(interval: float, first: float = 0.02) -> Iterator[float]:
    """Poll delays: quick at first, since most steps take milliseconds, then ``interval``."""
    delay = min(first, interval)
    while True:
        yield delay
        delay = min(delay * 2, interval)


def _display(as_json: bool, name: str) -> Display:
    if as_json:
        return JsonLines()
    if console().is_terminal:
        return LiveTable(name)
    return EventLines(name)


class JsonLines:
    def __enter__(self) -> JsonLines:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def show(self, events: Sequence[Event], progress: ExecutionProgress) -> None:
        for event in events:
            write_json(event, indent=False)


class EventLines:
    def __init__(self, name: str) -> None:
        self.name = name
        self.progress: ExecutionProgress | None = None

    def __enter__(self) -> EventLines:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc_info: object) -> None:
        if kind is None and self.progress is not None:
            show(progress_view(self.progress, self.name))

    def show(self, events: Sequence[Event], progress: ExecutionProgress) -> None:
        self.progress = progress
        for event in events:
            show(event_line(event, progress.state_of(event["id"])))


class LiveTable:
    def __init__(self, name: str) -> None:
        self.name = name
        self.live = Live(console=console(), auto_refresh=False)

    def __enter__(self) -> LiveTable:
        self.live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.live.stop()

    def show(self, events: Sequence[Event], progress: ExecutionProgress) -> None:
        self.live.update(progress_view(progress, self.name), refresh=True)
