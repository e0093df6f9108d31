"""``inspectionData``: the state's input and output processing, field by field, with
exactly the fields AWS returns for each state type (aws-behaviour M1, M2, M3).

DEBUG and TRACE return the same fields; INFO none. A state that fails shows "the
intermediate data processing results up to the point of failure" (Developer Guide, "Using
TestState API to test a state", DEBUG inspectionLevel): the fields before the one that
failed. The values are replayed on the state's compiled fields with the run's context and
variables; every value is written with the caller's own JSON text where it is unchanged
(M12, ``verbatim.py``).

state (query language)          fields
Choice, Succeed, Fail, Wait     input, afterInputPath (JSONPath) | input (JSONata)
Pass with Result                input, result, afterResultSelector, afterResultPath
Pass without Result             input, afterInputPath, afterParameters, afterResultSelector,
                                afterResultPath
Task                            input, afterInputPath, afterParameters, result,
                                afterResultSelector, afterResultPath | input,
                                afterArguments, result (JSONata); result when the task
                                returned one, even if a later field then failed
Parallel                        input, afterResultSelector, afterResultPath | input
Map                             input, afterInputPath, afterItemsPath, afterResultSelector,
                                afterResultPath, maxConcurrency, tolerated* | input,
                                maxConcurrency, tolerated* (JSONata)

plus ``errorDetails`` when retried, caught or out of retries, and ``variables`` when the
variables after the state are not empty.
"""

from __future__ import annotations

from typing import Any

from stepwell.engine.dataflow import apply_result_path, jsonata_states, select_path
from stepwell.language import errors as e
from stepwell.language.evaluation import JSON
from stepwell.language.model import PassState
from stepwell.service.test_state.run import Outcome, TestRun

_READ = (
    "afterInputPath",
    "afterItemsPath",
    "afterItemsPointer",
    "afterItemSelector",
    "afterItemBatcher",
)
_LIMITS = ("maxConcurrency", "toleratedFailureCount", "toleratedFailurePercentage")


def inspection_data(run: TestRun, outcome: Outcome) -> dict[str, Any]:
    values = _values(run, outcome)
    text = run.test.texts.text
    data: dict[str, Any] = {
        name: value if name in _LIMITS else text(value) for name, value in values.items()
    }
    if run.test.level == "TRACE":
        data.update(run.http)
    if outcome.error_details is not None:
        data["errorDetails"] = outcome.error_details
    if outcome.variables:
        data["variables"] = text(outcome.variables)
    return data


def _values(run: TestRun, outcome: Outcome) -> dict[str, JSON]:
    found: dict[str, JSON] = {"input": run.test.input}
    try:
        if run.state.is_jsonata:
            _jsonata(run, outcome, found)
        else:
            _jsonpath(run, outcome, found)
    except e.StatesError:
        pass  # the fields up to the failing one
    return found


def _succeeded(outcome: Outcome) -> bool:
    return outcome.status == "SUCCEEDED"


def _jsonpath(run: TestRun, outcome: Outcome, found: dict[str, JSON]) -> None:
    state, raw, ctx, frame = run.state, run.test.input, run.eval_context(), run.frame()
    kind = run.test.type
    if kind == "Map":
        _map(run, outcome, found)
        return
    if kind == "Parallel":
        if _succeeded(outcome) and run.test.mock_result is not None:
            _after_result(run, run.test.mock_result[0], found)
        return
    if isinstance(state, PassState) and state.has_result:
        found["result"] = state.result
        _after_result(run, state.result, found, selector=False)
        return
    effective = select_path(state.input_path, raw, ctx, state, frame)
    found["afterInputPath"] = effective
    if kind in ("Choice", "Succeed", "Fail", "Wait"):
        return
    if state.parameters is not None:
        effective = state.parameters.evaluate(effective, ctx)
    found["afterParameters"] = effective
    if kind == "Pass":
        _after_result(run, effective, found, selector=False)
    elif (result := _task_result(run)) is not None:
        found["result"] = result[0]
        _after_result(run, result[0], found)


def _after_result(
    run: TestRun, result: JSON, found: dict[str, JSON], selector: bool = True
) -> None:
    state, ctx = run.state, run.eval_context()
    if selector and state.result_selector is not None:
        result = state.result_selector.evaluate(result, ctx)
    found["afterResultSelector"] = result
    found["afterResultPath"] = apply_result_path(state.result_path, run.test.input, result)


def _map(run: TestRun, outcome: Outcome, found: dict[str, JSON]) -> None:
    reading = run.map.fields
    found.update((k, v) for k, v in reading.items() if k in _READ)
    if run.map.failure is not None:
        return
    if _succeeded(outcome) and run.test.mock_result is not None:
        _after_result(run, run.test.mock_result[0], found)
    found.update((k, v) for k, v in reading.items() if k in _LIMITS)


def _jsonata(run: TestRun, outcome: Outcome, found: dict[str, JSON]) -> None:
    kind, state = run.test.type, run.state
    if kind == "Map":
        fields = run.map.fields
        found.update((k, v) for k, v in fields.items() if k in _LIMITS or k in _READ)
        return
    if kind != "Task":
        return
    ctx = run.eval_context()
    scope = jsonata_states(run.test.input, ctx)
    found["afterArguments"] = (
        state.arguments.evaluate(scope, ctx) if state.arguments is not None else run.test.input
    )
    if (result := _task_result(run)) is not None:
        found["result"] = result[0]


def _task_result(run: TestRun) -> tuple[JSON] | None:
    """The task's answer: the mock's, or the one a TaskSucceeded-like event carried."""
    if run.test.mock_result is not None:
        return run.test.mock_result
    return run.task_output
