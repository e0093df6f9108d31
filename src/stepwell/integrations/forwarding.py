"""Forwarding integrations to a real AWS endpoint (or another emulator) through botocore.

A Task whose service Stepwell does not embed — ``arn:aws:states:::aws-sdk:s3:getObject``,
``arn:aws:states:::events:putEvents`` — is sent, when forwarding is configured, to the
configured endpoint with the AWS SDK for Python: the action (``getObject``) names the
operation (``GetObject``) and the ``Parameters`` (PascalCase, as in Step Functions) are
passed as they are. Errors come back named as Step Functions names them (``naming.py``):
``S3.NoSuchKeyException`` for an SDK integration, ``EventBridge.…`` for an optimized one,
``<Service>.SdkClientException`` when the endpoint cannot be reached.

Configuration (``ForwardConfig``): ``endpoint_url`` (None: AWS's own endpoint for the
region), ``region``, ``services`` (None: every service without an embedded implementation;
a set: exactly those, which may include ``dynamodb``/``sqs``/``sns`` to use the real ones
instead of the embedded), and credentials (None: botocore's usual chain — environment,
``~/.aws``, instance role). ``ForwardConfig.from_environment()`` reads
``STEPWELL_FORWARD_ENDPOINT_URL``, ``STEPWELL_FORWARD_REGION`` and
``STEPWELL_FORWARD_SERVICES`` (comma-separated; ``*`` for all non-embedded).

Decision: botocore, not boto3, makes the calls. boto3 is a thin layer over it and botocore
is already one of Stepwell's dependencies (the API server reads its service models), so
forwarding needs nothing more installed. ``.sync`` jobs are not followed to completion.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from stepwell.integrations import naming
from stepwell.integrations.embedded import with_sdk_metadata
from stepwell.integrations.functions import Outcome
from stepwell.integrations.resources import SYNC, SYNC2, ServiceResource

# Optimized integration service names that botocore spells differently.
OPTIMIZED_BOTOCORE: Final[Mapping[str, str]] = {
    "elasticmapreduce": "emr",
    "states": "stepfunctions",
    "bedrock": "bedrock-runtime",
}


@dataclass(frozen=True, slots=True)
class ForwardConfig:
    endpoint_url: str | None = None
    region: str = "us-east-1"
    services: frozenset[str] | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    timeout_seconds: float = 60.0

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ForwardConfig | None:
        """The configuration the ``STEPWELL_FORWARD_*`` variables describe, or None."""
        env = os.environ if environ is None else environ
        endpoint = env.get("STEPWELL_FORWARD_ENDPOINT_URL")
        listed = env.get("STEPWELL_FORWARD_SERVICES")
        if not endpoint and not listed:
            return None
        services = None
        if listed and listed.strip() != "*":
            services = frozenset(s.strip() for s in listed.split(",") if s.strip())
        return cls(
            endpoint_url=endpoint or None,
            region=env.get("STEPWELL_FORWARD_REGION") or env.get("AWS_REGION") or "us-east-1",
            services=services,
        )

    def forwards(self, service: str, embedded: bool) -> bool:
        """Whether a call to ``service`` goes to the endpoint."""
        if self.services is None:
            return not embedded
        return service in self.services


class Forwarder:
    def __init__(self, config: ForwardConfig) -> None:
        self.config = config
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def invoke(self, resource: ServiceResource, payload: Any, request_id: str) -> Outcome:
        if resource.pattern in (SYNC, SYNC2):
            return Outcome(
                error="States.Runtime",
                cause=f"Stepwell cannot follow the job of '{resource.arn}' to completion "
                "(.sync) on a forwarded service.",
            )
        name = self._botocore_name(resource)
        if name is None:
            return Outcome(
                error="States.Runtime",
                cause=f"The service of '{resource.arn}' is not known to botocore.",
            )
        client = self._client(name)
        operation = _operation(client, resource.action)
        if operation is None:
            return Outcome(
                error="States.Runtime",
                cause=f"The service '{resource.service}' has no action '{resource.action}'.",
            )
        model = client.meta.service_model.operation_model(operation)
        request = _to_botocore(
            dict(payload) if isinstance(payload, Mapping) else {}, model.input_shape
        )
        from botocore import xform_name  # type: ignore[import-untyped]
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = getattr(client, xform_name(operation))(**request)
        except ClientError as error:
            return _client_failure(resource, error, request_id)
        except BotoCoreError as error:
            return _sdk_client_failure(resource, error)
        return Outcome(output=_result(resource, response, model.output_shape))

    def _botocore_name(self, resource: ServiceResource) -> str | None:
        if not resource.sdk and resource.service in OPTIMIZED_BOTOCORE:
            return OPTIMIZED_BOTOCORE[resource.service]
        return naming.botocore_name(resource.service)

    def _client(self, name: str) -> Any:
        with self._lock:
            client = self._clients.get(name)
            if client is None:
                from botocore.config import Config  # type: ignore[import-untyped]
                from botocore.session import get_session  # type: ignore[import-untyped]

                config = self.config
                client = get_session().create_client(
                    name,
                    region_name=config.region,
                    endpoint_url=config.endpoint_url,
                    aws_access_key_id=config.access_key_id,
                    aws_secret_access_key=config.secret_access_key,
                    aws_session_token=config.session_token,
                    config=Config(
                        read_timeout=config.timeout_seconds,
                        connect_timeout=min(config.timeout_seconds, 10.0),
                        retries={"max_attempts": 1},
                    ),
                )
                self._clients[name] = client
            return client


def _operation(client: Any, action: str) -> str | None:
    """The API operation a Step Functions action names (``getObject`` → ``GetObject``)."""
    for operation in client.meta.service_model.operation_names:
        if operation.lower() == action.lower():
            return str(operation)
    return None


def _to_botocore(value: Any, shape: Any) -> Any:
    """Step Functions' PascalCase parameters in the API's own member names (SFN's API says
    ``stateMachineArn`` where a Task says ``StateMachineArn``)."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, Mapping):
        names = {name.lower(): name for name in shape.members}
        converted = {}
        for key, item in value.items():
            name = names.get(str(key).lower(), str(key))
            converted[name] = _to_botocore(item, shape.members.get(name))
        return converted
    if shape.type_name == "list" and isinstance(value, list):
        return [_to_botocore(item, shape.member) for item in value]
    if shape.type_name == "map" and isinstance(value, Mapping):
        return {key: _to_botocore(item, shape.value) for key, item in value.items()}
    return value


