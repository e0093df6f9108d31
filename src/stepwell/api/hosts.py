"""Refuse requests addressed to a name other than this machine when nobody signs them.

With authentication off (the default) anyone who can reach the port may call the API and
read the console. Listening on 127.0.0.1 keeps other machines out, but not a web page in
the user's browser: by DNS rebinding, ``evil.example`` is made to resolve to 127.0.0.1
and the page's scripts then talk to Stepwell as a same-origin site. The browser still
sends ``Host: evil.example``, so the server answers only requests whose ``Host`` is a
loopback name (``127.0.0.1``, ``localhost``, ``[::1]``, any port) or one of the
configured ``allowed_hosts`` (setting ``allowed_hosts``, e.g. ``stepwell.internal``).
A request without a ``Host`` header (HTTP/1.0 tools) is not from a browser and passes;
``sync-<allowed name>`` passes too (boto3's host prefix for StartSyncExecution/TestState),
and so do ``s3.<allowed name>`` and an S3 virtual host, ``BUCKET.<allowed name>`` or
``BUCKET.s3.<allowed name>``
(``my-bucket.localhost:8083``), where ``BUCKET`` is a valid bucket name: names under
``localhost`` resolve to the loopback address in browsers themselves, and the names under
an allowed host are its operator's, so no outside page can be reached under them.
A page on any other site can still send "simple" cross-site requests (a form post, a
``fetch`` with ``Content-Type: text/plain``, no CORS preflight) with ``Host: 127.0.0.1``:
they run a function, delete objects, send messages. Browsers mark them: ``Origin`` names
the page's site and ``Sec-Fetch-Site`` says ``cross-site``. So a request whose
``Origin`` names a host not allowed (``null`` included) or that says
``Sec-Fetch-Site: cross-site`` is refused too. SDKs and the AWS CLI send neither header;
the console's own fetches carry its allowed host as ``Origin``.
A refused request gets HTTP 403 ``AccessDeniedException`` saying what to configure.
``GET /health`` answers any host: probes address the server by IP, and it tells nothing.

With SigV4 on, the signature (which covers ``Host``) protects the API instead, and this
check is not installed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from stepwell.api.protocol import CONTENT_TYPE, encode_error, error_headers, new_request_id
from stepwell.service.errors import AccessDeniedException

LOOPBACK_NAMES: Final = frozenset({"127.0.0.1", "localhost", "::1"})
# Readiness probes (Kubernetes sends the pod's IP as Host) read nothing of the user's.
OPEN_PATHS: Final = frozenset({"/health"})
# S3's rules for a bucket name that can be a host name label (no IP-address bases).
_BUCKET: Final = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_NAMES: Final = frozenset({"127.0.0.1", "::1"})


class HostNotAllowedException(AccessDeniedException):
    """The request's Host is neither a loopback name nor an allowed host."""

    status = 403


def host_name(host_header: str) -> str | None:
    """The name in a ``Host`` header without its port (``[::1]:8083`` → ``::1``)."""
    try:
        return urlsplit(f"//{host_header}").hostname
    except ValueError:
        return None


def virtual_host_bucket(name: str, bases: Iterable[str]) -> str | None:
    """The bucket of an S3 virtual host under one of ``bases`` (``b.s3.localhost`` → ``b``).

    ``s3.localhost`` itself names no bucket: it is path-style S3 on that name.
    """
    lowered = name.lower()
    for base in bases:
        if base in _IP_NAMES or not lowered.endswith("." + base):
            continue
        label = lowered[: -len(base) - 1].removesuffix(".s3")
        if label != "s3" and _BUCKET.fullmatch(label) and ".." not in label:
            return label
    return None


class HostCheck:
    """Which ``Host`` headers may be served: loopback names and the allowed hosts."""

    def __init__(self, allowed_hosts: Iterable[str] = ()) -> None:
        self.allowed = LOOPBACK_NAMES | {name.lower() for name in allowed_hosts}
        self._seen: dict[str, bool] = {}  # header → verdict, for the few hosts clients use

    def allows(self, host_header: str | None) -> bool:
        """Whether a request with this ``Host`` header may be served."""
        if host_header is None:
            return True
        verdict = self._seen.get(host_header)
        if verdict is None:
            name = host_name(host_header) or ""
            # boto3 prefixes StartSyncExecution's and TestState's host with "sync-".
            verdict = (
                name in self.allowed
                or name.removeprefix("sync-") in self.allowed
                or name.removeprefix("s3.") in self.allowed
                or virtual_host_bucket(name, self.allowed) is not None
            )
            if len(self._seen) < 256:
                self._seen[host_header] = verdict
        return verdict

    def allows_origin(self, origin: str | None, fetch_site: str | None) -> bool:
        """Whether a request with these ``Origin`` and ``Sec-Fetch-Site`` is not cross-site."""
        if fetch_site is not None and fetch_site.strip().lower() == "cross-site":
            return False
        if origin is None:
            return True
        try:
            name = urlsplit(origin.strip()).hostname
        except ValueError:
            return False
        return name is not None and name in self.allowed

    def refusal(self, host: str | None, origin: str | None, fetch_site: str | None) -> str | None:
        """Why a request may not be served, or ``None`` when it may."""
        if not self.allows(host):
            return (
                f"Host '{host or ''}' is not allowed: without authentication Stepwell answers "
                "only requests addressed to a loopback name (127.0.0.1, localhost, [::1]) or "
                "to a name in the allowed_hosts setting (STEPWELL_ALLOWED_HOSTS)"
            )
        if not self.allows_origin(origin, fetch_site):
            return (
                f"Cross-site request refused (Origin '{origin or ''}', Sec-Fetch-Site "
                f"'{fetch_site or ''}'): without authentication Stepwell answers browsers "
                "only from a loopback name or a name in the allowed_hosts setting "
                "(STEPWELL_ALLOWED_HOSTS)"
            )
        return None


def refusal_response(message: str) -> Response:
    """HTTP 403 ``AccessDeniedException`` with ``message``."""
    error = HostNotAllowedException(message)
    return Response(
        encode_error(error), 403, error_headers(error, new_request_id()), media_type=CONTENT_TYPE
    )


class AllowedHosts:
    """ASGI middleware answering 403 to HTTP requests for a host not allowed."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.refusal = HostCheck(allowed_hosts).refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in OPEN_PATHS:
            headers = Headers(scope=scope)
            reason = self.refusal(
                headers.get("host"), headers.get("origin"), headers.get("sec-fetch-site")
            )
            if reason is not None:
                await refusal_response(reason)(scope, receive, send)
                return
        await self.app(scope, receive, send)
