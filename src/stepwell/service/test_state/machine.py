"""The small state machine a state under test runs in.

It holds the state under test first and, in place of every state it can go to (Next,
Default, a Choice rule's or a Catcher's Next), a stub Wait state that stops the run on
entry (a day long: a Wait already due would go on at once, as a Pass does). A mocked
Map or Parallel state runs as a Task with the same result fields (Retry, Catch,
ResultSelector, ResultPath, Output, Assign …), answered by the mock; its own fields
(ItemsPath, MaxConcurrency …) are read beside the run (``fanout.py``).
"""

from __future__ import annotations

from typing import Any

from stepwell.language.compiler import InvalidDefinition as DefinitionProblems
from stepwell.language.compiler import load_state_machine
from stepwell.language.model import StateMachine
from stepwell.service import errors as err

SELF = "StateName (under test)"  # the tested state's name when it can go to itself
MOCK_RESOURCE = "arn:aws:states:::stepwell:mock"  # a mocked Map or Parallel runs as a Task
STATE_TYPES = ("Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map")
_STUB = {"Type": "Wait", "Seconds": 86_400, "End": True}
_TASK_FIELDS = frozenset(
    (
        "Type", "Comment", "QueryLanguage", "InputPath", "OutputPath", "ResultPath",
        "ResultSelector", "Output", "Assign", "Retry", "Catch", "Next", "End",
    )
)  # fmt: skip


def check_types(graph: dict[str, Any], at: str = "") -> None:
    """M7: an unknown ``Type`` anywhere, worded as AWS words it for TestState."""
    states = graph.get("States")
    if not isinstance(states, dict):
        return
    for name, body in states.items():
        if not isinstance(body, dict):
            continue
        if body.get("Type") not in STATE_TYPES:
            raise err.InvalidDefinition(
                "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The field 'Type' "
                f"should have one of these values: [{', '.join(STATE_TYPES)}] at "
                f"{at}/States/{name}/Type'"
            )
        for index, branch in enumerate(body.get("Branches") or ()):
            if isinstance(branch, dict):
                check_types(branch, f"{at}/States/{name}/Branches/{index}")
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(body.get(key), dict):
                check_types(body[key], f"{at}/States/{name}/{key}")


def compile_machine(definition: dict[str, Any]) -> StateMachine:
    """Compile, with AWS's TestState wording for the definition errors it words apart."""
    _check_branches(definition)
    try:
        return load_state_machine(definition)
    except DefinitionProblems as invalid:
        raise err.InvalidDefinition(str(invalid)) from None


def _check_branches(graph: dict[str, Any], at: str = "") -> None:
    for name, body in (graph.get("States") or {}).items():
        if isinstance(body, dict) and body.get("Type") == "Parallel" and body.get("Branches") == []:
            raise err.InvalidDefinition(
                "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Value cannot be "
                f"empty at {at}/States/{name}/Branches'"
            )


def machine_for(
    name: str, body: dict[str, Any], language: str
) -> tuple[str, StateMachine, StateMachine]:
    """(the tested state's name, a machine that runs it and stops wherever it goes, the
    same with a Map or Parallel state converted to a mocked Task)."""
    state = {**body, "QueryLanguage": language}
    targets = _targets(state)
    tested = SELF if name in targets else name
    stubs = dict.fromkeys(targets, _STUB)
    original = compile_machine({"StartAt": tested, "States": {tested: state, **stubs}})
    if state.get("Type") not in ("Map", "Parallel"):
        return tested, original, original
    task = {k: v for k, v in state.items() if k in _TASK_FIELDS}
    task.update(Type="Task", Resource=MOCK_RESOURCE)
    return tested, compile_machine({"StartAt": tested, "States": {tested: task, **stubs}}), original


def _targets(state: dict[str, Any]) -> list[str]:
    names = [state.get("Next"), state.get("Default")]
    names += [rule.get("Next") for rule in state.get("Choices", []) if isinstance(rule, dict)]
    names += [rule.get("Next") for rule in state.get("Catch", []) if isinstance(rule, dict)]
    return list(dict.fromkeys(n for n in names if isinstance(n, str)))
