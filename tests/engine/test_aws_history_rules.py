"""History events exactly as AWS writes them: ``previousEventId`` chaining and the event
sequences of Map, Parallel, Retry and Catch. Each test cites the rule id of the AWS
behaviour list (issue 8: A1-A5, B1-B4, B8, C5, C6, D3, D5-D7, K6) whose measured example
it turns into an exact ``(id, previousEventId, type)`` sequence.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import stepwell
from stepwell.engine import events as ev
from stepwell.engine.env import Env
from stepwell.engine.interpreter import start, step
from stepwell.language.compiler import load_state_machine

FN = "arn:aws:lambda:us-east-1:123456789012:function:"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
Trace = list[tuple[int, int, str]]


def run(definition: dict[str, Any], given: Any = None, **options: Any) -> Any:
    return stepwell.run(definition, {} if given is None else given, seed=1, **options)


def trace(history: list[dict[str, Any]]) -> Trace:
    return [(e["id"], e["previousEventId"], e["type"]) for e in history]


def details(event: dict[str, Any]) -> Any:
    return next((v for k, v in event.items() if k.endswith("EventDetails")), None)


def only(history: list[dict[str, Any]], event_type: str) -> dict[str, Any]:
    (event,) = [e for e in history if e["type"] == event_type]
    return event


def jsonata(states: dict[str, Any], start_at: str) -> dict[str, Any]:
    return {"QueryLanguage": "JSONata", "StartAt": start_at, "States": states}


def graph(name: str, state: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": name, "States": {name: state}}


def boom(event: Any) -> Any:
    raise stepwell.TaskError("Boom", "it broke")


PASS_END = {"Type": "Pass", "End": True}

# --------------------------------------------------------------------- A1


def test_a1_the_first_state_entered_points_at_0() -> None:
    """A1: ExecutionStarted (1,0), PassStateEntered (2,0), PassStateExited (3,2),
    ExecutionSucceeded (4,3)."""
    result = run({"StartAt": "P", "States": {"P": PASS_END}})
    assert trace(result.history) == [
        (1, 0, "ExecutionStarted"),
        (2, 0, "PassStateEntered"),
        (3, 2, "PassStateExited"),
        (4, 3, "ExecutionSucceeded"),
    ]


DONE = {"Next": "Done"}


@pytest.mark.parametrize(
    ("first", "entered"),
    [
        ({"Type": "Task", "Resource": FN + "echo"} | DONE, "TaskStateEntered"),
        ({"Type": "Wait", "Seconds": 1} | DONE, "WaitStateEntered"),
        (
            {
                "Type": "Choice",
                "Choices": [{"Variable": "$[0]", "IsPresent": True, "Next": "Done"}],
            },
            "ChoiceStateEntered",
        ),
        ({"Type": "Map", "ItemProcessor": graph("I", PASS_END)} | DONE, "MapStateEntered"),
        ({"Type": "Parallel", "Branches": [graph("B", PASS_END)]} | DONE, "ParallelStateEntered"),
        ({"Type": "Fail", "Error": "E"}, "FailStateEntered"),
        ({"Type": "Succeed"}, "SucceedStateEntered"),
    ],
)
def test_a1_any_first_state_points_at_0(first: dict[str, Any], entered: str) -> None:
    """A1: "Same with a Task, Wait, Choice, Map, Fail or Parallel first state"; chaining
    is normal afterwards."""
    states = {"First": first} | ({"Done": PASS_END} if "Next" in str(first) else {})
    result = run({"StartAt": "First", "States": states}, [1], functions={"echo": len})
    history = result.history
    assert trace(history)[:2] == [(1, 0, "ExecutionStarted"), (2, 0, entered)]
    assert history[2]["previousEventId"] == 2


def test_a1_a_branch_and_an_iteration_start_from_their_state_s_started_event() -> None:
    """A1: a Parallel branch's first state points at ParallelStateStarted, a Map
    iteration's at its MapIterationStarted."""
    definition = {
        "StartAt": "P",
        "States": {
            "P": {"Type": "Parallel", "Branches": [graph("B", PASS_END)], "Next": "M"},
            "M": {"Type": "Map", "ItemProcessor": graph("I", PASS_END), "End": True},
        },
    }
    assert trace(run(definition).history) == [
        (1, 0, "ExecutionStarted"),
        (2, 0, "ParallelStateEntered"),
        (3, 2, "ParallelStateStarted"),
        (4, 3, "PassStateEntered"),
        (5, 4, "PassStateExited"),
        (6, 5, "ParallelStateSucceeded"),
        (7, 5, "ParallelStateExited"),
        (8, 7, "MapStateEntered"),
        (9, 8, "MapStateStarted"),
        (10, 9, "MapIterationStarted"),
        (11, 10, "PassStateEntered"),
        (12, 11, "PassStateExited"),
        (13, 12, "MapIterationSucceeded"),
        (14, 13, "MapStateSucceeded"),
        (15, 13, "MapStateExited"),
        (16, 15, "ExecutionSucceeded"),
    ]


