"""Choice, Wait, Fail, Succeed, variables and timeouts, run through the interpreter.

Cited pages: Developer Guide "Choice workflow state", "Wait workflow state", "Fail
workflow state", "Passing data between states with variables", "Task workflow state".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import stepwell
from stepwell import TaskError

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FN = "arn:aws:lambda:us-east-1:123456789012:function:"


def choice_machine(rule: dict[str, Any], default: bool = True) -> dict[str, Any]:
    choice: dict[str, Any] = {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}]}
    states: dict[str, Any] = {"C": choice, "Yes": {"Type": "Pass", "Result": "yes", "End": True}}
    if default:
        choice["Default"] = "No"
        states["No"] = {"Type": "Pass", "Result": "no", "End": True}
    return {"StartAt": "C", "States": states}


@pytest.mark.parametrize(
    ("rule", "given", "expected"),
    [
        ({"Variable": "$.n", "NumericGreaterThan": 3}, {"n": 4}, "yes"),
        ({"Variable": "$.n", "NumericGreaterThan": 3}, {"n": 3}, "no"),
        ({"Variable": "$.s", "StringEquals": "a"}, {"s": "a"}, "yes"),
        ({"Not": {"Variable": "$.s", "StringEquals": "a"}}, {"s": "a"}, "no"),
        (
            {
                "And": [
                    {"Variable": "$.n", "IsPresent": True},
                    {"Variable": "$.n", "IsNumeric": True},
                ]
            },
            {"n": 1},
            "yes",
        ),
        ({"Variable": "$.x", "IsPresent": True}, {}, "no"),
        ({"Variable": "$.i", "NumericLessThanPath": "$.n"}, {"i": 1, "n": 2}, "yes"),
    ],
)
def test_choice_routes_by_first_matching_rule(
    rule: dict[str, Any], given: Any, expected: str
) -> None:
    assert stepwell.run(choice_machine(rule), given, seed=1).output == expected


def test_choice_without_match_or_default_fails_with_states_runtime() -> None:
    """AWS fails it with States.Runtime, not the spec's States.NoChoiceMatched (measured
    on AWS, floci-io/floci pull request #3167); "failure to transition out of the state"."""
    definition = choice_machine({"Variable": "$.n", "NumericEquals": 1}, default=False)
    result = stepwell.run(definition, {"n": 2}, seed=1)
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause is not None
    assert result.cause.startswith("An error occurred while executing the state 'C' (entered")


def test_jsonata_choice_condition_and_rule_output() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Condition": "{% $states.input.n > 1 %}",
                        "Output": {"big": "{% $states.input.n %}"},
                        "Next": "Done",
                    }
                ],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    assert stepwell.run(definition, {"n": 5}, seed=1).output == {"big": 5}
    assert stepwell.run(definition, {"n": 0}, seed=1).output == {"n": 0}


def test_jsonata_condition_must_be_boolean() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $states.input.n %}", "Next": "Done"}],
            },
            "Done": {"Type": "Succeed"},
        },
    }
    result = stepwell.run(definition, {"n": 5}, seed=1)
    assert result.error == "States.QueryEvaluationError"


@pytest.mark.parametrize(
    ("wait", "given", "seconds"),
    [
        ({"Seconds": 90}, {}, 90),
        ({"SecondsPath": "$.s"}, {"s": 7}, 7),
        ({"Timestamp": "2025-03-01T13:00:00Z"}, {}, 3600),
        ({"TimestampPath": "$.t"}, {"t": "2025-03-01T12:00:30Z"}, 30),
        ({"Timestamp": "2025-01-01T00:00:00Z"}, {}, 0),  # in the past: no wait
    ],
)
def test_wait_advances_the_virtual_clock(wait: dict[str, Any], given: Any, seconds: int) -> None:
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", **wait, "End": True}}}
    result = stepwell.run(definition, given, start_time=T0, seed=1)
    assert result.status == "SUCCEEDED"
    assert result.output == given
    assert result.stop_date - T0 == timedelta(seconds=seconds)
    exited = next(e for e in result.history if e["type"] == "WaitStateExited")
    assert exited["timestamp"] - T0 == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("wait", "given"),
    [
        ({"SecondsPath": "$.s"}, {"s": -1}),
        ({"SecondsPath": "$.s"}, {"s": "ten"}),
        ({"TimestampPath": "$.t"}, {"t": "yesterday"}),
        ({"SecondsPath": "$.missing"}, {}),
    ],
)
def test_wait_bad_values_fail_with_states_runtime(wait: dict[str, Any], given: Any) -> None:
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", **wait, "End": True}}}
    result = stepwell.run(definition, given, seed=1)
    assert (result.status, result.error) == ("FAILED", "States.Runtime")


