"""Emptying a database, for ``stepwell up --fresh``: a SQLite file (and its WAL files)
is deleted, a PostgreSQL schema dropped; the next open creates them anew."""

from __future__ import annotations

from pathlib import Path


def wipe_store(url: str) -> None:
    if url in ("memory", "memory://", ":memory:"):
        return
    if url.startswith(("postgresql://", "postgres://")):
        from stepwell.store.postgres import PostgresDialect

        base, _, query = url.partition("?")
        options = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
        PostgresDialect(base, options.get("schema", "stepwell")).drop_schema()
        return
    path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)
