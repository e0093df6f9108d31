"""Which AWS API a request on the one endpoint is for, decided as AWS clients send it.

In order:

1. ``X-Amz-Target: Prefix.Operation``: the JSON protocols (``DynamoDB_20120810``,
   ``AmazonSQS``; ``AWSStepFunctions`` stays with the Step Functions pipeline);
2. a form body (``application/x-www-form-urlencoded``): the query protocol; its
   ``Version`` names the API (SQS ``2012-11-05``, SNS ``2010-03-31``), else the SigV4
   credential scope does;
3. the credential scope's service name in ``Authorization`` (``…/us-east-1/sqs/aws4_request``).

REST protocols (Lambda's REST-JSON) are found by path first: a path under one of the
API's version segments (``/2015-03-31/…``), unless a credential scope names another
service; ``rest_routes`` lists those prefixes for the app's routes.

Anything else is Step Functions' (``claims`` is false), so its own errors stay as they were.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

from stepwell.api.auth import HttpRequest
from stepwell.api.protocols import CODECS, Codec
from stepwell.api.protocols.base import ServiceApi
from stepwell.api.protocols.query import FORM_CONTENT_TYPE, form_parameters
from stepwell.api.protocols.rest_json import path_prefixes
from stepwell.service.errors import UnknownOperationException

_SCOPE: Final = re.compile(r"Credential=[^/,\s]*/[^/,\s]*/[^/,\s]*/([^/,\s]+)/")


def credential_service(authorization: str | None) -> str | None:
    """The service name of a SigV4 ``Authorization`` header's credential scope."""
    found = _SCOPE.search(authorization or "")
    return None if found is None else found.group(1)


def is_form(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` is a form body, the query protocol's."""
    return (content_type or "").partition(";")[0].strip().lower() == FORM_CONTENT_TYPE


class Router:
    """Finds the ``ServiceApi`` and codec of a request."""

    def __init__(self, apis: Sequence[ServiceApi]) -> None:
        self._by_target = {a.model.target_prefix: a for a in apis if "json" in a.protocols}
        self._by_version = {a.model.api_version: a for a in apis if "query" in a.protocols}
        self._by_scope = {a.signing_name: a for a in apis}
        self._by_path = {p: a for a in apis if "rest-json" in a.protocols for p in path_prefixes(a)}

    @property
    def rest_prefixes(self) -> list[str]:
        """The path prefixes of the REST APIs (``/2015-03-31/``), longest first."""
        return sorted(self._by_path, key=len, reverse=True)

    def claims(self, headers: Mapping[str, str]) -> bool:
        """Whether a request on ``/`` is for one of these APIs (not Step Functions)."""
        target = headers.get("x-amz-target")
        if target:
            return target.partition(".")[0] in self._by_target
        if is_form(headers.get("content-type")):
            return True
        return credential_service(headers.get("authorization")) in self._by_scope

    def route(self, request: HttpRequest) -> tuple[ServiceApi, Codec]:
        """The API and codec for a request, or UnknownOperationException."""
        rest = self._rest(request)
        if rest is not None:
            return rest, CODECS["rest-json"]
        target = request.header("x-amz-target")
        if target:
            api = self._by_target.get(target.partition(".")[0])
            if api is None:
                raise UnknownOperationException(f"Unknown operation '{target}'")
            return api, CODECS["json"]
        scope = credential_service(request.header("authorization"))
        if is_form(request.header("content-type")):
            version = form_parameters(request).get("Version", "")
            api = self._by_version.get(version) or self._by_scope.get(scope or "")
            if api is None or "query" not in api.protocols:
                raise UnknownOperationException(
                    f"No query API of version '{version}' on this endpoint"
                )
            return api, CODECS["query"]
        api = self._by_scope.get(scope or "")
        if api is not None and "rest-json" in api.protocols:
            return api, CODECS["rest-json"]
        if api is None or "json" not in api.protocols:
            raise UnknownOperationException("Missing X-Amz-Target header")
        return api, CODECS["json"]

    def _rest(self, request: HttpRequest) -> ServiceApi | None:
        """The REST API whose path prefix the request's path has, unless its credential
        scope names another service."""
        path = request.raw_path.partition("?")[0]
        api = next((a for p, a in self._by_path.items() if path.startswith(p)), None)
        scope = credential_service(request.header("authorization"))
        if api is None or scope not in (None, api.signing_name):
            return None
        return api
