"""Limits on what a request may make the server hold: bytes in flight and slow bodies.

A request body is buffered before it is decoded, so without limits a client could make
the server hold any amount of memory: 150 bodies of 7 MiB that never finish take a
gigabyte. Three limits apply, in the order a request meets them:

* a ``Content-Length`` above the API's maximum is refused before anything is read;
* every byte buffered counts against one budget shared by all requests
  (``ApiSettings.max_request_bytes_in_flight``); a request that would exceed it is
  refused with ``ThrottlingException``, which AWS SDKs retry with back-off, and its bytes
  go back to the budget when the request is answered. An eighth of the budget is kept
  for small requests (at most ``SMALL_REQUEST_BYTES``, as nearly every call is): large
  bodies, stalled or not, can fill only the rest, so they never get another client's
  DescribeStateMachine throttled;
* the whole body must arrive within ``ApiSettings.body_timeout_seconds``, else
  ``RequestTimeoutException`` (HTTP 408).

When SigV4 is on, the app checks the credential from the headers before reading the
body (see ``auth``), so an unsigned or unknown-key request never takes from the budget.

Design decision: refuse rather than queue when the budget is spent. A queue would let a
flood of slow clients delay every honest one; a refusal costs an honest SDK one retry.
The budget is a plain counter because only the event loop touches it.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.types import Receive

from stepwell.api.protocol import (
    RequestAbortedException,
    RequestEntityTooLargeException,
    RequestTimeoutException,
    ThrottlingException,
)

SMALL_REQUEST_BYTES = 64 * 1024
"""A request body this size or smaller may use the part of the budget kept for small ones."""


class BytesInFlight:
    """A budget of request bytes buffered at once, across all requests, of which
    ``reserve`` bytes (an eighth unless told) only small requests may use."""

    def __init__(self, capacity: int, reserve: int | None = None) -> None:
        self.capacity = capacity
        self.reserve = capacity // 8 if reserve is None else reserve
        self.used = 0

    def take(self, size: int, request_total: int | None = None) -> None:
        """Count ``size`` more bytes of a request that then holds ``request_total`` (by
        default ``size``), or raise ``ThrottlingException`` past its share."""
        total = size if request_total is None else request_total
        share = self.capacity if total <= SMALL_REQUEST_BYTES else self.capacity - self.reserve
        if self.used + size > share:
            raise ThrottlingException(
                "Rate exceeded: too many request bytes are in flight; retry later"
            )
        self.used += size

    def give_back(self, size: int) -> None:
        """Return bytes counted by ``take``."""
        self.used -= size


class BodyReader:
    """Reads one request's body within the size limit, the budget and the time limit."""

    def __init__(self, budget: BytesInFlight, limit: int, timeout_seconds: float) -> None:
        self._budget = budget
        self._limit = limit
        self._timeout = timeout_seconds
        self.held = 0
        """Bytes of the budget this request holds; give them back with ``release``."""

    def check_declared_size(self, request: Request) -> None:
        """Refuse a ``Content-Length`` above the limit before reading anything."""
        self.check_declared_length(request.headers.get("content-length"))

    def check_declared_length(self, declared: str | None) -> None:
        """The same, given the ``Content-Length`` header's value (``None`` if absent)."""
        if declared is not None and declared.isdigit() and int(declared) > self._limit:
            raise _too_large(self._limit)

    async def read(self, request: Request) -> bytes:
        """The whole body, or the error of the first limit it breaks."""
        return await self.read_messages(request.receive, request.headers.get("content-length"))

    async def read_messages(self, receive: Receive, declared: str | None) -> bytes:
        """The same, from the ASGI ``receive`` of a request whose body nothing has read
        yet, given its ``Content-Length`` value (``None`` if absent)."""
        self.hold_declared(declared)
        try:
            async with asyncio.timeout(self._timeout):
                return await self._read_chunks(receive)
        except TimeoutError:
            raise self.timed_out() from None

    def hold_declared(self, declared: str | None) -> None:
        """Take the budget for a declared ``Content-Length`` before reading the body."""
        if declared is not None and declared.isdigit():
            self._hold(int(declared))

    def received(self, size: int) -> None:
        """The body has reached ``size`` bytes: refuse it past the limit, else hold them."""
        if size > self._limit:
            raise _too_large(self._limit)
        if size > self.held:
            self._hold(size)

    @property
    def timeout_seconds(self) -> float:
        """How long the whole body may take to arrive."""
        return self._timeout

    def timed_out(self) -> RequestTimeoutException:
        """The error for a body that did not arrive in time."""
        return RequestTimeoutException(
            f"The request body did not arrive within {self._timeout:g} seconds"
        )

    async def _read_chunks(self, receive: Receive) -> bytes:
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # http.disconnect
                raise RequestAbortedException("The client closed the connection")
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                self.received(size)
                chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _hold(self, size: int) -> None:
        self._budget.take(size - self.held, request_total=size)
        self.held = size

    def release(self) -> None:
        """Give this request's bytes back to the budget (once it has been answered)."""
        self._budget.give_back(self.held)
        self.held = 0


def _too_large(limit: int) -> RequestEntityTooLargeException:
    return RequestEntityTooLargeException(f"Request body is larger than {limit} bytes")
