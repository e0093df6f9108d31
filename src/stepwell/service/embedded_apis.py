"""The embedded DynamoDB, SQS and SNS as the API front end calls them.

The operations themselves live with the engines (``integrations/services``): the same
``client.call(operation, request)`` that a ``dynamodb:putItem`` or ``sqs:sendMessage``
Task state runs, on the same store, so a table created through the API is the table a
Task writes to. This module adds only what an API caller needs on top:

* errors become ``EmbeddedServiceError``, a ``ServiceError`` carrying the service's own
  exception name, wire code (SQS's ``AWS.SimpleQueueService.NonExistentQueue``), HTTP
  status and extra members, for each protocol's codec to put on the wire;
* queue URLs name the endpoint the client used (``http://127.0.0.1:8083/ACCOUNT/NAME``)
  instead of AWS's host, so boto3 and the CLI come back to Stepwell with them;
* a hook that tells the front end when a message was sent, so a long poll wakes at once.

Design decision: the engines keep AWS's queue URLs (definitions written for AWS name
queues that way, and a queue is found by the last segment of any URL); the URL a client
sees depends on how it reached the server, which only the front end knows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from stepwell.integrations.services import ServiceError as EngineError
from stepwell.integrations.services import Services
from stepwell.service.errors import ServiceError, UnknownOperationException

EMBEDDED_SERVICES: Final = ("dynamodb", "sqs", "sns", "events")
_QUEUE_URL_MEMBERS: Final = ("QueueUrl", "QueueUrls")


class EmbeddedServiceError(ServiceError):
    """An error of an embedded service, with everything its protocols put on the wire."""

    def __init__(
        self,
        exception: str,
        message: str,
        *,
        code: str | None = None,
        status: int = 400,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.aws_type = exception
        self.code = code or exception
        self.status = status
        self.extra = dict(extra or {})
        # AWS blames the caller for 4xx errors (``Sender``) and itself for the rest.
        self.fault = "Sender" if status < 500 else "Receiver"


class EmbeddedApis:
    """The embedded services' operations, by service name, for the API front end."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def supports(self, service: str, operation: str) -> bool:
        """Whether Stepwell implements ``operation`` of ``service``."""
        client = self.services.client(service)
        return client is not None and client.supports(operation)

    def handle(
        self, service: str, operation: str, request: dict[str, Any], endpoint: str
    ) -> dict[str, Any]:
        """Run one operation; ``endpoint`` (``http://host:port``) is where the client is."""
        client = self.services.client(service)
        if client is None or not client.supports(operation):
            raise UnknownOperationException(
                f"Stepwell's embedded {service} does not implement {operation}"
            )
        try:
            response = client.call(operation, request)
        except EngineError as error:
            raise EmbeddedServiceError(
                error.exception,
                error.message,
                code=error.code,
                status=error.status,
                extra=error.extra,
            ) from None
        if service == "sqs":
            return self._local_queue_urls(response, endpoint)
        return response

    def default_wait_seconds(self, service: str, request: dict[str, Any]) -> float:
        """How long a receive that names no wait time waits: its queue's
        ``ReceiveMessageWaitTimeSeconds`` (0 for anything else)."""
        if service != "sqs":
            return 0.0
        return float(self.services.sqs.receive_wait_seconds(str(request.get("QueueUrl", ""))))

    def on_message_sent(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(queue_name)`` after each message lands in a queue."""
        self.services.sqs.listeners.append(listener)

    def _local_queue_urls(self, response: dict[str, Any], endpoint: str) -> dict[str, Any]:
        aws_prefix = self.services.sqs.ref("").url
        local_prefix = f"{endpoint.rstrip('/')}/{self.services.account}/"

        def local(url: Any) -> Any:
            text = str(url)
            return local_prefix + text[len(aws_prefix) :] if text.startswith(aws_prefix) else url

        for member in _QUEUE_URL_MEMBERS:
            value = response.get(member)
            if isinstance(value, list):
                response[member] = [local(url) for url in value]
            elif value is not None:
                response[member] = local(value)
        return response
