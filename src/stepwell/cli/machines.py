"""State machine commands against a server: ``create``, ``update``, ``delete``, ``list``.

A definition file may be JSON, sent as written (DescribeStateMachine returns a definition
verbatim), or YAML, converted to JSON first: CreateStateMachine takes "a JSON-based,
structured language" (API reference, CreateStateMachine). When the server refuses a
definition, the local validator's diagnostics follow the server's one-line message,
each at its file:line:col.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import orjson
from rich.text import Text

from stepwell.cli.client import StepFunctions
from stepwell.cli.local import diagnostic_text
from stepwell.cli.options import definition_argument, endpoint_option, json_option, read_file
from stepwell.cli.output import CommandError, emit
from stepwell.cli.views import machines_view
from stepwell.language.source import DefinitionSyntaxError, load_definition
from stepwell.language.validation import validate_definition

DEFAULT_ROLE = "arn:aws:iam::123456789012:role/stepwell"
MACHINE_TYPES = click.Choice(["STANDARD", "EXPRESS"], case_sensitive=False)


@click.command(short_help="Create a state machine from a JSON or YAML file.")
@click.argument("name")
@definition_argument
@click.option("--role", default=DEFAULT_ROLE, show_default=True, metavar="ARN", help="roleArn.")
@click.option("--type", "machine_type", type=MACHINE_TYPES, default="STANDARD", show_default=True)
@endpoint_option
@json_option
def create(
    name: str, definition_file: Path, role: str, machine_type: str, endpoint: str, as_json: bool
) -> int:
    """Create a state machine NAME from DEFINITION_FILE (JSON or YAML)."""
    definition = read_definition(definition_file)
    with _explained(definition_file):
        response = StepFunctions(endpoint).call(
            "create_state_machine",
            name=name,
            definition=definition,
            roleArn=role,
            type=machine_type.upper(),
        )
    emit(response, as_json, lambda data: _done("Created", data["stateMachineArn"]))
    return 0


@click.command(short_help="Change a state machine's definition or role.")
@click.argument("machine")
@click.argument(
    "definition_file",
    required=False,
    metavar="[DEFINITION_FILE]",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option("--role", metavar="ARN", help="A new roleArn.")
@endpoint_option
@json_option
def update(
    machine: str, definition_file: Path | None, role: str | None, endpoint: str, as_json: bool
) -> int:
    """Give MACHINE (a name or an ARN) a new definition, role or both."""
    if definition_file is None and role is None:
        raise click.UsageError("nothing to update: give a DEFINITION_FILE, --role, or both")
    client = StepFunctions(endpoint)
    arn = client.machine_arn(machine)
    changes = {"roleArn": role} if role else {}
    definition = read_definition(definition_file) if definition_file else None
    if definition is not None:
        changes["definition"] = definition
    with _explained(definition_file):
        response = client.call("update_state_machine", stateMachineArn=arn, **changes)
    emit(response, as_json, lambda data: _done("Updated", arn, data.get("revisionId")))
    return 0


@click.command()
@click.argument("machine")
@endpoint_option
@json_option
def delete(machine: str, endpoint: str, as_json: bool) -> int:
    """Delete MACHINE (a name or an ARN)."""
    client = StepFunctions(endpoint)
    arn = client.machine_arn(machine)
    response = client.call("delete_state_machine", stateMachineArn=arn)
    emit(response, as_json, lambda data: _done("Deleted", arn))
    return 0


@click.command("list")
@endpoint_option
@json_option
def list_machines(endpoint: str, as_json: bool) -> int:
    """List the state machines."""
    machines = StepFunctions(endpoint).collect("list_state_machines", "stateMachines")
    emit({"stateMachines": machines}, as_json, machines_view)
    return 0


def read_definition(path: Path) -> str:
    """The definition as JSON text: the file itself when it is JSON, YAML converted."""
    text = read_file(path)
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            return orjson.dumps(load_definition(text).data).decode()
        except DefinitionSyntaxError:
            return text  # the server says what is wrong, as AWS would
    return text


@contextmanager
def _explained(path: Path | None) -> Iterator[None]:
    """On ``InvalidDefinition``, add the local diagnostics, at file:line:col, as notes."""
    try:
        yield
    except CommandError as problem:
        if problem.error_type == "InvalidDefinition" and path is not None:
            found = validate_definition(read_file(path))
            problem.notes = tuple(diagnostic_text(path, item) for item in found)
        raise


def _done(verb: str, arn: str, revision: str | None = None) -> Text:
    text = Text(f"{verb} ")
    text.append(arn, style="bold")
    if revision:
        text.append(f" (revision {revision})")
    return text
