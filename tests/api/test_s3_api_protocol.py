"""The S3 endpoint's protocol details, in-process: aws-chunked bodies (as botocore encodes
them), digests, size limits, SigV4 for ``s3`` (the path signed as sent, the declared
payload hash, chunk signatures), and what reaches S3 at all. Sources: Amazon S3 API
Reference, "Signature Calculations for the Authorization Header: Transferring Payload in
Multiple Chunks", "Authenticating Requests: Using Query Parameters",
"Signature calculations for trailing headers", "Common Request Headers"
(Content-MD5, x-amz-content-sha256), "PutObject" (checksums), "Error responses"."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import time
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

from stepwell.api.app import create_app
from stepwell.api.aws_chunked import AwsChunkedDecoder, ChunkSignatures
from stepwell.api.limits import BytesInFlight
from stepwell.api.protocols.rest_xml import RestXmlError
from stepwell.api.s3 import S3Endpoint
from stepwell.api.settings import ApiSettings
from stepwell.app import server_app
from stepwell.integrations.services.s3 import byte_range, copy_source
from stepwell.integrations.services.s3_bodies import CHUNK_SIZE
from stepwell.service.host import Host
from stepwell.service.settings import Settings
from tests.api.api_helpers import AsgiClient, Reply, asgi_client

SECRET = "s3-secret"
HOST = "127.0.0.1:8083"


@pytest.fixture(scope="module")
def host() -> Iterator[Host]:
    host = Host(Settings(db="memory", workers=0))
    host.services.s3.call("CreateBucket", {"Bucket": "data"})
    yield host
    host.stop()


@pytest.fixture(scope="module")
def open_client(host: Host) -> Iterator[AsgiClient]:
    with asgi_client(create_app(host.service, ApiSettings(max_object_bytes=64))) as client:
        yield client


@pytest.fixture(scope="module")
def signed_client(host: Host) -> Iterator[AsgiClient]:
    settings = ApiSettings(credentials={"AKIDS3": SECRET})
    with asgi_client(create_app(host.service, settings)) as client:
        yield client


def code(reply: Reply) -> str:
    text = reply.body.decode()
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else ""


def stored(host: Host, key: str) -> bytes:
    body: bytes = host.services.s3.call("GetObject", {"Bucket": "data", "Key": key})["Body"]
    return body


# --- aws-chunked -----------------------------------------------------------------------------


def botocore_chunked(data: bytes, chunk_size: int = 5) -> tuple[bytes, str]:
    """A body as botocore encodes it with a trailing CRC32 (and that CRC32)."""
    wrapper = AwsChunkedWrapper(
        io.BytesIO(data),
        checksum_cls=Crc32Checksum,
        checksum_name="x-amz-checksum-crc32",
        chunk_size=chunk_size,
    )
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    return wrapper.read(), crc


def test_the_decoder_reads_botocore_s_encoding_fed_byte_by_byte() -> None:
    body, crc = botocore_chunked(b"hello, chunked world")
    decoder = AwsChunkedDecoder()
    out = b"".join(decoder.feed(body[i : i + 1]) for i in range(len(body)))
    decoder.finish()
    assert out == b"hello, chunked world"
    assert decoder.trailers == {"x-amz-checksum-crc32": crc}


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nhello\r\n0\r\n\r\n",  # a size that is not hex
        b"3\r\nhello\r\n0\r\n\r\n",  # a chunk longer than its size
        b"5\r\nhello\r\n0\r\nno-colon\r\n\r\n",  # a trailer without a value
        b"5\r\nhello\r\n0\r\n\r\nmore",  # bytes after the end
        b"5\r\nhe",  # the body ends early
        b"5" * 5000,  # a header line without end
        b"\xff\r\n",  # not ASCII
    ],
)
def test_malformed_chunked_bodies_are_incomplete_body(body: bytes) -> None:
    decoder = AwsChunkedDecoder()
    with pytest.raises(RestXmlError) as caught:
        decoder.feed(body)
        decoder.finish()
    assert caught.value.aws_type == "IncompleteBody"


def test_trailers_are_bounded_in_number_and_size() -> None:
    # Trailer lines are kept in memory: an endless trailer must not be.
    many = b"5\r\nhello\r\n0\r\n" + b"".join(b"x-%d:v\r\n" % i for i in range(17)) + b"\r\n"
    with pytest.raises(RestXmlError, match="trailers"):
        AwsChunkedDecoder().feed(many)
    decoder = AwsChunkedDecoder()
    decoder.feed(b"5\r\nhello\r\n0\r\n")
    with pytest.raises(RestXmlError, match="trailers"):
        for i in range(10_000):
            decoder.feed(b"x-%d:%s\r\n" % (i, b"v" * 2000))
    fine = b"5\r\nhello\r\n0\r\n" + b"".join(b"x-%d:v\r\n" % i for i in range(16)) + b"\r\n"
    decoder = AwsChunkedDecoder()
    assert decoder.feed(fine) == b"hello"
    decoder.finish()
    assert len(decoder.trailers) == 16


def test_a_chunked_upload_with_a_trailing_checksum(open_client: AsgiClient, host: Host) -> None:
    body, crc = botocore_chunked(b"0123456789abc")
    headers = {
        "content-encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": "13",
        "x-amz-trailer": "x-amz-checksum-crc32",
        "content-type": "text/plain",
    }
    reply = open_client.request("PUT", "/data/chunked", headers, body)
    assert reply.status == 200, reply.body
    assert stored(host, "chunked") == b"0123456789abc"
    got = host.services.s3.call("HeadObject", {"Bucket": "data", "Key": "chunked"})
    assert "ContentEncoding" not in got  # aws-chunked was how it travelled, not what it is
    assert got["ContentType"] == "text/plain"
    bad = body.replace(crc.encode(), b"AAAAAA==")
    assert code(open_client.request("PUT", "/data/chunked2", headers, bad)) == "BadDigest"
    short = {**headers, "x-amz-decoded-content-length": "12"}
    assert code(open_client.request("PUT", "/data/chunked3", short, body)) == "IncompleteBody"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"content-md5": base64.b64encode(hashlib.md5(b"abc").digest()).decode()}, ""),
        ({"content-md5": "AAAAAAAAAAAAAAAAAAAAAA=="}, "BadDigest"),
        ({"x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(b"abc").digest()).decode()}, ""),
        ({"x-amz-checksum-sha1": "AAAA"}, "BadDigest"),
        ({"x-amz-checksum-crc32c": "AAAAAA=="}, ""),  # accepted unchecked
        ({"x-amz-content-sha256": hashlib.sha256(b"abc").hexdigest()}, ""),
        ({"x-amz-content-sha256": "0" * 64}, "XAmzContentSHA256Mismatch"),
    ],
)
def test_digests_sent_with_a_body_are_checked(
    open_client: AsgiClient, host: Host, headers: dict[str, str], expected: str
) -> None:
    reply = open_client.request("PUT", "/data/digest", {**headers, "content-length": "3"}, b"abc")
    assert code(reply) == expected, reply.body
    if expected:
        assert reply.status == 400 and reply.headers["connection"] == "close"
    else:
        assert stored(host, "digest") == b"abc"


def test_objects_larger_than_the_limit_are_refused(open_client: AsgiClient) -> None:
    declared = open_client.request("PUT", "/data/big", {"content-length": "65"}, b"x" * 65)
    assert (declared.status, code(declared)) == (400, "EntityTooLarge")
    undeclared = open_client.request("PUT", "/data/big", {}, b"x" * 65)
    assert code(undeclared) == "EntityTooLarge"
    assert open_client.request("PUT", "/data/big", {}, b"x" * 64).status == 200


def test_a_client_that_goes_away_leaves_no_object(open_client: AsgiClient, host: Host) -> None:
    reply = open_client.request("PUT", "/data/gone", {}, b"part", complete=False)
    assert code(reply) == "IncompleteBody"
    with pytest.raises(Exception, match="NoSuchKey"):
        stored(host, "gone")


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "expected", "status"),
    [
        ("GET", "/data/%ff%fe", b"", b"", "InvalidURI", 400),
        ("POST", "/data", b"delete", b"<!DOCTYPE x><Delete/>", "MalformedXML", 400),
        ("POST", "/data", b"delete", b"<Delete><Object>", "MalformedXML", 400),
        (
            "POST",
            "/data",
            b"delete",
            b"<Delete><Quiet>maybe</Quiet></Delete>",
            "InvalidArgument",
            400,
        ),
        ("GET", "/data", b"list-type=2&max-keys=many", b"", "InvalidArgument", 400),
        ("PUT", "/data/k", b"partNumber=1&uploadId=nope", b"x", "NoSuchUpload", 404),
        ("PUT", "/data/" + "k" * 1025, b"", b"x", "KeyTooLongError", 400),
        ("GET", "/data", b"versioning", b"", "NotImplemented", 501),
    ],
)
def test_requests_s3_cannot_read(
    open_client: AsgiClient,
    method: str,
    path: str,
    query: bytes,
    body: bytes,
    expected: str,
    status: int,
) -> None:
    headers = {"content-md5": "AAAAAAAAAAAAAAAAAAAAAA=="} if query == b"delete" else {}
    reply = open_client.request(method, path, headers, body, query)
    assert (reply.status, code(reply)) == (status, expected), reply.body


def test_delete_objects_needs_content_md5_or_a_checksum(
    host: Host, open_client: AsgiClient
) -> None:
    # S3 API Reference, "DeleteObjects": Content-MD5 or x-amz-checksum-* is required; a
    # plain cross-site form post carries neither.
    host.services.s3.call("PutObject", {"Bucket": "data", "Key": "kept", "Body": b"x"})
    body = b"<Delete><Object><Key>kept</Key></Object></Delete>"
    reply = open_client.request("POST", "/data", {"content-type": "text/plain"}, body, b"delete")
    assert (reply.status, code(reply)) == (400, "InvalidRequest")
    assert b"Missing required header for this request: Content-MD5" in reply.body
    assert stored(host, "kept") == b"x"
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    reply = open_client.request("POST", "/data", {"x-amz-checksum-crc32": crc}, body, b"delete")
    assert reply.status == 200, reply.body
    with pytest.raises(Exception, match="NoSuchKey"):
        stored(host, "kept")


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site"},
        {"origin": "http://127.0.0.1:8083", "sec-fetch-site": "cross-site"},
    ],
)
def test_cross_site_browser_requests_do_not_reach_s3(
    host: Host, open_client: AsgiClient, headers: dict[str, str]
) -> None:
    # A page elsewhere may post text/plain to 127.0.0.1 without a CORS preflight.
    host.services.s3.call("PutObject", {"Bucket": "data", "Key": "victim", "Body": b"v"})
    md5 = base64.b64encode(hashlib.md5(b"<Delete/>").digest()).decode()
    sent = {"host": HOST, "content-type": "text/plain", "content-md5": md5, **headers}
    body = b"<Delete><Object><Key>victim</Key></Object></Delete>"
    reply = open_client.request("POST", "/data", sent, body, b"delete")
    assert reply.status == 403
    assert reply.json()["__type"] == "AccessDeniedException"
    assert open_client.request("PUT", "/data/victim", sent, b"evil").status == 403
    assert stored(host, "victim") == b"v"


def test_ranges_and_copy_sources_are_read_as_s3_reads_them() -> None:
    assert byte_range("bytes=0-0", 5) == (0, 0)
    assert byte_range("bytes=-10", 5) == (0, 4)
    assert byte_range("bytes=1-2,3-4", 5) is None  # several ranges: the whole object
    with pytest.raises(Exception, match="not satisfiable"):
        byte_range("bytes=-0", 5)
    assert copy_source("/b/a%20key?versionId=1") == ("b", "a key")
    with pytest.raises(Exception, match="Copy Source"):
        copy_source("just-a-bucket")


# --- SigV4 for s3 ----------------------------------------------------------------------------


class StreamingSigner(S3SigV4Auth):  # type: ignore[misc]
    """botocore's S3 signer with the payload declared as signed chunks."""

    def payload(self, request: Any) -> str:
        return "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"


