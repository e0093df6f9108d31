"""The embedded SQS, through its boto3-like client. Sources: Amazon SQS API Reference
("CreateQueue", "SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility",
"SetQueueAttributes", "Common errors") and Developer Guide ("Amazon SQS visibility timeout",
"Amazon SQS delay queues", "Using dead-letter queues", "Calculating the MD5 message digest
for message attributes")."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stepwell.integrations.services import ServiceError, Services
from stepwell.integrations.services.sqs import md5_of_attributes, queue_name
from stepwell.store.sqlite import open_sqlite


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def services(clock: Clock) -> Services:
    return Services(clock=clock)


def queue(services: Services, name: str = "jobs", **attributes: str) -> str:
    request: dict[str, Any] = {"QueueName": name}
    if attributes:
        request["Attributes"] = attributes
    url: str = services.sqs.create_queue(**request)["QueueUrl"]
    return url


def error_code(action: Any, **request: Any) -> str:
    with pytest.raises(ClientError) as caught:
        action(**request)
    code: str = caught.value.response["Error"]["Code"]
    return code


def test_queue_urls_and_arns_are_aws_shaped(services: Services) -> None:
    url = queue(services)
    assert url == "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"
    assert services.sqs.get_queue_url(QueueName="jobs")["QueueUrl"] == url
    attributes = services.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    assert attributes["Attributes"] == {"QueueArn": "arn:aws:sqs:us-east-1:123456789012:jobs"}
    assert services.sqs.list_queues()["QueueUrls"] == [url]


@pytest.mark.parametrize(
    ("reference", "name"),
    [
        ("https://sqs.us-east-1.amazonaws.com/466170491455/TeamCSqs", "TeamCSqs"),
        ("arn:aws:sqs:eu-west-1:123456789012:dlq", "dlq"),
        ("plain", "plain"),
    ],
)
def test_a_queue_is_found_by_the_name_ending_its_url_or_arn(reference: str, name: str) -> None:
    assert queue_name(reference) == name


def test_send_receive_delete(services: Services) -> None:
    url = queue(services)
    sent = services.sqs.send_message(QueueUrl=url, MessageBody="hello")
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"hello").hexdigest()
    [message] = services.sqs.receive_message(QueueUrl=url)["Messages"]
    assert (message["MessageId"], message["Body"]) == (sent["MessageId"], "hello")
    assert message["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert "Messages" not in services.sqs.receive_message(QueueUrl=url)  # in flight
    services.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    counts = services.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "0"
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_an_undeleted_message_returns_after_the_visibility_timeout(
    services: Services, clock: Clock
) -> None:
    url = queue(services, VisibilityTimeout="20")
    services.sqs.send_message(QueueUrl=url, MessageBody="m")
    first = services.sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"][0]
    clock.now += 19.9
    assert "Messages" not in services.sqs.receive_message(QueueUrl=url)
    clock.now += 0.1
    again = services.sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"][0]
    assert again["MessageId"] == first["MessageId"]
    assert again["ReceiptHandle"] != first["ReceiptHandle"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    assert again["Attributes"]["ApproximateFirstReceiveTimestamp"] == "1700000000000"


def test_change_message_visibility_moves_the_moment_it_returns(
    services: Services, clock: Clock
) -> None:
    url = queue(services)
    services.sqs.send_message(QueueUrl=url, MessageBody="m")
    handle = services.sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    services.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    assert len(services.sqs.receive_message(QueueUrl=url)["Messages"]) == 1
    clock.now += 31
    code = error_code(
        services.sqs.change_message_visibility,
        QueueUrl=url,
        ReceiptHandle=handle,
        VisibilityTimeout=5,
    )
    assert code == "AWS.SimpleQueueService.MessageNotInflight"


def test_receive_visibility_timeout_parameter_overrides_the_queue(
    services: Services, clock: Clock
) -> None:
    url = queue(services)
    services.sqs.send_message(QueueUrl=url, MessageBody="m")
    services.sqs.receive_message(QueueUrl=url, VisibilityTimeout=2)
    clock.now += 2
    assert len(services.sqs.receive_message(QueueUrl=url)["Messages"]) == 1


def test_delay_seconds_hides_a_new_message(services: Services, clock: Clock) -> None:
    url = queue(services, DelaySeconds="5")
    services.sqs.send_message(QueueUrl=url, MessageBody="queue delay")
    services.sqs.send_message(QueueUrl=url, MessageBody="own delay", DelaySeconds=0)
    bodies = [
        m["Body"]
        for m in services.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    ]
    assert bodies == ["own delay"]
    delayed = services.sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )
    assert delayed["Attributes"] == {"ApproximateNumberOfMessagesDelayed": "1"}
    clock.now += 5
    assert services.sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "queue delay"


def test_max_number_of_messages_and_order(services: Services) -> None:
    url = queue(services)
    for n in range(12):
        services.sqs.send_message(QueueUrl=url, MessageBody=str(n))
    first = services.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    rest = services.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in first] == [str(n) for n in range(10)]
    assert [m["Body"] for m in rest] == ["10", "11"]


def test_dead_letter_queue_after_max_receive_count(services: Services, clock: Clock) -> None:
    dlq = queue(services, "failed-communications-dlq")
    dlq_arn = services.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url = queue(services, "communications", VisibilityTimeout="10", RedrivePolicy=policy)
    sent = services.sqs.send_message(
        QueueUrl=url,
        MessageBody="poison",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "email"}},
    )
    for _ in range(2):
        assert services.sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "poison"
        clock.now += 10
    assert "Messages" not in services.sqs.receive_message(QueueUrl=url)
    [dead] = services.sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"])["Messages"]
    assert (dead["MessageId"], dead["Body"]) == (sent["MessageId"], "poison")
    assert dead["MessageAttributes"] == {"kind": {"DataType": "String", "StringValue": "email"}}
    stored = json.loads(
        services.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])[
            "Attributes"
        ]["RedrivePolicy"]
    )
    assert stored == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}


def test_a_redrive_policy_needs_an_existing_dead_letter_queue(services: Services) -> None:
    policy = json.dumps(
        {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:1:none", "maxReceiveCount": 3}
    )
    code = error_code(
        services.sqs.create_queue, QueueName="q", Attributes={"RedrivePolicy": policy}
    )
    assert code == "InvalidAttributeValue"


def test_message_attributes_digest_follows_the_documented_encoding() -> None:
    attributes = {
        "b": {"DataType": "Binary", "BinaryValue": base64.b64encode(b"\x00\x01").decode()},
        "a": {"DataType": "String", "StringValue": "x"},
        "n": {"DataType": "Number", "StringValue": "12"},
    }

    def field(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data

    expected = hashlib.md5(
        field(b"a")
        + field(b"String")
        + b"\x01"
        + field(b"x")
        + field(b"b")
        + field(b"Binary")
        + b"\x02"
        + field(b"\x00\x01")
        + field(b"n")
        + field(b"Number")
        + b"\x01"
        + field(b"12")
    ).hexdigest()
    assert md5_of_attributes(attributes) == expected


def test_message_attributes_come_back_when_asked_for(services: Services) -> None:
    url = queue(services)
    attributes = {
        "trace": {"DataType": "String", "StringValue": "t-1"},
        "tenant.id": {"DataType": "Number", "StringValue": "7"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\xff"},
    }
    sent = services.sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes=attributes)
    [message] = services.sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["tenant.*", "blob"], VisibilityTimeout=0
    )["Messages"]
    assert set(message["MessageAttributes"]) == {"tenant.id", "blob"}
    assert message["MessageAttributes"]["blob"]["BinaryValue"] == base64.b64encode(b"\xff").decode()
    [everything] = services.sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert everything["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        ({"MessageBody": ""}, "MissingParameter"),
        ({"MessageBody": "bad \x01 char"}, "InvalidMessageContents"),
        ({"MessageBody": "x" * 262_145}, "InvalidParameterValue"),
        ({"MessageBody": "m", "DelaySeconds": 901}, "InvalidParameterValue"),
        (
            {
                "MessageBody": "m",
                "MessageAttributes": {"a": {"DataType": "Thing", "StringValue": "x"}},
            },
            "InvalidParameterValue",
        ),
        (
            {"MessageBody": "m", "MessageAttributes": {"a": {"DataType": "String"}}},
            "InvalidParameterValue",
        ),
        (
            {
                "MessageBody": "m",
                "MessageAttributes": {
                    f"a{n}": {"DataType": "String", "StringValue": "x"} for n in range(11)
                },
            },
            "InvalidParameterValue",
        ),
    ],
)
def test_send_message_refuses_what_sqs_refuses(
    services: Services, request_: dict[str, Any], code: str
) -> None:
    url = queue(services)
    assert error_code(services.sqs.send_message, QueueUrl=url, **request_) == code


@pytest.mark.parametrize(
    ("operation", "request_", "code"),
    [
        ("get_queue_url", {"QueueName": "missing"}, "AWS.SimpleQueueService.NonExistentQueue"),
        ("create_queue", {"QueueName": "bad name"}, "InvalidParameterValue"),
        (
            "create_queue",
            {"QueueName": "jobs", "Attributes": {"VisibilityTimeout": "5"}},
            "QueueAlreadyExists",
        ),
        (
            "create_queue",
            {"QueueName": "q2", "Attributes": {"Colour": "red"}},
            "InvalidAttributeName",
        ),
        (
            "create_queue",
            {"QueueName": "q2", "Attributes": {"VisibilityTimeout": "99999"}},
            "InvalidAttributeValue",
        ),
        (
            "receive_message",
            {"QueueUrl": "jobs", "MaxNumberOfMessages": 11},
            "InvalidParameterValue",
        ),
        (
            "delete_message",
            {"QueueUrl": "jobs", "ReceiptHandle": "nonsense"},
            "ReceiptHandleIsInvalid",
        ),
        (
            "get_queue_attributes",
            {"QueueUrl": "jobs", "AttributeNames": ["Nope"]},
            "InvalidAttributeName",
        ),
        (
            "send_message_batch",
            {"QueueUrl": "jobs", "Entries": []},
            "AWS.SimpleQueueService.EmptyBatchRequest",
        ),
        (
            "send_message_batch",
            {"QueueUrl": "jobs", "Entries": [{"Id": "1", "MessageBody": "m"}] * 2},
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        ),
        (
            "send_message_batch",
            {
                "QueueUrl": "jobs",
                "Entries": [{"Id": str(n), "MessageBody": "m"} for n in range(11)],
            },
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        ),
    ],
)
def test_errors_carry_the_codes_boto3_reports(
    services: Services, operation: str, request_: dict[str, Any], code: str
) -> None:
    queue(services)
    assert error_code(getattr(services.sqs, operation), **request_) == code


def test_modeled_errors_are_client_error_subclasses(services: Services) -> None:
    with pytest.raises(services.sqs.exceptions.QueueDoesNotExist):
        services.sqs.get_queue_url(QueueName="missing")
    with pytest.raises(ServiceError) as caught:
        services.sqs.call("GetQueueUrl", {"QueueName": "missing"})
    assert (caught.value.exception, caught.value.status) == ("QueueDoesNotExist", 400)
    with pytest.raises(AttributeError):
        services.sqs.no_such_operation  # noqa: B018
    with pytest.raises(ServiceError, match="does not implement"):
        services.sqs.call("AddPermission", {})


def test_create_queue_is_idempotent_with_the_same_attributes(services: Services) -> None:
    first = queue(services, VisibilityTimeout="30")
    assert queue(services, VisibilityTimeout="30") == first
    assert queue(services) == first


def test_batches_report_each_entry(services: Services) -> None:
    url = queue(services)
    sent = services.sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "a", "MessageBody": "1"}, {"Id": "b", "MessageBody": ""}],
    )
    assert [s["Id"] for s in sent["Successful"]] == ["a"]
    assert [(f["Id"], f["Code"]) for f in sent["Failed"]] == [("b", "MissingParameter")]
    handle = services.sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    deleted = services.sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "x", "ReceiptHandle": handle}, {"Id": "y", "ReceiptHandle": "junk"}],
    )
    assert [s["Id"] for s in deleted["Successful"]] == ["x"]
    assert [f["Code"] for f in deleted["Failed"]] == ["ReceiptHandleIsInvalid"]


def test_a_receipt_handle_belongs_to_its_queue(services: Services) -> None:
    one, other = queue(services, "one"), queue(services, "other")
    services.sqs.send_message(QueueUrl=one, MessageBody="m")
    handle = services.sqs.receive_message(QueueUrl=one)["Messages"][0]["ReceiptHandle"]
    code = error_code(services.sqs.delete_message, QueueUrl=other, ReceiptHandle=handle)
    assert code == "ReceiptHandleIsInvalid"


def test_retention_period_drops_old_messages(services: Services, clock: Clock) -> None:
    url = queue(services, MessageRetentionPeriod="60")
    services.sqs.send_message(QueueUrl=url, MessageBody="old")
    clock.now += 60
    assert "Messages" not in services.sqs.receive_message(QueueUrl=url)


def test_purge_delete_tags_and_set_attributes(services: Services) -> None:
    url = queue(services)
    services.sqs.send_message(QueueUrl=url, MessageBody="m")
    services.sqs.purge_queue(QueueUrl=url)
    assert "Messages" not in services.sqs.receive_message(QueueUrl=url)
    services.sqs.tag_queue(QueueUrl=url, Tags={"team": "c"})
    assert services.sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "c"}
    services.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "45"})
    shown = services.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    assert shown["Attributes"] == {"VisibilityTimeout": "45"}
    services.sqs.delete_queue(QueueUrl=url)
    assert services.sqs.list_queues() == {"ResponseMetadata": {"HTTPStatusCode": 200}}


def test_queues_survive_a_restart_on_sqlite(tmp_path: Path, clock: Clock) -> None:
    path = str(tmp_path / "queues.db")
    store = open_sqlite(path)
    url = queue(Services(store, clock))
    Services(store, clock).sqs.send_message(QueueUrl=url, MessageBody="durable")
    store.close()
    reopened = open_sqlite(path)
    [message] = Services(reopened, clock).sqs.receive_message(QueueUrl=url)["Messages"]
    reopened.close()
    assert message["Body"] == "durable"


def test_odd_requests_are_refused_or_tolerated_as_sqs_does(services: Services) -> None:
    url = queue(services)
    assert error_code(services.sqs.send_message, QueueUrl=url, MessageBody={"not": "text"}) == (
        "InvalidParameterValue"
    )
    assert error_code(services.sqs.receive_message, QueueUrl=url, VisibilityTimeout="soon") == (
        "InvalidParameterValue"
    )
    for policy in ("not json", json.dumps({"deadLetterTargetArn": "x", "maxReceiveCount": 0})):
        code = error_code(
            services.sqs.set_queue_attributes, QueueUrl=url, Attributes={"RedrivePolicy": policy}
        )
        assert code == "InvalidAttributeValue"
    assert md5_of_attributes({"b": {"DataType": "Binary", "BinaryValue": b"\x01"}}) == (
        md5_of_attributes({"b": {"DataType": "Binary", "BinaryValue": "AQ=="}})
    )


def test_a_message_whose_dead_letter_queue_is_gone_is_dropped(services: Services) -> None:
    dlq = queue(services, "dlq")
    policy = json.dumps(
        {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:1:dlq", "maxReceiveCount": 1}
    )
    url = queue(services, "work", RedrivePolicy=policy)
    services.sqs.send_message(QueueUrl=url, MessageBody="m")
    services.sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)
    services.sqs.delete_queue(QueueUrl=dlq)
    assert "Messages" not in services.sqs.receive_message(QueueUrl=url)
    assert services.sqs.list_queues(QueueNamePrefix="w")["QueueUrls"] == [url]


def test_exceptions_namespace_offers_client_error(services: Services) -> None:
    assert services.sqs.exceptions.ClientError is ClientError
    assert issubclass(services.sqs.exceptions.QueueDoesNotExist, ClientError)
