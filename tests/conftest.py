"""Shared fixtures: every store the contract tests run against.

PostgreSQL runs when ``STEPWELL_TEST_POSTGRES_URL`` is set (``.ci/run`` sets it and
fails if the server is missing); otherwise those tests are skipped, with the reason
shown in pytest's summary.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from stepwell.store.base import Store
from stepwell.store.memory import MemoryStore
from stepwell.store.sqlite import open_sqlite

POSTGRES_URL = os.environ.get("STEPWELL_TEST_POSTGRES_URL")
SKIP_POSTGRES = (
    "PostgreSQL tests skipped: set STEPWELL_TEST_POSTGRES_URL=postgresql://user@host/db to run them"
)


def open_test_store(kind: str, tmp_path: Path) -> tuple[Store, object]:
    """A fresh store of ``kind``, opened as ``open_store`` opens it for a server (the
    same class: PostgreSQL's is ``PostgresStore``), and a handle for ``drop_test_store``."""
    if kind == "memory":
        return MemoryStore(), None
    if kind == "sqlite":
        return open_sqlite(str(tmp_path / f"{uuid.uuid4().hex}.db")), None
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    from stepwell.store.postgres import open_postgres

    opened = open_postgres(POSTGRES_URL, f"t_{uuid.uuid4().hex[:16]}")
    return opened, opened.dialect


def drop_test_store(store: Store, handle: object) -> None:
    store.close()
    drop = getattr(handle, "drop_schema", None)
    if drop is not None:
        drop()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened, handle = open_test_store(request.param, tmp_path)
    yield opened
    drop_test_store(opened, handle)