def signed(
    method: str,
    path: str,
    body: bytes = b"",
    secret: str = SECRET,
    signer: type[S3SigV4Auth] = S3SigV4Auth,
    headers: dict[str, str] | None = None,
) -> dict[str, str]:
    request = AWSRequest(method=method, url=f"http://{HOST}{path}", data=body, headers=headers)
    signer(Credentials("AKIDS3", secret), "s3", "us-east-1").add_auth(request)
    return {name.lower(): str(value) for name, value in request.headers.items()} | {"host": HOST}


def chunk_signed_body(headers: dict[str, str], chunks: list[bytes], secret: str = SECRET) -> bytes:
    """Chunks signed as the S3 API Reference's chunked upload describes, from the seed."""
    amz_date = headers["x-amz-date"]
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    key = f"AWS4{secret}".encode()
    for part in (amz_date[:8], "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    previous = headers["authorization"].rsplit("Signature=", 1)[1]
    body = b""
    for chunk in [*chunks, b""]:
        to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                amz_date,
                scope,
                previous,
                hashlib.sha256(b"").hexdigest(),
                hashlib.sha256(chunk).hexdigest(),
            ]
        )
        previous = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        body += f"{len(chunk):x};chunk-signature={previous}\r\n".encode() + chunk + b"\r\n"
    return body


