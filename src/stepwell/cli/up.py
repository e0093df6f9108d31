"""``stepwell up [TEMPLATE]``: run a SAM or CloudFormation application.

Reads the template, plans it (``stepwell.stack``), reports what it will create and what
it does not emulate, then starts the server as ``stepwell serve`` does, with the
application in it: tables, queues and topics in the embedded services, functions in
worker processes of their own, state machines, schedules and SQS event sources.
``--check`` stops after the report. Every flag of ``stepwell serve`` applies.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import click

from stepwell.cli.output import CommandError
from stepwell.cli.server import _EPILOG, _host, _serve_api, _setting, _settings, _shared
from stepwell.service.settings import Settings
from stepwell.stack.apply import RunningStack, apply_plan
from stepwell.stack.checks import Findings, check_plan
from stepwell.stack.plan import Plan, plan_stack
from stepwell.stack.template import StackError
from stepwell.store.fresh import wipe_store

_DEFAULT_TEMPLATES = ("template.yaml", "template.yml", "template.json")


@click.command(epilog=_EPILOG)
@click.argument("template", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--parameter-overrides",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Template parameter values (repeat, or several in one: 'A=1 B=2').",
)
@click.option("--stack-name", metavar="NAME", help="Stack name [default: the template's folder].")
@click.option("--check", is_flag=True, help="Only report what would be created, then exit.")
@click.option("--fresh", is_flag=True, help="Start from an empty database.")
@_shared
@_setting("--host", "host", str, "ADDRESS", "Address to listen on.")
@_setting("--port", "port", int, "PORT", "Port to listen on.")
def up(
    template: str | None,
    overrides: tuple[str, ...],
    stack_name: str | None,
    check: bool,
    fresh: bool,
    config: str | None,
    **flags: Any,
) -> int:
    """Run a SAM or CloudFormation application (default: ./template.yaml)."""
    settings = _settings(flags, config)
    path = _template_path(template)
    name = stack_name or _stack_name(path)
    try:
        plan = plan_stack(
            path,
            stack_name=name,
            region=settings.region,
            account=settings.account,
            parameters=parse_overrides(overrides),
        )
    except StackError as problem:
        raise CommandError(str(problem), "StackError", 2) from None
    findings = check_plan(plan)
    report(plan, findings)
    if findings.problems:
        raise CommandError(
            f"{len(findings.problems)} problem(s) stop this application", "StackError", 2
        )
    if check:
        return 0
    if fresh:
        wipe_store(settings.db)
    return _run(plan, settings)


def _run(plan: Plan, settings: Settings) -> int:
    host = _host(settings)
    running: RunningStack | None = None
    try:
        address = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        try:
            running = apply_plan(plan, host, f"http://{address}:{settings.port}")
        except StackError as problem:
            raise CommandError(str(problem), "StackError", 2) from None
        for change in running.changes:
            print(f"  {change}", file=sys.stderr)
        for key, value in plan.outputs.items():
            print(f"Output {key}: {value}", file=sys.stderr)
        _serve_api(host, settings)
    except KeyboardInterrupt:
        pass
    finally:
        if running is not None:
            running.close()
        host.stop()
    return 0


def report(plan: Plan, findings: Findings) -> None:
    out = sys.stderr
    print(f"Stack {plan.stack}:", file=out)
    for resource in plan.resources:
        print(f"  {resource.kind:<21} {resource.logical_id} → {resource.name}", file=out)
    if plan.not_emulated:
        listed = ", ".join(f"{logical} ({kind})" for logical, kind in plan.not_emulated)
        print(f"  not emulated (accepted): {listed}", file=out)
    for warning in findings.warnings:
        print(f"  warning: {warning}", file=out)
    for problem in findings.problems:
        print(f"  problem: {problem}", file=out)


def parse_overrides(overrides: tuple[str, ...]) -> dict[str, str]:
    """``('A=1 B=2', 'C=x')`` and the SAM CLI's ``ParameterKey=A,ParameterValue=1`` form."""
    values: dict[str, str] = {}
    for text in overrides:
        for item in text.split():
            long_form = re.fullmatch(r"ParameterKey=([^,]+),ParameterValue=(.*)", item)
            key, sep, value = (
                (long_form.group(1), "=", long_form.group(2)) if long_form else item.partition("=")
            )
            if not sep or not key:
                raise CommandError(f"--parameter-overrides: {item!r} is not KEY=VALUE", "", 2)
            values[key] = value
    return values


def _template_path(template: str | None) -> Path:
    if template is not None:
        path = Path(template)
        if not path.is_file():
            raise CommandError(f"no template at {template}", "", 2)
        return path
    for candidate in _DEFAULT_TEMPLATES:
        if Path(candidate).is_file():
            return Path(candidate)
    raise CommandError("no template.yaml here: give the template's path", "", 2)


def _stack_name(path: Path) -> str:
    folder = path.resolve().parent.name
    name = re.sub(r"[^A-Za-z0-9-]+", "-", folder).strip("-")
    return name if name[:1].isalpha() else f"stack-{name}".rstrip("-")
