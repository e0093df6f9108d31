"""The seed workflows that use service integrations, in-process (``stepwell.run``) and on
the durable path (Service + Worker on every store): the SQS callback (seed 4), the
DynamoDB semaphore of the idempotent workflow (seed 1) and the SNS fan-out of the
failed-communications reprocessing (seed 2)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from integration_helpers import Durable, Received, Reply, json_reply, local_server

import stepwell
from stepwell.integrations.services import Services
from stepwell.store.base import Store

# --- seed 4: sqs:sendMessage.waitForTaskToken -------------------------------------------------

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/466170491455/TeamCSqs"
CALLBACK = {
    "StartAt": "InformOtherQueue",
    "States": {
        "InformOtherQueue": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {
                "QueueUrl": QUEUE_URL,
                "MessageBody": {"Input.$": "$.messageId", "TaskToken.$": "$$.Task.Token"},
            },
            "ResultPath": "$.SQS",
            "Next": "WaitSometime",
            "TimeoutSeconds": 10,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "GracefulFail"}],
        },
        "WaitSometime": {"Type": "Wait", "Seconds": 5, "End": True},
        "GracefulFail": {"Type": "Fail", "Error": "GracefulFail", "Cause": "no reply"},
    },
}


def consume_and_reply(durable: Durable) -> dict[str, Any]:
    """The seed's consumer: read the message, answer with SendTaskSuccess, delete it."""
    url = durable.services.sqs.get_queue_url(QueueName="TeamCSqs")["QueueUrl"]
    [message] = durable.services.sqs.receive_message(QueueUrl=url)["Messages"]
    body: dict[str, Any] = json.loads(message["Body"])
    durable.call(
        "SendTaskSuccess",
        taskToken=body["TaskToken"],
        output=json.dumps({"Output": "message", "ack": "success"}),
    )
    durable.services.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return body


def test_sqs_callback_completes_when_the_consumer_replies(store: Store) -> None:
    durable = Durable(store)
    durable.services.sqs.create_queue(QueueName="TeamCSqs")
    execution = durable.start(durable.machine(CALLBACK), {"messageId": "m-7"})
    durable.worker.run_until_idle()
    assert durable.describe(execution)["status"] == "RUNNING"
    body = consume_and_reply(durable)
    assert body["Input"] == "m-7"
    durable.settle()
    assert durable.describe(execution)["status"] == "SUCCEEDED"
    assert durable.output(execution) == {
        "messageId": "m-7",
        "SQS": {"Output": "message", "ack": "success"},
    }


def test_sqs_callback_times_out_into_the_catch_durably(store: Store) -> None:
    durable = Durable(store)
    durable.services.sqs.create_queue(QueueName="TeamCSqs")
    execution = durable.start(durable.machine(CALLBACK), {"messageId": "m-8"})
    durable.settle()
    described = durable.describe(execution)
    assert (described["status"], described["error"]) == ("FAILED", "GracefulFail")
    assert (described["stopDate"] - described["startDate"]).total_seconds() == 10
    history = durable.call("GetExecutionHistory", executionArn=execution)["events"]
    assert "TaskTimedOut" in [event["type"] for event in history]


def test_sqs_callback_times_out_into_the_catch_in_process() -> None:
    services = Services()
    url = services.sqs.create_queue(QueueName="TeamCSqs")["QueueUrl"]
    result = stepwell.run(CALLBACK, {"messageId": "m-9"}, services=services)
    assert (result.status, result.error) == ("FAILED", "GracefulFail")
    assert (result.stop_date - result.start_date).total_seconds() == 10
    [message] = services.sqs.receive_message(QueueUrl=url)["Messages"]
    assert json.loads(message["Body"])["Input"] == "m-9"


def test_sqs_callback_to_a_missing_queue_is_caught() -> None:
    result = stepwell.run(CALLBACK, {"messageId": "m"})
    assert (result.status, result.error) == ("FAILED", "GracefulFail")
    failed = [e for e in result.history if e["type"] == "TaskFailed"]
    assert failed[0]["taskFailedEventDetails"]["error"] == "SQS.QueueDoesNotExistException"


# --- seed 1: idempotency with a DynamoDB semaphore ------------------------------------------

