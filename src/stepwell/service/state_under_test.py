"""TestState's request, read and checked, and the small state machine the state under
test runs in (see ``testing.py`` for how it runs).

The machine holds the state under test first and, in place of every state it can go to
(Next, Default, a Choice rule's or a Catcher's Next), a stub Wait state that stops the run
on entry. A mocked Map or Parallel state runs as a Task with the same input and output
fields, answered by the mock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from stepwell.language.compiler import InvalidDefinition as DefinitionProblems
from stepwell.language.compiler import load_state_machine
from stepwell.language.evaluation import JSON
from stepwell.language.model import JSONPATH, StateMachine
from stepwell.service import errors as err
from stepwell.service.core import Request, execution_input

TESTED = "TestState"  # the name a lone state runs under
SELF = "TestState (under test)"  # the tested state's name when it can go to itself
MOCK_RESOURCE = "arn:aws:states:::stepwell:mock"  # a mocked Map or Parallel runs as a Task
_STUB = {"Type": "Wait", "Seconds": 0, "End": True}
_TASK_FIELDS = frozenset(
    (
        "Type", "Comment", "QueryLanguage", "InputPath", "OutputPath", "ResultPath",
        "ResultSelector", "Parameters", "Arguments", "Output", "Assign", "Retry", "Catch",
        "Next", "End",
    )
)  # fmt: skip


@dataclass(slots=True)
class StateTest:
    """A TestState request, checked and parsed."""

    name: str  # the tested state's name in the machine built for it
    machine: StateMachine
    input: JSON
    level: str
    variables: dict[str, JSON]
    context: dict[str, Any]
    mock: dict[str, Any] | None
    retries: int


def read_request(request: Request) -> StateTest:
    definition = _json_object(request["definition"], "definition", err.InvalidDefinition)
    mock = request.get("mock")
    if "context" in request and mock is None:
        raise err.ValidationException("The context field may only be specified with a mock")
    name, body, language = _state_under_test(definition, request.get("stateName"))
    _check_testable(body, mock)
    config = request.get("stateConfiguration") or {}
    state_input = orjson.loads(execution_input(request.get("input")))
    variables = _json_object(request.get("variables") or "{}", "variables")
    context = _json_object(request.get("context") or "{}", "context")
    tested, machine = _machine_for(name, body, language, mock is not None)
    return StateTest(
        name=tested,
        machine=machine,
        input=state_input,
        level=request.get("inspectionLevel") or "INFO",
        variables=variables,
        context=context,
        mock=mock,
        retries=int(config.get("retrierRetryCount") or 0),
    )


def _json_object(
    text: str, member: str, error: type[err.ServiceError] = err.ValidationException
) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise error(f"The {member} is not valid JSON: '{text}'") from None
    if not isinstance(value, dict):
        raise error(f"The {member} must be a JSON object")
    return value


def _state_under_test(
    definition: dict[str, Any], state_name: str | None
) -> tuple[str, dict[str, Any], str]:
    """(name, state body, query language): the definition itself, or with ``stateName``
    that state of the state machine the definition is."""
    if state_name is None:
        if "Type" not in definition:
            raise err.InvalidDefinition("The definition must be a state with a Type field")
        return TESTED, definition, str(definition.get("QueryLanguage", JSONPATH))
    found = _find_state(definition, state_name, str(definition.get("QueryLanguage", JSONPATH)))
    if found is None:
        raise err.ValidationException(
            f"The state '{state_name}' is not in the state machine definition"
        )
    return state_name, found[0], found[1]


def _find_state(
    graph: dict[str, Any], name: str, language: str
) -> tuple[dict[str, Any], str] | None:
    states = graph.get("States")
    if not isinstance(states, dict):
        return None
    for state_name, body in states.items():
        if not isinstance(body, dict):
            continue
        own = str(body.get("QueryLanguage", language))
        if state_name == name:
            return body, own
        inner = [*body.get("Branches", []), body.get("ItemProcessor"), body.get("Iterator")]
        for child in inner:
            found = _find_state(child, name, own) if isinstance(child, dict) else None
            if found is not None:
                return found
    return None


def _check_testable(body: dict[str, Any], mock: dict[str, Any] | None) -> None:
    """What TestState refuses (API Reference): a mock on a state that is not a Task, Map
    or Parallel; without a mock, Map, Parallel, activities, ``.sync`` and
    ``.waitForTaskToken``."""
    kind = body.get("Type")
    if mock is not None:
        if kind not in ("Task", "Map", "Parallel"):
            raise err.ValidationException(
                "A mock can only be specified for Task, Map, or Parallel states"
            )
        if ("result" in mock) == ("errorOutput" in mock):
            raise err.ValidationException("A mock must have exactly one of result and errorOutput")
        return
    resource = str(body.get("Resource", ""))
    if kind in ("Map", "Parallel") or (
        kind == "Task"
        and (
            ":activity:" in resource or resource.endswith((".sync", ".sync:2", ".waitForTaskToken"))
        )
    ):
        raise err.ValidationException(
            "TestState supports Activity tasks, .sync or .waitForTaskToken integration "
            "patterns, Parallel and Map states only when a mock is specified"
        )


def _machine_for(
    name: str, body: dict[str, Any], language: str, mocked: bool
) -> tuple[str, StateMachine]:
    """A machine that runs the state and stops in whichever state it goes to next."""
    state = dict(body)
    if mocked and state.get("Type") in ("Map", "Parallel"):
        kind = state["Type"]
        state = {k: v for k, v in state.items() if k in _TASK_FIELDS}
        if kind == "Map":
            state.pop("Parameters", None)  # a Map's Parameters is its ItemSelector
        state.update(Type="Task", Resource=MOCK_RESOURCE)
    state["QueryLanguage"] = language
    targets = _targets(state)
    tested = SELF if name in targets else name
    definition = {"StartAt": tested, "States": {tested: state, **dict.fromkeys(targets, _STUB)}}
    try:
        return tested, load_state_machine(definition)
    except DefinitionProblems as invalid:
        raise err.InvalidDefinition(str(invalid)) from None


def _targets(state: dict[str, Any]) -> list[str]:
    names = [state.get("Next"), state.get("Default")]
    names += [rule.get("Next") for rule in state.get("Choices", []) if isinstance(rule, dict)]
    names += [rule.get("Next") for rule in state.get("Catch", []) if isinstance(rule, dict)]
    return list(dict.fromkeys(n for n in names if isinstance(n, str)))


def json_value(text: str, member: str) -> JSON:
    try:
        value: JSON = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise err.ValidationException(f"The {member} is not valid JSON: '{text}'") from None
    return value
