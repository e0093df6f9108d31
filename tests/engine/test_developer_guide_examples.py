"""Worked examples of the AWS Step Functions Developer Guide and the States Language
specification, run end to end through the engine (``stepwell.run``), one table per page.

Each row is an example the page prints with its exact input and output (or error). Where
the page is inconsistent with itself (the ResultPath page rewrites its own input between
"Default example" and "Default behavior example"), the row keeps the input it starts from.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import stepwell
from stepwell import TaskError
from stepwell.language.evaluation import EvalContext
from stepwell.language.templates import compile_payload_template

FN = "arn:aws:lambda:us-east-1:123456789012:function:"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def one_state(state: dict[str, Any], name: str = "S") -> dict[str, Any]:
    return {"StartAt": name, "States": {name: {**state, "End": True}}}


def hello(event: Any) -> str:
    """The Lambda function of the tutorial "Creating a Lambda state machine"."""
    return f"Hello, {event['who']}!"


# ------------------------------------------------------------------------------------------
# "Specifying state output using ResultPath in Step Functions" (input-output-resultpath)

HELLO_INPUT = {
    "comment": "This is a test of the input and output of a Task state.",
    "details": "Default example",
    "who": "AWS Step Functions",
}
STRINGS_INPUT = {
    "comment": "An input comment.",
    "strings": {"string1": "foo", "string2": "bar", "string3": "baz"},
    "who": "AWS Step Functions",
}

RESULT_PATH_EXAMPLES: list[tuple[str, dict[str, Any], Any, Any]] = [
    ("replace input (no ResultPath)", {}, HELLO_INPUT, "Hello, AWS Step Functions!"),
    ("replace input ($)", {"ResultPath": "$"}, HELLO_INPUT, "Hello, AWS Step Functions!"),
    ("discard result (null)", {"ResultPath": None}, HELLO_INPUT, HELLO_INPUT),
    (
        "include result with input",
        {"ResultPath": "$.taskresult"},
        HELLO_INPUT,
        {**HELLO_INPUT, "taskresult": "Hello, AWS Step Functions!"},
    ),
    (
        "insert into a child node",
        {"ResultPath": "$.strings.lambdaresult"},
        STRINGS_INPUT,
        {
            "comment": "An input comment.",
            "strings": {
                "string1": "foo",
                "string2": "bar",
                "string3": "baz",
                "lambdaresult": "Hello, AWS Step Functions!",
            },
            "who": "AWS Step Functions",
        },
    ),
    (
        "update a node in the input",
        {"ResultPath": "$.comment"},
        HELLO_INPUT,
        {**HELLO_INPUT, "comment": "Hello, AWS Step Functions!"},
    ),
]


@pytest.mark.parametrize(
    ("fields", "given", "expected"),
    [row[1:] for row in RESULT_PATH_EXAMPLES],
    ids=[row[0] for row in RESULT_PATH_EXAMPLES],
)
def test_result_path_page(fields: dict[str, Any], given: Any, expected: Any) -> None:
    state = {"Type": "Task", "Resource": FN + "HelloFunction", **fields}
    result = stepwell.run(one_state(state), given, functions={"HelloFunction": hello})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == expected


# ------------------------------------------------------------------------------------------
# "InputPath, Parameters and ResultSelector" (input-output-inputpath-params), "Pass workflow
# state" (state-pass), "Accessing execution data from the Context object"
# (input-output-contextobject) and "ItemSelector (Map)" (input-output-itemselector)

PASS_EXAMPLES: list[tuple[str, dict[str, Any], Any, Any]] = [
    (
        "InputPath selects dataset2",
        {"Type": "Pass", "InputPath": "$.dataset2"},
        {
            "comment": "Example for InputPath.",
            "dataset1": {"val1": 1, "val2": 2, "val3": 3},
            "dataset2": {"val1": "a", "val2": "b", "val3": "c"},
        },
        {"val1": "a", "val2": "b", "val3": "c"},
    ),
    (
        "a path can yield a selection of values",
        {"Type": "Pass", "InputPath": "$.a[0:2]"},
        {"a": [1, 2, 3, 4]},
        [1, 2],
    ),
    (
        "Parameters select what I care about",
        {
            "Type": "Pass",
            "Parameters": {
                "comment": "Selecting what I care about.",
                "MyDetails": {
                    "size.$": "$.product.details.size",
                    "exists.$": "$.product.availability",
                    "StaticValue": "foo",
                },
            },
        },
        {
            "comment": "Example for Parameters.",
            "product": {
                "details": {"color": "blue", "size": "small", "material": "cotton"},
                "availability": "in stock",
                "sku": "2317",
                "cost": "$23",
            },
        },
        {
            "comment": "Selecting what I care about.",
            "MyDetails": {"size": "small", "exists": "in stock", "StaticValue": "foo"},
        },
    ),
    (
        "Pass Result placed at ResultPath",
        {
            "Type": "Pass",
            "Result": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
            "ResultPath": "$.coords",
        },
        {"georefOf": "Home"},
        {"georefOf": "Home", "coords": {"x-datum": 0.381018, "y-datum": 622.2269926397355}},
    ),
    (
        "intrinsic States.Array builds BuildId",
        {"Type": "Pass", "Parameters": {"BuildId.$": "States.Array($.Id)"}},
        {"Id": 123456},
        {"BuildId": [123456]},
    ),
    (
        "intrinsic States.ArrayPartition in chunks of four",
        {"Type": "Pass", "Parameters": {"inputArray.$": "States.ArrayPartition($.inputArray,4)"}},
        {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9]},
        {"inputArray": [[1, 2, 3, 4], [5, 6, 7, 8], [9]]},
    ),
    (
        "intrinsic States.ArrayRange(1, 9, 2)",
        {"Type": "Pass", "Parameters": {"array.$": "States.ArrayRange(1, 9, 2)"}},
        {},
        {"array": [1, 3, 5, 7, 9]},
    ),
]


@pytest.mark.parametrize(
    ("state", "given", "expected"),
    [row[1:] for row in PASS_EXAMPLES],
    ids=[row[0] for row in PASS_EXAMPLES],
)
def test_pass_state_examples(state: dict[str, Any], given: Any, expected: Any) -> None:
    result = stepwell.run(one_state(state), given)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == expected


def _map(fields: dict[str, Any], processor: dict[str, Any] | None = None) -> dict[str, Any]:
    inner = processor or {"StartAt": "TestPass", "States": {"TestPass": {"Type": "Pass"}}}
    inner = {**inner, "States": {k: {**v, "End": True} for k, v in inner["States"].items()}}
    return one_state({"Type": "Map", "ItemProcessor": inner, **fields}, "ExampleMapState")


def test_context_object_map_item_index_and_value() -> None:
    """Context object page, "Context object data for Map states": the inputs of the
    iterations are ``{"ContextIndex": i, "ContextValue": item}``."""
    definition = _map(
        {
            "ItemSelector": {
                "ContextIndex.$": "$$.Map.Item.Index",
                "ContextValue.$": "$$.Map.Item.Value",
            }
        }
    )
    people = [{"who": "bob"}, {"who": "meg"}, {"who": "joe"}]
    result = stepwell.run(definition, people)
    assert result.output == [
        {"ContextValue": {"who": "bob"}, "ContextIndex": 0},
        {"ContextValue": {"who": "meg"}, "ContextIndex": 1},
        {"ContextValue": {"who": "joe"}, "ContextIndex": 2},
    ]


def test_item_selector_page() -> None:
    """ItemSelector (Map): ``{"size": 10, "value.$": "$$.Map.Item.Value"}`` gives an
    iteration ``{"size": 10, "value": {"resize": "true", "format": "jpg"}}``."""
    items = [
        {"resize": "true", "format": "jpg"},
        {"resize": "false", "format": "png"},
        {"resize": "true", "format": "jpg"},
    ]
    result = stepwell.run(
        _map({"ItemSelector": {"size": 10, "value.$": "$$.Map.Item.Value"}}), items
    )
    assert result.output == [{"size": 10, "value": item} for item in items]


def test_map_state_example_with_parameters() -> None:
    """Map state page, "Map state example with parameters": each iteration gets the parcel
    and the courier; ResultPath ``$.detail.shipped`` writes the results into the raw
    input (not the InputPath selection)."""
    shipped = [
        {"prod": "R31", "dest-code": 9511, "quantity": 1344},
        {"prod": "S39", "dest-code": 9511, "quantity": 40},
        {"prod": "R31", "dest-code": 9833, "quantity": 12},
        {"prod": "R40", "dest-code": 9860, "quantity": 887},
        {"prod": "R40", "dest-code": 9511, "quantity": 1220},
    ]
    given = {
        "ship-date": "2016-03-14T01:59:00Z",
        "detail": {"delivery-partner": "UQS", "shipped": shipped},
    }
    calls: list[Any] = []

    def ship_val(event: Any) -> Any:
        calls.append(event)
        return {"valid": event["parcel"]["prod"]}

    fields = {
        "InputPath": "$.detail",
        "ItemsPath": "$.shipped",
        "MaxConcurrency": 0,
        "ResultPath": "$.detail.shipped",
        "Parameters": {"parcel.$": "$$.Map.Item.Value", "courier.$": "$.delivery-partner"},
    }
    processor = {
        "StartAt": "Validate",
        "States": {"Validate": {"Type": "Task", "Resource": FN + "ship-val"}},
    }
    result = stepwell.run(_map(fields, processor), given, functions={"ship-val": ship_val})
    assert calls[0] == {
        "parcel": {"prod": "R31", "dest-code": 9511, "quantity": 1344},
        "courier": "UQS",
    }
    assert result.output == {
        "ship-date": "2016-03-14T01:59:00Z",
        "detail": {
            "delivery-partner": "UQS",
            "shipped": [{"valid": item["prod"]} for item in shipped],
        },
    }


# ------------------------------------------------------------------------------------------
# "Handling errors in Step Functions workflows" (concepts-error-handling) and the States
# Language specification, "Retrying after error"


def _scheduled_offsets(result: Any) -> list[float]:
    return [
        (event["timestamp"] - T0).total_seconds()
        for event in result.history
        if event["type"] == "LambdaFunctionScheduled"
    ]


def test_retry_waits_3_then_4_5_seconds() -> None:
    """ "This example of a Retry makes 2 retry attempts after waiting for 3 and 4.5 seconds."""

    def times_out(event: Any) -> Any:
        raise TaskError("States.Timeout", "took too long")

    retrier = {
        "ErrorEquals": ["States.Timeout"],
        "IntervalSeconds": 3,
        "MaxAttempts": 2,
        "BackoffRate": 1.5,
    }
    state = {"Type": "Task", "Resource": FN + "X", "Retry": [retrier]}
    result = stepwell.run(one_state(state), {}, functions={"X": times_out}, start_time=T0)
    assert (result.status, result.error) == ("FAILED", "States.Timeout")
    assert _scheduled_offsets(result) == [0, 3, 3 + 4.5]


