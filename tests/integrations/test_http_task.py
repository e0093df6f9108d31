"""The HTTP Task against a local server. Source: Developer Guide, "Call HTTPS APIs in Step
Functions workflows" (fields, URL-encoded bodies and array formats, the headers Step
Functions adds and refuses, ``States.Http.StatusCode.<code>`` and ``States.Http.Socket``)."""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import parse_qsl, unquote

import pytest
from integration_helpers import Received, Reply, json_reply, local_server

import stepwell
from stepwell.integrations.http_task import HttpTask

CONNECTION = "arn:aws:events:us-east-1:123456789012:connection/api/1"


def http_task(parameters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::http:invoke",
                "Parameters": {"Authentication": {"ConnectionArn": CONNECTION}, **parameters},
                "End": True,
                **extra,
            }
        },
    }


def echo(received: Received) -> Reply:
    return json_reply({"method": received.method, "path": received.path, "n": 1})


def test_get_with_query_parameters_and_json_response() -> None:
    with local_server(echo) as server:
        result = stepwell.run(
            http_task(
                {
                    "ApiEndpoint": server.url + "/v1/customers",
                    "Method": "GET",
                    "QueryParameters": {"limit": "2", "tag": ["a", "b"]},
                    "Headers": {"X-Api-Key": "secret"},
                }
            )
        )
    assert result.status == "SUCCEEDED"
    output = result.output
    assert output["StatusCode"] == "200"
    assert output["StatusText"] == "OK"
    assert output["ResponseBody"]["method"] == "GET"
    assert output["Headers"]["Content-Type"] == ["application/json"]
    [request] = server.requests
    assert parse_qsl(request.path.split("?", 1)[1]) == [("limit", "2"), ("tag", "a"), ("tag", "b")]
    assert request.headers["X-Api-Key"] == "secret"
    assert request.headers["User-Agent"] == "Amazon|StepFunctions|HttpInvoke|us-east-1"
    assert request.headers["Range"] == "bytes=0-262144"


def test_post_json_body() -> None:
    with local_server(echo) as server:
        stepwell.run(
            http_task(
                {"ApiEndpoint": server.url, "Method": "POST", "RequestBody.$": "$"},
            ),
            {"primaryId": "123455", "operation": "send.communications"},
        )
    [request] = server.requests
    assert request.json() == {"primaryId": "123455", "operation": "send.communications"}
    assert request.headers["Content-Type"] == "application/json; charset=UTF-8"


@pytest.mark.parametrize(
    ("array_format", "expected"),
    [
        (None, "a=1&list[0]=x&list[1]=y&obj[k]=v"),
        ("INDICES", "a=1&list[0]=x&list[1]=y&obj[k]=v"),
        ("REPEAT", "a=1&list=x&list=y&obj[k]=v"),
        ("COMMAS", "a=1&list=x,y&obj[k]=v"),
        ("BRACKETS", "a=1&list[]=x&list[]=y&obj[k]=v"),
    ],
)
def test_url_encoded_bodies(array_format: str | None, expected: str) -> None:
    transform: dict[str, Any] = {"RequestBodyEncoding": "URL_ENCODED"}
    if array_format:
        transform["RequestEncodingOptions"] = {"ArrayFormat": array_format}
    with local_server(echo) as server:
        stepwell.run(
            http_task(
                {
                    "ApiEndpoint": server.url,
                    "Method": "POST",
                    "RequestBody": {"a": 1, "list": ["x", "y"], "obj": {"k": "v"}},
                    "Transform": transform,
                }
            )
        )
    [request] = server.requests
    assert unquote(request.body.decode()) == expected
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_text_responses_stay_text_and_a_string_body_is_sent_as_is() -> None:
    def text(received: Received) -> Reply:
        return 201, {"Content-Type": "text/plain"}, b"created"

    with local_server(text) as server:
        result = stepwell.run(
            http_task(
                {
                    "ApiEndpoint": server.url,
                    "Method": "put",
                    "RequestBody": "raw text",
                    "Headers": {"Content-Type": "text/csv", "X-List": ["a", 1]},
                }
            )
        )
    assert (result.output["StatusCode"], result.output["ResponseBody"]) == ("201", "created")
    [request] = server.requests
    assert (request.method, request.body, request.headers["Content-Type"]) == (
        "PUT",
        b"raw text",
        "text/csv",
    )
    assert request.headers["X-List"] == "a,1"


