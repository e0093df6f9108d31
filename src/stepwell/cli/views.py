"""Rich renderings of API results: descriptions, lists, history events, state progress.

Each function takes the API response members (as botocore returns them: timestamps as
``datetime``, payloads as JSON text) and returns something rich can print. Nothing here
talks to the server or decides between JSON and text; ``output.emit`` does that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from stepwell.cli.output import (
    details_table,
    json_view,
    list_table,
    one_line,
    status_text,
    timestamp,
)
from stepwell.engine.progress import ExecutionProgress, error_summary, event_details

# History event types by how they end, for colouring the Type column.
_EVENT_STYLES: tuple[tuple[str, str], ...] = (
    ("Failed", "red"),
    ("TimedOut", "red"),
    ("Aborted", "bright_black"),
    ("Succeeded", "green"),
    ("Exited", "green"),
)


def machine_view(data: Mapping[str, Any]) -> RenderableType:
    """DescribeStateMachine."""
    summary = details_table(
        [
            ("Name", data.get("name")),
            ("ARN", data.get("stateMachineArn")),
            ("Type", data.get("type")),
            ("Status", status_text(str(data.get("status", "")))),
            ("Created", timestamp(data.get("creationDate"))),
            ("Role", data.get("roleArn")),
            ("Revision", data.get("revisionId")),
            ("Description", data.get("description")),
        ]
    )
    return Group(summary, Text("Definition", style="bold"), json_view(data.get("definition")))


def execution_view(data: Mapping[str, Any]) -> RenderableType:
    """DescribeExecution and StartSyncExecution: where it stands and what it returned."""
    return details_table(
        [
            ("Name", data.get("name")),
            ("ARN", data.get("executionArn")),
            ("State machine", data.get("stateMachineArn")),
            ("Status", status_text(str(data.get("status", "")))),
            ("Started", timestamp(data.get("startDate"))),
            ("Stopped", timestamp(data.get("stopDate"))),
            ("Input", json_view(data["input"]) if "input" in data else None),
            ("Output", json_view(data["output"]) if "output" in data else None),
            ("Error", data.get("error")),
            ("Cause", data.get("cause")),
        ]
    )


def machines_view(data: Mapping[str, Any]) -> RenderableType:
    """ListStateMachines, all pages."""
    items = data["stateMachines"]
    if not items:
        return Text("No state machines.")
    table = list_table("Name", "Type", "Created", "ARN")
    for item in items:
        table.add_row(
            item["name"], item["type"], timestamp(item["creationDate"]), item["stateMachineArn"]
        )
    return table


def executions_view(data: Mapping[str, Any]) -> RenderableType:
    """ListExecutions, newest first."""
    items = data["executions"]
    if not items:
        return Text("No executions.")
    table = list_table("Name", "Status", "Started", "Stopped", "ARN")
    for item in items:
        table.add_row(
            item["name"],
            status_text(item["status"]),
            timestamp(item["startDate"]),
            timestamp(item.get("stopDate")),
            item["executionArn"],
        )
    return table


def events_view(events: Iterable[Mapping[str, Any]]) -> RenderableType:
    """GetExecutionHistory as a table: id, time, type, state, the gist of the details."""
    progress = ExecutionProgress()
    table = list_table("ID", "Time", "Type", "State", "Details")
    for event in events:
        progress.add(event)
        table.add_row(*event_cells(event, progress.state_of(event["id"])))
    return table


def event_cells(event: Mapping[str, Any], state: str) -> tuple[str, str, Text, str, str]:
    return (
        str(event["id"]),
        timestamp(event.get("timestamp"), date=False),
        event_type_text(event["type"]),
        state,
        event_gist(event),
    )


def event_line(event: Mapping[str, Any], state: str) -> Text:
    """One event as one line, for following a history on a pipe."""
    number, time, kind, name, gist = event_cells(event, state)
    line = Text(f"{number:>5}  {time}  ")
    line.append_text(kind.copy())
    line.append(" " * max(1, 28 - len(kind)) + f"{name:<24}  {gist}".rstrip())
    return line


def event_type_text(event_type: str) -> Text:
    for suffix, style in _EVENT_STYLES:
        if event_type.endswith(suffix):
            return Text(event_type, style=style)
    return Text(event_type)


def event_gist(event: Mapping[str, Any]) -> str:
    details = event_details(event)
    summary = error_summary(details)
    if summary:
        return one_line(summary)
    for key in ("output", "input", "parameters"):
        if key in details:
            return one_line(str(details[key]))
    return ""


def progress_view(progress: ExecutionProgress, name: str = "") -> RenderableType:
    """The state table of ``history --follow``: each state's status, coloured."""
    header = Text.assemble(
        (name + "  " if name else "", "bold"),
        status_text(progress.status),
        f"  {progress.event_count} events  {_elapsed(progress)}",
    )
    table = list_table("State", "Type", "Status", "Entered", "Retries", "Error")
    for row in progress.rows():
        table.add_row(
            row.name,
            row.state_type,
            status_text(row.status),
            str(row.entered),
            str(row.retries) if row.retries else "",
            one_line(row.error, 60),
        )
    return Group(header, table)


def outcome_view(progress: ExecutionProgress) -> RenderableType:
    """How a followed execution ended: its output, or its error and cause."""
    details = progress.end_details
    return details_table(
        [
            ("Status", status_text(progress.status)),
            ("Output", json_view(details["output"]) if "output" in details else None),
            ("Error", details.get("error")),
            ("Cause", details.get("cause")),
        ]
    )


def _elapsed(progress: ExecutionProgress) -> str:
    if progress.started is None:
        return ""
    end = progress.stopped or datetime.now(UTC)
    return f"{max(0.0, (end - progress.started).total_seconds()):.1f}s"
