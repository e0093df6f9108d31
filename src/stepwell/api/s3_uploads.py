"""An S3 PutObject body as it arrives: decoded, checked against its digests, size-limited.

``UploadBody`` yields the object's bytes from the request stream, never holding more than
what one read brings (the endpoint hands them on to the store in 1 MiB chunks):

* ``aws-chunked`` bodies are decoded (``aws_chunked``), chunk signatures checked when
  SigV4 is on;
* the size is limited by ``ApiSettings.max_object_bytes`` (5 GiB by default, S3's largest
  single PUT): a declared ``Content-Length`` or ``x-amz-decoded-content-length`` above it is
  refused before anything is read, a body growing past it when it does;
* each read must arrive within ``body_timeout_seconds``: an idle limit rather than a limit
  on the whole body, since a large upload legitimately takes minutes;
* when the body has ended, the digests it was sent with are compared: ``Content-MD5``
  (``BadDigest``), an ``x-amz-content-sha256`` hex digest (``XAmzContentSHA256Mismatch``),
  and ``x-amz-checksum-crc32``/``-sha1``/``-sha256`` from headers or trailers
  (``BadDigest``). CRC32C and CRC64NVME need a library Stepwell does not depend on; they
  are accepted unchecked.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import zlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Final

from starlette.requests import ClientDisconnect, Request

from stepwell.api.aws_chunked import AwsChunkedDecoder, ChunkSignatures
from stepwell.api.protocols.rest_xml import RestXmlError

_HEX_DIGITS: Final = frozenset("0123456789abcdef")


class _Crc32:
    """``hashlib``'s face over ``zlib.crc32`` (S3 sends the big-endian value, base64)."""

    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = zlib.crc32(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(4, "big")


_CHECKSUMS: Final[Mapping[str, Callable[[], Any]]] = {
    "x-amz-checksum-crc32": _Crc32,
    "x-amz-checksum-sha1": hashlib.sha1,
    "x-amz-checksum-sha256": hashlib.sha256,
}


def too_large(limit: int) -> RestXmlError:
    return RestXmlError(
        "EntityTooLarge", f"Your proposed upload exceeds the maximum allowed size ({limit} bytes)"
    )


def declared_size(headers: Mapping[str, str]) -> int | None:
    """The object's size as the request announces it, if it does."""
    for name in ("x-amz-decoded-content-length", "content-length"):
        value = headers.get(name, "")
        if value.isdigit():
            return int(value)
    return None


def is_chunked(headers: Mapping[str, str]) -> bool:
    encoding = headers.get("content-encoding", "").lower()
    return "aws-chunked" in encoding or headers.get("x-amz-content-sha256", "").startswith(
        "STREAMING-"
    )


class UploadBody:
    """One PutObject body: iterate ``chunks()``, then call ``verify()``."""

    def __init__(
        self,
        request: Request,
        limit: int,
        idle_seconds: float,
        signatures: ChunkSignatures | None = None,
    ) -> None:
        self._request = request
        self._headers = request.headers
        self._limit = limit
        self._idle = idle_seconds
        self._decoder = AwsChunkedDecoder(signatures) if is_chunked(self._headers) else None
        # Only the digests the request will be checked against are computed.
        trailer = self._headers.get("x-amz-trailer", "").lower()
        self._checksums = {
            name: make()
            for name, make in _CHECKSUMS.items()
            if name in self._headers or name in trailer
        }
        if _declared_sha256(self._headers) is not None:
            self._checksums["x-amz-content-sha256"] = hashlib.sha256()
        if "content-md5" in self._headers:
            self._checksums["content-md5"] = hashlib.md5(usedforsecurity=False)
        self.size = 0
        declared = declared_size(self._headers)
        if declared is not None and declared > limit:
            raise too_large(limit)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The decoded body, read by read."""
        stream = self._request.stream().__aiter__()
        while True:
            raw = await self._next(stream)
            if raw is None:
                break
            data = raw if self._decoder is None else self._decoder.feed(raw)
            if data:
                self._count(data)
                yield data
        if self._decoder is not None:
            self._decoder.finish()

    async def _next(self, stream: AsyncIterator[bytes]) -> bytes | None:
        try:
            return await asyncio.wait_for(anext(stream), self._idle)
        except StopAsyncIteration:
            return None
        except TimeoutError:
            raise RestXmlError(
                "RequestTimeout",
                "Your socket connection to the server was not read from or written to "
                "within the timeout period.",
            ) from None
        except ClientDisconnect:
            raise RestXmlError(
                "IncompleteBody", "You did not provide the number of bytes specified"
            ) from None

    def _count(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self._limit:
            raise too_large(self._limit)
        for checksum in self._checksums.values():
            checksum.update(data)

    def verify(self) -> None:
        """Compare every digest the request carried with the body received."""
        declared = self._headers.get("x-amz-decoded-content-length", "")
        if self._decoder is not None and declared.isdigit() and int(declared) != self.size:
            raise RestXmlError(
                "IncompleteBody", "You did not provide the number of bytes specified"
            )
        trailers = self._decoder.trailers if self._decoder is not None else {}
        for name, checksum in self._checksums.items():
            if name == "x-amz-content-sha256":
                if checksum.hexdigest() != _declared_sha256(self._headers):
                    raise RestXmlError(
                        "XAmzContentSHA256Mismatch",
                        "The provided 'x-amz-content-sha256' header does not match what "
                        "was computed.",
                    )
                continue
            expected = self._headers.get(name) or trailers.get(name)
            if expected is not None and expected.strip() != _b64(checksum.digest()):
                what = "Content-MD5" if name == "content-md5" else name[15:].upper()
                raise RestXmlError(
                    "BadDigest", f"The {what} you specified did not match the calculated checksum."
                )


def _declared_sha256(headers: Mapping[str, str]) -> str | None:
    declared = headers.get("x-amz-content-sha256", "").lower()
    return declared if len(declared) == 64 and set(declared) <= _HEX_DIGITS else None


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()
