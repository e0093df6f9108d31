"""The console under load and attack (issue 9, faults 4 and 7, and "Also"): its handlers
run the blocking service off the event loop, long histories are paged, a machine nested
a hundred deep still lays out, and every response carries the security headers."""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette

from stepwell.console.app import HISTORY_PAGE, console_routes
from stepwell.console.graph import MAX_NESTED_GRAPHS, layout
from stepwell.service.errors import ExecutionDoesNotExist
from tests.api.api_helpers import AsgiClient, asgi_client

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:m:run"
EVENTS = 25_000


def history(count: int) -> list[dict[str, Any]]:
    """ExecutionStarted, then Pass states P0, P1, … entered and exited."""
    events: list[dict[str, Any]] = [{"id": 1, "type": "ExecutionStarted"}]
    for index in range(2, count + 1):
        kind = "PassStateEntered" if index % 2 == 0 else "PassStateExited"
        details = "stateEnteredEventDetails" if index % 2 == 0 else "stateExitedEventDetails"
        name = f"P{(index - 2) // 2}"
        events.append(
            {"id": index, "previousEventId": index - 1, "type": kind, details: {"name": name}}
        )
    return events


class LongHistoryService:
    """A service with one running execution of ``EVENTS`` events; records its threads."""

    def __init__(self) -> None:
        self.events = history(EVENTS)
        self.threads: set[str] = set()
        self.page_sizes: list[int] = []

    def handle(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        self.threads.add(threading.current_thread().name)
        if request.get("executionArn", EXECUTION) != EXECUTION:
            raise ExecutionDoesNotExist("Execution Does Not Exist: 'nope'")
        if operation == "GetExecutionHistory":
            start = int(request.get("nextToken") or 0)
            size = request["maxResults"]
            self.page_sizes.append(size)
            end = start + size
            page: dict[str, Any] = {"events": self.events[start:end]}
            if end < len(self.events):
                page["nextToken"] = str(end)
            return page
        if operation == "DescribeExecution":
            return {"executionArn": EXECUTION, "name": "run", "status": "RUNNING"}
        if operation == "DescribeStateMachineForExecution":
            states = {"P0": {"Type": "Pass", "End": True}}
            return {"definition": orjson.dumps({"StartAt": "P0", "States": states}).decode()}
        if operation == "ListStateMachines":
            return {"stateMachines": []}
        raise AssertionError(operation)


@pytest.fixture
def service() -> LongHistoryService:
    return LongHistoryService()


@pytest.fixture
def client(service: LongHistoryService) -> Iterator[AsgiClient]:
    with asgi_client(Starlette(routes=console_routes(service))) as client:
        yield client


def get(client: AsgiClient, path: str, query: str = "") -> Any:
    return client.request("GET", path, query_string=query.encode())


@pytest.mark.parametrize(
    "path", ["/console/api/machines", "/console/api/execution", "/console/api/history"]
)
def test_the_service_is_called_off_the_event_loop(
    client: AsgiClient, service: LongHistoryService, path: str
) -> None:
    # Fault 7: the async handlers called the blocking service on the event loop, so a
    # 25,000-event history froze every client for seconds. The service now runs in a
    # worker thread; the event loop's thread (the portal's) never calls it.
    loop_thread = client._portal.call(lambda: threading.current_thread().name)
    assert get(client, path, f"arn={EXECUTION}").status == 200
    assert service.threads and loop_thread not in service.threads


def test_a_long_history_is_sent_a_page_at_a_time(
    client: AsgiClient, service: LongHistoryService
) -> None:
    view = get(client, "/console/api/execution", f"arn={EXECUTION}").json()
    assert [event["id"] for event in view["events"]] == list(range(1, HISTORY_PAGE + 1))
    # The statuses still come from the whole history (event 25,000 enters P12499).
    assert view["statuses"]["P12499"] == "IN_PROGRESS"
    assert view["statuses"]["P12498"] == "SUCCEEDED"
    assert len(view["statuses"]) == 12_500
    token = view["nextToken"]
    seen = len(view["events"])
    while token:
        page = get(client, "/console/api/history", f"arn={EXECUTION}&nextToken={token}").json()
        assert len(page["events"]) <= HISTORY_PAGE
        assert page["events"][0]["id"] == seen + 1
        seen += len(page["events"])
        token = page["nextToken"]
    assert seen == EVENTS


def test_an_unknown_execution_in_the_history_endpoint_is_a_404(client: AsgiClient) -> None:
    reply = get(client, "/console/api/history", "arn=nope")
    assert reply.status == 404 and reply.json()["error"] == "ExecutionDoesNotExist"


@pytest.mark.parametrize(
    "path", ["/console", "/console/api/machines", "/console/api/history?arn=nope"]
)
def test_every_console_response_carries_the_security_headers(client: AsgiClient, path: str) -> None:
    route, _, query = path.partition("?")
    headers = get(client, route, query).headers
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    policy = headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "connect-src 'self'" in policy and "unsafe-eval" not in policy


def test_the_policy_admits_exactly_the_page_script(client: AsgiClient) -> None:
    page = get(client, "/console")
    scripts = re.findall(r"<script>(.*?)</script>", page.body.decode(), re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    policy = page.headers["content-security-policy"]
    assert f"script-src 'sha256-{digest}';" in policy
    assert "onclick=" not in page.body.decode()  # inline handlers would be blocked


def nested_parallels(levels: int) -> dict[str, Any]:
    machine: dict[str, Any] = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    for level in range(levels):
        name = f"P{level}"
        state = {"Type": "Parallel", "Branches": [machine], "End": True}
        machine = {"StartAt": name, "States": {name: state}}
    return machine


def test_a_machine_nested_a_hundred_deep_lays_out_collapsed_past_the_limit() -> None:
    # Fault 4: the layout of a 100-deep machine recursed past what orjson can encode.
    graph = layout(nested_parallels(100))
    depth = 0
    node = graph["nodes"][0]
    while node["children"]:
        node = node["children"][0]["nodes"][0]
        depth += 1
    assert depth == MAX_NESTED_GRAPHS
    assert node["collapsed"] is True
    assert orjson.loads(orjson.dumps(graph)) == graph
