"""End to end: the SQS API on Stepwell's endpoint, in its JSON protocol (current boto3,
``AmazonSQS.*``) and its query protocol (older SDKs), through boto3, botocore and the
AWS CLI against a real server on SQLite, on the queues the ``sqs:*`` Tasks use (issue 11).

Rules from the Amazon SQS Developer Guide: visibility timeout, delay queues,
dead-letter queues after ``maxReceiveCount``, long polling, FIFO deduplication and
message groups; boto3 itself checks ``MD5OfMessageBody`` and ``MD5OfMessageAttributes``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import httpx
import pytest
from botocore.loaders import Loader

from stepwell.api import create_app
from stepwell.api.settings import ApiSettings
from stepwell.service.host import Host
from stepwell.service.settings import Settings
from tests.e2e.server import (
    CONFIG,
    ROLE,
    aws_cli,
    client,
    running_host,
    service_client,
    serving,
    wait_until_done,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("sqs")
    with running_host(folder, {}) as (url, _):
        yield url, folder


@pytest.fixture(scope="module")
def sqs(server: tuple[str, Path]) -> Any:
    return service_client(server[0], "sqs")


def test_queue_urls_point_back_at_the_endpoint(server: tuple[str, Path], sqs: Any) -> None:
    url = sqs.create_queue(QueueName="urls")["QueueUrl"]
    assert url == f"{server[0]}/123456789012/urls"
    assert sqs.get_queue_url(QueueName="urls")["QueueUrl"] == url
    assert url in sqs.list_queues(QueueNamePrefix="url")["QueueUrls"]
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as caught:
        sqs.get_queue_url(QueueName="urls")
    assert caught.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"


def test_send_receive_delete_with_attributes_and_md5s(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    attributes = {
        "kind": {"DataType": "String", "StringValue": "order"},
        "count": {"DataType": "Number", "StringValue": "3"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\x02"},
    }
    body = 'line one\r\nline two & <three> "quoted"'
    sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
    assert sent["MD5OfMessageAttributes"]  # boto3 has compared both digests already
    received = sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert [m["Body"] for m in received] == [body]
    assert received[0]["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01\x02"
    assert received[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    # In flight for the visibility timeout: a second receive sees nothing.
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert counts["VisibilityTimeout"] == "60"
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"], VisibilityTimeout=0
    )
    again = sqs.receive_message(QueueUrl=url)["Messages"][0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "0"


def test_batches(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="batches")["QueueUrl"]
    entries = [{"Id": f"m{n}", "MessageBody": f"body {n}"} for n in range(3)]
    sent = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert sorted(e["Id"] for e in sent["Successful"]) == ["m0", "m1", "m2"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 3
    handles = [{"Id": f"h{n}", "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
    changed = sqs.change_message_visibility_batch(
        QueueUrl=url, Entries=[{**h, "VisibilityTimeout": 0} for h in handles]
    )
    assert len(changed["Successful"]) == 3
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    deleted = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": f"d{n}", "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)
        ]
        + [{"Id": "bad", "ReceiptHandle": "not-a-handle"}],
    )
    assert len(deleted["Successful"]) == 3
    assert deleted["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    with pytest.raises(sqs.exceptions.TooManyEntriesInBatchRequest):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": f"m{n}", "MessageBody": "x"} for n in range(11)]
        )


def test_set_attributes_purge_and_delay(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="delayed", Attributes={"DelaySeconds": "900"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="later")
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # delayed for 15 minutes
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attributes == {"ApproximateNumberOfMessagesDelayed": "1"}
    sqs.purge_queue(QueueUrl=url)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "0"})
    sqs.send_message(QueueUrl=url, MessageBody="now")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["now"]


def test_dead_letter_queue_after_max_receive_count(sqs: Any) -> None:
    dead = sqs.create_queue(QueueName="dead")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])
    policy = {"deadLetterTargetArn": dead_arn["Attributes"]["QueueArn"], "maxReceiveCount": 2}
    url = sqs.create_queue(
        QueueName="work",
        Attributes={"RedrivePolicy": json.dumps(policy), "VisibilityTimeout": "0"},
    )["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    for _ in range(2):
        assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "poison"
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # moved on the third receive
    assert sqs.receive_message(QueueUrl=dead)["Messages"][0]["Body"] == "poison"


def test_fifo_deduplication_and_message_groups(sqs: Any) -> None:
    url = sqs.create_queue(
        QueueName="jobs.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    first = sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="a")
    duplicate = sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="a")
    assert duplicate["MessageId"] == first["MessageId"]
    assert duplicate["SequenceNumber"] == first["SequenceNumber"]
    sqs.send_message(QueueUrl=url, MessageBody="a2", MessageGroupId="a")
    sqs.send_message(QueueUrl=url, MessageBody="b1", MessageGroupId="b", MessageDeduplicationId="x")
    received = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=1, MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert [m["Body"] for m in received] == ["a1"]
    assert received[0]["Attributes"]["MessageGroupId"] == "a"
    # a1 is in flight: a2 waits behind it, group b is free.
    more = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in more] == ["b1"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["a2"]


@pytest.mark.parametrize(
    ("send", "code"),
    [
        ({"MessageBody": "x"}, "MissingParameter"),  # no MessageGroupId
        ({"MessageBody": "x", "MessageGroupId": "g"}, "InvalidParameterValue"),  # no dedup id
        (
            {
                "MessageBody": "x",
                "MessageGroupId": "g",
                "MessageDeduplicationId": "d",
                "DelaySeconds": 5,
            },
            "InvalidParameterValue",
        ),
    ],
)
def test_fifo_sends_aws_refuses(sqs: Any, send: dict[str, Any], code: str) -> None:
    url = sqs.create_queue(QueueName="strict.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    with pytest.raises(sqs.exceptions.ClientError) as caught:
        sqs.send_message(QueueUrl=url, **send)
    assert caught.value.response["Error"]["Code"] == code


def test_fifo_queue_names(sqs: Any) -> None:
    with pytest.raises(sqs.exceptions.ClientError, match=r"must end with \.fifo"):
        sqs.create_queue(QueueName="no-suffix", Attributes={"FifoQueue": "true"})
    with pytest.raises(sqs.exceptions.ClientError, match="alphanumeric"):
        sqs.create_queue(QueueName="standard.fifo")


def test_long_poll_wakes_on_send(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="long-poll")["QueueUrl"]
    results: list[Any] = []
    polling = threading.Thread(
        target=lambda: results.append(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20))
    )
    polling.start()
    sqs.send_message(QueueUrl=url, MessageBody="wake up")
    polling.join(30)
    assert [m["Body"] for m in results[0]["Messages"]] == ["wake up"]


def test_the_queue_default_wait_time_applies(sqs: Any) -> None:
    url = sqs.create_queue(
        QueueName="waiting-queue", Attributes={"ReceiveMessageWaitTimeSeconds": "20"}
    )["QueueUrl"]
    results: list[Any] = []
    polling = threading.Thread(target=lambda: results.append(sqs.receive_message(QueueUrl=url)))
    polling.start()
    sqs.send_message(QueueUrl=url, MessageBody="was waited for")
    polling.join(30)
    assert [m["Body"] for m in results[0]["Messages"]] == ["was waited for"]


def test_long_poll_that_finds_nothing_returns_empty(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="quiet")["QueueUrl"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)


def test_long_polls_hold_no_worker_thread(tmp_path: Path) -> None:
    """With one worker thread, a send still gets through while a long poll waits."""
    host = Host(Settings(db=str(tmp_path / "stepwell.db"), workers=0))
    try:
        with serving(create_app(host.service, ApiSettings(worker_threads=1))) as url:
            sqs = service_client(url, "sqs")
            queue = sqs.create_queue(QueueName="one-thread")["QueueUrl"]
            results: list[Any] = []
            polling = threading.Thread(
                target=lambda: results.append(
                    sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=20)
                )
            )
            polling.start()
            sqs.send_message(QueueUrl=queue, MessageBody="through")
            polling.join(30)
            assert [m["Body"] for m in results[0]["Messages"]] == ["through"]
    finally:
        host.stop()


def test_errors_in_the_json_protocol(server: tuple[str, Path]) -> None:
    response = httpx.post(
        server[0],
        headers={
            "X-Amz-Target": "AmazonSQS.GetQueueUrl",
            "Content-Type": "application/x-amz-json-1.0",
        },
        content=json.dumps({"QueueName": "absent"}),
    )
    assert response.status_code == 400
    assert response.json()["__type"] == "com.amazonaws.sqs#QueueDoesNotExist"
    assert (
        response.headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    )


def test_a_wait_for_task_token_message_is_received_with_boto3(
    server: tuple[str, Path], sqs: Any
) -> None:
    url = sqs.create_queue(QueueName="callbacks")["QueueUrl"]
    definition = {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {
                    "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/callbacks",
                    "MessageBody": {"Input.$": "$", "TaskToken.$": "$$.Task.Token"},
                },
                "TimeoutSeconds": 300,
                "End": True,
            }
        },
    }
    sfn = client(server[0])
    arn = sfn.create_state_machine(
        name="callback", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"order": 7}))
    message = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20)["Messages"][0]
    body = json.loads(message["Body"])
    assert body["Input"] == {"order": 7}
    sfn.send_task_success(taskToken=body["TaskToken"], output=json.dumps({"ok": True}))
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    done = wait_until_done(sfn, execution["executionArn"])
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"ok": True}


# --- the query protocol, as SDKs before SQS's JSON protocol speak it --------------------


@pytest.fixture(scope="module")
def query_sqs(server: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """botocore's SQS client switched back to the query protocol (its model otherwise
    unchanged): requests go out form-encoded, responses are parsed as XML."""
    model = Loader().load_service_model("sqs", "service-2")
    model["metadata"]["protocol"] = "query"
    model["metadata"]["protocols"] = ["query"]
    model["metadata"].pop("awsQueryCompatible", None)
    for name, operation in model["operations"].items():
        if "output" in operation:
            operation["output"]["resultWrapper"] = f"{name}Result"
    folder = tmp_path_factory.mktemp("models")
    target = folder / "sqs" / "2012-11-05"
    target.mkdir(parents=True)
    (target / "service-2.json").write_text(json.dumps(model))
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(folder))
    return session.create_client(
        "sqs",
        endpoint_url=server[0],
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=CONFIG,
    )


def test_query_protocol_round_trip(query_sqs: Any) -> None:
    url = query_sqs.create_queue(QueueName="query-queue", Attributes={"VisibilityTimeout": "45"})[
        "QueueUrl"
    ]
    assert url.endswith("/123456789012/query-queue")
    assert url in query_sqs.list_queues()["QueueUrls"]
    attributes = {"kind": {"DataType": "String", "StringValue": "query"}}
    query_sqs.send_message(QueueUrl=url, MessageBody="via query\r\n", MessageAttributes=attributes)
    messages = query_sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["All"], AttributeNames=["All"]
    )["Messages"]
    assert messages[0]["Body"] == "via query\r\n"
    assert messages[0]["MessageAttributes"] == attributes
    assert messages[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    got = query_sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    assert got["Attributes"] == {"VisibilityTimeout": "45"}
    query_sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
    with pytest.raises(query_sqs.exceptions.ClientError) as caught:
        query_sqs.get_queue_url(QueueName="missing")
    assert caught.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"


def test_query_request_posted_to_the_queue_url(server: tuple[str, Path], sqs: Any) -> None:
    url = sqs.create_queue(QueueName="path-queue")["QueueUrl"]
    response = httpx.post(
        url,
        data={"Action": "SendMessage", "MessageBody": "by path"},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    assert "<SendMessageResponse" in response.text and "<MessageId>" in response.text
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "by path"


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"Action": "Frobnicate", "Version": "2012-11-05"}, "InvalidAction"),
        (
            {
                "Action": "ReceiveMessage",
                "Version": "2012-11-05",
                "QueueUrl": "q",
                "MaxNumberOfMessages": "many",
            },
            "InvalidParameterValue",
        ),
        ({"Action": "GetQueueUrl", "Version": "2012-11-05"}, "ValidationError"),
    ],
)
def test_query_protocol_errors(server: tuple[str, Path], form: dict[str, str], code: str) -> None:
    response = httpx.post(server[0], data=form)
    assert response.status_code == 400
    assert f"<Code>{code}</Code>" in response.text
    assert "<Type>Sender</Type>" in response.text and "<RequestId>" in response.text


def test_aws_cli_round_trip(server: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = server
    created = aws_cli(url, tmp_path, "sqs", "create-queue", "--queue-name", "cli-queue")
    queue = created["QueueUrl"]
    aws_cli(url, tmp_path, "sqs", "send-message", "--queue-url", queue, "--message-body", "hi")
    received = aws_cli(url, tmp_path, "sqs", "receive-message", "--queue-url", queue)
    assert received["Messages"][0]["Body"] == "hi"
