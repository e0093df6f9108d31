"""Options and arguments shared by several commands, and reading what they point at.

``--input``/``OUTPUT`` values follow the AWS CLI's convention: JSON text, or ``@path``
for a file's contents (``@-`` for standard input).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from stepwell.cli.client import DEFAULT_ENDPOINT, ENDPOINT_VARIABLE
from stepwell.cli.output import CommandError
from stepwell.cli.watch import DEFAULT_INTERVAL

endpoint_option = click.option(
    "--endpoint",
    envvar=ENDPOINT_VARIABLE,
    default=DEFAULT_ENDPOINT,
    show_default=True,
    show_envvar=True,
    metavar="URL",
    help="The Stepwell server (any Step Functions API endpoint).",
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print the API response as JSON instead of text."
)
interval_option = click.option(
    "--interval",
    type=click.FloatRange(min=0.01),
    default=DEFAULT_INTERVAL,
    show_default=True,
    metavar="SECONDS",
    help="Longest pause between polls while waiting or following.",
)
definition_argument = click.argument(
    "definition_file",
    metavar="DEFINITION_FILE",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)


def read_file(path: Path) -> str:
    """A text file's contents; a clear error (exit 2) when it cannot be read as text."""
    try:
        return path.read_text()
    except OSError as problem:
        raise CommandError(f"cannot read {path}: {problem.strerror}", "", 2) from None
    except UnicodeDecodeError as problem:
        raise CommandError(
            f"cannot read {path}: not UTF-8 text ({problem.reason})", "", 2
        ) from None


def read_json_input(value: str, what: str) -> object:
    """JSON from text or ``@file``; a clear error (exit 2) when it is not JSON."""
    text = read_text_or_file(value, what)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as problem:
        raise CommandError(f"{what} is not valid JSON: {problem}", "", 2) from None


def read_text_or_file(value: str, what: str) -> str:
    """``value`` itself, or the contents of the file it names as ``@path`` (``@-``: stdin)."""
    if not value.startswith("@"):
        return value
    if value == "@-":
        return sys.stdin.read()
    try:
        return Path(value[1:]).read_text()
    except OSError as problem:
        raise CommandError(
            f"cannot read {what} from {value[1:]}: {problem.strerror}", "", 2
        ) from None
