"""The web console: state machines, executions, the graph with live state colours, and
the history, served by the same server under ``/console``.

The page (``static/console.html``) is one self-contained file — no CDN, works offline —
that reads three JSON endpoints built on the service, the same operations the AWS API
serves:

* ``GET /console/api/machines`` — state machines with their latest executions;
* ``GET /console/api/machine?arn=`` — one machine: definition, laid-out graph, executions;
* ``GET /console/api/execution?arn=`` — description, history, graph, state statuses.

The console is read-only. When the server requires SigV4 the console is not mounted
(it cannot sign), so it never opens a way around authentication.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from stepwell.console.graph import layout, statuses
from stepwell.service.errors import ServiceError

Handler = Any  # anything with handle(operation, request) -> response, like Service


def console_routes(service: Handler) -> list[BaseRoute]:
    page = resources.files("stepwell.console").joinpath("static/console.html").read_text()

    async def index(request: Request) -> Response:
        return HTMLResponse(page)

    def call(operation: str, members: dict[str, Any]) -> Any:
        return service.handle(operation, members)

    async def machines(request: Request) -> Response:
        listed = call("ListStateMachines", {"maxResults": 1000})["stateMachines"]
        return _json({"stateMachines": listed})

    async def machine(request: Request) -> Response:
        arn = request.query_params.get("arn", "")
        return _guarded(lambda: _machine_view(call, arn))

    async def execution(request: Request) -> Response:
        arn = request.query_params.get("arn", "")
        return _guarded(lambda: _execution_view(call, arn))

    return [
        Route("/console", index, methods=["GET"]),
        Route("/console/", index, methods=["GET"]),
        Route("/console/api/machines", machines, methods=["GET"]),
        Route("/console/api/machine", machine, methods=["GET"]),
        Route("/console/api/execution", execution, methods=["GET"]),
    ]


def _machine_view(call: Any, arn: str) -> dict[str, Any]:
    described = call("DescribeStateMachine", {"stateMachineArn": arn})
    executions = call("ListExecutions", {"stateMachineArn": arn, "maxResults": 100})
    definition = orjson.loads(described["definition"])
    return {
        "machine": described,
        "graph": layout(definition),
        "executions": executions["executions"],
    }


def _execution_view(call: Any, arn: str) -> dict[str, Any]:
    described = call("DescribeExecution", {"executionArn": arn})
    events: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = call(
            "GetExecutionHistory",
            {"executionArn": arn, "maxResults": 1000, **({"nextToken": token} if token else {})},
        )
        events.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            break
    machine = call("DescribeStateMachineForExecution", {"executionArn": arn})
    return {
        "execution": described,
        "graph": layout(orjson.loads(machine["definition"])),
        "statuses": statuses(events),
        "events": events,
    }


def _guarded(build: Any) -> Response:
    try:
        return _json(build())
    except ServiceError as error:
        return _json({"error": error.aws_type, "message": error.message}, status=404)


def _json(data: Any, status: int = 200) -> Response:
    body = orjson.dumps(data, option=orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z)
    return Response(body, status_code=status, media_type="application/json")