# --------------------------------------------------------------------- A2


def _map(items: Any, **fields: Any) -> dict[str, Any]:
    state = {"Type": "Map", "Items": items, "ItemProcessor": graph("P", PASS_END), "End": True}
    return jsonata({"M": state | fields}, "M")


def test_a2_the_next_iteration_points_at_the_previous_iteration_s_end() -> None:
    """A2, the JSONata Map example with Items [1,2,3] and MaxConcurrency 1."""
    assert trace(run(_map([1, 2, 3], MaxConcurrency=1)).history) == [
        (1, 0, "ExecutionStarted"),
        (2, 0, "MapStateEntered"),
        (3, 2, "MapStateStarted"),
        (4, 3, "MapIterationStarted"),
        (5, 4, "PassStateEntered"),
        (6, 5, "PassStateExited"),
        (7, 6, "MapIterationSucceeded"),
        (8, 6, "MapIterationStarted"),
        (9, 8, "PassStateEntered"),
        (10, 9, "PassStateExited"),
        (11, 10, "MapIterationSucceeded"),
        (12, 10, "MapIterationStarted"),
        (13, 12, "PassStateEntered"),
        (14, 13, "PassStateExited"),
        (15, 14, "MapIterationSucceeded"),
        (16, 15, "MapStateSucceeded"),
        (17, 15, "MapStateExited"),
        (18, 17, "ExecutionSucceeded"),
    ]


def test_a2_an_empty_map() -> None:
    """A2: MapStateStarted(n), MapStateSucceeded(prev n), MapStateExited(prev n)."""
    assert trace(run(_map([])).history)[1:] == [
        (2, 0, "MapStateEntered"),
        (3, 2, "MapStateStarted"),
        (4, 3, "MapStateSucceeded"),
        (5, 3, "MapStateExited"),
        (6, 5, "ExecutionSucceeded"),
    ]


def test_a2_iterations_that_start_together_point_at_map_state_started() -> None:
    """A2: with MaxConcurrency 0 every iteration starts at once from MapStateStarted;
    MapStateSucceeded points at the last MapIterationSucceeded."""
    history = run(_map([1, 2, 3])).history
    started = [e["previousEventId"] for e in history if e["type"] == "MapIterationStarted"]
    assert started == [3, 3, 3]
    last_iteration = [e for e in history if e["type"] == "MapIterationSucceeded"][-1]
    assert only(history, "MapStateSucceeded")["previousEventId"] == last_iteration["id"]
    assert only(history, "MapStateExited")["previousEventId"] == last_iteration["id"]


def test_a2_a_nested_map_s_exit_is_where_the_next_outer_iteration_starts() -> None:
    """A2: "Nested: the outer MapIterationStarted points at the inner MapStateExited"."""
    inner = {"Type": "Map", "ItemProcessor": graph("P", PASS_END), "End": True}
    outer = {"Type": "Map", "MaxConcurrency": 1, "ItemProcessor": graph("Inner", inner)}
    definition = {"StartAt": "Outer", "States": {"Outer": outer | {"End": True}}}
    history = run(definition, [[1], [2]]).history
    inner_exits = [e["id"] for e in history if e["type"] == "MapStateExited"][:2]
    outer_starts = [
        e for e in history if e["type"] == "MapIterationStarted" and details(e)["name"] == "Outer"
    ]
    assert outer_starts[1]["previousEventId"] == inner_exits[0]


# --------------------------------------------------------------------- A3, D6


def test_a3_d6_evaluation_failed_copies_the_state_entered_pointer() -> None:
    """A3 (State0 -> State1 -> State2 with Output {"result": "{% $doesNotExist %}"}):
    PassStateEntered 6<-5, EvaluationFailed 7<-5, ExecutionFailed 8<-7; D6: the full
    cause, the location and the state."""
    definition = jsonata(
        {
            "State0": {"Type": "Pass", "Next": "State1"},
            "State1": {"Type": "Pass", "Next": "State2"},
            "State2": {"Type": "Pass", "Output": {"result": "{% $doesNotExist %}"}, "End": True},
        },
        "State0",
    )
    result = run(definition)
    assert trace(result.history)[4:] == [
        (5, 4, "PassStateExited"),
        (6, 5, "PassStateEntered"),
        (7, 5, "EvaluationFailed"),
        (8, 7, "ExecutionFailed"),
    ]
    cause = (
        "An error occurred while executing the state 'State2' (entered at the event id #6). "
        "The JSONata expression '$doesNotExist' specified for the field 'Output/result' "
        "returned nothing (undefined)."
    )
    assert details(result.history[6]) == {
        "error": "States.QueryEvaluationError",
        "cause": cause,
        "location": "Output/result",
        "state": "State2",
    }
    assert details(result.history[7]) == {"error": "States.QueryEvaluationError", "cause": cause}


