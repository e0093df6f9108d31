"""An ``ExecutionState`` as JSON text and back, for stores that keep it between steps.

The state is plain data by design (see ``execution.py``); this module only spells out
the two conversions so the format is in one place. Datetimes travel as ISO 8601 text.

Depth: JSON data (execution input, task output) may nest at most ``MAX_DEPTH`` levels;
the API refuses deeper input with a 400 (``service.core.execution_input``). Everything
that serializes data (``dump_execution``, ``history.to_json_text``) handles that depth
plus the levels a workflow adds around it (Parameters, ResultPath, the state's own
wrapping): orjson up to 254 levels, Python's ``json`` beyond. Data a workflow nests far
past that fails the execution with ``States.Runtime`` (``runtime.worker``), never a
worker.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

import orjson

from stepwell.engine.execution import ExecutionInfo, ExecutionState, Fanout, Frame
from stepwell.language.verbatim import (
    BIG_INTEGERS,
    dump_stored,
    escape_keys,
    parse_json,
    restore_stored,
)

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS
MAX_DEPTH = 250  # levels of arrays and objects JSON data may nest (see the docstring)


def nesting_depth(value: Any) -> int:
    """How many levels of arrays and objects ``value`` nests (a scalar: 0). Iterative, so
    any depth is measured without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def dump_execution(execution: ExecutionState) -> bytes:
    """The state as JSON, written by orjson from the dataclasses in C, no copy made first
    (frame ids, the only keys that are not text, become text as in ``json``); values kept
    as sent keep their text (I1, ``dump_stored``)."""
    try:
        return dump_stored(execution, _OPTIONS)
    except TypeError:  # an integer beyond 64 bits somewhere in the data
        data = escape_keys(asdict(execution))
        text = json.dumps(data, default=_encode, separators=(",", ":")).encode()
        return BIG_INTEGERS + text  # read back by json, not orjson (parse_json)


def load_execution(data: bytes | str) -> ExecutionState:
    """The state ``dump_execution`` wrote, integers beyond 64 bits still integers."""
    raw = restore_stored(parse_json(data), data)
    info = raw.pop("info")
    frames = raw.pop("frames")
    return ExecutionState(
        info=ExecutionInfo(
            **{
                **info,
                "start_time": _time(info["start_time"]),
                "redrive_time": _time(info.get("redrive_time")),
            }
        ),
        frames={int(key): _frame(value) for key, value in frames.items()},
        **raw,
    )


def _frame(raw: dict[str, Any]) -> Frame:
    fanout = raw.pop("fanout")
    map_item = raw.pop("map_item")
    return Frame(
        **{
            **raw,
            "entered_time": _time(raw["entered_time"]),
            "heartbeat_due": _time(raw["heartbeat_due"]),
        },
        fanout=Fanout(**fanout) if fanout is not None else None,
        map_item=tuple(map_item) if map_item is not None else None,
    )


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialize {type(value).__name__}")
