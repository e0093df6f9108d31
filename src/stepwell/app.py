"""The whole server as one ASGI app: the Step Functions API at ``/`` and, unless every
request must be signed (the console cannot sign), the read-only web console at
``/console``. ``stepwell serve`` and ``stepwell.testing`` both serve this."""

from __future__ import annotations

from starlette.applications import Starlette

from stepwell.api.app import create_app
from stepwell.api.settings import ApiSettings, OperationHandler
from stepwell.console.app import console_routes


def server_app(service: OperationHandler, api: ApiSettings | None = None) -> Starlette:
    api = api or ApiSettings()
    app = create_app(service, api)
    if not api.authentication_enabled:
        app.router.routes.extend(console_routes(service))
    return app