def test_d6_the_example_of_the_first_state() -> None:
    """D6: EvaluationFailedEventDetails of a first state (A3: points at 0)."""
    definition = jsonata({"State0": {"Type": "Pass", "Output": "{% $doesNotExist %}"}}, "State0")
    definition["States"]["State0"]["End"] = True
    history = run(definition).history
    assert trace(history)[2] == (3, 0, "EvaluationFailed")
    assert details(history[2]) == {
        "cause": "An error occurred while executing the state 'State0' (entered at the event "
        "id #2). The JSONata expression '$doesNotExist' specified for the field 'Output' "
        "returned nothing (undefined).",
        "error": "States.QueryEvaluationError",
        "location": "Output",
        "state": "State0",
    }


def test_a3_in_a_map_iteration_later_events_chain_on_evaluation_failed() -> None:
    """A3: TaskStateExited k, PassStateEntered <-k, EvaluationFailed <-k,
    MapIterationFailed and MapStateFailed <-EvaluationFailed, ExecutionFailed <-
    MapStateFailed (B3: MapStateFailed has empty details)."""
    processor = {
        "StartAt": "Work",
        "States": {
            "Work": {"Type": "Task", "Resource": FN + "echo", "Next": "Bad"},
            "Bad": {"Type": "Pass", "Output": "{% $doesNotExist %}", "End": True},
        },
    }
    definition = jsonata(
        {
            "Setup": {"Type": "Pass", "Next": "M"},
            "M": {"Type": "Map", "Items": [1], "ItemProcessor": processor, "End": True},
        },
        "Setup",
    )
    history = run(definition, functions={"echo": lambda event: event}).history
    assert trace(history)[9:] == [
        (10, 9, "LambdaFunctionSucceeded"),
        (11, 10, "TaskStateExited"),
        (12, 11, "PassStateEntered"),
        (13, 11, "EvaluationFailed"),
        (14, 13, "MapIterationFailed"),
        (15, 13, "MapStateFailed"),
        (16, 15, "ExecutionFailed"),
    ]
    assert details(history[14]) is None  # no details member


def test_a3_in_a_wait_state_evaluation_failed_points_at_wait_state_entered() -> None:
    definition = jsonata(
        {
            "Before": {"Type": "Pass", "Next": "W"},
            "W": {"Type": "Wait", "Seconds": "{% $doesNotExist %}", "End": True},
        },
        "Before",
    )
    assert trace(run(definition).history)[3:] == [
        (4, 3, "WaitStateEntered"),
        (5, 4, "EvaluationFailed"),
        (6, 5, "ExecutionFailed"),
    ]


# --------------------------------------------------------------------- A4, K6


def test_a4_execution_aborted_points_at_0() -> None:
    """A4: Wait state, then StopExecution: WaitStateEntered (2,0), ExecutionAborted
    (3,0), details {}."""
    machine = load_state_machine(
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 9, "End": True}}}
    )
    env = Env(now=T0, rng=random.Random(1))
    first = start(machine, {}, env)
    stopped = step(machine, first.execution, ev.StopRequested(), env)
    history = first.events + stopped.events
    assert trace(history) == [
        (1, 0, "ExecutionStarted"),
        (2, 0, "WaitStateEntered"),
        (3, 0, "ExecutionAborted"),
    ]
    assert details(history[2]) == {}


def test_k6_a_timed_out_execution_has_no_error_and_no_cause() -> None:
    """K6: after TimeoutSeconds the execution is TIMED_OUT, with no error or cause."""
    definition = {
        "TimeoutSeconds": 5,
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}},
    }
    result = run(definition, start_time=T0)
    assert (result.status, result.error, result.cause) == ("TIMED_OUT", None, None)
    assert details(result.history[-1]) == {}
    # Not observed on AWS: ExecutionTimedOut, like ExecutionAborted (A4), ends the
    # execution from outside its threads and points at 0.
    assert trace(result.history)[-1] == (3, 0, "ExecutionTimedOut")
    assert result.stop_date - T0 == timedelta(seconds=5)


# --------------------------------------------------------------------- A5, B1, B2, C5


def _fail_map(**fields: Any) -> dict[str, Any]:
    fail = {"Type": "Fail", "Error": "Oops", "Cause": "bad"}
    state = {"Type": "Map", "ItemProcessor": graph("F", fail), "Next": "Done"} | fields
    return {"StartAt": "M", "States": {"M": state, "Done": PASS_END}}


