"""The web console: graph layout, state colours from a history, and the JSON endpoints
the page reads, over a real service."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

import stepwell
from stepwell.console.app import console_routes
from stepwell.console.graph import layout, statuses
from stepwell.service.host import Host
from stepwell.service.settings import Settings
from tests.api.api_helpers import AsgiClient, asgi_client

BUSY = json.loads((Path(__file__).parents[2] / "examples/busy_waiting.asl.json").read_text())


def test_layout_puts_states_in_layers_from_start() -> None:
    graph = layout(BUSY)
    y = {node["name"]: node["y"] for node in graph["nodes"]}
    assert y["Main"] < y["WaitforInvocation"] < y["CheckInvocationsStatus"] < y["Final"]
    edges = {(e["from"], e["to"], e["kind"]) for e in graph["edges"]}
    assert ("CheckInvocationsStatus", "Main", "default") in edges
    assert ("CheckInvocationsStatus", "Final", "choice") in edges
    assert graph["width"] > 0 and graph["height"] > 0


def test_layout_nests_parallel_branches_and_map_processors() -> None:
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "End": True,
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
                    {
                        "StartAt": "M",
                        "States": {
                            "M": {
                                "Type": "Map",
                                "End": True,
                                "ItemProcessor": {
                                    "StartAt": "I",
                                    "States": {"I": {"Type": "Pass", "End": True}},
                                },
                            }
                        },
                    },
                ],
            },
        },
    }
    parallel = layout(definition)["nodes"][0]
    assert [c["nodes"][0]["name"] for c in parallel["children"]] == ["A", "M"]
    inner_map = parallel["children"][1]["nodes"][0]
    assert inner_map["children"][0]["nodes"][0]["name"] == "I"
    assert parallel["width"] >= sum(c["width"] for c in parallel["children"])


def test_layout_survives_a_broken_definition() -> None:
    assert layout({"States": "nope"})["nodes"] == []
    assert layout({"StartAt": "Gone", "States": {"A": 1}})["nodes"][0]["type"] == "?"


def history_of(definition: dict[str, Any], functions: dict[str, Any], given: Any) -> Any:
    return stepwell.run(definition, given, functions=functions, seed=1).history


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        (
            {
                "StartAt": "A",
                "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}},
            },
            {"A": "SUCCEEDED", "B": "SUCCEEDED"},
        ),
        (
            {
                "StartAt": "A",
                "States": {"A": {"Type": "Pass", "Next": "F"}, "F": {"Type": "Fail", "Error": "E"}},
            },
            {"A": "SUCCEEDED", "F": "FAILED"},
        ),
        (
            {
                "StartAt": "T",
                "States": {
                    "T": {
                        "Type": "Task",
                        "Resource": "arn:aws:lambda:us-east-1:1:function:boom",
                        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}],
                        "End": True,
                    },
                    "H": {"Type": "Pass", "End": True},
                },
            },
            {"T": "CAUGHT_ERROR", "H": "SUCCEEDED"},
        ),
        (
            {
                "StartAt": "T",
                "States": {
                    "T": {
                        "Type": "Task",
                        "Resource": "arn:aws:lambda:us-east-1:1:function:boom",
                        "End": True,
                    }
                },
            },
            {"T": "FAILED"},
        ),
    ],
)
def test_statuses_colour_each_state(definition: dict[str, Any], expected: dict[str, str]) -> None:
    def boom(event: Any) -> Any:
        raise ValueError("no")

    assert statuses(history_of(definition, {"boom": boom}, {})) == expected


def test_a_waiting_state_is_in_progress() -> None:
    events = [
        {"id": 1, "type": "ExecutionStarted"},
        {"id": 2, "type": "WaitStateEntered", "stateEnteredEventDetails": {"name": "W"}},
    ]
    assert statuses(events) == {"W": "IN_PROGRESS"}
    aborted = [*events, {"id": 3, "type": "ExecutionAborted"}]
    assert statuses(aborted) == {"W": "ABORTED"}


@pytest.fixture
def console() -> Iterator[tuple[AsgiClient, Any]]:
    host = Host(Settings(db="memory", workers=1, invokers=1)).start()
    with asgi_client(Starlette(routes=console_routes(host.service))) as client:
        yield client, host.service
    host.stop()


def test_console_pages_and_endpoints(console: tuple[AsgiClient, Any]) -> None:
    client, service = console
    page = client.request("GET", "/console")
    assert page.status == 200 and b"function drawGraph" in page.body
    assert b"http://" not in page.body and b"https://" not in page.body  # works offline
    arn = service.handle(
        "CreateStateMachine",
        {
            "name": "busy",
            "definition": json.dumps(
                {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}}
            ),
            "roleArn": "arn:aws:iam::123456789012:role/r",
        },
    )["stateMachineArn"]
    execution = service.handle("StartExecution", {"stateMachineArn": arn, "name": "run-1"})
    machines = client.request("GET", "/console/api/machines").json()
    assert [m["name"] for m in machines["stateMachines"]] == ["busy"]
    machine = client.request("GET", "/console/api/machine", query_string=f"arn={arn}".encode())
    assert machine.json()["executions"][0]["name"] == "run-1"
    view = client.request(
        "GET", "/console/api/execution", query_string=f"arn={execution['executionArn']}".encode()
    ).json()
    assert view["execution"]["status"] == "RUNNING"
    assert view["statuses"] == {"W": "IN_PROGRESS"}
    assert [e["type"] for e in view["events"]] == ["ExecutionStarted", "WaitStateEntered"]
    missing = client.request("GET", "/console/api/execution", query_string=b"arn=nope")
    assert missing.status == 404 and missing.json()["error"] == "InvalidArn"


def test_a_branch_failure_caught_by_its_parallel() -> None:
    def boom(event: Any) -> Any:
        raise ValueError("no")

    definition = {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Ok", "States": {"Ok": {"Type": "Pass", "End": True}}},
                    {
                        "StartAt": "Bad",
                        "States": {
                            "Bad": {
                                "Type": "Task",
                                "End": True,
                                "Resource": "arn:aws:lambda:us-east-1:1:function:boom",
                            }
                        },
                    },
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Notify"}],
                "End": True,
            },
            "Notify": {"Type": "Fail", "Error": "Batch.Failed"},
        },
    }
    assert statuses(history_of(definition, {"boom": boom}, {})) == {
        "Fan": "CAUGHT_ERROR",
        "Ok": "SUCCEEDED",
        "Bad": "FAILED",
        "Notify": "FAILED",
    }


def test_a_retried_task_that_succeeds_is_green() -> None:
    calls = {"n": 0}

    def flaky(event: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("once")
        return "ok"

    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:1:function:flaky",
                "Retry": [{"ErrorEquals": ["States.ALL"]}],
                "End": True,
            }
        },
    }
    assert statuses(history_of(definition, {"flaky": flaky}, {})) == {"T": "SUCCEEDED"}
