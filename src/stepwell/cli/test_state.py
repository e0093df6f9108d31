"""``stepwell test-state``: TestState with no server, as ``aws stepfunctions test-state``
asks it, answered by the same engine as the API (``service/test_state``).

Every request member is an option; JSON members take text or ``@file``. The response is
printed as JSON; the exit code is 0 when the state ran (whatever its status), 2 when the
request is refused (the AWS error type and message on standard error).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from stepwell.cli.options import read_file, read_json_input, read_text_or_file
from stepwell.cli.output import CommandError, write_json
from stepwell.integrations.functions import load_functions
from stepwell.service.errors import ServiceError
from stepwell.service.test_state.api import test_state as run_test_state

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("test-state", short_help="Test one state as the TestState API does.")
@click.argument("definition", type=_FILE)
@click.option("--input", "input_text", metavar="JSON|@FILE", help="The state's input.")
@click.option("--state-name", help="The state to test in a whole state machine.")
@click.option(
    "--inspection-level",
    type=click.Choice(["INFO", "DEBUG", "TRACE"]),
    help="DEBUG and TRACE add inspectionData.",
)
@click.option("--role-arn", help="Needed for an unmocked Task state.")
@click.option("--reveal-secrets/--no-reveal-secrets", default=None)
@click.option("--variables", metavar="JSON|@FILE", help="Variables the state sees.")
@click.option("--mock", metavar="JSON|@FILE", help='{"result": "..."} or {"errorOutput": {...}}')
@click.option("--context", metavar="JSON|@FILE", help="The context object ($$), verbatim.")
@click.option("--state-configuration", metavar="JSON|@FILE", help="retrierRetryCount, ...")
@click.option(
    "--functions", metavar="MODULE|FILE.py", help="Python functions to serve as Lambda functions."
)
def test_state(
    definition: Path,
    input_text: str | None,
    state_name: str | None,
    inspection_level: str | None,
    role_arn: str | None,
    reveal_secrets: bool | None,
    variables: str | None,
    mock: str | None,
    context: str | None,
    state_configuration: str | None,
    functions: str | None,
) -> int:
    """Run the state DEFINITION (or --state-name of the machine it defines) once and print
    TestState's answer as JSON."""
    given = {} if input_text is None else {"input": _text(input_text, "--input")}
    try:
        answer = run_test_state(
            read_file(definition),
            **given,
            state_name=state_name,
            inspection_level=inspection_level,
            role_arn=role_arn,
            reveal_secrets=reveal_secrets,
            variables=_text(variables, "--variables"),
            mock=_object(mock, "--mock"),
            context=_text(context, "--context"),
            state_configuration=_object(state_configuration, "--state-configuration"),
            functions=load_functions(functions) if functions else None,
        )
    except ServiceError as refused:
        raise CommandError(refused.message, refused.aws_type, 2) from None
    write_json(answer)
    return 0


def _text(value: str | None, what: str) -> Any:
    return None if value is None else read_text_or_file(value, what)


def _object(value: str | None, what: str) -> Any:
    if value is None:
        return None
    found = read_json_input(value, what)
    if not isinstance(found, dict):
        raise CommandError(f"{what} must be a JSON object", "", 2)
    return found
