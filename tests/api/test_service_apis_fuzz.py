"""Malformed requests to the embedded services' APIs (DynamoDB, SQS, SNS, EventBridge) get the
protocol's 4xx, never a 5xx (issue 11).

Requests are generated from botocore's models for every operation Stepwell implements,
in every protocol the API speaks: valid requests with members replaced by hostile values
of the right type (so they reach the engines) or of any type, broken bodies, and, for the
query protocol, form parameters serialized by botocore and then mangled. The target
table, queue and topic exist, so the engines see the requests, not only the validators.
"""

from __future__ import annotations

import json
import random
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import botocore.session
import pytest
from botocore.serialize import create_serializer

from stepwell.api.app import create_app
from stepwell.api.model import ServiceModel, load_service_model
from stepwell.service.host import Host
from stepwell.service.settings import Settings
from tests.api.api_helpers import AsgiClient, Reply, asgi_client

SESSION = botocore.session.get_session()
MODELS = {name: load_service_model(name) for name in ("dynamodb", "sqs", "sns", "events")}
QUEUE_URL = "http://127.0.0.1:8083/123456789012/fuzz-queue"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:fuzz-topic"
STRINGS = [
    "",
    "x",
    "fuzz-table",
    QUEUE_URL,
    TOPIC_ARN,
    "arn:aws:sqs:us-east-1:123456789012:fuzz-queue",
    "arn:aws:lambda:us-east-1:123456789012:function:nope",
    "#a = :v",
    "SET #a = :v REMOVE b",
    "attribute_exists(pk) AND size(x) > :n",
    "pk = :v",
    ":v",
    "a.b[1]",
    "{",
    '{"a": ["b"]}',
    '{"deadLetterTargetArn": "x", "maxReceiveCount": 0}',
    "\u0000",
    "z" * 300,
    "💥",
    "-1",
    "All",
    ".*",
    "sqs",
    "email",
    "true",
]
# EventBridge's own hostile strings: rules, schedules, patterns, templates and paths.
EVENT_STRINGS = [
    "fuzz-rule",
    "rate(5 minutes)",
    "cron(0 12 * * ? *)",
    "rate(0 days)",
    '{"source": ["a"], "detail": {"n": [{"numeric": [">", 1, "<", "x"]}]}}',
    '{"a": [{"wildcard": "a**b"}], "$or": [{"b": [1]}]}',
    '{"a": [{"anything-but": {"prefix": 1}}, {"cidr": "10.0.0.0/99"}]}',
    '{"x": <x>, "y": "<aws.events.event.json>"}',
    "$.detail[",
]
ATTRIBUTE_VALUES: list[Any] = [
    {"S": "a"},
    {"S": 1},
    {"N": "abc"},
    {"N": "1e400"},
    {"B": "!!"},
    {"SS": []},
    {"SS": ["a", "a"]},
    {"NS": ["1", "x"]},
    {"L": [{}]},
    {"M": {"a": {"NULL": False}}},
    {"BOOL": "yes"},
    {"S": "a", "N": "1"},
    {},
    {"Q": "x"},
]
ODD: list[Any] = [None, "", 0, -1, 2**70, 1.5, True, [], [None], {}, {"k": None}, "é" * 50]


def minimal(model: ServiceModel, shape_name: str, depth: int = 0) -> Any:
    """The smallest value of a shape, with the names of the fuzzed resources."""
    shape = model.shapes[shape_name]
    kind = shape["type"]
    if kind == "structure":
        if shape_name == "AttributeValue":
            return {"S": "a"}
        members = shape.get("members", {})
        return {
            name: minimal(model, members[name]["shape"], depth + 1)
            for name in shape.get("required", [])
        }
    if kind == "list":
        return [minimal(model, shape["member"]["shape"], depth + 1)] * max(shape.get("min", 0), 1)
    if kind == "map":
        key = minimal(model, shape["key"]["shape"], depth + 1)
        return {key: minimal(model, shape["value"]["shape"], depth + 1)}
    if kind == "string":
        return _string(shape_name, shape)
    return {"boolean": False, "blob": "AA=="}.get(kind, shape.get("min", 0))


