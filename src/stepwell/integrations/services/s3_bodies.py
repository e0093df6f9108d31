"""Object bodies of the embedded S3, stored in chunks of the store's documents.

Design decision: a body is cut into chunks of ``CHUNK_SIZE`` (1 MiB) kept as documents
``chunk/ID/00000000``, ``chunk/ID/00000001``, … of the ``s3`` namespace, where ``ID`` is
fresh for every write. The alternatives were weighed:

* one document per body (as before) holds a whole object in memory on every read and
  write, and a 5 GiB PUT would be one 5 GiB row;
* files beside SQLite are fast but are not in PostgreSQL, so a fleet's workers on other
  hosts would not see them, and a crash between the file and the row leaves them apart;
* PostgreSQL large objects exist only in PostgreSQL, need their own clean-up
  (``lo_unlink``) and a second code path for SQLite and memory.

Chunks need nothing from the store beyond ``documents`` (memory, SQLite and PostgreSQL
alike, no schema change), so an object is as durable and as shared as a DynamoDB item,
and memory stays bounded: a writer holds at most one chunk, a reader one chunk at a time,
and a range read fetches only the chunks it covers.

Writing is publish-on-commit. Full chunks are written as they arrive, each in its own
short transaction (the namespace is never held while a client is slow), under the new
``ID``, which nothing refers to yet; the last chunk and the object's metadata naming
``ID`` are written in one final transaction, which also deletes the chunks of the body
it replaces. A reader therefore sees the old object or the new one, never a mix. While
chunks are written, ``pending/ID`` records how many there are and when the last arrived;
an upload abandoned by a crash is swept, chunks and all, by the next upload once it has
been idle for ``ABANDONED_AFTER_SECONDS``.

A read of many chunks reads each in its own transaction; if the object is overwritten or
deleted meanwhile, a later chunk is gone and the read fails (``BodyChanged``) rather than
returning a mix of two bodies. A body of one chunk is read with its metadata, atomically.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import orjson

from stepwell.integrations.services.base import Clock, ServiceError
from stepwell.integrations.services.documents import Documents, DocumentStore

NAMESPACE: Final = "s3"
CHUNK_SIZE: Final = 1024 * 1024
ABANDONED_AFTER_SECONDS: Final = 3600.0
_PENDING: Final = "pending/"


class BodyChanged(ServiceError):
    """The object was replaced or deleted while its body was being read."""

    def __init__(self) -> None:
        super().__init__(
            "InternalError",
            "The object changed while it was being read; retry the request.",
            status=500,
        )


@dataclass(frozen=True, slots=True)
class BodyRef:
    """Where a body's chunks are: its id, its size and how many chunks it has."""

    id: str
    size: int
    chunks: int
    chunk_size: int = CHUNK_SIZE

    def as_json(self) -> dict[str, Any]:
        return {"Id": self.id, "Size": self.size, "Chunks": self.chunks, "Chunk": self.chunk_size}

    @staticmethod
    def from_json(value: dict[str, Any]) -> BodyRef:
        return BodyRef(value["Id"], value["Size"], value["Chunks"], value["Chunk"])


def chunk_key(body_id: str, index: int) -> str:
    return f"chunk/{body_id}/{index:08d}"


def delete_body(documents: Documents, body: BodyRef) -> None:
    """Delete a body's chunks (by key: never reading them)."""
    for index in range(body.chunks):
        documents.delete(chunk_key(body.id, index))


def read_chunk(documents: Documents, body: BodyRef, index: int) -> bytes:
    data = documents.get(chunk_key(body.id, index))
    if data is None:
        raise BodyChanged()
    return data


