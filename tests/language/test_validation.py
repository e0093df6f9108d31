"""Static validation of definitions: every rule, both query languages, nested graphs.

Codes and the diagnostic shape follow the API reference page
"ValidateStateMachineDefinitionDiagnostic"; rules follow the States Language spec and
the Developer Guide's state pages (named in ``stepwell.language.validation_rules``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepwell.language.source import load_definition
from stepwell.language.validation import (
    MAX_DEFINITION_BYTES,
    Diagnostic,
    format_invalid_definition,
    validate_definition,
)

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:work"
END: dict[str, Any] = {"End": True}


def machine(states: dict[str, Any], start: str = "A", **top: Any) -> dict[str, Any]:
    return {"StartAt": start, "States": states, **top}


def one(state: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A machine whose only state is A."""
    return machine({"A": state}, **top)


def jsonata(state: dict[str, Any]) -> dict[str, Any]:
    return one(state, QueryLanguage="JSONata")


def task(**fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": LAMBDA, "End": True, **fields}


def map_state(**fields: Any) -> dict[str, Any]:
    processor = {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}
    return {"Type": "Map", "ItemProcessor": processor, "End": True, **fields}


def choice(*rules: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return machine(
        {"A": {"Type": "Choice", "Choices": list(rules), **fields}, "B": {"Type": "Succeed"}}
    )


def errors(definition: Any) -> list[Diagnostic]:
    return [d for d in validate_definition(definition) if d.severity == "ERROR"]


def found(definition: Any) -> set[tuple[str, str]]:
    return {(d.code, d.location) for d in validate_definition(definition)}


SCHEMA = "SCHEMA_VALIDATION_FAILED"
TARGET = "MISSING_TRANSITION_TARGET"

# A definition that uses every feature correctly, in each query language.
VALID = [
    pytest.param(one({"Type": "Pass", "End": True}), id="smallest"),
    pytest.param(
        machine(
            {
                "A": {
                    "Type": "Task",
                    "Resource": LAMBDA,
                    "InputPath": "$.input",
                    "Parameters": {"a.$": "$.x", "b": [1, {"c.$": "$$.Execution.Id"}], "d": 2},
                    "ResultSelector": {"r.$": "States.StringToJson($.body)"},
                    "ResultPath": "$.result",
                    "OutputPath": "$",
                    "TimeoutSeconds": 60,
                    "HeartbeatSeconds": 10,
                    "Assign": {"count.$": "$.n", "fixed": 1},
                    "Retry": [
                        {
                            "ErrorEquals": ["Lambda.ServiceException"],
                            "IntervalSeconds": 2,
                            "MaxAttempts": 6,
                            "BackoffRate": 2,
                            "MaxDelaySeconds": 30,
                            "JitterStrategy": "FULL",
                        },
                        {"ErrorEquals": ["States.ALL"]},
                    ],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F", "ResultPath": "$.e"}],
                    "Next": "W",
                },
                "W": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "C"},
                "C": {
                    "Type": "Choice",
                    "Choices": [
                        {"Variable": "$.status", "StringEquals": "done", "Next": "P"},
                        {
                            "And": [
                                {"Variable": "$.n", "NumericGreaterThan": 1},
                                {"Not": {"Variable": "$.t", "TimestampEqualsPath": "$.u"}},
                            ],
                            "Next": "M",
                            "Assign": {"seen": True},
                        },
                    ],
                    "Default": "A",
                },
                "P": {
                    "Type": "Parallel",
                    "Branches": [
                        {"StartAt": "B1", "States": {"B1": {"Type": "Succeed"}}},
                        {"StartAt": "B2", "States": {"B2": {"Type": "Pass", "End": True}}},
                    ],
                    "Next": "S",
                },
                "M": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "ItemSelector": {"v.$": "$$.Map.Item.Value"},
                    "MaxConcurrency": 5,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                        "StartAt": "I",
                        "States": {"I": {"Type": "Task", "Resource": LAMBDA, "End": True}},
                    },
                    "ToleratedFailurePercentage": 10,
                    "ToleratedFailureCountPath": "$.tolerated",
                    "Label": "batch",
                    "Next": "S",
                },
                "F": {"Type": "Fail", "ErrorPath": "$.e.Error", "CausePath": "$.e.Cause"},
                "S": {"Type": "Succeed"},
            },
            Comment="everything",
            Version="1.0",
            TimeoutSeconds=300,
        ),
        id="jsonpath-all-features",
    ),
    pytest.param(
        machine(
            {
                "A": {
                    "Type": "Task",
                    "Resource": LAMBDA,
                    "Arguments": {"a": "{% $states.input.x %}", "b": [1, "{% $n + 1 %}"]},
                    "Output": "{% $states.result %}",
                    "Assign": {"n": "{% $states.result.n %}"},
                    "TimeoutSeconds": "{% $timeout %}",
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F", "Output": {"e": 1}}],
                    "Next": "W",
                },
                "W": {"Type": "Wait", "Seconds": "{% $n %}", "Next": "C"},
                "C": {
                    "Type": "Choice",
                    "Choices": [
                        {"Condition": "{% $n > 1 %}", "Next": "M", "Output": "{% $n %}"},
                        {"Condition": True, "Next": "F"},
                    ],
                    "Default": "F",
                    "Output": {"x": 1},
                },
                "M": {
                    "Type": "Map",
                    "Items": "{% $states.input.items %}",
                    "ItemSelector": {"v": "{% $states.context.Map.Item.Value %}"},
                    "MaxConcurrency": "{% 2 %}",
                    "ToleratedFailurePercentage": "{% 5 %}",
                    "ItemProcessor": {
                        "StartAt": "I",
                        "States": {"I": {"Type": "Pass", "Output": "{% $states.input %}", **END}},
                    },
                    "Next": "S",
                },
                "F": {"Type": "Fail", "Error": "{% 'E' & $n %}", "Cause": "plain"},
                "S": {"Type": "Succeed", "Output": "{% $states.input %}"},
            },
            QueryLanguage="JSONata",
        ),
        id="jsonata-all-features",
    ),
    pytest.param(
        one({"Type": "Pass", "QueryLanguage": "JSONata", "Output": {"x": 1}, **END}),
        id="jsonata-state-in-jsonpath-machine",
    ),
    pytest.param(
        one({"Type": "Wait", "Timestamp": "2016-03-14T01:59:00Z", **END}), id="wait-timestamp"
    ),
    pytest.param(
        one(
            {
                "Type": "Map",
                "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
                "Parameters": {"x.$": "$$.Map.Item.Value"},
                "MaxConcurrencyPath": "$.m",
                **END,
            }
        ),
        id="legacy-map-iterator",
    ),
    pytest.param(one(task(TimeoutSecondsPath="$.t", HeartbeatSecondsPath="$.h")), id="task-paths"),
    pytest.param(
        one({"Type": "Pass", "InputPath": None, "OutputPath": None, "ResultPath": None, **END}),
        id="null-paths",
    ),
]


@pytest.mark.parametrize("definition", VALID)
def test_valid_definitions_have_no_errors(definition: dict[str, Any]) -> None:
    assert errors(definition) == []
    assert errors(json.dumps(definition)) == []


