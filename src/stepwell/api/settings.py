"""What the API front end needs from outside: the service to call and its settings.

``OperationHandler`` is the whole contract between the protocol layer and the service:
one synchronous method that takes an AWS operation name and the validated request
members (camelCase, as on the wire) and returns the response members, raising a
``stepwell.service.errors.ServiceError`` for an API error. The protocol layer calls it in
a worker thread, so it may block (``GetActivityTask`` long-polls for up to 60 seconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class OperationHandler(Protocol):
    """The service behind the API: one call per Step Functions operation."""

    def handle(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        """Run ``operation`` (e.g. ``"StartExecution"``) and return its response members.

        ``request`` holds only members the model defines, already validated; timestamps
        in the result are timezone-aware ``datetime`` objects.
        """
        ...


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """Settings of the API front end.

    ``credentials`` maps access key ids to secret access keys. Empty (the default) turns
    authentication off; otherwise every request must carry a Signature Version 4
    ``Authorization`` header signed with one of them for the service ``states``.
    """

    region: str = "us-east-1"
    account_id: str = "123456789012"
    credentials: Mapping[str, str] = field(default_factory=dict)
    # The largest request body accepted; a definition may be 1 MiB before JSON escaping.
    max_request_bytes: int = 8 * 1024 * 1024
    # Request bytes buffered at once across all requests; past it, ThrottlingException.
    max_request_bytes_in_flight: int = 128 * 1024 * 1024
    # The largest S3 object one PutObject may store (S3's own limit for a single PUT);
    # its body is streamed to the store, so this bounds disk, not memory.
    max_object_bytes: int = 5 * 1024**3
    # A body must arrive within this time (slow clients would hold memory for ever); an
    # S3 upload, streamed, must instead send something at least this often.
    body_timeout_seconds: float = 30.0
    # Without authentication, Host names served besides the loopback names (DNS rebinding).
    allowed_hosts: tuple[str, ...] = ()
    # Worker threads for ordinary operations, and a separate pool for long polls so
    # that waiting activity workers never starve other callers.
    worker_threads: int = 40
    long_poll_threads: int = 200
    # How far a request's signing time may be from the server's clock (AWS: 15 minutes).
    max_clock_skew_seconds: int = 15 * 60
    clock: Callable[[], float] = time.time
    # Operations called directly on the event loop instead of a worker thread: worth it
    # for quick calls on a local store (the hand-off to a thread costs more than they
    # do); leave empty when the service's store is across a network.
    inline_operations: frozenset[str] = frozenset()

    @property
    def authentication_enabled(self) -> bool:
        """Whether requests must be signed."""
        return bool(self.credentials)