def test_retry_except_timeout() -> None:
    """ "This example of a Retry field retries any error except States.Timeout"."""
    attempts: list[str] = []

    def fails(event: Any) -> Any:
        attempts.append(event["error"])
        raise TaskError(event["error"], "no")

    retry = [
        {"ErrorEquals": ["States.Timeout"], "MaxAttempts": 0},
        {"ErrorEquals": ["States.ALL"]},
    ]
    definition = one_state({"Type": "Task", "Resource": FN + "X", "Retry": retry})
    stepwell.run(definition, {"error": "States.Timeout"}, functions={"X": fails})
    assert attempts == ["States.Timeout"]
    attempts.clear()
    stepwell.run(definition, {"error": "Other"}, functions={"X": fails})
    assert attempts == ["Other"] * 4  # the first try and MaxAttempts' default of 3


def test_complex_retry_scenario() -> None:
    """Spec, "Complex retry scenarios": a retrier's parameters apply across all its visits.
    Errors ErrorA, ErrorB, ErrorC, ErrorB: waits of 1, 2 and 5 seconds; the fourth error
    matches the first retrier, whose ceiling of two retries is reached, so the Catch
    sends the execution to Z. (An older Developer Guide page told a five-error variant,
    retrying the fourth; the current specification tells this one.)"""
    errors = iter(["ErrorA", "ErrorB", "ErrorC", "ErrorB", "ErrorB"])

    def task_x(event: Any) -> Any:
        raise TaskError(next(errors), "failed")

    definition = {
        "StartAt": "X",
        "States": {
            "X": {
                "Type": "Task",
                "Resource": FN + "X",
                "Next": "Y",
                "Retry": [
                    {
                        "ErrorEquals": ["ErrorA", "ErrorB"],
                        "IntervalSeconds": 1,
                        "BackoffRate": 2.0,
                        "MaxAttempts": 2,
                    },
                    {"ErrorEquals": ["ErrorC"], "IntervalSeconds": 5},
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z"}],
            },
            "Y": {"Type": "Pass", "End": True},
            "Z": {"Type": "Pass", "End": True},
        },
    }
    result = stepwell.run(definition, {}, functions={"X": task_x}, start_time=T0)
    assert _scheduled_offsets(result) == [0, 1, 1 + 2, 1 + 2 + 5]
    assert result.output == {"Error": "ErrorB", "Cause": "failed"}
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in result.history
        if "stateEnteredEventDetails" in e
    ]
    assert entered == ["X", "Z"]


