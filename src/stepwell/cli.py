"""The ``stepwell`` command line.

``stepwell serve`` runs the AWS Step Functions API server (with workers);
``stepwell worker`` runs workers only, against the same database;
``stepwell run DEFINITION`` runs an execution in-process on a virtual clock and prints
its result; ``stepwell validate FILE...`` prints every diagnostic as file:line:col.
Server settings come from flags, then ``STEPWELL_*`` variables, then ``stepwell.toml``.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from stepwell.integrations.functions import load_functions
from stepwell.language.compiler import InvalidDefinition
from stepwell.language.validation import validate_definition
from stepwell.runtime.local import run
from stepwell.service.host import Host
from stepwell.service.settings import load_settings


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
    for name, text in (
        ("serve", "run the API server and workers"),
        ("worker", "run workers only (no API)"),
    ):
        server = commands.add_parser(name, help=text)
        server.add_argument("--config", help="TOML settings file (default ./stepwell.toml)")
        server.add_argument("--db", help="stepwell.db | sqlite:///path | postgresql://... | memory")
        server.add_argument("--workers", type=int, help="threads advancing executions")
        server.add_argument("--invokers", type=int, help="threads running tasks")
        server.add_argument(
            "--functions",
            dest="functions_module",
            help="module or .py file whose functions are Lambda functions",
        )
        server.add_argument("--region")
        server.add_argument("--account")
        if name == "serve":
            server.add_argument("--host")
            server.add_argument("--port", type=int)
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command in ("serve", "worker"):
            return _serve(args)
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
    functions = load_functions(args.functions) if args.functions else {}
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


def _serve(args: argparse.Namespace) -> int:
    flags = {key: value for key, value in vars(args).items() if key not in ("command", "config")}
    settings = load_settings(flags, config=args.config)
    host = Host(settings).start()
    try:
        if args.command == "worker":
            threading.Event().wait()
        else:
            import uvicorn

            from stepwell.api.app import create_app
            from stepwell.api.settings import ApiSettings

            api = ApiSettings(
                region=settings.region,
                account_id=settings.account,
                credentials=dict(settings.credentials),
            )
            print(
                f"Stepwell serving the Step Functions API on http://{settings.host}:"
                f"{settings.port} (store: {settings.db})",
                file=sys.stderr,
            )
            uvicorn.run(
                create_app(host.service, api),
                host=settings.host,
                port=settings.port,
                log_level=settings.log_level,
                access_log=False,
            )
    except KeyboardInterrupt:
        pass
    finally:
        host.stop()
    return 0


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
