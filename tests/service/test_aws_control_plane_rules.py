"""The control-plane rules of aws-behaviour.md sections K and L, through the service layer:
each test names the rule it checks (K1, K5, L, ...) and asserts AWS's exact strings."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest

from stepwell.service import errors as err
from stepwell.store.base import Store
from stepwell.store.memory import MemoryStore
from tests.service.harness import PASS, Harness

OTHER = {"StartAt": "Q", "States": {"Q": {"Type": "Pass", "Result": 2, "End": True}}}
DASHED_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
LOG_GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:sfn:*"
DESTINATION = {"cloudWatchLogsLogGroup": {"logGroupArn": LOG_GROUP}}


@pytest.fixture
def h() -> Harness:
    return Harness(MemoryStore())


def task(resource: str) -> dict[str, Any]:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": True}}}


def invalid_definition(h: Harness, definition: dict[str, Any], **extra: Any) -> str:
    with pytest.raises(err.InvalidDefinition) as raised:
        h.machine(definition, **extra)
    return str(raised.value)


# ----------------------------------------------------------------------------- K1


@pytest.mark.parametrize("extra", [{}, {"type": "EXPRESS"}, {"publish": True}])
def test_K1_no_revision_id_after_create(h: Harness, extra: dict[str, Any]) -> None:
    arn = h.machine(**extra)
    assert "revisionId" not in h.call("DescribeStateMachine", stateMachineArn=arn)
    if extra.get("publish"):
        version = h.call("DescribeStateMachine", stateMachineArn=f"{arn}:1")
        assert "revisionId" not in version


def test_K1_no_revision_id_in_describe_for_execution_of_a_new_machine(store: Store) -> None:
    h = Harness(store)
    described = h.run(h.machine())
    found = h.call("DescribeStateMachineForExecution", executionArn=described["executionArn"])
    assert "revisionId" not in found


@pytest.mark.parametrize(
    "change",
    [
        {"definition": json.dumps(OTHER)},
        {"roleArn": "arn:aws:iam::123456789012:role/other"},
        {"loggingConfiguration": {"level": "ERROR", "destinations": [DESTINATION]}},
    ],
    ids=["definition", "roleArn", "loggingConfiguration"],
)
def test_K1_a_real_update_creates_a_dashed_uuid_revision(
    h: Harness, change: dict[str, Any]
) -> None:
    arn = h.machine()
    updated = h.call("UpdateStateMachine", stateMachineArn=arn, publish=True, **change)
    revision = updated["revisionId"]
    assert DASHED_UUID.fullmatch(revision)
    assert h.call("DescribeStateMachine", stateMachineArn=arn)["revisionId"] == revision
    version = h.call("DescribeStateMachine", stateMachineArn=updated["stateMachineVersionArn"])
    assert version["revisionId"] == revision
    execution = h.start(arn)
    for_execution = h.call("DescribeStateMachineForExecution", executionArn=execution)
    assert for_execution["revisionId"] == revision


def test_K1_unchanged_updates_return_the_existing_version(h: Harness) -> None:
    arn = h.machine()
    first = h.update(arn, PASS, publish=True)
    second = h.update(arn, PASS, publish=True)
    for response in (first, second):
        assert set(response) == {"stateMachineVersionArn", "updateDate"}
        assert response["stateMachineVersionArn"] == f"{arn}:1"


def test_K1_unchanged_update_returns_the_current_revision(h: Harness) -> None:
    arn = h.machine()
    revision = h.update(arn, OTHER)["revisionId"]
    again = h.update(arn, OTHER, publish=True)
    assert again["revisionId"] == revision
    assert h.update(arn, OTHER, publish=True)["stateMachineVersionArn"] == f"{arn}:1"


# ----------------------------------------------------------------------------- K2, K3, K4


def test_K2_both_describes_show_the_aws_owned_key(store: Store) -> None:
    h = Harness(store)
    arn = h.machine()
    execution = h.start(arn)
    expected = {"type": "AWS_OWNED_KEY"}
    assert h.call("DescribeStateMachine", stateMachineArn=arn)["encryptionConfiguration"] == (
        expected
    )
    found = h.call("DescribeStateMachineForExecution", executionArn=execution)
    assert found["encryptionConfiguration"] == expected


@pytest.mark.parametrize(
    ("given", "described"),
    [
        ({}, {"includeExecutionData": False, "level": "OFF"}),
        ({"destinations": []}, {"destinations": [], "includeExecutionData": False, "level": "OFF"}),
        (
            {"level": "ALL", "destinations": [DESTINATION]},
            {"destinations": [DESTINATION], "includeExecutionData": False, "level": "ALL"},
        ),
    ],
)
def test_K3_logging_defaults_are_filled_in(
    h: Harness, given: dict[str, Any], described: dict[str, Any]
) -> None:
    arn = h.machine(loggingConfiguration=given)
    found = h.call("DescribeStateMachine", stateMachineArn=arn)["loggingConfiguration"]
    assert found == described
    h.call("UpdateStateMachine", stateMachineArn=arn, loggingConfiguration=given)
    assert h.call("DescribeStateMachine", stateMachineArn=arn)["loggingConfiguration"] == found


@pytest.mark.parametrize("level", ["ALL", "ERROR", "FATAL"])
@pytest.mark.parametrize("operation", ["CreateStateMachine", "UpdateStateMachine"])
def test_K4_a_log_level_needs_a_destination(h: Harness, level: str, operation: str) -> None:
    arn = h.machine()
    config = {"level": level}
    with pytest.raises(err.InvalidLoggingConfiguration) as raised:
        if operation == "CreateStateMachine":
            h.machine(name="other", loggingConfiguration=config)
        else:
            h.call("UpdateStateMachine", stateMachineArn=arn, loggingConfiguration=config)
    assert str(raised.value) == (
        "Invalid Logging Configuration: Must specify exactly one Log Destination."
    )


# ----------------------------------------------------------------------------- K5

GUESSING = {
    "StartAt": "Setup",
    "States": {
        "Setup": {"Type": "Pass", "Assign": {"guess": 1, "answer": 2}, "Next": "CheckAnswer"},
        "CheckAnswer": {
            "Type": "Choice",
            "Choices": [{"Variable": "$guess", "StringEqualsPath": "$answer", "Next": "Done"}],
            "Default": "WrongAnswer",
        },
        "WrongAnswer": {"Type": "Pass", "Assign": {"guess.$": "$answer"}, "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}


def _one(state: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"StartAt": "S", "States": {"S": state}, **top}


K5_CASES = [
    pytest.param(GUESSING, {"CheckAnswer": ["answer", "guess"], "WrongAnswer": ["answer"]},
                 id="developer-guide-example"),
    pytest.param(_one({"Type": "Pass", "Assign": {"x": 1, "y.$": "$.y"}, "End": True}), None,
                 id="only-assigns"),
    pytest.param(_one({"Type": "Pass", "Parameters": {"b": "$bucket"}, "End": True}), None,
                 id="no-dollar-suffix-is-text"),
    pytest.param(_one({"Type": "Pass", "InputPath": "$in", "OutputPath": "$out",
                       "ResultPath": "$.r", "End": True}),
                 {"S": ["in", "out"]}, id="input-and-output-path"),
    pytest.param(_one({"Type": "Pass", "Parameters": {
        "m.$": "States.Format($AnswerTemplate, $.x, 'ignored $literal')",
        "nested": {"n.$": "$deep.value"}}, "End": True}),
                 {"S": ["AnswerTemplate", "deep"]}, id="intrinsic-arguments-and-nesting"),
    pytest.param(_one({"Type": "Wait", "SecondsPath": "$delay", "End": True}), {"S": ["delay"]},
                 id="wait-seconds-path"),
    pytest.param(_one({"Type": "Fail", "ErrorPath": "$error", "CausePath": "$cause"}),
                 {"S": ["cause", "error"]}, id="fail-error-and-cause-path"),
    pytest.param({"StartAt": "S", "States": {
        "S": {"Type": "Choice", "Choices": [{"Not": {"And": [
            {"Variable": "$a", "IsPresent": True},
            {"Variable": "$.b", "NumericLessThanPath": "$c"}]}, "Next": "E"}], "Default": "E"},
        "E": {"Type": "Succeed"}}},
                 {"S": ["a", "c"]}, id="choice-nested-rules"),
    pytest.param({"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$items", "MaxConcurrencyPath": "$limit",
        "ItemSelector": {"v.$": "$value"},
        "ItemProcessor": {"StartAt": "Inner", "States": {
            "Inner": {"Type": "Pass", "Parameters": {"x.$": "$outer"}, "End": True}}},
        "End": True}}},
                 {"M": ["items", "limit", "value"], "Inner": ["outer"]},
                 id="map-processor-states-by-their-own-names"),
    pytest.param({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Condition": "{% true %}", "Next": "E"}]},
        "E": {"Type": "Succeed"}}}, None, id="jsonata-choice-reading-none"),
]  # fmt: skip


@pytest.mark.parametrize(("definition", "expected"), K5_CASES)
def test_K5_variable_references(
    h: Harness, definition: dict[str, Any], expected: dict[str, list[str]] | None
) -> None:
    arn = h.machine(definition)
    described = h.call("DescribeStateMachine", stateMachineArn=arn)
    assert described.get("variableReferences") == expected


def test_K5_describe_for_execution_lists_the_references_it_ran_with(store: Store) -> None:
    h = Harness(store)
    arn = h.machine(GUESSING)
    execution = h.start(arn)
    h.update(arn, PASS)
    found = h.call("DescribeStateMachineForExecution", executionArn=execution)
    assert found["variableReferences"] == {
        "CheckAnswer": ["answer", "guess"],
        "WrongAnswer": ["answer"],
    }


# ----------------------------------------------------------------------------- K6, K8


def test_K6_redrive_status_reason_has_no_trailing_period(store: Store) -> None:
    h = Harness(store)
    described = h.run(h.machine())
    assert described["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"


def test_K8_a_failed_sync_execution_has_output_details_and_no_output(h: Harness) -> None:
    failing = _one({"Type": "Fail", "Error": "Oops", "Cause": "it broke"})
    arn = h.machine(failing, type="EXPRESS")
    result = h.call("StartSyncExecution", stateMachineArn=arn, input="{}")
    assert result["status"] == "FAILED"
    assert result["outputDetails"] == {"included": True}
    assert "output" not in result
    assert (result["error"], result["cause"]) == ("Oops", "it broke")


# ----------------------------------------------------------------------------- K9 - K17

K9_OPERATIONS = [
    ("DescribeStateMachine", "stateMachineArn"),
    ("DescribeExecution", "executionArn"),
    ("GetExecutionHistory", "executionArn"),
    ("ListExecutions", "stateMachineArn"),
    ("PublishStateMachineVersion", "stateMachineArn"),
]


@pytest.mark.parametrize(("operation", "member"), K9_OPERATIONS)
def test_K9_invalid_arn_prefix(h: Harness, operation: str, member: str) -> None:
    with pytest.raises(err.InvalidArn) as raised:
        h.call(operation, **{member: "not-an-arn"})
    assert str(raised.value) == "Invalid Arn: 'Invalid ARN prefix: not-an-arn'"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not some json", "Unrecognized token 'not': was expecting (JSON String, Number, Array, "
         "Object or token 'null', 'true' or 'false')"),
        ("{'not': 'json'}",
         "Unexpected character (''' (code 39)): was expecting double-quote to start field name"),
        ("", "Invalid execution input."),
    ],
)  # fmt: skip
def test_K10_invalid_execution_input_quotes_the_parser(h: Harness, text: str, message: str) -> None:
    arn = h.machine()
    with pytest.raises(err.InvalidExecutionInput) as raised:
        h.start(arn, input=text)
    assert str(raised.value) == f"Invalid State Machine Execution Input: '{message}'"


def test_K12_version_description_without_publish_has_no_reason(h: Harness) -> None:
    with pytest.raises(err.ValidationException) as raised:
        h.machine(versionDescription="v1")
    assert str(raised.value) == "Version description can only be set when publish is true"
    assert raised.value.reason is None


def test_K13_publishing_a_stale_revision(h: Harness) -> None:
    arn = h.machine()
    stale = h.update(arn, OTHER)["revisionId"]
    current = h.update(arn, PASS)["revisionId"]
    with pytest.raises(err.ConflictException) as raised:
        h.publish(arn, revisionId=stale)
    assert str(raised.value) == (
        f"Failed to publish the State Machine version for revision {stale}. "
        f"The current State Machine revision is {current}."
    )


@pytest.mark.parametrize("publish", [False, True])
def test_K14_updating_a_version_arn(h: Harness, publish: bool) -> None:
    arn = h.machine()
    h.update(arn, OTHER, publish=True)
    version = h.update(arn, PASS, publish=True)["stateMachineVersionArn"]
    assert version == f"{arn}:2"
    with pytest.raises(err.StateMachineDoesNotExist) as raised:
        h.update(version, OTHER, publish=publish)
    assert str(raised.value) == f"State Machine Does Not Exist: '{version}'"


def test_K15_tagging_a_version_arn(h: Harness) -> None:
    version = h.publish(h.machine())
    with pytest.raises(err.ResourceNotFound) as raised:
        h.call("TagResource", resourceArn=version, tags=[{"key": "k", "value": "v"}])
    assert str(raised.value) == f"Resource not found: '{version}'"


K16_CASES = [
    ("arn:aws:states:::states:startExecution.sync",
     "Express state machine does not support '.sync' service integration at"),
    ("arn:aws:states:::states:startExecution.sync:2",
     "Express state machine does not support '.sync' service integration at"),
    ("arn:aws:states:::sqs:sendMessage.waitForTaskToken",
     "Express state machine does not support '.waitForTaskToken' service integration  at"),
    ("arn:aws:states:us-east-1:123456789012:activity:work",
     "Express state machine does not support Activity ARN at"),
]  # fmt: skip


@pytest.mark.parametrize(("resource", "words"), K16_CASES)
def test_K16_express_machines_refuse_standard_only_tasks(
    h: Harness, resource: str, words: str
) -> None:
    message = invalid_definition(h, task(resource), type="EXPRESS")
    assert message == (
        f"Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: {words} /States/T/Resource'"
    )
    h.machine(task(resource), name="standard")  # a Standard machine takes them


def test_K16_an_express_machine_cannot_be_updated_to_use_sync(h: Harness) -> None:
    arn = h.machine(type="EXPRESS")
    with pytest.raises(err.InvalidDefinition, match=re.escape("'.sync' service integration at")):
        h.update(arn, task("arn:aws:states:::states:startExecution.sync"))


def test_K17_missing_states(h: Harness) -> None:
    message = invalid_definition(h, {"StartAt": "A"})
    assert message == (
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: These fields are "
        "required: [States] at /'"
    )


# ----------------------------------------------------------------------------- L


def validate(h: Harness, definition: str, **extra: Any) -> dict[str, Any]:
    return h.call("ValidateStateMachineDefinition", definition=definition, **extra)


def test_L_a_valid_definition(h: Harness) -> None:
    assert validate(h, json.dumps(PASS)) == {"result": "OK", "diagnostics": [], "truncated": False}


JACKSON_NOT = (
    "Unrecognized token 'not': was expecting (JSON String, Number, Array, Object or token "
    "'null', 'true' or 'false')"
)
SOURCE_NOT = '[Source: (String)"not a definition"; line: 1, column: 4]'
L_CASES = [
    ("{}", {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "location": "/",
            "message": "These fields are required: [States, StartAt]"}),
    ('{"States": {"A": {"Type": "Succeed"}}}',
     {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "location": "/",
      "message": "These fields are required: [StartAt]"}),
    (" ", {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED",
           "message": "Definition must be a valid JSON object"}),
    ("not a definition", {"severity": "ERROR", "code": "INVALID_JSON_DESCRIPTION",
                          "message": f"{JACKSON_NOT}\n at {SOURCE_NOT}", "location": SOURCE_NOT}),
    (json.dumps({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": True}}}),
     {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "location": "/States/A",
      "message": "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state "
                 "machine"}),
]  # fmt: skip


@pytest.mark.parametrize(("definition", "diagnostic"), L_CASES)
def test_L_diagnostics(h: Harness, definition: str, diagnostic: dict[str, str]) -> None:
    assert validate(h, definition) == {
        "result": "FAIL",
        "diagnostics": [diagnostic],
        "truncated": False,
    }


def test_L_express_wait_for_task_token_keeps_its_trailing_space(h: Harness) -> None:
    definition = json.dumps(task("arn:aws:states:::sqs:sendMessage.waitForTaskToken"))
    assert validate(h, definition)["result"] == "OK"
    found = validate(h, definition, type="EXPRESS")
    assert found["diagnostics"] == [
        {
            "severity": "ERROR",
            "code": "SCHEMA_VALIDATION_FAILED",
            "message": "Express state machine does not support '.waitForTaskToken' service "
            "integration ",
            "location": "/States/T/Resource",
        }
    ]


def test_L_truncated_when_more_diagnostics_than_asked_for(h: Harness) -> None:
    found = validate(h, "{}", maxResults=1)
    assert found["truncated"] is False
    states = {f"S{i}": {"Type": "Pass", "Next": "missing"} for i in range(3)}
    many = validate(h, json.dumps({"StartAt": "S0", "States": states}), maxResults=1)
    assert (len(many["diagnostics"]), many["truncated"]) == (1, True)


def test_K5_a_stored_definition_that_no_longer_compiles_lists_no_references(h: Harness) -> None:
    """Describe never fails: a record whose definition this Stepwell refuses (stored by an
    older one) is described without ``variableReferences``."""
    arn = h.machine()
    execution = h.start(arn)
    record = h.store.get_state_machine(arn)
    assert record is not None
    h.store.replace_state_machine(replace(record, definition='{"StartAt": "Nowhere"}'))
    assert "variableReferences" not in h.call("DescribeStateMachine", stateMachineArn=arn)
    found = h.call("DescribeStateMachineForExecution", executionArn=execution)
    assert found["definition"] == json.dumps(PASS)
