"""The one exception of the embedded DynamoDB engine, named after AWS's error types.

``DynamoDBError(code, message)`` stands for the error document DynamoDB's JSON protocol
returns (``__type`` and ``message``): ``code`` is the exception name exactly as AWS spells
it (``ConditionalCheckFailedException``, ``ValidationException``, …), so a Task state can
report it as ``DynamoDB.<code>``. Two errors carry more than a message, as on AWS:
a failed condition may return the old ``item`` (``ReturnValuesOnConditionCheckFailure``)
and a cancelled transaction lists its ``cancellation_reasons``. ``response()`` renders the
wire shape.

Messages are AWS's own wording, quoted from the service where it is known (see the
tests for sources); the helpers below keep the recurring prefixes in one place.
"""

from __future__ import annotations

from typing import Any, Final

CONDITIONAL_CHECK_FAILED: Final = "ConditionalCheckFailedException"
VALIDATION: Final = "ValidationException"
RESOURCE_NOT_FOUND: Final = "ResourceNotFoundException"
RESOURCE_IN_USE: Final = "ResourceInUseException"
SERIALIZATION: Final = "SerializationException"
TRANSACTION_CANCELED: Final = "TransactionCanceledException"

CONDITION_FAILED_MESSAGE: Final = "The conditional request failed"
INVALID_PARAMETERS: Final = "One or more parameter values were invalid: "


class DynamoDBError(Exception):
    """An error as DynamoDB reports it: its exception name and message."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        item: dict[str, Any] | None = None,
        cancellation_reasons: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.item = item
        self.cancellation_reasons = cancellation_reasons

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def response(self) -> dict[str, Any]:
        """The JSON error body DynamoDB sends for this error."""
        body: dict[str, Any] = {"__type": f"com.amazonaws.dynamodb.v20120810#{self.code}"}
        body["message"] = self.message
        if self.item is not None:
            body["Item"] = self.item
        if self.cancellation_reasons is not None:
            body["CancellationReasons"] = self.cancellation_reasons
        return body


def validation(message: str) -> DynamoDBError:
    return DynamoDBError(VALIDATION, message)


def invalid_parameters(detail: str) -> DynamoDBError:
    """``One or more parameter values were invalid: …``, AWS's prefix for bad values."""
    return DynamoDBError(VALIDATION, INVALID_PARAMETERS + detail)


def serialization(message: str) -> DynamoDBError:
    """A request that is not well-formed JSON for the API's shapes."""
    return DynamoDBError(SERIALIZATION, message)


def condition_failed(item: dict[str, Any] | None = None) -> DynamoDBError:
    return DynamoDBError(CONDITIONAL_CHECK_FAILED, CONDITION_FAILED_MESSAGE, item=item)


def table_not_found(table: str | None = None) -> DynamoDBError:
    """Item operations say only "Requested resource not found"; table operations name it."""
    if table is None:
        return DynamoDBError(RESOURCE_NOT_FOUND, "Requested resource not found")
    return DynamoDBError(
        RESOURCE_NOT_FOUND, f"Requested resource not found: Table: {table} not found"
    )