TABLE = "IdempotencyTable"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:"
CONNECTION = "arn:aws:events:us-east-1:123456789012:connection/api/1"
KEY = {"id": {"S.$": "$.idempotencyKey"}}
IDEMPOTENT = {
    "StartAt": "Calculate idempotency key",
    "States": {
        "Calculate idempotency key": {
            "Type": "Task",
            "Resource": FUNCTION + "idempotency_key",
            "ResultPath": "$.idempotencyConfig",
            "Next": "Lock idempotency key",
        },
        "Lock idempotency key": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:dynamodb:transactWriteItems",
            "Parameters": {
                "TransactItems": [
                    {
                        "Update": {
                            "TableName": TABLE,
                            "Key": {"id": {"S.$": "$.idempotencyConfig.idempotencyKey"}},
                            "UpdateExpression": "SET executionstatus = :inprogress, "
                            "executionid = :eid",
                            "ConditionExpression": "attribute_not_exists(id) OR "
                            "executionstatus = :failed",
                            "ExpressionAttributeValues": {
                                ":inprogress": {"S": "IN_PROGRESS"},
                                ":failed": {"S": "FAILED"},
                                ":eid": {"S.$": "$$.Execution.Id"},
                            },
                        }
                    }
                ]
            },
            "ResultPath": None,
            "Catch": [
                {
                    "ErrorEquals": ["DynamoDb.TransactionCanceledException"],
                    "ResultPath": "$.errors.lockItem",
                    "Next": "Get idempotency record",
                }
            ],
            "Next": "Workflow steps",
        },
        "Get idempotency record": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:getItem",
            "Parameters": {
                "TableName": TABLE,
                "Key": {"id": {"S.$": "$.idempotencyConfig.idempotencyKey"}},
                "ConsistentRead": True,
            },
            "ResultPath": "$.idempotencyTable",
            "Next": "Previous or concurrent execution?",
        },
        "Previous or concurrent execution?": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {
                            "Variable": "$.idempotencyTable.Item.executionstatus.S",
                            "StringEquals": "SUCCESS",
                        },
                        {
                            "Variable": "$.idempotencyTable.Item.executionresult.S",
                            "IsPresent": True,
                        },
                    ],
                    "Next": "Extract previous result",
                },
                {
                    "Variable": "$.idempotencyTable.Item.executionstatus.S",
                    "StringEquals": "IN_PROGRESS",
                    "Next": "Wait for concurrent execution",
                },
            ],
            "Default": "Lock idempotency key",
        },
        "Wait for concurrent execution": {
            "Type": "Wait",
            "Seconds": 10,
            "Next": "Get idempotency record",
        },
        "Extract previous result": {
            "Type": "Pass",
            "Parameters": {
                "result.$": "States.StringToJson($.idempotencyTable.Item.executionresult.S)"
            },
            "OutputPath": "$.result",
            "End": True,
        },
        "Workflow steps": {
            "Type": "Parallel",
            "Branches": [
                {
                    "StartAt": "Step 1",
                    "States": {
                        "Step 1": {
                            "Type": "Pass",
                            "Result": {"result": "Output of step 1"},
                            "End": True,
                        }
                    },
                },
                {
                    "StartAt": "Random failure",
                    "States": {
                        "Random failure": {
                            "Type": "Task",
                            "Resource": FUNCTION + "random_failure",
                            "End": True,
                        }
                    },
                },
            ],
            "ResultSelector": {"step1.$": "$[0]", "randomFailureFunc.$": "$[1]"},
            "ResultPath": "$.result",
            "Catch": [
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Record failure"}
            ],
            "Next": "Record success",
        },
        "Record success": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:updateItem",
            "Parameters": {
                "TableName": TABLE,
                "Key": {"id": {"S.$": "$.idempotencyConfig.idempotencyKey"}},
                "UpdateExpression": "SET executionstatus = :s, executionresult = :r, #ttl = :ttl",
                "ExpressionAttributeNames": {"#ttl": "ttl"},
                "ExpressionAttributeValues": {
                    ":s": {"S": "SUCCESS"},
                    ":r": {"S.$": "States.JsonToString($.result)"},
                    ":ttl": {"N.$": "$.idempotencyConfig.ttl"},
                },
            },
            "ResultPath": None,
            "OutputPath": "$.result",
            "End": True,
        },
        "Record failure": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:updateItem",
            "Parameters": {
                "TableName": TABLE,
                "Key": {"id": {"S.$": "$.idempotencyConfig.idempotencyKey"}},
                "UpdateExpression": "SET executionstatus = :s",
                "ExpressionAttributeValues": {":s": {"S": "FAILED"}},
            },
            "ResultPath": None,
            "Next": "Failure",
        },
        "Failure": {"Type": "Fail", "Error": "WorkflowFailed"},
    },
}
WORK = {"step1": {"result": "Output of step 1"}, "randomFailureFunc": "All good"}


class Functions:
    """The seed's two Lambda functions, with a count of how often the work ran."""

    def __init__(self, now: float = 1_700_000_000) -> None:
        self.work_runs = 0
        self.fail_next = False
        self.now = now

    def idempotency_key(self, event: dict[str, Any]) -> dict[str, str]:
        payload = {k: v for k, v in event.items() if k != "idempotencyKeyJmespath"}
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        return {"idempotencyKey": digest, "ttl": str(int(self.now) + 24 * 3600)}

    def random_failure(self, event: Any) -> str:
        self.work_runs += 1
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("random failure")
        return "All good"

    def registry(self) -> dict[str, Any]:
        return {"idempotency_key": self.idempotency_key, "random_failure": self.random_failure}