def test_a5_b1_a_caught_map_fails_exits_then_enters_the_catcher_s_next() -> None:
    """A5 Map catch: MapIterationFailed n<-k, MapStateFailed n+1<-k, MapStateExited <-
    MapStateFailed; B1: its output is the catcher's result, after ResultPath."""
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Done"}]
    history = run(_fail_map(ItemsPath="$.items", Catch=catch), {"items": [1]}).history
    assert trace(history)[3:] == [
        (4, 3, "MapIterationStarted"),
        (5, 4, "FailStateEntered"),
        (6, 5, "MapIterationFailed"),
        (7, 5, "MapStateFailed"),
        (8, 7, "MapStateExited"),
        (9, 8, "PassStateEntered"),
        (10, 9, "PassStateExited"),
        (11, 10, "ExecutionSucceeded"),
    ]
    assert details(history[7])["output"] == ('{"items":[1],"error":{"Error":"Oops","Cause":"bad"}}')


def test_b2_a5_map_retries_write_no_map_state_failed_until_the_end() -> None:
    """B2, the Map example: Retry MaxAttempts 2 over [1] with a Fail state: three rounds
    of MapStateStarted, MapIterationStarted, FailStateEntered, MapIterationFailed, then
    MapStateFailed, ExecutionFailed; A5: each new MapStateStarted points where the
    MapIterationFailed before it points."""
    retry = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "IntervalSeconds": 1}]
    history = run(_fail_map(Retry=retry), [1]).history
    assert trace(history) == [
        (1, 0, "ExecutionStarted"),
        (2, 0, "MapStateEntered"),
        (3, 2, "MapStateStarted"),
        (4, 3, "MapIterationStarted"),
        (5, 4, "FailStateEntered"),
        (6, 5, "MapIterationFailed"),
        (7, 5, "MapStateStarted"),
        (8, 7, "MapIterationStarted"),
        (9, 8, "FailStateEntered"),
        (10, 9, "MapIterationFailed"),
        (11, 9, "MapStateStarted"),
        (12, 11, "MapIterationStarted"),
        (13, 12, "FailStateEntered"),
        (14, 13, "MapIterationFailed"),
        (15, 13, "MapStateFailed"),
        (16, 15, "ExecutionFailed"),
    ]


def _parallel(**fields: Any) -> dict[str, Any]:
    branches = [
        graph("Fine", PASS_END),
        graph("Call", {"Type": "Task", "Resource": FN + "boom", "End": True}),
    ]
    state = {"Type": "Parallel", "Branches": branches, "Next": "Done"} | fields
    return {"StartAt": "P", "States": {"P": state, "Done": PASS_END}}


def test_b2_a5_parallel_retries_restart_from_the_failing_branch() -> None:
    """B2: the failing branch event, then the next ParallelStateStarted (pointing at the
    failing branch's last event, A5); ParallelStateFailed only at the end."""
    retry = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}]
    history = run(_parallel(Retry=retry), functions={"boom": boom}).history
    assert trace(history) == [
        (1, 0, "ExecutionStarted"),
        (2, 0, "ParallelStateEntered"),
        (3, 2, "ParallelStateStarted"),
        (4, 3, "PassStateEntered"),
        (5, 3, "TaskStateEntered"),
        (6, 4, "PassStateExited"),
        (7, 5, "LambdaFunctionScheduled"),
        (8, 7, "LambdaFunctionStarted"),
        (9, 8, "LambdaFunctionFailed"),
        (10, 9, "ParallelStateStarted"),
        (11, 10, "PassStateEntered"),
        (12, 10, "TaskStateEntered"),
        (13, 11, "PassStateExited"),
        (14, 12, "LambdaFunctionScheduled"),
        (15, 14, "LambdaFunctionStarted"),
        (16, 15, "LambdaFunctionFailed"),
        (17, 16, "ParallelStateFailed"),
        (18, 17, "ExecutionFailed"),
    ]


def test_a5_b1_a_caught_parallel_and_its_exit() -> None:
    """B1: ParallelStateFailed, ParallelStateExited, then the catcher's Next."""
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "Done"}]
    history = run(_parallel(Catch=catch), functions={"boom": boom}).history
    assert trace(history)[8:] == [
        (9, 8, "LambdaFunctionFailed"),
        (10, 9, "ParallelStateFailed"),
        (11, 10, "ParallelStateExited"),
        (12, 11, "PassStateEntered"),
        (13, 12, "PassStateExited"),
        (14, 13, "ExecutionSucceeded"),
    ]
    assert details(history[10])["output"] == '{"Error":"Boom","Cause":"it broke"}'


def test_a5_parallel_state_exited_points_where_parallel_state_succeeded_does() -> None:
    history = run(_parallel(), functions={"boom": lambda event: 1}).history
    succeeded = only(history, "ParallelStateSucceeded")
    exited = only(history, "ParallelStateExited")
    last_branch_event = max(e["id"] for e in history if e["id"] < succeeded["id"])
    assert succeeded["previousEventId"] == exited["previousEventId"] == last_branch_event


