"""SQLite reads the rows the store's work path asks for through an index, never by
reading a whole table: a server keeps thousands of executions waiting on timers (issue
12), and an idle worker thread asks for the next due time at every round. Checked on
SQLite's own query plans (``EXPLAIN QUERY PLAN``), so no speed is asserted."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from stepwell.store.sqlite import open_sqlite

# Listings read every row they return (ListStateMachines, ListExecutions, ListActivities).
LISTINGS = {"list_state_machines", "list_executions", "list_activities"}
TABLES = {"state_machines", "executions", "history_events", "work_items", "task_tokens"}
TABLES |= {"activities", "documents"}


def plans(tmp_path: Path) -> dict[str, list[str]]:
    """Each named query's plan: its steps, one line each."""
    path = tmp_path / "stepwell.db"
    store = open_sqlite(str(path))
    queries = dict(store.q)
    store.close()
    connection = sqlite3.connect(path)
    found = {}
    for name, query in queries.items():
        named = {param: None for param in re.findall(r":(\w+)", query)}
        params = named or (None,) * query.count("?")  # insert_event binds by position
        rows = connection.execute(f"EXPLAIN QUERY PLAN {query}", params).fetchall()
        found[name] = [str(row[3]) for row in rows]
    connection.close()
    return found


def reads_a_whole_table(step: str) -> bool:
    """A step that reads a table by no index: ``SCAN t``, or ``SEARCH t`` with no
    ``USING`` (what SQLite says of a MIN over a condition no index serves). A subquery's
    rows (``SEARCH heads``) are not a table's."""
    words = step.split()
    table = len(words) > 1 and words[1] in TABLES
    return table and (words[0] == "SCAN" or (words[0] == "SEARCH" and "USING" not in words))


def test_no_query_of_the_work_path_reads_a_whole_table(tmp_path: Path) -> None:
    found = plans(tmp_path)
    assert "next_due" in found and "peek_execution" in found
    scans = {
        name: [step for step in plan if reads_a_whole_table(step)]
        for name, plan in found.items()
        if name not in LISTINGS
    }
    assert {name: steps for name, steps in scans.items() if steps} == {}
    assert reads_a_whole_table("SEARCH work_items") and reads_a_whole_table("SCAN executions")
    assert not reads_a_whole_table("SEARCH work_items USING INDEX work_items_due (queue=?)")


@pytest.mark.parametrize("name", ["next_due", "any_due_execution_work", "any_due_invocation"])
def test_the_idle_loops_questions_read_the_queue_index(tmp_path: Path, name: str) -> None:
    assert any("work_items_due" in step for step in plans(tmp_path)[name])
