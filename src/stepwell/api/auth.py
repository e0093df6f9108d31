"""Signature Version 4 verification of API requests (optional; off by default).

Follows the AWS IAM User Guide, "Create a signed AWS API request" and "Elements of an
AWS API request signature":

    CanonicalRequest = Method \\n CanonicalURI \\n CanonicalQueryString \\n
                       CanonicalHeaders \\n SignedHeaders \\n hex(SHA256(body))
    StringToSign     = "AWS4-HMAC-SHA256" \\n X-Amz-Date \\n Scope \\n hex(SHA256(CanonicalRequest))
    SigningKey       = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
                            "aws4_request")
    Signature        = hex(HMAC(SigningKey, StringToSign))

The canonical URI is the request path URI-encoded once more (services other than S3
encode twice; S3 signs the path as sent and declares its payload hash in
``x-amz-content-sha256``); query parameters are decoded, re-encoded with RFC 3986's unreserved set
and sorted; each signed header's values are trimmed, inner runs of spaces collapsed, and
joined with commas.

Errors use AWS's types and wording for JSON services: an unknown access key is
``UnrecognizedClientException`` ("The security token included in the request is
invalid."), a wrong signature ``InvalidSignatureException`` with the canonical request
and string to sign the server expected (as AWS includes them), a malformed header
``IncompleteSignatureException``, a request signed more than 15 minutes away from the
server's clock "Signature expired: … (… - 15 min.)". ``MissingAuthenticationToken`` and
``UnrecognizedClient`` are HTTP 403, as AWS answers them. Design decision: the region of
the credential scope is not checked, since a local server answers for whatever region its
clients are configured with; the signature still covers it.

``X-Amz-Target`` and every other ``x-amz-*`` header must be among the signed headers:
otherwise a captured request could be replayed as another operation (the target is what
names the operation) or with other options. botocore signs them all.

Verification has two phases so that a request with no valid credential is refused before
its body is read: ``check_headers`` needs only the headers (scheme, known access key,
scope, signing time, which headers are signed) and ``verify_signature`` then checks the
signature over the whole request, body included.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Final
from urllib.parse import quote, unquote

from stepwell.service.errors import (
    InvalidSignatureException,
    ServiceError,
    UnrecognizedClientException,
)

ALGORITHM: Final = "AWS4-HMAC-SHA256"
TERMINATOR: Final = "aws4_request"
AMZ_DATE_FORMAT: Final = "%Y%m%dT%H%M%SZ"
SIGNATURE_MISMATCH: Final = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
INVALID_TOKEN: Final = "The security token included in the request is invalid."
REQUIRED_PARAMETERS: Final = ("Credential", "Signature", "SignedHeaders")


class MissingAuthenticationTokenException(ServiceError):
    """The request carries no authentication at all."""

    aws_type = "MissingAuthenticationTokenException"
    status = 403


class IncompleteSignatureException(ServiceError):
    """The request signature does not conform to AWS standards."""

    aws_type = "IncompleteSignatureException"


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """The parts of an HTTP request a signature covers, as they arrived."""

    method: str
    raw_path: str
    query_string: str
    headers: Sequence[tuple[str, str]]  # lower-case names, in arrival order
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of a header, by lower-case name."""
        for key, value in self.headers:
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Authorization:
    """A parsed ``Authorization: AWS4-HMAC-SHA256 …`` header."""

    access_key_id: str
    scope_date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        """``date/region/service/aws4_request``."""
        return f"{self.scope_date}/{self.region}/{self.service}/{self.terminator}"


@dataclass(frozen=True, slots=True)
class CheckedHeaders:
    """What ``SigV4Verifier.check_headers`` learnt: enough to check the signature later."""

    authorization: Authorization
    secret: str
    amz_date: str


def _check_amz_headers_signed(request: HttpRequest, authorization: Authorization) -> None:
    """``X-Amz-Target`` and every ``x-amz-*`` header present must be signed."""
    signed = set(authorization.signed_headers)
    unsigned = sorted(
        {name for name, _ in request.headers if name.startswith("x-amz-") and name not in signed}
    )
    if unsigned:
        raise InvalidSignatureException(
            " ".join(
                f"'{name}' must be a 'SignedHeader' in the AWS Authorization." for name in unsigned
            )
        )


