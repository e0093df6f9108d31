"""AWS-parity details found by auditing the interpreter against the Developer Guide and
against behaviour measured on AWS (quoted in public issues), one test per finding.

Cited pages: Developer Guide "Passing data between states with variables", "Choice
workflow state", "Transforming data with JSONata", "Accessing execution data from the
Context object", "Step Functions service quotas", "Handling errors"; API Reference
"StateExitedEventDetails", "EvaluationFailedEventDetails".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

import stepwell
from stepwell.engine.dataflow import iso_time

FN = "arn:aws:lambda:us-east-1:123456789012:function:"


def events_of(result: Any, event_type: str) -> list[dict[str, Any]]:
    return [e for e in result.history if e["type"] == event_type]


def only(result: Any, event_type: str) -> dict[str, Any]:
    (event,) = events_of(result, event_type)
    return event


def jsonata(states: dict[str, Any], start: str = "S") -> dict[str, Any]:
    return {"QueryLanguage": "JSONata", "StartAt": start, "States": states}


# --------------------------------------------------------------------- history shapes


def test_state_exited_lists_the_assigned_variables_as_json_text() -> None:
    """API Reference, StateExitedEventDetails: assignedVariables maps each name to its
    value "as a serialized JSON representation", with assignedVariablesDetails."""
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"n": 1, "who.$": "$.name"}, "Next": "B"},
            "B": {"Type": "Pass", "End": True},
        },
    }
    result = stepwell.run(definition, {"name": "Ada"}, seed=1)
    exited = [e["stateExitedEventDetails"] for e in events_of(result, "PassStateExited")]
    assert exited[0]["assignedVariables"] == {"n": "1", "who": '"Ada"'}
    assert exited[0]["assignedVariablesDetails"] == {"truncated": False}
    assert "assignedVariables" not in exited[1]


def test_variables_assigned_in_an_iteration_are_not_the_map_state_s() -> None:
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "P",
                    "States": {"P": {"Type": "Pass", "Assign": {"inner": 1}, "End": True}},
                },
                "End": True,
            }
        },
    }
    result = stepwell.run(definition, [1], seed=1)
    assert "assignedVariables" in only(result, "PassStateExited")["stateExitedEventDetails"]
    assert "assignedVariables" not in only(result, "MapStateExited")["stateExitedEventDetails"]


def test_parallel_and_map_succeeded_do_not_move_the_previous_event_chain() -> None:
    """Measured on AWS (floci-io/floci pull request #3167): "*StateSucceeded ... do not
    advance" previousEventId; the Exited event points where the Succeeded one points."""

    def graph(name: str) -> dict[str, Any]:
        return {"StartAt": name, "States": {name: {"Type": "Pass", "End": True}}}

    definition = {
        "StartAt": "P",
        "States": {
            "P": {"Type": "Parallel", "Branches": [graph("B1"), graph("B2")], "Next": "M"},
            "M": {"Type": "Map", "ItemProcessor": graph("I"), "End": True},
        },
    }
    result = stepwell.run(definition, [1], seed=1)
    for kind in ("Parallel", "Map"):
        succeeded = only(result, f"{kind}StateSucceeded")
        exited = only(result, f"{kind}StateExited")
        assert exited["id"] == succeeded["id"] + 1
        assert exited["previousEventId"] == succeeded["previousEventId"]
        assert succeeded["previousEventId"] == succeeded["id"] - 1


def test_map_iteration_failed_does_not_move_the_previous_event_chain() -> None:
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "F",
                    "States": {"F": {"Type": "Fail", "Error": "Boom"}},
                },
                "End": True,
            }
        },
    }
    result = stepwell.run(definition, [1], seed=1)
    failed_iteration = only(result, "MapIterationFailed")
    failed_map = only(result, "MapStateFailed")
    assert failed_map["previousEventId"] == failed_iteration["previousEventId"]
    assert failed_iteration["previousEventId"] == only(result, "FailStateEntered")["id"]


