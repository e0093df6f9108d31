"""``stepwell create | update | delete | list | describe MACHINE`` against a real server."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, details
from tests.cli.definitions import GREET, PASS

ACCOUNT_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def definition_file(tmp_path: Path, text: str, name: str = "machine.asl.json") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_create_list_describe_update_delete(cli: Cli, tmp_path: Path) -> None:
    name = unique("lifecycle")
    created = cli("create", name, definition_file(tmp_path, GREET))
    assert (created.code, created.err) == (0, "")
    assert created.out == f"Created {ACCOUNT_ARN}{name}\n"

    listed = cli("list")
    row = next(line for line in listed.out.splitlines() if line.startswith(name))
    assert row.split()[1] == "STANDARD"
    assert row.endswith(ACCOUNT_ARN + name)

    described = cli("describe", name)
    assert "Definition" in described.out
    assert details(described.out)["ARN"] == ACCOUNT_ARN + name
    assert details(described.out)["Status"] == "ACTIVE"

    updated = cli("update", name, definition_file(tmp_path, PASS), "--json")
    assert updated.code == 0
    assert set(json.loads(updated.out)) >= {"updateDate", "revisionId"}
    role = "arn:aws:iam::123456789012:role/other"
    renamed = cli("update", name, "--role", role)
    assert re.fullmatch(rf"Updated {ACCOUNT_ARN}{name} \(revision [\w-]+\)\n", renamed.out)
    assert json.loads(cli("describe", name, "--json").out)["roleArn"] == role
    machine = json.loads(cli("describe", ACCOUNT_ARN + name, "--json").out)
    assert json.loads(machine["definition"]) == json.loads(PASS)

    deleted = cli("delete", name)
    assert deleted.out == f"Deleted {ACCOUNT_ARN}{name}\n"
    names = [m["name"] for m in json.loads(cli("list", "--json").out)["stateMachines"]]
    assert name not in names


def test_list_json_is_the_api_response_of_all_pages(cli: Cli, tmp_path: Path) -> None:
    names = {unique("paged") for _ in range(3)}
    for name in names:
        cli("create", name, definition_file(tmp_path, PASS), "--type", "express")
    listed = json.loads(cli("list", "--json").out)
    mine = {m["name"]: m for m in listed["stateMachines"] if m["name"] in names}
    assert set(mine) == names
    for item in mine.values():
        assert item["type"] == "EXPRESS"
        assert item["creationDate"].endswith("+00:00")  # ISO 8601 from the datetime
    assert "ResponseMetadata" not in listed


def test_yaml_definitions_are_sent_as_json(cli: Cli, tmp_path: Path) -> None:
    name = unique("yaml")
    yaml_text = "StartAt: Done\nStates:\n  Done:\n    Type: Pass\n    End: true\n"
    assert cli("create", name, definition_file(tmp_path, yaml_text, "m.asl.yaml")).code == 0
    stored = json.loads(cli("describe", name, "--json").out)["definition"]
    assert json.loads(stored) == {
        "StartAt": "Done",
        "States": {"Done": {"Type": "Pass", "End": True}},
    }


def test_refused_definition_names_the_aws_error_and_each_location(cli: Cli, tmp_path: Path) -> None:
    path = definition_file(tmp_path, '{"StartAt": "X",\n "States": {"X": {"Type": "Pasz"}}}')
    refused = cli("create", unique("bad"), path)
    assert refused.code == 1
    assert refused.out == ""
    first, *notes = refused.err.splitlines()
    assert first.startswith("error: InvalidDefinition: Invalid State Machine Definition: ")
    assert f"{path}:2:" in notes[0]
    assert "ERROR SCHEMA_VALIDATION_FAILED" in notes[0]
    assert "Traceback" not in refused.err


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["describe", "no-such-machine"], "error: StateMachineDoesNotExist: "),
        (["delete", "no-such-machine"], "error: StateMachineDoesNotExist: "),
        (["describe", ACCOUNT_ARN + "no-such"], "error: StateMachineDoesNotExist: "),
        (["describe", "arn:aws:states:us-east-1:123456789012:execution:x:y"], "error: Execution"),
        (["describe", "arn:nonsense"], "error: InvalidArn: "),
    ],
)
def test_aws_errors_are_one_line_with_their_type(cli: Cli, args: list[str], error: str) -> None:
    failed = cli(*args)
    assert failed.code == 1
    assert failed.err.startswith(error)
    assert len(failed.err.splitlines()) == 1


def test_creating_a_name_twice_with_another_definition_is_refused(cli: Cli, tmp_path: Path) -> None:
    name = unique("twice")
    assert cli("create", name, definition_file(tmp_path, PASS)).code == 0
    again = cli("create", name, definition_file(tmp_path, GREET, "other.json"))
    assert again.code == 1
    assert again.err == (
        f"error: StateMachineAlreadyExists: State Machine Already Exists: '{ACCOUNT_ARN}{name}'\n"
    )


def test_update_needs_something_to_change(cli: Cli) -> None:
    refused = cli("update", "anything")
    assert refused.code == 2
    assert "nothing to update" in refused.err


def test_a_missing_definition_file_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    refused = cli("create", "x", str(tmp_path / "missing.json"))
    assert refused.code == 2
    assert "does not exist" in refused.err
