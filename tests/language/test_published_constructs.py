"""Constructs that published AWS sample definitions deploy with, each in a small definition
of our own (issue 8: "The validator must never reject a definition that AWS accepts").

Stepwell was once checked against 154 published definitions (``docs/published-samples.tsv``
names them and what each taught us; ``bench/check_published.py`` re-runs the check on a
checkout). What they exercise that Stepwell had to get right is kept here instead: every
row is a definition written for this test, with the Developer Guide or States Language
page that documents the construct. Each must pass ValidateStateMachineDefinition with no
ERROR, compile, and be created by CreateStateMachine and described back unchanged.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepwell.language.compiler import load_state_machine
from stepwell.language.validation import validate_definition
from stepwell.store.memory import MemoryStore
from tests.service.harness import ROLE, Harness

FN = "arn:aws:lambda:us-east-1:123456789012:function:"


def machine(**states: dict[str, Any]) -> dict[str, Any]:
    """A machine of ``states``, started at the first; a state without a transition ends."""
    for state in states.values():
        if state["Type"] not in ("Choice", "Succeed", "Fail") and "Next" not in state:
            state.setdefault("End", True)
    return {"StartAt": next(iter(states)), "States": states}


def task(resource: str, **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, **fields}


def pass_with(**fields: Any) -> dict[str, Any]:
    return machine(Shape={"Type": "Pass", **fields})


def branch(name: str) -> dict[str, Any]:
    """A branch or item processor of one Pass state (state names are unique machine-wide)."""
    return {"StartAt": name, "States": {name: {"Type": "Pass", "End": True}}}


# (construct, the page that documents it, definition as an object or as exact JSON text)
CONSTRUCTS: list[tuple[str, str, dict[str, Any] | str]] = [
    (
        "jayway-dot-before-bracket",
        "F2; Developer Guide, Using JSONPath paths (JsonPath syntax, Jayway implementation)",
        pass_with(Parameters={"head.$": "$.[0]", "pairs.$": "$.[*].['shelf', 'label']"}),
    ),
    (
        "filter-at-the-root-after-a-dot",
        "F2; Developer Guide, Using JSONPath paths",
        pass_with(Parameters={"positive.$": "$.[?(@.count > 0)]"}),
    ),
    (
        "filter-with-bare-word-operand",
        "F4; Developer Guide, Using JSONPath paths (Jayway filter operators)",
        pass_with(Parameters={"open.$": "$.tickets[?(@.state==OPEN)]"}),
    ),
    (
        "filter-comparing-with-a-root-path-and-and",
        "Developer Guide, Using JSONPath paths",
        pass_with(
            Parameters={
                "mine.$": "$.desks[?(@.owner == $.me)]",
                "both.$": "$.desks[?(@.size > 2 && @.kind == 'corner')]",
            }
        ),
    ),
    (
        "deep-scan-and-nested-wildcards",
        "Developer Guide, Using JSONPath paths",
        pass_with(Parameters={"ages.$": "$..age", "cells.$": "$.grid[*][*][*]"}),
    ),
    (
        "context-path-with-a-trailing-space",
        "F3; Developer Guide, Accessing execution data from the Context object",
        '{"StartAt": "Stamp", "States": {"Stamp": {"Type": "Pass",'
        ' "Parameters": {"run.$": "$$.Execution.Name "}, "End": true}}}',
    ),
    (
        "empty-result-path-from-yaml",
        "Developer Guide, Specifying state output using ResultPath (ResultPath: null)",
        machine(Keep=task(FN + "audit", ResultPath=None, OutputPath="$")),
    ),
    (
        "choice-without-default",
        "States Language spec, Choice State (Default is optional; States.NoChoiceMatched)",
        machine(
            Route={
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.size", "NumericGreaterThan": 10, "Next": "Big"},
                    {"Not": {"Variable": "$.size", "IsPresent": True}, "Next": "Big"},
                    {
                        "And": [
                            {"Variable": "$.size", "IsNumeric": True},
                            {"Or": [{"Variable": "$.tag", "StringMatches": "x*"}]},
                        ],
                        "Next": "Big",
                    },
                ],
            },
            Big={"Type": "Succeed"},
        ),
    ),
    (
        "region-qualified-aws-sdk-resource",
        "Developer Guide, Learning to use AWS service SDK integrations in Step Functions",
        machine(
            Fetch=task(
                "arn:aws:states:eu-west-1:123456789012:aws-sdk:s3:getObject",
                Parameters={"Bucket": "shelf", "Key": "note.txt"},
            )
        ),
    ),
    (
        "optimized-and-sdk-integration-patterns",
        "Developer Guide, Discover service integration patterns in Step Functions",
        machine(
            Token=task(
                "arn:aws:states:::aws-sdk:dynamodb:putItem.waitForTaskToken",
                Parameters={"TableName": "t", "Item": {"k": {"S.$": "$$.Task.Token"}}},
                Next="Announce",
            ),
            Announce=task(
                "arn:aws:states:::events:putEvents.waitForTaskToken",
                Parameters={"Entries": [{"Detail": {"token.$": "$$.Task.Token"}}]},
                Next="Child",
            ),
            Child=task(
                "arn:aws:states:::states:startExecution.sync:2",
                Parameters={"StateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:c"},
                Next="Job",
            ),
            Job=task(
                "arn:aws:states:::batch:submitJob.sync",
                Parameters={"JobName": "j", "JobQueue": "q", "JobDefinition": "d"},
                Next="Query",
            ),
            Query=task(
                "arn:aws:states:::athena:startQueryExecution.sync",
                Parameters={"QueryString": "SELECT 1", "WorkGroup": "primary"},
                Next="Page",
            ),
            Page=task(
                "arn:aws:states:::aws-sdk:sfn:listExecutions",
                Parameters={"StateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:c"},
            ),
        ),
    ),
    (
        "newer-optimized-integrations",
        "Developer Guide, Integrating services with Step Functions (HTTP Task, Bedrock,"
        " API Gateway)",
        machine(
            Call=task(
                "arn:aws:states:::http:invoke",
                Parameters={
                    "ApiEndpoint": "https://example.com/ping",
                    "Method": "GET",
                    "Authentication": {
                        "ConnectionArn": "arn:aws:events:us-east-1:1:connection/c/1"
                    },
                },
                Next="Ask",
            ),
            Ask=task(
                "arn:aws:states:::bedrock:invokeModel",
                Parameters={"ModelId": "m", "Body": {"prompt": "hi"}},
                Next="Gateway",
            ),
            Gateway=task(
                "arn:aws:states:::apigateway:invoke",
                Parameters={
                    "ApiEndpoint": "x.execute-api.us-east-1.amazonaws.com",
                    "Method": "GET",
                },
            ),
        ),
    ),
    (
        "lambda-arn-task-with-qualifier-and-parameters",
        "Developer Guide, Invoke an AWS Lambda function with Step Functions",
        machine(
            Plain=task(FN + "greet:$LATEST", Parameters={"who.$": "$.name"}, Next="Versioned"),
            Versioned=task(FN + "greet:3"),
        ),
    ),
    (
        "nested-intrinsics-and-escaped-quotes",
        "Developer Guide, Intrinsic functions for JSONPath in Step Functions",
        pass_with(
            Parameters={
                "second.$": "States.ArrayGetItem(States.StringSplit($.csv, ','), 1)",
                "sql.$": "States.Format('SELECT * FROM t WHERE name = \\'{}\\'', $.name)",
                "range.$": "States.ArrayRange(1, $.count, 1)",
                "pick.$": "States.MathRandom($.low, $.high)",
                "id.$": "States.Format('{}-{}', $$.Execution.Name, States.UUID())",
                "n.$": "States.MathAdd(States.ArrayLength($.items), -1)",
            }
        ),
    ),
    (
        "fail-with-error-and-cause-paths",
        "States Language spec, Fail State (ErrorPath, CausePath, intrinsic functions)",
        machine(
            Stop={
                "Type": "Fail",
                "ErrorPath": "$.code",
                "CausePath": "States.Format('failed at {}', $.where)",
            }
        ),
    ),
    (
        "every-state-type",
        "States Language spec, State Types",
        machine(
            Start={"Type": "Pass", "Result": {"n": 1}, "Next": "Pause"},
            Pause={"Type": "Wait", "SecondsPath": "$.n", "Next": "Until"},
            Until={"Type": "Wait", "TimestampPath": "$.at", "Next": "Work"},
            Work=task(
                FN + "work",
                Retry=[
                    {
                        "ErrorEquals": ["States.ALL"],
                        "BackoffRate": 1.5,
                        "MaxDelaySeconds": 5,
                        "JitterStrategy": "FULL",
                    }
                ],
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "No"}],
                Next="Both",
            ),
            Both={
                "Type": "Parallel",
                "Branches": [branch("Left"), branch("Right")],
                "Next": "Each",
            },
            Each={"Type": "Map", "ItemProcessor": branch("Item"), "Next": "Decide"},
            Decide={
                "Type": "Choice",
                "Choices": [{"Variable": "$.ok", "BooleanEquals": True, "Next": "Yes"}],
                "Default": "No",
            },
            Yes={"Type": "Succeed"},
            No={"Type": "Fail", "Error": "Refused", "Cause": "not ok"},
        ),
    ),
    (
        "legacy-map-with-iterator-and-no-concurrency-limit",
        "Developer Guide, Map state in Inline mode (Iterator, Parameters, MaxConcurrency 0)",
        machine(
            Each={
                "Type": "Map",
                "ItemsPath": "$.rows",
                "MaxConcurrency": 0,
                "Parameters": {"row.$": "$$.Map.Item.Value", "at.$": "$$.Map.Item.Index"},
                "Iterator": branch("Row"),
            }
        ),
    ),
    (
        "distributed-map-over-csv-with-express-children",
        "Developer Guide, Map state in Distributed mode; ItemReader (CSV, CSVHeaderLocation)",
        machine(
            Rows={
                "Type": "Map",
                "Label": "Rows",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {
                        "InputType": "CSV",
                        "CSVHeaderLocation": "GIVEN",
                        "CSVHeaders": ["id", "amount"],
                    },
                    "Parameters": {"Bucket": "ledger", "Key.$": "$.key"},
                },
                "ItemBatcher": {"MaxItemsPerBatch": 25},
                "ToleratedFailurePercentage": 5,
                "MaxConcurrency": 100,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "Inner",
                    "States": {
                        "Inner": {
                            "Type": "Map",
                            "ItemsPath": "$.Items",
                            "ItemProcessor": branch("Line"),
                            "End": True,
                        }
                    },
                },
                "ResultWriter": {
                    "Resource": "arn:aws:states:::s3:putObject",
                    "Parameters": {"Bucket": "ledger", "Prefix": "out"},
                },
            }
        ),
    ),
    (
        "distributed-map-over-an-s3-listing",
        "Developer Guide, ItemReader (listObjectsV2)",
        machine(
            Objects={
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:listObjectsV2",
                    "Parameters": {"Bucket": "photos", "Prefix": "raw/"},
                },
                "ItemSelector": {"key.$": "$$.Map.Item.Value.Key"},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    **branch("Object"),
                },
            }
        ),
    ),
    (
        "jsonata-assign-output-null-and-choice-output",
        "Developer Guide, Transforming data with JSONata; Passing data between states with"
        " variables (Assign)",
        {
            "QueryLanguage": "JSONata",
            "StartAt": "Remember",
            "States": {
                "Remember": {
                    "Type": "Pass",
                    "Assign": {"owner": "{% $states.input.owner %}", "tries": 0},
                    "Output": None,
                    "Next": "Route",
                },
                "Route": {
                    "Type": "Choice",
                    "Choices": [
                        {
                            "Condition": "{% $owner = 'ops' %}",
                            "Output": {"to": "{% $owner %}"},
                            "Next": "Done",
                        }
                    ],
                    "Default": "Done",
                },
                "Done": {"Type": "Succeed"},
            },
        },
    ),
    (
        "jsonata-state-in-a-jsonpath-machine",
        "Developer Guide, Transforming data with JSONata (QueryLanguage per state)",
        machine(
            Shape={
                "Type": "Pass",
                "QueryLanguage": "JSONata",
                "Output": {"total": "{% $sum($states.input.prices) %}"},
                "Next": "Call",
            },
            Call=task(
                "arn:aws:states:::lambda:invoke",
                QueryLanguage="JSONata",
                Arguments={"FunctionName": FN + "f", "Payload": "{% $states.input %}"},
                Assign={"last": "{% $states.result.Payload %}"},
            ),
        ),
    ),
    (
        "state-names-with-punctuation-and-non-ascii",
        "States Language spec, States (names are strings up to 80 characters)",
        machine(
            **{"Ready?": {"Type": "Pass", "Next": "Don't wait"}},
            **{"Don't wait": {"Type": "Pass", "Next": "Grüße ✓"}},
            **{"Grüße ✓": {"Type": "Succeed"}},
        ),
    ),
]


@pytest.mark.parametrize(
    ("construct", "source", "definition"), CONSTRUCTS, ids=[row[0] for row in CONSTRUCTS]
)
def test_published_construct_is_accepted(
    construct: str, source: str, definition: dict[str, Any] | str
) -> None:
    text = definition if isinstance(definition, str) else json.dumps(definition)
    errors = [
        f"{d.code}: {d.message} at {d.location}"
        for d in validate_definition(text)
        if d.severity == "ERROR"
    ]
    assert errors == []
    load_state_machine(text)
    harness = Harness(MemoryStore())
    arn = harness.call("CreateStateMachine", name=construct, definition=text, roleArn=ROLE)[
        "stateMachineArn"
    ]
    described = harness.call("DescribeStateMachine", stateMachineArn=arn)
    assert described["definition"] == text


def test_the_table_covers_every_state_type() -> None:
    seen = {
        state["Type"]
        for _, _, definition in CONSTRUCTS
        if isinstance(definition, dict)
        for state in definition["States"].values()
    }
    assert seen == {"Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"}