# (definition, expected code, expected location)
CASES = [
    # --- the definition as a whole ---
    pytest.param("", "MISSING_DESCRIPTION", "", id="empty-text"),
    pytest.param("   \n", "MISSING_DESCRIPTION", "", id="blank-text"),
    pytest.param("null", "MISSING_DESCRIPTION", "", id="json-null"),
    pytest.param(
        '{"StartAt": ',
        "INVALID_JSON_DESCRIPTION",
        '[Source: (String)"{"StartAt": "; line: 1, column: 13]',  # aws-behaviour L
        id="bad-json",
    ),
    pytest.param("[1, 2]", SCHEMA, "", id="not-an-object"),
    pytest.param({"States": {"A": {"Type": "Succeed"}}}, SCHEMA, "", id="missing-startat"),
    pytest.param({"StartAt": "A"}, SCHEMA, "", id="missing-states"),
    pytest.param(
        {"StartAt": 1, "States": {"A": {"Type": "Succeed"}}},
        SCHEMA,
        "/StartAt",
        id="startat-not-string",
    ),
    pytest.param({"StartAt": "A", "States": {}}, SCHEMA, "/States", id="states-empty"),
    pytest.param({"StartAt": "A", "States": []}, SCHEMA, "/States", id="states-not-object"),
    pytest.param(one({"Type": "Succeed"}, start="Nope"), TARGET, "/StartAt", id="startat-unknown"),
    pytest.param(one({"Type": "Succeed"}, Comentt="typo"), SCHEMA, "/Comentt", id="top-unknown"),
    pytest.param(one({"Type": "Succeed"}, Comment=1), SCHEMA, "/Comment", id="top-comment"),
    pytest.param(one({"Type": "Succeed"}, Version=1), SCHEMA, "/Version", id="top-version"),
    pytest.param(
        one({"Type": "Succeed"}, TimeoutSeconds=0), SCHEMA, "/TimeoutSeconds", id="top-timeout-zero"
    ),
    pytest.param(
        one({"Type": "Succeed"}, TimeoutSeconds=1.5),
        SCHEMA,
        "/TimeoutSeconds",
        id="top-timeout-float",
    ),
    pytest.param(
        one({"Type": "Succeed"}, QueryLanguage="XPath"),
        SCHEMA,
        "/QueryLanguage",
        id="top-query-language",
    ),
    # --- state names and graph shape ---
    pytest.param(
        one({"Type": "Succeed"})
        | {"States": {"A": {"Type": "Succeed"}, "x" * 81: {"Type": "Succeed"}}},
        "INVALID_STATE_NAME",
        "/States/" + "x" * 81,
        id="name-too-long",
    ),
    pytest.param(
        machine({"A": {"Type": "Pass", "Next": ""}, "": {"Type": "Succeed"}}),
        "INVALID_STATE_NAME",
        "/States/",
        id="name-empty",
    ),
    pytest.param(
        machine({"A": {"Type": "Pass", "Next": "Nope"}}),
        TARGET,
        "/States/A/Next",
        id="next-unknown",
    ),
    pytest.param(
        machine({"A": {"Type": "Succeed"}, "B": {"Type": "Succeed"}}),
        TARGET,
        "/States/B",
        id="unreachable",
    ),
    pytest.param(
        machine({"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}),
        "MISSING_END_STATE",
        "/States",
        id="no-terminal-state",
    ),
    pytest.param(
        one({"Type": "Parallel", "Branches": [one({"Type": "Pass", "Next": "A"})], **END}),
        "DUPLICATE_STATE_NAME",
        "/States/A/Branches/0/States/A",
        id="duplicate-name-nested",
    ),
    pytest.param(
        machine(
            {
                "A": {
                    "Type": "Parallel",
                    "Branches": [machine({"X": {"Type": "Pass", "Next": "B"}}, start="X")],
                    "Next": "B",
                },
                "B": {"Type": "Succeed"},
            }
        ),
        TARGET,
        "/States/A/Branches/0/States/X/Next",
        id="next-into-outer-graph",
    ),
    pytest.param(one(1), SCHEMA, "/States/A", id="state-not-object"),
    # --- Type, fields, query language ---
    pytest.param(one({"End": True}), SCHEMA, "/States/A", id="missing-type"),
    pytest.param(one({"Type": "Lambda", "End": True}), SCHEMA, "/States/A/Type", id="bad-type"),
    pytest.param(
        one({"Type": "Pass", "End": True, "Foo": 1}), SCHEMA, "/States/A/Foo", id="unknown-field"
    ),
    pytest.param(
        one({"Type": "Pass", "End": True, "Comment": 3}),
        SCHEMA,
        "/States/A/Comment",
        id="comment-not-string",
    ),
    pytest.param(
        one({"Type": "Pass", "End": True, "Output": 1}),
        SCHEMA,
        "/States/A/Output",
        id="jsonata-field-in-jsonpath",
    ),
    pytest.param(
        jsonata({"Type": "Pass", "End": True, "Parameters": {}}),
        SCHEMA,
        "/States/A/Parameters",
        id="jsonpath-field-in-jsonata",
    ),
    pytest.param(
        jsonata({"Type": "Pass", "End": True, "InputPath": "$"}),
        SCHEMA,
        "/States/A/InputPath",
        id="inputpath-in-jsonata",
    ),
    pytest.param(
        jsonata({"Type": "Pass", "End": True, "QueryLanguage": "JSONPath"}),
        SCHEMA,
        "/States/A",  # aws-behaviour L: located at the state
        id="jsonpath-state-in-jsonata-machine",
    ),
    pytest.param(
        one({"Type": "Pass", "End": True, "QueryLanguage": "SQL"}),
        SCHEMA,
        "/States/A/QueryLanguage",
        id="state-query-language-invalid",
    ),
    pytest.param(
        one({"Type": "Pass", "End": True, "QueryLanguage": "JSONata", "Result": 1}),
        SCHEMA,
        "/States/A/Result",
        id="state-level-jsonata-rejects-result",
    ),
    # --- Next and End ---
    pytest.param(one({"Type": "Pass"}), SCHEMA, "/States/A", id="no-next-no-end"),
    pytest.param(one({"Type": "Pass", "End": False}), SCHEMA, "/States/A", id="end-false"),
    pytest.param(
        machine({"A": {"Type": "Pass", "End": True, "Next": "B"}, "B": {"Type": "Succeed"}}),
        SCHEMA,
        "/States/A",
        id="next-and-end",
    ),
    pytest.param(one({"Type": "Pass", "End": "yes"}), SCHEMA, "/States/A/End", id="end-not-bool"),
    pytest.param(one({"Type": "Pass", "Next": 3}), SCHEMA, "/States/A/Next", id="next-not-str"),
    pytest.param(
        one({"Type": "Succeed", "End": True}), SCHEMA, "/States/A/End", id="succeed-with-end"
    ),
    pytest.param(one({"Type": "Fail", "Next": "A"}), SCHEMA, "/States/A/Next", id="fail-with-next"),
    pytest.param(
        choice({"Variable": "$.a", "IsNull": True, "Next": "B"}, End=True),
        SCHEMA,
        "/States/A/End",
        id="choice-with-end",
    ),
    # --- JSONPath expressions ---
    pytest.param(
        one({"Type": "Pass", "End": True, "InputPath": "nope"}),
        SCHEMA,
        "/States/A/InputPath",
        id="bad-inputpath",
    ),
    pytest.param(
        one({"Type": "Pass", "End": True, "OutputPath": 5}),
        SCHEMA,
        "/States/A/OutputPath",
        id="outputpath-not-string",
    ),
    pytest.param(
        one({"Type": "Pass", "End": True, "ResultPath": "$.a[*]"}),
        SCHEMA,
        "/States/A/ResultPath",
        id="resultpath-not-reference",
    ),
    pytest.param(
        one({"Type": "Pass", "End": True, "ResultPath": 7}),
        SCHEMA,
        "/States/A/ResultPath",
        id="resultpath-not-string",
    ),
    pytest.param(
        one({"Type": "Pass", "End": True, "Parameters": {"a.$": "x"}}),
        SCHEMA,
        "/States/A/Parameters",  # K17: the template, not the field
        id="template-bad-path",
    ),
    pytest.param(
        one({"Type": "Pass", "End": True, "Parameters": {"a": [{"b.$": 1}]}}),
        SCHEMA,
        "/States/A/Parameters",  # K17
        id="template-nested-non-string",
    ),
    pytest.param(
        one({"Type": "Pass", "End": True, "Parameters": {"a.$": "States.Nope("}}),
        SCHEMA,
        "/States/A/Parameters",  # K17: the template, not the field
        id="template-bad-intrinsic",
    ),
    pytest.param(  # an array Parameters is accepted, as AWS does (test_published_shapes)
        one(task(Credentials=[1])),
        SCHEMA,
        "/States/A/Credentials",
        id="credentials-not-object",
    ),
    pytest.param(
        one(task(ResultSelector={"x": {"y": ["$.z"]}})),
        "NO_DOLLAR",
        "/States/A/ResultSelector/x/y/0",
        id="no-dollar-in-array",
    ),
    pytest.param(
        one({"Type": "Pass", "End": True, "Parameters": {"x": "States.UUID()"}}),
        "NO_DOLLAR",
        "/States/A/Parameters/x",
        id="no-dollar-intrinsic",
    ),
    pytest.param(
        one({"Type": "Pass", "End": True, "Assign": {"v.$": "$$$"}}),
        SCHEMA,
        "/States/A/Assign",  # K17
        id="assign-bad-path",
    ),
    pytest.param(
        one({"Type": "Pass", "End": True, "Assign": []}),
        SCHEMA,
        "/States/A/Assign",
        id="assign-not-object",
    ),
    pytest.param(
        one({"Type": "Pass", "End": True, "Result": {"a.$": "$.x"}}),
        "PASS_RESULT_IS_STATIC",
        "/States/A/Result",
        id="pass-result-static",
    ),
    pytest.param(
        one({"Type": "Pass", "End": True, "Result": ["$.x"]}),
        "PASS_RESULT_IS_STATIC",
        "/States/A/Result",
        id="pass-result-static-array",
    ),
    # --- JSONata expressions ---
    pytest.param(
        jsonata({"Type": "Pass", "End": True, "Output": "{% $x + %}"}),
        SCHEMA,
        "/States/A/Output",
        id="jsonata-bad-output",
    ),
    pytest.param(
        jsonata({"Type": "Pass", "End": True, "Output": {"a": ["{% ) %}"]}}),
        SCHEMA,
        "/States/A/Output/a/0",
        id="jsonata-bad-nested",
    ),
    pytest.param(
        jsonata({"Type": "Pass", "End": True, "Output": " {% 1 %}"}),
        None,  # H1: a plain literal, creation succeeds
        None,
        id="jsonata-malformed-template",
    ),
    pytest.param(
        jsonata(task(Arguments=5)), SCHEMA, "/States/A/Arguments", id="arguments-wrong-type"
    ),
    pytest.param(
        jsonata({"Type": "Pass", "End": True, "Assign": {"x": "{% %}"}}),
        SCHEMA,
        "/States/A/Assign/x",
        id="jsonata-empty-expression",
    ),
    # --- Task ---
    pytest.param(one({"Type": "Task", "End": True}), SCHEMA, "/States/A", id="task-no-resource"),
    pytest.param(
        one(task(Resource="not a uri")),
        "INVALID_RESOURCE",
        "/States/A/Resource",
        id="task-resource-not-uri",
    ),
    pytest.param(
        one(task(Resource=3)),
        "INVALID_RESOURCE",
        "/States/A/Resource",
        id="task-resource-not-string",
    ),
    pytest.param(
        one(task(TimeoutSeconds=0)), SCHEMA, "/States/A/TimeoutSeconds", id="task-timeout-zero"
    ),
    pytest.param(
        one(task(TimeoutSeconds=True)), SCHEMA, "/States/A/TimeoutSeconds", id="task-timeout-bool"
    ),
    pytest.param(
        one(task(TimeoutSeconds=5, TimeoutSecondsPath="$.t")),
        SCHEMA,
        "/States/A/TimeoutSecondsPath",
        id="task-timeout-exclusive",
    ),
    pytest.param(
        one(task(HeartbeatSeconds=5, HeartbeatSecondsPath="$.t")),
        SCHEMA,
        "/States/A/HeartbeatSecondsPath",
        id="task-heartbeat-exclusive",
    ),
    pytest.param(
        one(task(TimeoutSeconds=10, HeartbeatSeconds=10)),
        SCHEMA,
        "/States/A/HeartbeatSeconds",
        id="task-heartbeat-not-smaller",
    ),
    pytest.param(
        one(task(HeartbeatSecondsPath="x")),
        SCHEMA,
        "/States/A/HeartbeatSecondsPath",
        id="task-heartbeat-path-bad",
    ),
    pytest.param(
        jsonata(task(TimeoutSeconds="60")),
        SCHEMA,
        "/States/A/TimeoutSeconds",
        id="jsonata-timeout-plain-string",
    ),
    pytest.param(
        jsonata(task(TimeoutSecondsPath="$.t")),
        SCHEMA,
        "/States/A/TimeoutSecondsPath",
        id="jsonata-timeout-path",
    ),
    pytest.param(
        one(task(Credentials={"RoleArn.$": "bad"})),
        SCHEMA,
        "/States/A/Credentials",  # K17
        id="task-credentials-template",
    ),
    # --- Retry and Catch ---
    pytest.param(one(task(Retry={})), SCHEMA, "/States/A/Retry", id="retry-not-array"),
    pytest.param(one(task(Retry=[1])), SCHEMA, "/States/A/Retry/0", id="retrier-not-object"),
    pytest.param(one(task(Retry=[{}])), SCHEMA, "/States/A/Retry/0", id="retry-no-errorequals"),
    pytest.param(
        one(task(Retry=[{"ErrorEquals": []}])),
        SCHEMA,
        "/States/A/Retry/0/ErrorEquals",
        id="retry-errorequals-empty",
    ),
    pytest.param(
        one(task(Retry=[{"ErrorEquals": [1]}])),
        SCHEMA,
        "/States/A/Retry/0/ErrorEquals",
        id="retry-errorequals-not-strings",
    ),
    pytest.param(
        one(task(Retry=[{"ErrorEquals": ["States.ALL", "X"]}])),
        SCHEMA,
        "/States/A/Retry/0/ErrorEquals",
        id="retry-all-not-alone",
    ),
    pytest.param(
        one(task(Retry=[{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}])),
        SCHEMA,
        "/States/A/Retry/0/ErrorEquals",
        id="retry-all-not-last",
    ),
    pytest.param(
        one(task(Retry=[{"ErrorEquals": ["X"], "IntervalSeconds": 0}])),
        SCHEMA,
        "/States/A/Retry/0/IntervalSeconds",
        id="retry-interval-zero",
    ),
    pytest.param(
        one(task(Retry=[{"ErrorEquals": ["X"], "MaxAttempts": -1}])),
        SCHEMA,
        "/States/A/Retry/0/MaxAttempts",
        id="retry-attempts-negative",
    ),
    pytest.param(
        one(task(Retry=[{"ErrorEquals": ["X"], "BackoffRate": 0.5}])),
        SCHEMA,
        "/States/A/Retry/0/BackoffRate",
        id="retry-backoff-below-one",
    ),
    pytest.param(
        one(task(Retry=[{"ErrorEquals": ["X"], "BackoffRate": "2"}])),
        SCHEMA,
        "/States/A/Retry/0/BackoffRate",
        id="retry-backoff-string",
    ),
    pytest.param(
        one(task(Retry=[{"ErrorEquals": ["X"], "MaxDelaySeconds": 31622401}])),
        SCHEMA,
        "/States/A/Retry/0/MaxDelaySeconds",
        id="retry-max-delay-too-big",
    ),
    pytest.param(
        one(task(Retry=[{"ErrorEquals": ["X"], "JitterStrategy": "HALF"}])),
        SCHEMA,
        "/States/A/Retry/0/JitterStrategy",
        id="retry-jitter",
    ),
    pytest.param(
        one(task(Retry=[{"ErrorEquals": ["X"], "Next": "A"}])),
        SCHEMA,
        "/States/A/Retry/0/Next",
        id="retry-unknown-field",
    ),
    pytest.param(
        one(task(Catch=[{"ErrorEquals": ["X"]}])), SCHEMA, "/States/A/Catch/0", id="catch-no-next"
    ),
    pytest.param(
        one(task(Catch=[{"ErrorEquals": ["X"], "Next": 1}])),
        SCHEMA,
        "/States/A/Catch/0/Next",
        id="catch-next-not-string",
    ),
    pytest.param(
        one(task(Catch=[{"ErrorEquals": ["X"], "Next": "Z"}])),
        TARGET,
        "/States/A/Catch/0/Next",
        id="catch-next-unknown",
    ),
    pytest.param(
        one(task(Catch=[{"ErrorEquals": ["X"], "Next": "A", "ResultPath": "x"}])),
        SCHEMA,
        "/States/A/Catch/0/ResultPath",
        id="catch-resultpath-bad",
    ),
    pytest.param(
        one(task(Catch=[{"ErrorEquals": ["X"], "Next": "A", "Output": 1}])),
        SCHEMA,
        "/States/A/Catch/0/Output",
        id="catch-output-in-jsonpath",
    ),
    pytest.param(
        jsonata(task(Catch=[{"ErrorEquals": ["X"], "Next": "A", "ResultPath": "$"}])),
        SCHEMA,
        "/States/A/Catch/0/ResultPath",
        id="catch-resultpath-in-jsonata",
    ),
    pytest.param(
        jsonata(task(Catch=[{"ErrorEquals": ["X"], "Next": "A", "Output": "{% ( %}"}])),
        SCHEMA,
        "/States/A/Catch/0/Output",
        id="catch-output-bad-jsonata",
    ),
    pytest.param(
        one(task(Catch=[{"ErrorEquals": ["X"], "Next": "A", "Assign": {"a.$": "?"}}])),
        SCHEMA,
        "/States/A/Catch/0/Assign",  # K17
        id="catch-assign-bad",
    ),
    pytest.param(
        one(task(Catch=[{"ErrorEquals": ["X"], "Next": "A", "Foo": 1}])),
        SCHEMA,
        "/States/A/Catch/0/Foo",
        id="catch-unknown-field",
    ),
    # --- Wait ---
    pytest.param(one({"Type": "Wait", "End": True}), SCHEMA, "/States/A", id="wait-nothing"),
    pytest.param(
        jsonata({"Type": "Wait", "End": True}), SCHEMA, "/States/A", id="wait-nothing-jsonata"
    ),
    pytest.param(
        one({"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", **END}),
        SCHEMA,
        "/States/A/SecondsPath",
        id="wait-two-fields",
    ),
    pytest.param(
        one({"Type": "Wait", "Seconds": -1, **END}), SCHEMA, "/States/A/Seconds", id="wait-negative"
    ),
    pytest.param(
        one({"Type": "Wait", "Seconds": "{% 1 %}", **END}),
        SCHEMA,
        "/States/A/Seconds",
        id="wait-jsonata-in-jsonpath",
    ),
    pytest.param(
        jsonata({"Type": "Wait", "Seconds": "{% ( %}", **END}),
        SCHEMA,
        "/States/A/Seconds",
        id="wait-bad-jsonata-seconds",
    ),
    pytest.param(
        one({"Type": "Wait", "Timestamp": "2016-03-14 01:59:00", **END}),
        SCHEMA,
        "/States/A/Timestamp",
        id="wait-bad-timestamp",
    ),
    pytest.param(
        jsonata({"Type": "Wait", "Timestamp": "{% ( %}", **END}),
        SCHEMA,
        "/States/A/Timestamp",
        id="wait-bad-jsonata-timestamp",
    ),
    pytest.param(
        one({"Type": "Wait", "TimestampPath": "nope", **END}),
        SCHEMA,
        "/States/A/TimestampPath",
        id="wait-bad-timestamp-path",
    ),
    pytest.param(
        jsonata({"Type": "Wait", "SecondsPath": "$.s", **END}),
        SCHEMA,
        "/States/A/SecondsPath",
        id="wait-secondspath-in-jsonata",
    ),
    # --- Fail and Succeed ---
    pytest.param(
        one({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}),
        SCHEMA,
        "/States/A/ErrorPath",
        id="fail-error-exclusive",
    ),
    pytest.param(
        one({"Type": "Fail", "Cause": "C", "CausePath": "$.c"}),
        SCHEMA,
        "/States/A/CausePath",
        id="fail-cause-exclusive",
    ),
    pytest.param(
        one({"Type": "Fail", "Error": 1}), SCHEMA, "/States/A/Error", id="fail-error-not-string"
    ),
    pytest.param(
        one({"Type": "Fail", "CausePath": "States.Nope("}),
        SCHEMA,
        "/States/A/CausePath",
        id="fail-causepath-bad-intrinsic",
    ),
    pytest.param(
        one({"Type": "Fail", "Cause": "$.cause"}), "NO_PATH", "/States/A/Cause", id="fail-no-path"
    ),
    pytest.param(
        jsonata({"Type": "Fail", "Error": "{% ( %}"}),
        SCHEMA,
        "/States/A/Error",
        id="fail-bad-jsonata",
    ),
    pytest.param(
        jsonata({"Type": "Fail", "ErrorPath": "$.e"}),
        SCHEMA,
        "/States/A/ErrorPath",
        id="fail-errorpath-in-jsonata",
    ),
    pytest.param(
        one({"Type": "Succeed", "ResultPath": "$"}),
        SCHEMA,
        "/States/A/ResultPath",
        id="succeed-resultpath",
    ),
    # --- Parallel ---
    pytest.param(one({"Type": "Parallel", **END}), SCHEMA, "/States/A", id="parallel-no-branches"),
    pytest.param(
        one({"Type": "Parallel", "Branches": [], **END}),
        SCHEMA,
        "/States/A/Branches",
        id="parallel-empty-branches",
    ),
    pytest.param(
        one({"Type": "Parallel", "Branches": [1], **END}),
        SCHEMA,
        "/States/A/Branches/0",
        id="parallel-branch-not-object",
    ),
    pytest.param(
        one(
            {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "X",
                        "States": {"X": {"Type": "Pass", "End": True}},
                        "ProcessorConfig": {},
                    }
                ],
                **END,
            }
        ),
        SCHEMA,
        "/States/A/Branches/0/ProcessorConfig",
        id="branch-unknown-field",
    ),
    pytest.param(
        one(
            {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": True, "Bad": 1}}}
                ],
                **END,
            }
        ),
        SCHEMA,
        "/States/A/Branches/0/States/X/Bad",
        id="branch-state-checked",
    ),
    # --- Map ---
    pytest.param(one({"Type": "Map", **END}), SCHEMA, "/States/A", id="map-no-processor"),
    pytest.param(
        one(map_state(Iterator={"StartAt": "J", "States": {"J": {"Type": "Succeed"}}})),
        SCHEMA,
        "/States/A/Iterator",
        id="map-processor-and-iterator",
    ),
    pytest.param(
        jsonata(map_state(Iterator={})), SCHEMA, "/States/A/Iterator", id="map-iterator-in-jsonata"
    ),
    pytest.param(
        one(
            map_state(
                ItemProcessor={"StartAt": "I", "States": {"I": {"Type": "Pass", "Next": "A"}}}
            )
        ),
        TARGET,
        "/States/A/ItemProcessor/States/I/Next",
        id="map-next-outside",
    ),
    pytest.param(
        one(
            map_state(
                ItemProcessor={
                    "StartAt": "I",
                    "States": {"I": {"Type": "Succeed"}},
                    "ProcessorConfig": {"Mode": "BATCH"},
                }
            )
        ),
        SCHEMA,
        "/States/A/ItemProcessor/ProcessorConfig/Mode",
        id="map-mode",
    ),
    pytest.param(
        one(
            map_state(
                ItemProcessor={
                    "StartAt": "I",
                    "States": {"I": {"Type": "Succeed"}},
                    "ProcessorConfig": {"Mode": "DISTRIBUTED"},
                }
            )
        ),
        SCHEMA,
        "/States/A/ItemProcessor/ProcessorConfig",
        id="map-distributed-no-type",
    ),
    pytest.param(
        one(
            map_state(
                ItemProcessor={
                    "StartAt": "I",
                    "States": {"I": {"Type": "Succeed"}},
                    "ProcessorConfig": {"ExecutionType": "FAST"},
                }
            )
        ),
        SCHEMA,
        "/States/A/ItemProcessor/ProcessorConfig/ExecutionType",
        id="map-exec-type",
    ),
    pytest.param(
        one(
            map_state(
                ItemProcessor={
                    "StartAt": "I",
                    "States": {"I": {"Type": "Succeed"}},
                    "ProcessorConfig": [],
                }
            )
        ),
        SCHEMA,
        "/States/A/ItemProcessor/ProcessorConfig",
        id="map-config-not-object",
    ),
    pytest.param(
        one(
            map_state(
                ItemProcessor={
                    "StartAt": "I",
                    "States": {"I": {"Type": "Succeed"}},
                    "ProcessorConfig": {"Size": 1},
                }
            )
        ),
        SCHEMA,
        "/States/A/ItemProcessor/ProcessorConfig/Size",
        id="map-config-unknown",
    ),
    pytest.param(
        one(map_state(ItemProcessor=[])),
        SCHEMA,
        "/States/A/ItemProcessor",
        id="map-processor-not-object",
    ),
    pytest.param(
        one(map_state(ItemSelector={}, Parameters={})),
        SCHEMA,
        "/States/A/Parameters",
        id="map-selector-and-parameters",
    ),
    pytest.param(
        one(map_state(ItemSelector={"a.$": "?"})),
        SCHEMA,
        "/States/A/ItemSelector",  # K17
        id="map-selector-bad",
    ),
    pytest.param(
        one(map_state(ItemsPath="items")), SCHEMA, "/States/A/ItemsPath", id="map-itemspath-bad"
    ),
    pytest.param(
        one(map_state(MaxConcurrency=-1)),
        SCHEMA,
        "/States/A/MaxConcurrency",
        id="map-concurrency-negative",
    ),
    pytest.param(
        one(map_state(MaxConcurrency=1, MaxConcurrencyPath="$.m")),
        SCHEMA,
        "/States/A/MaxConcurrencyPath",
        id="map-concurrency-exclusive",
    ),
    pytest.param(
        one(map_state(MaxConcurrencyPath="m")),
        SCHEMA,
        "/States/A/MaxConcurrencyPath",
        id="map-concurrency-path-bad",
    ),
    pytest.param(
        one(map_state(ToleratedFailurePercentage=101)),
        SCHEMA,
        "/States/A/ToleratedFailurePercentage",
        id="map-percentage-range",
    ),
    pytest.param(
        one(map_state(ToleratedFailurePercentage="5")),
        SCHEMA,
        "/States/A/ToleratedFailurePercentage",
        id="map-percentage-string",
    ),
    pytest.param(
        jsonata(map_state(ToleratedFailurePercentage="{% ( %}")),
        SCHEMA,
        "/States/A/ToleratedFailurePercentage",
        id="map-percentage-bad-jsonata",
    ),
    pytest.param(
        one(map_state(ToleratedFailureCount=-2)),
        SCHEMA,
        "/States/A/ToleratedFailureCount",
        id="map-count-negative",
    ),
    pytest.param(
        one(map_state(ToleratedFailureCount=1, ToleratedFailureCountPath="$.c")),
        SCHEMA,
        "/States/A/ToleratedFailureCountPath",
        id="map-count-exclusive",
    ),
    pytest.param(
        one(map_state(ItemReader=[])), SCHEMA, "/States/A/ItemReader", id="map-reader-not-object"
    ),
    pytest.param(
        jsonata(map_state(ItemBatcher={"MaxItemsPerBatch": "{% ( %}"})),
        SCHEMA,
        "/States/A/ItemBatcher/MaxItemsPerBatch",
        id="map-batcher-bad-jsonata",
    ),
    pytest.param(one(map_state(Label=1)), SCHEMA, "/States/A/Label", id="map-label"),
    pytest.param(jsonata(map_state(Items=3)), SCHEMA, "/States/A/Items", id="map-items-type"),
    pytest.param(
        jsonata(map_state(Items="$.items")), SCHEMA, "/States/A/Items", id="map-items-not-jsonata"
    ),
    pytest.param(
        jsonata(map_state(Items=["{% ( %}"])), SCHEMA, "/States/A/Items/0", id="map-items-array-bad"
    ),
    pytest.param(
        jsonata(map_state(ItemSelector={"v": "{% ( %}"})),
        SCHEMA,
        "/States/A/ItemSelector/v",
        id="map-jsonata-selector-bad",
    ),
    pytest.param(
        jsonata(map_state(ItemsPath="$.x")),
        SCHEMA,
        "/States/A/ItemsPath",
        id="map-itemspath-in-jsonata",
    ),
    # --- Choice (JSONPath) ---
    pytest.param(one({"Type": "Choice"}), SCHEMA, "/States/A", id="choice-no-choices"),
    pytest.param(
        one({"Type": "Choice", "Choices": []}), SCHEMA, "/States/A/Choices", id="choice-empty"
    ),
    pytest.param(
        choice({"Variable": "$.a", "IsNull": True, "Next": "B"}, Default=1),
        SCHEMA,
        "/States/A/Default",
        id="choice-default-not-string",
    ),
    pytest.param(
        choice({"Variable": "$.a", "IsNull": True, "Next": "B"}, Default="Z"),
        TARGET,
        "/States/A/Default",
        id="choice-default-unknown",
    ),
    pytest.param(
        choice({"Variable": "$.a", "IsNull": True, "Next": "Z"}),
        TARGET,
        "/States/A/Choices/0/Next",
        id="choice-next-unknown",
    ),
    pytest.param(choice(1), SCHEMA, "/States/A/Choices/0", id="choice-rule-not-object"),
    pytest.param(
        choice({"Variable": "$.a", "IsNull": True}),
        SCHEMA,
        "/States/A/Choices/0",
        id="choice-rule-no-next",
    ),
    pytest.param(
        choice({"Variable": "$.a", "IsNull": True, "Next": 1}),
        SCHEMA,
        "/States/A/Choices/0/Next",
        id="choice-rule-next-not-string",
    ),
    pytest.param(
        choice({"Variable": "$.a", "Next": "B"}),
        SCHEMA,
        "/States/A/Choices/0",
        id="choice-rule-no-operator",
    ),
    pytest.param(
        choice({"Variable": "$.a", "IsNull": True, "IsString": True, "Next": "B"}),
        SCHEMA,
        "/States/A/Choices/0",
        id="choice-rule-two-operators",
    ),
    pytest.param(
        choice({"StringEquals": "x", "Next": "B"}),
        SCHEMA,
        "/States/A/Choices/0",
        id="choice-rule-no-variable",
    ),
    pytest.param(
        choice({"Variable": "a", "StringEquals": "x", "Next": "B"}),
        SCHEMA,
        "/States/A/Choices/0/Variable",
        id="choice-bad-variable",
    ),
    pytest.param(
        choice({"Variable": "$.a", "StringEquals": 1, "Next": "B"}),
        SCHEMA,
        "/States/A/Choices/0/StringEquals",
        id="choice-string-type",
    ),
    pytest.param(
        choice({"Variable": "$.a", "NumericEquals": "1", "Next": "B"}),
        SCHEMA,
        "/States/A/Choices/0/NumericEquals",
        id="choice-numeric-type",
    ),
    pytest.param(
        choice({"Variable": "$.a", "NumericEquals": True, "Next": "B"}),
        SCHEMA,
        "/States/A/Choices/0/NumericEquals",
        id="choice-numeric-bool",
    ),
    pytest.param(
        choice({"Variable": "$.a", "BooleanEquals": 1, "Next": "B"}),
        SCHEMA,
        "/States/A/Choices/0/BooleanEquals",
        id="choice-boolean-type",
    ),
    pytest.param(
        choice({"Variable": "$.a", "TimestampEquals": "yesterday", "Next": "B"}),
        SCHEMA,
        "/States/A/Choices/0/TimestampEquals",
        id="choice-timestamp-type",
    ),
    pytest.param(
        choice({"Variable": "$.a", "IsPresent": "yes", "Next": "B"}),
        SCHEMA,
        "/States/A/Choices/0/IsPresent",
        id="choice-type-test",
    ),
    pytest.param(
        choice({"Variable": "$.a", "StringEqualsPath": "b", "Next": "B"}),
        SCHEMA,
        "/States/A/Choices/0/StringEqualsPath",
        id="choice-path-operator",
    ),
    pytest.param(
        choice({"Variable": "$.a", "StringMatchesPath": "$.b", "Next": "B"}),
        SCHEMA,
        "/States/A/Choices/0/StringMatchesPath",
        id="choice-no-matches-path",
    ),
    pytest.param(
        choice({"And": [], "Next": "B"}), SCHEMA, "/States/A/Choices/0/And", id="choice-and-empty"
    ),
    pytest.param(
        choice({"Or": {"Variable": "$.a", "IsNull": True}, "Next": "B"}),
        SCHEMA,
        "/States/A/Choices/0/Or",
        id="choice-or-not-array",
    ),
    pytest.param(
        choice({"Not": {"Variable": "$.a"}, "Next": "B"}),
        SCHEMA,
        "/States/A/Choices/0/Not",
        id="choice-not-nested-no-operator",
    ),
    pytest.param(
        choice({"Not": {"Variable": "$.a", "IsNull": True, "Next": "B"}, "Next": "B"}),
        SCHEMA,
        "/States/A/Choices/0/Not/Next",
        id="choice-nested-next",
    ),
    pytest.param(
        choice({"Or": [{"Variable": "$.a", "IsNull": True, "Assign": {}}], "Next": "B"}),
        SCHEMA,
        "/States/A/Choices/0/Or/0/Assign",
        id="choice-nested-assign",
    ),
    pytest.param(
        choice({"Variable": "$.a", "And": [{"Variable": "$.a", "IsNull": True}], "Next": "B"}),
        SCHEMA,
        "/States/A/Choices/0/Variable",
        id="choice-variable-with-and",
    ),
    pytest.param(
        choice({"Variable": "$.a", "IsNull": True, "Next": "B", "Assign": {"x.$": "y"}}),
        SCHEMA,
        "/States/A/Choices/0/Assign",  # K17
        id="choice-rule-assign-bad",
    ),
    pytest.param(
        choice({"Condition": "{% true %}", "Next": "B"}),
        SCHEMA,
        "/States/A/Choices/0/Condition",
        id="choice-condition-in-jsonpath",
    ),
    pytest.param(
        choice({"Variable": "$.a", "IsNull": True, "Next": "B", "Foo": 1}),
        SCHEMA,
        "/States/A/Choices/0/Foo",
        id="choice-rule-unknown-field",
    ),
    # --- Choice (JSONata) ---
    pytest.param(
        choice({"Condition": "{% true %}", "Next": "B"}) | {"QueryLanguage": "JSONata"},
        None,
        None,
        id="jsonata-choice-valid",
    ),
    pytest.param(
        choice({"Next": "B"}) | {"QueryLanguage": "JSONata"},
        SCHEMA,
        "/States/A/Choices/0",
        id="jsonata-choice-no-condition",
    ),
    pytest.param(
        choice({"Condition": "{% true %}"}) | {"QueryLanguage": "JSONata"},
        SCHEMA,
        "/States/A/Choices/0",
        id="jsonata-choice-no-next",
    ),
    pytest.param(
        choice({"Condition": "true", "Next": "B"}) | {"QueryLanguage": "JSONata"},
        SCHEMA,
        "/States/A/Choices/0/Condition",
        id="jsonata-condition-plain-string",
    ),
    pytest.param(
        choice({"Condition": 1, "Next": "B"}) | {"QueryLanguage": "JSONata"},
        SCHEMA,
        "/States/A/Choices/0/Condition",
        id="jsonata-condition-number",
    ),
    pytest.param(
        choice({"Condition": "{% ( %}", "Next": "B"}) | {"QueryLanguage": "JSONata"},
        SCHEMA,
        "/States/A/Choices/0/Condition",
        id="jsonata-condition-bad",
    ),
    pytest.param(
        choice({"Variable": "$.a", "IsNull": True, "Next": "B"}) | {"QueryLanguage": "JSONata"},
        SCHEMA,
        "/States/A/Choices/0/Variable",
        id="jsonata-choice-variable",
    ),
    pytest.param(
        choice("x") | {"QueryLanguage": "JSONata"},
        SCHEMA,
        "/States/A/Choices/0",
        id="jsonata-choice-rule-not-object",
    ),
    pytest.param(
        choice({"Condition": True, "Next": "B", "Output": "{% ( %}", "Assign": {"a": 1}})
        | {"QueryLanguage": "JSONata"},
        SCHEMA,
        "/States/A/Choices/0/Output",
        id="jsonata-choice-output-bad",
    ),
]


