"""Presigned S3 URLs: Signature Version 4 carried in the query string.

``generate_presigned_url`` and ``aws s3 presign`` put the signature in the URL
(Amazon S3 API Reference, "Authenticating Requests: Using Query Parameters"):
``X-Amz-Algorithm``, ``X-Amz-Credential``, ``X-Amz-Date``, ``X-Amz-Expires`` (1 second to
7 days), ``X-Amz-SignedHeaders`` and ``X-Amz-Signature``. The canonical request is the
header-signed one with the query string less ``X-Amz-Signature`` and the payload hash
``UNSIGNED-PAYLOAD``.

Design decision: such a request is rewritten into its header-signed equivalent
(``as_header_signed``) and checked by the same ``SigV4Verifier``, one that allows a
signing time up to 7 days old; whether the URL has expired is checked here, against
``X-Amz-Expires``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Final
from urllib.parse import parse_qsl

from stepwell.api.auth import HttpRequest, parse_request_time
from stepwell.api.protocols.rest_xml import RestXmlError

MAX_EXPIRES_SECONDS: Final = 7 * 24 * 3600
_REQUIRED: Final = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
)


def is_presigned(query_string: str) -> bool:
    return "X-Amz-Signature=" in query_string


def query_credential_service(query_string: str) -> str | None:
    """The service of a presigned URL's credential scope (``…/us-east-1/s3/aws4_request``)."""
    credential = dict(parse_qsl(query_string)).get("X-Amz-Credential", "")
    parts = credential.split("/")
    return parts[3] if len(parts) == 5 else None


def _malformed(message: str) -> RestXmlError:
    return RestXmlError("AuthorizationQueryParametersError", message)


def as_header_signed(request: HttpRequest, now: Callable[[], float]) -> HttpRequest:
    """The request as if its signature were in headers; AccessDenied once it has expired."""
    pairs = parse_qsl(request.query_string, keep_blank_values=True)
    query = dict(pairs)
    missing = [name for name in _REQUIRED if not query.get(name)]
    if missing:
        raise _malformed(f"Query-string authentication requires {', '.join(missing)}.")
    expires = query["X-Amz-Expires"]
    if not expires.isdigit() or not 1 <= int(expires) <= MAX_EXPIRES_SECONDS:
        raise _malformed("X-Amz-Expires must be between 1 and 604800 seconds.")
    signed_at = parse_request_time(query["X-Amz-Date"])
    if (signed_at + timedelta(seconds=int(expires))).timestamp() < now():
        raise RestXmlError("AccessDenied", "Request has expired", 403)
    authorization = (
        f"{query['X-Amz-Algorithm']} Credential={query['X-Amz-Credential']}, "
        f"SignedHeaders={query['X-Amz-SignedHeaders']}, Signature={query['X-Amz-Signature']}"
    )
    rest = "&".join(
        part for part in request.query_string.split("&") if not part.startswith("X-Amz-Signature=")
    )
    headers = [
        ("authorization", authorization),
        ("date", query["X-Amz-Date"]),
        *request.headers,
    ]
    return replace(request, query_string=rest, headers=headers)
