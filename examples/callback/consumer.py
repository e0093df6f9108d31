"""The queue consumer of the callback seed: the seed's Java ``NotificationHandler``, in
Python, and the loop that feeds it messages as Lambda's SQS event source would.

The handler reads each record's body; when it holds a ``TaskToken`` it answers Step
Functions with SendTaskSuccess and the seed's fixed output,
``{"Output": "message", "ack": "success"}``.
"""

from __future__ import annotations

import json
from typing import Any

QUEUE_NAME = "TeamCSqs"
REPLY = {"Output": "message", "ack": "success"}


class NotificationHandler:
    """Answers every message that carries a task token; ``sfn`` is a boto3 client."""

    def __init__(self, sfn: Any) -> None:
        self.sfn = sfn
        self.answered: list[str] = []  # the ``Input`` of each message answered

    def handle_request(self, event: dict[str, Any], context: Any = None) -> None:
        for record in event["Records"]:
            message = _json_object(record["body"])
            if "TaskToken" in message:
                self.sfn.send_task_success(taskToken=message["TaskToken"], output=json.dumps(REPLY))
                self.answered.append(str(message.get("Input")))


def poll_once(sqs: Any, queue_url: str, handler: NotificationHandler) -> int:
    """Receive up to 10 messages, hand them to the handler as one SQS event, and delete
    them once it returned (Lambda's event source mapping does the same). Returns how
    many messages there were."""
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    if not messages:
        return 0
    records = [
        {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"]}
        for m in messages
    ]
    handler.handle_request({"Records": records})
    for message in messages:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return len(messages)


def _json_object(body: str) -> dict[str, Any]:
    """The body as a JSON object; anything else is logged and skipped, as in the seed."""
    try:
        value = json.loads(body)
    except json.JSONDecodeError:
        print(f"not JSON, skipped: {body!r}")
        return {}
    return value if isinstance(value, dict) else {}
