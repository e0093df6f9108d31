"""A TestState request, read and checked in AWS's order (aws-behaviour M7).

The checks run in the order AWS runs them, because a request with two problems gets the
first one's message: the state under test (``stateName``), the state types TestState
refuses with or without a mock, the definition, the mock's own shape, ``revealSecrets``,
``errorCausedByState`` (a state inside the tested Map or Parallel), ``roleArn``, the
context, then the mocked result (JSON, array or object, the number of Parallel branches,
the API's output shape, ``mapIterationFailureCount``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from stepwell.language.compiler import InvalidDefinition as DefinitionProblems
from stepwell.language.compiler import load_state_machine
from stepwell.language.evaluation import JSON
from stepwell.language.model import JSONPATH, State, StateMachine
from stepwell.service import errors as err
from stepwell.service.core import Request, execution_input
from stepwell.service.test_state.context import STATE_NAME, check_context, waits_for_callback
from stepwell.service.test_state.machine import check_types, compile_machine, machine_for
from stepwell.service.test_state.mock_schema import check_mock_result
from stepwell.service.test_state.verbatim import VerbatimTexts

_MOCKABLE = ("Task", "Map", "Parallel")
# stateConfiguration members that need a mock, as AWS names them in its messages
_MOCK_ONLY = (
    ("mapIterationFailureCount", "MapIterationFailureCount"),
    ("errorCausedByState", "ErrorCausedByState"),
)


@dataclass(slots=True)
class StateTest:
    """A TestState request, checked and parsed."""

    name: str  # the tested state's name in the machine built for it
    machine: StateMachine  # runs the state (a mocked Map or Parallel as a Task)
    original: State  # the state as written, compiled
    type: str
    input: JSON
    input_text: str
    level: str
    variables: dict[str, JSON]
    context: dict[str, Any] | None  # as given, or None for the default context
    mock: dict[str, Any] | None
    mock_result: tuple[JSON] | None  # the parsed mock result, when there is one
    retries: int
    failure_count: int | None
    role_arn: str | None
    reads_items: bool = False  # a Map with an ItemReader (its items are not ItemsPath's)
    reader_data: str | None = None  # stateConfiguration.mapItemReaderData
    reader_config: dict[str, Any] = field(default_factory=dict)  # ItemReader.ReaderConfig
    batcher: dict[str, Any] | None = None  # a Map's ItemBatcher, as written
    texts: VerbatimTexts = field(default_factory=VerbatimTexts)


def read_request(request: Request) -> StateTest:
    definition = _definition(request["definition"])
    mock: dict[str, Any] | None = request.get("mock")
    config = request.get("stateConfiguration") or {}
    name, body, language = _state_under_test(definition, request.get("stateName"))
    kind = str(body.get("Type"))
    _check_testable(kind, body, mock, config)
    if request.get("stateName") is not None:
        compile_machine(definition)
    tested, machine, original = machine_for(name, body, language)
    if mock is not None:
        _check_mock(mock, request)
        _check_error_source(config.get("errorCausedByState"), body)
    elif request.get("context") is not None:
        # API Reference, TestState "context": "may only be specified if a mock is specified"
        raise err.ValidationException(
            "TestState does not support Context when a mock is not specified."
        )
    elif kind == "Task" and not request.get("roleArn"):
        raise err.ValidationException("RoleArn must be specified when testing a Task state")
    texts = VerbatimTexts()
    input_text = execution_input(request.get("input"))
    state_input = texts.parse(input_text)
    variables = _json_object(request.get("variables") or "{}", "variables")
    context = None
    if request.get("context") is not None:
        context = _json_object(request["context"], "context", texts)
        check_context(context, body)
    result = _mock_result(mock, kind, body, texts, config)
    return StateTest(
        name=tested,
        machine=machine,
        original=original.root.states[tested],
        type=kind,
        input=state_input,
        input_text=input_text,
        level=request.get("inspectionLevel") or "INFO",
        variables=variables,
        context=context,
        mock=mock,
        mock_result=result,
        retries=int(config.get("retrierRetryCount") or 0),
        failure_count=config.get("mapIterationFailureCount"),
        role_arn=request.get("roleArn"),
        reads_items="ItemReader" in body or "ItemReader" in (body.get("ItemProcessor") or {}),
        reader_data=config.get("mapItemReaderData"),
        reader_config=_reader_config(body),
        batcher=body.get("ItemBatcher") if isinstance(body.get("ItemBatcher"), dict) else None,
        texts=texts,
    )


def _reader_config(body: dict[str, Any]) -> dict[str, Any]:
    reader = body.get("ItemReader")
    config = reader.get("ReaderConfig") if isinstance(reader, dict) else None
    return config if isinstance(config, dict) else {}


def _definition(text: str) -> dict[str, Any]:
    """The definition as a JSON object; text that is not JSON gets the compiler's own
    message (the position of the first bad token)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            load_state_machine(text)
        except DefinitionProblems as invalid:
            raise err.InvalidDefinition(str(invalid)) from None
        value = None  # YAML, say: AWS takes JSON only
    if not isinstance(value, dict):
        raise err.InvalidDefinition(
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: "
            "Definition must be a valid JSON object'"
        )
    return value