def test_signed_requests_are_served(signed_client: AsgiClient, host: Host) -> None:
    headers = signed("PUT", "/data/signed%20key", b"payload")
    reply = signed_client.request("PUT", "/data/signed%20key", headers, b"payload")
    assert reply.status == 200, reply.body
    assert stored(host, "signed key") == b"payload"
    reply = signed_client.request("GET", "/data/signed%20key", signed("GET", "/data/signed%20key"))
    assert (reply.status, reply.body) == (200, b"payload")


def test_signature_failures_are_s3_errors(signed_client: AsgiClient) -> None:
    wrong = signed("GET", "/data/x", secret="not-it")
    assert code(signed_client.request("GET", "/data/x", wrong)) == "SignatureDoesNotMatch"
    tampered = signed("PUT", "/data/x", b"abc")
    reply = signed_client.request("PUT", "/data/x", tampered, b"abd")
    assert code(reply) == "XAmzContentSHA256Mismatch"
    small = signed("POST", "/data?delete", b"<Delete/>")
    reply = signed_client.request("POST", "/data", small, b"<Delete></Delete>", b"delete")
    assert code(reply) == "XAmzContentSHA256Mismatch"
    missing = {k: v for k, v in signed("GET", "/data/x").items() if k != "x-amz-content-sha256"}
    assert code(signed_client.request("GET", "/data/x", missing)) == "InvalidRequest"
    unknown = signed("GET", "/data/x") | {
        "authorization": signed("GET", "/data/x")["authorization"].replace("AKIDS3", "AKIDNO")
    }
    reply = signed_client.request("GET", "/data/x", unknown)
    assert (reply.status, code(reply)) == (403, "InvalidAccessKeyId")


