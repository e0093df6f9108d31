"""``stepwell schedules``: EventBridge rules with a schedule (``cron(...)``, ``rate(...)``)
that start executions. A schedule is the same rule ``aws events put-rule`` makes
(``runtime.schedules``); these commands work on the server's database directly
(``--db`` / ``STEPWELL_DB``), as ``stepwell serve`` does, and the running workers pick
changes up on their next tick."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.table import Table

from stepwell.cli.output import CommandError, show, write_json
from stepwell.runtime.schedules import add_schedule, list_schedules, remove_schedule
from stepwell.service.settings import load_settings
from stepwell.store import open_store
from stepwell.store.base import Store

_db = click.option("--db", envvar="STEPWELL_DB", help="The server's database [STEPWELL_DB].")
_json = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@contextmanager
def _store(db: str | None) -> Iterator[Store]:
    settings = load_settings({"db": db})
    try:
        store = open_store(settings.db)
    except Exception as problem:
        raise CommandError(f"cannot open {settings.db}: {problem}", "", 2) from None
    try:
        yield store
    finally:
        store.close()


def _guard(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except ValueError as problem:  # ScheduleError, ScheduleExpressionError
        raise CommandError(str(problem), "", 2) from None


@click.group("schedules")
def schedules() -> None:
    """Schedules that start executions (cron(...) or rate(...), EventBridge syntax)."""


@schedules.command("add")
@click.argument("name")
@click.argument("expression")
@click.argument("state_machine_arn")
@click.option("--input", "input_text", help="Execution input (JSON); default: the event.")
@click.option("--disabled", is_flag=True, help="Create it switched off.")
@_db
@_json
def add(
    name: str,
    expression: str,
    state_machine_arn: str,
    input_text: str | None,
    disabled: bool,
    db: str | None,
    as_json: bool,
) -> None:
    """Create or replace schedule NAME, e.g. 'rate(5 minutes)' or 'cron(0 12 * * ? *)'."""
    with _store(db) as store:
        schedule = _guard(
            lambda: add_schedule(
                store, name, expression, state_machine_arn, input_text, enabled=not disabled
            )
        )
    if as_json:
        write_json(
            {
                "name": schedule.name,
                "expression": schedule.expression,
                "stateMachineArn": schedule.state_machine_arn,
            }
        )
    else:
        click.echo(f"Scheduled {schedule.name}: {schedule.expression}")


@schedules.command("list")
@_db
@_json
def list_command(db: str | None, as_json: bool) -> None:
    """List the schedules with their next tick."""
    with _store(db) as store:
        found = list_schedules(store)
    if as_json:
        write_json(found)
        return
    if not found:
        click.echo("No schedules.")
        return
    table = Table("Name", "Expression", "State machine", "Next tick", "Enabled")
    for entry in found:
        table.add_row(
            *(
                str(entry.get(key, ""))
                for key in ("name", "expression", "state_machine_arn", "next_tick", "enabled")
            )
        )
    show(table)


@schedules.command("remove")
@click.argument("name")
@_db
def remove(name: str, db: str | None) -> None:
    """Delete schedule NAME."""
    with _store(db) as store:
        if not remove_schedule(store, name):
            raise CommandError(f"no schedule named {name}", "", 1)
    click.echo(f"Removed {name}")
