"""The protocol codecs and routing of the embedded services' APIs, piece by piece."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from api_helpers import RecordingService, asgi_client

from stepwell.api import create_app
from stepwell.api.auth import HttpRequest
from stepwell.api.model import ServiceModel
from stepwell.api.protocols.query import QueryDecoder, QueryError
from stepwell.api.protocols.xml import text
from stepwell.api.routing import Router, credential_service
from stepwell.api.services import SERVICE_APIS
from stepwell.service.errors import UnknownOperationException

MODEL = ServiceModel(
    metadata={"protocol": "query", "apiVersion": "2000-01-01"},
    operations={},
    shapes={
        "Input": {
            "type": "structure",
            "members": {
                "Names": {"shape": "Names"},
                "Ratio": {"shape": "Ratio"},
                "On": {"shape": "On"},
                "Tags": {"shape": "Tags"},
            },
        },
        "Names": {"type": "list", "member": {"shape": "Name"}},
        "Tags": {"type": "map", "key": {"shape": "Name"}, "value": {"shape": "Name"}},
        "Name": {"type": "string"},
        "Ratio": {"type": "double"},
        "On": {"type": "boolean"},
    },
)


@pytest.mark.parametrize(
    ("form", "members"),
    [
        ({"Names": ""}, {"Names": []}),  # botocore's empty list
        ({"Names.member.2": "b", "Names.member.1": "a"}, {"Names": ["a", "b"]}),
        ({"Ratio": "0.5", "On": "TRUE"}, {"Ratio": 0.5, "On": True}),
        ({"Tags.entry.1.key": "k", "Tags.entry.1.value": "v"}, {"Tags": {"k": "v"}}),
        ({"Tags.entry.1.key": "k"}, {"Tags": {}}),
        ({"Unknown": "x"}, {}),
    ],
)
def test_query_decoding(form: dict[str, str], members: dict[str, Any]) -> None:
    assert QueryDecoder(MODEL, form).structure("Input") == members


@pytest.mark.parametrize("form", [{"Ratio": "half"}, {"On": "yes"}])
def test_query_values_of_the_wrong_type(form: dict[str, str]) -> None:
    with pytest.raises(QueryError) as caught:
        QueryDecoder(MODEL, form).structure("Input")
    assert caught.value.code == "InvalidParameterValue"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (True, "true"),
        (datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), "2025-01-02T03:04:05.678Z"),
        (datetime(2025, 1, 2, 3, 4, 5), "2025-01-02T03:04:05.000Z"),
        ('a\rb<&>"', "a&#xD;b&lt;&amp;&gt;&quot;"),
        ("nul\x00", "nul\ufffd"),
    ],
)
def test_xml_text(value: Any, shown: str) -> None:
    assert text(value) == shown


def request(**headers: str) -> HttpRequest:
    return HttpRequest("POST", "/", "", list(headers.items()), b"")


def test_routing() -> None:
    router = Router(SERVICE_APIS)
    with pytest.raises(UnknownOperationException):
        router.route(request(**{"x-amz-target": "Nope.Op"}))
    with pytest.raises(UnknownOperationException):  # SNS speaks no JSON protocol
        router.route(
            request(authorization="AWS4-HMAC-SHA256 Credential=k/d/r/sns/aws4_request, x=y")
        )
    api, _ = router.route(
        request(authorization="AWS4-HMAC-SHA256 Credential=k/d/r/sqs/aws4_request")
    )
    assert api.name == "sqs"
    assert credential_service("Basic abc") is None


class FailingApis:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def handle(self, service: str, operation: str, request: Any, endpoint: str) -> Any:
        raise self.error

    def on_message_sent(self, listener: Callable[[str], None]) -> None:
        pass

    def default_wait_seconds(self, service: str, request: Any) -> float:
        return 0.0


class ServiceWithApis(RecordingService):
    embedded_apis: FailingApis


@pytest.mark.parametrize(
    ("headers", "body", "marker"),
    [
        ({"x-amz-target": "DynamoDB_20120810.ListTables"}, b"{}", b"#InternalFailure"),
        (
            {"content-type": "application/x-www-form-urlencoded"},
            b"Action=ListTopics&Version=2010-03-31",
            b"<Type>Receiver</Type><Code>InternalFailure</Code>",
        ),
    ],
)
def test_a_bug_is_a_500_in_the_protocol_format(
    headers: dict[str, str], body: bytes, marker: bytes
) -> None:
    service = ServiceWithApis()
    service.embedded_apis = FailingApis(RuntimeError("bug"))
    with asgi_client(create_app(service)) as client:
        reply = client.request("POST", "/", headers, body)
    assert reply.status == 500 and marker in reply.body
