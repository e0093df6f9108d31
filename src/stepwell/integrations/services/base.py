"""What every embedded service shares: its error, its operation table and a boto3-like face.

Design decision: a service is a table of operations, each taking the request exactly as
the AWS JSON API (and so a Step Functions task's ``Parameters``) writes it and returning
the API's response. Two audiences call it:

* the task integrations call ``call("SendMessage", params)`` and get ``ServiceError``
  (AWS's exception name, message, wire code and HTTP status) to turn into a task error;
* a user's own code calls ``send_message(QueueUrl=..., MessageBody=...)``, as with a
  boto3 client, and gets botocore's ``ClientError`` (``client.exceptions.QueueDoesNotExist``
  and friends), so a consumer written for AWS runs unchanged against the embedded service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from botocore.exceptions import ClientError  # type: ignore[import-untyped]

    from stepwell.integrations.services.documents import DocumentStore

JSON = Any
Request = Mapping[str, Any]
Response = dict[str, Any]
Clock = Callable[[], float]


class ServiceError(Exception):
    """An error as the AWS service reports it.

    ``exception`` is the exception shape's name in the service's API model
    (``QueueDoesNotExist``), ``code`` what the wire carries as the error code (for SQS the
    query-compatible ``AWS.SimpleQueueService.NonExistentQueue``), ``extra`` any further
    members of the error document (DynamoDB's ``CancellationReasons``).
    """

    def __init__(
        self,
        exception: str,
        message: str,
        *,
        code: str | None = None,
        status: int = 400,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(exception, message)
        self.exception = exception
        self.message = message
        self.code = code or exception
        self.status = status
        self.extra = dict(extra or {})

    def __str__(self) -> str:
        return f"{self.exception}: {self.message}"


class _Exceptions:
    """``client.exceptions.NAME``: a ``ClientError`` subclass per modeled exception."""

    def __init__(self) -> None:
        self._classes: dict[str, type[ClientError]] = {}

    def __getattr__(self, name: str) -> type[ClientError]:
        if name.startswith("_"):
            raise AttributeError(name)
        client_error = _client_error_class()
        if name == "ClientError":
            return client_error
        if name not in self._classes:
            self._classes[name] = type(name, (client_error,), {})
        return self._classes[name]


def _client_error_class() -> type[ClientError]:
    # botocore is imported when first needed: it takes a noticeable time to import.
    from botocore.exceptions import ClientError

    cls: type[ClientError] = ClientError
    return cls


Operation = Callable[[Any, Request], Response]


class ServiceClient:
    """Base of the embedded services: ``call`` by operation name, or boto3-style methods."""

    service_name: ClassVar[str] = ""
    operations: ClassVar[Mapping[str, Operation]] = {}

    exceptions = _Exceptions()

    def __init__(
        self,
        store: DocumentStore,
        clock: Clock,
        region: str = "us-east-1",
        account: str = "123456789012",
    ) -> None:
        self.store = store
        self.clock = clock
        self.region = region
        self.account = account

    def call(self, operation: str, request: Request | None = None) -> Response:
        """Run ``operation`` (``SendMessage``, ``sendMessage`` or ``send_message``)."""
        name = operation_name(operation)
        handler = self.operations.get(name)
        if handler is None:
            raise ServiceError(
                "UnknownOperationException",
                f"The embedded {self.service_name} does not implement {name}.",
            )
        return handler(self, dict(request or {}))

    def supports(self, operation: str) -> bool:
        return operation_name(operation) in self.operations

    def __getattr__(self, attribute: str) -> Callable[..., Response]:
        name = operation_name(attribute)
        if attribute.startswith("_") or not self.supports(name):
            raise AttributeError(f"{type(self).__name__} has no operation {attribute!r}")

        def method(**request: Any) -> Response:
            try:
                response = self.call(name, request)
            except ServiceError as error:
                raise as_client_error(error, name) from None
            return {**response, "ResponseMetadata": {"HTTPStatusCode": 200}}

        method.__name__ = attribute
        return method


def operation_name(text: str) -> str:
    """``send_message`` / ``sendMessage`` / ``SendMessage`` → ``SendMessage``."""
    if "_" in text:
        return "".join(part[:1].upper() + part[1:] for part in text.split("_"))
    return text[:1].upper() + text[1:]


def as_client_error(error: ServiceError, operation: str) -> ClientError:
    """The botocore ``ClientError`` boto3 would raise for this error."""
    response = {
        "Error": {"Code": error.code, "Message": error.message, **error.extra},
        "ResponseMetadata": {"HTTPStatusCode": error.status},
    }
    cls = getattr(ServiceClient.exceptions, error.exception)
    failure: ClientError = cls(response, operation)
    return failure
