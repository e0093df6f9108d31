"""An embedded SQS-like queue service: standard queues, kept in a store's documents.

Semantics follow the Amazon SQS Developer Guide and API Reference: a received message is
hidden for the visibility timeout and comes back if not deleted; ``ChangeMessageVisibility``
moves that moment; ``DelaySeconds`` hides a new message; a queue with a ``RedrivePolicy``
moves a message to its dead-letter queue once it has been received ``maxReceiveCount``
times ("Using dead-letter queues"); messages older than ``MessageRetentionPeriod`` are
dropped. Responses carry the MD5 digests AWS computes (body, and message attributes as in
"Calculating the MD5 message digest for message attributes").

Design decision: every operation is one ``documents("sqs")`` transaction, so a message is
received by exactly one consumer even with many processes. Messages are filed under
``msg/QUEUE/SEQUENCE``; receiving scans the queue in sequence order, which makes delivery
first-in-first-out (AWS's standard queues only try to). Time comes from the given clock.
Queue URLs are AWS's (``https://sqs.REGION.amazonaws.com/ACCOUNT/NAME``) and a queue is
found by the name at the end of its URL or ARN, so definitions written for AWS need no
edit. FIFO queues are in ``sqs_fifo.py``. Long polling (``WaitTimeSeconds``) is the API
front end's (it waits between receives, woken through ``listeners``); here a receive
returns at once. Not implemented: server-side encryption and permissions.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import orjson

from stepwell.integrations.services.base import (
    Clock,
    Operation,
    Request,
    Response,
    ServiceClient,
    ServiceError,
)
from stepwell.integrations.services.documents import Documents, DocumentStore
from stepwell.integrations.services.sqs_fifo import (
    FIFO_ATTRIBUTES,
    FIFO_SYSTEM_ATTRIBUTES,
    blocked,
    check_queue_name,
    checked_fifo_attribute,
    drop_deduplication,
    fifo_send,
    fifo_system_attributes,
    is_fifo,
    remember_send,
)

NAMESPACE: Final = "sqs"
MAX_BODY_BYTES: Final = 262_144
MAX_ATTRIBUTES: Final = 10
_EntryAction = Callable[[Documents, dict[str, Any], Request], Response | None]
_BatchOutcome = tuple[str, list[dict[str, Any]], list[dict[str, Any]]]  # queue, done, failed
_VALID_CHARACTERS: Final = re.compile(
    "[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
# Attribute → (default, minimum, maximum) (API Reference, "SetQueueAttributes").
NUMERIC_ATTRIBUTES: Final[Mapping[str, tuple[int, int, int]]] = {
    "DelaySeconds": (0, 0, 900),
    "MaximumMessageSize": (262_144, 1_024, 262_144),
    "MessageRetentionPeriod": (345_600, 60, 1_209_600),
    "ReceiveMessageWaitTimeSeconds": (0, 0, 20),
    "VisibilityTimeout": (30, 0, 43_200),
}
OTHER_ATTRIBUTES: Final = frozenset(
    {"Policy", "RedrivePolicy", "RedriveAllowPolicy", "SqsManagedSseEnabled", "KmsMasterKeyId"}
)
SYSTEM_ATTRIBUTES: Final = (
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
)
SENDER_ID: Final = "AIDAIT2UOQQY3AUEKVGXU"
CODES: Final[Mapping[str, str]] = {
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "QueueNameExists": "QueueAlreadyExists",
    "MessageNotInflight": "AWS.SimpleQueueService.MessageNotInflight",
    "TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    "EmptyBatchRequest": "AWS.SimpleQueueService.EmptyBatchRequest",
    "BatchEntryIdsNotDistinct": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
}


def sqs_error(exception: str, message: str) -> ServiceError:
    return ServiceError(exception, message, code=CODES.get(exception, exception))


def invalid_value(message: str) -> ServiceError:
    return sqs_error("InvalidParameterValue", message)


def no_queue() -> ServiceError:
    return sqs_error("QueueDoesNotExist", "The specified queue does not exist.")


# --- digests -------------------------------------------------------------------------------


def md5_of_body(body: str) -> str:
    return hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()


def md5_of_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> str:
    """The digest SQS returns as ``MD5OfMessageAttributes``: per attribute, sorted by name,
    the length-prefixed name, data type and value with a transport byte (1 for String and
    Number, 2 for Binary) before the value."""
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        attribute = attributes[name]
        data_type = str(attribute["DataType"])
        digest.update(_prefixed(name.encode()))
        digest.update(_prefixed(data_type.encode()))
        if data_type.startswith("Binary"):
            digest.update(b"\x02")
            digest.update(_prefixed(_binary(attribute["BinaryValue"])))
        else:
            digest.update(b"\x01")
            digest.update(_prefixed(str(attribute["StringValue"]).encode()))
    return digest.hexdigest()


def _prefixed(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _binary(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return base64.b64decode(str(value))


# --- records -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueRef:
    name: str
    url: str
    arn: str


def queue_name(reference: str) -> str:
    """The queue's name from its URL, ARN or the name itself."""
    return reference.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


