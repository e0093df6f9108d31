"""Which Resource ARNs AWS accepts, and the refusal it gives at CreateStateMachine.

Sources: Developer Guide, "Integrating optimized services with Step Functions" (the table
of integration patterns per service: SDK integrations never support ``.sync``; DynamoDB
supports Request Response only; SQS and SNS add ``.waitForTaskToken``) and "Service
integration patterns". AWS today refuses an unsupported pattern when the state machine is
created: ``SCHEMA_VALIDATION_FAILED: The resource provided ... is not recognized. The value
is not a valid resource ARN, or the resource is not available in this region.``; the seed
sqs-callback-and-sync.txt shows the 2020 run-time ``States.Runtime`` it replaced."""

from __future__ import annotations

import json
from typing import Any

import pytest
from integration_helpers import Durable

import stepwell
from stepwell.integrations.registry import Integrations, Invocation
from stepwell.integrations.resources import parse
from stepwell.language.compiler import load_state_machine
from stepwell.service import errors as err
from stepwell.store.base import Store

NOT_RECOGNIZED = (
    "The resource provided {arn} is not recognized. The value is not a valid resource ARN, "
    "or the resource is not available in this region."
)


def task(resource: str) -> dict[str, Any]:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": True}}}


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:states:::sqs:sendMessage",
        "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "arn:aws:states:::sns:publish.waitForTaskToken",
        "arn:aws:states:::dynamodb:putItem",
        "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "arn:aws:states:::http:invoke",
        # "Invoke Amazon Bedrock AgentCore harness with Step Functions" (published sample
        # sales-analysis-bedrock-agentcore uses it).
        "arn:aws:states:::bedrockagentcore:invokeHarness",
        "arn:aws:states:::states:startExecution.sync:2",
        "arn:aws:states:::batch:submitJob.sync",
        "arn:aws:states:::ecs:runTask.waitForTaskToken",
        "arn:aws:states:::aws-sdk:dynamodb:transactWriteItems",
        "arn:aws:states:::aws-sdk:s3:listBuckets.waitForTaskToken",
        "arn:aws-cn:states:::sqs:sendMessage",
        "arn:aws:lambda:us-east-1:123456789012:function:f",
        "arn:aws:states:us-east-1:123456789012:activity:a",
        # "Task workflow state": arn:partition:service:region:account:task_type:name, where
        # task_type may name a connected service: region and account may be given.
        "arn:aws:states:us-east-1:123456789012:aws-sdk:s3:listObjectsV2",
        "arn:aws:states:us-east-1:123456789012:sqs:sendMessage.waitForTaskToken",
        "arn:aws:states:eu-west-1::lambda:invoke",
    ],
)
def test_accepted_resources(resource: str) -> None:
    assert Integrations().check(load_state_machine(task(resource))) == []


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:states:::sqs:sendMessage.sync",
        "arn:aws:states:::sns:publish.sync",
        "arn:aws:states:::dynamodb:putItem.waitForTaskToken",
        "arn:aws:states:::dynamodb:query",
        "arn:aws:states:::lambda:invoke.sync",
        "arn:aws:states:::http:invoke.waitForTaskToken",
        "arn:aws:states:::bedrockagentcore:invokeHarness.waitForTaskToken",  # Request Response only
        "arn:aws:states:::aws-sdk:dynamodb:putItem.sync",
        "arn:aws:states:::aws-sdk:s3:getObject.sync:2",
        "arn:aws:states:::s3:deleteObject",
        "arn:aws:states:::aws-sdk:sqs",
        "arn:aws:states:::sqs:send:Message",
    ],
)
def test_refused_resources_get_aws_wording(resource: str) -> None:
    [problem] = Integrations().check(load_state_machine(task(resource)))
    expected = NOT_RECOGNIZED.format(arn=resource)
    assert problem == f"SCHEMA_VALIDATION_FAILED: {expected} at /States/T/Resource"


def test_nested_states_are_located_by_json_pointer() -> None:
    bad = "arn:aws:states:::sqs:sendMessage.sync"

    def inner(name: str) -> dict[str, Any]:
        return {"StartAt": name, "States": {name: {"Type": "Task", "Resource": bad, "End": True}}}

    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [task("arn:aws:states:::sqs:sendMessage"), inner("In/1")],
                "Next": "M",
            },
            "M": {"Type": "Map", "ItemProcessor": inner("In~2"), "End": True},
        },
    }
    problems = Integrations().check(load_state_machine(definition))
    assert [p.rsplit(" at ", 1)[1] for p in problems] == [
        "/States/P/Branches/1/States/In~11/Resource",
        "/States/M/ItemProcessor/States/In~02/Resource",
    ]


def test_create_state_machine_refuses_sqs_send_message_sync(store: Store) -> None:
    durable = Durable(store)
    with pytest.raises(err.InvalidDefinition) as refused:
        durable.machine(task("arn:aws:states:::sqs:sendMessage.sync"))
    assert str(refused.value) == (
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: "
        + NOT_RECOGNIZED.format(arn="arn:aws:states:::sqs:sendMessage.sync")
        + " at /States/T/Resource'"
    )


def test_run_refuses_it_too() -> None:
    with pytest.raises(stepwell.InvalidDefinition) as refused:
        stepwell.run(task("arn:aws:states:::sqs:sendMessage.sync"))
    [diagnostic] = refused.value.diagnostics
    assert (diagnostic.code, diagnostic.location) == (
        "SCHEMA_VALIDATION_FAILED",
        "/States/T/Resource",
    )