def create_table(services: Services) -> None:
    services.dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    services.dynamodb.update_time_to_live(
        TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
    )


def record(services: Services, key: str) -> dict[str, Any]:
    item: dict[str, Any] = services.dynamodb.get_item(TableName=TABLE, Key={"id": {"S": key}})[
        "Item"
    ]
    return item


INPUT = {"top": "level", "nested": {"key1": "value1", "key2": "value2"}}
START = datetime.fromtimestamp(1_700_000_000, UTC)


def test_idempotent_workflow_in_process() -> None:
    functions = Functions()
    services = Services(clock=lambda: 1_700_000_100.0)  # to read the record after the run
    create_table(services)
    first = stepwell.run(
        IDEMPOTENT, INPUT, functions=functions.registry(), services=services, start_time=START
    )
    second = stepwell.run(
        IDEMPOTENT, INPUT, functions=functions.registry(), services=services, start_time=START
    )
    assert (first.status, first.output) == ("SUCCEEDED", WORK)
    assert (second.status, second.output) == ("SUCCEEDED", WORK)
    assert functions.work_runs == 1  # the second run returned the stored result
    key = functions.idempotency_key(INPUT)["idempotencyKey"]
    stored = record(services, key)
    assert stored["executionstatus"] == {"S": "SUCCESS"}
    assert json.loads(stored["executionresult"]["S"]) == WORK
    assert stored["ttl"] == {"N": str(1_700_000_000 + 86_400)}


def test_a_failed_run_releases_the_lock_for_the_next() -> None:
    functions = Functions()
    functions.fail_next = True
    services = Services()
    create_table(services)
    failed = stepwell.run(
        IDEMPOTENT, INPUT, functions=functions.registry(), services=services, start_time=START
    )
    assert (failed.status, failed.error) == ("FAILED", "WorkflowFailed")
    key = functions.idempotency_key(INPUT)["idempotencyKey"]
    assert record(services, key)["executionstatus"] == {"S": "FAILED"}
    retried = stepwell.run(
        IDEMPOTENT, INPUT, functions=functions.registry(), services=services, start_time=START
    )
    assert (retried.status, retried.output, functions.work_runs) == ("SUCCEEDED", WORK, 2)


def test_concurrent_executions_share_one_result_durably(store: Store) -> None:
    functions = Functions()
    durable = Durable(store, functions.registry())
    create_table(durable.services)
    machine = durable.machine(IDEMPOTENT)
    executions = [durable.start(machine, INPUT, name=f"run-{n}") for n in range(3)]
    durable.settle()
    assert [durable.describe(e)["status"] for e in executions] == ["SUCCEEDED"] * 3
    assert [durable.output(e) for e in executions] == [WORK] * 3
    assert functions.work_runs == 1


def test_an_in_progress_record_is_polled_every_ten_seconds(store: Store) -> None:
    functions = Functions()
    durable = Durable(store, functions.registry())
    create_table(durable.services)
    key = functions.idempotency_key(INPUT)["idempotencyKey"]
    durable.services.dynamodb.put_item(
        TableName=TABLE, Item={"id": {"S": key}, "executionstatus": {"S": "IN_PROGRESS"}}
    )
    execution = durable.start(durable.machine(IDEMPOTENT), INPUT)
    durable.settle(max_advance=35)
    assert durable.describe(execution)["status"] == "RUNNING"
    durable.services.dynamodb.put_item(
        TableName=TABLE,
        Item={
            "id": {"S": key},
            "executionstatus": {"S": "SUCCESS"},
            "executionresult": {"S": json.dumps({"from": "the other execution"})},
        },
    )
    durable.settle()
    assert durable.output(execution) == {"from": "the other execution"}
    history = durable.call("GetExecutionHistory", executionArn=execution)["events"]
    waits = [e for e in history if e["type"] == "WaitStateEntered"]
    assert len(waits) == 4  # polled at +0, +10, +20, +30 s, then found SUCCESS at +40 s
    assert functions.work_runs == 0


# --- seed 2: Map over HTTP calls, SNS fan-out to a queue and an email outbox -----------------

