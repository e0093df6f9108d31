"""The operations added for the service APIs, called as Task states and the API call
them (``client.call``): DynamoDB batches and TransactGetItems, SQS FIFO rules, SNS
subscription attributes and batches. Rules from the services' API References."""

from __future__ import annotations

from typing import Any

import pytest

from stepwell.integrations.services import ServiceError, Services

KEY = {
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}


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
    services = Services(clock=clock)
    for name in ("alpha", "beta"):
        services.dynamodb.call("CreateTable", {"TableName": name, **KEY})
    return services


def keys(count: int, prefix: str = "k") -> list[dict[str, Any]]:
    return [{"pk": {"S": f"{prefix}{n}"}} for n in range(count)]


@pytest.mark.parametrize(
    ("operation", "request_", "message"),
    [
        ("BatchGetItem", {"RequestItems": {"alpha": {"Keys": keys(60)},
                                          "beta": {"Keys": keys(41)}}},
         "Too many items requested for the BatchGetItem call"),
        ("BatchWriteItem", {"RequestItems": {
            "alpha": [{"PutRequest": {"Item": k}} for k in keys(13)],
            "beta": [{"PutRequest": {"Item": k}} for k in keys(13)]}},
         "Too many items requested for the BatchWriteItem call"),
        ("BatchWriteItem", {"RequestItems": {"alpha": [
            {"PutRequest": {"Item": {"pk": {"S": "a"}, "x": {"S": "1"}}}},
            {"DeleteRequest": {"Key": {"pk": {"S": "a"}}}}]}},
         "Provided list of item keys contains duplicates"),
        ("BatchWriteItem", {"RequestItems": {"alpha": [{}]}}, "more than one datatypes"),
        ("BatchGetItem", {}, "requestItems"),
        ("TransactGetItems", {"TransactItems": []}, "Member must have length between 1 and 100"),
        ("TransactGetItems", {"TransactItems": [
            {"Get": {"TableName": "alpha", "Key": {"pk": {"S": "a"}}}},
            {"Get": {"TableName": "alpha", "Key": {"pk": {"S": "a"}}}}]},
         "multiple operations on one item"),
    ],
)  # fmt: skip
def test_batch_limits(
    services: Services, operation: str, request_: dict[str, Any], message: str
) -> None:
    with pytest.raises(ServiceError, match=message) as caught:
        services.dynamodb.call(operation, request_)
    assert caught.value.exception == "ValidationException"


def test_a_failed_batch_write_writes_nothing(services: Services) -> None:
    writes = [{"PutRequest": {"Item": {"pk": {"S": "ok"}}}}, {"PutRequest": {"Item": {}}}]
    with pytest.raises(ServiceError):
        services.dynamodb.call("BatchWriteItem", {"RequestItems": {"alpha": writes}})
    assert services.dynamodb.call("Scan", {"TableName": "alpha"})["Count"] == 0


def test_update_table_deletion_protection(services: Services) -> None:
    services.dynamodb.call("UpdateTable", {"TableName": "alpha", "DeletionProtectionEnabled": True})
    with pytest.raises(ServiceError, match="protected against deletion"):
        services.dynamodb.call("DeleteTable", {"TableName": "alpha"})


# --- SQS FIFO (Developer Guide, "Amazon SQS FIFO queues") ------------------------------


def fifo(services: Services, **attributes: str) -> str:
    request = {"QueueName": "q.fifo", "Attributes": {"FifoQueue": "true", **attributes}}
    return str(services.sqs.call("CreateQueue", request)["QueueUrl"])


def test_fifo_boolean_attributes(services: Services) -> None:
    with pytest.raises(ServiceError) as caught:
        fifo(services, ContentBasedDeduplication="maybe")
    assert caught.value.exception == "InvalidAttributeValue"
    url = fifo(services, ContentBasedDeduplication="TRUE", DeduplicationScope="messageGroup")
    attributes = services.sqs.call(
        "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["All"]}
    )
    assert attributes["Attributes"]["ContentBasedDeduplication"] == "true"
    assert attributes["Attributes"]["DeduplicationScope"] == "messageGroup"


def test_fifo_deduplication_lasts_five_minutes(services: Services, clock: Clock) -> None:
    url = fifo(services)
    send = {
        "QueueUrl": url,
        "MessageBody": "m",
        "MessageGroupId": "g",
        "MessageDeduplicationId": "d",
    }
    first = services.sqs.call("SendMessage", send)
    assert services.sqs.call("SendMessage", send)["MessageId"] == first["MessageId"]
    clock.now += 301
    assert services.sqs.call("SendMessage", send)["MessageId"] != first["MessageId"]


def test_deleting_a_fifo_queue_forgets_its_deduplication_ids(services: Services) -> None:
    url = fifo(services)
    send = {
        "QueueUrl": url,
        "MessageBody": "m",
        "MessageGroupId": "g",
        "MessageDeduplicationId": "d",
    }
    first = services.sqs.call("SendMessage", send)
    services.sqs.call("DeleteQueue", {"QueueUrl": url})
    url = fifo(services)
    assert services.sqs.call("SendMessage", send)["MessageId"] != first["MessageId"]


def test_long_poll_listeners_hear_of_sends(services: Services) -> None:
    heard: list[str] = []
    services.sqs.listeners.append(heard.append)
    url = services.sqs.call("CreateQueue", {"QueueName": "heard"})["QueueUrl"]
    services.sqs.call("SendMessage", {"QueueUrl": url, "MessageBody": "x"})
    services.sqs.call(
        "SendMessageBatch", {"QueueUrl": url, "Entries": [{"Id": "1", "MessageBody": "y"}]}
    )
    assert heard == ["heard", "heard"]


# --- SNS ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"Colour": "blue"}, "AttributeName"),
        ({"FilterPolicyScope": "Headers"}, "FilterPolicyScope"),
        ({"RawMessageDelivery": "sometimes"}, "RawMessageDelivery"),
        ({"FilterPolicy": '{"a": [{"numeric": [">", "x"]}]}'}, "numeric"),
        ({"FilterPolicy": '{"$or": "x"}'}, "\\$or"),
    ],
)
def test_subscription_attributes_are_checked(
    services: Services, attributes: dict[str, str], message: str
) -> None:
    topic = services.sns.call("CreateTopic", {"Name": "t"})["TopicArn"]
    request = {
        "TopicArn": topic,
        "Protocol": "email",
        "Endpoint": "a@b.c",
        "Attributes": attributes,
    }
    with pytest.raises(ServiceError, match=message) as caught:
        services.sns.call("Subscribe", request)
    assert caught.value.code == "InvalidParameter"


def test_subscription_attributes_of_an_unknown_subscription(services: Services) -> None:
    with pytest.raises(ServiceError) as caught:
        services.sns.call("GetSubscriptionAttributes", {"SubscriptionArn": "arn:aws:sns:x:1:t:s"})
    assert caught.value.code == "NotFound"


@pytest.mark.parametrize(
    ("entries", "code"),
    [
        ([], "EmptyBatchRequest"),
        ([{"Id": str(n), "Message": "m"} for n in range(11)], "TooManyEntriesInBatchRequest"),
    ],
)
def test_publish_batch_limits(services: Services, entries: list[Any], code: str) -> None:
    topic = services.sns.call("CreateTopic", {"Name": "t"})["TopicArn"]
    with pytest.raises(ServiceError) as caught:
        services.sns.call(
            "PublishBatch", {"TopicArn": topic, "PublishBatchRequestEntries": entries}
        )
    assert caught.value.code == code