@pytest.mark.parametrize(
    ("resource", "failed"),
    [
        (FN + "boom", "LambdaFunctionFailed"),
        ("arn:aws:states:::lambda:invoke", "TaskFailed"),
    ],
)
def test_b1_c5_a_caught_task_writes_task_state_exited(resource: str, failed: str) -> None:
    """B1, C5: Task: TaskFailed, TaskStateExited; Lambda: LambdaFunctionFailed,
    TaskStateExited; the exit's output is the catcher's result, with its Assign."""
    task = {
        "Type": "Task",
        "Resource": resource,
        "Parameters": {"FunctionName": FN + "boom"} if "states" in resource else None,
        "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"x": 1}, "Next": "Done"}],
        "End": True,
    }
    task = {key: value for key, value in task.items() if value is not None}
    definition = {"StartAt": "T", "States": {"T": task, "Done": PASS_END}}
    history = run(definition, functions={"boom": boom}).history
    types = [e["type"] for e in history]
    at = types.index(failed)
    assert types[at : at + 3] == [failed, "TaskStateExited", "PassStateEntered"]
    exited = history[at + 1]
    assert exited["previousEventId"] == history[at]["id"]
    assert history[at + 2]["previousEventId"] == exited["id"]
    assert details(exited)["assignedVariables"] == {"x": "1"}
    assert "Boom" in details(exited)["output"]


def test_b1_a_jsonata_catcher_s_output_is_the_exit_s_output() -> None:
    definition = jsonata(
        {
            "T": {
                "Type": "Task",
                "Resource": FN + "boom",
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Output": "{% $states.errorOutput.Error %}",
                        "Next": "Done",
                    }
                ],
                "End": True,
            },
            "Done": PASS_END,
        },
        "T",
    )
    history = run(definition, functions={"boom": boom}).history
    assert details(only(history, "TaskStateExited"))["output"] == '"Boom"'


# --------------------------------------------------------------------- B3, B4, D3, D5


def test_b3_d5_a_map_failing_on_items_writes_map_state_failed_not_started() -> None:
    """B3: MapStateEntered, EvaluationFailed, MapStateFailed (empty, <-EvaluationFailed),
    ExecutionFailed; D5: the cause names the expression, the type and the value."""
    result = run(_map("{% 'string' %}"))
    assert trace(result.history) == [
        (1, 0, "ExecutionStarted"),
        (2, 0, "MapStateEntered"),
        (3, 0, "EvaluationFailed"),
        (4, 3, "MapStateFailed"),
        (5, 4, "ExecutionFailed"),
    ]
    assert details(result.history[3]) is None  # no details member
    assert result.cause == (
        "An error occurred while executing the state 'M' (entered at the event id #2). "
        "The JSONata expression ''string'' specified for the field 'Items' returned an "
        "unexpected result type. Expected 'array', but was 'string' for value: \"string\""
    )
    assert details(result.history[2])["location"] == "Items"


@pytest.mark.parametrize(
    ("items", "text", "kind", "value"),
    [
        ("{% 'string' %}", "'string'", "string", '"string"'),
        ("{% 42 %}", "42", "number", "42"),
        ("{%  true  %}", "true", "boolean", "true"),
        ("{% {'foo': 'bar'} %}", "{'foo': 'bar'}", "object", '{"foo":"bar"}'),
        ("{% null %}", "null", "null", "null"),
        ("{% $ItemsVar %}", "$ItemsVar", "number", "3"),
    ],
)
def test_d5_jsonata_items_not_an_array(items: str, text: str, kind: str, value: str) -> None:
    definition = _map(items)
    definition["States"]["M"]["Assign"] = {}
    definition["StartAt"] = "Set"
    definition["States"]["Set"] = {"Type": "Pass", "Assign": {"ItemsVar": 3}, "Next": "M"}
    result = run(definition)
    assert result.error == "States.QueryEvaluationError"
    assert result.cause.endswith(
        f"The JSONata expression '{text}' specified for the field 'Items' returned an "
        f"unexpected result type. Expected 'array', but was '{kind}' for value: {value}"
    )


@pytest.mark.parametrize(
    ("items", "text"),
    [
        ("{% $fn := function($x){$x} %}", "$fn := function($x){$x}"),
        ("{% function($x){$x} %}", "function($x){$x}"),
        ("{% $sum %}", "$sum"),
        ("{% [$substring(?, 1)] %}", "[$substring(?, 1)]"),  # a partial application
    ],
)
def test_d5_jsonata_items_that_is_a_function(items: str, text: str) -> None:
    """D5: "A function gives The JSONata expression '$fn := function($x){$x}' specified for
    the field 'Items' returned an unsupported result type."; EvaluationFailed has location
    Items."""
    result = run(_map(items))
    assert result.error == "States.QueryEvaluationError"
    assert result.cause == (
        "An error occurred while executing the state 'M' (entered at the event id #2). "
        f"The JSONata expression '{text}' specified for the field 'Items' returned an "
        "unsupported result type."
    )
    assert details(only(result.history, "EvaluationFailed"))["location"] == "Items"


