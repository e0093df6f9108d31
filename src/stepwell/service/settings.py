"""Stepwell's settings: defaults, then a config file, then ``STEPWELL_*`` variables, then
command-line flags, each overriding the one before.

The config file is TOML (``stepwell.toml`` in the working directory, or ``--config``)::

    db = "postgresql://stepwell@db/stepwell"
    port = 8083
    workers = 2
    functions_module = "my_functions"      # every public function in it, by name

    [functions]                            # or one by one: Lambda name = "module:function"
    greet = "my_functions:greet"

    [credentials]                          # access key id = secret: SigV4 required
    AKIDEXAMPLE = "secret"

    allowed_hosts = ["stepwell.internal"]  # without credentials, Host names served
                                           # besides loopback (env: comma-separated)

    mock_config = "MockConfigFile.json"    # start with "ARN#TestCase" to use a test case
    jsonata_workers = 1                    # processes for unbounded JSONata (0: in-process;
                                           # default: one fewer than the CPUs)
    max_object_bytes = 1073741824          # largest S3 PutObject/UploadPart (default 5 GiB)

    [[schedules]]                          # EventBridge cron(...) or rate(...)
    name = "reprocess-failed"
    expression = "rate(15 minutes)"
    state_machine = "reprocess"
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8083
    db: str = "stepwell.db"
    workers: int = 1  # threads advancing executions in this process (0: API only)
    invokers: int = 4  # threads running task invocations in this process
    lease_seconds: float = 30.0
    region: str = "us-east-1"
    account: str = "123456789012"
    functions_module: str = ""
    functions: Mapping[str, str] = field(default_factory=dict)
    credentials: Mapping[str, str] = field(default_factory=dict)
    log_level: str = "info"
    mock_config: str = ""  # a Step Functions Local MockConfigFile (JSON)
    test_case: str = ""  # its default test case
    schedules: tuple[Mapping[str, Any], ...] = ()  # [[schedules]] tables
    allowed_hosts: tuple[str, ...] = ()  # Host names served besides loopback (no SigV4)
    # Processes for unbounded JSONata: -1 one fewer than the CPUs (at least 1), 0 none
    # (in-process under the library's guardrails only); see service.jsonata_pool.
    jsonata_workers: int = -1
    # The largest S3 object one PUT may store (S3's own limit: 5 GiB); bodies are
    # streamed to the store, so this bounds the disk a client can fill, not memory.
    max_object_bytes: int = 5 * 1024**3


_TABLES = ("functions", "credentials", "schedules")
_SCALARS = {f.name: f.type for f in fields(Settings) if f.name not in _TABLES}


def load_settings(
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config: str | Path | None = None,
) -> Settings:
    settings = Settings()
    path = Path(config) if config else Path("stepwell.toml")
    if path.is_file():
        settings = _apply(settings, tomllib.loads(path.read_text()))
    elif config:
        raise FileNotFoundError(f"config file not found: {config}")
    environ = os.environ if environ is None else environ
    from_env = {
        name: environ[f"STEPWELL_{name.upper()}"]
        for name in _SCALARS
        if f"STEPWELL_{name.upper()}" in environ
    }
    settings = _apply(settings, from_env)
    return _apply(settings, {k: v for k, v in (flags or {}).items() if v is not None})


def _apply(settings: Settings, values: Mapping[str, Any]) -> Settings:
    changes: dict[str, Any] = {}
    for name, value in values.items():
        if name == "schedules":
            changes[name] = tuple(dict(entry) for entry in value)
        elif name == "allowed_hosts":
            changes[name] = _names(value)
        elif name in ("functions", "credentials"):
            changes[name] = {str(k): str(v) for k, v in dict(value).items()}
        elif name in _SCALARS:
            changes[name] = _convert(name, value)
        else:
            raise ValueError(f"unknown setting: {name}")
    return replace(settings, **changes)


def _names(value: Any) -> tuple[str, ...]:
    """A list of names, or one comma-separated string of them (from the environment)."""
    items = value.split(",") if isinstance(value, str) else value
    return tuple(str(item).strip() for item in items if str(item).strip())


def _convert(name: str, value: Any) -> Any:
    kind = _SCALARS[name]
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    return str(value)
