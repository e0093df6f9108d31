"""The ``stepwell`` command line: run and validate definitions.

``stepwell run DEFINITION`` runs an execution in-process on a virtual clock and prints
its result; ``stepwell validate FILE...`` prints every diagnostic as file:line:col.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from stepwell.language.compiler import InvalidDefinition
from stepwell.language.validation import validate_definition
from stepwell.runtime.local import run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stepwell", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="run a definition in-process")
    run_parser.add_argument("definition", type=Path)
    run_parser.add_argument("--input", default="{}", help="JSON text, or @file")
    run_parser.add_argument("--functions", help="a Python file or module of functions")
    run_parser.add_argument("--history", action="store_true", help="print the history too")
    validate_parser = commands.add_parser("validate", help="check definitions")
    validate_parser.add_argument("files", type=Path, nargs="+")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        return _validate(args.files)
    except (OSError, ValueError) as problem:
        print(f"stepwell: {problem}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    text = (
        args.input[1:] and Path(args.input[1:]).read_text()
        if args.input.startswith("@")
        else args.input
    )
    functions = _load_functions(args.functions) if args.functions else {}
    try:
        result = run(args.definition.read_text(), text, functions=functions)
    except InvalidDefinition as invalid:
        print(f"{args.definition}: {invalid}", file=sys.stderr)
        return 2
    report: dict[str, Any] = {"status": result.status}
    if result.succeeded:
        report["output"] = result.output
    else:
        report.update(error=result.error, cause=result.cause)
    if args.history:
        report["history"] = [
            {**event, "timestamp": event["timestamp"].isoformat()} for event in result.history
        ]
    sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0 if result.succeeded else 1


def _load_functions(reference: str) -> dict[str, Callable[..., Any]]:
    path = Path(reference)
    if path.suffix == ".py":
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise ValueError(f"cannot load {reference}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(reference)
    return {
        name: value
        for name, value in vars(module).items()
        if callable(value)
        and not name.startswith("_")
        and getattr(value, "__module__", None) == module.__name__
    }


def _validate(files: list[Path]) -> int:
    failed = False
    for path in files:
        for diagnostic in validate_definition(path.read_text()):
            failed = failed or diagnostic.severity == "ERROR"
            where = f"{path}:{diagnostic.line or 0}:{diagnostic.column or 0}"
            print(
                f"{where}: {diagnostic.severity} {diagnostic.code}: {diagnostic.message} "
                f"({diagnostic.location})"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
