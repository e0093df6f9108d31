"""The whole server as one ASGI app: the Step Functions API at ``/`` and, unless every
request must be signed (the console cannot sign), the read-only web console at
``/console``. ``stepwell serve`` and ``stepwell.testing`` both serve this."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stepwell.api.app import create_app
from stepwell.api.settings import ApiSettings, OperationHandler
from stepwell.console.app import console_routes

# Quick, read-only operations: on a local store (SQLite, memory) they cost less than
# handing them to a thread, so the server runs them on the event loop. Writes stay in
# threads: inline, StartExecution and SendTaskSuccess would save about a tenth of their
# instructions (callgrind, one client), but a write may wait for the store's lock (a
# worker's step, or with SQLite another process for up to its busy timeout), and the
# event loop must never wait.
QUICK_READS = frozenset(
    {
        "DescribeActivity",
        "DescribeExecution",
        "DescribeMapRun",
        "DescribeStateMachine",
        "DescribeStateMachineAlias",
        "DescribeStateMachineForExecution",
        "ListActivities",
        "ListExecutions",
        "ListMapRuns",
        "ListStateMachineAliases",
        "ListStateMachineVersions",
        "ListStateMachines",
        "ListTagsForResource",
    }
)


def local_store(db: str) -> bool:
    return not db.startswith(("postgresql://", "postgres://"))


def server_app(
    service: OperationHandler,
    api: ApiSettings | None = None,
    health: Callable[[], dict[str, Any]] | None = None,
) -> Starlette:
    """``health`` (``Host.health.report``) makes ``GET /health`` say whether the store
    can be used and how the background loops are doing; 503 while the store cannot."""
    api = api or ApiSettings()
    app = create_app(service, api)
    if health is not None:
        app.router.routes.insert(0, Route("/health", _health_route(health), methods=["GET"]))
    if not api.authentication_enabled:
        app.router.routes.extend(console_routes(service))
    return app


def _health_route(report: Callable[[], dict[str, Any]]) -> Callable[[Request], Any]:
    async def health(request: Request) -> Response:
        found = await run_in_threadpool(report)  # probing the store may block
        status = 503 if found["status"] == "unavailable" else 200
        return Response(orjson.dumps(found), status, media_type="application/json")

    return health
