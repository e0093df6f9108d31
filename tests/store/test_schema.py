"""The schema built from ``schema.sql`` equals the one all numbered migrations build
(procrastinate's check, STYLE.md): a migration can never drift from the documented schema."""

from __future__ import annotations

import sqlite3
import uuid
from importlib import resources

import pytest

from stepwell.store.sql import migrations
from stepwell.store.sqlite import _statements
from tests.conftest import POSTGRES_URL, SKIP_POSTGRES


def schema_text(dialect: str) -> str:
    return resources.files("stepwell.store").joinpath(f"sql/{dialect}/schema.sql").read_text()


def sqlite_shape(scripts: list[str]) -> list[tuple[str, str, str]]:
    conn = sqlite3.connect(":memory:")
    for script in scripts:
        for statement in _statements(script):
            conn.execute(statement)
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    shape = []
    for table in sorted(tables):
        for column in conn.execute(f"PRAGMA table_info({table})"):
            shape.append((table, column[1], f"{column[2]} notnull={column[3]} pk={column[5]}"))
        for index in conn.execute(f"PRAGMA index_list({table})"):
            columns = [c[2] for c in conn.execute(f"PRAGMA index_info({index[1]})")]
            shape.append((table, index[1], ",".join(columns)))
    return sorted(shape)


def test_sqlite_schema_equals_migrations() -> None:
    from_migrations = sqlite_shape([script for _, script in migrations("sqlite")])
    assert from_migrations == sqlite_shape([schema_text("sqlite")])
    assert ("documents", "value", "BLOB notnull=1 pk=0") in from_migrations


def test_postgres_schema_equals_migrations() -> None:
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    import psycopg

    def shape(scripts: list[str]) -> list[tuple[str, ...]]:
        schema = f"schema_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
            try:
                conn.execute(f'SET search_path TO "{schema}"')
                for script in scripts:
                    conn.execute(script)  # type: ignore[arg-type]
                columns = conn.execute(
                    "SELECT table_name, column_name, data_type, is_nullable "
                    "FROM information_schema.columns WHERE table_schema = %s",
                    (schema,),
                ).fetchall()
                indexes = conn.execute(
                    "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %s",
                    (schema,),
                ).fetchall()
            finally:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        return sorted(
            [tuple(map(str, c)) for c in columns]
            + [
                (t, i, d.replace(f'"{schema}".', "").replace(f"{schema}.", ""))
                for t, i, d in indexes
            ]
        )

    assert shape([s for _, s in migrations("postgres")]) == shape([schema_text("postgres")])
