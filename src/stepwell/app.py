"""The whole server as one ASGI app: the Step Functions API at ``/`` and, unless every
request must be signed (the console cannot sign), the read-only web console at
``/console``. ``stepwell serve`` and ``stepwell.testing`` both serve this."""

from __future__ import annotations

from starlette.applications import Starlette

from stepwell.api.app import create_app
from stepwell.api.settings import ApiSettings, OperationHandler
from stepwell.console.app import console_routes

# Quick, read-only operations: on a local store (SQLite, memory) they cost less than
# handing them to a thread, so the server runs them on the event loop.
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


def server_app(service: OperationHandler, api: ApiSettings | None = None) -> Starlette:
    api = api or ApiSettings()
    app = create_app(service, api)
    if not api.authentication_enabled:
        app.router.routes.extend(console_routes(service))
    return app