class SqsClient(ServiceClient):
    """SQS's API over the embedded queues (``send_message(QueueUrl=..., MessageBody=...)``)."""

    service_name: ClassVar[str] = "sqs"

    def __init__(
        self,
        store: DocumentStore,
        clock: Clock,
        region: str = "us-east-1",
        account: str = "123456789012",
    ) -> None:
        super().__init__(store, clock, region, account)
        # Called with a queue's name after a message was committed to it (wakes long polls).
        self.listeners: list[Callable[[str], None]] = []

    def ref(self, name: str) -> QueueRef:
        return QueueRef(
            name,
            f"https://sqs.{self.region}.amazonaws.com/{self.account}/{name}",
            f"arn:aws:sqs:{self.region}:{self.account}:{name}",
        )

    @contextmanager
    def _documents(self) -> Iterator[Documents]:
        with self.store.documents(NAMESPACE) as documents:
            yield documents

    # --- queues ------------------------------------------------------------------------------

    def _create_queue(self, request: Request) -> Response:
        name = str(request.get("QueueName", ""))
        attributes = _checked_attributes(request.get("Attributes") or {})
        check_queue_name(name, attributes)
        with self._documents() as documents:
            existing = _load_queue(documents, name)
            if existing is not None:
                _same_attributes(existing, attributes)
                return {"QueueUrl": self.ref(name).url}
            _check_redrive(documents, attributes)
            now = self.clock()
            _save_queue(
                documents,
                {
                    "name": name,
                    "attributes": attributes,
                    "created": now,
                    "modified": now,
                    "tags": dict(request.get("tags") or request.get("Tags") or {}),
                    "next": 0,
                },
            )
        return {"QueueUrl": self.ref(name).url}

    def _get_queue_url(self, request: Request) -> Response:
        name = str(request.get("QueueName", ""))
        with self._documents() as documents:
            _queue(documents, name)
        return {"QueueUrl": self.ref(name).url}

    def _list_queues(self, request: Request) -> Response:
        prefix = str(request.get("QueueNamePrefix", ""))
        with self._documents() as documents:
            names = [key[len("queue/") :] for key, _ in documents.scan("queue/" + prefix)]
        return {"QueueUrls": [self.ref(name).url for name in names]} if names else {}

    def _delete_queue(self, request: Request) -> Response:
        with self._documents() as documents:
            queue = _queue(documents, _url_name(request))
            documents.delete("queue/" + queue["name"])
            for key, _ in documents.scan(_message_prefix(queue["name"])):
                documents.delete(key)
            drop_deduplication(documents, queue["name"])
        return {}

    def _purge_queue(self, request: Request) -> Response:
        with self._documents() as documents:
            queue = _queue(documents, _url_name(request))
            for key, _ in documents.scan(_message_prefix(queue["name"])):
                documents.delete(key)
        return {}

    def _get_queue_attributes(self, request: Request) -> Response:
        wanted = list(request.get("AttributeNames") or [])
        with self._documents() as documents:
            queue = _queue(documents, _url_name(request))
            messages = [_load(v) for _, v in documents.scan(_message_prefix(queue["name"]))]
        everything = self._all_attributes(queue, messages)
        if "All" in wanted:
            return {"Attributes": everything}
        unknown = [name for name in wanted if name not in everything and not _known(name)]
        if unknown:
            raise sqs_error("InvalidAttributeName", f"Unknown Attribute {unknown[0]}.")
        chosen = {name: everything[name] for name in wanted if name in everything}
        return {"Attributes": chosen} if chosen else {}

    def _set_queue_attributes(self, request: Request) -> Response:
        attributes = _checked_attributes(request.get("Attributes") or {})
        with self._documents() as documents:
            queue = _queue(documents, _url_name(request))
            _check_redrive(documents, attributes)
            queue["attributes"] = {**queue["attributes"], **attributes}
            queue["modified"] = self.clock()
            _save_queue(documents, queue)
        return {}

    def _all_attributes(
        self, queue: dict[str, Any], messages: list[dict[str, Any]]
    ) -> dict[str, str]:
        now = self.clock()
        visible = sum(1 for m in messages if m["visible_at"] <= now and m["receive_count"] == 0)
        delayed = sum(1 for m in messages if m["visible_at"] > now and m["receive_count"] == 0)
        in_flight = sum(1 for m in messages if m["visible_at"] > now and m["receive_count"] > 0)
        returned = sum(1 for m in messages if m["visible_at"] <= now and m["receive_count"] > 0)
        defaults = {name: str(default) for name, (default, _, _) in NUMERIC_ATTRIBUTES.items()}
        return {
            **defaults,
            "QueueArn": self.ref(queue["name"]).arn,
            "ApproximateNumberOfMessages": str(visible + returned),
            "ApproximateNumberOfMessagesNotVisible": str(in_flight),
            "ApproximateNumberOfMessagesDelayed": str(delayed),
            "CreatedTimestamp": str(int(queue["created"])),
            "LastModifiedTimestamp": str(int(queue["modified"])),
            "SqsManagedSseEnabled": "false",
            **queue["attributes"],
        }

    def _tag_queue(self, request: Request) -> Response:
        with self._documents() as documents:
            queue = _queue(documents, _url_name(request))
            queue["tags"] = {**queue.get("tags", {}), **dict(request.get("Tags") or {})}
            _save_queue(documents, queue)
        return {}

    def _list_queue_tags(self, request: Request) -> Response:
        with self._documents() as documents:
            tags = _queue(documents, _url_name(request)).get("tags", {})
        return {"Tags": tags} if tags else {}

    # --- messages ----------------------------------------------------------------------------

    def _send_message(self, request: Request) -> Response:
        with self._documents() as documents:
            queue = _queue(documents, _url_name(request))
            response = self._send(documents, queue, request)
        self._sent(queue["name"])
        return response

    def _sent(self, name: str) -> None:
        for listener in self.listeners:
            listener(name)

    def _send_message_batch(self, request: Request) -> Response:
        name, successful, failed = self._each_entry(request, self._send)
        if successful:
            self._sent(name)
        return _batch_result(successful, failed)

    def _each_entry(self, request: Request, act: _EntryAction) -> _BatchOutcome:
        """One batch request: ``act`` on each entry in one transaction; an entry's
        ServiceError fails that entry only (API Reference, ``Failed`` of each Batch)."""
        entries = _batch_entries(request)
        successful: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        with self._documents() as documents:
            queue = _queue(documents, _url_name(request))
            for entry in entries:
                try:
                    shown = act(documents, queue, entry) or {}
                except ServiceError as error:
                    failed.append(_batch_failure(entry, error))
                    continue
                successful.append({"Id": entry["Id"], **shown})
        return queue["name"], successful, failed

    def _send(self, documents: Documents, queue: dict[str, Any], request: Request) -> Response:
        body = _message_body(request)
        attributes = _message_attributes(request.get("MessageAttributes") or {})
        now = self.clock()
        fifo: dict[str, Any] = {}
        if is_fifo(queue):
            fifo, duplicate = fifo_send(documents, queue, request, body, now)
            if duplicate is not None:
                return duplicate
            fifo["sequence"] = f"{int(queue.get('next', 0)):020d}"
            delay = _attribute(queue, "DelaySeconds")
        else:
            delay = _delay(request, queue)
        message_id = str(uuid.uuid4())
        message = {
            "id": message_id,
            "body": body,
            "attributes": attributes,
            "sent": now,
            "visible_at": now + delay,
            "receive_count": 0,
            "first_receive": None,
            "receipt": None,
            **fifo,
        }
        self._append(documents, queue, message)
        response: Response = {"MD5OfMessageBody": md5_of_body(body), "MessageId": message_id}
        if attributes:
            response["MD5OfMessageAttributes"] = md5_of_attributes(attributes)
        if fifo:
            response["SequenceNumber"] = fifo["sequence"]
            remember_send(documents, queue["name"], fifo["dedup"], response, now)
        return response

    def _append(self, documents: Documents, queue: dict[str, Any], message: dict[str, Any]) -> None:
        sequence = int(queue.get("next", 0))
        queue["next"] = sequence + 1
        _save_queue(documents, queue)
        documents.put(_message_key(queue["name"], sequence), orjson.dumps(message))

    def _receive_message(self, request: Request) -> Response:
        limit = _bounded(request, "MaxNumberOfMessages", 1, 1, 10)
        with self._documents() as documents:
            queue = _queue(documents, _url_name(request))
            visibility = _bounded(
                request, "VisibilityTimeout", _attribute(queue, "VisibilityTimeout"), 0, 43_200
            )
            received = self._receive(documents, queue, limit, visibility)
        shown = [self._shown(message, request) for message in received]
        return {"Messages": shown} if shown else {}

    def receive_wait_seconds(self, reference: str) -> int:
        """A queue's ``ReceiveMessageWaitTimeSeconds`` (0 if there is no such queue)."""
        with self._documents() as documents:
            queue = _load_queue(documents, queue_name(reference))
        return 0 if queue is None else _attribute(queue, "ReceiveMessageWaitTimeSeconds")

    def _receive(
        self, documents: Documents, queue: dict[str, Any], limit: int, visibility: int
    ) -> list[dict[str, Any]]:
        now = self.clock()
        retention = _attribute(queue, "MessageRetentionPeriod")
        redrive = _redrive(queue)
        received: list[dict[str, Any]] = []
        groups: set[str] = set()  # FIFO groups with a message in flight or delayed
        for key, value in documents.scan(_message_prefix(queue["name"])):
            if len(received) >= limit:
                break
            message = _load(value)
            if message["sent"] + retention <= now:
                documents.delete(key)
                continue
            if blocked(message, groups, message["visible_at"] <= now):
                continue
            if redrive is not None and message["receive_count"] >= redrive[1]:
                self._dead_letter(documents, key, message, redrive[0])
                continue
            message["receive_count"] += 1
            message["first_receive"] = message["first_receive"] or now
            message["visible_at"] = now + visibility
            message["receipt"] = _receipt(queue["name"], key, message["receive_count"])
            documents.put(key, orjson.dumps(message))
            received.append(message)
        return received

    def _dead_letter(
        self, documents: Documents, key: str, message: dict[str, Any], target: str
    ) -> None:
        """Move the message to the dead-letter queue, keeping its ID, body and attributes."""
        documents.delete(key)
        dead = _load_queue(documents, queue_name(target))
        if dead is None:
            return  # the dead-letter queue was deleted: AWS drops the message too
        moved = {**message, "visible_at": self.clock(), "receipt": None}
        self._append(documents, dead, moved)

    def _shown(self, message: dict[str, Any], request: Request) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "MessageId": message["id"],
            "ReceiptHandle": message["receipt"],
            "MD5OfBody": md5_of_body(message["body"]),
            "Body": message["body"],
        }
        system = _system_attributes(message, _wanted_system(request))
        if system:
            shown["Attributes"] = system
        attributes = _chosen_attributes(message["attributes"], request)
        if attributes:
            shown["MD5OfMessageAttributes"] = md5_of_attributes(attributes)
            shown["MessageAttributes"] = attributes
        return shown

    def _delete_message(self, request: Request) -> Response:
        with self._documents() as documents:
            queue = _queue(documents, _url_name(request))
            self._delete(documents, queue, str(request.get("ReceiptHandle", "")))
        return {}

    def _delete_message_batch(self, request: Request) -> Response:
        _, successful, failed = self._each_entry(request, self._delete_entry)
        return _batch_result(successful, failed)

    def _delete_entry(self, documents: Documents, queue: dict[str, Any], entry: Request) -> None:
        self._delete(documents, queue, str(entry.get("ReceiptHandle", "")))

    def _delete(self, documents: Documents, queue: dict[str, Any], handle: str) -> None:
        key = _receipt_key(queue["name"], handle)
        documents.delete(key)  # deleting a message that is already gone succeeds, as on AWS

    def _change_message_visibility(self, request: Request) -> Response:
        with self._documents() as documents:
            queue = _queue(documents, _url_name(request))
            self._change_visibility(documents, queue, request)
        return {}

    def _change_message_visibility_batch(self, request: Request) -> Response:
        _, successful, failed = self._each_entry(request, self._change_visibility)
        return _batch_result(successful, failed)

    def _change_visibility(
        self, documents: Documents, queue: dict[str, Any], request: Request
    ) -> None:
        timeout = _bounded(request, "VisibilityTimeout", 0, 0, 43_200)
        handle = str(request.get("ReceiptHandle", ""))
        key = _receipt_key(queue["name"], handle)
        value = documents.get(key)
        message = _load(value) if value is not None else None
        if message is None or message["visible_at"] <= self.clock():
            raise sqs_error(
                "MessageNotInflight",
                f"Value {handle} for parameter ReceiptHandle is invalid. "
                "Reason: Message does not exist or is not available for visibility "
                "timeout change.",
            )
        message["visible_at"] = self.clock() + timeout
        documents.put(key, orjson.dumps(message))

    # --- helpers for other services ------------------------------------------------------

    def deliver(self, queue_arn: str, body: str, attributes: Mapping[str, Any]) -> str:
        """Enqueue a message for another service (an SNS subscription); its MessageId."""
        response = self.call(
            "SendMessage",
            {"QueueUrl": queue_arn, "MessageBody": body, "MessageAttributes": dict(attributes)},
        )
        return str(response["MessageId"])


