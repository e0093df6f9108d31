"""TestState's context object (aws-behaviour M4, M7).

Without ``context`` the state sees the context of an express execution started for the
test: ``Execution.Id`` an express execution ARN of a generated machine and execution name,
``Execution.RoleArn`` the request's ``roleArn`` (``null`` when there is none), no
``RedriveCount``; ``State.Name`` is the literal ``"StateName"`` whichever state is tested,
and ``State.RetryCount`` is present only for Task and Map states. A given ``context`` is
``$$`` verbatim: nothing is merged, renamed or added. It is checked first: only the
fields of the context object are allowed, with their types, and ``Task`` only for a
``.sync`` or ``.waitForTaskToken`` Task.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stepwell.engine.dataflow import iso_time
from stepwell.language.evaluation import JSON
from stepwell.service import errors as err
from stepwell.service.arns import Arns

STATE_NAME = "StateName"  # $$.State.Name in every test, and a lone state's name

_INVALID = "Invalid Context object provided: "
_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "Execution": {
        "Id": str,
        "Input": (dict, list, str, int, float, bool, type(None)),
        "Name": str,
        "RoleArn": str,
        "StartTime": str,
        "RedriveCount": int,
        "RedriveTime": str,
    },
    "State": {"EnteredTime": str, "Name": str, "RetryCount": int},
    "StateMachine": {"Id": str, "Name": str},
    "Task": {"Token": str},
}


def waits_for_callback(body: dict[str, Any]) -> bool:
    """A Task whose pattern makes the context carry a ``Task`` (``.sync`` or
    ``.waitForTaskToken``)."""
    resource = str(body.get("Resource", ""))
    return body.get("Type") == "Task" and (
        resource.endswith((".sync", ".sync:2", ".waitForTaskToken"))
    )


def check_context(context: dict[str, Any], body: dict[str, Any]) -> None:
    """M7: the context's fields, in AWS's order of checks."""
    if "Map" in context:
        raise err.ValidationException(
            _INVALID + "'Map' field is not supported when mocking a Context object"
        )
    for name, value in context.items():
        members = _FIELDS.get(name)
        if members is None:
            raise err.ValidationException(_INVALID + f"Field '{name}' is not allowed")
        if not isinstance(value, dict):
            raise err.ValidationException(_INVALID + f"{name} must be an object")
        for member, member_value in value.items():
            kind = members.get(member)
            if kind is None:
                raise err.ValidationException(_INVALID + f"Field '{member}' is not allowed")
            if not _is(member_value, kind):
                raise err.ValidationException(
                    _INVALID + f"{name}.{member} must be {_described(kind)}"
                )
    if "Task" in context and not waits_for_callback(body):
        raise err.ValidationException(
            _INVALID + "Context object contains 'Task' when state is not a Task state with a "
            "'.sync' or '.waitForTaskToken' service integration pattern"
        )


def _is(value: Any, kind: type | tuple[type, ...]) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _described(kind: type | tuple[type, ...]) -> str:
    if kind is str:
        return "a string"
    return "an integer" if kind is int else "valid JSON"


def default_context(
    arns: Arns,
    names: tuple[str, str],
    role_arn: str | None,
    state_input: JSON,
    now: datetime,
    state_type: str,
    retry_count: int,
    token: str | None,
) -> dict[str, JSON]:
    """The express-execution context AWS gives a test without ``context`` (M4)."""
    machine, execution = names
    state: dict[str, JSON] = {"EnteredTime": iso_time(now), "Name": STATE_NAME}
    if state_type in ("Task", "Map"):
        state["RetryCount"] = retry_count
    context: dict[str, JSON] = {
        "Execution": {
            "Id": f"{arns.prefix}:express:{machine}:{execution}",
            "Input": state_input,
            "Name": execution,
            "RoleArn": role_arn,
            "StartTime": iso_time(now),
        },
        "State": state,
        "StateMachine": {"Id": arns.state_machine(machine), "Name": machine},
    }
    if token is not None:
        context["Task"] = {"Token": token}
    return context
