"""``stepwell serve`` (the Step Functions API with workers) and ``stepwell worker``
(workers only, sharing the server's database).

Every setting comes from a flag, else a ``STEPWELL_*`` variable, else the config file
(``stepwell.toml``, or ``--config``), else its default: ``service.settings`` reads them
in that order, and the help below names each variable. The flags leave unset what the
user did not give, so the lower layers show through.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import click

from stepwell.cli.output import CommandError
from stepwell.service.host import Host
from stepwell.service.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])
_DEFAULTS = Settings()
_EPILOG = (
    "Settings come from flags, then STEPWELL_* environment variables, then the config "
    "file (./stepwell.toml or --config), then the defaults. Only the config file can bind "
    "single Lambda functions ([functions] name = 'module:function') and require signed "
    "requests ([credentials] access key id = secret)."
)


def _setting(flag: str, name: str, kind: type, metavar: str, text: str) -> Callable[[F], F]:
    """A flag for setting ``name``, with its variable and default in the help."""
    default = getattr(_DEFAULTS, name)
    shown = f" [env: STEPWELL_{name.upper()}; default: {default if default != '' else 'none'}]"
    return click.option(flag, name, type=kind, default=None, metavar=metavar, help=text + shown)


def _shared(command: F) -> F:
    options = [
        click.option(
            "--config",
            envvar="STEPWELL_CONFIG",
            metavar="FILE",
            help="TOML settings file [env: STEPWELL_CONFIG; default: ./stepwell.toml if present]",
        ),
        _setting(
            "--db", "db", str, "URL", "stepwell.db | sqlite:///path | postgresql://... | memory."
        ),
        _setting("--workers", "workers", int, "N", "Threads advancing executions (0: none)."),
        _setting("--invokers", "invokers", int, "N", "Threads running tasks."),
        _setting(
            "--functions",
            "functions_module",
            str,
            "MODULE",
            "Module or .py file whose functions serve as Lambda functions.",
        ),
        _setting("--region", "region", str, "REGION", "Region in ARNs."),
        _setting("--account", "account", str, "ID", "Account id in ARNs."),
        _setting(
            "--lease-seconds", "lease_seconds", float, "SECONDS", "How long a worker owns a step."
        ),
        _setting("--log-level", "log_level", str, "LEVEL", "debug | info | warning | error."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command(epilog=_EPILOG)
@_shared
@_setting("--host", "host", str, "ADDRESS", "Address to listen on.")
@_setting("--port", "port", int, "PORT", "Port to listen on.")
@_setting(
    "--allowed-hosts",
    "allowed_hosts",
    str,
    "NAMES",
    "Without credentials, Host names served besides loopback (comma-separated).",
)
def serve(config: str | None, **flags: Any) -> int:
    """Run the AWS Step Functions API server, with workers."""
    settings = _settings(flags, config)
    host = _host(settings)
    try:
        _serve_api(host, settings)
    except KeyboardInterrupt:
        pass
    finally:
        host.stop()
    return 0


@click.command(epilog=_EPILOG)
@_shared
def worker(config: str | None, **flags: Any) -> int:
    """Run workers only (no API), against the server's database."""
    host = _host(_settings(flags, config))
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        host.stop()
    return 0


def _settings(flags: dict[str, Any], config: str | None) -> Settings:
    try:
        return load_settings(flags, config=config)
    except (OSError, ValueError) as problem:
        raise CommandError(f"settings: {problem}", "", 2) from None


def _host(settings: Settings) -> Host:
    try:
        return Host(settings).start()
    except Exception as problem:  # a database that is not there, a module that is not
        raise CommandError(f"cannot start: {type(problem).__name__}: {problem}", "", 2) from None


def _serve_api(host: Host, settings: Settings) -> None:
    import uvicorn

    from stepwell.api.connection import ApiConnection
    from stepwell.api.settings import ApiSettings
    from stepwell.app import QUICK_READS, local_store, server_app

    api = ApiSettings(
        region=settings.region,
        account_id=settings.account,
        credentials=dict(settings.credentials),
        allowed_hosts=settings.allowed_hosts,
        max_object_bytes=settings.max_object_bytes,
        inline_operations=QUICK_READS if local_store(settings.db) else frozenset(),
    )
    address = f"http://{settings.host}:{settings.port}"
    print(
        f"Stepwell serving the Step Functions API on {address} (store: {settings.db})",
        file=sys.stderr,
    )
    if not api.authentication_enabled:
        print(f"Web console: {address}/console", file=sys.stderr)
    uvicorn.run(
        server_app(host.service, api, health=host.health.report),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        http=ApiConnection,  # Step Functions calls skip ASGI (api/connection.py)
    )