class SigV4Verifier:
    """Checks that requests are signed with one of the known credentials."""

    def __init__(
        self,
        credentials: Mapping[str, str],
        service: str,
        clock: Callable[[], float],
        max_skew_seconds: int = 15 * 60,
    ) -> None:
        self._credentials = dict(credentials)
        self._service = service
        self._s3 = service == "s3"
        self._clock = clock
        self._max_skew = timedelta(seconds=max_skew_seconds)

    def verify(self, request: HttpRequest) -> str:
        """Return the caller's access key id, or raise the error AWS would."""
        checked = self.check_headers(request)
        self.verify_signature(request, checked)
        return checked.authorization.access_key_id

    def check_headers(self, request: HttpRequest) -> CheckedHeaders:
        """Everything that does not need the body; raise the error AWS would.

        ``request.body`` is not read, so this runs before the body is received.
        """
        header = request.header("authorization")
        if header is None:
            raise MissingAuthenticationTokenException("Missing Authentication Token")
        date_header = request.header("x-amz-date") or request.header("date")
        authorization, date_header = parse_authorization(header, date_header)
        secret = self._credentials.get(authorization.access_key_id)
        if secret is None:
            raise UnrecognizedClientException(INVALID_TOKEN)
        self._check_scope(authorization)
        _check_amz_headers_signed(request, authorization)
        amz_date = self._check_time(date_header, authorization)
        return CheckedHeaders(authorization, secret, amz_date)

    def verify_signature(self, request: HttpRequest, checked: CheckedHeaders) -> None:
        """Check the signature over the complete request (body included)."""
        self._check_signature(request, checked.authorization, checked.secret, checked.amz_date)

    def _check_scope(self, authorization: Authorization) -> None:
        if authorization.service != self._service:
            raise InvalidSignatureException(
                f"Credential should be scoped to correct service: '{self._service}'. "
            )
        if authorization.terminator != TERMINATOR:
            raise InvalidSignatureException(
                "Credential should be scoped with a valid terminator: "
                f"'{TERMINATOR}', not '{authorization.terminator}'. "
            )
        if "host" not in authorization.signed_headers:
            raise InvalidSignatureException(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
            )

    def _check_time(self, date_header: str, authorization: Authorization) -> str:
        """Check the signing time against the scope and the clock; return it as amz-date."""
        signed_at = parse_request_time(date_header)
        amz_date = signed_at.strftime(AMZ_DATE_FORMAT)
        if authorization.scope_date != amz_date[:8]:
            raise InvalidSignatureException(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                f"date from HTTP: '{authorization.scope_date}' != '{amz_date[:8]}', "
                f"from '{amz_date}'."
            )
        now = datetime.fromtimestamp(self._clock(), UTC).replace(microsecond=0)
        if signed_at < now - self._max_skew:
            raise InvalidSignatureException(
                f"Signature expired: {amz_date} is now earlier than "
                f"{_amz(now - self._max_skew)} ({_amz(now)} - {self._skew_text()})"
            )
        if signed_at > now + self._max_skew:
            raise InvalidSignatureException(
                f"Signature not yet current: {amz_date} is still later than "
                f"{_amz(now + self._max_skew)} ({_amz(now)} + {self._skew_text()})"
            )
        return amz_date

    def _skew_text(self) -> str:
        return f"{int(self._max_skew.total_seconds() // 60)} min."

    def _check_signature(
        self, request: HttpRequest, authorization: Authorization, secret: str, amz_date: str
    ) -> None:
        canonical = canonical_request(request, authorization.signed_headers, s3=self._s3)
        to_sign = string_to_sign(amz_date, authorization.scope, canonical)
        key = signing_key(
            secret, authorization.scope_date, authorization.region, authorization.service
        )
        expected = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, authorization.signature):
            raise InvalidSignatureException(
                f"{SIGNATURE_MISMATCH}\n\nThe Canonical String for this request should have "
                f"been\n'{canonical}'\n\nThe String-to-Sign should have been\n'{to_sign}'\n"
            )


def _amz(moment: datetime) -> str:
    return moment.strftime(AMZ_DATE_FORMAT)