def _json_object(text: str, member: str, texts: VerbatimTexts | None = None) -> dict[str, Any]:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        raise err.ValidationException(f"The {member} is not valid JSON: '{text}'") from None
    value = (texts or VerbatimTexts()).parse(text)
    if not isinstance(value, dict):
        raise err.ValidationException(f"The {member} must be a JSON object")
    return value


def _state_under_test(
    definition: dict[str, Any], state_name: str | None
) -> tuple[str, dict[str, Any], str]:
    """(name, state body, query language): the definition itself, or with ``stateName``
    that state of the state machine the definition is (its StartAt state without one)."""
    machine_language = str(definition.get("QueryLanguage", JSONPATH))
    if state_name is None and "States" in definition and "Type" not in definition:
        state_name = definition.get("StartAt")
    if state_name is None:
        check_types({"States": {STATE_NAME: definition}})
        return STATE_NAME, definition, machine_language
    check_types(definition)
    found = _find_state(definition, state_name, machine_language)
    if found is None:
        raise err.ValidationException("State not found in definition")
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


def _check_testable(
    kind: str, body: dict[str, Any], mock: dict[str, Any] | None, config: dict[str, Any]
) -> None:
    """What TestState refuses (API Reference): a mock on a state that is not a Task, Map
    or Parallel; without a mock, Map, Parallel, activities, ``.sync`` and
    ``.waitForTaskToken``."""
    if mock is not None:
        if kind not in _MOCKABLE:
            raise err.ValidationException(
                f"State type '{kind}' is not supported when a mock is specified"
            )
        return
    for member, name in _MOCK_ONLY:
        if config.get(member) is not None:
            raise err.ValidationException(
                f"TestState does not support {name} when a mock is not specified."
            )
    if kind in ("Map", "Parallel"):
        raise err.InvalidDefinition(
            "TestState API does not support Map or Parallel states. Supported state types "
            "include: [Task, Wait, Pass, Succeed, Fail, Choice]"
        )
    if kind == "Task" and (":activity:" in str(body.get("Resource")) or waits_for_callback(body)):
        raise err.ValidationException(
            "TestState supports Activity tasks, .sync or .waitForTaskToken integration "
            "patterns, Parallel and Map states only when a mock is specified"
        )


def _check_mock(mock: dict[str, Any], request: Request) -> None:
    if "result" in mock and "errorOutput" in mock:
        raise err.ValidationException(
            "A test mock should have only one of the following fields: [result, errorOutput]."
        )
    if "result" not in mock and "errorOutput" not in mock:
        raise err.ValidationException(
            "A test mock should have one of the following fields: [result, errorOutput]."
        )
    if request.get("revealSecrets"):
        raise err.ValidationException(
            "TestState does not support RevealSecrets when a mock is specified."
        )


def _check_error_source(name: str | None, body: dict[str, Any]) -> None:
    """``errorCausedByState`` names the state inside the tested Map or Parallel that the
    mocked error comes from (API Reference, TestStateConfiguration)."""
    if name is None:
        return
    inner = [*body.get("Branches", []), body.get("ItemProcessor"), body.get("Iterator")]
    if body.get("Type") in ("Map", "Parallel") and any(
        isinstance(graph, dict) and _find_state(graph, name, JSONPATH) is not None
        for graph in inner
    ):
        return
    raise err.ValidationException(
        f"State '{name}' specified in errorCausedByState is not a state of the tested Map "
        "or Parallel state"
    )


def _mock_result(
    mock: dict[str, Any] | None,
    kind: str,
    body: dict[str, Any],
    texts: VerbatimTexts,
    config: dict[str, Any],
) -> tuple[JSON] | None:
    if mock is None or "result" not in mock:
        return None
    try:
        orjson.loads(mock["result"])
    except orjson.JSONDecodeError:
        raise err.ValidationException("Mocked result must be valid JSON") from None
    result = texts.parse(mock["result"])
    if kind == "Parallel":
        _parallel_result(result, body)
    elif kind == "Map":
        _map_result(result, body, config)
    else:
        check_mock_result(str(body.get("Resource", "")), result, mock.get("fieldValidationMode"))
    return (result,)


def _parallel_result(result: JSON, body: dict[str, Any]) -> None:
    if not isinstance(result, list):
        raise err.ValidationException("Mocked result must be an array.")
    if len(result) != len(body.get("Branches") or ()):
        raise err.ValidationException(
            "Mocked result must contain the same number of items as number of Parallel branches."
        )


def _map_result(result: JSON, body: dict[str, Any], config: dict[str, Any]) -> None:
    writer = body.get("ResultWriter")
    if isinstance(writer, dict) and "Resource" in writer:  # WriterConfig alone: an array
        if not isinstance(result, dict):
            raise err.ValidationException("Mocked result must be a JSON object.")
        return
    if not isinstance(result, list):
        raise err.ValidationException("Mocked result must be an array.")
    failures = config.get("mapIterationFailureCount")
    if failures is not None and failures > len(result):
        raise err.ValidationException(
            "Map iteration failure count must be less than or equal to the number of Map iterations"
        )