def _string(shape_name: str, shape: dict[str, Any]) -> str:
    if "enum" in shape:
        return str(shape["enum"][0])
    lowered = shape_name.lower()
    if "table" in lowered:
        return "fuzz-table"
    if "topic" in lowered:
        return TOPIC_ARN
    if "rulename" in lowered:
        return "fuzz-rule"
    return "pk" if shape.get("min", 0) <= 2 else "a" * shape.get("min", 1)


def hostile(rng: random.Random, model: ServiceModel, shape_name: str) -> Any:
    """A value of the shape's JSON type that likely breaks a rule (or any odd value)."""
    shape = model.shapes[shape_name]
    kind = shape["type"]
    if rng.random() < 0.15:
        return rng.choice(ODD)
    if shape_name == "AttributeValue":
        return rng.choice(ATTRIBUTE_VALUES)
    if kind == "string":
        return rng.choice(EVENT_STRINGS + STRINGS if model is MODELS["events"] else STRINGS)
    if kind in ("integer", "long", "float", "double"):
        return rng.choice([-1, 0, 1, 10, 21, 901, 10**6, shape.get("max", 5) + 1])
    if kind == "boolean":
        return rng.choice([True, False])
    if kind == "list":
        return [hostile(rng, model, shape["member"]["shape"]) for _ in range(rng.randint(0, 12))]
    if kind == "map":
        size = rng.randint(0, 4)
        keys = [rng.choice(STRINGS) for _ in range(size)]
        return {key: hostile(rng, model, shape["value"]["shape"]) for key in keys}
    if kind == "structure":
        value = minimal(model, shape_name)
        members = list(shape.get("members", {}).items())
        for name, member in rng.sample(members, min(len(members), rng.randint(1, 3))):
            value[name] = hostile(rng, model, member["shape"])
        return value
    return rng.choice(ODD)


def request_members(rng: random.Random, model: ServiceModel, operation: str) -> dict[str, Any]:
    shape_name = model.operation_shape(operation, "input") or ""
    value: dict[str, Any] = minimal(model, shape_name)
    members = list(model.shapes[shape_name].get("members", {}).items())
    for name, member in rng.sample(members, min(len(members), rng.randint(0, 4))):
        value[name] = hostile(rng, model, member["shape"])
    if operation == "ReceiveMessage":
        value["WaitTimeSeconds"] = 0  # a long poll is not malformed, only slow
    return value


def random_body(rng: random.Random, model: ServiceModel, operation: str) -> bytes:
    kind = rng.randint(0, 5)
    if kind <= 2:
        return json.dumps(request_members(rng, model, operation)).encode()
    if kind == 3:
        return json.dumps(rng.choice(ODD)).encode()
    if kind == 4:
        return rng.randbytes(rng.randint(0, 40))
    return b'{"TableName": ' * 500


def implemented(host: Host, service: str) -> list[str]:
    model = MODELS[service]
    return sorted(op for op in model.operations if host.service.embedded_apis.supports(service, op))


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[tuple[AsgiClient, Host]]:
    host = Host(Settings(db="memory", workers=0))
    with asgi_client(create_app(host.service)) as client:
        services = host.services
        services.dynamodb.call(
            "CreateTable",
            {
                "TableName": "fuzz-table",
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST",
            },
        )
        services.sqs.call("CreateQueue", {"QueueName": "fuzz-queue"})
        services.sns.call("CreateTopic", {"Name": "fuzz-topic"})
        services.events.call("PutRule", {"Name": "fuzz-rule", "EventPattern": '{"source": ["a"]}'})
        target = {"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:fuzz-queue"}
        services.events.call("PutTargets", {"Rule": "fuzz-rule", "Targets": [target]})
        yield client, host
    host.stop()


def json_request(client: AsgiClient, model: ServiceModel, operation: str, body: bytes) -> Reply:
    headers = {
        "content-type": f"application/x-amz-json-{model.json_version}",
        "x-amz-target": f"{model.target_prefix}.{operation}",
    }
    return client.request("POST", "/", headers, body)


def query_request(client: AsgiClient, form: dict[str, str], path: str = "/") -> Reply:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    return client.request("POST", path, headers, urlencode(form).encode())


def assert_json_4xx(reply: Reply) -> None:
    assert reply.status == 200 or 400 <= reply.status < 500, reply.body
    if reply.status != 200:
        assert "#" in reply.error_type and reply.message is not None


