"""The web console: state machines, executions, the graph with live state colours, and
the history, served by the same server under ``/console``.

The page (``static/console.html``) is one self-contained file — no CDN, works offline —
that reads four JSON endpoints built on the service, the same operations the AWS API
serves:

* ``GET /console/api/machines`` — state machines with their latest executions;
* ``GET /console/api/machine?arn=`` — one machine: definition, laid-out graph, executions;
* ``GET /console/api/execution?arn=`` — description, graph, state statuses, and the first
  ``HISTORY_PAGE`` events with a ``nextToken`` for the rest;
* ``GET /console/api/history?arn=&nextToken=`` — the next page of events.

The service is synchronous and a long history takes seconds to read, so every handler
runs it in a worker thread (``run_in_threadpool``): the event loop, which serves every
other client, never waits for it. Statuses need the whole history, which is read page
by page into ``ExecutionProgress`` without being kept; the browser gets events a page
at a time ("Load more"), so a 25,000-event history neither freezes the server nor the tab.

Every response carries ``Content-Security-Policy`` (scripts: only the page's own, by
hash; connections: only this server; no framing), ``X-Frame-Options: DENY`` and
``X-Content-Type-Options: nosniff``. The console is read-only. When the server requires
SigV4 the console is not mounted (it cannot sign), so it never opens a way around
authentication; without SigV4 the API's Host check (``api.hosts``) covers it too.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from importlib import resources
from typing import Any, Final

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from stepwell.console.graph import coloured_statuses, layout
from stepwell.engine.progress import ExecutionProgress
from stepwell.service.errors import ServiceError

Handler = Any  # anything with handle(operation, request) -> response, like Service
Call = Callable[[str, dict[str, Any]], Any]

HISTORY_PAGE: Final = 500
"""Events of a history sent to the browser at a time."""
_READ_PAGE: Final = 1000  # GetExecutionHistory's maximum page
_SCRIPT: Final = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def console_routes(service: Handler) -> list[BaseRoute]:
    page = resources.files("stepwell.console").joinpath("static/console.html").read_text()
    headers = security_headers(page)

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers=headers)

    def call(operation: str, members: dict[str, Any]) -> Any:
        return service.handle(operation, members)

    def endpoint(view: Callable[[Call, Request], dict[str, Any]]) -> Any:
        async def serve(request: Request) -> Response:
            return await run_in_threadpool(_guarded, lambda: view(call, request), headers)

        return serve

    return [
        Route("/console", index, methods=["GET"]),
        Route("/console/", index, methods=["GET"]),
        Route("/console/api/machines", endpoint(_machines_view), methods=["GET"]),
        Route("/console/api/machine", endpoint(_machine_view), methods=["GET"]),
        Route("/console/api/execution", endpoint(_execution_view), methods=["GET"]),
        Route("/console/api/history", endpoint(_history_view), methods=["GET"]),
    ]


def security_headers(page: str) -> dict[str, str]:
    """Headers of every console response; the policy admits the page's scripts by hash."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _SCRIPT.findall(page)
    )
    policy = (
        f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def _machines_view(call: Call, request: Request) -> dict[str, Any]:
    listed = call("ListStateMachines", {"maxResults": 1000})["stateMachines"]
    return {"stateMachines": listed}


def _machine_view(call: Call, request: Request) -> dict[str, Any]:
    arn = request.query_params.get("arn", "")
    described = call("DescribeStateMachine", {"stateMachineArn": arn})
    executions = call("ListExecutions", {"stateMachineArn": arn, "maxResults": 100})
    definition = orjson.loads(described["definition"])
    return {
        "machine": described,
        "graph": layout(definition),
        "executions": executions["executions"],
    }


def _execution_view(call: Call, request: Request) -> dict[str, Any]:
    arn = request.query_params.get("arn", "")
    described = call("DescribeExecution", {"executionArn": arn})
    first = _history_page(call, arn, None, HISTORY_PAGE)
    progress = ExecutionProgress()
    for event in first["events"]:
        progress.add(event)
    token = first.get("nextToken")
    while token:  # the rest only feeds the statuses; it is not kept
        page = _history_page(call, arn, token, _READ_PAGE)
        for event in page["events"]:
            progress.add(event)
        token = page.get("nextToken")
    machine = call("DescribeStateMachineForExecution", {"executionArn": arn})
    return {
        "execution": described,
        "graph": layout(orjson.loads(machine["definition"])),
        "statuses": coloured_statuses(progress),
        "events": first["events"],
        "nextToken": first.get("nextToken"),
    }


def _history_view(call: Call, request: Request) -> dict[str, Any]:
    arn = request.query_params.get("arn", "")
    token = request.query_params.get("nextToken") or None
    page = _history_page(call, arn, token, HISTORY_PAGE)
    return {"events": page["events"], "nextToken": page.get("nextToken")}


def _history_page(call: Call, arn: str, token: str | None, size: int) -> dict[str, Any]:
    members: dict[str, Any] = {"executionArn": arn, "maxResults": size}
    if token:
        members["nextToken"] = token
    return dict(call("GetExecutionHistory", members))


def _guarded(build: Callable[[], Any], headers: dict[str, str]) -> Response:
    try:
        return _json(build(), headers)
    except ServiceError as error:
        return _json({"error": error.aws_type, "message": error.message}, headers, status=404)


def _json(data: Any, headers: dict[str, str], status: int = 200) -> Response:
    body = orjson.dumps(data, option=orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z)
    return Response(body, status_code=status, headers=headers, media_type="application/json")
