"""What every protocol codec shares: the service it serves, the decoded call, the error.

``ServiceApi`` is one AWS API as the front end sees it: botocore's model of it, the
protocols it is spoken in, the request validators and response encoders compiled from
that model, and how its errors are named on the wire. Adding an API to the endpoint is
one small module in ``api/services/`` that builds one of these.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from starlette.responses import Response

from stepwell.api.auth import HttpRequest
from stepwell.api.model import ServiceModel, load_service_model
from stepwell.api.serialization import Encode, compile_response_encoders
from stepwell.api.validation import RequestValidator, compile_request_validators
from stepwell.service.errors import ServiceError

REQUEST_ID_HEADER = "x-amzn-RequestId"
# Query services name signature failures differently from JSON services.
SIGNATURE_ERROR_CODES: Final = {
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "UnrecognizedClientException": "InvalidClientTokenId",
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
}


@dataclass(frozen=True, slots=True)
class LongPoll:
    """An operation that may wait for data (SQS ReceiveMessage with WaitTimeSeconds).

    ``seconds(members)`` is how long the caller is willing to wait (None: as long as the
    resource's default, asked of the service), ``key(members)`` what it waits on (a
    queue's name), ``empty(result)`` whether a result is worth waiting past.
    """

    operation: str
    seconds: Callable[[Mapping[str, Any]], float | None]
    key: Callable[[Mapping[str, Any]], str]
    empty: Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True, slots=True)
class ServiceApi:
    """One AWS API served on Stepwell's endpoint."""

    name: str  # the embedded service's name: "dynamodb", "sqs", "sns"
    model: ServiceModel
    protocols: tuple[str, ...]  # codecs it is spoken in, the model's own first
    error_namespace: str  # JSON ``__type`` prefix: "com.amazonaws.dynamodb.v20120810"
    validators: Mapping[str, RequestValidator]
    encoders: Mapping[str, Encode]
    # The query protocol's codes for the front end's own errors (validation, decoding).
    query_error_codes: Mapping[str, str] = field(default_factory=dict)
    long_poll: LongPoll | None = None

    @property
    def signing_name(self) -> str:
        """The service name a SigV4 credential scope names (``sqs``, ``dynamodb``)."""
        return self.model.signing_name

    @property
    def query_compatible(self) -> bool:
        """A former query service now on JSON (SQS): errors carry ``x-amzn-query-error``."""
        return "awsQueryCompatible" in self.model.metadata


def service_api(
    name: str,
    protocols: tuple[str, ...],
    error_namespace: str,
    *,
    query_error_codes: Mapping[str, str] | None = None,
    long_poll: LongPoll | None = None,
) -> ServiceApi:
    """Load botocore's model of ``name`` and compile what serving it needs."""
    model = load_service_model(name)
    return ServiceApi(
        name=name,
        model=model,
        protocols=protocols,
        error_namespace=error_namespace,
        validators=compile_request_validators(model, decode_blobs=False),
        encoders=compile_response_encoders(model),
        query_error_codes=dict(query_error_codes or {}),
        long_poll=long_poll,
    )


@dataclass(frozen=True, slots=True)
class DecodedCall:
    """A request, decoded and validated: which operation, with which members."""

    operation: str
    members: dict[str, Any]


@dataclass(frozen=True, slots=True)
class WireError:
    """An API error as protocols put it on the wire."""

    exception: str  # the error shape's name: QueueDoesNotExist
    code: str  # the code clients match: AWS.SimpleQueueService.NonExistentQueue
    message: str
    status: int
    fault: str  # Sender (the caller's mistake) or Receiver
    extra: Mapping[str, Any]


def wire_error(error: ServiceError) -> WireError:
    """The wire form of any API error: an embedded service's or the front end's own."""
    status = error.status
    return WireError(
        exception=error.aws_type,
        code=str(getattr(error, "code", error.aws_type)),
        message=error.message,
        status=status,
        fault="Sender" if status < 500 else "Receiver",
        extra=dict(getattr(error, "extra", {})),
    )


class Codec(Protocol):
    """One wire protocol."""

    def decode(self, api: ServiceApi, request: HttpRequest) -> DecodedCall:
        """The operation and its validated members, or raise a ServiceError."""
        ...

    def encode_result(
        self, api: ServiceApi, operation: str, result: Mapping[str, Any], request_id: str
    ) -> Response:
        """The response of a successful call."""
        ...

    def encode_error(self, api: ServiceApi, error: WireError, request_id: str) -> Response:
        """The response of a failed call."""
        ...