@pytest.mark.parametrize("error", ["HandledError", "States.TaskFailed"])
def test_handling_a_failure_using_catch(error: str) -> None:
    """ "Handling a failure using Catch": FailFunction's error goes to the fallback Pass
    state, whose Result is the output; States.TaskFailed matches any error a Lambda
    function outputs."""

    def fail_function(event: Any) -> Any:
        raise TaskError("HandledError", "error")

    definition = {
        "StartAt": "HelloWorld",
        "States": {
            "HelloWorld": {
                "Type": "Task",
                "Resource": FN + "FailFunction",
                "Catch": [{"ErrorEquals": [error], "Next": "fallback"}],
                "End": True,
            },
            "fallback": {"Type": "Pass", "Result": "Hello, AWS Step Functions!", "End": True},
        },
    }
    result = stepwell.run(definition, {}, functions={"FailFunction": fail_function})
    assert (result.status, result.output) == ("SUCCEEDED", "Hello, AWS Step Functions!")


def test_catch_result_path_keeps_the_input() -> None:
    """ "Use ResultPath to include both error and input in a Catch": with
    ``"ResultPath": "$.error-info"`` the error output is added to the input."""

    def fails(event: Any) -> Any:
        raise TaskError("java.lang.Exception", "boom")

    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": FN + "X",
                "Catch": [
                    {
                        "ErrorEquals": ["java.lang.Exception"],
                        "ResultPath": "$.error-info",
                        "Next": "RecoveryState",
                    },
                    {"ErrorEquals": ["States.ALL"], "Next": "EndState"},
                ],
                "End": True,
            },
            "RecoveryState": {"Type": "Pass", "End": True},
            "EndState": {"Type": "Pass", "End": True},
        },
    }
    result = stepwell.run(definition, {"foo": "bar"}, functions={"X": fails})
    assert result.output == {
        "foo": "bar",
        "error-info": {"Error": "java.lang.Exception", "Cause": "boom"},
    }


# ------------------------------------------------------------------------------------------
# "Transforming data with JSONata in Step Functions" (transforming-data): the functions
# Step Functions adds to JSONata, and JSONata's clock functions


def _jsonata_output(expression: str, given: Any = None) -> Any:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "S",
        "States": {"S": {"Type": "Pass", "Output": "{% " + expression + " %}", "End": True}},
    }
    return stepwell.run(definition, given if given is not None else {}, start_time=T0)


JSONATA_FUNCTION_EXAMPLES: list[tuple[str, Any]] = [
    ("$partition([1,2,3,4], 2)", [[1, 2], [3, 4]]),
    ("$partition([1, 2, 3, 4, 5, 6, 7, 8, 9], 3)", [[1, 2, 3], [4, 5, 6], [7, 8, 9]]),
    ("$range(0, 10, 2)", [0, 2, 4, 6, 8, 10]),
    ("$hash('input data', 'SHA-1')", "aaff4a450a104cd177d28d18d74485e8cae074b7"),
    ('$parse(\'{"key": "value"}\')', {"key": "value"}),
    ("$random(42) = $random(42)", True),
]


@pytest.mark.parametrize(("expression", "expected"), JSONATA_FUNCTION_EXAMPLES)
def test_step_functions_jsonata_functions(expression: str, expected: Any) -> None:
    result = _jsonata_output(expression)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("$now()", "2024-01-01T00:00:00.000Z"),
        ("$millis()", int(T0.timestamp() * 1000)),
        ("$fromMillis($millis() + 1000)", "2024-01-01T00:00:01.000Z"),
    ],
)
def test_now_and_millis_tell_the_time_the_state_was_entered(expression: str, expected: Any) -> None:
    """JSONata's ``$now()`` and ``$millis()`` work in every JSONata field: they read the
    state's entry time (``$states.context.State.EnteredTime``), even when no other field
    of the state mentions ``$states``. (They failed with "the context object has no valid
    State.EnteredTime" before.)"""
    result = _jsonata_output(expression)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == expected


def test_now_in_a_wait_timestamp() -> None:
    """A JSONata Wait ``Timestamp`` computed from ``$now()`` waits from the entry time."""
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "W",
        "States": {
            "W": {
                "Type": "Wait",
                "Timestamp": "{% $fromMillis($millis() + 60000) %}",
                "End": True,
            }
        },
    }
    result = stepwell.run(definition, {}, start_time=T0)
    assert result.status == "SUCCEEDED", result.cause
    assert result.stop_date - T0 == timedelta(seconds=60)