def test_error_status_fails_with_states_http_status_code() -> None:
    def missing(received: Received) -> Reply:
        return json_reply({"error": "no such customer"}, status=404)

    definition = http_task(
        {"ApiEndpoint": "URL", "Method": "GET"},
        Catch=[{"ErrorEquals": ["States.Http.StatusCode.404"], "Next": "Gone"}],
    )
    definition["States"]["Call"].pop("End")
    definition["States"]["Call"]["Next"] = "Done"
    definition["States"].update(
        {"Gone": {"Type": "Pass", "End": True}, "Done": {"Type": "Succeed"}}
    )
    with local_server(missing) as server:
        text = json.dumps(definition).replace('"URL"', json.dumps(server.url + "/c/9"))
        result = stepwell.run(text)
    assert result.status == "SUCCEEDED"
    assert result.output["Error"] == "States.Http.StatusCode.404"
    cause = json.loads(result.output["Cause"])
    assert (cause["StatusCode"], cause["StatusText"]) == ("404", "Not Found")
    assert cause["ResponseBody"] == {"error": "no such customer"}


def test_an_unreachable_endpoint_fails_with_states_http_socket() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = stepwell.run(http_task({"ApiEndpoint": f"http://127.0.0.1:{port}", "Method": "GET"}))
    assert (result.status, result.error) == ("FAILED", "States.Http.Socket")


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"Method": "GET"}, "ApiEndpoint"),
        ({"ApiEndpoint": "http://127.0.0.1:9", "Method": "FETCH"}, "Method"),
        ({"ApiEndpoint": "http://127.0.0.1:9", "Method": "GET", "Headers": {"Host": "x"}}, "Host"),
        (
            {"ApiEndpoint": "http://127.0.0.1:9", "Method": "GET", "Headers": {"X-Amz-Date": "x"}},
            "X-Amz-Date",
        ),
        ({"ApiEndpoint": "http://127.0.0.1:9", "Method": "GET", "Headers": ["x"]}, "Headers"),
        (
            {
                "ApiEndpoint": "http://127.0.0.1:9",
                "Method": "POST",
                "RequestBody": {},
                "Transform": {"RequestBodyEncoding": "GZIP"},
            },
            "RequestBodyEncoding",
        ),
        (
            {
                "ApiEndpoint": "http://127.0.0.1:9",
                "Method": "POST",
                "RequestBody": {"a": [1]},
                "Transform": {
                    "RequestBodyEncoding": "URL_ENCODED",
                    "RequestEncodingOptions": {"ArrayFormat": "SEMICOLONS"},
                },
            },
            "ArrayFormat",
        ),
    ],
)
def test_requests_that_cannot_be_sent_fail_with_states_runtime(
    parameters: dict[str, Any], message: str
) -> None:
    outcome = HttpTask().invoke(parameters)
    assert outcome.error == "States.Runtime"
    assert message in outcome.cause


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"ApiEndpoint": "http://[::1", "Method": "GET"}, "'ApiEndpoint' is not a valid URL"),
        (
            {"ApiEndpoint": "http://127.0.0.1:9", "Method": "GET", "Headers": {"X": "\u20ac"}},
            "The header 'X' must have an ASCII name and value",
        ),
        (
            {"ApiEndpoint": "http://127.0.0.1:9", "Method": "GET", "Headers": {"X \u20ac": "a"}},
            "must have an ASCII name and value",
        ),
    ],
)
def test_an_unsendable_url_or_header_is_a_task_failure_not_a_traceback(
    parameters: dict[str, Any], message: str
) -> None:
    """Like the refusals above (States.Runtime, never sent), in a run and in TestState."""
    result = stepwell.run(http_task(parameters))
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert message in (result.cause or "")
    state = http_task(parameters)["States"]["Call"]
    answer = stepwell.test_state(
        state, {}, role_arn="arn:aws:iam::123456789012:role/r", inspection_level="TRACE"
    )
    assert (answer["status"], answer["error"]) == ("FAILED", "States.Runtime")
    assert message in answer["cause"]
    assert "request" not in answer["inspectionData"]  # never sent


def test_parameters_must_be_an_object() -> None:
    assert HttpTask().invoke("GET http://x").error == "States.Runtime"


def test_odd_values_in_forms_and_unknown_status_text() -> None:
    def teapot(received: Received) -> Reply:
        return 599, {"Content-Type": "application/json"}, b"not json"

    task = HttpTask()
    with local_server(teapot) as server:
        outcome = task.invoke(
            {
                "ApiEndpoint": server.url,
                "Method": "POST",
                "RequestBody": {"yes": True, "none": None, "n": 1.5},
                "Transform": {"RequestBodyEncoding": "URL_ENCODED"},
            }
        )
    assert outcome.error == "States.Http.StatusCode.599"
    assert json.loads(outcome.cause)["ResponseBody"] == "not json"
    assert server.requests[0].body == b"yes=true&none=&n=1.5"
