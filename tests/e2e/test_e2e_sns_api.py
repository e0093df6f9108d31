"""End to end: the SNS API (query protocol, XML responses) on Stepwell's endpoint, through
boto3 and the AWS CLI against a real server on SQLite: topics, subscriptions to SQS
queues, Lambda functions, HTTP endpoints and email (the outbox), publishing with
message attributes, filter policies and raw message delivery (issue 11; Amazon SNS
Developer Guide, "Amazon SNS message delivery" and "Amazon SNS message filtering")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stepwell.service.host import Host
from tests.e2e.server import aws_cli, running_host, service_client, serving

RECEIVED_EVENTS: list[Any] = []


def on_notification(event: Any) -> dict[str, Any]:
    RECEIVED_EVENTS.append(event)
    return {}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Host]]:
    folder = tmp_path_factory.mktemp("sns")
    with running_host(folder, {"on-notification": on_notification}) as (url, host):
        yield url, folder, host


@pytest.fixture(scope="module")
def sns(server: tuple[str, Path, Host]) -> Any:
    return service_client(server[0], "sns")


@pytest.fixture(scope="module")
def sqs(server: tuple[str, Path, Host]) -> Any:
    return service_client(server[0], "sqs")


def queue_with_arn(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return url, arn["Attributes"]["QueueArn"]


def bodies(sqs: Any, url: str) -> list[str]:
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", [])
    return [m["Body"] for m in messages]


def test_topics_and_subscriptions(sns: Any, sqs: Any) -> None:
    arn = sns.create_topic(Name="lifecycle")["TopicArn"]
    assert arn == "arn:aws:sns:us-east-1:123456789012:lifecycle"
    assert sns.create_topic(Name="lifecycle")["TopicArn"] == arn  # idempotent
    assert {"TopicArn": arn} in sns.list_topics()["Topics"]
    _, queue_arn = queue_with_arn(sqs, "lifecycle-queue")
    subscription = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
    by_topic = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert [s["Endpoint"] for s in by_topic] == [queue_arn]
    everything = sns.list_subscriptions()["Subscriptions"]
    assert subscription["SubscriptionArn"] in [s["SubscriptionArn"] for s in everything]
    sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
    assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []
    sns.delete_topic(TopicArn=arn)
    assert {"TopicArn": arn} not in sns.list_topics()["Topics"]
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.publish(TopicArn=arn, Message="gone")


def test_publish_to_a_queue_as_a_notification_envelope(sns: Any, sqs: Any) -> None:
    arn = sns.create_topic(Name="envelopes")["TopicArn"]
    url, queue_arn = queue_with_arn(sqs, "envelopes")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
    published = sns.publish(
        TopicArn=arn,
        Message="all done",
        Subject="Report",
        MessageAttributes={"status": {"DataType": "String", "StringValue": "SUCCEEDED"}},
    )
    [body] = bodies(sqs, url)
    envelope = json.loads(body)
    assert envelope["Type"] == "Notification"
    assert envelope["MessageId"] == published["MessageId"]
    assert envelope["Message"] == "all done" and envelope["Subject"] == "Report"
    assert envelope["MessageAttributes"] == {"status": {"Type": "String", "Value": "SUCCEEDED"}}


def test_raw_message_delivery(sns: Any, sqs: Any) -> None:
    arn = sns.create_topic(Name="raw")["TopicArn"]
    url, queue_arn = queue_with_arn(sqs, "raw")
    subscription = sns.subscribe(
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    assert attributes["RawMessageDelivery"] == "true" and attributes["TopicArn"] == arn
    sns.publish(
        TopicArn=arn,
        Message='{"id": 1}',
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"}},
    )
    message = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"][0]
    assert message["Body"] == '{"id": 1}'
    assert message["MessageAttributes"]["kind"]["StringValue"] == "order"
    sns.set_subscription_attributes(
        SubscriptionArn=subscription, AttributeName="RawMessageDelivery", AttributeValue="false"
    )
    sns.publish(TopicArn=arn, Message="wrapped")
    assert json.loads(bodies(sqs, url)[0])["Message"] == "wrapped"


def test_filter_policies_on_attributes_and_body(sns: Any, sqs: Any) -> None:
    arn = sns.create_topic(Name="filtered")["TopicArn"]
    failures, failures_arn = queue_with_arn(sqs, "failures")
    large, large_arn = queue_with_arn(sqs, "large-orders")
    sns.subscribe(
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=failures_arn,
        Attributes={
            "FilterPolicy": json.dumps({"status": ["FAILED", {"prefix": "TIMED"}]}),
            "RawMessageDelivery": "true",
        },
    )
    sns.subscribe(
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=large_arn,
        Attributes={
            "FilterPolicy": json.dumps({"order": {"total": [{"numeric": [">=", 100]}]}}),
            "FilterPolicyScope": "MessageBody",
            "RawMessageDelivery": "true",
        },
    )
    for status in ("SUCCEEDED", "FAILED", "TIMED_OUT"):
        sns.publish(
            TopicArn=arn,
            Message=json.dumps({"order": {"total": 50}}),
            MessageAttributes={"status": {"DataType": "String", "StringValue": status}},
        )
    sns.publish(TopicArn=arn, Message=json.dumps({"order": {"total": 150}}))
    assert len(bodies(sqs, failures)) == 2
    assert [json.loads(b)["order"]["total"] for b in bodies(sqs, large)] == [150]


def test_an_invalid_filter_policy_is_refused_at_subscribe(sns: Any) -> None:
    arn = sns.create_topic(Name="strict")["TopicArn"]
    with pytest.raises(sns.exceptions.InvalidParameterException, match="FilterPolicy"):
        sns.subscribe(
            TopicArn=arn,
            Protocol="sqs",
            Endpoint="arn:aws:sqs:us-east-1:123456789012:any",
            Attributes={"FilterPolicy": json.dumps({"status": [{"bogus": 1}]})},
        )


def test_publish_batch(sns: Any, sqs: Any) -> None:
    arn = sns.create_topic(Name="batched")["TopicArn"]
    url, queue_arn = queue_with_arn(sqs, "batched")
    sns.subscribe(
        TopicArn=arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    result = sns.publish_batch(
        TopicArn=arn,
        PublishBatchRequestEntries=[
            {"Id": "one", "Message": "first"},
            {"Id": "two", "Message": "second"},
            {"Id": "bad", "Message": ""},
        ],
    )
    assert sorted(e["Id"] for e in result["Successful"]) == ["one", "two"]
    assert result["Failed"][0]["Id"] == "bad" and result["Failed"][0]["SenderFault"]
    assert sorted(bodies(sqs, url)) == ["first", "second"]
    with pytest.raises(sns.exceptions.BatchEntryIdsNotDistinctException):
        sns.publish_batch(
            TopicArn=arn,
            PublishBatchRequestEntries=[{"Id": "x", "Message": "a"}, {"Id": "x", "Message": "b"}],
        )


def test_email_lambda_and_http_subscriptions(server: tuple[str, Path, Host], sns: Any) -> None:
    posts: list[tuple[dict[str, str], bytes]] = []

    async def receive(request: Request) -> Response:
        posts.append((dict(request.headers), await request.body()))
        return Response("ok")

    arn = sns.create_topic(Name="everyone")["TopicArn"]
    function = "arn:aws:lambda:us-east-1:123456789012:function:on-notification"
    sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="ops@example.com")
    sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint=function)
    with serving(Starlette(routes=[Route("/hook", receive, methods=["POST"])])) as hook:
        sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=f"{hook}/hook")
        sns.publish(TopicArn=arn, Message="deploy finished", Subject="Deploy")
    mails = server[2].services.sns.outbox("ops@example.com")
    assert [(m["Subject"], m["Body"]) for m in mails] == [("Deploy", "deploy finished")]
    assert RECEIVED_EVENTS[-1]["Records"][0]["Sns"]["Message"] == "deploy finished"
    headers, body = posts[0]
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert json.loads(body)["Message"] == "deploy finished"


def test_errors_are_query_protocol_xml(server: tuple[str, Path, Host]) -> None:
    response = httpx.post(
        server[0],
        data={
            "Action": "Publish",
            "Version": "2010-03-31",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:nowhere",
            "Message": "m",
        },
    )
    assert response.status_code == 404
    assert "<Code>NotFound</Code>" in response.text and "<Type>Sender</Type>" in response.text
    invalid = httpx.post(server[0], data={"Action": "Subscribe", "Version": "2010-03-31"})
    assert invalid.status_code == 400 and "<Code>ValidationError</Code>" in invalid.text


def test_unsupported_protocol(sns: Any) -> None:
    arn = sns.create_topic(Name="protocols")["TopicArn"]
    with pytest.raises(sns.exceptions.InvalidParameterException, match="protocol"):
        sns.subscribe(TopicArn=arn, Protocol="carrier-pigeon", Endpoint="coop")


def test_aws_cli_round_trip(server: tuple[str, Path, Host], tmp_path: Path) -> None:
    url = server[0]
    topic = aws_cli(url, tmp_path, "sns", "create-topic", "--name", "cli-topic")["TopicArn"]
    published = aws_cli(url, tmp_path, "sns", "publish", "--topic-arn", topic, "--message", "hi")
    assert published["MessageId"]
    listed = aws_cli(url, tmp_path, "sns", "list-topics")
    assert {"TopicArn": topic} in listed["Topics"]