@pytest.mark.parametrize(
    ("query_language", "fields"),
    [
        (
            "JSONPath",
            {
                "Parameters": {
                    "static": "Hello",
                    "title.$": "$.title",
                    "name.$": "$customerName",
                    "not-evaluated": "$customerName",
                }
            },
        ),
        (
            "JSONata",
            {
                "Arguments": {
                    "static": "Hello",
                    "title": "{% $states.input.title %}",
                    "name": "{% $customerName %}",
                    "not-evaluated": "$customerName",
                }
            },
        ),
    ],
)
def test_conversion_from_jsonpath_to_jsonata(query_language: str, fields: dict[str, Any]) -> None:
    """Transforming data with JSONata, the opening sample: given input
    ``{"title": "Doctor"}`` and the variable customerName assigned "María", "both state
    machines will produce" the same result; a string without ``.$`` or ``{% %}`` is a
    literal."""
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"customerName": "María"}, "Next": "T"},
            "T": {
                "QueryLanguage": query_language,
                "Type": "Task",
                "Resource": FN + "echo",
                "End": True,
                **fields,
            },
        },
    }
    result = stepwell.run(definition, {"title": "Doctor"}, functions={"echo": lambda e: e})
    assert result.output == {
        "static": "Hello",
        "title": "Doctor",
        "name": "María",
        "not-evaluated": "$customerName",
    }


# ------------------------------------------------------------------------------------------
# "Wait workflow state" (state-wait) and "Fail workflow state" (state-fail)

WAIT_EXAMPLES: list[tuple[str, dict[str, Any], Any, float]] = [
    ("wait_ten_seconds", {"Seconds": 10}, {}, 10),
    ("wait_until a past timestamp goes on at once", {"Timestamp": "2016-03-14T01:59:00Z"}, {}, 0),
    (
        "TimestampPath",
        {"TimestampPath": "$.expirydate"},
        {"expirydate": "2024-01-01T00:01:00Z"},
        60,
    ),
    ("SecondsPath", {"SecondsPath": "$.expiryseconds"}, {"expiryseconds": 10}, 10),
    ("an offset timestamp", {"Timestamp": "2023-12-31T23:00:30.5-01:00"}, {}, 30.5),
]


@pytest.mark.parametrize(
    ("fields", "given", "seconds"),
    [row[1:] for row in WAIT_EXAMPLES],
    ids=[row[0] for row in WAIT_EXAMPLES],
)
def test_wait_state_examples(fields: dict[str, Any], given: Any, seconds: float) -> None:
    result = stepwell.run(one_state({"Type": "Wait", **fields}, "W"), given, start_time=T0)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == given
    assert (result.stop_date - T0).total_seconds() == seconds


def test_fail_state_example() -> None:
    """Fail workflow state: ``"Error": "ErrorA", "Cause": "Kaiju attack"`` ends the
    execution with that error and cause, in ``executionFailedEventDetails``."""
    definition = {
        "StartAt": "FailState",
        "States": {"FailState": {"Type": "Fail", "Error": "ErrorA", "Cause": "Kaiju attack"}},
    }
    result = stepwell.run(definition, {})
    assert (result.status, result.error, result.cause) == ("FAILED", "ErrorA", "Kaiju attack")
    last = result.history[-1]
    assert last["type"] == "ExecutionFailed"
    assert last["executionFailedEventDetails"] == {"error": "ErrorA", "cause": "Kaiju attack"}


# ------------------------------------------------------------------------------------------
# "Choice workflow state" (state-choice)


def _choose(rule: dict[str, Any], given: Any) -> Any:
    definition = {
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}], "Default": "No"},
            "Yes": {"Type": "Pass", "Result": "matched", "End": True},
            "No": {"Type": "Pass", "Result": "default", "End": True},
        },
    }
    result = stepwell.run(definition, given)
    return result.output if result.succeeded else (result.error, result.cause)


CHOICE_RULE_EXAMPLES: list[tuple[str, dict[str, Any], Any, str]] = [
    ("NumericEquals 1", {"Variable": "$.foo", "NumericEquals": 1}, {"foo": 1}, "matched"),
    (
        "StringEquals MyString",
        {"Variable": "$.foo", "StringEquals": "MyString"},
        {"foo": "MyString"},
        "matched",
    ),
    (
        "StringGreaterThan MyStringABC",
        {"Variable": "$.foo", "StringGreaterThan": "MyStringABC"},
        {"foo": "MyStringABD"},
        "matched",
    ),
    (
        "TimestampEquals 2001-01-01T12:00:00Z",
        {"Variable": "$.foo", "TimestampEquals": "2001-01-01T12:00:00Z"},
        {"foo": "2001-01-01T12:00:00Z"},
        "matched",
    ),
    # "Step Functions doesn't attempt to match a numeric field to a string value."
    (
        "a number is not the string",
        {"Variable": "$.foo", "StringEquals": "1"},
        {"foo": 1},
        "default",
    ),
    (
        "a string is not the number",
        {"Variable": "$.foo", "NumericEquals": 1},
        {"foo": "1"},
        "default",
    ),
    # "because timestamp fields are logically strings, it's possible that a field
    # considered to be a timestamp can be matched by a StringEquals comparator"
    (
        "a timestamp matched by StringEquals",
        {"Variable": "$.foo", "StringEquals": "2001-01-01T12:00:00Z"},
        {"foo": "2001-01-01T12:00:00Z"},
        "matched",
    ),
    # Timestamps: "An uppercase T must separate the date and time portions. An uppercase
    # Z must denote that a numeric time zone offset isn't present."
    (
        "a lowercase t is not a timestamp",
        {"Variable": "$.foo", "IsTimestamp": True},
        {"foo": "2016-08-18t17:33:00Z"},
        "default",
    ),
    (
        "a lowercase z is not a timestamp",
        {"Variable": "$.foo", "IsTimestamp": True},
        {"foo": "2016-08-18T17:33:00z"},
        "default",
    ),
    (
        "a numeric offset is a timestamp",
        {"Variable": "$.foo", "IsTimestamp": True},
        {"foo": "2016-08-18T17:33:00+01:00"},
        "matched",
    ),
    # String comparisons behave as Java's String.compareTo: UTF-16 code units, so U+FFFF
    # sorts after an emoji (a surrogate pair starting with 0xD83D).
    (
        "compareTo orders UTF-16 code units",
        {"Variable": "$.foo", "StringGreaterThan": "\U0001f600"},
        {"foo": "\uffff"},
        "matched",
    ),
]