@pytest.mark.parametrize(("definition", "code", "location"), CASES)
def test_rule(definition: Any, code: str | None, location: str | None) -> None:
    diagnostics = validate_definition(definition)
    if code is None:
        assert [d for d in diagnostics if d.severity == "ERROR"] == []
        return
    assert (code, location) in {(d.code, d.location) for d in diagnostics}, diagnostics


def test_every_problem_is_reported_at_once() -> None:
    definition = machine(
        {
            "A": {"Type": "Pass", "Next": "Nope", "Foo": 1},
            "B": {"Type": "Task", "End": True},
            "C": {"Type": "Wait", "Seconds": -1, "End": True},
        }
    )
    assert found(definition) >= {
        (TARGET, "/States/A/Next"),
        (SCHEMA, "/States/A/Foo"),
        (SCHEMA, "/States/B"),
        (SCHEMA, "/States/C/Seconds"),
        (TARGET, "/States/B"),
        (TARGET, "/States/C"),
    }


JSON_DEFINITION = """{
  "StartAt": "A",
  "States": {
    "A": {
      "Type": "Pass",
      "Next": "Missing"
    },
    "B": {"Type": "Task", "End": true}
  }
}"""

YAML_DEFINITION = """\
StartAt: A
States:
  A:
    Type: Pass
    Next: Missing
  B:
    Type: Task
    End: true
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(JSON_DEFINITION, {"/States/A/Next": (6, 15), "/States/B": (8, 10)}, id="json"),
        pytest.param(YAML_DEFINITION, {"/States/A/Next": (5, 11), "/States/B": (7, 5)}, id="yaml"),
    ],
)
def test_diagnostics_carry_line_and_column(text: str, expected: dict[str, tuple[int, int]]) -> None:
    positions = {d.location: (d.line, d.column) for d in validate_definition(text)}
    for location, position in expected.items():
        assert positions[location] == position


def test_a_missing_field_is_placed_at_its_enclosing_object() -> None:
    [missing] = [
        d
        for d in validate_definition(JSON_DEFINITION)
        if d.location == "/States/B" and "Resource" in d.message
    ]
    assert (missing.line, missing.column) == (8, 10)


def test_parsed_data_has_no_positions() -> None:
    diagnostics = errors(one({"Type": "Pass"}))
    assert diagnostics
    assert {(d.line, d.column) for d in diagnostics} == {(None, None)}


def test_a_loaded_definition_is_accepted_as_is() -> None:
    loaded = load_definition(JSON_DEFINITION)
    assert validate_definition(loaded) == validate_definition(JSON_DEFINITION)


def test_syntax_errors_become_invalid_json_description_with_position() -> None:
    [diagnostic] = validate_definition('{\n  "StartAt": "A",\n  "States": {,}\n}')
    assert diagnostic.code == "INVALID_JSON_DESCRIPTION"
    assert diagnostic.severity == "ERROR"
    assert (diagnostic.line, diagnostic.column) == (3, 14)


@pytest.mark.parametrize(
    ("text", "code", "location"),
    [
        pytest.param(
            '{"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "A": {"Type": "Succeed"}}}',
            "DUPLICATE_STATE_NAME",
            "/States/A",
            id="json-same-states-object",
        ),
        pytest.param(
            "StartAt: A\nStates:\n  A: {Type: Succeed}\n  A: {Type: Succeed}\n",
            "DUPLICATE_STATE_NAME",
            "/States/A",
            id="yaml-same-states-object",
        ),
        pytest.param(
            '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "End": true}}}',
            "INVALID_JSON_DESCRIPTION",
            "/States/A/End",
            id="json-duplicate-field",
        ),
        pytest.param(
            '{"StartAt": "A", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}',
            "INVALID_JSON_DESCRIPTION",
            "/StartAt",
            id="json-duplicate-top-field",
        ),
    ],
)
def test_duplicate_keys_are_errors(text: str, code: str, location: str) -> None:
    assert (code, location) in found(text)


def test_a_definition_over_one_megabyte_is_refused() -> None:
    padding = "x" * MAX_DEFINITION_BYTES
    text = json.dumps(one({"Type": "Pass", "Comment": padding, "End": True}))
    [diagnostic] = errors(text)
    assert diagnostic.location == ""
    assert str(MAX_DEFINITION_BYTES) in diagnostic.message
    assert errors(text.encode()) == [diagnostic]


def test_messages_name_the_field() -> None:
    messages = {
        d.location: d.message
        for d in validate_definition(machine({"A": {"Type": "Pass", "Next": "B", "Foo": 1}}))
    }
    assert messages["/States/A/Foo"] == 'The field "Foo" is not supported by Step Functions'
    assert messages["/States/A/Next"] == "Missing 'Next' target: B"


def test_a_jsonpath_field_in_jsonata_suggests_its_replacement() -> None:
    [diagnostic] = errors(jsonata({"Type": "Pass", "End": True, "Parameters": {}}))
    assert diagnostic.message == (
        'The field "Parameters" is not supported when QueryLanguage is JSONata; '
        'use "Arguments" instead'
    )


def test_warnings_do_not_stop_a_definition() -> None:
    [warning] = validate_definition(one({"Type": "Fail", "Error": "$.error"}))
    assert (warning.severity, warning.code) == ("WARNING", "NO_PATH")


# CreateStateMachine's InvalidDefinition message, as AWS's own Step Functions Local prints
# it: one error quoted once; several quoted one by one, joined, then quoted as a whole.
def test_format_one_error_like_aws() -> None:
    definition = machine({"A": {"Type": "Pass", "Next": "B"}})
    assert format_invalid_definition(validate_definition(definition)) == (
        "Invalid State Machine Definition: "
        "'MISSING_TRANSITION_TARGET: Missing 'Next' target: B at /States/A/Next'"
    )


def test_format_several_errors_like_aws() -> None:
    definition = machine({"A": {"Type": "Pass", "Next": "B", "Foo": 1}})
    assert format_invalid_definition(validate_definition(definition)) == (
        "Invalid State Machine Definition: "
        "''SCHEMA_VALIDATION_FAILED: The field \"Foo\" is not supported by Step Functions "
        "at /States/A/Foo', "
        "'MISSING_TRANSITION_TARGET: Missing 'Next' target: B at /States/A/Next''"
    )


def test_format_leaves_out_warnings_and_names_the_root() -> None:
    diagnostics = [
        Diagnostic("WARNING", "NO_PATH", "looks like a path", "/States/A/Cause"),
        Diagnostic("ERROR", "MISSING_DESCRIPTION", "The definition is empty", ""),
    ]
    assert format_invalid_definition(diagnostics) == (
        "Invalid State Machine Definition: 'MISSING_DESCRIPTION: The definition is empty at /'"
    )


def test_diagnostics_are_frozen() -> None:
    diagnostic = Diagnostic("ERROR", SCHEMA, "m", "")
    with pytest.raises(AttributeError):
        diagnostic.code = "X"  # type: ignore[misc]


# --- variable scopes: Developer Guide, "Passing data between states with variables" ------


def _scoped(inner_assign: dict[str, Any], outer_assign: dict[str, Any]) -> dict[str, Any]:
    inner = {"StartAt": "I", "States": {"I": {"Type": "Pass", "Assign": inner_assign, **END}}}
    return machine(
        {
            "A": {"Type": "Pass", "Assign": outer_assign, "Next": "P"},
            "P": {"Type": "Parallel", "Branches": [{**inner}], **END},
        }
    )


@pytest.mark.parametrize(
    ("inner_assign", "outer_assign", "location"),
    [
        # "a variable assigned in an inner scope cannot have the same name as one assigned
        # in an outer scope"
        ({"x": 1}, {"x": 2}, "/States/P/Branches/0/States/I/Assign/x"),
        ({"x.$": "$.v"}, {"x": 2}, "/States/P/Branches/0/States/I/Assign/x.$"),
        ({"y": 1}, {"x": 2}, None),
    ],
)
def test_an_inner_scope_cannot_assign_an_outer_variable(
    inner_assign: dict[str, Any], outer_assign: dict[str, Any], location: str | None
) -> None:
    expected = {("SCHEMA_VALIDATION_FAILED", location)} if location else set()
    assert found(_scoped(inner_assign, outer_assign)) == expected


def test_catch_assign_and_sibling_scopes_are_not_conflicts() -> None:
    """A Catch's Assign is in the scope of the state that holds it; two branches (or two
    iterations) may assign the same name, since neither sees the other's variables."""
    branch = {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Assign": {"v": 1}, **END}}}
    other = {"StartAt": "B2", "States": {"B2": {"Type": "Pass", "Assign": {"v": 2}, **END}}}
    definition = machine(
        {
            "A": {
                "Type": "Parallel",
                "Branches": [branch, other],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"failed": True}, "Next": "B"}],
                "Next": "B",
            },
            "B": {"Type": "Succeed"},
        }
    )
    assert errors(definition) == []
    nested = machine(
        {
            "A": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "C",
                    "States": {
                        "C": {
                            "Type": "Choice",
                            "Choices": [
                                {
                                    "Variable": "$",
                                    "IsNull": True,
                                    "Assign": {"failed": 1},
                                    "Next": "D",
                                }
                            ],
                            "Default": "D",
                        },
                        "D": {"Type": "Succeed"},
                    },
                },
                "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"failed": True}, "Next": "B"}],
                "End": True,
            },
            "B": {"Type": "Succeed"},
        }
    )
    assert found(nested) == {
        (
            "SCHEMA_VALIDATION_FAILED",
            "/States/A/ItemProcessor/States/C/Choices/0/Assign/failed",
        )
    }