def _from_botocore(value: Any, shape: Any) -> Any:
    """A response as Step Functions returns it: structure members in PascalCase, values as
    JSON (timestamps as ISO 8601, blobs as text or base64)."""
    if shape is not None and shape.type_name == "structure" and isinstance(value, Mapping):
        return {
            name[:1].upper() + name[1:]: _from_botocore(item, shape.members.get(name))
            for name, item in value.items()
            if name != "ResponseMetadata"
        }
    if shape is not None and shape.type_name == "list" and isinstance(value, list):
        return [_from_botocore(item, shape.member) for item in value]
    if shape is not None and shape.type_name == "map" and isinstance(value, Mapping):
        return {key: _from_botocore(item, shape.value) for key, item in value.items()}
    return _json(value)


def _client_failure(resource: ServiceResource, error: ClientError, request_id: str) -> Outcome:
    details = error.response.get("Error", {})
    metadata = error.response.get("ResponseMetadata", {})
    code = str(details.get("Code", "Unknown"))
    exception = type(error).__name__ if type(error).__name__ != "ClientError" else code
    message = str(details.get("Message", ""))
    status = int(metadata.get("HTTPStatusCode", 400))
    request = str(metadata.get("RequestId", request_id))
    service = resource.service
    if resource.sdk:
        return Outcome(
            error=naming.sdk_error(service, exception),
            cause=naming.sdk_cause(service, message, status, request),
        )
    return Outcome(
        error=naming.optimized_error(service, exception),
        cause=naming.optimized_cause(service, message, status, code, request),
    )


def _sdk_client_failure(resource: ServiceResource, error: BotoCoreError) -> Outcome:
    prefix = (
        naming.sdk_service_name(resource.service)
        if resource.sdk
        else naming.optimized_naming(resource.service).prefix
    )
    return Outcome(error=f"{prefix}.SdkClientException", cause=str(error))


def _result(resource: ServiceResource, response: Mapping[str, Any], shape: Any) -> Any:
    metadata = response.get("ResponseMetadata", {})
    body = _from_botocore(response, shape) if shape is not None else {}
    if resource.sdk:
        return body
    return with_sdk_metadata(body, str(metadata.get("RequestId", "")))


def _json(value: Any) -> Any:
    """botocore's Python values as JSON: timestamps as ISO 8601, blobs as text or base64."""
    if isinstance(value, Mapping):
        return {str(key): _json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json(item) for item in value]
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes | bytearray):
        return _blob(bytes(value))
    if hasattr(value, "read"):
        return _blob(value.read())
    return value


def _blob(data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError:
        return base64.b64encode(data).decode()
