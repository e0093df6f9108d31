"""AWS APIs as botocore defines them: operations, shapes, traits (Step Functions' first).

Design decision: the protocol layer does not restate the API by hand. botocore's
``stepfunctions`` service model (``service-2.json``, the same file boto3 and the AWS CLI
are generated from) is loaded once at import, and the validators and serializers in
``validation.py`` and ``serialization.py`` are compiled from it. A new botocore release
that adds a member or an operation is picked up without touching this package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from botocore.loaders import Loader  # type: ignore[import-untyped]

SERVICE_NAME: Final = "stepfunctions"

Shape = Mapping[str, Any]

# SQS's model moved to the JSON protocol and dropped its XML namespace; older SDKs that
# still speak the query protocol expect this one.
XML_NAMESPACES: Final = {"2012-11-05": "http://queue.amazonaws.com/doc/2012-11-05/"}


@dataclass(frozen=True, slots=True)
class ServiceModel:
    """The parts of a botocore service model the protocol layer reads."""

    metadata: Mapping[str, Any]
    operations: Mapping[str, Mapping[str, Any]]
    shapes: Mapping[str, Shape]

    @property
    def target_prefix(self) -> str:
        """``AWSStepFunctions``: the part of ``X-Amz-Target`` before the operation name."""
        return str(self.metadata["targetPrefix"])

    @property
    def json_version(self) -> str:
        """``1.0``: the JSON protocol version, as in ``application/x-amz-json-1.0``."""
        return str(self.metadata["jsonVersion"])

    @property
    def signing_name(self) -> str:
        """``states``: the service name a Signature Version 4 credential is scoped to."""
        return str(self.metadata.get("signingName", self.metadata["endpointPrefix"]))

    @property
    def protocol(self) -> str:
        """``json`` or ``query`` (the wire protocol botocore speaks to this service)."""
        return str(self.metadata["protocol"])

    @property
    def api_version(self) -> str:
        """``2012-11-05``: what query-protocol requests carry as ``Version``."""
        return str(self.metadata["apiVersion"])

    @property
    def xml_namespace(self) -> str:
        """The namespace of query-protocol XML responses (SQS's model no longer names it)."""
        return str(self.metadata.get("xmlNamespace", XML_NAMESPACES.get(self.api_version, "")))

    def operation_shape(self, operation: str, direction: str) -> str | None:
        """The name of an operation's ``input`` or ``output`` shape, if it has one."""
        reference = self.operations[operation].get(direction)
        return None if reference is None else str(reference["shape"])


def load_service_model(service: str = SERVICE_NAME) -> ServiceModel:
    """Load the newest API version of ``service`` that the installed botocore ships."""
    data = Loader().load_service_model(service, "service-2")
    return ServiceModel(
        metadata=data["metadata"], operations=data["operations"], shapes=data["shapes"]
    )


MODEL: Final = load_service_model()