def assert_query_4xx(reply: Reply) -> None:
    assert reply.status == 200 or 400 <= reply.status < 500, reply.body
    root = ElementTree.fromstring(reply.body)
    if reply.status != 200:
        assert root.tag.endswith("ErrorResponse")
        assert root.find("./{*}Error/{*}Code") is not None


@pytest.mark.parametrize("service", ["dynamodb", "sqs", "events"])
def test_json_protocol_fuzz(fuzzed: tuple[AsgiClient, Host], service: str) -> None:
    client, host = fuzzed
    model = MODELS[service]
    operations = implemented(host, service)
    rng = random.Random(f"json-{service}")
    statuses: dict[str, set[int]] = {}
    for operation in operations * 25:
        body = random_body(rng, model, operation)
        reply = json_request(client, model, operation, body)
        assert_json_4xx(reply)
        statuses.setdefault(operation, set()).add(reply.status)
    assert set(statuses) == set(operations)
    assert any(400 in codes for codes in statuses.values())
    answered = [operation for operation, codes in statuses.items() if 200 in codes]
    assert len(answered) > len(operations) // 2  # most operations got through to the engine


@pytest.mark.parametrize("service", ["sqs", "sns"])
def test_query_protocol_fuzz(fuzzed: tuple[AsgiClient, Host], service: str) -> None:
    client, host = fuzzed
    model = MODELS[service]
    botocore_model = SESSION.get_service_model(service)
    serializer = create_serializer("query")
    rng = random.Random(f"query-{service}")
    operations = implemented(host, service)
    for operation in operations * 25:
        members = minimal(model, model.operation_shape(operation, "input") or "")
        if operation == "ReceiveMessage":
            members["WaitTimeSeconds"] = 0
        try:
            form = dict(
                serializer.serialize_to_request(members, botocore_model.operation_model(operation))[
                    "body"
                ]
            )
        except Exception:  # botocore refuses some minimal values; start from the action
            form = {"Action": operation}
        form["Version"] = model.api_version
        for _ in range(rng.randint(1, 4)):
            key = rng.choice([*form, "Attribute.1.Name", "Entries.member.2.Id", "Junk"])
            if key in ("Action", "Version") and rng.random() < 0.8:
                continue
            if rng.random() < 0.3:
                form.pop(key, None)
            else:
                form[key] = rng.choice([*STRINGS, "1", "0", "many"])
        path = rng.choice(["/", "/123456789012/fuzz-queue"]) if service == "sqs" else "/"
        assert_query_4xx(query_request(client, form, path))


def test_json_errors_name_the_service_namespace(fuzzed: tuple[AsgiClient, Host]) -> None:
    client, _ = fuzzed
    cases = [
        ("dynamodb", "GetItem", {"TableName": "no-table", "Key": {"pk": {"S": "a"}}}),
        ("sqs", "GetQueueUrl", {"QueueName": "no-queue"}),
    ]
    for service, operation, members in cases:
        reply = json_request(client, MODELS[service], operation, json.dumps(members).encode())
        assert reply.status == 400
        namespace = {"dynamodb": "com.amazonaws.dynamodb.v20120810", "sqs": "com.amazonaws.sqs"}
        assert reply.error_type.startswith(namespace[service] + "#")


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"x-amz-target": "DynamoDB_20120810.Nope"}, b"{}"),
        ({"x-amz-target": "AmazonSQS."}, b"{}"),
        ({"content-type": "application/x-www-form-urlencoded"}, b"Action=ListTopics"),
        ({"content-type": "application/x-www-form-urlencoded"}, b"Action=X&Version=1999-01-01"),
        ({"content-type": "application/x-www-form-urlencoded"}, b"\xff\xfe=1"),
        (
            {"authorization": "AWS4-HMAC-SHA256 Credential=a/20250101/us-east-1/sns/aws4_request"},
            b"{}",
        ),
        (
            {
                "authorization": "AWS4-HMAC-SHA256 Credential=a/20250101/us-east-1/dynamodb/"
                "aws4_request",
                "content-type": "application/x-amz-json-1.0",
            },
            b"{}",
        ),
    ],
)
def test_unroutable_requests_are_4xx(
    fuzzed: tuple[AsgiClient, Host], headers: dict[str, str], body: bytes
) -> None:
    client, _ = fuzzed
    reply = client.request("POST", "/", headers, body)
    assert 400 <= reply.status < 500, reply.body