@pytest.mark.parametrize(
    ("assign", "language", "bad_key"),
    [
        ({"states": 1}, "JSONata", "states"),  # "$states" is the one reserved variable
        ({"x.y": 1}, "JSONata", "x.y"),  # "you cannot assign a value to a part of a variable"
        ({"x[2]": 1}, "JSONPath", "x[2]"),
        ({"1x": 1}, "JSONPath", "1x"),
        ({"v" * 81: 1}, "JSONata", "v" * 81),  # "The maximum length of a variable name is 80"
        ({"states.$": "$.a"}, "JSONPath", "states.$"),
        ({"_ok": 1, "größe.$": "$.a"}, "JSONPath", None),
    ],
)
def test_variable_names(assign: dict[str, Any], language: str, bad_key: str | None) -> None:
    """Developer Guide, "Passing data between states with variables", "Variable name
    syntax": Unicode identifiers, at most 80 characters, and "$states" is reserved."""
    definition = one({"Type": "Pass", "Assign": assign, **END}, QueryLanguage=language)
    expected = {("SCHEMA_VALIDATION_FAILED", f"/States/A/Assign/{bad_key}")} if bad_key else set()
    assert found(definition) == expected


@pytest.mark.parametrize("path", ["$..x", "$.a[*]", "$.a[?(@.b)]", "$.a[0:2]"])
def test_choice_variable_must_be_a_reference_path(path: str) -> None:
    """Developer Guide, "Choice workflow state": Variable and the ...Path operands are
    Reference Paths."""
    definition = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Default": "D",
                "Choices": [{"Variable": path, "IsPresent": True, "Next": "D"}],
            },
            "D": {"Type": "Succeed"},
        },
    }
    diagnostics = validate_definition(definition)
    assert [d.location for d in diagnostics] == ["/States/C/Choices/0/Variable"]


