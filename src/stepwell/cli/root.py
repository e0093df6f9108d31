"""The ``stepwell`` command: its sub-commands, and turning every outcome into an exit code.

``main(argv)`` returns the exit code instead of exiting, so tests and embedding programs
can call it: 0 success, 1 a failed execution or an error from the server, 2 a usage
mistake or a local file or input problem, 130 interrupted. Errors are one line on
standard error, ``error: <Type>: <message>``, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from stepwell.cli.callbacks import send_failure, send_heartbeat, send_success
from stepwell.cli.executions import describe, executions, history, start, stop
from stepwell.cli.local import run_command, validate
from stepwell.cli.machines import create, delete, list_machines, update
from stepwell.cli.output import CommandError, print_error
from stepwell.cli.schedules import schedules
from stepwell.cli.server import serve, worker
from stepwell.cli.test_state import test_state
from stepwell.cli.up import up

_COMMANDS = (
    run_command,
    validate,
    test_state,
    serve,
    up,
    worker,
    create,
    update,
    delete,
    list_machines,
    start,
    describe,
    executions,
    history,
    stop,
    send_success,
    send_failure,
    send_heartbeat,
    schedules,
)


class _InOrder(click.Group):
    """Lists the commands in the order above (local, server, client) in ``--help``."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(
    cls=_InOrder,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="stepwell", prog_name="stepwell")
def stepwell() -> None:
    """Run AWS Step Functions state machines: in-process (run, validate), as a server
    (serve, worker), or against a running server like the AWS CLI (every other command;
    --endpoint or STEPWELL_ENDPOINT, default http://127.0.0.1:8083)."""


for _command in _COMMANDS:
    stepwell.add_command(_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = stepwell.main(args=args, prog_name="stepwell", standalone_mode=False)
    except CommandError as problem:
        print_error(problem)
        return problem.exit_code
    except click.ClickException as problem:
        problem.show()
        return problem.exit_code
    except OSError as problem:  # a file that vanished or cannot be read
        print_error(CommandError(str(problem), "", 2))
        return 2
    except (click.Abort, KeyboardInterrupt):
        return 130
    return result if isinstance(result, int) else 0
