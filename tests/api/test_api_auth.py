"""Signature Version 4 verification (IAM User Guide, "Create a signed AWS API request").

Requests are signed by botocore's own signer, an implementation independent of ours,
and sent through the ASGI app; the documentation's worked example checks the pieces.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime
from unittest.mock import patch

import anyio
import orjson
import pytest
from api_helpers import AsgiClient, RecordingService, Reply, asgi_client
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from stepwell.api import ApiSettings, create_app
from stepwell.api.auth import (
    HttpRequest,
    IncompleteSignatureException,
    canonical_query,
    canonical_request,
    parse_request_time,
    signing_key,
    string_to_sign,
)

KEY_ID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
BODY = orjson.dumps({"maxResults": 5})


def signed_headers(
    key_id: str = KEY_ID,
    secret: str = SECRET,
    *,
    body: bytes = BODY,
    service: str = "states",
    region: str = "us-east-1",
    token: str | None = None,
    url: str = "http://127.0.0.1:8083/",
    at: datetime = NOW,
) -> dict[str, str]:
    """Headers of a ListActivities request as botocore signs it at time ``at``."""
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "AWSStepFunctions.ListActivities",
        },
    )
    signer = SigV4Auth(Credentials(key_id, secret, token), service, region)
    with patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
        signer.add_auth(request)
    return {name: str(value) for name, value in request.headers.items()}


@pytest.fixture
def service() -> RecordingService:
    return RecordingService()


@pytest.fixture
def client(service: RecordingService) -> Iterator[AsgiClient]:
    settings = ApiSettings(credentials={KEY_ID: SECRET}, clock=NOW.timestamp)
    with asgi_client(create_app(service, settings)) as client:
        yield client


def send(client: AsgiClient, headers: dict[str, str], body: bytes = BODY) -> Reply:
    return client.request("POST", "/", {"host": "127.0.0.1:8083", **headers}, body)


def test_a_correctly_signed_request_is_served(
    client: AsgiClient, service: RecordingService
) -> None:
    reply = send(client, signed_headers())
    assert reply.status == 200
    assert service.calls == [("ListActivities", {"maxResults": 5})]


def test_temporary_credentials_sign_the_session_token_too(client: AsgiClient) -> None:
    assert send(client, signed_headers(token="session-token")).status == 200


def test_a_wrong_secret_is_an_invalid_signature(
    client: AsgiClient, service: RecordingService
) -> None:
    reply = send(client, signed_headers(secret="not-the-secret"))
    assert (reply.status, reply.error_type) == (400, "InvalidSignatureException")
    assert reply.message.startswith(
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. "
        "Consult the service documentation for details."
    )
    assert "The Canonical String for this request should have been\n'POST\n/\n" in reply.message
    assert service.calls == []


def test_a_body_changed_after_signing_is_an_invalid_signature(client: AsgiClient) -> None:
    reply = send(client, signed_headers(), body=orjson.dumps({"maxResults": 6}))
    assert reply.error_type == "InvalidSignatureException"


def test_an_unknown_access_key_is_an_unrecognized_client(client: AsgiClient) -> None:
    reply = send(client, signed_headers(key_id="AKIDUNKNOWN"))
    assert (reply.status, reply.error_type) == (403, "UnrecognizedClientException")
    assert reply.message == "The security token included in the request is invalid."


def test_a_missing_authorization_header(client: AsgiClient) -> None:
    headers = {"content-type": "application/x-amz-json-1.0"}
    reply = send(client, {**headers, "x-amz-target": "AWSStepFunctions.ListActivities"})
    assert (reply.status, reply.error_type) == (403, "MissingAuthenticationTokenException")


def test_a_malformed_authorization_header_lists_what_is_missing(client: AsgiClient) -> None:
    headers = {**signed_headers(), "Authorization": "Bearer abc"}
    reply = send(client, headers)
    assert reply.error_type == "IncompleteSignatureException"
    assert reply.message == (
        "Authorization header requires 'Credential' parameter. Authorization header requires "
        "'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. "
        "Authorization=Bearer abc"
    )


def test_a_credential_for_another_service(client: AsgiClient) -> None:
    reply = send(client, signed_headers(service="lambda"))
    assert reply.error_type == "InvalidSignatureException"
    assert reply.message == "Credential should be scoped to correct service: 'states'. "


def test_any_region_is_accepted_when_the_signature_covers_it(client: AsgiClient) -> None:
    assert send(client, signed_headers(region="eu-west-3")).status == 200


def test_a_signature_older_than_fifteen_minutes_has_expired(client: AsgiClient) -> None:
    reply = send(client, signed_headers(at=datetime(2025, 3, 1, 11, 40, tzinfo=UTC)))
    assert reply.error_type == "InvalidSignatureException"
    assert reply.message == (
        "Signature expired: 20250301T114000Z is now earlier than 20250301T114500Z "
        "(20250301T120000Z - 15 min.)"
    )


def test_a_signature_from_the_future_is_not_yet_current(client: AsgiClient) -> None:
    reply = send(client, signed_headers(at=datetime(2025, 3, 1, 12, 20, tzinfo=UTC)))
    assert reply.message == (
        "Signature not yet current: 20250301T122000Z is still later than 20250301T121500Z "
        "(20250301T120000Z + 15 min.)"
    )


def test_scope_date_must_match_the_request_date(client: AsgiClient) -> None:
    headers = signed_headers()
    headers["X-Amz-Date"] = "20250302T000000Z"
    reply = send(client, headers)
    assert reply.message.startswith("Date in Credential scope does not match YYYYMMDD")


def test_a_request_without_a_date_is_incomplete(client: AsgiClient) -> None:
    headers = {k: v for k, v in signed_headers().items() if k != "X-Amz-Date"}
    reply = send(client, headers)
    assert reply.error_type == "IncompleteSignatureException"
    assert "requires existence of either a 'X-Amz-Date' or a 'Date' header" in reply.message


def test_a_credential_with_the_wrong_shape_is_incomplete(client: AsgiClient) -> None:
    headers = signed_headers()
    headers["Authorization"] = headers["Authorization"].replace("/us-east-1/", "/")
    reply = send(client, headers)
    assert reply.error_type == "IncompleteSignatureException"
    assert reply.message.startswith("Credential must have exactly 5 slash-delimited elements")


def test_the_scope_must_end_with_aws4_request(client: AsgiClient) -> None:
    headers = signed_headers()
    headers["Authorization"] = headers["Authorization"].replace("/aws4_request", "/aws5_request")
    reply = send(client, headers)
    assert reply.message == (
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "
    )


def test_host_must_be_signed(client: AsgiClient) -> None:
    headers = signed_headers()
    headers["Authorization"] = headers["Authorization"].replace(
        "SignedHeaders=content-type;host;", "SignedHeaders=content-type;"
    )
    reply = send(client, headers)
    assert reply.message == (
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    )


def test_authentication_is_off_without_credentials() -> None:
    with asgi_client(create_app(RecordingService())) as client:
        assert client.call("ListActivities").status == 200


# The worked example of the IAM User Guide ("Signature Version 4 signing process",
# GET https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08).
EXAMPLE = HttpRequest(
    method="GET",
    raw_path="/",
    query_string="Version=2010-05-08&Action=ListUsers",
    headers=[
        ("content-type", "application/x-www-form-urlencoded; charset=utf-8"),
        ("host", "iam.amazonaws.com"),
        ("x-amz-date", "20150830T123600Z"),
    ],
    body=b"",
)


def test_the_documented_example_canonical_request_and_signature() -> None:
    canonical = canonical_request(EXAMPLE, ("content-type", "host", "x-amz-date"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    assert digest == "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
    key = signing_key(SECRET, "20150830", "us-east-1", "iam")
    assert key.hex() == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
    to_sign = string_to_sign("20150830T123600Z", "20150830/us-east-1/iam/aws4_request", canonical)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    assert signature == "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        ("", ""),
        ("b=2&a=1", "a=1&b=2"),
        ("a=2&a=1", "a=1&a=2"),
        ("flag&x=a%20b", "flag=&x=a%20b"),
        ("k=a~b_c-d.e", "k=a~b_c-d.e"),
        ("k=a/b", "k=a%2Fb"),
    ],
)
def test_canonical_query(query: str, canonical: str) -> None:
    assert canonical_query(query) == canonical


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("20150830T123600Z", datetime(2015, 8, 30, 12, 36, tzinfo=UTC)),
        ("Sun, 30 Aug 2015 12:36:00 GMT", datetime(2015, 8, 30, 12, 36, tzinfo=UTC)),
    ],
)
def test_request_time_from_amz_date_or_http_date(value: str, parsed: datetime) -> None:
    assert parse_request_time(value) == parsed


@pytest.mark.parametrize("value", ["yesterday", "2025030xT120000Z", "20251301T000000Z", ""])
def test_an_unreadable_date_is_incomplete(value: str) -> None:
    with pytest.raises(IncompleteSignatureException, match="ISO-8601 'basic format'"):
        parse_request_time(value)


def signed_then_retargeted() -> dict[str, str]:
    """A request botocore signed without X-Amz-Target, which then names an operation."""
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:8083/",
        data=BODY,
        headers={"Content-Type": "application/x-amz-json-1.0"},
    )
    signer = SigV4Auth(Credentials(KEY_ID, SECRET), "states", "us-east-1")
    with patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        signer.add_auth(request)
    signed = {name: str(value) for name, value in request.headers.items()}
    return {**signed, "X-Amz-Target": "AWSStepFunctions.ListActivities"}


def test_x_amz_target_must_be_signed_or_a_request_could_be_replayed_as_another_operation(
    client: AsgiClient, service: RecordingService
) -> None:
    # Issue 9 "Also": a signature that does not cover X-Amz-Target would let anyone who
    # captured a ListActivities request replay it as DeleteStateMachine.
    reply = send(client, signed_then_retargeted())
    assert (reply.status, reply.error_type) == (400, "InvalidSignatureException")
    assert reply.message == ("'x-amz-target' must be a 'SignedHeader' in the AWS Authorization.")
    assert service.calls == []


@pytest.mark.parametrize("header", ["x-amz-security-token", "x-amz-meta-anything"])
def test_every_x_amz_header_must_be_signed(client: AsgiClient, header: str) -> None:
    reply = send(client, {**signed_headers(), header: "added-after-signing"})
    assert reply.error_type == "InvalidSignatureException"
    assert reply.message == f"'{header}' must be a 'SignedHeader' in the AWS Authorization."


class BodyNeverRead:
    """An ASGI receive that records whether the app asked for the body."""

    def __init__(self) -> None:
        self.asked = False

    async def __call__(self) -> dict[str, object]:
        self.asked = True
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}


@pytest.mark.parametrize(
    ("headers", "status", "error_type"),
    [
        ({}, 403, "MissingAuthenticationTokenException"),
        (signed_headers(key_id="AKIDUNKNOWN"), 403, "UnrecognizedClientException"),
        (
            {"Authorization": "Bearer abc", "X-Amz-Date": "20250301T120000Z"},
            400,
            "IncompleteSignatureException",
        ),
    ],
)
def test_a_request_without_a_known_credential_is_refused_before_its_body_is_read(
    headers: dict[str, str], status: int, error_type: str
) -> None:
    # Issue 9 fault 8: bodies were buffered before authentication, so 150 stalled unsigned
    # 7 MiB bodies held a gigabyte. The credential is now checked from the headers first.
    settings = ApiSettings(credentials={KEY_ID: SECRET}, clock=NOW.timestamp)
    app = create_app(RecordingService(), settings)
    receive = BodyNeverRead()
    sent: list[dict[str, object]] = []

    async def send_message(message: dict[str, object]) -> None:
        sent.append(message)

    all_headers = {
        "host": "127.0.0.1:8083",
        "content-type": "application/x-amz-json-1.0",
        "content-length": str(7 * 1024 * 1024),
        "x-amz-target": "AWSStepFunctions.ListActivities",
        **{
            name.lower(): value
            for name, value in headers.items()
            if name.lower() != "content-length"
        },
    }
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in all_headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8083),
    }
    anyio.run(app, scope, receive, send_message)
    assert sent[0]["status"] == status
    assert orjson.loads(sent[1]["body"])["__type"] == error_type  # type: ignore[arg-type]
    assert not receive.asked
