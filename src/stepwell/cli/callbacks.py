"""Callback commands: finish or keep alive a task waiting for its token
(``.waitForTaskToken``), as a worker or a queue consumer would with SendTaskSuccess,
SendTaskFailure and SendTaskHeartbeat."""

from __future__ import annotations

import click

from stepwell.cli.client import StepFunctions
from stepwell.cli.options import endpoint_option, json_option, read_text_or_file
from stepwell.cli.output import emit


@click.command("send-success", short_help="Complete a callback task with its output.")
@click.argument("token")
@click.argument("output", metavar="OUTPUT")
@endpoint_option
@json_option
def send_success(token: str, output: str, endpoint: str, as_json: bool) -> int:
    """Complete the task waiting for TOKEN with OUTPUT (JSON, or @file)."""
    text = read_text_or_file(output, "OUTPUT")
    response = StepFunctions(endpoint).call("send_task_success", taskToken=token, output=text)
    emit(response, as_json, lambda data: "Sent task success.")
    return 0


@click.command("send-failure", short_help="Fail a callback task.")
@click.argument("token")
@click.option("--error", help="The error code (what Catch and Retry match).")
@click.option("--cause", help="A longer explanation.")
@endpoint_option
@json_option
def send_failure(
    token: str, error: str | None, cause: str | None, endpoint: str, as_json: bool
) -> int:
    """Fail the task waiting for TOKEN."""
    members = {
        key: value for key, value in (("error", error), ("cause", cause)) if value is not None
    }
    response = StepFunctions(endpoint).call("send_task_failure", taskToken=token, **members)
    emit(response, as_json, lambda data: "Sent task failure.")
    return 0


@click.command("send-heartbeat", short_help="Keep a callback task alive.")
@click.argument("token")
@endpoint_option
@json_option
def send_heartbeat(token: str, endpoint: str, as_json: bool) -> int:
    """Tell the task waiting for TOKEN that its worker is still at it (HeartbeatSeconds)."""
    response = StepFunctions(endpoint).call("send_task_heartbeat", taskToken=token)
    emit(response, as_json, lambda data: "Sent task heartbeat.")
    return 0
