"""The S3 REST API through boto3, the AWS CLI and plain HTTP against a real Stepwell
(issue 11). Sources: Amazon S3 API Reference ("PutObject", "GetObject" with "Range",
"HeadObject", "CopyObject", "DeleteObjects", "ListObjectsV2", "CreateBucket",
"DeleteBucket", "Error responses", "Virtual hosting of buckets"), RFC 9110 §14 (ranges,
206, 416), and the Step Functions Developer Guide ("ItemReader", "ResultWriter")."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from stepwell.service.settings import Settings
from stepwell.testing import LocalStepwell, local_stepwell
from tests.conftest import POSTGRES_URL, SKIP_POSTGRES
from tests.e2e.server import aws_cli, service_client

BIG = bytes(range(256)) * (10 * 1024 + 7)  # 2.5 MiB: three chunks of the store
ROLE = "arn:aws:iam::123456789012:role/stepwell"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def sw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStepwell]:
    folder = tmp_path_factory.mktemp("s3api")
    with local_stepwell(Settings(db=str(folder / "stepwell.db"), workers=1)) as running:
        yield running


@pytest.fixture
def s3(sw: LocalStepwell) -> Any:
    return service_client(sw.url, "s3")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def code_of(call: Any, **request: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call(**request)
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def to_loopback(request: Any, **_: Any) -> None:
    """Send a virtual-host request (``b.localhost``) to 127.0.0.1, keeping its Host:
    ``*.localhost`` need not resolve on the test machine."""
    parts = urlsplit(request.url)
    request.headers["Host"] = parts.netloc
    request.url = urlunsplit(parts._replace(netloc=f"127.0.0.1:{parts.port}"))


def virtual_client(url: str, **config: Any) -> Any:
    client = boto3.client(
        "s3",
        endpoint_url=url.replace("127.0.0.1", "localhost"),
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(s3={"addressing_style": "virtual"}, retries={"max_attempts": 1}, **config),
    )
    client.meta.events.register("before-send.s3", to_loopback)
    return client


# --- buckets ---------------------------------------------------------------------------------


def test_bucket_lifecycle(s3: Any) -> None:
    name = f"life-{uuid.uuid4().hex[:8]}"
    created = s3.create_bucket(Bucket=name)
    assert created["Location"] == f"/{name}"
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert code_of(s3.create_bucket, Bucket=name) == ("BucketAlreadyOwnedByYou", 409)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    assert code_of(s3.delete_bucket, Bucket=name) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=name, Key="k")
    assert s3.delete_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert code_of(s3.head_bucket, Bucket=name) == ("404", 404)  # HEAD answers carry no body
    assert code_of(s3.list_objects_v2, Bucket=name) == ("NoSuchBucket", 404)
    assert code_of(s3.create_bucket, Bucket="Bad_Name") == ("InvalidBucketName", 400)


# --- objects ---------------------------------------------------------------------------------


def test_an_object_round_trips_with_its_type_metadata_and_etag(s3: Any, bucket: str) -> None:
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/report 1+1.json",
        Body=b'{"a": 1}',
        ContentType="application/json",
        ContentDisposition="attachment",
        Metadata={"owner": "ada", "run": "7"},
    )
    assert put["ETag"] == '"' + hashlib.md5(b'{"a": 1}').hexdigest() + '"'
    got = s3.get_object(Bucket=bucket, Key="dir/report 1+1.json")
    assert got["Body"].read() == b'{"a": 1}'
    assert got["ContentType"] == "application/json"
    assert got["ContentDisposition"] == "attachment"
    assert got["Metadata"] == {"owner": "ada", "run": "7"}
    assert (got["ETag"], got["ContentLength"], got["AcceptRanges"]) == (put["ETag"], 8, "bytes")
    head = s3.head_object(Bucket=bucket, Key="dir/report 1+1.json")
    assert (head["ContentLength"], head["ETag"]) == (8, put["ETag"])
    assert head["LastModified"] == got["LastModified"]
    assert s3.get_object(Bucket=bucket, Key="dir/report 1+1.json")["Body"].read() == b'{"a": 1}'


def test_a_default_content_type_and_an_empty_body(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="empty")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert (got["Body"].read(), got["ContentType"]) == (b"", "binary/octet-stream")


def test_a_large_object_spans_chunks_and_ranges_cross_them(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="big", Body=BIG)
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == BIG
    start, end = 1024 * 1024 - 5, 2 * 1024 * 1024 + 5  # across two chunk boundaries
    got = s3.get_object(Bucket=bucket, Key="big", Range=f"bytes={start}-{end}")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == f"bytes {start}-{end}/{len(BIG)}"
    assert got["Body"].read() == BIG[start : end + 1]


@pytest.mark.parametrize(
    ("header", "status", "body", "content_range"),
    [
        ("bytes=2-4", 206, b"234", "bytes 2-4/10"),
        ("bytes=7-", 206, b"789", "bytes 7-9/10"),
        ("bytes=-3", 206, b"789", "bytes 7-9/10"),
        ("bytes=8-100", 206, b"89", "bytes 8-9/10"),
        ("bytes=5-2", 200, b"0123456789", None),  # not a valid range: ignored (RFC 9110)
        ("items=1-2", 200, b"0123456789", None),
    ],
)
def test_ranges(
    s3: Any, bucket: str, header: str, status: int, body: bytes, content_range: str | None
) -> None:
    s3.put_object(Bucket=bucket, Key="digits", Body=b"0123456789")
    got = s3.get_object(Bucket=bucket, Key="digits", Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == status
    assert got["Body"].read() == body
    assert got["ContentLength"] == len(body)
    assert got.get("ContentRange") == content_range


def test_a_range_past_the_end_is_invalid_range(sw: LocalStepwell, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="digits", Body=b"0123456789")
    assert code_of(s3.get_object, Bucket=bucket, Key="digits", Range="bytes=10-") == (
        "InvalidRange",
        416,
    )
    reply = httpx.get(f"{sw.url}/{bucket}/digits", headers={"Range": "bytes=20-30"})
    assert reply.status_code == 416
    assert "<ActualObjectSize>10</ActualObjectSize>" in reply.text


def test_conditional_reads_and_writes(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"one", IfNoneMatch="*")["ETag"]
    assert code_of(s3.put_object, Bucket=bucket, Key="c", Body=b"two", IfNoneMatch="*") == (
        "PreconditionFailed",
        412,
    )
    assert code_of(s3.put_object, Bucket=bucket, Key="c", Body=b"two", IfMatch='"0"') == (
        "PreconditionFailed",
        412,
    )
    assert code_of(s3.put_object, Bucket=bucket, Key="nope", Body=b"x", IfMatch=etag) == (
        "NoSuchKey",
        404,
    )
    replaced = s3.put_object(Bucket=bucket, Key="c", Body=b"two", IfMatch=etag)["ETag"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=replaced)["Body"].read() == b"two"
    assert code_of(s3.get_object, Bucket=bucket, Key="c", IfMatch=etag) == (
        "PreconditionFailed",
        412,
    )
    assert code_of(s3.get_object, Bucket=bucket, Key="c", IfNoneMatch=replaced) == ("304", 304)
    assert code_of(s3.head_object, Bucket=bucket, Key="c", IfNoneMatch="*") == ("304", 304)
    assert s3.head_object(Bucket=bucket, Key="c", IfNoneMatch=etag)["ETag"] == replaced


def test_a_presigned_link_with_response_headers(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b\n", ContentType="text/csv")
    link = s3.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": "report.csv",
            "ResponseContentDisposition": "attachment; filename=r.csv",
        },
    )
    reply = httpx.get(link)
    assert (reply.status_code, reply.content) == (200, b"a,b\n")
    assert reply.headers["content-disposition"] == "attachment; filename=r.csv"
    assert reply.headers["content-type"] == "text/csv"
    assert s3.head_object(Bucket=bucket, Key="report.csv").get("ContentDisposition") is None


def test_missing_objects_and_buckets(s3: Any, bucket: str) -> None:
    assert code_of(s3.get_object, Bucket=bucket, Key="nope") == ("NoSuchKey", 404)
    assert code_of(s3.head_object, Bucket=bucket, Key="nope") == ("404", 404)
    assert code_of(s3.get_object, Bucket="no-such-bucket-here", Key="k") == ("NoSuchBucket", 404)
    assert code_of(s3.put_object, Bucket="no-such-bucket-here", Key="k", Body=b"") == (
        "NoSuchBucket",
        404,
    )


def test_error_bodies_are_s3_xml(sw: LocalStepwell, bucket: str) -> None:
    reply = httpx.get(f"{sw.url}/{bucket}/a/missing%20key")
    assert reply.status_code == 404
    assert reply.headers["content-type"] == "application/xml"
    assert reply.text.startswith('<?xml version="1.0" encoding="UTF-8"?><Error>')
    assert "<Code>NoSuchKey</Code>" in reply.text and "<Key>a/missing key</Key>" in reply.text
    assert f"<RequestId>{reply.headers['x-amz-request-id']}</RequestId>" in reply.text


def test_delete_object_and_delete_objects(s3: Any, bucket: str) -> None:
    for key in ("a", "b", "c", "d"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert s3.delete_object(Bucket=bucket, Key="a")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_object(Bucket=bucket, Key="a")["ResponseMetadata"]["HTTPStatusCode"] == 204
    deleted = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "b"}, {"Key": "c"}, {"Key": "zzz"}]}
    )
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["b", "c", "zzz"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "d"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_copy_object(s3: Any, bucket: str) -> None:
    s3.put_object(
        Bucket=bucket, Key="src/a b", Body=BIG, ContentType="text/csv", Metadata={"m": "1"}
    )
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src/a b")
    etag = '"' + hashlib.md5(BIG).hexdigest() + '"'
    assert copied["CopyObjectResult"]["ETag"] == etag
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert (got["Body"].read(), got["ContentType"], got["Metadata"]) == (
        BIG,
        "text/csv",
        {"m": "1"},
    )
    s3.copy_object(
        Bucket=bucket,
        Key="dst",
        CopySource={"Bucket": bucket, "Key": "src/a b"},
        MetadataDirective="REPLACE",
        ContentType="text/plain",
        Metadata={"n": "2"},
    )
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert (head["ContentType"], head["Metadata"]) == ("text/plain", {"n": "2"})
    assert code_of(s3.copy_object, Bucket=bucket, Key="dst", CopySource=f"{bucket}/dst") == (
        "InvalidRequest",
        400,
    )
    assert code_of(s3.copy_object, Bucket=bucket, Key="x", CopySource=f"{bucket}/nope") == (
        "NoSuchKey",
        404,
    )


# --- multipart uploads -----------------------------------------------------------------------


def test_boto3_sends_a_large_file_in_parts(s3: Any, bucket: str) -> None:
    data = BIG * 5  # 12.5 MiB: over boto3's 8 MiB multipart threshold
    s3.upload_fileobj(io.BytesIO(data), bucket, "large")
    head = s3.head_object(Bucket=bucket, Key="large")
    assert head["ContentLength"] == len(data)
    digests = [hashlib.md5(data[: 8 * MIB]).digest(), hashlib.md5(data[8 * MIB :]).digest()]
    assert head["ETag"] == '"' + hashlib.md5(b"".join(digests)).hexdigest() + '-2"'
    assert s3.get_object(Bucket=bucket, Key="large")["Body"].read() == data
    ranged = s3.get_object(Bucket=bucket, Key="large", Range=f"bytes={8 * MIB - 3}-{8 * MIB + 2}")
    assert ranged["Body"].read() == data[8 * MIB - 3 : 8 * MIB + 3]  # across the two parts
    downloaded = io.BytesIO()
    s3.download_fileobj(bucket, "large", downloaded)  # ranged GETs in parallel
    assert downloaded.getvalue() == data
    s3.copy({"Bucket": bucket, "Key": "large"}, bucket, "large-copy")  # UploadPartCopy
    assert s3.get_object(Bucket=bucket, Key="large-copy")["Body"].read() == data


def test_multipart_rules(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ContentType="text/csv")
    upload_id = upload["UploadId"]
    first = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"a")
    second = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=2, Body=b"b")
    parts = [{"PartNumber": 1, "ETag": first["ETag"]}, {"PartNumber": 2, "ETag": second["ETag"]}]

    def complete(listed: list[dict[str, Any]]) -> tuple[str, int]:
        return code_of(
            s3.complete_multipart_upload,
            Bucket=bucket,
            Key="mp",
            UploadId=upload_id,
            MultipartUpload={"Parts": listed},
        )

    assert complete(parts) == ("EntityTooSmall", 400)  # every part but the last >= 5 MiB
    assert complete(parts[::-1]) == ("InvalidPartOrder", 400)
    assert complete([{"PartNumber": 1, "ETag": '"0"'}]) == ("InvalidPart", 400)
    assert complete([{"PartNumber": 3, "ETag": first["ETag"]}]) == ("InvalidPart", 400)
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": parts[:1]}
    )
    assert done["ETag"] == '"' + hashlib.md5(hashlib.md5(b"a").digest()).hexdigest() + '-1"'
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert (got["Body"].read(), got["ContentType"]) == (b"a", "text/csv")
    assert code_of(s3.abort_multipart_upload, Bucket=bucket, Key="mp", UploadId=upload_id) == (
        "NoSuchUpload",
        404,
    )
    aborted = s3.create_multipart_upload(Bucket=bucket, Key="gone")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="gone", UploadId=aborted, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=aborted)
    assert code_of(
        s3.upload_part, Bucket=bucket, Key="gone", UploadId=aborted, PartNumber=1, Body=b"y"
    ) == ("NoSuchUpload", 404)
    assert code_of(s3.get_object, Bucket=bucket, Key="gone") == ("NoSuchKey", 404)


# --- listings --------------------------------------------------------------------------------


def test_prefix_and_delimiter_give_common_prefixes(s3: Any, bucket: str) -> None:
    for key in ("a/1", "a/2", "b/1", "c", "a b/1", "50%+/x"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    listed = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["50%+/", "a b/", "a/", "b/"]
    assert [o["Key"] for o in listed["Contents"]] == ["c"]
    assert listed["KeyCount"] == 5
    under = s3.list_objects_v2(Bucket=bucket, Prefix="a/")
    assert [o["Key"] for o in under["Contents"]] == ["a/1", "a/2"]
    assert under["Prefix"] == "a/"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, StartAfter="a/2")["Contents"]] == [
        "b/1",
        "c",
    ]


def test_pagination_with_continuation_tokens(s3: Any, bucket: str) -> None:
    keys = [f"k{i:03d}" for i in range(25)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    first = s3.list_objects_v2(Bucket=bucket, MaxKeys=10)
    assert first["IsTruncated"] and first["KeyCount"] == 10
    second = s3.list_objects_v2(
        Bucket=bucket, MaxKeys=10, ContinuationToken=first["NextContinuationToken"]
    )
    assert [o["Key"] for o in second["Contents"]] == keys[10:20]
    assert second["ContinuationToken"] == first["NextContinuationToken"]
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 7}
    )
    assert [o["Key"] for page in pages for o in page["Contents"]] == keys
    version1 = s3.get_paginator("list_objects").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 7}
    )
    assert [o["Key"] for page in version1 for o in page["Contents"]] == keys
    assert code_of(s3.list_objects_v2, Bucket=bucket, ContinuationToken="%%%") == (
        "InvalidArgument",
        400,
    )


# --- addressing and routing ------------------------------------------------------------------


def test_virtual_host_style(sw: LocalStepwell, s3: Any, bucket: str) -> None:
    virtual = virtual_client(sw.url)
    virtual.put_object(Bucket=bucket, Key="v/k", Body=b"virtual")
    assert s3.get_object(Bucket=bucket, Key="v/k")["Body"].read() == b"virtual"
    assert virtual.get_object(Bucket=bucket, Key="v/k", Range="bytes=1-3")["Body"].read() == b"irt"
    assert [o["Key"] for o in virtual.list_objects_v2(Bucket=bucket)["Contents"]] == ["v/k"]
    port = urlsplit(sw.url).port
    for host in (f"{bucket}.localhost:{port}", f"{bucket}.s3.localhost:{port}"):
        reply = httpx.get(f"{sw.url}/v/k", headers={"Host": host})
        assert (reply.status_code, reply.content) == (200, b"virtual")


def test_virtual_hosts_do_not_open_the_host_allow_list(sw: LocalStepwell, bucket: str) -> None:
    port = urlsplit(sw.url).port
    for host in (f"{bucket}.evil.example", f"{bucket}.localhost.evil.example", "a_b.localhost"):
        reply = httpx.get(f"{sw.url}/v/k", headers={"Host": f"{host}:{port}"})
        assert reply.status_code == 403, host


def test_step_functions_and_the_other_apis_keep_their_routes(sw: LocalStepwell, s3: Any) -> None:
    assert "stateMachines" in sw.client().list_state_machines()
    sqs = service_client(sw.url, "sqs")
    url = sqs.create_queue(QueueName="beside-s3")["QueueUrl"]
    assert url in sqs.list_queues()["QueueUrls"]
    assert httpx.get(f"{sw.url}/health").status_code == 200
    assert httpx.get(f"{sw.url}/console").status_code == 200
    assert "Buckets" in s3.list_buckets()  # unsigned GET / is S3's ListBuckets
    reply = httpx.get(sw.url + "/")
    assert reply.status_code == 200 and "<ListAllMyBucketsResult" in reply.text


def test_unimplemented_operations_and_methods(sw: LocalStepwell, bucket: str) -> None:
    reply = httpx.get(f"{sw.url}/{bucket}?acl")
    assert reply.status_code == 501 and "<Code>NotImplemented</Code>" in reply.text
    assert "GetBucketAcl" in reply.text
    reply = httpx.request("PATCH", f"{sw.url}/{bucket}/k")
    assert reply.status_code == 405 and "<Code>MethodNotAllowed</Code>" in reply.text


# --- durability, the AWS CLI, Step Functions -------------------------------------------------


def test_the_object_size_limit_is_a_setting(tmp_path: Path) -> None:
    settings = Settings(db=str(tmp_path / "stepwell.db"), workers=0, max_object_bytes=1000)
    with local_stepwell(settings) as small:
        s3 = service_client(small.url, "s3")
        s3.create_bucket(Bucket="capped")
        s3.put_object(Bucket="capped", Key="fits", Body=b"x" * 1000)
        assert code_of(s3.put_object, Bucket="capped", Key="big", Body=b"x" * 1001) == (
            "EntityTooLarge",
            400,
        )


def test_objects_survive_a_restart(tmp_path: Path) -> None:
    settings = Settings(db=str(tmp_path / "stepwell.db"), workers=0)
    with local_stepwell(settings) as first:
        s3 = service_client(first.url, "s3")
        s3.create_bucket(Bucket="keep")
        s3.put_object(Bucket="keep", Key="big", Body=BIG, Metadata={"a": "b"})
        s3.put_object(Bucket="keep", Key="old", Body=b"old")
        s3.put_object(Bucket="keep", Key="old", Body=b"new")  # the old body is deleted
    with local_stepwell(settings) as second:
        s3 = service_client(second.url, "s3")
        got = s3.get_object(Bucket="keep", Key="big")
        assert (got["Body"].read(), got["Metadata"]) == (BIG, {"a": "b"})
        assert s3.get_object(Bucket="keep", Key="old")["Body"].read() == b"new"
        stored = second.host.store
        with stored.documents("s3") as documents:
            chunks = [key for key, _ in documents.scan("chunk/")]
        assert len(chunks) == 3 + 1  # BIG's three chunks and "old"'s one: nothing left over


@pytest.mark.skipif(not POSTGRES_URL, reason=SKIP_POSTGRES)
def test_objects_on_postgresql(tmp_path: Path) -> None:
    from stepwell.store.postgres import PostgresDialect

    schema = f"s3api_{uuid.uuid4().hex[:12]}"
    settings = Settings(db=f"{POSTGRES_URL}?schema={schema}", workers=0)
    try:
        with local_stepwell(settings) as first:
            s3 = service_client(first.url, "s3")
            s3.create_bucket(Bucket="pgbucket")
            s3.put_object(Bucket="pgbucket", Key="big", Body=BIG)
        with local_stepwell(settings) as second:
            s3 = service_client(second.url, "s3")
            assert s3.get_object(Bucket="pgbucket", Key="big")["Body"].read() == BIG
            ranged = s3.get_object(Bucket="pgbucket", Key="big", Range="bytes=1048570-1048580")
            assert ranged["Body"].read() == BIG[1048570:1048581]
    finally:
        PostgresDialect(POSTGRES_URL or "", schema).drop_schema()


def test_aws_cli_round_trip(sw: LocalStepwell, tmp_path: Path, bucket: str) -> None:
    source = tmp_path / "up.bin"
    data = BIG * 4  # 10 MiB: the CLI sends it in parts
    source.write_bytes(data)
    aws_cli_text(sw.url, tmp_path, "s3", "cp", str(source), f"s3://{bucket}/cli/up.bin")
    listed = aws_cli(sw.url, tmp_path, "s3api", "list-objects-v2", "--bucket", bucket)
    assert [(o["Key"], o["Size"]) for o in listed["Contents"]] == [("cli/up.bin", len(data))]
    target = tmp_path / "down.bin"
    aws_cli_text(sw.url, tmp_path, "s3", "cp", f"s3://{bucket}/cli/up.bin", str(target))
    assert target.read_bytes() == data
    text = aws_cli_text(sw.url, tmp_path, "s3", "ls", f"s3://{bucket}/cli/")
    assert "up.bin" in text and str(len(data)) in text
    aws_cli_text(sw.url, tmp_path, "s3", "cp", f"s3://{bucket}/cli/up.bin", f"s3://{bucket}/c2")
    copied = aws_cli(sw.url, tmp_path, "s3api", "head-object", "--bucket", bucket, "--key", "c2")
    assert copied["ContentLength"] == len(data)


def aws_cli_text(url: str, folder: Path, *arguments: str) -> str:
    """``aws s3 cp`` and ``aws s3 ls`` print text, not JSON."""
    import os
    import subprocess
    import sys

    environment = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(folder / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(folder / "no-credentials"),
        "HOME": str(folder),
    }
    completed = subprocess.run(
        [sys.executable, "-m", "awscli", *arguments, "--endpoint-url", url],
        env=environment, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_a_distributed_map_reads_and_writes_the_api_s_buckets(tmp_path: Path) -> None:
    settings = Settings(db=str(tmp_path / "stepwell.db"), workers=1, invokers=2)
    functions = {"double": lambda event: {"n": event["n"] * 2}}
    with local_stepwell(settings, functions=functions, virtual_time=True) as sw:
        s3 = service_client(sw.url, "s3")
        s3.create_bucket(Bucket="maps")
        items = [{"n": n} for n in range(5)]
        s3.put_object(Bucket="maps", Key="in/items.json", Body=json.dumps(items).encode())
        definition = {
            "StartAt": "M",
            "States": {
                "M": {
                    "Type": "Map",
                    "ItemReader": {
                        "Resource": "arn:aws:states:::s3:getObject",
                        "ReaderConfig": {"InputType": "JSON"},
                        "Parameters": {"Bucket": "maps", "Key": "in/items.json"},
                    },
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                        "StartAt": "T",
                        "States": {
                            "T": {
                                "Type": "Task",
                                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double",
                                "End": True,
                            }
                        },
                    },
                    "ResultWriter": {
                        "Resource": "arn:aws:states:::s3:putObject",
                        "Parameters": {"Bucket": "maps", "Prefix": "out"},
                    },
                    "End": True,
                }
            },
        }
        sfn = sw.client()
        machine = sfn.create_state_machine(
            name="s3-map", definition=json.dumps(definition), roleArn=ROLE
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        for _ in range(50):
            sw.settle()
            described = sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING":
                break
        assert described["status"] == "SUCCEEDED", described
        manifest_key = json.loads(described["output"])["ResultWriterDetails"]["Key"]
        manifest = json.loads(s3.get_object(Bucket="maps", Key=manifest_key)["Body"].read())
        [written] = manifest["ResultFiles"]["SUCCEEDED"]
        results = json.loads(s3.get_object(Bucket="maps", Key=written["Key"])["Body"].read())
        assert sorted(json.loads(r["Output"])["n"] for r in results) == [0, 2, 4, 6, 8]
        listed = s3.list_objects_v2(Bucket="maps", Prefix="out/")
        assert manifest_key in [o["Key"] for o in listed["Contents"]]
