"""Thousands of malformed requests against the real service: each gets an AWS-style 4xx
(or a 200), never a 5xx. Requests are generated from the service model's input shapes —
right types, hostile values (odd ARNs, broken definitions, bad JSON, huge numbers) — so
they get past the protocol checks and reach the service itself."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest

from stepwell.api.app import create_app
from stepwell.service.host import Host
from stepwell.service.settings import Settings
from tests.api.api_helpers import AsgiClient, asgi_client

MODEL = botocore.session.get_session().get_service_model("stepfunctions")


def nested_parallels(levels: int) -> str:
    machine: dict[str, Any] = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    for level in range(levels):
        name = f"P{level}"
        state = {"Type": "Parallel", "Branches": [machine], "End": True}
        machine = {"StartAt": name, "States": {name: state}}
    return json.dumps(machine)


def pass_result(text: str) -> str:
    return f'{{"StartAt":"P","States":{{"P":{{"Type":"Pass","Result":{text},"End":true}}}}}}'


YAML_BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [
        f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]"
        for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
    ]
)
# Issue 9, fault 4 and 5: definitions that gave 500s or exhausted memory.
HOSTILE_DEFINITIONS = {
    "json-1k-deep": pass_result("[" * 1_000 + "]" * 1_000),
    "json-100k-deep": pass_result("[" * 100_000 + "]" * 100_000),
    "parallel-200-deep": nested_parallels(200),
    "yaml-1k-deep": "StartAt: P\nStates:\n  P: {Type: Pass, End: true, Result: "
    + "[" * 1_000
    + "]" * 1_000
    + "}\n",
    "integer-5000-digits": pass_result("9" * 5_000),
    "number-1e999": pass_result("1e999"),
    "yaml-billion-laughs": YAML_BOMB,
    "yaml-self-alias": "StartAt: P\nStates: &s\n  P: *s\n",
}
ACCOUNT = "arn:aws:states:us-east-1:123456789012"
DEFINITION = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})

STRINGS = [
    "",
    "x",
    "a" * 81,
    f"{ACCOUNT}:stateMachine:m",
    f"{ACCOUNT}:stateMachine:m:1",
    f"{ACCOUNT}:stateMachine:m:alias",
    f"{ACCOUNT}:execution:m:e",
    f"{ACCOUNT}:execution:m",
    f"{ACCOUNT}:activity:a",
    f"{ACCOUNT}:express:m:e:1",
    "arn:aws:states:::",
    "arn:",
    "{}",
    "{",
    "[]",
    "null",
    '"s"',
    DEFINITION,
    '{"StartAt": "X", "States": {}}',
    "\u0000",
    "💥",
    "arn:aws:states:us-east-1:123456789012:mapRun:m/x:y",
    "States.ALL",
    " ",
    *HOSTILE_DEFINITIONS.values(),
]


@pytest.fixture(scope="module")
def client() -> Iterator[AsgiClient]:
    host = Host(Settings(db="memory", workers=1, invokers=1)).start()
    host.service.activity_long_poll_seconds = 0.01  # GetActivityTask: no 60 s waits here
    with asgi_client(create_app(host.service)) as test_client:
        for name in ("m", "n"):
            test_client.call(
                "CreateStateMachine",
                {
                    "name": name,
                    "definition": DEFINITION,
                    "roleArn": "arn:aws:iam::123456789012:role/r",
                },
            )
        test_client.call("CreateActivity", {"name": "a"})
        yield test_client
    host.stop()


def value_for(shape: Any, rng: random.Random, depth: int = 0) -> Any:
    kind = shape.type_name
    if kind == "structure":
        members = {}
        for name, member in shape.members.items():
            if name in shape.required_members or rng.random() < 0.5:
                members[name] = value_for(member, rng, depth + 1)
        return members
    if kind == "list":
        return [value_for(shape.member, rng, depth + 1) for _ in range(rng.randint(0, 2))]
    if kind == "map":
        return {rng.choice(STRINGS): value_for(shape.value, rng, depth + 1)}
    if kind == "string":
        if shape.enum and rng.random() < 0.7:
            return rng.choice(shape.enum)
        return rng.choice(STRINGS)
    if kind in ("integer", "long"):
        return rng.choice([0, 1, -1, 1000, 2**31, 100_000])
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "timestamp":
        return rng.choice([0, 1_700_000_000, -5])
    if kind == "double":
        return rng.random()
    return None


OPERATIONS = sorted(MODEL.operation_names)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_no_request_gets_a_server_error(client: AsgiClient, operation: str) -> None:
    rng = random.Random(operation)
    shape = MODEL.operation_model(operation).input_shape
    seen = set()
    for _ in range(60):
        body = value_for(shape, rng) if shape is not None else {}
        reply = client.call(operation, body)
        assert reply.status < 500, (operation, body, reply.body)
        seen.add(reply.status)
        if reply.status >= 400:
            assert reply.error_type
    assert seen


def test_inline_operations_answer_like_threaded_ones() -> None:
    """ApiSettings.inline_operations: the same answers, without the thread hand-off."""
    from stepwell.api.settings import ApiSettings
    from stepwell.app import QUICK_READS, local_store

    assert local_store("stepwell.db") and not local_store("postgresql://db/x")
    host = Host(Settings(db="memory", workers=0)).start()
    try:
        settings = ApiSettings(inline_operations=QUICK_READS)
        with asgi_client(create_app(host.service, settings)) as client:
            client.call("CreateActivity", {"name": "a"})
            listed = client.call("ListActivities", {})
            assert listed.status == 200 and listed.json()["activities"][0]["name"] == "a"
            missing = client.call("DescribeExecution", {"executionArn": "nope"})
            assert (missing.status, missing.error_type) == (400, "InvalidArn")
    finally:
        host.stop()


@pytest.mark.parametrize("definition", HOSTILE_DEFINITIONS.values(), ids=HOSTILE_DEFINITIONS)
@pytest.mark.parametrize("operation", ["CreateStateMachine", "ValidateStateMachineDefinition"])
def test_hostile_definitions_are_invalid_definitions_not_server_errors(
    client: AsgiClient, operation: str, definition: str
) -> None:
    members: dict[str, Any] = {"definition": definition}
    if operation == "CreateStateMachine":
        members.update(name="hostile", roleArn="arn:aws:iam::123456789012:role/r")
    reply = client.call(operation, members)
    if operation == "CreateStateMachine":
        assert (reply.status, reply.error_type) == (400, "InvalidDefinition")
        assert "INVALID_JSON_DESCRIPTION" in reply.message
    else:
        assert reply.status == 200
        (diagnostic,) = reply.json()["diagnostics"]
        assert diagnostic["code"] == "INVALID_JSON_DESCRIPTION"


@pytest.mark.parametrize(
    "expression",
    [
        "( $f := function($n){ $f($n+1) }; $f(0) )",
        "$count([1..1e8])",
        "( $d := function($s, $n){ $n = 0 ? $s : $d($s & $s, $n-1) }; $length($d('x', 40)) )",
    ],
)
def test_hostile_jsonata_in_test_state_fails_the_state_not_the_server(
    client: AsgiClient, expression: str
) -> None:
    # Issue 9, fault 6: evaluated in a worker process with limits (service.jsonata_pool).
    state = {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% " + expression + " %}",
             "End": True}  # fmt: skip
    reply = client.call("TestState", {"definition": json.dumps(state)})
    assert reply.status == 200
    assert reply.json()["status"] == "FAILED"
    assert reply.json()["error"] == "States.QueryEvaluationError"
