"""Execution commands against a server: ``start``, ``describe``, ``executions``, ``stop``,
``history``.

Commands that wait for an execution to end (``start --wait | --sync | --follow``,
``describe --wait``, ``history --follow``) exit, like ``run``, 1 when it did not
succeed, so a shell script can test the outcome.
"""

from __future__ import annotations

import time
from typing import Any

import click

from stepwell.cli import watch
from stepwell.cli.client import StepFunctions
from stepwell.cli.options import (
    endpoint_option,
    interval_option,
    json_option,
    read_text_or_file,
)
from stepwell.cli.output import emit
from stepwell.cli.views import (
    events_view,
    execution_view,
    executions_view,
    machine_view,
)

STATUSES = click.Choice(
    ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"],
    case_sensitive=False,
)
_EXECUTION_ARN_KINDS = (":execution:", ":express:")


@click.command()
@click.argument("machine")
@click.option("--input", "input_text", metavar="JSON|@FILE", help="Execution input (default {}).")
@click.option("--name", help="Execution name (default: a UUID).")
@click.option("--wait", is_flag=True, help="Wait for the execution to end and show the result.")
@click.option("--follow", is_flag=True, help="Show each state's progress live until it ends.")
@click.option("--sync", is_flag=True, help="StartSyncExecution (Express state machines).")
@interval_option
@endpoint_option
@json_option
def start(
    machine: str,
    input_text: str | None,
    name: str | None,
    wait: bool,
    follow: bool,
    sync: bool,
    interval: float,
    endpoint: str,
    as_json: bool,
) -> int:
    """Start an execution of MACHINE (a name or an ARN).

    With --json: StartExecution's response; DescribeExecution's with --wait, and
    StartSyncExecution's with --sync; one history event per line with --follow.
    """
    client = StepFunctions(endpoint)
    members: dict[str, Any] = {"stateMachineArn": client.machine_arn(machine)}
    if input_text is not None:
        members["input"] = read_text_or_file(input_text, "--input")
    if name is not None:
        members["name"] = name
    if sync:
        return _show_end(client.call("start_sync_execution", **members), as_json)
    started = client.call("start_execution", **members)
    arn = started["executionArn"]
    if follow:
        return _outcome(watch.follow(client, arn, as_json=as_json, interval=interval).status)
    if wait:
        return _show_end(_wait(client, arn, interval), as_json)
    emit(started, as_json, lambda data: f"Started {data['executionArn']}")
    return 0


@click.command(short_help="Describe an execution or a state machine.")
@click.argument("arn", metavar="ARN|MACHINE")
@click.option(
    "--wait", is_flag=True, help="Wait for the execution to end (exit 1 unless it succeeded)."
)
@interval_option
@endpoint_option
@json_option
def describe(arn: str, wait: bool, interval: float, endpoint: str, as_json: bool) -> int:
    """Describe an execution (by ARN) or a state machine (by ARN or name)."""
    client = StepFunctions(endpoint)
    if any(kind in arn for kind in _EXECUTION_ARN_KINDS):
        if wait:
            return _show_end(_wait(client, arn, interval), as_json)
        emit(client.call("describe_execution", executionArn=arn), as_json, execution_view)
    else:
        machine = client.call("describe_state_machine", stateMachineArn=client.machine_arn(arn))
        emit(machine, as_json, machine_view)
    return 0


@click.command(short_help="List a state machine's executions, newest first.")
@click.argument("machine")
@click.option("--status", type=STATUSES, help="Only executions with this status.")
@click.option("--max", "limit", type=click.IntRange(min=1), help="At most this many (newest).")
@endpoint_option
@json_option
def executions(
    machine: str, status: str | None, limit: int | None, endpoint: str, as_json: bool
) -> int:
    """List the executions of MACHINE (a name or an ARN), newest first."""
    client = StepFunctions(endpoint)
    members: dict[str, Any] = {"stateMachineArn": client.machine_arn(machine)}
    if status:
        members["statusFilter"] = status.upper()
    if limit:
        members["PaginationConfig"] = {"MaxItems": limit}
    items = client.collect("list_executions", "executions", **members)
    emit({"executions": items}, as_json, executions_view)
    return 0


@click.command()
@click.argument("execution_arn")
@click.option("--error", help="The error code to record.")
@click.option("--cause", help="A longer explanation to record.")
@endpoint_option
@json_option
def stop(
    execution_arn: str, error: str | None, cause: str | None, endpoint: str, as_json: bool
) -> int:
    """Stop a running execution (it ends ABORTED)."""
    members = {
        key: value for key, value in (("error", error), ("cause", cause)) if value is not None
    }
    response = StepFunctions(endpoint).call("stop_execution", executionArn=execution_arn, **members)
    emit(response, as_json, lambda data: f"Stopped {execution_arn}")
    return 0


@click.command(short_help="Show an execution's history; --follow: live.")
@click.argument("execution_arn")
@click.option("--follow", is_flag=True, help="Keep showing new events until the execution ends.")
@interval_option
@endpoint_option
@json_option
def history(execution_arn: str, follow: bool, interval: float, endpoint: str, as_json: bool) -> int:
    """Show an execution's history events; --follow shows each state's progress live."""
    client = StepFunctions(endpoint)
    if follow:
        progress = watch.follow(client, execution_arn, as_json=as_json, interval=interval)
        return _outcome(progress.status)
    events = client.collect("get_execution_history", "events", executionArn=execution_arn)
    emit({"events": events}, as_json, lambda data: events_view(data["events"]))
    return 0


def _wait(client: StepFunctions, arn: str, interval: float) -> dict[str, Any]:
    delays = watch.backoff(interval)
    while True:
        described = client.call("describe_execution", executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(next(delays))


def _show_end(described: dict[str, Any], as_json: bool) -> int:
    emit(described, as_json, execution_view)
    return _outcome(str(described["status"]))


def _outcome(status: str) -> int:
    return 0 if status == "SUCCEEDED" else 1
