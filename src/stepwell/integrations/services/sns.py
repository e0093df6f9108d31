"""An embedded SNS-like topic service: topics, subscriptions and fan-out delivery.

A published message goes to every subscription of the topic, as SNS delivers it
(Developer Guide, "Amazon SNS message delivery" and "Amazon SNS message and JSON formats"):

* ``sqs``: into an embedded queue (the endpoint is the queue's ARN), as the JSON
  notification envelope (``Type``, ``MessageId``, ``TopicArn``, ``Message``, ``Timestamp``,
  signature fields, ``MessageAttributes``), or the bare message with its attributes as SQS
  message attributes when ``RawMessageDelivery`` is ``true``;
* ``http``/``https``: a POST of the envelope with the ``x-amz-sns-*`` headers (httpx);
* ``lambda``: the registered Python function named by the function ARN, called with the
  ``{"Records": [{"EventSource": "aws:sns", "Sns": {...}}]}`` event Lambda would get;
* ``email``/``email-json``: an *outbox* the user reads with ``outbox()`` (no mail leaves
  the machine).

Design decision: topics and subscriptions live in ``documents("sns")``; delivery happens
after that transaction commits, each queue delivery in its own ``documents("sqs")``
transaction (never nested). Subscriptions are confirmed at once (AWS asks HTTP and email
endpoints to confirm first). A delivery that fails is recorded in ``failed_deliveries()``
and not retried. Subscription filter policies are in ``sns_filters.py``. Signatures are
placeholders: nothing here holds AWS's signing key.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol

import orjson

from stepwell.integrations.services.base import (
    Clock,
    Request,
    Response,
    ServiceClient,
    ServiceError,
)
from stepwell.integrations.services.documents import DocumentStore
from stepwell.integrations.services.sns_filters import accepts, parse_policy
from stepwell.integrations.services.sqs import SqsClient

if TYPE_CHECKING:
    import httpx

NAMESPACE: Final = "sns"
PROTOCOLS: Final = frozenset({"sqs", "http", "https", "lambda", "email", "email-json"})
_TOPIC_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")
DEFAULT_SUBJECT: Final = "AWS Notification Message"
SUBSCRIPTION_ATTRIBUTES: Final = frozenset(
    {
        "DeliveryPolicy",
        "FilterPolicy",
        "FilterPolicyScope",
        "RawMessageDelivery",
        "RedrivePolicy",
        "SubscriptionRoleArn",
        "ReplayPolicy",
    }
)


class FunctionInvoker(Protocol):
    """What delivers to the ``lambda`` protocol: Stepwell's function registry."""

    def invoke(self, resource: str, payload: Any, request_id: str) -> Any: ...


def sns_error(exception: str, code: str, message: str, status: int = 400) -> ServiceError:
    return ServiceError(exception, message, code=code, status=status)


def invalid_parameter(message: str) -> ServiceError:
    return sns_error("InvalidParameterException", "InvalidParameter", message)


def not_found(message: str = "Topic does not exist") -> ServiceError:
    return sns_error("NotFoundException", "NotFound", message, 404)