def test_the_history_ends_at_25000_events_with_states_runtime() -> None:
    """Service quotas: 25,000 events; AWS fails the execution with States.Runtime, "The
    execution reached the maximum number of history events (25000).", and that
    ExecutionFailed is event 25,000 (floci-io/floci issue #2734, measured)."""
    definition = {
        "StartAt": "Again",
        "States": {
            "Again": {"Type": "Pass", "Next": "Check"},
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.stop", "IsPresent": True, "Next": "Done"}],
                "Default": "Again",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    result = stepwell.run(definition, {}, seed=1)
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause == "The execution reached the maximum number of history events (25000)."
    assert len(result.history) == 25_000
    assert result.history[-1]["type"] == "ExecutionFailed"
    assert result.history[-1]["id"] == 25_000


# --------------------------------------------------------------------- JSONata errors


@pytest.mark.parametrize(
    ("state", "location"),
    [
        ({"Type": "Pass", "Output": {"v": "{% $states.input.missing %}"}}, "Output/v"),
        ({"Type": "Pass", "Assign": {"x": "{% $states.input.missing %}"}}, "Assign/x"),
        ({"Type": "Wait", "Seconds": "{% $states.input.missing %}"}, "Seconds"),
        (
            {
                "Type": "Choice",
                "Choices": [
                    {"Condition": "{% false %}", "Next": "End"},
                    {"Condition": "{% $states.input.missing %}", "Next": "End"},
                ],
            },
            "Choices[1]/Condition",
        ),
        (
            {
                "Type": "Choice",
                "Choices": [{"Condition": "{% true %}", "Next": "End", "Output": "{% $nope %}"}],
            },
            "Choices[0]/Output",
        ),
    ],
)
def test_a_jsonata_field_that_returns_nothing_names_the_field(
    state: dict[str, Any], location: str
) -> None:
    """Measured on AWS (floci-io/floci issue #2665, pull request #2689): the cause names the
    field ('Output/v', 'Choices[1]/Condition', ...), prefixed with the state and its
    entered event; an EvaluationFailed event carries state and location."""
    body = {**state} if state["Type"] == "Choice" else {**state, "Next": "End"}
    definition = jsonata({"S": body, "End": {"Type": "Succeed"}})
    result = stepwell.run(definition, {}, seed=1)
    assert (result.status, result.error) == ("FAILED", "States.QueryEvaluationError")
    assert result.cause == (
        "An error occurred while executing the state 'S' (entered at the event id #2). "
        f"The JSONata expression '{_expression(state, location)}' specified for the field "
        f"'{location}' returned nothing (undefined)."
    )
    details = only(result, "EvaluationFailed")["evaluationFailedEventDetails"]
    assert details["state"] == "S"
    assert details["location"] == location
    assert details["error"] == "States.QueryEvaluationError"


def _expression(state: dict[str, Any], location: str) -> str:
    value: Any = state
    for part in location.replace("[", "/").replace("]", "").split("/"):
        value = value[int(part)] if part.isdigit() else value[part]
    return str(value)[3:-3]


def test_a_catcher_output_error_names_the_catcher() -> None:
    definition = jsonata(
        {
            "S": {
                "Type": "Task",
                "Resource": FN + "boom",
                "Catch": [
                    {"ErrorEquals": ["Nope"], "Next": "End"},
                    {"ErrorEquals": ["States.ALL"], "Output": "{% $missing %}", "Next": "End"},
                ],
                "End": True,
            },
            "End": {"Type": "Succeed"},
        }
    )

    def boom(event: Any) -> Any:
        raise stepwell.TaskError("Boom", "no")

    result = stepwell.run(definition, {}, functions={"boom": boom}, seed=1)
    assert result.error == "States.QueryEvaluationError"
    assert "specified for the field 'Catch[1]/Output'" in (result.cause or "")


def test_a_jsonata_value_of_the_wrong_type_is_a_query_evaluation_error() -> None:
    """Developer Guide, "Handling expression errors": a value the field does not accept ("Type
    incompatibility", "Value out of range", e.g. a negative TimeoutSeconds) throws
    States.QueryEvaluationError, which a Catch can handle."""
    definition = jsonata(
        {
            "S": {
                "Type": "Task",
                "Resource": FN + "f",
                "TimeoutSeconds": "{% -5 %}",
                "Catch": [
                    {
                        "ErrorEquals": ["States.QueryEvaluationError"],
                        "Output": "{% $states.errorOutput.Error %}",
                        "Next": "End",
                    }
                ],
                "End": True,
            },
            "End": {"Type": "Succeed"},
        }
    )
    result = stepwell.run(definition, {}, functions={"f": lambda event: event}, seed=1)
    assert (result.status, result.output) == ("SUCCEEDED", "States.QueryEvaluationError")
    location = only(result, "EvaluationFailed")["evaluationFailedEventDetails"]["location"]
    assert location == "TimeoutSeconds"
    assert not events_of(result, "LambdaFunctionScheduled")


# --------------------------------------------------------------------- variables


def test_jsonpath_task_assign_reads_the_raw_result_and_old_variables() -> None:
    """Variables page: "For JSONPath states ... In Task, Map, Parallel states, the $ refers to the
    API/sub-workflow result" and Assign runs beside ResultSelector; every expression reads
    variables "as they were on state entry"."""
    definition = {
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Assign": {"x": "old"}, "Next": "T"},
            "T": {
                "Type": "Task",
                "Resource": FN + "f",
                "ResultSelector": {"picked.$": "$.a", "x.$": "$x"},
                "Assign": {"raw.$": "$.b", "x": "new"},
                "Next": "Show",
            },
            "Show": {
                "Type": "Pass",
                "Parameters": {"out.$": "$", "raw.$": "$raw", "x.$": "$x"},
                "End": True,
            },
        },
    }
    result = stepwell.run(definition, {}, functions={"f": lambda event: {"a": 1, "b": 2}}, seed=1)
    assert result.output == {"out": {"picked": 1, "x": "old"}, "raw": 2, "x": "new"}


@pytest.mark.parametrize(
    ("given", "expected_variables", "expected_output"),
    [
        # The matched rule has its own Assign and no Output: the state's Assign and Output
        # are not evaluated, and the output is the input.
        ({"n": 1}, {"rule": '"one"'}, {"n": 1}),
        # No rule matched: Default, with the state's Assign and Output.
        ({"n": 5}, {"fallback": "true"}, "default"),
    ],
)
def test_choice_rule_and_state_assign_are_mutually_exclusive(
    given: Any, expected_variables: dict[str, str], expected_output: Any
) -> None:
    """Developer Guide, "Choice workflow state", "Using Assign with Choice states": "These
    two placements are mutually exclusive at runtime"; the top-level Assign is evaluated
    "only when no Choice Rule matches and the workflow transitions to the Default"."""
    definition = jsonata(
        {
            "S": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Condition": "{% $states.input.n = 1 %}",
                        "Assign": {"rule": "one"},
                        "Next": "End",
                    }
                ],
                "Default": "End",
                "Assign": {"fallback": True},
                "Output": "default",
            },
            "End": {"Type": "Succeed"},
        }
    )
    result = stepwell.run(definition, given, seed=1)
    exited = only(result, "ChoiceStateExited")["stateExitedEventDetails"]
    assert exited["assignedVariables"] == expected_variables
    assert result.output == expected_output


