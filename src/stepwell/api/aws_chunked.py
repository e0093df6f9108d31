"""The ``aws-chunked`` content encoding of S3 uploads, decoded as the bytes arrive.

SDKs that cannot hash a body before sending it (a stream of unknown length, or checksums
in a trailer) send S3 ``Content-Encoding: aws-chunked`` with ``x-amz-decoded-content-length``
and an ``x-amz-content-sha256`` of ``STREAMING-…``; the body is a series of chunks::

    10000;chunk-signature=ad80…\\r\\n<65536 bytes>\\r\\n
    0;chunk-signature=b6c6…\\r\\n
    x-amz-checksum-crc32:sOO8/Q==\\r\\n        (trailers, if x-amz-trailer names them)
    \\r\\n

(Amazon S3 API Reference, "Signature Calculations for the Authorization Header:
Transferring Payload in Multiple Chunks"). With ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD`` each
chunk's signature chains from the request's (seed) signature::

    StringToSign = "AWS4-HMAC-SHA256-PAYLOAD" \\n date \\n scope \\n previous-signature \\n
                   hex(SHA256("")) \\n hex(SHA256(chunk-data))

and is checked when authentication is on. Unsigned variants (``…-UNSIGNED-PAYLOAD-TRAILER``)
carry no chunk signatures; a trailer's own signature is not checked (its checksum is).

Design decision: an incremental decoder (``feed`` bytes, get payload bytes back) so that
a body of gigabytes passes through with memory bounded by one line and one read; a chunk
header line longer than ``MAX_LINE`` is malformed rather than buffered, and so are more
than ``MAX_TRAILER_LINES`` trailer lines or ``MAX_TRAILER_BYTES`` of them.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from stepwell.api.protocols.rest_xml import RestXmlError

MAX_LINE: Final = 4096
MAX_TRAILER_LINES: Final = 16
MAX_TRAILER_BYTES: Final = 16 * 1024
EMPTY_SHA256: Final = hashlib.sha256(b"").hexdigest()
SIGNED_STREAMING: Final = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"


class ChunkSignatures:
    """The chain of chunk signatures of one signed streaming upload."""

    def __init__(self, key: bytes, amz_date: str, scope: str, seed_signature: str) -> None:
        self._key = key
        self._prefix = f"AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n"
        self._previous = seed_signature

    def check(self, digest: str, signature: str | None) -> None:
        """Check one chunk's signature given the hex SHA-256 of its data."""
        to_sign = f"{self._prefix}{self._previous}\n{EMPTY_SHA256}\n{digest}"
        expected = hmac.new(self._key, to_sign.encode(), hashlib.sha256).hexdigest()
        if signature is None or not hmac.compare_digest(expected, signature):
            raise RestXmlError(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you "
                "provided. Check your key and signing method.",
                403,
            )
        self._previous = expected


def _malformed(detail: str) -> RestXmlError:
    return RestXmlError("IncompleteBody", f"The aws-chunked body is malformed: {detail}")


class AwsChunkedDecoder:
    """Turns aws-chunked bytes into the payload; ``trailers`` holds what followed it."""

    def __init__(self, signatures: ChunkSignatures | None = None) -> None:
        self._signatures = signatures
        self._buffer = bytearray()
        self._remaining = 0  # payload bytes left in the current chunk
        self._state = "header"  # header → data → end-of-data → header … → trailer → done
        self._chunk_hash = hashlib.sha256()
        self._chunk_signature: str | None = None
        self.trailers: dict[str, str] = {}
        self._trailer_lines = 0
        self._trailer_bytes = 0

    def feed(self, data: bytes) -> bytes:
        """The payload bytes that ``data`` completes."""
        self._buffer += data
        out = bytearray()
        while self._step(out):
            pass
        return bytes(out)

    def finish(self) -> None:
        """Raise unless the body ended exactly after its last chunk (and trailers)."""
        if self._state != "done" or self._buffer:
            raise _malformed("the body ended before its final chunk")

    def _step(self, out: bytearray) -> bool:
        if self._state == "data":
            return self._data(out)
        line = self._line()
        if line is None:
            return False
        if self._state == "header":
            self._header(line)
        elif self._state == "end-of-data":
            if line:
                raise _malformed("a chunk is longer than its declared size")
            self._state = "header"
        elif self._state == "trailer":
            self._trailer(line)
        else:
            raise _malformed("bytes after the final chunk")
        return True

    def _line(self) -> str | None:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > MAX_LINE:
                raise _malformed("a chunk header is too long")
            return None
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        try:
            return line.decode("ascii")
        except UnicodeDecodeError:
            raise _malformed("a chunk header is not ASCII") from None

    def _header(self, line: str) -> None:
        size_text, _, extension = line.partition(";")
        try:
            size = int(size_text.strip(), 16)
        except ValueError:
            raise _malformed(f"bad chunk size {size_text[:20]!r}") from None
        if size < 0:
            raise _malformed("negative chunk size")
        name, _, value = extension.partition("=")
        self._chunk_signature = value.strip() if name.strip() == "chunk-signature" else None
        self._chunk_hash = hashlib.sha256()
        self._remaining = size
        if size == 0:
            self._end_chunk()
            self._state = "trailer"
        else:
            self._state = "data"

    def _data(self, out: bytearray) -> bool:
        if not self._buffer:
            return False
        piece = bytes(self._buffer[: self._remaining])
        del self._buffer[: len(piece)]
        self._remaining -= len(piece)
        self._chunk_hash.update(piece)
        out += piece
        if self._remaining == 0:
            self._end_chunk()
            self._state = "end-of-data"
        return True

    def _end_chunk(self) -> None:
        if self._signatures is not None:
            self._signatures.check(self._chunk_hash.hexdigest(), self._chunk_signature)

    def _trailer(self, line: str) -> None:
        if not line:
            self._state = "done"
            return
        self._trailer_lines += 1
        self._trailer_bytes += len(line) + 2
        if self._trailer_lines > MAX_TRAILER_LINES or self._trailer_bytes > MAX_TRAILER_BYTES:
            raise _malformed(f"more than {MAX_TRAILER_LINES} trailers or {MAX_TRAILER_BYTES} bytes")
        name, separator, value = line.partition(":")
        if not separator:
            raise _malformed(f"bad trailer {line[:40]!r}")
        self.trailers[name.strip().lower()] = value.strip()