@pytest.mark.parametrize(
    ("output", "result"),
    [("{% '' %}", ""), ("{% {'a': ''} %}", {"a": ""}), ("{% [1, ''] %}", [1, ""])],
)
def test_d5_an_empty_string_is_not_a_function(output: str, result: object) -> None:
    definition = jsonata({"P": {"Type": "Pass", "Output": output, "End": True}}, "P")
    assert run(definition).output == result


@pytest.mark.parametrize("seed", range(12))
def test_d5_an_expression_is_evaluated_once(seed: int) -> None:
    """D5's check for functions never evaluates an expression a second time: a random
    choice between "" and null, or between "" and an error, gives one of its own values
    or its own States.QueryEvaluationError, never a made-up "unsupported result type"."""
    output = '{% [$random() < 0.5 ? "" : null, $random() < 0.5 ? "" : $error("boom")] %}'
    definition = jsonata({"P": {"Type": "Pass", "Output": output, "End": True}}, "P")
    result = stepwell.run(definition, {}, seed=seed)
    if result.error is None:
        assert result.output[0] in ("", None) and result.output[1] == ""
    else:
        assert result.error == "States.QueryEvaluationError"
        assert "threw an error during evaluation" in (result.cause or "")


def test_d5_d6_no_items_field_and_an_input_that_is_not_an_array_has_no_location() -> None:
    """D5: "Map state input must be an array but was: <json>" only without Items; D6:
    EvaluationFailed is written all the same, without location."""
    definition = jsonata(
        {"M": {"Type": "Map", "ItemProcessor": graph("P", PASS_END), "End": True}}, "M"
    )
    result = run(definition, {"a": 1})
    assert result.cause == (
        "An error occurred while executing the state 'M' (entered at the event id #2). "
        'Map state input must be an array but was: {"a":1}'
    )
    assert details(only(result.history, "EvaluationFailed")) == {
        "error": "States.QueryEvaluationError",
        "cause": result.cause,
        "state": "M",
    }
    assert only(result.history, "MapStateFailed")["previousEventId"] == 3


def _path_map(field: str, value: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    state = {"Type": "Map", "ItemProcessor": graph("P", PASS_END), "End": True}
    state |= {"ItemsPath": "$.items", field: "$.value"}
    return {"StartAt": "M", "States": {"M": state}}, {"items": [1, 2], "value": value}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "MaxConcurrencyPath",
            "NoNumber",
            'The MaxConcurrencyPath field refers to value "NoNumber" which is not a valid '
            "integer: $.value",
        ),
        (
            "MaxConcurrencyPath",
            {},
            'The MaxConcurrencyPath field refers to value "{}" which is not a valid integer: '
            "$.value",
        ),
        (
            "ToleratedFailureCountPath",
            "NoNumber",
            'The ToleratedFailureCountPath field refers to value "NoNumber" which is not a '
            "valid integer: $.value",
        ),
        (
            "ToleratedFailureCountPath",
            1.5,
            'The ToleratedFailureCountPath field refers to value "1.5" which is not a valid '
            "integer: $.value",
        ),
        ("ToleratedFailureCountPath", -1, "ToleratedFailureCount cannot be negative."),
        (
            "ToleratedFailurePercentagePath",
            {},
            'The ToleratedFailurePercentagePath field refers to value "{}" which is not a '
            "valid float: $.value",
        ),
        (
            "ToleratedFailurePercentagePath",
            -1,
            "ToleratedFailurePercentage must be between 0 and 100.",
        ),
        (
            "ToleratedFailurePercentagePath",
            -1.1,
            "ToleratedFailurePercentage must be between 0 and 100.",
        ),
        (
            "ToleratedFailurePercentagePath",
            100.1,
            "ToleratedFailurePercentage must be between 0 and 100.",
        ),
    ],
)
def test_d3_b4_map_path_field_causes(field: str, value: Any, message: str) -> None:
    """D3: exact causes (States.Runtime); B4: MaxConcurrencyPath is read before
    MapStateStarted, the tolerated-failure paths after it, and neither writes
    MapStateFailed."""
    definition, given = _path_map(field, value)
    result = run(definition, given)
    assert (result.error, result.cause) == (
        "States.Runtime",
        f"An error occurred while executing the state 'M' (entered at the event id #2). {message}",
    )
    types = [e["type"] for e in result.history]
    if field == "MaxConcurrencyPath":
        assert types == ["ExecutionStarted", "MapStateEntered", "ExecutionFailed"]
    else:
        assert types == [
            "ExecutionStarted",
            "MapStateEntered",
            "MapStateStarted",
            "ExecutionFailed",
        ]
        assert details(result.history[2]) == {"length": 2}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ToleratedFailurePercentagePath", 0),
        ("ToleratedFailurePercentagePath", 1),
        ("ToleratedFailurePercentagePath", 1.1),
        ("ToleratedFailurePercentagePath", 100),
        ("ToleratedFailureCountPath", 0),
        ("MaxConcurrencyPath", 1),
    ],
)
def test_d3_accepted_path_values(field: str, value: Any) -> None:
    definition, given = _path_map(field, value)
    assert run(definition, given).output == [1, 2]


