"""How the command line speaks: rich text for people, JSON for programs, one line per error.

Design decision: a command computes its result as data, the API response members as
boto3 would return them, and ``emit`` prints it either as JSON (``--json``: the members
without ``ResponseMetadata``, timestamps in ISO 8601) or through a renderer that turns
the same data into rich text. Colours appear only on a terminal (rich's detection, which
honours ``NO_COLOR`` and ``FORCE_COLOR``); piped output is plain and never wrapped, so
``grep`` and ``cut`` see whole lines. Console markup is off: messages and payloads are
user data and print verbatim, even when they contain ``[brackets]``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TextIO

import orjson
from rich.console import Console, RenderableType
from rich.json import JSON as JsonView
from rich.table import Table
from rich.text import Text

# Colours of statuses, as the Step Functions console shows them: green succeeded, red
# failed, yellow in progress or waiting, orange a caught error, grey aborted.
STATUS_STYLES: Mapping[str, str] = {
    "SUCCEEDED": "green",
    "ACTIVE": "green",
    "FAILED": "red",
    "TIMED_OUT": "red",
    "CAUGHT_ERROR": "dark_orange",
    "RUNNING": "yellow",
    "IN_PROGRESS": "yellow",
    "WAITING": "yellow",
    "PENDING_REDRIVE": "yellow",
    "ABORTED": "bright_black",
    "DELETING": "bright_black",
}
UNWRAPPED_WIDTH = 1000  # piped output: lines are never wrapped


class CommandError(Exception):
    """A problem the user can fix, printed as ``error: [Type: ]message``, never a traceback.

    ``error_type`` is the AWS error type when the server sent one
    (``StateMachineDoesNotExist``); ``exit_code`` is 1 for those and 2 for local mistakes
    (a file that cannot be read, input that is not JSON). ``notes`` print after the error
    line (the local diagnostics of a definition the server refused).
    """

    def __init__(self, message: str, error_type: str = "", exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.exit_code = exit_code
        self.notes: tuple[RenderableType, ...] = ()

    def __str__(self) -> str:
        return f"{self.error_type}: {self.message}" if self.error_type else self.message


def console(file: TextIO | None = None) -> Console:
    """A console on ``file`` (default: the current ``sys.stdout``)."""
    target = file if file is not None else sys.stdout
    terminal = target.isatty()
    return Console(
        file=target,
        markup=False,
        emoji=False,
        highlight=False,
        width=None if terminal else UNWRAPPED_WIDTH,
    )


def print_error(problem: CommandError) -> None:
    text = Text("error:", style="bold red")
    text.append(f" {problem}")
    show(text, sys.stderr)
    for note in problem.notes:
        show(note, sys.stderr)


def json_bytes(value: Any, *, indent: bool = True) -> bytes:
    """JSON as the API members look on the wire, except timestamps in ISO 8601."""
    option = orjson.OPT_INDENT_2 if indent else 0
    try:
        return orjson.dumps(value, option=option | orjson.OPT_NON_STR_KEYS)
    except TypeError:  # integers beyond 64 bits
        return json.dumps(value, indent=2 if indent else None, default=str).encode()


def write_json(value: Any, *, indent: bool = True) -> None:
    sys.stdout.write(json_bytes(value, indent=indent).decode() + "\n")
    sys.stdout.flush()


def without_metadata(response: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


Renderer = Callable[[dict[str, Any]], RenderableType]


def emit(response: Mapping[str, Any], as_json: bool, render: Renderer) -> None:
    """Print a command's result: JSON for ``--json``, else ``render``'s rich text."""
    data = without_metadata(response)
    if as_json:
        write_json(data)
    else:
        show(render(data))


def show(renderable: RenderableType, file: TextIO | None = None) -> None:
    """Print rich text; on a pipe, without the padding tables add at the ends of lines."""
    out = console(file)
    if out.is_terminal:
        out.print(renderable, soft_wrap=True)
        return
    with out.capture() as captured:
        out.print(renderable, soft_wrap=True)
    lines = captured.get().splitlines()
    out.file.write("".join(line.rstrip() + "\n" for line in lines))
    out.file.flush()


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def timestamp(value: datetime | None, *, date: bool = True) -> str:
    """A timestamp in local time, to the millisecond; the date is optional."""
    if value is None:
        return ""
    local = value.astimezone()
    text = local.strftime("%Y-%m-%d %H:%M:%S.%f" if date else "%H:%M:%S.%f")[:-3]
    return f"{text} {local.strftime('%z')}" if date else text


def json_view(text: str | None) -> RenderableType:
    """A JSON document shown indented (and coloured on a terminal); other text as is."""
    if text is None:
        return Text("")
    try:
        return JsonView(text, indent=2, highlight=True)
    except ValueError:
        return Text(text)


def one_line(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def details_table(rows: Iterable[tuple[str, RenderableType | str | None]]) -> Table:
    """Label / value rows, leaving out values that are absent."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in rows:
        if value is not None and value != "":
            grid.add_row(label, value)
    return grid


def list_table(*columns: str) -> Table:
    """A plain table with a header row; ARN columns never wrap mid-ARN on a terminal."""
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold" if column == "ARN" else "ellipsis")
    return table
