"""SQS over the embedded queues: AWS JSON 1.0 (``AmazonSQS.*``) for current SDKs, the
query protocol for older ones, and long polling of ``ReceiveMessage``.

``ReceiveMessage`` with ``WaitTimeSeconds`` (up to 20), or on a queue whose
``ReceiveMessageWaitTimeSeconds`` is set, waits for a message instead of answering empty
at once; the endpoint waits without holding a thread (``LongPoll``).
"""

from collections.abc import Mapping
from typing import Any, Final

from stepwell.api.protocols.base import SIGNATURE_ERROR_CODES, LongPoll, service_api
from stepwell.integrations.services.sqs import queue_name


def _wait_seconds(members: Mapping[str, Any]) -> float | None:
    wait = members.get("WaitTimeSeconds")
    return None if wait is None else float(wait)  # None: the queue's default applies


def _queue(members: Mapping[str, Any]) -> str:
    return queue_name(str(members.get("QueueUrl", "")))


def _empty(result: Mapping[str, Any]) -> bool:
    return not result.get("Messages")


API: Final = service_api(
    "sqs",
    ("json", "query"),
    "com.amazonaws.sqs",
    query_error_codes={
        "ValidationException": "ValidationError",
        "SerializationException": "InvalidParameterValue",
        "UnknownOperationException": "InvalidAction",
        **SIGNATURE_ERROR_CODES,
    },
    long_poll=LongPoll("ReceiveMessage", _wait_seconds, _queue, _empty),
)
