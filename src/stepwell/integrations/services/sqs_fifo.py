"""FIFO queues of the embedded SQS: names, deduplication, message groups.

Rules from the Amazon SQS Developer Guide ("Amazon SQS FIFO queues", "Exactly-once
processing", "Using the message deduplication ID", "Using the message group ID"):

* a FIFO queue is created with ``FifoQueue=true`` and a name ending in ``.fifo``;
* every message needs a ``MessageGroupId``, and a ``MessageDeduplicationId`` unless the
  queue has ``ContentBasedDeduplication`` (then the SHA-256 of the body is the id);
* a message whose deduplication id was seen in the last 5 minutes is accepted but not
  enqueued again: the send answers with the first message's ``MessageId``;
* per-message ``DelaySeconds`` is not allowed (only the queue's delay applies);
* within a group, messages are delivered in order and, while one is in flight, no later
  message of that group is delivered.

Design decision: deduplication ids are documents ``dedup/QUEUE/ID`` holding the first
send's response and when it expires, written in the send's own transaction.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final

import orjson

from stepwell.integrations.services.base import Request, ServiceError
from stepwell.integrations.services.documents import Documents

FIFO_ATTRIBUTES: Final = frozenset(
    {"FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"}
)
FIFO_SYSTEM_ATTRIBUTES: Final = ("MessageGroupId", "MessageDeduplicationId", "SequenceNumber")
DEDUPLICATION_SECONDS: Final = 300
_STANDARD_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,80}")
_FIFO_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,75}\.fifo")
_BOOLEANS: Final = ("true", "false")


def _invalid(message: str, exception: str = "InvalidParameterValue") -> ServiceError:
    return ServiceError(exception, message)


def is_fifo(queue: Mapping[str, Any]) -> bool:
    return str(queue["attributes"].get("FifoQueue", "false")).lower() == "true"


def check_queue_name(name: str, attributes: Mapping[str, str]) -> None:
    """A standard name, or a ``.fifo`` name for a queue created with ``FifoQueue=true``."""
    if str(attributes.get("FifoQueue", "false")).lower() == "true":
        if not _FIFO_NAME.fullmatch(name):
            raise _invalid(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, "
                "or underscores, must end with .fifo suffix and be 1 to 80 in length."
            )
    elif not _STANDARD_NAME.fullmatch(name):
        raise _invalid(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )


def checked_fifo_attribute(name: str, value: str) -> str:
    """A FIFO attribute's value, booleans in AWS's lower case."""
    if name in ("FifoQueue", "ContentBasedDeduplication"):
        if value.lower() not in _BOOLEANS:
            raise _invalid(f"Invalid value for the parameter {name}.", "InvalidAttributeValue")
        return value.lower()
    return value


def fifo_send(
    documents: Documents, queue: Mapping[str, Any], request: Request, body: str, now: float
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A FIFO message's group and deduplication id, and the earlier response if it is a
    duplicate sent within the deduplication interval."""
    if request.get("DelaySeconds") is not None:
        raise _invalid(
            f"Value {request['DelaySeconds']} for parameter DelaySeconds is invalid. Reason: "
            "The request include parameter that is not valid for this queue type."
        )
    group = request.get("MessageGroupId")
    if not group:
        raise _invalid("The request must contain the parameter MessageGroupId.", "MissingParameter")
    dedup = request.get("MessageDeduplicationId")
    if not dedup:
        if str(queue["attributes"].get("ContentBasedDeduplication", "false")) != "true":
            raise _invalid(
                "The queue should either have ContentBasedDeduplication enabled or "
                "MessageDeduplicationId provided explicitly"
            )
        dedup = hashlib.sha256(body.encode()).hexdigest()
    fields = {"group": str(group), "dedup": str(dedup)}
    seen = documents.get(_dedup_key(queue["name"], str(dedup)))
    if seen is not None:
        record = orjson.loads(seen)
        if record["expires"] > now:
            return fields, dict(record["response"])
    return fields, None


def remember_send(
    documents: Documents, queue: str, dedup: str, response: Mapping[str, Any], now: float
) -> None:
    """Keep a FIFO send's response for the deduplication interval."""
    record = {"expires": now + DEDUPLICATION_SECONDS, "response": dict(response)}
    documents.put(_dedup_key(queue, dedup), orjson.dumps(record))


def drop_deduplication(documents: Documents, queue: str) -> None:
    for key, _ in documents.scan(f"dedup/{queue}/"):
        documents.delete(key)


def blocked(message: Mapping[str, Any], groups: set[str], visible: bool) -> bool:
    """Whether a FIFO message must wait behind an earlier one of its group (and, if it is
    not visible itself, mark its group as blocked for the messages after it)."""
    group = message.get("group")
    if group is None:
        return not visible
    if group in groups:
        return True
    if not visible:
        groups.add(group)
        return True
    return False


def fifo_system_attributes(message: Mapping[str, Any]) -> dict[str, str]:
    if message.get("group") is None:
        return {}
    return {
        "MessageGroupId": message["group"],
        "MessageDeduplicationId": message["dedup"],
        "SequenceNumber": message["sequence"],
    }


def _dedup_key(queue: str, dedup: str) -> str:
    return f"dedup/{queue}/{dedup}"