def test_an_unchecked_definition_fails_at_run_time_as_in_2020() -> None:
    outcome = Integrations().invoke(
        Invocation("arn:aws:states:::sqs:sendMessage.sync", {}, state_name="InformOtherQueue")
    )
    assert outcome is not None
    assert (outcome.error, outcome.cause) == (
        "States.Runtime",
        "An error occurred while scheduling the state 'InformOtherQueue'. "
        "The provided ARN 'arn:aws:states:::sqs:sendMessage.sync' is not recognized.",
    )


@pytest.mark.parametrize(
    ("resource", "parts"),
    [
        (
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            (False, "sqs", "sendMessage", ".waitForTaskToken"),
        ),
        (
            "arn:aws:states:::states:startExecution.sync:2",
            (False, "states", "startExecution", ".sync:2"),
        ),
        ("arn:aws:states:::aws-sdk:dynamodb:getItem", (True, "dynamodb", "getItem", "")),
    ],
)
def test_parse(resource: str, parts: tuple[bool, str, str, str]) -> None:
    parsed = parse(resource)
    assert parsed is not None
    assert (parsed.sdk, parsed.service, parsed.action, parsed.pattern) == parts
    assert parsed.base + parsed.pattern == resource
    assert parse("arn:aws:lambda:us-east-1:1:function:f") is None


def test_a_region_qualified_integration_is_the_same_integration() -> None:
    """ "Task workflow state", "Specifying Resource ARNs in Tasks"."""
    parsed = parse("arn:aws:states:us-east-1:123456789012:aws-sdk:s3:getObject.waitForTaskToken")
    assert parsed is not None
    assert (parsed.sdk, parsed.service, parsed.action, parsed.pattern) == (
        True,
        "s3",
        "getObject",
        ".waitForTaskToken",
    )
    assert parsed.base == "arn:aws:states:::aws-sdk:s3:getObject"
    assert parse("arn:aws:states:us-east-1:123456789012:activity:a") is None


def test_region_qualified_integrations_run_as_the_integration() -> None:
    services = stepwell.integrations.services.Services()
    services.s3.create_bucket(Bucket="data")
    qualified = "arn:aws:states:us-east-1:123456789012:"
    definition = {
        "StartAt": "Put",
        "States": {
            "Put": {
                "Type": "Task",
                "Resource": qualified + "aws-sdk:s3:putObject",
                "Parameters": {"Bucket": "data", "Key": "k", "Body": "hello"},
                "ResultPath": None,
                "Next": "List",
            },
            "List": {
                "Type": "Task",
                "Resource": qualified + "aws-sdk:s3:listObjectsV2",
                "Parameters": {"Bucket": "data"},
                "ResultSelector": {"Keys.$": "$.Contents[*].Key"},
                "Next": "Invoke",
            },
            "Invoke": {
                "Type": "Task",
                "Resource": qualified + "lambda:invoke",
                "Parameters": {"FunctionName": "count", "Payload.$": "$"},
                "OutputPath": "$.Payload",
                "End": True,
            },
        },
    }
    result = stepwell.run(
        definition, services=services, functions={"count": lambda event: len(event["Keys"])}
    )
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == 1
    scheduled = [e["taskScheduledEventDetails"] for e in result.history
                 if e["type"] == "TaskScheduled"]  # fmt: skip
    assert [(d["resourceType"], d["resource"]) for d in scheduled] == [
        ("aws-sdk:s3", "putObject"),
        ("aws-sdk:s3", "listObjectsV2"),
        ("lambda", "invoke"),
    ]


def test_registered_handlers_take_precedence() -> None:
    integrations = Integrations()
    seen: list[Any] = []

    def start_execution(invocation: Invocation, resource: Any) -> Any:
        seen.append((invocation.payload, resource.pattern))
        return stepwell.integrations.functions.Outcome(output={"ExecutionArn": "x"})

    integrations.register("states:startExecution", start_execution)
    outcome = integrations.invoke(
        Invocation("arn:aws:states:::states:startExecution.waitForTaskToken", {"Input": {}})
    )
    # C1: submitted (a TaskSubmitted with the call's answer), then waits for the callback
    assert outcome == stepwell.integrations.functions.Outcome(
        output={"ExecutionArn": "x"}, submitted=True
    )
    assert seen == [({"Input": {}}, ".waitForTaskToken")]
    assert json.dumps(seen)


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:states:::lambda:invoke",
        "arn:aws:states:us-east-1:123456789012:lambda:invoke",
        "arn:aws-us-gov:states:us-gov-west-1:123456789012:lambda:invoke",
        "arn:aws-cn:states:::lambda:invoke",
        "arn:aws-cn:lambda:cn-north-1:123456789012:function:f",
    ],
)
def test_lambda_invoke_in_any_partition_calls_the_named_function(resource: str) -> None:
    """ "Task workflow state": ``arn:partition:service:region:account:task_type:name``; the
    partition (aws, aws-cn, aws-us-gov) and region do not change which function runs."""
    state = {"Type": "Task", "Resource": resource, "End": True,
             "Parameters": {"FunctionName": "f", "Payload": {"n": 1}}}  # fmt: skip
    result = stepwell.run(
        {"StartAt": "T", "States": {"T": state}}, {}, functions={"f": lambda event: {"got": 1}}
    )
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    direct = ":function:" in resource  # a function ARN returns the function's result
    assert (result.output if direct else result.output["Payload"]) == {"got": 1}