# Developer Guide, "Distributed Map state", Label: "Labels can't exceed 40 characters in
# length, must be unique within a state machine definition, and can't contain" whitespace,
# wildcard (? *), bracket (< > { } [ ]), special (: ; , \ | ^ ~ $ # % & ` ") or control
# characters (U+0000-U+001F, U+007F-U+009F).
DISTRIBUTED = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}


def labelled(label: Any, inner: str = "I", **fields: Any) -> dict[str, Any]:
    processor = {"ProcessorConfig": DISTRIBUTED, "StartAt": inner,
                 "States": {inner: {"Type": "Pass", "End": True}}}  # fmt: skip
    return {"Type": "Map", "ItemProcessor": processor, "Label": label, "End": True, **fields}


@pytest.mark.parametrize(
    "label",
    ["demoLabel", "x" * 40, "rows-2024_06.v1", "étiquette", "a/b", "a'b", "a@b!(c)+=."],
)
def test_labels_the_guide_allows_are_accepted(label: str) -> None:
    assert errors(one(labelled(label))) == []


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("x" * 41, 'The field "Label" must be at most 40 characters'),
        ("two words", "The field \"Label\" must not contain the character ' '"),
        ("tab\there", "The field \"Label\" must not contain the character '\\t'"),
        *[(f"a{c}b", f'The field "Label" must not contain the character {c}')
          for c in '?*<>{}[]:;,\\|^~$#%&`"'],
        ("bell\x07", "The field \"Label\" must not contain the character '\\x07'"),
        ("c1\x85", "The field \"Label\" must not contain the character '\\x85'"),
        ("del\x7f", "The field \"Label\" must not contain the character '\\x7f'"),
    ],
)  # fmt: skip
def test_labels_the_guide_forbids_are_refused(label: str, message: str) -> None:
    (problem,) = errors(one(labelled(label)))
    assert (problem.code, problem.location, problem.message) == (SCHEMA, "/States/A/Label", message)


def test_a_label_is_unique_within_the_definition_nested_maps_included() -> None:
    outer = labelled("rows")
    outer["ItemProcessor"] = {"StartAt": "Inner", "States": {"Inner": labelled("rows")}}
    problems = errors(machine({"A": outer}))
    assert [(p.location, p.message) for p in problems] == [
        ("/States/A/Label", 'The Label "rows" is used by another Map')
    ]
    first = labelled("rows", "I1")
    del first["End"]
    twice = machine({"A": {**first, "Next": "B"}, "B": labelled("rows", "I2")})
    assert [p.location for p in errors(twice)] == ["/States/B/Label"]
    other = machine({"A": {**first, "Next": "B"}, "B": labelled("cols", "I2")})
    assert errors(other) == []


def test_a_refused_label_reads_like_other_definition_errors() -> None:
    """K17: ``Invalid State Machine Definition: 'CODE: message at location'``."""
    assert format_invalid_definition(errors(one(labelled("x" * 41)))) == (
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: "
        'The field "Label" must be at most 40 characters at /States/A/Label\''
    )