def test_unsigned_requests_are_not_s3_s_when_sigv4_is_on(signed_client: AsgiClient) -> None:
    reply = signed_client.request("GET", "/data/x", {"host": HOST})
    assert reply.status in (404, 405) and reply.json()["__type"] == "UnknownOperationException"


def test_chunk_signatures_are_checked(signed_client: AsgiClient, host: Host) -> None:
    extra = {"x-amz-decoded-content-length": "11", "content-encoding": "aws-chunked"}
    headers = signed("PUT", "/data/streamed", signer=StreamingSigner, headers=extra)
    body = chunk_signed_body(headers, [b"hello ", b"world"])
    reply = signed_client.request("PUT", "/data/streamed", headers, body)
    assert reply.status == 200, reply.body
    assert stored(host, "streamed") == b"hello world"
    forged = body.replace(b"world", b"WORLD")
    reply = signed_client.request("PUT", "/data/streamed2", headers, forged)
    assert (reply.status, code(reply)) == (403, "SignatureDoesNotMatch")


def test_chunk_signatures_chain_from_the_seed() -> None:
    signatures = ChunkSignatures(b"k" * 32, "20260102T030405Z", "scope", "seed")
    with pytest.raises(RestXmlError):
        signatures.check(hashlib.sha256(b"").hexdigest(), None)


# --- presigned URLs --------------------------------------------------------------------------


def presigned(method: str, params: dict[str, Any], expires: int = 60) -> tuple[str, bytes]:
    """Path and query of a URL presigned by boto3 for the signed client's credential."""
    client = boto3.client(
        "s3",
        endpoint_url=f"http://{HOST}",
        region_name="us-east-1",
        aws_access_key_id="AKIDS3",
        aws_secret_access_key=SECRET,
        config=Config(signature_version="s3v4"),  # boto3 presigns S3 with SigV2 otherwise
    )
    url = client.generate_presigned_url(method, Params=params, ExpiresIn=expires)
    parts = urlsplit(url)
    return parts.path, parts.query.encode()