def _known(name: str) -> bool:
    return name in NUMERIC_ATTRIBUTES or name in OTHER_ATTRIBUTES


def _checked_attributes(attributes: Mapping[str, Any]) -> dict[str, str]:
    checked: dict[str, str] = {}
    for name, raw in attributes.items():
        value = str(raw)
        if name in NUMERIC_ATTRIBUTES:
            _, low, high = NUMERIC_ATTRIBUTES[name]
            if not value.lstrip("-").isdigit() or not low <= int(value) <= high:
                raise sqs_error("InvalidAttributeValue", f"Invalid value for the parameter {name}.")
        elif name == "RedrivePolicy":
            value = _redrive_text(value)
        elif name in FIFO_ATTRIBUTES:
            value = checked_fifo_attribute(name, value)
        elif name not in OTHER_ATTRIBUTES:
            raise sqs_error("InvalidAttributeName", f"Unknown Attribute {name}.")
        checked[name] = value
    return checked


def _redrive_text(value: str) -> str:
    try:
        policy = orjson.loads(value)
        target = str(policy["deadLetterTargetArn"])
        count = int(policy["maxReceiveCount"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise sqs_error(
            "InvalidAttributeValue",
            f"Value {value} for parameter RedrivePolicy is invalid. Reason: Redrive policy is "
            "not a valid JSON map.",
        ) from None
    if not 1 <= count <= 1000:
        raise sqs_error(
            "InvalidAttributeValue",
            f"Value {value} for parameter RedrivePolicy is invalid. Reason: Invalid value for "
            "maxReceiveCount: "
            f"{count}, valid values are from 1 to 1000 both inclusive.",
        )
    return orjson.dumps({"deadLetterTargetArn": target, "maxReceiveCount": count}).decode()


def _check_redrive(documents: Documents, attributes: Mapping[str, str]) -> None:
    text = attributes.get("RedrivePolicy")
    if text is None:
        return
    target = orjson.loads(text)["deadLetterTargetArn"]
    if _load_queue(documents, queue_name(target)) is None:
        raise sqs_error(
            "InvalidAttributeValue",
            f"Value {text} for parameter RedrivePolicy is invalid. Reason: Dead letter target "
            "does not exist.",
        )


def _redrive(queue: Mapping[str, Any]) -> tuple[str, int] | None:
    text = queue["attributes"].get("RedrivePolicy")
    if not text:
        return None
    policy = orjson.loads(text)
    return str(policy["deadLetterTargetArn"]), int(policy["maxReceiveCount"])


def _same_attributes(queue: Mapping[str, Any], attributes: Mapping[str, str]) -> None:
    current = queue["attributes"]
    for name, value in attributes.items():
        default = NUMERIC_ATTRIBUTES.get(name, (None, 0, 0))[0]
        if current.get(name, None if default is None else str(default)) != value:
            raise sqs_error(
                "QueueNameExists",
                f"A queue already exists with the same name and a different value for "
                f"attribute {name}",
            )


def _attribute(queue: Mapping[str, Any], name: str) -> int:
    default = NUMERIC_ATTRIBUTES[name][0]
    return int(queue["attributes"].get(name, default))


def _bounded(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = low - 1
    if not low <= value <= high:
        raise invalid_value(
            f"Value {raw} for parameter {name} is invalid. Reason: Must be between "
            f"{low} and {high}, if provided."
        )
    return value


def _delay(request: Request, queue: Mapping[str, Any]) -> int:
    return _bounded(request, "DelaySeconds", _attribute(queue, "DelaySeconds"), 0, 900)


def _message_body(request: Request) -> str:
    body = request.get("MessageBody")
    if body is None or body == "":
        raise sqs_error("MissingParameter", "The request must contain the parameter MessageBody.")
    if not isinstance(body, str):
        raise invalid_value("The value for parameter MessageBody must be a string.")
    if _VALID_CHARACTERS.search(body):
        raise sqs_error(
            "InvalidMessageContents",
            "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to "
            "#xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
        )
    if len(body.encode()) > MAX_BODY_BYTES:
        raise invalid_value(
            "One or more parameters are invalid. Reason: Message must be shorter than "
            f"{MAX_BODY_BYTES} bytes."
        )
    return body


def _message_attributes(attributes: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    if len(attributes) > MAX_ATTRIBUTES:
        raise invalid_value(
            f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum "
            f"[{MAX_ATTRIBUTES}]."
        )
    checked: dict[str, dict[str, Any]] = {}
    for name, attribute in attributes.items():
        data_type = str(attribute.get("DataType", "")) if isinstance(attribute, Mapping) else ""
        base = data_type.split(".", 1)[0]
        if base not in ("String", "Number", "Binary"):
            raise invalid_value(
                f"The type of message (user) attribute '{name}' is invalid. You must use only "
                "the following supported type prefixes: Binary, Number, String."
            )
        field = "BinaryValue" if base == "Binary" else "StringValue"
        value = attribute.get(field)
        if value is None or value == "":
            raise invalid_value(
                f"Message (user) attribute '{name}' must contain a non-empty value of type "
                f"'{base}'."
            )
        if isinstance(value, bytes | bytearray):
            value = base64.b64encode(bytes(value)).decode()
        checked[name] = {"DataType": data_type, field: str(value)}
    return checked


def _wanted_system(request: Request) -> set[str]:
    names = set(request.get("AttributeNames") or []) | set(
        request.get("MessageSystemAttributeNames") or []
    )
    return {*SYSTEM_ATTRIBUTES, *FIFO_SYSTEM_ATTRIBUTES} if "All" in names else names


def _system_attributes(message: Mapping[str, Any], wanted: set[str]) -> dict[str, str]:
    values = {
        "SenderId": SENDER_ID,
        "SentTimestamp": str(int(message["sent"] * 1000)),
        "ApproximateReceiveCount": str(message["receive_count"]),
        "ApproximateFirstReceiveTimestamp": str(int(message["first_receive"] * 1000)),
    }
    values.update(fifo_system_attributes(message))
    return {name: value for name, value in values.items() if name in wanted}


def _chosen_attributes(
    attributes: Mapping[str, dict[str, Any]], request: Request
) -> dict[str, dict[str, Any]]:
    names = list(request.get("MessageAttributeNames") or [])
    if "All" in names or ".*" in names:
        return dict(attributes)
    chosen: dict[str, dict[str, Any]] = {}
    for name, attribute in attributes.items():
        if any(_matches(name, pattern) for pattern in names):
            chosen[name] = attribute
    return chosen


def _matches(name: str, pattern: str) -> bool:
    if pattern.endswith(".*"):
        return name.startswith(pattern[:-1])
    return name == pattern


def _batch_entries(request: Request) -> list[dict[str, Any]]:
    entries = list(request.get("Entries") or [])
    if not entries:
        raise sqs_error(
            "EmptyBatchRequest",
            "There should be at least one SendMessageBatchRequestEntry in the request.",
        )
    if len(entries) > 10:
        raise sqs_error(
            "TooManyEntriesInBatchRequest",
            f"Maximum number of entries per request are 10. You have sent {len(entries)}.",
        )
    ids = [str(entry.get("Id")) for entry in entries]
    if len(set(ids)) != len(ids):
        raise sqs_error("BatchEntryIdsNotDistinct", "Id " + ids[0] + " repeated.")
    return [dict(entry) for entry in entries]


def _batch_failure(entry: Mapping[str, Any], error: ServiceError) -> dict[str, Any]:
    return {"Id": entry["Id"], "SenderFault": True, "Code": error.code, "Message": error.message}


def _batch_result(successful: list[dict[str, Any]], failed: list[dict[str, Any]]) -> Response:
    return {"Successful": successful, "Failed": failed}


def _url_name(request: Request) -> str:
    return queue_name(str(request.get("QueueUrl", "")))


def _queue(documents: Documents, name: str) -> dict[str, Any]:
    queue = _load_queue(documents, name)
    if queue is None:
        raise no_queue()
    return queue


def _load_queue(documents: Documents, name: str) -> dict[str, Any] | None:
    value = documents.get("queue/" + name)
    return None if value is None else _load(value)


def _save_queue(documents: Documents, queue: Mapping[str, Any]) -> None:
    documents.put("queue/" + queue["name"], orjson.dumps(queue))


def _load(value: bytes) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(value)
    return loaded


def _message_prefix(queue: str) -> str:
    return f"msg/{queue}/"


def _message_key(queue: str, sequence: int) -> str:
    return f"{_message_prefix(queue)}{sequence:020d}"


def _receipt(queue: str, key: str, receive_count: int) -> str:
    nonce = uuid.uuid4().hex
    raw = f"{queue}\n{key[len(_message_prefix(queue)) :]}\n{receive_count}\n{nonce}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _receipt_key(queue: str, handle: str) -> str:
    try:
        parts = base64.urlsafe_b64decode(handle.encode()).decode().split("\n")
        name, sequence = parts[0], parts[1]
        int(sequence)
    except (ValueError, IndexError, UnicodeDecodeError):
        raise sqs_error(
            "ReceiptHandleIsInvalid",
            f'The input receipt handle "{handle}" is not a valid receipt handle.',
        ) from None
    if name != queue:
        raise sqs_error(
            "ReceiptHandleIsInvalid",
            f'The input receipt handle "{handle}" is not a valid for this queue.',
        )
    return _message_prefix(queue) + sequence


SqsClient.operations = {
    "CreateQueue": SqsClient._create_queue,
    "GetQueueUrl": SqsClient._get_queue_url,
    "ListQueues": SqsClient._list_queues,
    "DeleteQueue": SqsClient._delete_queue,
    "PurgeQueue": SqsClient._purge_queue,
    "GetQueueAttributes": SqsClient._get_queue_attributes,
    "SetQueueAttributes": SqsClient._set_queue_attributes,
    "TagQueue": SqsClient._tag_queue,
    "ListQueueTags": SqsClient._list_queue_tags,
    "SendMessage": SqsClient._send_message,
    "SendMessageBatch": SqsClient._send_message_batch,
    "ReceiveMessage": SqsClient._receive_message,
    "DeleteMessage": SqsClient._delete_message,
    "DeleteMessageBatch": SqsClient._delete_message_batch,
    "ChangeMessageVisibility": SqsClient._change_message_visibility,
    "ChangeMessageVisibilityBatch": SqsClient._change_message_visibility_batch,
}

__all__ = ["NAMESPACE", "Operation", "SqsClient", "md5_of_attributes", "md5_of_body", "queue_name"]
