"""Task integrations answered by the embedded services (DynamoDB, SQS, SNS, S3, EventBridge).

``arn:aws:states:::dynamodb:putItem`` and friends are *optimized* integrations: their result
is the API response plus the ``SdkHttpMetadata`` and ``SdkResponseMetadata`` that Step
Functions' Java SDK v1 client adds, and their errors read ``DynamoDB.ConditionalCheck...``.
``arn:aws:states:::aws-sdk:dynamodb:transactWriteItems`` and every other
``aws-sdk:{dynamodb,sqs,sns}:*`` action are *SDK* integrations: the bare API response, and
errors named ``DynamoDb.TransactionCanceledException`` (see ``naming.py``).

The optimized SQS and SNS integrations accept a JSON value for ``MessageBody`` /
``Message`` and send its JSON text, as the Developer Guide's examples do
(``"MessageBody": {"Input.$": "$", "TaskToken.$": "$$.Task.Token"}``). S3's ``putObject``
does the same with a JSON ``Body``, and ``events:putEvents`` with each entry's ``Detail``;
``getObject`` returns the body as text and dates as ISO 8601 text, as a Task's JSON
result must (``json_ready``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import orjson

from stepwell.integrations import naming
from stepwell.integrations.functions import Outcome
from stepwell.integrations.resources import ServiceResource
from stepwell.integrations.services import ServiceError, Services

_JSON_VALUED: Final[Mapping[tuple[str, str], str]] = {
    ("sqs", "sendMessage"): "MessageBody",
    ("sns", "publish"): "Message",
    ("s3", "putObject"): "Body",
}


class EmbeddedTasks:
    """Runs integrations whose service is embedded and implements the action."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def handles(self, resource: ServiceResource) -> bool:
        client = self.services.client(resource.service)
        return client is not None and client.supports(resource.action)

    def invoke(self, resource: ServiceResource, payload: Any, request_id: str) -> Outcome:
        client = self.services.client(resource.service)
        assert client is not None
        request = dict(payload) if isinstance(payload, Mapping) else {}
        if not resource.sdk or resource.service == "s3":
            request = _with_json_text(resource, request)
        try:
            response = json_ready(client.call(resource.action, request))
        except ServiceError as error:
            return _failure(resource, error, request_id)
        if resource.sdk:
            return Outcome(output=response)
        return Outcome(output=with_sdk_metadata(response, request_id))


def _with_json_text(resource: ServiceResource, request: dict[str, Any]) -> dict[str, Any]:
    if (resource.service, resource.action) == ("events", "putEvents"):
        entries = request.get("Entries")
        if isinstance(entries, list):
            request["Entries"] = [_detail_text(entry) for entry in entries]
        return request
    field = _JSON_VALUED.get((resource.service, resource.action))
    if field is not None and field in request and not isinstance(request[field], str):
        request[field] = orjson.dumps(request[field]).decode()
    return request


def _detail_text(entry: Any) -> Any:
    detail = entry.get("Detail") if isinstance(entry, Mapping) else None
    if detail is None or isinstance(detail, str):
        return entry
    return {**entry, "Detail": orjson.dumps(detail).decode()}


def json_ready(value: Any) -> Any:
    """A response as JSON data: bytes as UTF-8 text (invalid bytes replaced), dates as
    ISO 8601 text in UTC."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_ready(item) for item in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def _failure(resource: ServiceResource, error: ServiceError, request_id: str) -> Outcome:
    service = resource.service
    if resource.sdk:
        return Outcome(
            error=naming.sdk_error(service, error.exception),
            cause=naming.sdk_cause(service, error.message, error.status, request_id),
        )
    return Outcome(
        error=naming.optimized_error(service, error.exception),
        cause=naming.optimized_cause(service, error.message, error.status, error.code, request_id),
    )


def with_sdk_metadata(response: Mapping[str, Any], request_id: str) -> dict[str, Any]:
    """The response as an optimized integration returns it, with the SDK's HTTP metadata."""
    body = orjson.dumps(response)
    headers = {
        "Connection": "keep-alive",
        "Content-Length": str(len(body)),
        "Content-Type": "application/x-amz-json-1.0",
        "x-amzn-RequestId": request_id,
    }
    return {
        **response,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {name: [value] for name, value in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
    }