def parse_authorization(header: str, date_header: str | None) -> tuple[Authorization, str]:
    """Parse an ``Authorization`` header and insist on a signing date.

    Raises IncompleteSignatureException naming everything missing, as AWS does.
    """
    scheme, _, rest = header.strip().partition(" ")
    parameters = _parameters(rest) if scheme == ALGORITHM else {}
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in REQUIRED_PARAMETERS
        if not parameters.get(name)
    ]
    if date_header is None:
        missing.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    if missing or date_header is None:
        raise IncompleteSignatureException(" ".join(missing) + f" Authorization={header}")
    return _authorization(parameters), date_header


def _parameters(text: str) -> dict[str, str]:
    pairs = (item.strip().partition("=") for item in text.split(","))
    return {name.strip(): value.strip() for name, _, value in pairs if name.strip()}


def _authorization(parameters: Mapping[str, str]) -> Authorization:
    credential = parameters["Credential"]
    parts = credential.split("/")
    if len(parts) != 5:
        raise IncompleteSignatureException(
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            f"keyid/date/region/service/term, got '{credential}'"
        )
    access_key_id, scope_date, region, service, terminator = parts
    return Authorization(
        access_key_id=access_key_id,
        scope_date=scope_date,
        region=region,
        service=service,
        terminator=terminator,
        signed_headers=tuple(parameters["SignedHeaders"].split(";")),
        signature=parameters["Signature"],
    )


def parse_request_time(value: str) -> datetime:
    """The signing time from ``X-Amz-Date`` (ISO 8601 basic) or an HTTP ``Date``."""
    basic = _parse_basic_format(value)
    if basic is not None:
        return basic
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None:
        raise IncompleteSignatureException(
            f"Date must be in ISO-8601 'basic format'. Got '{value}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601"
        )
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_basic_format(value: str) -> datetime | None:
    """``YYYYMMDDTHHMMSSZ`` without ``strptime``, which costs more than the signature."""
    if len(value) != 16 or value[8] != "T" or value[15] != "Z":
        return None
    digits = value[:8] + value[9:15]
    if not (digits.isascii() and digits.isdigit()):
        return None
    try:
        return datetime(
            int(value[0:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[9:11]),
            int(value[11:13]),
            int(value[13:15]),
            tzinfo=UTC,
        )
    except ValueError:
        return None


def canonical_request(
    request: HttpRequest, signed_headers: Sequence[str], *, s3: bool = False
) -> str:
    """The canonical request of Signature Version 4.

    S3 (``s3``) signs the path as sent, not encoded once more, and its payload hash is
    whatever ``x-amz-content-sha256`` says (``UNSIGNED-PAYLOAD``, ``STREAMING-…``, or the
    hex digest, which the S3 endpoint compares with the body it receives).
    """
    headers = "".join(
        f"{name}:{canonical_header_value(request.headers, name)}\n" for name in signed_headers
    )
    return "\n".join(
        (
            request.method.upper(),
            (request.raw_path or "/") if s3 else canonical_uri(request.raw_path),
            canonical_query(request.query_string),
            headers,
            ";".join(signed_headers),
            payload_hash(request) if s3 else hashlib.sha256(request.body).hexdigest(),
        )
    )


def payload_hash(request: HttpRequest) -> str:
    """The payload hash an S3 request declares (S3 requires the header when signed); a
    presigned URL's (credential in the query) is ``UNSIGNED-PAYLOAD``."""
    declared = request.header("x-amz-content-sha256")
    if declared is not None:
        return declared
    if "X-Amz-Credential=" in request.query_string:
        return "UNSIGNED-PAYLOAD"
    return hashlib.sha256(request.body).hexdigest()


def canonical_uri(raw_path: str) -> str:
    """The path, URI-encoded once more as every service but S3 expects."""
    return quote(raw_path or "/", safe="/~")


def canonical_query(query_string: str) -> str:
    """Query parameters decoded, re-encoded (RFC 3986 unreserved kept) and sorted."""
    pairs = []
    for item in query_string.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        pairs.append((_encode(unquote(name)), _encode(unquote(value))))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_header_value(headers: Iterable[tuple[str, str]], name: str) -> str:
    """Every value of a header, trimmed, inner spaces collapsed, joined with commas."""
    return ",".join(" ".join(value.split()) for key, value in headers if key == name)


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    """The string to sign of Signature Version 4."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


@lru_cache(maxsize=256)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The derived signing key; it changes once a day per credential and scope."""
    key = _hmac(f"AWS4{secret}".encode(), date)
    for part in (region, service, TERMINATOR):
        key = _hmac(key, part)
    return key


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()