@pytest.mark.parametrize(
    ("rule", "given", "expected"),
    [row[1:] for row in CHOICE_RULE_EXAMPLES],
    ids=[row[0] for row in CHOICE_RULE_EXAMPLES],
)
def test_choice_rule_examples(rule: dict[str, Any], given: Any, expected: str) -> None:
    assert _choose(rule, given) == expected


CHOICE_STATE_X = {
    "StartAt": "ChoiceStateX",
    "States": {
        "ChoiceStateX": {
            "Type": "Choice",
            "Choices": [
                {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
                {"Variable": "$.value", "NumericEquals": 0, "Next": "ValueIsZero"},
                {
                    "And": [
                        {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                        {"Variable": "$.value", "NumericLessThan": 30},
                    ],
                    "Next": "ValueInTwenties",
                },
            ],
            "Default": "DefaultState",
        },
        "Public": {"Type": "Pass", "Result": "Public", "End": True},
        "ValueIsZero": {"Type": "Pass", "Result": "ValueIsZero", "End": True},
        "ValueInTwenties": {"Type": "Pass", "Result": "ValueInTwenties", "End": True},
        "DefaultState": {"Type": "Fail", "Cause": "No Matches!"},
    },
}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"type": "Private", "value": 22}, "ValueInTwenties"),
        ({"type": "Public", "value": 22}, "Public"),
        ({"type": "Private", "value": 0}, "ValueIsZero"),
    ],
)
def test_choice_state_example(given: Any, expected: str) -> None:
    """The page's ChoiceStateX: input ``{"type": "Private", "value": 22}`` goes to
    ValueInTwenties (the Tasks are Pass states here)."""
    result = stepwell.run(CHOICE_STATE_X, given)
    assert result.output == expected


def test_choice_state_example_default_fails_with_no_matches() -> None:
    result = stepwell.run(CHOICE_STATE_X, {"type": "Private", "value": 5})
    assert (result.status, result.cause) == ("FAILED", "No Matches!")
    assert "error" not in result.history[-1]["executionFailedEventDetails"]  # rule D7


def test_choice_state_example_without_type_fails() -> None:
    """ "If the state input doesn't contain the $.type field, the execution fails and an
    error is displayed in the execution history"."""
    result = stepwell.run(CHOICE_STATE_X, {"value": 22})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.history[-1]["type"] == "ExecutionFailed"


# ------------------------------------------------------------------------------------------
# "Example: Manipulating state data with paths in Step Functions workflows"
# (input-output-example)


def test_inputpath_resultpath_outputpath_example() -> None:
    """InputPath sends only the lambda node to the function, ResultPath inserts the
    result under data in the original input, OutputPath passes only data on."""
    calls: list[Any] = []

    def hello_function(event: Any) -> str:
        calls.append(event)
        return hello(event)

    state = {
        "Type": "Task",
        "Resource": FN + "HelloFunction",
        "InputPath": "$.lambda",
        "ResultPath": "$.data.lambdaresult",
        "OutputPath": "$.data",
    }
    given = {
        "comment": "An input comment.",
        "data": {"val1": 23, "val2": 17},
        "extra": "foo",
        "lambda": {"who": "AWS Step Functions"},
    }
    definition = one_state(state, "HelloWorld")
    result = stepwell.run(definition, given, functions={"HelloFunction": hello_function})
    assert calls == [{"who": "AWS Step Functions"}]
    assert result.output == {
        "val1": 23,
        "val2": 17,
        "lambdaresult": "Hello, AWS Step Functions!",
    }


# ------------------------------------------------------------------------------------------
# "Intrinsic functions for JSONPath states in Step Functions" (intrinsic-functions): each
# example as a Pass state's Parameters field, with the page's input and output.

INTRINSIC_EXAMPLES: list[tuple[str, Any, Any]] = [
    (
        "States.Format('Hello, my name is {}.', $.name)",
        {"name": "Arnav"},
        "Hello, my name is Arnav.",
    ),
    (
        "States.Format($.template, $.name)",
        {"name": "Arnav", "template": "Hello, my name is {}."},
        "Hello, my name is Arnav.",
    ),
    (
        "States.StringToJson($.escapedJsonString)",
        {"escapedJsonString": '{"foo": "bar"}'},
        {"foo": "bar"},
    ),
    ("States.JsonToString($.unescapedJson)", {"unescapedJson": {"foo": "bar"}}, '{"foo":"bar"}'),
    (
        "States.Array('Foo', 2020, $.someJson, null)",
        {"someJson": {"random": "abcdefg"}},
        ["Foo", 2020, {"random": "abcdefg"}, None],
    ),
    (
        "States.ArrayContains($.inputArray, $.lookingFor)",
        {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "lookingFor": 5},
        True,
    ),
    (
        "States.ArrayGetItem($.inputArray, $.index)",
        {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "index": 5},
        6,
    ),
    ("States.ArrayLength($.inputArray)", {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9]}, 9),
    ("States.ArrayUnique($.inputArray)", {"inputArray": [1, 2, 3, 3, 3, 3, 3, 3, 4]}, [1, 2, 3, 4]),
    ("States.Base64Encode($.input)", {"input": "Data to encode"}, "RGF0YSB0byBlbmNvZGU="),
    ("States.Base64Decode($.base64)", {"base64": "RGF0YSB0byBlbmNvZGU="}, "Data to encode"),
    (
        "States.Hash($.Data, $.Algorithm)",
        {"Data": "input data", "Algorithm": "SHA-1"},
        "aaff4a450a104cd177d28d18d74485e8cae074b7",
    ),
    (
        "States.JsonMerge($.json1, $.json2, false)",
        {"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}},
        {"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3},
    ),
    ("States.MathAdd($.value1, $.step)", {"value1": 111, "step": -1}, 110),
    (
        "States.StringSplit($.inputString, $.splitter)",
        {"inputString": "1,2,3,4,5", "splitter": ","},
        ["1", "2", "3", "4", "5"],
    ),
    (
        "States.StringSplit($.inputString, $.splitter)",
        {"inputString": "This.is+a,test=string", "splitter": ".+,="},
        ["This", "is", "a", "test", "string"],
    ),
]


@pytest.mark.parametrize(("expression", "given", "expected"), INTRINSIC_EXAMPLES)
def test_intrinsic_function_examples(expression: str, given: Any, expected: Any) -> None:
    state = {"Type": "Pass", "Parameters": {"value.$": expression}}
    result = stepwell.run(one_state(state), given)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"value": expected}


