"""``stepwell schedules add | list | remove`` against a database, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stepwell.cli import main

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:reprocess"


def test_add_list_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "stepwell.db")
    assert (
        main(
            [
                "schedules",
                "add",
                "every-5",
                "rate(5 minutes)",
                MACHINE,
                "--db",
                db,
                "--input",
                '{"batch": 20}',
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == "Scheduled every-5: rate(5 minutes)\n"
    assert main(["schedules", "list", "--db", db, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(s["name"], s["expression"], s["state_machine_arn"]) for s in listed] == [
        ("every-5", "rate(5 minutes)", MACHINE)
    ]
    assert listed[0]["next_tick"]
    assert main(["schedules", "remove", "every-5", "--db", db]) == 0
    assert main(["schedules", "list", "--db", db]) == 0
    assert capsys.readouterr().out.endswith("No schedules.\n")


def test_bad_expression_and_unknown_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "stepwell.db")
    assert main(["schedules", "add", "x", "every day", MACHINE, "--db", db]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["schedules", "remove", "nope", "--db", db]) == 1
    assert "no schedule named nope" in capsys.readouterr().err
