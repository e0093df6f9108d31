"""Fixtures for the seed acceptance tests: the database a test's Stepwell runs on.

Each test starts a real server (``examples.local_stepwell``: Host on a VirtualClock,
uvicorn on a free port) and drives it through boto3 only, plus the embedded services'
clients where the seed has a consumer or an operator looking at a queue or a table.
``db`` runs a module's tests on a fresh SQLite file and on PostgreSQL (skipped, as
everywhere, unless ``STEPWELL_TEST_POSTGRES_URL`` is set). A module shares one server per
database (stopping one takes about a second: the worker pool's listener thread finishes
its wait), so its tests use their own state machine names and inputs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import POSTGRES_URL, SKIP_POSTGRES


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path_factory.mktemp("acceptance") / "stepwell.db")
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield f"{POSTGRES_URL}?schema={schema}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