def test_math_random_example_stays_in_range() -> None:
    """States.MathRandom($.start, $.end) with start 1 and end 999 "returns a random number
    between the start and end values"; with a seed the number is the same every time."""
    state = {
        "Type": "Pass",
        "Parameters": {
            "random.$": "States.MathRandom($.start, $.end)",
            "seeded.$": "States.MathRandom($.start, $.end, 42)",
        },
    }
    outputs = [stepwell.run(one_state(state), {"start": 1, "end": 999}).output for _ in range(5)]
    assert all(1 <= out["random"] <= 999 for out in outputs)
    assert len({out["seeded"] for out in outputs}) == 1


def test_uuid_example_is_a_version_4_uuid() -> None:
    state = {"Type": "Pass", "Parameters": {"uuid.$": "States.UUID()"}}
    value = stepwell.run(one_state(state), {}).output["uuid"]
    assert len(value) == 36 and value[14] == "4"


# ------------------------------------------------------------------------------------------
# "Paths" and "Input and output processing" (amazon-states-language-paths,
# amazon-states-language-input-output-processing)

FOO_BAR_CAR = {"foo": 123, "bar": ["a", "b", "c"], "car": {"cdr": True}}


@pytest.mark.parametrize(
    ("path", "expected"),
    [("$.foo", 123), ("$.bar", ["a", "b", "c"]), ("$.car.cdr", True)],
)
def test_reference_path_examples(path: str, expected: Any) -> None:
    for field in ("InputPath", "OutputPath"):
        result = stepwell.run(one_state({"Type": "Pass", field: path}), FOO_BAR_CAR)
        assert result.output == expected


@pytest.mark.parametrize(
    ("given", "output_path", "expected"),
    [
        (
            {"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}},
            "$",
            {"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}, "sum": 7},
        ),
        ({"numbers": {"val1": 3, "val2": 4}}, "$.sum", 7),
    ],
)
def test_numbers_to_add_example(given: Any, output_path: str, expected: Any) -> None:
    """The task receives only the numbers object; it returns 7; ResultPath ``$.sum``."""
    state = {
        "Type": "Task",
        "Resource": FN + "add",
        "InputPath": "$.numbers",
        "ResultPath": "$.sum",
        "OutputPath": output_path,
    }
    add = lambda numbers: numbers["val1"] + numbers["val2"]  # noqa: E731
    result = stepwell.run(one_state(state), given, functions={"add": add})
    assert result.output == expected


def test_an_output_path_that_matches_nothing_is_an_error() -> None:
    """ "If the OutputPath doesn't match an item in the state's input, an exception
    specifies an invalid path"."""
    result = stepwell.run(one_state({"Type": "Pass", "OutputPath": "$.nope"}), {"a": 1})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert "Invalid path '$.nope'" in (result.cause or "")


@pytest.mark.parametrize("field", ["InputPath", "OutputPath"])
def test_a_null_path_gives_an_empty_object(field: str) -> None:
    """InputPath null: "the task receives JSON text representing an empty object {}";
    OutputPath null: "JSON text representing an empty object {} is sent to the next
    state"."""
    seen: list[Any] = []

    def record(event: Any) -> Any:
        seen.append(event)
        return "result"

    state = {"Type": "Task", "Resource": FN + "record", field: None}
    result = stepwell.run(one_state(state), {"a": 1}, functions={"record": record})
    if field == "InputPath":
        assert (seen, result.output) == ([{}], "result")
    else:
        assert (seen, result.output) == ([{"a": 1}], {})


# ------------------------------------------------------------------------------------------
# "Parallel workflow state" (state-parallel)


def _fun_with_math(**fields: Any) -> dict[str, Any]:
    def branch(name: str) -> dict[str, Any]:
        return {
            "StartAt": name,
            "States": {name: {"Type": "Task", "Resource": FN + name, "End": True}},
        }

    state = {"Type": "Parallel", "Branches": [branch("Add"), branch("Subtract")], **fields}
    return one_state(state, "FunWithMath")


MATH = {"Add": lambda pair: pair[0] + pair[1], "Subtract": lambda pair: pair[0] - pair[1]}


def test_parallel_fun_with_math() -> None:
    """Given ``[3, 2]``, Add returns 5 and Subtract 1; the Parallel state's output is
    ``[5, 1]``, one element per branch in branch order."""
    result = stepwell.run(_fun_with_math(), [3, 2], functions=MATH)
    assert result.output == [5, 1]


def test_parallel_output_inserted_with_result_path() -> None:
    """ "The output array can be inserted into the input data ... by using a ResultPath"."""
    fields = {"InputPath": "$.pair", "ResultPath": "$.results"}
    result = stepwell.run(_fun_with_math(**fields), {"pair": [3, 2]}, functions=MATH)
    assert result.output == {"pair": [3, 2], "results": [5, 1]}


def test_a_failing_branch_fails_the_parallel_state() -> None:
    """ "If any branch fails ... the entire Parallel state is considered to have failed";
    unhandled, the execution stops with that error."""

    def subtract(pair: Any) -> Any:
        raise TaskError("NegativeResult", "3 - 5 < 0")

    result = stepwell.run(_fun_with_math(), [3, 5], functions={**MATH, "Subtract": subtract})
    assert (result.status, result.error, result.cause) == ("FAILED", "NegativeResult", "3 - 5 < 0")
    types = [event["type"] for event in result.history]
    assert "ParallelStateFailed" in types
    assert types[-1] == "ExecutionFailed"


def test_four_retries_wait_3_4_5_6_75_and_10_125_seconds() -> None:
    """Errors page: "a Retry field that will make four retry attempts after waits of 3,
    4.5, 6.75 and 10.125 seconds"."""

    def times_out(event: Any) -> Any:
        raise TaskError("States.Timeout", "took too long")

    retrier = {
        "ErrorEquals": ["States.Timeout"],
        "IntervalSeconds": 3,
        "MaxAttempts": 4,
        "BackoffRate": 1.5,
    }
    state = {"Type": "Task", "Resource": FN + "X", "Retry": [retrier]}
    result = stepwell.run(one_state(state), {}, functions={"X": times_out}, start_time=T0)
    waits = [3, 4.5, 6.75, 10.125]
    assert _scheduled_offsets(result) == [sum(waits[:n]) for n in range(5)]


def test_retrier_parameters_reset_when_the_state_is_left() -> None:
    """ "Once the system transitions to another state, no matter how, all Retrier
    parameters are reset": on its second visit X again gets two retries, and the interval
    starts again at one second."""
    calls: list[int] = []

    def flaky(event: Any) -> Any:
        calls.append(len(calls) + 1)
        if len(calls) in (1, 2, 4, 5):
            raise TaskError("ErrorA", "not yet")
        return event

    definition = {
        "StartAt": "X",
        "States": {
            "X": {
                "Type": "Task",
                "Resource": FN + "X",
                "Retry": [{"ErrorEquals": ["ErrorA"], "IntervalSeconds": 1, "MaxAttempts": 2}],
                "Next": "C",
            },
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.round", "NumericEquals": 1, "Next": "Again"}],
                "Default": "Done",
            },
            "Again": {"Type": "Pass", "Result": 2, "ResultPath": "$.round", "Next": "X"},
            "Done": {"Type": "Succeed"},
        },
    }
    result = stepwell.run(definition, {"round": 1}, functions={"X": flaky}, start_time=T0)
    assert result.status == "SUCCEEDED", result.cause
    assert len(calls) == 6
    assert _scheduled_offsets(result) == [0, 1, 3, 3, 4, 6]


def test_items_path_pirates_example() -> None:
    """ItemsPath (Map): ``"ItemsPath": "$.ThingsPiratesSay"`` runs the SayWord Pass state
    once per item of that array, and not for ThingsGiantsSay."""
    given = {
        "ThingsPiratesSay": [{"say": "Avast!"}, {"say": "Yar!"}, {"say": "Walk the Plank!"}],
        "ThingsGiantsSay": [{"say": "Fee!"}, {"say": "Fi!"}, {"say": "Fo!"}, {"say": "Fum!"}],
    }
    processor = {"StartAt": "SayWord", "States": {"SayWord": {"Type": "Pass"}}}
    definition = _map({"ItemsPath": "$.ThingsPiratesSay"}, processor)
    result = stepwell.run(definition, given)
    assert result.output == given["ThingsPiratesSay"]
    entered = [e for e in result.history if e["type"] == "PassStateEntered"]
    assert len(entered) == 3


# ------------------------------------------------------------------------------------------
# States Language specification, "Payload template" (the context object is given whole,
# as the spec supposes one holding only DayOfWeek)


def test_spec_payload_template_example() -> None:
    template = compile_payload_template(
        {
            "flagged": True,
            "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[-3:]"},
            "weekday.$": "$$.DayOfWeek",
            "formattedOutput.$": "States.Format('Today is {}', $$.DayOfWeek)",
        }
    )
    given = {"flagged": 7, "vals": [0, 10, 20, 30, 40, 50]}
    effective = template.evaluate(given, EvalContext(context={"DayOfWeek": "TUESDAY"}))
    assert effective == {
        "flagged": True,
        "parts": {"first": 0, "last3": [30, 40, 50]},
        "weekday": "TUESDAY",
        "formattedOutput": "Today is TUESDAY",
    }


