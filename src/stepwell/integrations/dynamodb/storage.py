"""Where tables and items live: one small interface, and the in-memory implementation.

The engine owns every DynamoDB rule; a store only files items under their primary key so
that a durable backend (Stepwell's SQLite or PostgreSQL store) can stand in later without
learning any DynamoDB. Keys reach the store already encoded as strings (``schema.py``:
``"S:abc"``, ``"N:1.5"``), the sort key as ``""`` for tables without one, and items as
canonical DynamoDB JSON, so a SQL store keeps ``(table, partition, sort, item JSON)`` rows
and a table's metadata as one JSON document.

Stores are not required to be thread-safe on their own: the engine serialises writes to a
table with that table's lock. Items handed to and returned by a store are never mutated by
the engine, so a store may keep and return them as they are.
"""

from __future__ import annotations

from typing import Any, Protocol

from stepwell.integrations.dynamodb.values import Item


class ItemStore(Protocol):
    """Durable home of the embedded DynamoDB's tables and items."""

    def load_tables(self) -> dict[str, dict[str, Any]]:
        """Every table's metadata (as saved by ``save_table``), by table name."""
        ...

    def save_table(self, table: str, metadata: dict[str, Any]) -> None: ...

    def drop_table(self, table: str) -> None:
        """Forget the table's metadata and all of its items."""
        ...

    def get(self, table: str, partition: str, sort: str) -> Item | None: ...

    def put(self, table: str, partition: str, sort: str, item: Item) -> None: ...

    def delete(self, table: str, partition: str, sort: str) -> None: ...

    def partition(self, table: str, partition: str) -> list[Item]:
        """The items sharing one partition key, in any order."""
        ...

    def scan(self, table: str) -> list[Item]:
        """All items of the table, in any order."""
        ...


class MemoryItemStore:
    """Tables as nested dicts: table → partition → sort → item."""

    def __init__(self) -> None:
        self._metadata: dict[str, dict[str, Any]] = {}
        self._items: dict[str, dict[str, dict[str, Item]]] = {}

    def load_tables(self) -> dict[str, dict[str, Any]]:
        return dict(self._metadata)

    def save_table(self, table: str, metadata: dict[str, Any]) -> None:
        self._metadata[table] = metadata
        self._items.setdefault(table, {})

    def drop_table(self, table: str) -> None:
        self._metadata.pop(table, None)
        self._items.pop(table, None)

    def get(self, table: str, partition: str, sort: str) -> Item | None:
        return self._items[table].get(partition, {}).get(sort)

    def put(self, table: str, partition: str, sort: str, item: Item) -> None:
        self._items[table].setdefault(partition, {})[sort] = item

    def delete(self, table: str, partition: str, sort: str) -> None:
        members = self._items[table].get(partition)
        if members is not None:
            members.pop(sort, None)
            if not members:
                del self._items[table][partition]

    def partition(self, table: str, partition: str) -> list[Item]:
        return list(self._items[table].get(partition, {}).values())

    def scan(self, table: str) -> list[Item]:
        return [item for members in self._items[table].values() for item in members.values()]