def chunk_span(body: BodyRef, start: int, end: int) -> range:
    """The chunk indices holding bytes ``start`` to ``end`` (inclusive)."""
    if end < start:
        return range(0)
    return range(start // body.chunk_size, end // body.chunk_size + 1)


def slice_chunk(body: BodyRef, index: int, data: bytes, start: int, end: int) -> bytes:
    """The part of chunk ``index`` between bytes ``start`` and ``end`` of the body."""
    base = index * body.chunk_size
    return data[max(start - base, 0) : end - base + 1]


@dataclass(frozen=True, slots=True)
class Piece:
    """One chunk of one body, and the bytes of that body wanted from it."""

    body: BodyRef
    index: int
    start: int
    end: int

    def read(self, documents: Documents) -> bytes:
        data = read_chunk(documents, self.body, self.index)
        return slice_chunk(self.body, self.index, data, self.start, self.end)


def pieces(parts: list[BodyRef], start: int, end: int) -> list[Piece]:
    """The chunks holding bytes ``start``..``end`` of ``parts`` laid end to end."""
    found = []
    offset = 0
    for part in parts:
        first, last = max(start - offset, 0), min(end - offset, part.size - 1)
        found += [Piece(part, index, first, last) for index in chunk_span(part, first, last)]
        offset += part.size
    return found


def stream_pieces(store: DocumentStore, wanted: list[Piece]) -> Iterator[bytes]:
    """The bytes of ``wanted``, one transaction per chunk."""
    for piece in wanted:
        with store.documents(NAMESPACE) as documents:
            data = piece.read(documents)
        yield data


class BodyWriter:
    """Writes one body: full chunks as they come, the last one when it is published."""

    def __init__(self, store: DocumentStore, clock: Clock, chunk_size: int = CHUNK_SIZE) -> None:
        self.id = uuid.uuid4().hex
        self._store = store
        self._clock = clock
        self._chunk_size = chunk_size
        self._buffer = bytearray()
        self._chunks = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    @property
    def etag(self) -> str:
        """S3's ETag of a single-part upload: the body's MD5, hex, in double quotes."""
        return f'"{self._md5.hexdigest()}"'

    def write(self, data: bytes) -> None:
        """Add bytes; every full chunk goes to the store at once."""
        self._md5.update(data)
        self.size += len(data)
        self._buffer += data
        while len(self._buffer) >= self._chunk_size:
            piece = bytes(self._buffer[: self._chunk_size])
            del self._buffer[: self._chunk_size]
            self._write_chunk(piece)

    def _write_chunk(self, piece: bytes) -> None:
        with self._store.documents(NAMESPACE) as documents:
            if self._chunks == 0:
                sweep_abandoned(documents, self._clock())
            documents.put(chunk_key(self.id, self._chunks), piece)
            self._chunks += 1
            pending = {"chunks": self._chunks, "touched": self._clock()}
            documents.put(_PENDING + self.id, orjson.dumps(pending))

    def finish(self, documents: Documents) -> BodyRef:
        """Write the last chunk inside the publishing transaction; the body's reference."""
        if self._buffer or self._chunks == 0:
            documents.put(chunk_key(self.id, self._chunks), bytes(self._buffer))
            self._chunks += 1
            self._buffer.clear()
        documents.delete(_PENDING + self.id)
        return BodyRef(self.id, self.size, self._chunks, self._chunk_size)

    def abort(self) -> None:
        """Forget a body that will not be published."""
        self._buffer.clear()
        if self._chunks:
            with self._store.documents(NAMESPACE) as documents:
                delete_body(documents, BodyRef(self.id, self.size, self._chunks))
                documents.delete(_PENDING + self.id)
            self._chunks = 0


def sweep_abandoned(documents: Documents, now: float) -> None:
    """Delete uploads nobody has written to for ``ABANDONED_AFTER_SECONDS``."""
    for key, raw in documents.scan(_PENDING):
        pending = orjson.loads(raw)
        if pending["touched"] < now - ABANDONED_AFTER_SECONDS:
            body_id = key[len(_PENDING) :]
            delete_body(documents, BodyRef(body_id, 0, pending["chunks"]))
            documents.delete(key)


__all__ = [
    "CHUNK_SIZE",
    "BodyChanged",
    "BodyRef",
    "BodyWriter",
    "chunk_span",
    "delete_body",
    "pieces",
    "read_chunk",
    "slice_chunk",
    "stream_pieces",
]
