"""The embedded S3, through its boto3-like client and as Task resources. Sources: Amazon S3
API Reference ("PutObject", "GetObject", "HeadObject", "ListObjectsV2", "CreateBucket",
"DeleteBucket", "Error responses") and the Step Functions Developer Guide ("ItemReader",
"ResultWriter": ``arn:aws:states:::s3:getObject`` / ``putObject``)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError

import stepwell
from stepwell.integrations.embedded import json_ready
from stepwell.integrations.services import ServiceError, Services
from stepwell.integrations.services.s3 import as_bytes
from stepwell.store.sqlite import open_sqlite


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.5

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def services() -> Services:
    services = Services(clock=Clock())
    services.s3.create_bucket(Bucket="data")
    return services


def put(services: Services, *keys: str) -> None:
    for key in keys:
        services.s3.put_object(Bucket="data", Key=key, Body=key.encode())


def error_code(action: Any, **request: Any) -> str:
    with pytest.raises(ClientError) as caught:
        action(**request)
    code: str = caught.value.response["Error"]["Code"]
    return code


def test_an_object_keeps_its_body_type_etag_and_date(services: Services) -> None:
    body = b'{"a": 1}'
    put_answer = services.s3.put_object(
        Bucket="data", Key="in/a.json", Body=body, ContentType="application/json"
    )
    etag = '"' + hashlib.md5(body).hexdigest() + '"'
    assert put_answer["ETag"] == etag
    got = services.s3.get_object(Bucket="data", Key="in/a.json")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/json"
    assert got["ContentLength"] == len(body)
    assert got["ETag"] == etag
    assert got["LastModified"] == datetime.fromtimestamp(1_700_000_000, UTC)
    head = services.s3.head_object(Bucket="data", Key="in/a.json")
    assert "Body" not in head and head["ETag"] == etag


@pytest.mark.parametrize(
    ("body", "stored"),
    [("text é", "text é".encode()), (b"\x00\x01", b"\x00\x01"), (None, b"")],
)
def test_bodies_are_bytes_text_or_nothing(services: Services, body: Any, stored: bytes) -> None:
    request: dict[str, Any] = {"Bucket": "data", "Key": "k"}
    if body is not None:
        request["Body"] = body
    services.s3.put_object(**request)
    got = services.s3.get_object(Bucket="data", Key="k")
    assert got["Body"].read() == stored
    assert got["ContentType"] == "binary/octet-stream"


def test_a_readable_body_is_read() -> None:
    class Reader:
        def read(self) -> bytes:
            return b"abc"

    assert as_bytes(Reader()) == b"abc"
    with pytest.raises(ServiceError):
        as_bytes(42)


@pytest.mark.parametrize(
    ("operation", "request_", "code"),
    [
        ("get_object", {"Bucket": "data", "Key": "missing"}, "NoSuchKey"),
        ("head_object", {"Bucket": "data", "Key": "missing"}, "NoSuchKey"),
        ("get_object", {"Bucket": "nobucket", "Key": "k"}, "NoSuchBucket"),
        ("put_object", {"Bucket": "nobucket", "Key": "k", "Body": b""}, "NoSuchBucket"),
        ("put_object", {"Bucket": "data", "Key": ""}, "InvalidArgument"),
        ("list_objects_v2", {"Bucket": "nobucket"}, "NoSuchBucket"),
        ("list_objects_v2", {"Bucket": "data", "MaxKeys": -1}, "InvalidArgument"),
        ("list_objects_v2", {"Bucket": "data", "ContinuationToken": "%%%"}, "InvalidArgument"),
        ("create_bucket", {"Bucket": "data"}, "BucketAlreadyOwnedByYou"),
        ("create_bucket", {"Bucket": "No_Such"}, "InvalidBucketName"),
        ("head_bucket", {"Bucket": "nobucket"}, "NoSuchBucket"),
        ("delete_object", {"Bucket": "nobucket", "Key": "k"}, "NoSuchBucket"),
    ],
)
def test_errors_are_s3s(
    services: Services, operation: str, request_: dict[str, Any], code: str
) -> None:
    assert error_code(getattr(services.s3, operation), **request_) == code


def test_buckets_are_listed_and_deleted_only_when_empty(services: Services) -> None:
    services.s3.create_bucket(Bucket="other")
    names = [b["Name"] for b in services.s3.list_buckets()["Buckets"]]
    assert names == ["data", "other"]
    assert services.s3.head_bucket(Bucket="other")["BucketRegion"] == "us-east-1"
    put(services, "x")
    assert error_code(services.s3.delete_bucket, Bucket="data") == "BucketNotEmpty"
    services.s3.delete_object(Bucket="data", Key="x")
    services.s3.delete_bucket(Bucket="data")
    assert [b["Name"] for b in services.s3.list_buckets()["Buckets"]] == ["other"]


def keys(answer: dict[str, Any]) -> list[str]:
    return [item["Key"] for item in answer.get("Contents", [])]


@pytest.mark.parametrize(
    ("request_", "contents", "prefixes"),
    [
        ({}, ["a/1", "a/2", "a/b/3", "c"], []),
        ({"Prefix": "a/"}, ["a/1", "a/2", "a/b/3"], []),
        ({"Delimiter": "/"}, ["c"], ["a/"]),
        ({"Prefix": "a/", "Delimiter": "/"}, ["a/1", "a/2"], ["a/b/"]),
        ({"StartAfter": "a/2"}, ["a/b/3", "c"], []),
    ],
)
def test_list_objects_v2_prefix_and_delimiter(
    services: Services, request_: dict[str, Any], contents: list[str], prefixes: list[str]
) -> None:
    put(services, "c", "a/2", "a/1", "a/b/3")
    answer = services.s3.list_objects_v2(Bucket="data", **request_)
    assert keys(answer) == contents
    assert [p["Prefix"] for p in answer.get("CommonPrefixes", [])] == prefixes
    assert answer["KeyCount"] == len(contents) + len(prefixes)
    assert answer["IsTruncated"] is False


def test_list_objects_v2_pages_with_continuation_tokens(services: Services) -> None:
    put(services, *(f"k{i:02}" for i in range(7)))
    seen, token = [], None
    pages = 0
    while True:
        request: dict[str, Any] = {"Bucket": "data", "MaxKeys": 3}
        if token:
            request["ContinuationToken"] = token
        answer = services.s3.list_objects_v2(**request)
        pages += 1
        seen += keys(answer)
        if not answer["IsTruncated"]:
            break
        token = answer["NextContinuationToken"]
        assert answer["KeyCount"] == 3
    assert seen == [f"k{i:02}" for i in range(7)] and pages == 3


def test_common_prefixes_page_too(services: Services) -> None:
    put(services, "a/1", "a/2", "b/1", "c")
    first = services.s3.list_objects_v2(Bucket="data", Delimiter="/", MaxKeys=1)
    assert [p["Prefix"] for p in first["CommonPrefixes"]] == ["a/"]
    second = services.s3.list_objects_v2(
        Bucket="data", Delimiter="/", ContinuationToken=first["NextContinuationToken"]
    )
    assert [p["Prefix"] for p in second["CommonPrefixes"]] == ["b/"]
    assert keys(second) == ["c"]


def test_objects_survive_a_reopened_sqlite_store(tmp_path: Path) -> None:
    path = str(tmp_path / "s3.db")
    store = open_sqlite(path)
    Services(store).s3.create_bucket(Bucket="kept")
    Services(store).s3.put_object(Bucket="kept", Key="k", Body=b"durable")
    store.close()
    again = open_sqlite(path)
    try:
        assert Services(again).s3.get_object(Bucket="kept", Key="k")["Body"].read() == b"durable"
    finally:
        again.close()


MIB = 1024 * 1024


def documents_under(services: Services, prefix: str) -> list[str]:
    with services.store.documents("s3") as documents:
        return [key for key, _ in documents.scan(prefix)]


def test_a_body_is_kept_in_chunks_and_replaced_whole(services: Services) -> None:
    body = b"x" * (2 * MIB + 1)
    services.s3.put_object(Bucket="data", Key="k", Body=body)
    assert len(documents_under(services, "chunk/")) == 3
    services.s3.put_object(Bucket="data", Key="k", Body=b"small")
    assert len(documents_under(services, "chunk/")) == 1  # the old chunks went with it
    services.s3.delete_object(Bucket="data", Key="k")
    assert documents_under(services, "chunk/") == []


def test_a_read_fails_rather_than_mix_two_bodies(services: Services) -> None:
    services.s3.put_object(Bucket="data", Key="k", Body=b"a" * (2 * MIB))
    read = services.s3.open_object({"Bucket": "data", "Key": "k"})
    assert read.first == b"a" * MIB
    services.s3.put_object(Bucket="data", Key="k", Body=b"b" * (2 * MIB))
    with pytest.raises(ServiceError, match="changed while it was being read"):
        next(read.rest)


def test_an_abandoned_upload_is_swept_by_a_later_one(services: Services) -> None:
    writer = services.s3.begin_put("data", "k")
    writer.write(b"x" * (MIB + 5))  # one chunk in the store, never published
    assert len(documents_under(services, "chunk/")) == 1
    assert documents_under(services, "pending/") == [f"pending/{writer.id}"]
    clock = services.clock
    assert isinstance(clock, Clock)
    clock.now += 3601
    services.s3.put_object(Bucket="data", Key="other", Body=b"y" * (MIB + 1))
    assert documents_under(services, "pending/") == []
    assert len(documents_under(services, "chunk/")) == 2  # "other"'s two chunks only


def test_an_object_written_before_chunking_is_still_read_and_deleted(services: Services) -> None:
    meta = {"ContentType": "text/plain", "ETag": '"e"', "LastModified": 1.0, "Size": 6}
    with services.store.documents("s3") as documents:
        documents.put("meta/data/old", orjson.dumps(meta))
        documents.put("body/data/old", b"legacy")
    ranged = services.s3.get_object(Bucket="data", Key="old", Range="bytes=1-3")
    assert ranged["Body"].read() == b"ega"
    services.s3.put_object(Bucket="data", Key="old", Body=b"new")
    assert documents_under(services, "body/") == []


def test_json_ready_turns_bytes_and_dates_into_text() -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert json_ready({"a": [b"x", when]}) == {"a": ["x", "2024-01-02T03:04:05Z"]}


def task(resource: str, parameters: dict[str, Any], end: bool = True) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Task", "Resource": resource, "Parameters": parameters}
    return {**state, "End": True} if end else state


def test_s3_tasks_put_get_and_list(services: Services) -> None:
    definition = {
        "StartAt": "Put",
        "States": {
            "Put": {
                **task(
                    "arn:aws:states:::s3:putObject",
                    {"Bucket": "data", "Key": "out/r.json", "Body.$": "$"},
                    end=False,
                ),
                "ResultPath": None,
                "Next": "Get",
            },
            "Get": {
                **task(
                    "arn:aws:states:::aws-sdk:s3:getObject",
                    {"Bucket": "data", "Key": "out/r.json"},
                    end=False,
                ),
                "ResultSelector": {"Body.$": "$.Body", "Type.$": "$.ContentType"},
                "ResultPath": "$.got",
                "Next": "List",
            },
            "List": {
                **task("arn:aws:states:::aws-sdk:s3:listObjectsV2", {"Bucket": "data"}),
                "ResultSelector": {"Keys.$": "$.Contents[*].Key"},
                "ResultPath": "$.listed",
            },
        },
    }
    result = stepwell.run(definition, {"n": 1}, services=services)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["got"] == {"Body": '{"n":1}', "Type": "binary/octet-stream"}
    assert result.output["listed"] == {"Keys": ["out/r.json"]}


@pytest.mark.parametrize(
    ("resource", "error"),
    [
        ("arn:aws:states:::aws-sdk:s3:getObject", "S3.NoSuchKeyException"),
        ("arn:aws:states:::s3:getObject", "S3.NoSuchKeyException"),
    ],
)
def test_s3_task_errors_are_named_for_the_sdk(
    services: Services, resource: str, error: str
) -> None:
    definition = {
        "StartAt": "Get",
        "States": {"Get": task(resource, {"Bucket": "data", "Key": "nope"})},
    }
    result = stepwell.run(definition, services=services)
    assert result.status == "FAILED"
    assert result.error == error
    assert result.cause is not None and result.cause.startswith("The specified key does not exist.")


def test_with_s3_forwarded_the_item_reader_and_writer_use_the_endpoint() -> None:
    """Forwarding configured for s3: a Distributed Map reads and writes real S3 (here a
    stand-in answering S3's REST API) instead of the embedded buckets."""
    from integration_helpers import Received, Reply, local_server

    from stepwell.integrations.forwarding import ForwardConfig

    def s3_endpoint(received: Received) -> Reply:
        if received.method == "GET" and received.path.startswith("/data/in.json"):
            return 200, {"Content-Type": "application/json"}, b"[1, 2]"
        return 200, {"ETag": '"abc"'}, b""

    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "Parameters": {"Bucket": "data", "Key": "in.json"},
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "P",
                    "States": {"P": {"Type": "Pass", "End": True}},
                },
                "ResultWriter": {
                    "Resource": "arn:aws:states:::s3:putObject",
                    "Parameters": {"Bucket": "data", "Prefix": "out"},
                },
                "End": True,
            }
        },
    }
    with local_server(s3_endpoint) as server:
        forward = ForwardConfig(
            endpoint_url=server.url,
            services=frozenset({"s3"}),
            access_key_id="AKIDEXAMPLE",
            secret_access_key="secret",
        )
        result = stepwell.run(definition, forward=forward)
        assert result.status == "SUCCEEDED", result.cause
        puts = [r.path for r in server.requests if r.method == "PUT"]
    assert any(path.endswith("/SUCCEEDED_0.json") for path in puts)
    assert any(path.endswith("/manifest.json") for path in puts)
    manifest_key = result.output["ResultWriterDetails"]["Key"]
    assert manifest_key.startswith("out/") and manifest_key.endswith("/manifest.json")
