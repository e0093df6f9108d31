"""Lambda stand-ins for the crash tests: each call leaves a line in a log file, so a test
can see that every task ran at least once (and how often it ran again after a crash)."""

from __future__ import annotations

import os
from typing import Any


def _record(name: str, event: Any) -> None:
    path = os.environ.get("STEPWELL_CRASH_LOG")
    if path:
        with open(path, "a") as log:
            log.write(f"{os.getpid()} {name} {event}\n")


def square(event: Any) -> Any:
    _record("square", event)
    return {"n": event["n"], "square": event["n"] * event["n"]}


def label(event: Any) -> Any:
    _record("label", event)
    return f"item-{event}"