TOPIC = "arn:aws:sns:us-east-1:123456789012:communications"
REPROCESS = {
    "StartAt": "Process failed communications",
    "States": {
        "Process failed communications": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {
                "StartAt": "Send to API",
                "States": {
                    "Send to API": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::http:invoke",
                        "Parameters": {
                            "ApiEndpoint.$": "$.endpoint",
                            "Method": "POST",
                            "Authentication": {"ConnectionArn": CONNECTION},
                            "RequestBody.$": "$.payload",
                        },
                        "Retry": [
                            {"ErrorEquals": ["States.Http.StatusCode.503"], "MaxAttempts": 2}
                        ],
                        "Catch": [
                            {
                                "ErrorEquals": ["States.ALL"],
                                "ResultPath": "$.error",
                                "Next": "Dead letter",
                            }
                        ],
                        "ResultSelector": {"status.$": "$.StatusCode"},
                        "End": True,
                    },
                    "Dead letter": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::sqs:sendMessage",
                        "Parameters": {
                            "QueueUrl": "failed-communications-dlq",
                            "MessageBody.$": "$.payload",
                        },
                        "ResultSelector": {"deadLettered.$": "$.MessageId"},
                        "End": True,
                    },
                },
            },
            "ItemSelector": {"endpoint.$": "$.endpoint", "payload.$": "$$.Map.Item.Value"},
            "ResultPath": "$.results",
            "Next": "Notify",
        },
        "Notify": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {
                "TopicArn": TOPIC,
                "Subject": "Failed communications reprocessed",
                "Message.$": "$.results",
            },
            "ResultSelector": {"MessageId.$": "$.MessageId"},
            "ResultPath": "$.notification",
            "End": True,
        },
    },
}


def prepare(services: Services) -> str:
    services.sqs.create_queue(QueueName="failed-communications-dlq")
    url = services.sqs.create_queue(QueueName="audit")["QueueUrl"]
    audit = services.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    services.sns.create_topic(Name="communications")
    services.sns.subscribe(TopicArn=TOPIC, Protocol="email", Endpoint="ops@example.com")
    services.sns.subscribe(TopicArn=TOPIC, Protocol="sqs", Endpoint=audit["Attributes"]["QueueArn"])
    return str(url)


def api(received: Received) -> Reply:
    if received.json()["primaryId"] == "bad":
        return json_reply({"message": "unprocessable"}, status=422)
    return json_reply({"sent": True})


def items(endpoint: str) -> dict[str, Any]:
    return {
        "endpoint": endpoint,
        "items": [
            {"primaryId": "1", "operation": "send.email"},
            {"primaryId": "bad", "operation": "send.sms"},
        ],
    }


def check_reprocessing(services: Services, audit_url: str, output: dict[str, Any]) -> None:
    assert output["results"][0] == {"status": "200"}
    assert set(output["results"][1]) == {"deadLettered"}
    dlq = services.sqs.get_queue_url(QueueName="failed-communications-dlq")["QueueUrl"]
    [dead] = services.sqs.receive_message(QueueUrl=dlq)["Messages"]
    assert json.loads(dead["Body"]) == {"primaryId": "bad", "operation": "send.sms"}
    [mail] = services.sns.outbox("ops@example.com")
    assert mail["Subject"] == "Failed communications reprocessed"
    assert json.loads(mail["Body"]) == output["results"]
    [audit] = services.sqs.receive_message(QueueUrl=audit_url)["Messages"]
    envelope = json.loads(audit["Body"])
    assert (envelope["Type"], envelope["MessageId"]) == (
        "Notification",
        output["notification"]["MessageId"],
    )


def test_reprocessing_fans_out_in_process() -> None:
    services = Services()
    audit_url = prepare(services)
    with local_server(api) as server:
        result = stepwell.run(REPROCESS, items(server.url), services=services)
    assert result.status == "SUCCEEDED"
    assert len(server.requests) == 2
    check_reprocessing(services, audit_url, result.output)


def test_reprocessing_fans_out_durably(store: Store) -> None:
    durable = Durable(store)
    audit_url = prepare(durable.services)
    with local_server(api) as server:
        execution = durable.start(durable.machine(REPROCESS), items(server.url))
        durable.settle()
    assert durable.describe(execution)["status"] == "SUCCEEDED"
    check_reprocessing(durable.services, audit_url, durable.output(execution))


@pytest.mark.parametrize("resource", ["sqs:sendMessage", "aws-sdk:sqs:sendMessage"])
def test_send_message_results(resource: str) -> None:
    services = Services()
    services.sqs.create_queue(QueueName="q")
    definition = {
        "StartAt": "S",
        "States": {
            "S": {
                "Type": "Task",
                "Resource": f"arn:aws:states:::{resource}",
                "Parameters": {"QueueUrl": "q", "MessageBody": "hello"},
                "End": True,
            }
        },
    }
    output = stepwell.run(definition, services=services).output
    assert output["MD5OfMessageBody"] == hashlib.md5(b"hello").hexdigest()
    assert ("SdkHttpMetadata" in output) is (not resource.startswith("aws-sdk"))
