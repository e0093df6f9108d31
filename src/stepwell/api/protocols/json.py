"""AWS JSON 1.0 and 1.1 for the embedded services (DynamoDB, SQS; EventBridge speaks
1.1): ``X-Amz-Target: Prefix.Op``; the two differ only in the content type.

Errors are ``{"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
"message": "…"}`` plus the error's extra members (``CancellationReasons``), as AWS
sends them; botocore keeps the part after ``#``. SQS, a former query service, adds
``x-amzn-query-error: AWS.SimpleQueueService.NonExistentQueue;Sender``: botocore then
reports that code and still raises ``client.exceptions.QueueDoesNotExist``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson
from starlette.responses import Response

from stepwell.api.auth import HttpRequest
from stepwell.api.protocols.base import (
    REQUEST_ID_HEADER,
    DecodedCall,
    ServiceApi,
    WireError,
)
from stepwell.service.errors import SerializationException, UnknownOperationException

CONTENT_TYPE: Final = "application/x-amz-json-{version}"


class JsonCodec:
    """The AWS JSON 1.0 protocol of one service."""

    def decode(self, api: ServiceApi, request: HttpRequest) -> DecodedCall:
        target = request.header("x-amz-target") or ""
        prefix, _, operation = target.partition(".")
        validate = api.validators.get(operation)
        if prefix != api.model.target_prefix or validate is None:
            raise UnknownOperationException(f"Unknown operation '{target}'")
        return DecodedCall(operation, validate(_body(request.body)))

    def encode_result(
        self, api: ServiceApi, operation: str, result: Mapping[str, Any], request_id: str
    ) -> Response:
        body = orjson.dumps(api.encoders[operation](result))
        return Response(body, 200, {REQUEST_ID_HEADER: request_id}, media_type=_content_type(api))

    def encode_error(self, api: ServiceApi, error: WireError, request_id: str) -> Response:
        document: dict[str, Any] = {
            "__type": f"{api.error_namespace}#{error.exception}",
            "message": error.message,
            **error.extra,
        }
        headers = {REQUEST_ID_HEADER: request_id, "x-amzn-ErrorType": error.exception}
        if api.query_compatible:
            headers["x-amzn-query-error"] = f"{error.code};{error.fault}"
        body = orjson.dumps(document, default=str)
        return Response(body, error.status, headers, media_type=_content_type(api))


def _content_type(api: ServiceApi) -> str:
    return CONTENT_TYPE.format(version=api.model.json_version)


def _body(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise SerializationException(f"Malformed JSON request body: {error}") from None
