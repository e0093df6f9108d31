"""Commands that need no server: ``run`` a definition in-process, ``validate`` files.

``run`` drives one execution on a virtual clock (Wait states and retry back-off take no
time) with Python functions as its Lambda functions, and exits 0 when it succeeded, 1
when it did not and 2 when the definition is invalid. ``validate`` prints every
diagnostic as ``file:line:col: SEVERITY CODE: message (JSON Pointer)``, the format
editors and CI annotate from, and exits 1 when any is an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Group
from rich.text import Text

from stepwell.cli.options import json_option, read_file, read_json_input
from stepwell.cli.output import (
    CommandError,
    details_table,
    json_bytes,
    json_view,
    show,
    status_text,
    timestamp,
    write_json,
)
from stepwell.cli.views import events_view
from stepwell.integrations.functions import load_functions
from stepwell.language.compiler import InvalidDefinition
from stepwell.language.validation import Diagnostic, validate_definition
from stepwell.runtime.local import ExecutionResult, run

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_SEVERITY_STYLES = {"ERROR": "bold red", "WARNING": "bold yellow"}


@click.command("run", short_help="Run a definition in-process, on a virtual clock.")
@click.argument("definition", type=_FILE)
@click.option("--input", "input_text", default="{}", metavar="JSON|@FILE", help="Execution input.")
@click.option(
    "--functions", metavar="MODULE|FILE.py", help="Python functions to serve as Lambda functions."
)
@click.option("--history", is_flag=True, help="Show the execution history too.")
@json_option
def run_command(
    definition: Path, input_text: str, functions: str | None, history: bool, as_json: bool
) -> int:
    """Run DEFINITION (JSON or YAML) in-process on a virtual clock and show the result."""
    value = read_json_input(input_text, "--input")
    source = read_file(definition)
    try:
        result = run(source, value, functions=_functions(functions))
    except InvalidDefinition as invalid:
        problem = CommandError(str(invalid), "InvalidDefinition", 2)
        problem.notes = tuple(diagnostic_text(definition, item) for item in invalid.diagnostics)
        raise problem from None
    if as_json:
        write_json(_report(result, history))
    else:
        _show(result, history)
    return 0 if result.succeeded else 1


@click.command(short_help="Check definitions; diagnostics as file:line:col.")
@click.argument("files", nargs=-1, required=True, type=_FILE)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print {result, diagnostics} as ValidateStateMachineDefinition does, with file/line.",
)
def validate(files: Sequence[Path], as_json: bool) -> int:
    """Check definition FILES; print each diagnostic as file:line:col."""
    found = [(path, item) for path in files for item in validate_definition(read_file(path))]
    failed = any(item.severity == "ERROR" for _, item in found)
    if as_json:
        write_json(
            {
                "result": "FAIL" if failed else "OK",
                "diagnostics": [_diagnostic_json(path, item) for path, item in found],
            }
        )
    else:
        for path, item in found:
            show(diagnostic_text(path, item))
    return 1 if failed else 0


def _diagnostic_json(path: Path, diagnostic: Diagnostic) -> dict[str, Any]:
    return {
        "file": str(path),
        "line": diagnostic.line,
        "column": diagnostic.column,
        "severity": diagnostic.severity,
        "code": diagnostic.code,
        "message": diagnostic.message,
        "location": diagnostic.location,
    }


def diagnostic_text(path: Path, diagnostic: Diagnostic) -> Text:
    """``file:line:col: SEVERITY CODE: message (location)``, coloured on a terminal."""
    where = f"{path}:{diagnostic.line or 0}:{diagnostic.column or 0}:"
    return Text.assemble(
        (where, "bold"),
        " ",
        (diagnostic.severity, _SEVERITY_STYLES.get(diagnostic.severity, "")),
        " ",
        (f"{diagnostic.code}:", "cyan"),
        f" {diagnostic.message} ",
        (f"({diagnostic.location})", "dim"),
    )


def _functions(reference: str | None) -> dict[str, Any]:
    if not reference:
        return {}
    try:
        return load_functions(reference)
    except (ImportError, OSError, ValueError, AttributeError) as problem:
        raise CommandError(f"cannot load functions from {reference}: {problem}", "", 2) from None


def _report(result: ExecutionResult, history: bool) -> dict[str, Any]:
    report: dict[str, Any] = {"status": result.status}
    if result.succeeded:
        report["output"] = result.output
    else:
        report.update(error=result.error, cause=result.cause)
    if history:
        report["history"] = result.history
    return report


def _show(result: ExecutionResult, history: bool) -> None:
    summary = details_table(
        [
            ("Status", status_text(result.status)),
            ("Started", timestamp(result.start_date)),
            ("Stopped", timestamp(result.stop_date)),
            ("Output", json_view(json_bytes(result.output).decode()) if result.succeeded else None),
            ("Error", result.error),
            ("Cause", result.cause),
        ]
    )
    parts = [events_view(result.history), summary] if history else [summary]
    show(Group(*parts))