def test_jsonata_wait_seconds_expression() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": "{% $states.input.s * 2 %}", "End": True}},
    }
    result = stepwell.run(definition, {"s": 5}, start_time=T0, seed=1)
    assert result.stop_date - T0 == timedelta(seconds=10)


@pytest.mark.parametrize(
    ("fail", "given", "error", "cause"),
    [
        ({"Error": "E", "Cause": "C"}, {}, "E", "C"),
        ({"ErrorPath": "$.e", "CausePath": "$.c"}, {"e": "Err", "c": "why"}, "Err", "why"),
        ({"ErrorPath": "States.Format('E{}', $.n)"}, {"n": 1}, "E1", None),
        ({}, {}, None, None),
    ],
)
def test_fail_state(fail: dict[str, Any], given: Any, error: Any, cause: Any) -> None:
    definition = {"StartAt": "F", "States": {"F": {"Type": "Fail", **fail}}}
    result = stepwell.run(definition, given, seed=1)
    assert (result.status, result.error, result.cause) == ("FAILED", error, cause)
    assert [e["type"] for e in result.history] == [
        "ExecutionStarted",
        "FailStateEntered",
        "ExecutionFailed",
    ]


def test_fail_error_path_must_be_a_string() -> None:
    definition = {"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e"}}}
    assert stepwell.run(definition, {"e": 5}, seed=1).error == "States.Runtime"


def test_variables_assign_and_read_later_jsonpath() -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"x": 1, "y.$": "$.v"}, "Next": "B"},
            "B": {"Type": "Pass", "Parameters": {"x.$": "$x", "y.$": "$y"}, "End": True},
        },
    }
    assert stepwell.run(definition, {"v": "V"}, seed=1).output == {"x": 1, "y": "V"}


def test_assign_and_output_see_variables_from_before_the_state() -> None:
    """Assign and Output are evaluated together: Output sees the old value."""
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "B"},
            "B": {
                "Type": "Pass",
                "Assign": {"x": "{% $x + 1 %}"},
                "Output": {"seen": "{% $x %}"},
                "Next": "C",
            },
            "C": {"Type": "Pass", "Output": {"now": "{% $x %}"}, "End": True},
        },
    }
    result = stepwell.run(definition, {}, seed=1)
    assert result.output == {"now": 2}
    exited = [e for e in result.history if e["type"] == "PassStateExited"]
    assert exited[1]["stateExitedEventDetails"]["output"] == '{"seen":1}'


def test_map_iterations_read_outer_variables_but_do_not_leak_their_own() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"base": 10}, "Next": "M"},
            "M": {
                "Type": "Map",
                "Items": "{% $states.input.xs %}",
                "ItemProcessor": {
                    "StartAt": "Add",
                    "States": {
                        "Add": {
                            "Type": "Pass",
                            "Assign": {"inner": 1},
                            "Output": "{% $states.input + $base %}",
                            "End": True,
                        }
                    },
                },
                "Next": "After",
            },
            "After": {
                "Type": "Pass",
                "Output": {"r": "{% $states.input %}", "inner": "{% $exists($inner) %}"},
                "End": True,
            },
        },
    }
    result = stepwell.run(definition, {"xs": [1, 2]}, seed=1)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"r": [11, 12], "inner": False}


def test_execution_timeout_seconds_times_out() -> None:
    definition = {
        "TimeoutSeconds": 5,
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}},
    }
    result = stepwell.run(definition, {}, start_time=T0, seed=1)
    # K6: a timed-out execution has no error and no cause.
    assert (result.status, result.error, result.cause) == ("TIMED_OUT", None, None)
    assert result.history[-1]["type"] == "ExecutionTimedOut"
    assert result.stop_date - T0 == timedelta(seconds=5)


def test_context_object_fields() -> None:
    definition = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Parameters": {"c.$": "$$"}, "End": True}},
    }
    result = stepwell.run(definition, {"a": 1}, name="my-run", start_time=T0, seed=1)
    context = result.output["c"]
    assert context["Execution"]["Name"] == "my-run"
    assert context["Execution"]["Input"] == {"a": 1}
    # "when a timestamp has zero fractional seconds, trailing zeros are removed"
    assert context["Execution"]["StartTime"] == "2025-03-01T12:00:00Z"
    assert context["State"] == {  # G1: no RetryCount in a Pass state
        "EnteredTime": "2025-03-01T12:00:00Z",
        "Name": "P",
    }
    assert context["StateMachine"]["Name"] == "machine"


def test_wait_for_task_token_puts_a_token_in_the_context() -> None:
    seen: list[Any] = []

    def consumer(event: Any) -> Any:
        seen.append(event)
        raise TaskError("Stop", "done")

    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "consumer", "Payload": {"token.$": "$$.Task.Token"}},
                "End": True,
            }
        },
    }
    stepwell.run(definition, {}, functions={"consumer": consumer}, seed=1)
    assert len(seen[0]["token"]) >= 64
