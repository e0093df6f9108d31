"""Where the embedded services keep their state: any store with ``documents(namespace)``.

Design decision: the services speak only to this one small interface, the ``documents``
transaction of Stepwell's store (``store.base.Store.documents``), so the same tables,
queues and topics live in memory for ``stepwell.run`` and in SQLite or PostgreSQL for a
server, where they survive restarts and are shared by every worker process. The
integrations layer may not import ``store`` (they are siblings), so the protocol is
restated here structurally and ``MemoryDocumentStore`` is the in-process default.

Every operation of a service runs inside one ``documents()`` block: the store holds the
namespace exclusively for it, so a conditional write or a message receive is atomic even
across processes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class Documents(Protocol):
    """Key → bytes in one namespace, inside an exclusive transaction."""

    def get(self, key: str) -> bytes | None: ...
    def put(self, key: str, value: bytes) -> None: ...
    def delete(self, key: str) -> None: ...
    def scan(self, prefix: str = "") -> list[tuple[str, bytes]]: ...


class DocumentStore(Protocol):
    """Anything that opens exclusive per-namespace transactions (every Stepwell store)."""

    def documents(self, namespace: str) -> AbstractContextManager[Documents]: ...


class MemoryDocumentStore:
    """Namespaces as dicts. Writes go to an overlay applied only if the block ends without
    an exception, so a failed operation changes nothing (as a rolled-back transaction)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._namespaces: dict[str, dict[str, bytes]] = {}

    @contextmanager
    def documents(self, namespace: str) -> Iterator[Documents]:
        with self._lock:
            values = self._namespaces.setdefault(namespace, {})
            draft = _Overlay(values)
            yield draft
            draft.apply()


class _Overlay:
    def __init__(self, values: dict[str, bytes]) -> None:
        self._values = values
        self._changes: dict[str, bytes | None] = {}  # None: deleted

    def get(self, key: str) -> bytes | None:
        if key in self._changes:
            return self._changes[key]
        return self._values.get(key)

    def put(self, key: str, value: bytes) -> None:
        self._changes[key] = bytes(value)

    def delete(self, key: str) -> None:
        self._changes[key] = None

    def scan(self, prefix: str = "") -> list[tuple[str, bytes]]:
        merged: dict[str, bytes | None] = {
            k: v for k, v in self._values.items() if k.startswith(prefix)
        }
        for key, change in self._changes.items():
            if key.startswith(prefix):
                merged[key] = change
        return sorted((k, v) for k, v in merged.items() if v is not None)

    def apply(self) -> None:
        for key, change in self._changes.items():
            if change is None:
                self._values.pop(key, None)
            else:
                self._values[key] = change
