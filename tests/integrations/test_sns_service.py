"""The embedded SNS: topics, subscriptions and delivery to queues, HTTP endpoints,
functions and the email outbox. Sources: Amazon SNS API Reference ("CreateTopic",
"Subscribe", "Publish") and Developer Guide ("Amazon SNS message and JSON formats",
"Amazon SNS raw message delivery", "Invoking Lambda functions using Amazon SNS
notifications" for the event shape)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from integration_helpers import Received, Reply, local_server

from stepwell.integrations.functions import FunctionRegistry
from stepwell.integrations.services import Services


def clock() -> float:
    return 1_700_000_000.25


@pytest.fixture
def services() -> Services:
    return Services(clock=clock)


def topic(services: Services, name: str = "notifications") -> str:
    arn: str = services.sns.create_topic(Name=name)["TopicArn"]
    return arn


def queue_arn(services: Services, name: str) -> tuple[str, str]:
    url = services.sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = services.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return url, arn["Attributes"]["QueueArn"]


def test_topic_arn_and_idempotent_create(services: Services) -> None:
    arn = topic(services)
    assert arn == "arn:aws:sns:us-east-1:123456789012:notifications"
    assert topic(services) == arn
    assert services.sns.list_topics()["Topics"] == [{"TopicArn": arn}]


def test_fan_out_to_a_queue_as_the_notification_envelope(services: Services) -> None:
    arn = topic(services)
    url, queue = queue_arn(services, "audit")
    subscription = services.sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue)
    published = services.sns.publish(
        TopicArn=arn,
        Message="done",
        Subject="Batch",
        MessageAttributes={"level": {"DataType": "String", "StringValue": "info"}},
    )
    [message] = services.sqs.receive_message(QueueUrl=url)["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["Type"] == "Notification"
    assert envelope["MessageId"] == published["MessageId"]
    assert (envelope["TopicArn"], envelope["Subject"], envelope["Message"]) == (
        arn,
        "Batch",
        "done",
    )
    assert envelope["Timestamp"] == "2023-11-14T22:13:20.250Z"
    assert envelope["SignatureVersion"] == "1"
    assert envelope["UnsubscribeURL"].endswith(
        f"Action=Unsubscribe&SubscriptionArn={subscription['SubscriptionArn']}"
    )
    assert envelope["MessageAttributes"] == {"level": {"Type": "String", "Value": "info"}}


def test_raw_delivery_sends_the_bare_message_with_its_attributes(services: Services) -> None:
    arn = topic(services)
    url, queue = queue_arn(services, "raw")
    services.sns.subscribe(
        TopicArn=arn, Protocol="sqs", Endpoint=queue, Attributes={"RawMessageDelivery": "true"}
    )
    services.sns.publish(
        TopicArn=arn,
        Message="plain",
        MessageAttributes={"n": {"DataType": "Number", "StringValue": "3"}},
    )
    [message] = services.sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert message["Body"] == "plain"
    assert message["MessageAttributes"] == {"n": {"DataType": "Number", "StringValue": "3"}}


def test_email_lands_in_the_outbox(services: Services) -> None:
    arn = topic(services)
    services.sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="ops@example.com")
    services.sns.subscribe(TopicArn=arn, Protocol="email-json", Endpoint="bot@example.com")
    services.sns.publish(TopicArn=arn, Message="Reprocessing finished")
    [mail] = services.sns.outbox("ops@example.com")
    assert (mail["To"], mail["Subject"], mail["Body"]) == (
        "ops@example.com",
        "AWS Notification Message",
        "Reprocessing finished",
    )
    [json_mail] = services.sns.outbox("bot@example.com")
    assert json.loads(json_mail["Body"])["Message"] == "Reprocessing finished"
    assert len(services.sns.outbox()) == 2


def test_lambda_subscription_calls_the_python_function() -> None:
    events: list[Any] = []
    functions = FunctionRegistry({"notify": events.append})
    services = Services(clock=clock, functions=functions)
    arn = topic(services)
    endpoint = "arn:aws:lambda:us-east-1:123456789012:function:notify"
    services.sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint=endpoint)
    services.sns.publish(TopicArn=arn, Message="hi")
    [record] = events[0]["Records"]
    assert (record["EventSource"], record["Sns"]["Message"]) == ("aws:sns", "hi")
    assert record["Sns"]["UnsubscribeUrl"].startswith("https://sns.us-east-1.amazonaws.com/")
    assert record["Sns"]["MessageAttributes"] == {}


def test_http_subscription_posts_the_notification() -> None:
    def accept(received: Received) -> Reply:
        return 200, {}, b""

    with local_server(accept) as server:
        services = Services(clock=clock)
        arn = topic(services)
        services.sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=server.url + "/hook")
        published = services.sns.publish(TopicArn=arn, Message="ping")
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.headers["x-amz-sns-message-type"] == "Notification"
    assert request.headers["x-amz-sns-message-id"] == published["MessageId"]
    assert request.json()["Message"] == "ping"


def test_message_structure_json_picks_each_protocol(services: Services) -> None:
    arn = topic(services)
    url, queue = queue_arn(services, "q")
    services.sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue)
    services.sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="a@example.com")
    message = json.dumps({"default": "for everyone", "email": "for email"})
    services.sns.publish(TopicArn=arn, Message=message, MessageStructure="json")
    body = json.loads(services.sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"])
    assert body["Message"] == "for everyone"
    assert services.sns.outbox()[0]["Body"] == "for email"


def test_failed_deliveries_are_recorded_not_raised() -> None:
    def refuse(received: Received) -> Reply:
        return 500, {}, b"no"

    with local_server(refuse) as server:
        services = Services(clock=clock)
        arn = topic(services)
        services.sns.subscribe(TopicArn=arn, Protocol="https", Endpoint=server.url)
        services.sns.subscribe(
            TopicArn=arn, Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:123456789012:gone"
        )
        services.sns.subscribe(
            TopicArn=arn, Protocol="lambda", Endpoint="arn:aws:lambda:us-east-1:1:function:f"
        )
        services.sns.publish(TopicArn=arn, Message="m")
    failures = services.sns.failed_deliveries()
    assert sorted(f["Protocol"] for f in failures) == ["https", "lambda", "sqs"]


def test_subscriptions_list_dedupe_and_unsubscribe(services: Services) -> None:
    arn = topic(services)
    first = services.sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="a@example.com")
    again = services.sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="a@example.com")
    assert first["SubscriptionArn"] == again["SubscriptionArn"]
    listed = services.sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert [s["Endpoint"] for s in listed] == ["a@example.com"]
    attributes = services.sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["SubscriptionsConfirmed"] == "1"
    services.sns.unsubscribe(SubscriptionArn=first["SubscriptionArn"])
    services.sns.publish(TopicArn=arn, Message="m")
    assert services.sns.outbox() == []
    services.sns.delete_topic(TopicArn=arn)
    assert services.sns.list_topics()["Topics"] == []


@pytest.mark.parametrize(
    ("operation", "request_", "code"),
    [
        (
            "publish",
            {"TopicArn": "arn:aws:sns:us-east-1:123456789012:none", "Message": "m"},
            "NotFound",
        ),
        ("publish", {"TopicArn": "TOPIC", "Message": ""}, "InvalidParameter"),
        (
            "publish",
            {"TopicArn": "TOPIC", "Message": "{}", "MessageStructure": "json"},
            "InvalidParameter",
        ),
        ("publish", {"Message": "m"}, "InvalidParameter"),
        ("create_topic", {"Name": "bad name"}, "InvalidParameter"),
        (
            "subscribe",
            {"TopicArn": "TOPIC", "Protocol": "fax", "Endpoint": "1"},
            "InvalidParameter",
        ),
        ("subscribe", {"TopicArn": "TOPIC", "Protocol": "email"}, "InvalidParameter"),
    ],
)
def test_errors_carry_the_codes_boto3_reports(
    services: Services, operation: str, request_: dict[str, Any], code: str
) -> None:
    arn = topic(services)
    request = {k: (arn if v == "TOPIC" else v) for k, v in request_.items()}
    with pytest.raises(ClientError) as caught:
        getattr(services.sns, operation)(**request)
    assert caught.value.response["Error"]["Code"] == code


def test_odd_messages_and_deliveries() -> None:
    failing = FunctionRegistry({"boom": lambda event: 1 / 0})
    services = Services(clock=clock, functions=failing)
    arn = topic(services)
    with pytest.raises(ClientError):
        services.sns.publish(TopicArn=arn, Message={"not": "text"})
    with pytest.raises(ClientError):
        services.sns.publish(TopicArn=arn, Message="not json", MessageStructure="json")
    url, queue = queue_arn(services, "raw")
    services.sns.subscribe(
        TopicArn=arn, Protocol="sqs", Endpoint=queue, Attributes={"RawMessageDelivery": "true"}
    )
    services.sns.subscribe(
        TopicArn=arn, Protocol="lambda", Endpoint="arn:aws:lambda:us-east-1:1:function:boom"
    )
    services.sns.publish(
        TopicArn=arn,
        Message="m",
        MessageAttributes={"b": {"DataType": "Binary", "BinaryValue": "AQ=="}},
    )
    [message] = services.sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert message["MessageAttributes"] == {"b": {"DataType": "Binary", "BinaryValue": "AQ=="}}
    [failure] = services.sns.failed_deliveries()
    assert failure["Error"].startswith("RuntimeError: ZeroDivisionError")
    services.sns.unsubscribe(SubscriptionArn=arn.replace("notifications", "gone") + ":x")


def test_raw_http_delivery_posts_the_bare_message() -> None:
    with local_server(lambda received: (200, {}, b"")) as server:
        services = Services(clock=clock)
        arn = topic(services)
        services.sns.subscribe(
            TopicArn=arn,
            Protocol="http",
            Endpoint=server.url,
            Attributes={"RawMessageDelivery": "true"},
        )
        services.sns.publish(TopicArn=arn, Message="bare")
    [request] = server.requests
    assert (request.body, request.headers["x-amz-sns-rawdelivery"]) == (b"bare", "true")


def test_private_attributes_are_not_exceptions(services: Services) -> None:
    with pytest.raises(AttributeError):
        services.sns.exceptions._hidden  # noqa: B018
