"""One endpoint, several AWS APIs: routing by target prefix, request shape and SigV4
credential scope, and signature verification that applies to every API (issue 11;
IAM User Guide, "Elements of an AWS API request signature": the scope names the service).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from stepwell.api import ApiSettings, create_app
from stepwell.service.host import Host
from stepwell.service.settings import Settings
from tests.e2e.server import CONFIG, serving

KEY_ID = "AKIDSTEPWELL"
SECRET = "s3cret"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("signed")
    host = Host(Settings(db=str(folder / "stepwell.db"), workers=0))
    settings = ApiSettings(credentials={KEY_ID: SECRET})
    try:
        with serving(create_app(host.service, settings)) as served:
            yield served
    finally:
        host.stop()


def signed_client(url: str, service: str, secret: str = SECRET) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="eu-west-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=secret,
        config=CONFIG,
    )


def test_every_api_answers_signed_requests(url: str) -> None:
    assert signed_client(url, "dynamodb").list_tables()["TableNames"] == []
    assert "QueueUrls" not in signed_client(url, "sqs").list_queues()
    assert signed_client(url, "sns").list_topics()["Topics"] == []
    assert signed_client(url, "stepfunctions").list_activities()["activities"] == []
    assert signed_client(url, "lambda").list_functions()["Functions"] == []  # REST-JSON


@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        ("dynamodb", lambda c: c.list_tables(), "InvalidSignatureException"),
        ("sqs", lambda c: c.list_queues(), "InvalidSignatureException"),
        ("sns", lambda c: c.list_topics(), "SignatureDoesNotMatch"),  # query protocol codes
        ("lambda", lambda c: c.list_functions(), "InvalidSignatureException"),
        (
            "lambda",
            lambda c: c.invoke(FunctionName="f", Payload=b"{}"),
            "InvalidSignatureException",
        ),
    ],
)
def test_a_wrong_secret_is_refused_by_every_api(
    url: str, service: str, call: Any, code: str
) -> None:
    client = signed_client(url, service, secret="wrong")
    with pytest.raises(client.exceptions.ClientError) as caught:
        call(client)
    assert caught.value.response["Error"]["Code"] == code


def sign(url: str, service: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url + "/", data=body, headers=headers)
    SigV4Auth(Credentials(KEY_ID, SECRET), service, "us-east-1").add_auth(request)
    return {name: str(value) for name, value in request.headers.items()}


def test_a_signature_scoped_to_another_service_is_refused(url: str) -> None:
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810.ListTables",
    }
    response = httpx.post(url, headers=sign(url, "sqs", headers, b"{}"), content=b"{}")
    assert response.status_code == 400
    assert "scoped to correct service: 'dynamodb'" in response.json()["message"]


def test_the_credential_scope_routes_a_query_request_without_version(url: str) -> None:
    body = b"Action=ListTopics"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = httpx.post(url, headers=sign(url, "sns", headers, body), content=body)
    assert response.status_code == 200, response.text
    assert "<ListTopicsResponse" in response.text


def test_unsigned_requests_are_refused(url: str) -> None:
    response = httpx.post(url, data={"Action": "ListTopics", "Version": "2010-03-31"})
    assert response.status_code == 403  # as AWS answers MissingAuthenticationToken (issue 9)
    assert "<Code>MissingAuthenticationToken</Code>" in response.text


def test_step_functions_keeps_its_own_errors(url: str) -> None:
    headers = {"Content-Type": "application/x-amz-json-1.0"}
    response = httpx.post(url, headers=sign(url, "states", headers, b"{}"), content=b"{}")
    assert response.status_code == 400
    assert response.json()["__type"] == "UnknownOperationException"
    assert "X-Amz-Target" in response.json()["message"]


def test_unknown_paths_are_still_404(url: str) -> None:
    assert httpx.get(url + "/nowhere").status_code == 404


def test_a_signed_lambda_path_with_an_arn_verifies(url: str) -> None:
    # The ARN's colons are percent-encoded in the path; SigV4 encodes the path again.
    lam = signed_client(url, "lambda")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):  # signature accepted
        lam.invoke(FunctionName="arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST")


def test_an_unsigned_lambda_request_is_refused_in_lambdas_format(url: str) -> None:
    response = httpx.get(url + "/2015-03-31/functions/")
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert response.json()["Type"] == "User" and response.json()["Message"]