# ------------------------------------------------------------------------------------------
# "InputPath, Parameters and ResultSelector": ResultSelector examples


def test_result_selector_emr_example() -> None:
    """ResultSelector picks resourceType and ClusterId from an EMR createCluster.sync
    result; ResultPath ``$.EMROutput`` merges them with the state input."""
    emr_result = {
        "resourceType": "elasticmapreduce",
        "resource": "createCluster.sync",
        "output": {
            "SdkHttpMetadata": {
                "HttpHeaders": {
                    "Content-Length": "1112",
                    "Content-Type": "application/x-amz-JSON-1.1",
                    "Date": "Mon, 25 Nov 2019 19:41:29 GMT",
                    "x-amzn-RequestId": "1234-5678-9012",
                },
                "HttpStatusCode": 200,
            },
            "SdkResponseMetadata": {"RequestId": "1234-5678-9012"},
            "ClusterId": "AKIAIOSFODNN7EXAMPLE",
        },
    }
    state = {
        "Type": "Task",
        "Resource": FN + "emr",
        "ResultSelector": {"ClusterId.$": "$.output.ClusterId", "ResourceType.$": "$.resourceType"},
        "ResultPath": "$.EMROutput",
    }
    definition = one_state(state, "Create Cluster")
    given = {"OtherDataFromInput": {}}
    result = stepwell.run(definition, given, functions={"emr": lambda event: emr_result})
    assert result.output == {
        "OtherDataFromInput": {},
        "EMROutput": {"ClusterId": "AKIAIOSFODNN7EXAMPLE", "ResourceType": "elasticmapreduce"},
    }


def test_result_selector_flattens_an_array_of_arrays() -> None:
    """ "Flattening an array of arrays": ``"flattenArray.$": "$[*][*]"`` on a Parallel
    state's ``[[1, 2, 3], [4, 5, 6]]``."""

    def branch(name: str, result: list[int]) -> dict[str, Any]:
        return {"StartAt": name, "States": {name: {"Type": "Pass", "Result": result, "End": True}}}

    state = {
        "Type": "Parallel",
        "Branches": [branch("A", [1, 2, 3]), branch("B", [4, 5, 6])],
        "ResultSelector": {"flattenArray.$": "$[*][*]"},
    }
    result = stepwell.run(one_state(state), {})
    assert result.output == {"flattenArray": [1, 2, 3, 4, 5, 6]}


# ------------------------------------------------------------------------------------------
# "Transforming data with JSONata in Step Functions": JSONata examples