class SnsClient(ServiceClient):
    """SNS's API over the embedded topics (``publish(TopicArn=..., Message=...)``)."""

    service_name: ClassVar[str] = "sns"

    def __init__(
        self,
        store: DocumentStore,
        clock: Clock,
        queues: SqsClient,
        region: str = "us-east-1",
        account: str = "123456789012",
        functions: FunctionInvoker | None = None,
        http: Callable[[], httpx.Client] | None = None,
    ) -> None:
        super().__init__(store, clock, region, account)
        self.queues = queues
        self.functions = functions
        self.http = http or _default_http_client

    def topic_arn(self, name: str) -> str:
        return f"arn:aws:sns:{self.region}:{self.account}:{name}"

    # --- topics and subscriptions ------------------------------------------------------------

    def _create_topic(self, request: Request) -> Response:
        name = str(request.get("Name", ""))
        if not _TOPIC_NAME.fullmatch(name):
            raise invalid_parameter(
                "Invalid parameter: Topic Name: Topic names must be made up of only uppercase "
                "and lowercase ASCII letters, numbers, underscores, and hyphens, and must be "
                "between 1 and 256 characters long."
            )
        arn = self.topic_arn(name)
        with self.store.documents(NAMESPACE) as documents:
            if documents.get("topic/" + name) is None:
                topic = {
                    "arn": arn,
                    "name": name,
                    "attributes": dict(request.get("Attributes") or {}),
                }
                documents.put("topic/" + name, orjson.dumps({**topic, "subscriptions": []}))
        return {"TopicArn": arn}

    def _delete_topic(self, request: Request) -> Response:
        name = _name(request.get("TopicArn", ""))
        with self.store.documents(NAMESPACE) as documents:
            documents.delete("topic/" + name)
        return {}

    def _list_topics(self, request: Request) -> Response:
        with self.store.documents(NAMESPACE) as documents:
            topics = [orjson.loads(value)["arn"] for _, value in documents.scan("topic/")]
        return {"Topics": [{"TopicArn": arn} for arn in topics]}

    def _get_topic_attributes(self, request: Request) -> Response:
        with self.store.documents(NAMESPACE) as documents:
            topic = _topic(documents, request)
        subscriptions = topic["subscriptions"]
        return {
            "Attributes": {
                "TopicArn": topic["arn"],
                "Owner": self.account,
                "DisplayName": "",
                "SubscriptionsConfirmed": str(len(subscriptions)),
                "SubscriptionsPending": "0",
                "SubscriptionsDeleted": "0",
                **topic["attributes"],
            }
        }

    def _subscribe(self, request: Request) -> Response:
        protocol = str(request.get("Protocol", ""))
        endpoint = str(request.get("Endpoint", ""))
        if protocol not in PROTOCOLS:
            raise invalid_parameter(
                f"Invalid parameter: Amazon SNS does not support this protocol string: {protocol}"
            )
        if not endpoint:
            raise invalid_parameter("Invalid parameter: Endpoint")
        attributes = _subscription_attributes(request.get("Attributes") or {})
        with self.store.documents(NAMESPACE) as documents:
            topic = _topic(documents, request)
            for existing in topic["subscriptions"]:
                if (existing["protocol"], existing["endpoint"]) == (protocol, endpoint):
                    return {"SubscriptionArn": existing["arn"]}
            arn = f"{topic['arn']}:{uuid.uuid4()}"
            topic["subscriptions"].append(
                {"arn": arn, "protocol": protocol, "endpoint": endpoint, "attributes": attributes}
            )
            documents.put("topic/" + topic["name"], orjson.dumps(topic))
        return {"SubscriptionArn": arn}

    def _unsubscribe(self, request: Request) -> Response:
        arn = str(request.get("SubscriptionArn", ""))
        topic_name = arn.rsplit(":", 1)[0].rsplit(":", 1)[-1]
        with self.store.documents(NAMESPACE) as documents:
            value = documents.get("topic/" + topic_name)
            if value is not None:
                topic = orjson.loads(value)
                topic["subscriptions"] = [s for s in topic["subscriptions"] if s["arn"] != arn]
                documents.put("topic/" + topic_name, orjson.dumps(topic))
        return {}

    def _list_subscriptions_by_topic(self, request: Request) -> Response:
        with self.store.documents(NAMESPACE) as documents:
            topic = _topic(documents, request)
        return {
            "Subscriptions": [
                {
                    "SubscriptionArn": s["arn"],
                    "Owner": self.account,
                    "Protocol": s["protocol"],
                    "Endpoint": s["endpoint"],
                    "TopicArn": topic["arn"],
                }
                for s in topic["subscriptions"]
            ]
        }

    # --- publishing --------------------------------------------------------------------------

    def _list_subscriptions(self, request: Request) -> Response:
        with self.store.documents(NAMESPACE) as documents:
            topics = [orjson.loads(value) for _, value in documents.scan("topic/")]
        return {
            "Subscriptions": [
                self._subscription_summary(topic, s)
                for topic in topics
                for s in topic["subscriptions"]
            ]
        }

    def _subscription_summary(
        self, topic: Mapping[str, Any], subscription: Mapping[str, Any]
    ) -> dict[str, str]:
        return {
            "SubscriptionArn": subscription["arn"],
            "Owner": self.account,
            "Protocol": subscription["protocol"],
            "Endpoint": subscription["endpoint"],
            "TopicArn": topic["arn"],
        }

    def _get_subscription_attributes(self, request: Request) -> Response:
        with self.store.documents(NAMESPACE) as documents:
            topic, subscription = _subscription(documents, request)
        return {
            "Attributes": {
                **self._subscription_summary(topic, subscription),
                "ConfirmationWasAuthenticated": "true",
                "PendingConfirmation": "false",
                "RawMessageDelivery": "false",
                **subscription["attributes"],
            }
        }

    def _set_subscription_attributes(self, request: Request) -> Response:
        name = str(request.get("AttributeName", ""))
        value = request.get("AttributeValue")
        changed = _subscription_attributes({name: "" if value is None else value})
        with self.store.documents(NAMESPACE) as documents:
            topic, subscription = _subscription(documents, request)
            subscription["attributes"].update(changed)
            documents.put("topic/" + topic["name"], orjson.dumps(topic))
        return {}

    # --- publishing --------------------------------------------------------------------------

    def _publish(self, request: Request) -> Response:
        with self.store.documents(NAMESPACE) as documents:
            topic = _topic(documents, request)
        return {"MessageId": self._fan_out(topic, request)}

    def _publish_batch(self, request: Request) -> Response:
        entries = _batch_entries(request)
        with self.store.documents(NAMESPACE) as documents:
            topic = _topic(documents, request)
        successful: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for entry in entries:
            try:
                message_id = self._fan_out(topic, entry)
            except ServiceError as error:
                failed.append(
                    {"Id": entry["Id"], "Code": error.code, "Message": error.message,
                     "SenderFault": True}
                )  # fmt: skip
                continue
            successful.append({"Id": entry["Id"], "MessageId": message_id})
        return {"Successful": successful, "Failed": failed}

    def _fan_out(self, topic: Mapping[str, Any], request: Request) -> str:
        """Deliver one message to every subscription whose filter policy accepts it."""
        message = request.get("Message")
        if message is None or message == "":
            raise invalid_parameter("Invalid parameter: Empty message")
        if not isinstance(message, str):
            raise invalid_parameter("Invalid parameter: Message must be a string")
        structure = request.get("MessageStructure")
        by_protocol = _structured(message) if structure == "json" else None
        notification = {
            "MessageId": str(uuid.uuid4()),
            "TopicArn": topic["arn"],
            "Subject": request.get("Subject"),
            "Message": message,
            "Timestamp": _timestamp(self.clock()),
            "MessageAttributes": dict(request.get("MessageAttributes") or {}),
        }
        for subscription in topic["subscriptions"]:
            text = (
                by_protocol.get(subscription["protocol"], by_protocol["default"])
                if by_protocol
                else message
            )
            if accepts(subscription["attributes"], text, notification["MessageAttributes"]):
                self._deliver(subscription, {**notification, "Message": text})
        return str(notification["MessageId"])

    def _deliver(self, subscription: Mapping[str, Any], notification: Mapping[str, Any]) -> None:
        try:
            _DELIVERIES[subscription["protocol"]](self, subscription, notification)
        except Exception as failure:  # a failed delivery never fails the publisher
            self._record_failure(subscription, notification, failure)

    def _to_queue(self, subscription: Mapping[str, Any], notification: Mapping[str, Any]) -> None:
        if _raw(subscription):
            attributes = {
                name: _as_queue_attribute(value)
                for name, value in notification["MessageAttributes"].items()
            }
            self.queues.deliver(subscription["endpoint"], notification["Message"], attributes)
        else:
            body = orjson.dumps(self.envelope(subscription, notification)).decode()
            self.queues.deliver(subscription["endpoint"], body, {})

    def _to_http(self, subscription: Mapping[str, Any], notification: Mapping[str, Any]) -> None:
        raw = _raw(subscription)
        body = (
            notification["Message"]
            if raw
            else orjson.dumps(self.envelope(subscription, notification)).decode()
        )
        headers = {
            "x-amz-sns-message-type": "Notification",
            "x-amz-sns-message-id": notification["MessageId"],
            "x-amz-sns-topic-arn": notification["TopicArn"],
            "x-amz-sns-subscription-arn": subscription["arn"],
            "Content-Type": "text/plain; charset=UTF-8",
            "User-Agent": "Amazon Simple Notification Service Agent",
        }
        if raw:
            headers["x-amz-sns-rawdelivery"] = "true"
        with self.http() as client:
            response = client.post(subscription["endpoint"], content=body.encode(), headers=headers)
        response.raise_for_status()

    def _to_function(
        self, subscription: Mapping[str, Any], notification: Mapping[str, Any]
    ) -> None:
        if self.functions is None:
            raise RuntimeError("no Python functions are registered for lambda subscriptions")
        envelope = self.envelope(subscription, notification)
        record = {
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": subscription["arn"],
            "Sns": {
                **{
                    k: v
                    for k, v in envelope.items()
                    if k not in ("SigningCertURL", "UnsubscribeURL")
                },
                "SigningCertUrl": envelope["SigningCertURL"],
                "UnsubscribeUrl": envelope["UnsubscribeURL"],
                "MessageAttributes": envelope.get("MessageAttributes", {}),
            },
        }
        outcome = self.functions.invoke(
            subscription["endpoint"], {"Records": [record]}, notification["MessageId"]
        )
        error = getattr(outcome, "error", None)
        if error is not None:
            raise RuntimeError(f"{error}: {getattr(outcome, 'cause', '')}")

    def _to_outbox(self, subscription: Mapping[str, Any], notification: Mapping[str, Any]) -> None:
        json_format = subscription["protocol"] == "email-json"
        mail = {
            "MessageId": notification["MessageId"],
            "TopicArn": notification["TopicArn"],
            "SubscriptionArn": subscription["arn"],
            "To": subscription["endpoint"],
            "Subject": notification["Subject"] or DEFAULT_SUBJECT,
            "Body": orjson.dumps(self.envelope(subscription, notification)).decode()
            if json_format
            else notification["Message"],
            "Timestamp": notification["Timestamp"],
        }
        with self.store.documents(NAMESPACE) as documents:
            documents.put(
                f"outbox/{self.clock():020.6f}/{mail['MessageId']}/{mail['To']}", orjson.dumps(mail)
            )

    def envelope(
        self, subscription: Mapping[str, Any], notification: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The JSON notification SNS sends to SQS, HTTP and email-json endpoints."""
        body: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": notification["MessageId"],
            "TopicArn": notification["TopicArn"],
        }
        if notification["Subject"] is not None:
            body["Subject"] = notification["Subject"]
        body.update(
            {
                "Message": notification["Message"],
                "Timestamp": notification["Timestamp"],
                "SignatureVersion": "1",
                "Signature": _placeholder_signature(notification),
                "SigningCertURL": f"https://sns.{self.region}.amazonaws.com/"
                "SimpleNotificationService-0000000000000000000000000000000.pem",
                "UnsubscribeURL": f"https://sns.{self.region}.amazonaws.com/"
                f"?Action=Unsubscribe&SubscriptionArn={subscription['arn']}",
            }
        )
        attributes = notification["MessageAttributes"]
        if attributes:
            body["MessageAttributes"] = {
                name: _envelope_attribute(value) for name, value in attributes.items()
            }
        return body

    def _record_failure(
        self, subscription: Mapping[str, Any], notification: Mapping[str, Any], failure: Exception
    ) -> None:
        record = {
            "MessageId": notification["MessageId"],
            "SubscriptionArn": subscription["arn"],
            "Protocol": subscription["protocol"],
            "Endpoint": subscription["endpoint"],
            "Error": f"{type(failure).__name__}: {failure}",
            "Timestamp": _timestamp(self.clock()),
        }
        with self.store.documents(NAMESPACE) as documents:
            documents.put(f"failed/{self.clock():020.6f}/{uuid.uuid4()}", orjson.dumps(record))

    # --- reading what was delivered ----------------------------------------------------------

    def outbox(self, address: str | None = None) -> list[dict[str, Any]]:
        """The email notifications delivered so far (to ``address`` only, if given), oldest
        first: ``To``, ``Subject``, ``Body``, ``MessageId``, ``TopicArn``, ``Timestamp``."""
        with self.store.documents(NAMESPACE) as documents:
            mails = [orjson.loads(value) for _, value in documents.scan("outbox/")]
        return [m for m in mails if address is None or m["To"] == address]

    def failed_deliveries(self) -> list[dict[str, Any]]:
        """Deliveries that failed (unreachable endpoint, missing queue, function error)."""
        with self.store.documents(NAMESPACE) as documents:
            return [orjson.loads(value) for _, value in documents.scan("failed/")]


_DELIVERIES: Final[
    Mapping[str, Callable[[SnsClient, Mapping[str, Any], Mapping[str, Any]], None]]
] = {
    "sqs": SnsClient._to_queue,
    "http": SnsClient._to_http,
    "https": SnsClient._to_http,
    "lambda": SnsClient._to_function,
    "email": SnsClient._to_outbox,
    "email-json": SnsClient._to_outbox,
}


def _default_http_client() -> httpx.Client:
    import httpx  # imported when first needed: it takes a noticeable time to import

    return httpx.Client(timeout=15.0)


def _name(reference: Any) -> str:
    return str(reference).rsplit(":", 1)[-1]


def _topic(documents: Any, request: Request) -> dict[str, Any]:
    arn = request.get("TopicArn")
    if not arn:
        raise invalid_parameter("Invalid parameter: TopicArn")
    value = documents.get("topic/" + _name(arn))
    if value is None:
        raise not_found()
    topic: dict[str, Any] = orjson.loads(value)
    return topic


def _subscription(documents: Any, request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """The topic and subscription a ``SubscriptionArn`` names."""
    arn = str(request.get("SubscriptionArn", ""))
    value = documents.get("topic/" + arn.rsplit(":", 1)[0].rsplit(":", 1)[-1])
    topic = orjson.loads(value) if value is not None else {"subscriptions": []}
    for subscription in topic["subscriptions"]:
        if subscription["arn"] == arn:
            return topic, subscription
    raise not_found("Subscription does not exist")


def _subscription_attributes(attributes: Mapping[str, Any]) -> dict[str, str]:
    """Subscription attributes, checked as SNS checks them."""
    checked: dict[str, str] = {}
    for name, raw in attributes.items():
        value = str(raw)
        if name not in SUBSCRIPTION_ATTRIBUTES:
            raise invalid_parameter("Invalid parameter: AttributeName")
        if name == "FilterPolicy" and value:
            parse_policy(value)
        if name == "FilterPolicyScope" and value not in ("MessageAttributes", "MessageBody"):
            raise invalid_parameter(
                "Invalid parameter: FilterPolicyScope: Invalid filter policy scope"
            )
        if name == "RawMessageDelivery":
            if value.lower() not in ("true", "false"):
                raise invalid_parameter("Invalid parameter: RawMessageDelivery")
            value = value.lower()
        checked[str(name)] = value
    return checked


def _batch_entries(request: Request) -> list[dict[str, Any]]:
    entries = [dict(entry) for entry in request.get("PublishBatchRequestEntries") or []]
    if not entries:
        raise sns_error(
            "EmptyBatchRequestException",
            "EmptyBatchRequest",
            "The batch request doesn't contain any entries.",
        )
    if len(entries) > 10:
        raise sns_error(
            "TooManyEntriesInBatchRequestException",
            "TooManyEntriesInBatchRequest",
            "The batch request contains more entries than permissible.",
        )
    ids = [str(entry.get("Id")) for entry in entries]
    if len(set(ids)) != len(ids):
        raise sns_error(
            "BatchEntryIdsNotDistinctException",
            "BatchEntryIdsNotDistinct",
            "Two or more batch entries in the request have the same Id.",
        )
    return entries


def _structured(message: str) -> dict[str, str]:
    try:
        parsed = orjson.loads(message)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("default"), str):
        raise invalid_parameter(
            "Invalid parameter: Message Structure - No default entry in JSON message body"
        )
    return {str(k): str(v) for k, v in parsed.items()}


def _raw(subscription: Mapping[str, Any]) -> bool:
    return str(subscription["attributes"].get("RawMessageDelivery", "false")).lower() == "true"


def _as_queue_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    data_type = str(value.get("DataType", "String"))
    if data_type.startswith("Binary"):
        return {"DataType": data_type, "BinaryValue": value.get("BinaryValue")}
    return {"DataType": data_type, "StringValue": value.get("StringValue")}


def _envelope_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    data_type = str(value.get("DataType", "String"))
    field = "BinaryValue" if data_type.startswith("Binary") else "StringValue"
    return {"Type": data_type, "Value": value.get(field)}


def _timestamp(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _placeholder_signature(notification: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(orjson.dumps(notification["MessageId"])).digest()
    return base64.b64encode(digest).decode()


SnsClient.operations = {
    "CreateTopic": SnsClient._create_topic,
    "DeleteTopic": SnsClient._delete_topic,
    "ListTopics": SnsClient._list_topics,
    "GetTopicAttributes": SnsClient._get_topic_attributes,
    "Subscribe": SnsClient._subscribe,
    "Unsubscribe": SnsClient._unsubscribe,
    "ListSubscriptionsByTopic": SnsClient._list_subscriptions_by_topic,
    "ListSubscriptions": SnsClient._list_subscriptions,
    "GetSubscriptionAttributes": SnsClient._get_subscription_attributes,
    "SetSubscriptionAttributes": SnsClient._set_subscription_attributes,
    "Publish": SnsClient._publish,
    "PublishBatch": SnsClient._publish_batch,
}

__all__ = ["NAMESPACE", "FunctionInvoker", "SnsClient"]