# --------------------------------------------------------------------- B8


def test_b8_a5_a_map_whose_tasks_time_out_aborts_the_other_iterations() -> None:
    """B8: 4 concurrent Lambda tasks time out: MapIterationFailed(0), then alternating
    TaskStateAborted / MapIterationAborted(i) for the others, then MapStateFailed, all
    pointing at the first TaskTimedOut (order chosen from the rule's text)."""
    task = {"Type": "Task", "Resource": FN + "slow", "TimeoutSeconds": 5, "End": True}
    machine = load_state_machine(
        {
            "StartAt": "M",
            "States": {"M": {"Type": "Map", "ItemProcessor": graph("T", task), "End": True}},
        }
    )
    env = Env(now=T0, rng=random.Random(1))
    first = start(machine, [1, 2, 3, 4], env)
    invoke = next(c for c in first.commands if isinstance(c, ev.InvokeTask))
    later = Env(now=T0 + timedelta(seconds=5), rng=random.Random(1))
    fired = step(
        machine, first.execution, ev.TimerFired(invoke.frame, invoke.seq, "task_timeout"), later
    )
    timed_out = fired.events[0]
    assert timed_out["type"] == "LambdaFunctionTimedOut"
    cause = timed_out["id"]
    assert [(e["previousEventId"], e["type"]) for e in fired.events[1:]] == [
        (cause, "MapIterationFailed"),
        (cause, "TaskStateAborted"),
        (cause, "MapIterationAborted"),
        (cause, "TaskStateAborted"),
        (cause, "MapIterationAborted"),
        (cause, "TaskStateAborted"),
        (cause, "MapIterationAborted"),
        (cause, "MapStateFailed"),
        (cause + 8, "ExecutionFailed"),
    ]
    aborted = [details(e)["index"] for e in fired.events if e["type"] == "MapIterationAborted"]
    assert aborted == [1, 2, 3]
    # C6: a timeout has no cause, in the task's event and in ExecutionFailed.
    assert details(timed_out) == {"error": "States.Timeout"}
    assert details(fired.events[-1]) == {"error": "States.Timeout"}


def test_b8_a_task_failure_ending_a_parallel_branch_aborts_the_other_task() -> None:
    """B8: TaskFailed, TaskStateAborted, ParallelStateFailed, both pointing at TaskFailed."""
    waiting = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": "q", "MessageBody.$": "$$.Task.Token"},
        "End": True,
    }
    failing = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [graph("W", waiting), graph("F", failing)],
                "End": True,
            }
        },
    }
    machine = load_state_machine(definition)
    env = Env(now=T0, rng=random.Random(1))
    first = start(machine, {}, env)
    call = next(c for c in first.commands if isinstance(c, ev.InvokeTask) and c.state_name == "F")
    failed = step(machine, first.execution, ev.TaskFailed(call.frame, call.seq, "Boom", "x"), env)
    task_failed = failed.events[0]["id"]
    assert trace(failed.events) == [
        (task_failed, failed.events[0]["previousEventId"], "TaskFailed"),
        (task_failed + 1, task_failed, "TaskStateAborted"),
        (task_failed + 2, task_failed, "ParallelStateFailed"),
        (task_failed + 3, task_failed + 2, "ExecutionFailed"),
    ]


# --------------------------------------------------------------------- C6, D7


def test_d7_a_fail_state_without_fields_in_a_map_iteration() -> None:
    """D7: a Fail state without Error or Cause in a Map iteration: ExecutionFailed {}."""
    definition = {
        "StartAt": "M",
        "States": {
            "M": {"Type": "Map", "ItemProcessor": graph("F", {"Type": "Fail"}), "End": True}
        },
    }
    result = run(definition, [1])
    assert details(result.history[-1]) == {}
    assert (result.status, result.error, result.cause) == ("FAILED", None, None)


def test_d7_a_fail_state_with_only_an_error_in_a_parallel() -> None:
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [graph("F", {"Type": "Fail", "Error": "FailureType"})],
                "End": True,
            }
        },
    }
    assert details(run(definition).history[-1]) == {"error": "FailureType"}