# --------------------------------------------------------------------- errors


def test_states_runtime_in_a_branch_fails_the_execution_at_once() -> None:
    """States.Runtime "will always cause the execution to fail"; measured on AWS
    (floci-io/floci issue #2868): ParallelStateStarted, PassStateEntered, ExecutionFailed,
    with no ParallelStateFailed, and a Catch on the Parallel does not apply."""
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "Fast",
                        "States": {
                            "Fast": {"Type": "Pass", "Parameters": {"m.$": "$.nope"}, "End": True}
                        },
                    }
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handled"}],
                "End": True,
            },
            "Handled": {"Type": "Succeed"},
        },
    }
    result = stepwell.run(definition, {"x": "a"}, seed=1)
    assert [e["type"] for e in result.history] == [
        "ExecutionStarted",
        "ParallelStateEntered",
        "ParallelStateStarted",
        "PassStateEntered",
        "ExecutionFailed",
    ]
    assert result.history[-1]["previousEventId"] == 4  # the branch's PassStateEntered
    assert result.cause == (
        "An error occurred while executing the state 'Fast' (entered at the event id #4). "
        "The JSONPath '$.nope' specified for the field 'm.$' could not be found in the input "
        '\'{"x":"a"}\''
    )


def test_an_oversized_result_is_states_data_limit_exceeded_in_aws_words() -> None:
    """Quoted from AWS: "The state/task 'UpdateMembers' returned a result with a size
    exceeding the maximum number of bytes service limit." (awslabs/aws-securityhub-
    multiaccount-scripts #63); an integration is named by its service, "The state/task
    'aws-sdk:cloudformation' ..." (jogold/cloudstructs #163)."""
    big = "x" * 300_000
    pass_state = {"StartAt": "Big", "States": {"Big": {"Type": "Pass", "Result": big, "End": True}}}
    result = stepwell.run(pass_state, {}, seed=1)
    assert (result.error, result.cause) == (
        "States.DataLimitExceeded",
        "The state/task 'Big' returned a result with a size exceeding the maximum number of "
        "bytes service limit.",
    )
    task = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "f"},
                "End": True,
            }
        },
    }
    result = stepwell.run(task, {}, functions={"f": lambda event: big}, seed=1)
    assert result.cause is not None
    assert result.cause.startswith("The state/task 'lambda' returned a result with a size")


