"""The embedded services as the API front end calls them (service/embedded_apis.py)."""

from __future__ import annotations

import pytest

from stepwell.integrations.services import Services
from stepwell.service.embedded_apis import EmbeddedApis, EmbeddedServiceError
from stepwell.service.errors import UnknownOperationException

ENDPOINT = "http://127.0.0.1:8083"


@pytest.fixture
def apis() -> EmbeddedApis:
    return EmbeddedApis(Services(clock=lambda: 1_700_000_000.0))


def test_queue_urls_name_the_endpoint_the_client_used(apis: EmbeddedApis) -> None:
    created = apis.handle("sqs", "CreateQueue", {"QueueName": "jobs"}, ENDPOINT + "/")
    assert created == {"QueueUrl": f"{ENDPOINT}/123456789012/jobs"}
    listed = apis.handle("sqs", "ListQueues", {}, ENDPOINT)
    assert listed == {"QueueUrls": [f"{ENDPOINT}/123456789012/jobs"]}
    # The engine keeps AWS's URLs: a Task state's QueueUrl still finds the queue.
    assert apis.services.sqs.call("GetQueueUrl", {"QueueName": "jobs"})["QueueUrl"].startswith(
        "https://sqs.us-east-1.amazonaws.com/"
    )


def test_engine_errors_keep_their_codes(apis: EmbeddedApis) -> None:
    with pytest.raises(EmbeddedServiceError) as caught:
        apis.handle("sqs", "GetQueueUrl", {"QueueName": "absent"}, ENDPOINT)
    error = caught.value
    assert (error.aws_type, error.code, error.status, error.fault) == (
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        400,
        "Sender",
    )
    assert EmbeddedServiceError("InternalError", "x", status=500).fault == "Receiver"


@pytest.mark.parametrize(
    ("service", "operation"), [("sqs", "AddPermission"), ("sns", "AddPermission")]
)
def test_unimplemented_operations(apis: EmbeddedApis, service: str, operation: str) -> None:
    assert not apis.supports(service, operation)
    with pytest.raises(UnknownOperationException):
        apis.handle(service, operation, {}, ENDPOINT)


def test_the_wait_time_a_receive_without_one_gets(apis: EmbeddedApis) -> None:
    attributes = {"ReceiveMessageWaitTimeSeconds": "20"}
    url = apis.handle(
        "sqs", "CreateQueue", {"QueueName": "patient", "Attributes": attributes}, ENDPOINT
    )
    assert apis.default_wait_seconds("sqs", {"QueueUrl": url["QueueUrl"]}) == 20
    assert apis.default_wait_seconds("sqs", {"QueueUrl": f"{ENDPOINT}/1/absent"}) == 0
    assert apis.default_wait_seconds("dynamodb", {}) == 0
