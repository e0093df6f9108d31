"""The REST-JSON codec over the whole Lambda model: members found where the model puts
them (path, query string, headers, JSON body, payload), errors as botocore reads them."""

from __future__ import annotations

import orjson
import pytest

from stepwell.api.auth import HttpRequest
from stepwell.api.protocols.base import wire_error
from stepwell.api.protocols.rest_json import RestJsonCodec, rest_path
from stepwell.api.services.lambda_ import API
from stepwell.service.errors import (
    SerializationException,
    ServiceError,
    UnknownOperationException,
    ValidationException,
)

CODEC = RestJsonCodec()


def request(
    method: str, path: str, body: bytes = b"", query: str = "", **headers: str
) -> HttpRequest:
    pairs = [(name.replace("_", "-").lower(), value) for name, value in headers.items()]
    return HttpRequest(method, path, query, pairs, body)


def test_a_label_is_one_segment_and_a_greedy_label_many() -> None:
    assert rest_path("/a/{Name}/b").fullmatch("/a/x%3Ay/b")
    assert not rest_path("/a/{Name}/b").fullmatch("/a/x/y/b")
    assert rest_path("/a/{Key+}").fullmatch("/a/x/y/z")
    assert rest_path("/a/{Name}").fullmatch("/a/x/")  # a trailing slash is the same path


def test_invoke_reads_path_headers_query_and_the_raw_payload() -> None:
    call = CODEC.decode(
        API,
        request(
            "POST",
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af/invocations",
            b"not even json",
            "Qualifier=%24LATEST",
            x_amz_invocation_type="Event",
            x_amz_log_type="Tail",
        ),
    )
    assert call.operation == "Invoke"
    assert call.members == {
        "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "InvocationType": "Event",
        "LogType": "Tail",
        "Qualifier": "$LATEST",
        "Payload": b"not even json",
    }


def test_json_bodies_lists_booleans_and_structure_payloads() -> None:
    created = CODEC.decode(
        API,
        request(
            "POST",
            "/2015-03-31/functions",
            orjson.dumps({"FunctionName": "f", "Role": "arn:aws:iam::123456789012:role/r",
                          "Code": {}, "Timeout": 3}),
        ),
    )  # fmt: skip
    assert created.operation == "CreateFunction" and created.members["Timeout"] == 3
    arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    tags = "/2017-03-31/tags/" + arn.replace(":", "%3A")
    untag = CODEC.decode(API, request("DELETE", tags, b"", "tagKeys=a&tagKeys=b"))
    assert untag.members == {"Resource": arn, "TagKeys": ["a", "b"]}
    execution = f"{arn}:1/durable-execution/run/abc".replace(":", "%3A").replace("/", "%2F")
    history = f"/2025-12-01/durable-executions/{execution}/history"
    read = CODEC.decode(API, request("GET", history, b"", "IncludeExecutionData=true&MaxItems=5"))
    assert read.members["IncludeExecutionData"] is True and read.members["MaxItems"] == 5
    stopped = CODEC.decode(
        API,
        request(
            "POST", f"/2025-12-01/durable-executions/{execution}/stop", b'{"ErrorMessage": "m"}'
        ),
    )
    assert stopped.members["Error"] == {"ErrorMessage": "m"}


@pytest.mark.parametrize(
    ("http", "error"),
    [
        (request("POST", "/2015-03-31/functions", b"{"), SerializationException),
        (request("POST", "/2015-03-31/functions", b"[1]"), SerializationException),
        (request("GET", "/2015-03-31/functions", b"", "MaxItems=many"), SerializationException),
        (
            request("GET", "/2025-12-01/durable-executions/x/history", b"", "ReverseOrder=yes"),
            SerializationException,
        ),
        (request("GET", "/2015-03-31/functions", b"", "MaxItems=0"), ValidationException),
        (request("PUT", "/2015-03-31/functions/f/invocations"), UnknownOperationException),
        (request("GET", "/2015-03-31/nothing-here"), UnknownOperationException),
    ],
)
def test_malformed_requests_are_the_front_ends_errors(
    http: HttpRequest, error: type[ServiceError]
) -> None:
    with pytest.raises(error):
        CODEC.decode(API, http)


def test_results_put_members_back_where_the_model_says() -> None:
    response = CODEC.encode_result(
        API,
        "Invoke",
        {"StatusCode": 200, "FunctionError": "Unhandled", "ExecutedVersion": "$LATEST",
         "Payload": b'{"errorMessage": "x"}'},
        "req-1",
    )  # fmt: skip
    assert response.status_code == 200 and response.body == b'{"errorMessage": "x"}'
    assert response.headers["X-Amz-Function-Error"] == "Unhandled"
    assert response.headers["X-Amz-Executed-Version"] == "$LATEST"
    accepted = CODEC.encode_result(API, "Invoke", {"StatusCode": 202}, "req-2")
    assert (accepted.status_code, accepted.body) == (202, b"")
    listed = CODEC.encode_result(API, "ListFunctions", {"Functions": [], "Junk": 1}, "req-3")
    assert orjson.loads(listed.body) == {"Functions": []}


def test_errors_carry_type_and_message_as_lambda_sends_them() -> None:
    response = CODEC.encode_error(API, wire_error(UnknownOperationException("no")), "req-4")
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert orjson.loads(response.body) == {"Type": "User", "Message": "no"}