def test_jsonata_input_and_output_example() -> None:
    definition = {
        "Comment": "Input and Output example using JSONata",
        "QueryLanguage": "JSONata",
        "StartAt": "Basic Input and Output",
        "States": {
            "Basic Input and Output": {
                "QueryLanguage": "JSONata",
                "Type": "Succeed",
                "Output": {
                    "lastName": "{% 'Last=>' & $states.input.customer.lastName %}",
                    "orderValue": "{% $states.input.order.total %}",
                },
            }
        },
    }
    given = {
        "customer": {"firstName": "Martha", "lastName": "Rivera"},
        "order": {"items": 7, "total": 27.91},
    }
    result = stepwell.run(definition, given)
    assert result.output == {"lastName": "Last=>Rivera", "orderValue": 27.91}


def test_jsonata_filtering_example() -> None:
    definition = {
        "Comment": "Filter products using JSONata",
        "QueryLanguage": "JSONata",
        "StartAt": "FilterDietProducts",
        "States": {
            "FilterDietProducts": {
                "Type": "Pass",
                "Output": {"dietProducts": "{% $states.input.products[calories=0] %}"},
                "End": True,
            }
        },
    }
    products = [
        {"name": "water", "calories": 0},
        {"name": "bread", "calories": 265},
        {"name": "tea", "calories": 0},
    ]
    result = stepwell.run(definition, {"products": products})
    assert result.output == {"dietProducts": [products[0], products[2]]}


def test_integer_parameters_of_jsonata_functions_are_rounded_down() -> None:
    """ "Built-in JSONata functions that require integer values as parameters will
    automatically round down any non-integer numbers provided" ($partition's chunk size
    2.5 is 2)."""
    result = _jsonata_output(
        "{'s': $substring('hello', 1.7), 'p': $partition([1, 2, 3, 4, 5], 2.5)}"
    )
    assert result.output == {"s": "ello", "p": [[1, 2], [3, 4], [5]]}


# ------------------------------------------------------------------------------------------
# "Passing data between states with variables" (workflow-variables)


def test_assign_evaluation_order_example() -> None:
    """ "Starting values: $x=3, $a=6 ... Ending values: $x=6, $nextX=3": every expression
    reads the values as they were on state entry."""
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Start",
        "States": {
            "Start": {"Type": "Pass", "Assign": {"x": 3, "a": 6}, "Next": "Assign"},
            "Assign": {
                "Type": "Pass",
                "Assign": {"x": "{% $a %}", "nextX": "{% $x %}"},
                "Next": "Read",
            },
            "Read": {
                "Type": "Pass",
                "Output": {"x": "{% $x %}", "nextX": "{% $nextX %}"},
                "End": True,
            },
        },
    }
    assert stepwell.run(definition, {}).output == {"x": 6, "nextX": 3}


def test_jsonpath_assign_dollar_depends_on_the_state_type() -> None:
    """ "For JSONPath states, the value of $ in an Assign field depends on the state type":
    Choice and Wait, the effective input (after InputPath); Pass, the result (from Result
    or InputPath/Parameters); Task, the API result."""
    definition = {
        "StartAt": "W",
        "States": {
            "W": {
                "Type": "Wait",
                "Seconds": 0,
                "InputPath": "$.in",
                "Assign": {"w.$": "$"},
                "Next": "C",
            },
            "C": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.k", "NumericEquals": 1, "Next": "P", "Assign": {"c.$": "$"}}
                ],
                "Default": "P",
            },
            "P": {"Type": "Pass", "Result": {"r": 1}, "Assign": {"p.$": "$"}, "Next": "T"},
            "T": {"Type": "Task", "Resource": FN + "f", "Assign": {"t.$": "$"}, "Next": "Out"},
            "Out": {
                "Type": "Pass",
                "Parameters": {"w.$": "$w", "c.$": "$c", "p.$": "$p", "t.$": "$t"},
                "End": True,
            },
        },
    }
    result = stepwell.run(
        definition, {"in": {"k": 1}}, functions={"f": lambda event: {"api": True}}
    )
    assert result.output == {"w": {"k": 1}, "c": {"k": 1}, "p": {"r": 1}, "t": {"api": True}}


# ------------------------------------------------------------------------------------------
# "Accessing execution data from the Context object": JSONata Map example, context paths


def test_jsonata_map_context_example() -> None:
    definition = {
        "StartAt": "ExampleMapState",
        "States": {
            "ExampleMapState": {
                "Type": "Map",
                "QueryLanguage": "JSONata",
                "ItemSelector": {
                    "ContextIndex": "{% $states.context.Map.Item.Index %}",
                    "ContextValue": "{% $states.context.Map.Item.Value %}",
                    "ContextSource": "{% $states.context.Map.Item.Source %}",
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "TestPass",
                    "States": {"TestPass": {"Type": "Pass", "End": True}},
                },
                "End": True,
            }
        },
    }
    people = [{"who": "bob"}, {"who": "meg"}, {"who": "joe"}]
    result = stepwell.run(definition, people)
    assert result.output == [
        {"ContextIndex": index, "ContextValue": who, "ContextSource": "STATE_DATA"}
        for index, who in enumerate(people)
    ]


def test_items_path_may_read_the_context_object() -> None:
    """JSONPath states can refer to the context (``$$.``) from InputPath, OutputPath,
    ItemsPath (Map), ..."""
    processor = {"StartAt": "P", "States": {"P": {"Type": "Pass"}}}
    definition = _map({"ItemsPath": "$$.Execution.Input.items"}, processor)
    assert stepwell.run(definition, {"items": [1, 2]}).output == [1, 2]


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (T0, "2024-01-01T00:00:00Z"),
        (T0 + timedelta(milliseconds=123), "2024-01-01T00:00:00.123Z"),
    ],
)
def test_context_timestamps_drop_zero_fractional_seconds(start: datetime, expected: str) -> None:
    """ "When a timestamp has zero fractional seconds, trailing zeros are removed."""
    state = {
        "Type": "Pass",
        "Parameters": {"entered.$": "$$.State.EnteredTime", "started.$": "$$.Execution.StartTime"},
    }
    result = stepwell.run(one_state(state), {}, start_time=start)
    assert result.output == {"entered": expected, "started": expected}
