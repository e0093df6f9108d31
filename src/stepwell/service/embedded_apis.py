"""The embedded DynamoDB, SQS, SNS and S3 (and the Lambda API) as the API front end calls them.

The operations themselves live with the engines (``integrations/services``): the same
``client.call(operation, request)`` that a ``dynamodb:putItem`` or ``sqs:sendMessage``
Task state runs, on the same store, so a table created through the API is the table a
Task writes to. This module adds only what an API caller needs on top:

* errors become ``EmbeddedServiceError``, a ``ServiceError`` carrying the service's own
  exception name, wire code (SQS's ``AWS.SimpleQueueService.NonExistentQueue``), HTTP
  status and extra members, for each protocol's codec to put on the wire;
* queue URLs name the endpoint the client used (``http://127.0.0.1:8083/ACCOUNT/NAME``)
  instead of AWS's host, so boto3 and the CLI come back to Stepwell with them;
* a hook that tells the front end when a message was sent, so a long poll wakes at once;
* S3's streamed steps (``begin_put``, ``finish_put``, ``open_object`` and a body's next
  chunk) through ``s3_step``, so an object's body never has to be one request member.

The Lambda API's operations are ``lambda_api.LambdaFunctions``, over the functions that
Task states call; ``handle("lambda", …)`` passes them through.

Design decision: the engines keep AWS's queue URLs (definitions written for AWS name
queues that way, and a queue is found by the last segment of any URL); the URL a client
sees depends on how it reached the server, which only the front end knows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, TypeVar

from stepwell.integrations.services import S3Client, Services
from stepwell.integrations.services import ServiceError as EngineError
from stepwell.service.errors import ServiceError, UnknownOperationException
from stepwell.service.lambda_api import OPERATIONS as LAMBDA_OPERATIONS
from stepwell.service.lambda_api import LambdaFunctions

EMBEDDED_SERVICES: Final = ("dynamodb", "sqs", "sns", "s3", "events", "lambda")
_QUEUE_URL_MEMBERS: Final = ("QueueUrl", "QueueUrls")
T = TypeVar("T")


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

    def __init__(self, services: Services, functions: LambdaFunctions | None = None) -> None:
        self.services = services
        self.functions = functions

    def supports(self, service: str, operation: str) -> bool:
        """Whether Stepwell implements ``operation`` of ``service``."""
        if service == "lambda":
            return self.functions is not None and operation in LAMBDA_OPERATIONS
        client = self.services.client(service)
        return client is not None and client.supports(operation)

    def handle(
        self, service: str, operation: str, request: dict[str, Any], endpoint: str
    ) -> dict[str, Any]:
        """Run one operation; ``endpoint`` (``http://host:port``) is where the client is."""
        if service == "lambda" and self.functions is not None:
            return self.functions.handle(operation, request)
        client = self.services.client(service)
        if client is None or not client.supports(operation):
            raise UnknownOperationException(
                f"Stepwell's embedded {service} does not implement {operation}"
            )
        response = self._step(client.call, operation, request)
        if service == "sqs":
            return self._local_queue_urls(response, endpoint)
        return response

    @property
    def s3(self) -> S3Client:
        """The embedded S3, whose streamed steps the S3 endpoint runs with ``s3_step``."""
        return self.services.s3

    def s3_step(self, step: Callable[..., T], *args: Any) -> T:
        """Run one step of a streamed S3 call, its errors as API errors."""
        return self._step(step, *args)

    def next_chunk(self, chunks: Iterator[bytes]) -> bytes | None:
        """The next chunk of an object being read (None at its end)."""
        chunk: bytes | None = self._step(next, chunks, None)
        return chunk

    def _step(self, step: Callable[..., T], *args: Any) -> T:
        try:
            return step(*args)
        except EngineError as error:
            raise EmbeddedServiceError(
                error.exception,
                error.message,
                code=error.code,
                status=error.status,
                extra=error.extra,
            ) from None

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