# --------------------------------------------------------------------- context object


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC), "2025-03-01T12:00:00.123Z"),
        (datetime(2025, 3, 1, 12, 0, 0, 120000, tzinfo=UTC), "2025-03-01T12:00:00.120Z"),
        (datetime(2025, 3, 1, 12, 0, 0, 999, tzinfo=UTC), "2025-03-01T12:00:00Z"),
    ],
)
def test_context_timestamps_drop_a_zero_fraction(moment: datetime, text: str) -> None:
    """Context object page: "when a timestamp has zero fractional seconds, trailing zeros
    are removed"."""
    assert iso_time(moment) == text


def test_map_item_context_has_index_value_and_source() -> None:
    """Context object page, "Context object data for Map states": Map.Item.Index, Value
    and Source, which is STATE_DATA for items taken from the state input."""
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemSelector": {"item.$": "$$.Map.Item"},
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        },
    }
    result = stepwell.run(definition, ["a"], seed=1)
    assert result.output == [{"item": {"Index": 0, "Value": "a", "Source": "STATE_DATA"}}]


def test_a_map_too_big_for_the_history_fails_in_its_first_step() -> None:
    """An inline Map records its iterations in the execution's history ("Map state in
    Inline mode": use it if "your workflow's execution history won't exceed 25,000
    entries"); one that would exceed it fails with the history-limit error."""
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        },
    }
    result = stepwell.run(definition, list(range(13_000)), history=False, seed=1)
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause == "The execution reached the maximum number of history events (25000)."


def test_a_failing_jsonpath_catcher_assign_fails_the_execution() -> None:
    """A Catch's Assign reads the error output; a path it cannot find is States.Runtime."""
    definition = {
        "StartAt": "F",
        "States": {
            "F": {
                "Type": "Task",
                "Resource": FN + "f",
                "Catch": [
                    {"ErrorEquals": ["States.ALL"], "Assign": {"x.$": "$.nope"}, "Next": "End"}
                ],
                "End": True,
            },
            "End": {"Type": "Succeed"},
        },
    }

    def fail(event: Any) -> Any:
        raise stepwell.TaskError("Boom", "no")

    result = stepwell.run(definition, {}, functions={"f": fail}, seed=1)
    assert result.error == "States.Runtime"
    assert result.cause == (
        "An error occurred while executing the state 'F' (entered at the event id #2). The "
        "JSONPath '$.nope' specified for the field 'x.$' could not be found in the input "
        '\'{"Error":"Boom","Cause":"no"}\''
    )