def test_presigned_urls_are_verified(signed_client: AsgiClient, host: Host) -> None:
    path, query = presigned("put_object", {"Bucket": "data", "Key": "shared"})
    reply = signed_client.request("PUT", path, {"host": HOST}, b"via link", query)
    assert reply.status == 200, reply.body
    path, query = presigned("get_object", {"Bucket": "data", "Key": "shared"})
    reply = signed_client.request("GET", path, {"host": HOST}, b"", query)
    assert (reply.status, reply.body) == (200, b"via link")
    tampered = query.replace(b"X-Amz-Expires=60", b"X-Amz-Expires=61")
    reply = signed_client.request("GET", path, {"host": HOST}, b"", tampered)
    assert (reply.status, code(reply)) == (403, "SignatureDoesNotMatch")
    broken = query.replace(b"X-Amz-Expires=60", b"X-Amz-Expires=0")
    reply = signed_client.request("GET", path, {"host": HOST}, b"", broken)
    assert (reply.status, code(reply)) == (400, "AuthorizationQueryParametersError")


def test_an_expired_presigned_url_is_refused(host: Host) -> None:
    later = ApiSettings(credentials={"AKIDS3": SECRET}, clock=lambda: time.time() + 120)
    path, query = presigned("get_object", {"Bucket": "data", "Key": "shared"}, expires=60)
    with asgi_client(create_app(host.service, later)) as client:
        reply = client.request("GET", path, {"host": HOST}, b"", query)
    assert (reply.status, code(reply)) == (403, "AccessDenied")
    assert "expired" in reply.body.decode()


def test_non_ascii_metadata_goes_out_rfc2047_encoded(host: Host, open_client: AsgiClient) -> None:
    # A Task or s3.call may store metadata no HTTP header can carry raw; S3 answers
    # non-ASCII metadata as RFC 2047 encoded words (S3 User Guide, "Object metadata").
    request = {"Bucket": "data", "Key": "meta", "Body": b"m", "Metadata": {"who": "日本"}}
    host.services.s3.call("PutObject", request | {"ContentDisposition": "a\r\nx-evil: 1"})
    for method in ("GET", "HEAD"):
        reply = open_client.request(method, "/data/meta", {"host": HOST})
        assert reply.status == 200, reply.body
        assert reply.headers["x-amz-meta-who"] == "=?UTF-8?B?5pel5pys?="
        encoded = base64.b64decode(reply.headers["content-disposition"][10:-2])
        assert encoded == b"a\r\nx-evil: 1"
        assert "x-evil" not in reply.headers


@pytest.mark.parametrize(
    "query",
    [
        b"response-content-type=%E6%97%A5",
        b"response-content-disposition=attachment%0D%0Ax-evil:%201",
        b"response-cache-control=a%00b",
    ],
)
def test_response_overrides_no_header_can_carry_are_refused(
    open_client: AsgiClient, query: bytes
) -> None:
    host_headers = {"host": HOST}
    open_client.request("PUT", "/data/plain", host_headers, b"p")
    for method in ("GET", "HEAD"):
        reply = open_client.request(method, "/data/plain", host_headers, b"", query)
        assert reply.status == 400
    reply = open_client.request("GET", "/data/plain", host_headers, b"", query)
    assert code(reply) == "InvalidArgument"
    fine = b"response-content-type=text/csv"
    reply = open_client.request("GET", "/data/plain", host_headers, b"", fine)
    assert (reply.status, reply.headers["content-type"]) == (200, "text/csv")


@pytest.fixture(scope="module")
def server_client(host: Host) -> Iterator[AsgiClient]:
    with asgi_client(server_app(host.service, ApiSettings())) as client:
        yield client


def test_a_virtual_host_does_not_take_other_apis_requests(server_client: AsgiClient) -> None:
    # S3 User Guide, "Virtual hosting of buckets": the Host names the bucket; the other
    # APIs, the console and /health keep their requests on any allowed Host.
    virtual = {"host": "data.localhost:8083"}
    dynamodb = {
        **virtual,
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": "DynamoDB_20120810.ListTables",
    }
    reply = server_client.request("POST", "/", dynamodb, b"{}")
    assert (reply.status, "TableNames" in reply.json()) == (200, True)
    form = {**virtual, "content-type": "application/x-www-form-urlencoded"}
    reply = server_client.request("POST", "/", form, b"Action=ListQueues&Version=2012-11-05")
    assert reply.status == 200 and b"ListQueuesResponse" in reply.body
    assert server_client.request("GET", "/health", virtual).json()["status"] == "ok"
    console = server_client.request("GET", "/console", virtual)
    assert console.status == 200 and "html" in console.headers["content-type"]
    lambdas = server_client.request("GET", "/2015-03-31/functions/", virtual)
    assert lambdas.status == 200 and "Functions" in lambdas.json()
    server_client.request("PUT", "/gone", virtual, b"g")  # S3's still: a key of "data"
    body = b"<Delete><Object><Key>gone</Key></Object></Delete>"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    reply = server_client.request("POST", "/", {**virtual, "content-md5": md5}, body, b"delete")
    assert reply.status == 200 and b"<Deleted><Key>gone</Key>" in reply.body


