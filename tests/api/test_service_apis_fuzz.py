"""Malformed requests to the embedded services' APIs (DynamoDB, SQS, SNS, S3, Lambda,
EventBridge) get the protocol's 4xx, never a 5xx (issue 11).

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
from urllib.parse import parse_qsl, urlencode

import botocore.session
import pytest
from botocore.serialize import create_serializer

from stepwell.api.app import create_app
from stepwell.api.model import ServiceModel, load_service_model
from stepwell.service.host import Host
from stepwell.service.settings import Settings
from tests.api.api_helpers import AsgiClient, Reply, asgi_client

SESSION = botocore.session.get_session()
MODELS = {
    name: load_service_model(name) for name in ("dynamodb", "sqs", "sns", "s3", "events", "lambda")
}
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
# Function names in every form (a separate list: the other fuzzers' draws stay as they were).
FUNCTION_NAMES = [
    "fuzz-fn",
    "arn:aws:lambda:us-east-1:123456789012:function:fuzz-fn:$LATEST",
    "arn:aws:lambda:eu-west-1:123456789012:function:fuzz-fn",
    "123456789012:function:fuzz-fn",
    "fuzz-fn:7",
    "function",
    "nope",
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
    if "functionname" in lowered:
        return "fuzz-fn"
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
        host.integrations.functions.register("fuzz-fn", lambda event: event)
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


def rest_request(rng: random.Random, operation: str) -> tuple[str, str, dict[str, str], bytes, str]:
    """A Lambda request botocore would send with hostile members, then perhaps mangled:
    (method, path, headers, body, query string)."""
    model = MODELS["lambda"]
    members = request_members(rng, model, operation)
    if "FunctionName" in members and rng.random() < 0.5:
        members["FunctionName"] = rng.choice(FUNCTION_NAMES)
    if operation == "Invoke":
        members["Payload"] = rng.choice([b"{}", b'{"a": 1}', b"[", b"\xff", b"null", b""])
    operation_model = SESSION.get_service_model("lambda").operation_model(operation)
    try:
        request = create_serializer("rest-json").serialize_to_request(members, operation_model)
        path, _, query = request["url_path"].partition("?")
        query = query or urlencode(request["query_string"], doseq=True)
        method, headers, body = request["method"], dict(request["headers"]), request["body"]
    except Exception:  # botocore refuses some hostile values: send them raw
        path, method, headers, body, query = "/2015-03-31/functions/x", "POST", {}, b"{", ""
    if isinstance(body, str):
        body = body.encode()
    if rng.random() < 0.3:
        path = rng.choice(
            [
                path + "/extra",
                path.replace("functions", "funcs"),
                "/2015-03-31/functions/%FF%FE/invocations",
                "/2015-03-31/functions/" + "a" * 300,
                "/2015-03-31/functions/a%2Fb/invocations",
                "/2015-03-31/",
                "/2017-03-31/tags/x",
            ]
        )
    if rng.random() < 0.2:
        method = rng.choice(["GET", "PUT", "DELETE", "PATCH"])
    if rng.random() < 0.2:
        query = rng.choice(["MaxItems=abc", "MaxItems=0", "MaxItems=100000", "Marker=%%%", "x"])
    if rng.random() < 0.2:
        headers[rng.choice(["X-Amz-Invocation-Type", "X-Amz-Log-Type", "X-Amz-Client-Context"])] = (
            rng.choice(STRINGS)
        )
    return method, path, headers, body, query


def test_rest_json_protocol_fuzz(fuzzed: tuple[AsgiClient, Host]) -> None:
    client, host = fuzzed
    operations = implemented(host, "lambda")
    assert operations == ["GetFunction", "Invoke", "ListFunctions"]
    rng = random.Random("rest-json-lambda")
    statuses: dict[str, set[int]] = {}
    for operation in operations * 60:
        method, path, headers, body, query = rest_request(rng, operation)
        reply = client.request(method, path, headers, body, query.encode())
        assert reply.status in (200, 202, 204) or 400 <= reply.status < 500, reply.body
        if reply.status >= 400:
            assert reply.headers["x-amzn-errortype"] and reply.json()["Message"]
        statuses.setdefault(operation, set()).add(reply.status)
    answered = {status for codes in statuses.values() for status in codes}
    assert {200, 400, 404} <= answered  # requests reached the functions, and were refused


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", "/2015-03-31/functions/fuzz-fn/nothing", {}),
        ("GET", "/2015-03-31/functions/fuzz-fn/invocations", {}),
        ("POST", "/", {"authorization": "AWS4-HMAC-SHA256 Credential=a/20250101/us-east-1/"
                                         "lambda/aws4_request"}),
        ("GET", "/2015-03-31/functions?MaxItems=-5", {}),
    ],
)  # fmt: skip
def test_unknown_lambda_requests_are_4xx_json(
    fuzzed: tuple[AsgiClient, Host], method: str, path: str, headers: dict[str, str]
) -> None:
    client, _ = fuzzed
    path, _, query = path.partition("?")
    reply = client.request(method, path, headers, b"", query.encode())
    assert 400 <= reply.status < 500, reply.body
    assert reply.json()["Type"] == "User" and reply.headers["x-amzn-errortype"]


# --- S3 (REST-XML) ---------------------------------------------------------------------------

S3_MODEL = load_service_model("s3")
S3_QUERY_KEYS = ["acl", "uploads", "list-type", "max-keys", "continuation-token", "delete"]
S3_QUERY_KEYS += ["x-id", "prefix", "delimiter", "start-after", "marker", "encoding-type"]
S3_HEADERS = {
    "range": ["bytes=0-0", "bytes=-", "bytes=99999999999999999999-", "bytes=-0", "x", ""],
    "x-amz-copy-source": ["fuzz-bucket/k", "/fuzz-bucket", "%ff%fe", "nobucket/k", "", "a/b?v=1"],
    "content-md5": ["", "AAAA", "1B2M2Y8AsgTpgAmY7PhCfg==", "💥"],
    "x-amz-content-sha256": ["UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "0" * 64],
    "content-encoding": ["aws-chunked", "gzip,aws-chunked", ""],
    "x-amz-decoded-content-length": ["5", "-1", "x", str(10**12)],
    "x-amz-meta-owner": ["ada", "é"],
    "x-amz-checksum-crc32": ["AAAAAA==", "nope"],
    "x-amz-trailer": ["x-amz-checksum-crc32"],
    "x-amz-metadata-directive": ["COPY", "REPLACE", "SIDEWAYS"],
    "content-length": ["3", "abc", str(10**13)],
    "host": ["fuzz-bucket.localhost:8083", "fuzz-bucket.s3.localhost", "s3.localhost"],
}
S3_UPLOAD_IDS: list[str] = []
S3_BODIES = [
    b"",
    b"<Delete><Object><Key>k</Key></Object></Delete>",
    b"<Delete><Object><Key></Key></Object><Quiet>maybe</Quiet></Delete>",
    b"<Delete>" + b"<Object><Key>k</Key></Object>" * 1001 + b"</Delete>",
    b'<!DOCTYPE d [<!ENTITY a "aaaa">]><Delete><Object><Key>&a;</Key></Object></Delete>',
    b"<CreateBucketConfiguration><LocationConstraint>eu-west-1",
    b"5\r\nhello\r\n0\r\n\r\n",
    b"zz\r\nhello\r\n",
    b"3;chunk-signature=abc\r\nabcdef\r\n0\r\n\r\n",
    b"\xff\xfe<",
]


def s3_request(rng: random.Random, operation: str) -> tuple[str, str, dict[str, str], bytes, bytes]:
    """A request botocore would send for ``operation`` with hostile members, then mangled."""
    members = minimal(S3_MODEL, S3_MODEL.operation_shape(operation, "input") or "")
    if "Bucket" in members:
        members["Bucket"] = rng.choice(["fuzz-bucket", "fuzz-bucket", "nobucket", "Bad_Name"])
    if "Key" in members:
        members["Key"] = rng.choice(["k", "a/b c", "💥", "x" * 1100, "k"])
    if "CopySource" in members:
        members["CopySource"] = rng.choice(["fuzz-bucket/k", "fuzz-bucket/k", "nobucket/k"])
    if "UploadId" in members:
        members["UploadId"] = rng.choice([*S3_UPLOAD_IDS, "nope"])
    shape = S3_MODEL.shapes[S3_MODEL.operation_shape(operation, "input") or ""]
    listed = list(shape.get("members", {}).items())
    for name, member in rng.sample(listed, min(len(listed), rng.randint(0, 3))):
        if name not in ("Bucket", "Key"):
            members[name] = hostile(rng, S3_MODEL, member["shape"])
    operation_model = SESSION.get_service_model("s3").operation_model(operation)
    try:
        request = create_serializer("rest-xml").serialize_to_request(members, operation_model)
    except Exception:  # botocore refuses some hostile values: send the minimal request
        members = minimal(S3_MODEL, S3_MODEL.operation_shape(operation, "input") or "")
        request = create_serializer("rest-xml").serialize_to_request(members, operation_model)
    path = request["url_path"].replace("{Bucket}", "fuzz-bucket").replace("{Key+}", "k")
    path, _, in_path = path.partition("?")
    query = {**dict(parse_qsl(in_path, keep_blank_values=True)), **request["query_string"]}
    headers = {k.lower(): str(v) for k, v in request["headers"].items()}
    body = request["body"] if isinstance(request["body"], bytes) else str(request["body"]).encode()
    for _ in range(rng.randint(0, 3)):
        mangle = rng.randint(0, 4)
        if mangle == 0:
            query[rng.choice(S3_QUERY_KEYS)] = rng.choice(["", "2", "-1", "abc", "%%%", "url"])
        elif mangle == 1:
            name = rng.choice(list(S3_HEADERS))
            headers[name] = rng.choice(S3_HEADERS[name])
        elif mangle == 2:
            body = rng.choice(S3_BODIES)
        elif mangle == 3:
            path = rng.choice([path + "%ff", path + "//x", "/fuzz-bucket/" + "%2F" * 5, path])
        else:
            headers.pop(rng.choice([*headers, "x"]), None)
    if rng.random() < 0.7:  # the ASGI client sends the whole body whatever it says
        headers.pop("content-length", None)
    return request["method"], path, headers, body, urlencode(query).encode()


def assert_s3_4xx(method: str, reply: Reply) -> None:
    assert reply.status < 300 or 400 <= reply.status < 500 or reply.status == 501, reply.body
    if reply.status >= 300 and method != "HEAD":
        root = ElementTree.fromstring(reply.body)
        assert root.tag == "Error" and root.findtext("Code"), reply.body


def test_s3_rest_xml_fuzz(fuzzed: tuple[AsgiClient, Host]) -> None:
    client, host = fuzzed
    host.services.s3.call("CreateBucket", {"Bucket": "fuzz-bucket"})
    host.services.s3.call("PutObject", {"Bucket": "fuzz-bucket", "Key": "k", "Body": b"abc"})
    upload = host.services.s3.call("CreateMultipartUpload", {"Bucket": "fuzz-bucket", "Key": "k"})
    S3_UPLOAD_IDS.append(upload["UploadId"])
    operations = implemented(host, "s3")
    assert len(operations) == 17
    rng = random.Random("s3")
    statuses: dict[str, set[int]] = {}
    for operation in operations * 30:
        method, path, headers, body, query = s3_request(rng, operation)
        reply = client.request(method, path, headers, body, query)
        assert_s3_4xx(method, reply)
        statuses.setdefault(operation, set()).add(reply.status)
    answered = [operation for operation, codes in statuses.items() if any(s < 300 for s in codes)]
    assert len(answered) >= 14, statuses  # nearly all got through to the engine
    assert all(any(s >= 400 for s in codes) for codes in statuses.values()), statuses
