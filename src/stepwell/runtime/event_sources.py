"""Lambda event source mappings from SQS queues: the poller Lambda runs for a function
with an ``SQS`` event.

Each mapping polls its queue in a thread of its own, hands up to ``BatchSize`` messages
to the function as Lambda's SQS event (``{"Records": [...]}``, Lambda Developer Guide,
"Using Lambda with Amazon SQS"), and deletes them when the function succeeds. A function
error leaves the whole batch to come back after its visibility timeout (and reach the
dead-letter queue after ``maxReceiveCount``); with ``ReportBatchItemFailures`` only the
messages the function lists in ``batchItemFailures`` come back.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any, Protocol

log = logging.getLogger(__name__)
IDLE_SECONDS = 0.05  # between polls of an empty queue
ERROR_BACKOFF_SECONDS = 1.0


class QueueClient(Protocol):
    def get_queue_url(self, **request: Any) -> dict[str, Any]: ...
    def receive_message(self, **request: Any) -> dict[str, Any]: ...
    def delete_message_batch(self, **request: Any) -> dict[str, Any]: ...


class FunctionInvoker(Protocol):
    def invoke(self, resource: str, payload: Any, request_id: str) -> Any: ...


class SqsEventSource:
    def __init__(
        self,
        sqs: QueueClient,
        functions: FunctionInvoker,
        *,
        queue_arn: str,
        function: str,
        batch_size: int = 10,
        report_failures: bool = False,
    ) -> None:
        self.sqs = sqs
        self.functions = functions
        self.queue_arn = queue_arn
        self.function = function
        self.batch_size = max(1, min(batch_size, 10))
        self.report_failures = report_failures
        self.region = queue_arn.split(":")[3] if queue_arn.count(":") >= 5 else "us-east-1"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"sqs→{function}")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.poll_once()
            except Exception as problem:  # the loop must outlive any one failure
                log.warning("event source %s → %s: %s", self.queue_arn, self.function, problem)
                self._stop.wait(ERROR_BACKOFF_SECONDS)
                continue
            if not busy:
                self._stop.wait(IDLE_SECONDS)

    def poll_once(self) -> bool:
        """Receive one batch and hand it to the function; False when the queue was empty."""
        name = self.queue_arn.rsplit(":", 1)[-1]
        url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        received = self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=self.batch_size,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = received.get("Messages") or []
        if not messages:
            return False
        event = {"Records": [self._record(message) for message in messages]}
        outcome = self.functions.invoke(self.function, event, str(uuid.uuid4()))
        if not getattr(outcome, "ok", False):
            return True  # the batch becomes visible again after its visibility timeout
        failed = self._failed_ids(getattr(outcome, "output", None))
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
            ]
            self.sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        return True

    def _failed_ids(self, output: Any) -> set[str]:
        if not self.report_failures or not isinstance(output, dict):
            return set()
        failures = output.get("batchItemFailures") or []
        return {str(f.get("itemIdentifier")) for f in failures if isinstance(f, dict)}

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType"),
            }
            for name, value in (message.get("MessageAttributes") or {}).items()
        }
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": dict(message.get("Attributes") or {}),
            "messageAttributes": attributes,
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.region,
        }
