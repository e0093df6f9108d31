"""Durable state behind one small interface: memory, SQLite (default), PostgreSQL."""

from __future__ import annotations

from stepwell.store.base import Store


def open_store(url: str = "stepwell.db") -> Store:
    """A store from a URL: ``memory``, ``sqlite:///path`` (or a plain path),
    ``postgresql://user@host/db[?schema=NAME]``."""
    if url in ("memory", "memory://", ":memory:"):
        from stepwell.store.memory import MemoryStore

        return MemoryStore()
    if url.startswith(("postgresql://", "postgres://")):
        from stepwell.store.postgres import open_postgres

        base, _, query = url.partition("?")
        options = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
        return open_postgres(base, options.get("schema", "stepwell"))
    from stepwell.store.sqlite import open_sqlite

    return open_sqlite(url.removeprefix("sqlite:///").removeprefix("sqlite://"))