@pytest.mark.parametrize("path", ["/console", "/health", "/console/api/machines"])
def test_another_route_s_path_with_another_method_is_not_a_bucket(
    host: Host, server_client: AsgiClient, path: str
) -> None:
    reply = server_client.request("PUT", path, {"host": HOST})
    assert reply.status == 405
    names = [b["Name"] for b in host.services.s3.call("ListBuckets", {})["Buckets"]]
    assert path.strip("/").split("/")[0] not in names
    listed = server_client.request("GET", "/", {"host": HOST})
    assert listed.status == 200 and b"<Name>data</Name>" in listed.body


def test_a_small_body_counts_in_the_budget_until_the_operation_answers(host: Host) -> None:
    # The bytes-in-flight budget bounds memory: a read body is held while S3 works on it.
    budget = BytesInFlight(1 << 20)
    seen: list[int] = []

    async def run(long_poll: bool, function: Any, *args: Any) -> Any:
        seen.append(budget.used)
        return function(*args)

    endpoint = S3Endpoint(host.service.embedded_apis, ApiSettings(), run, budget)
    body = b"<Delete><Object><Key>none</Key></Object></Delete>"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    with asgi_client(endpoint) as client:
        reply = client.request("POST", "/data", {"host": HOST, "content-md5": md5}, body, b"delete")
    assert reply.status == 200, reply.body
    assert (seen, budget.used) == ([len(body)], 0)


def test_an_object_deleted_while_streamed_cuts_the_stream_with_a_warning(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    # A later chunk is gone (s3_bodies: BodyChanged): no traceback, no mixed body; the
    # response stays incomplete so the server closes the connection.
    big = bytes(range(256)) * (CHUNK_SIZE // 256 * 2 + 1)
    host.services.s3.call("PutObject", {"Bucket": "data", "Key": "moving", "Body": big})
    backend = host.service.embedded_apis

    async def run(long_poll: bool, function: Any, *args: Any) -> Any:
        if function == backend.next_chunk:
            host.services.s3.call("DeleteObject", {"Bucket": "data", "Key": "moving"})
        return function(*args)

    endpoint = S3Endpoint(backend, ApiSettings(), run, BytesInFlight(1 << 30))
    with caplog.at_level("WARNING", "stepwell.api"), asgi_client(endpoint) as client:
        reply = client.request("GET", "/data/moving", {"host": HOST})
    assert reply.status == 200
    assert 0 < len(reply.body) < len(big) and big.startswith(reply.body)
    warnings = [r for r in caplog.records if r.name == "stepwell.api"]
    assert [r.levelname for r in warnings] == ["WARNING"]
    assert warnings[0].exc_info is None


@pytest.mark.parametrize(
    ("path", "headers", "body"),
    [
        ("/2015-03-31/functions/victim/invocations", {"content-type": "text/plain"}, b"{}"),
        ("/", {"content-type": "application/x-www-form-urlencoded"}, b"Action=ListQueues"),
        ("/", {"content-type": "text/plain"}, b"Action=ListTopics"),
    ],
)
def test_cross_site_simple_requests_reach_no_api(
    server_client: AsgiClient, path: str, headers: dict[str, str], body: bytes
) -> None:
    # Lambda's Invoke and the query APIs' form posts need no CORS preflight either.
    same = {"host": HOST, **headers}
    evil = {**same, "origin": "https://evil.example", "sec-fetch-site": "cross-site"}
    refused = server_client.request("POST", path, evil, body)
    assert refused.status == 403 and "Cross-site" in refused.json()["message"]
    assert server_client.request("POST", path, same, body).status != 403