def test_d7_a_caught_failure_without_fields_gives_null_error_and_cause() -> None:
    """D7: SendTaskFailure without fields, caught: {"Error": null, "Cause": null}; the
    TaskFailed event has neither key."""
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": "q", "MessageBody.$": "$$.Task.Token"},
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}],
                "End": True,
            },
            "Done": PASS_END,
        },
    }
    machine = load_state_machine(definition)
    env = Env(now=T0, rng=random.Random(1))
    first = start(machine, {}, env)
    call = next(c for c in first.commands if isinstance(c, ev.InvokeTask))
    failed = step(machine, first.execution, ev.TaskFailed(call.frame, call.seq, "", ""), env)
    assert failed.execution.output == {"Error": None, "Cause": None}
    assert details(failed.events[0]) == {
        "resourceType": "sqs",
        "resource": "sendMessage.waitForTaskToken",
    }


def test_c6_a_lambda_timeout_has_no_cause() -> None:
    """C6: LambdaFunctionTimedOut {"error": "States.Timeout"}, ExecutionFailed likewise."""
    task = {"Type": "Task", "Resource": FN + "slow", "TimeoutSeconds": 5, "End": True}
    machine = load_state_machine({"StartAt": "T", "States": {"T": task}})
    env = Env(now=T0, rng=random.Random(1))
    first = start(machine, {}, env)
    invoke = next(c for c in first.commands if isinstance(c, ev.InvokeTask))
    fired = step(
        machine, first.execution, ev.TimerFired(invoke.frame, invoke.seq, "task_timeout"), env
    )
    assert [(e["type"], details(e)) for e in fired.events] == [
        ("LambdaFunctionTimedOut", {"error": "States.Timeout"}),
        ("ExecutionFailed", {"error": "States.Timeout"}),
    ]
    assert (fired.execution.error, fired.execution.cause) == ("States.Timeout", None)


@pytest.mark.parametrize(
    ("fields", "location", "message", "started"),
    [
        (
            {"MaxConcurrency": "{% 'x' %}"},
            "MaxConcurrency",
            'The MaxConcurrency value "x" is not a non-negative integer.',
            False,
        ),
        (
            {"ToleratedFailureCount": "{% -1 %}"},
            "ToleratedFailureCount",
            "ToleratedFailureCount cannot be negative.",
            True,
        ),
        (
            {"ToleratedFailurePercentage": "{% 'x' %}"},
            "ToleratedFailurePercentage",
            'The ToleratedFailurePercentage value "x" is not a number.',
            True,
        ),
        (
            {"ToleratedFailurePercentage": "{% 100.5 %}"},
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentage must be between 0 and 100.",
            True,
        ),
    ],
)
def test_b3_b4_jsonata_map_fields(
    fields: dict[str, Any], location: str, message: str, started: bool
) -> None:
    """JSONata twins of the D3 fields, read in B4's order (MaxConcurrency before
    MapStateStarted, the tolerated-failure fields after it); as evaluation failures they
    write EvaluationFailed and MapStateFailed (B3)."""
    result = run(_map([1], **fields))
    failure = only(result.history, "EvaluationFailed")
    assert details(failure)["location"] == location
    assert details(failure)["cause"].endswith(message)
    types = [e["type"] for e in result.history]
    assert ("MapStateStarted" in types) is started
    assert types[-2:] == ["MapStateFailed", "ExecutionFailed"]


def test_b8_a_nested_map_s_iterations_are_aborted_before_their_branch() -> None:
    """B8 in depth: a Parallel branch holding a Map of waiting tasks is stopped when the
    other branch fails: each inner TaskStateAborted / MapIterationAborted, all pointing at
    the failing TaskFailed, then ParallelStateFailed."""
    waiting = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": "q", "MessageBody.$": "$$.Task.Token"},
        "End": True,
    }
    inner = {"Type": "Map", "ItemProcessor": graph("W", waiting), "End": True}
    failing = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}
    branches = [graph("Inner", inner), graph("F", failing)]
    machine = load_state_machine(
        {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": branches, "End": True}}}
    )
    env = Env(now=T0, rng=random.Random(1))
    first = start(machine, [1, 2], env)
    call = next(c for c in first.commands if isinstance(c, ev.InvokeTask) and c.state_name == "F")
    failed = step(machine, first.execution, ev.TaskFailed(call.frame, call.seq, "Boom"), env)
    cause = failed.events[0]["id"]
    assert [(e["previousEventId"], e["type"]) for e in failed.events[1:]] == [
        (cause, "TaskStateAborted"),
        (cause, "MapIterationAborted"),
        (cause, "TaskStateAborted"),
        (cause, "MapIterationAborted"),
        (cause, "ParallelStateFailed"),
        (cause + 5, "ExecutionFailed"),
    ]
    assert failed.execution.frames == {}
