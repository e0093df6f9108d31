"""The embedded DynamoDB, kept in a store's documents: one transaction per operation.

``TableEngine`` (``integrations/dynamodb``) owns every DynamoDB rule and files items
through an ``ItemStore``. ``DocumentItemStore`` is that ItemStore over one open
``documents("dynamodb")`` transaction. Design decision: each operation builds a fresh
engine inside its own transaction, so the engine's view of tables is never stale and a
conditional write (the idempotency semaphore of the seed workflow) is atomic across worker
processes — the store holds the namespace exclusively for the whole read-check-write.

Keys: ``table/NAME`` holds a table's metadata; ``item/NAME/LEN:PARTITION/SORT`` an item
(canonical DynamoDB JSON). The partition token is length-prefixed so that one
partition's prefix can never be the prefix of another's, whatever characters keys hold.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson

from stepwell.integrations.dynamodb import OPERATIONS, DynamoDBError, TableEngine
from stepwell.integrations.dynamodb.values import Item
from stepwell.integrations.services.base import (
    Request,
    Response,
    ServiceClient,
    ServiceError,
    operation_name,
)
from stepwell.integrations.services.documents import Documents

NAMESPACE = "dynamodb"
_TABLE = "table/"
_ITEM = "item/"


class DocumentItemStore:
    """``ItemStore`` over one open documents transaction."""

    def __init__(self, documents: Documents) -> None:
        self.documents = documents

    def load_tables(self) -> dict[str, dict[str, Any]]:
        return {
            key[len(_TABLE) :]: orjson.loads(value) for key, value in self.documents.scan(_TABLE)
        }

    def save_table(self, table: str, metadata: dict[str, Any]) -> None:
        self.documents.put(_TABLE + table, orjson.dumps(metadata))

    def drop_table(self, table: str) -> None:
        self.documents.delete(_TABLE + table)
        for key, _ in self.documents.scan(_table_prefix(table)):
            self.documents.delete(key)

    def get(self, table: str, partition: str, sort: str) -> Item | None:
        value = self.documents.get(_item_key(table, partition, sort))
        return None if value is None else _item(value)

    def put(self, table: str, partition: str, sort: str, item: Item) -> None:
        self.documents.put(_item_key(table, partition, sort), orjson.dumps(item))

    def delete(self, table: str, partition: str, sort: str) -> None:
        self.documents.delete(_item_key(table, partition, sort))

    def partition(self, table: str, partition: str) -> list[Item]:
        prefix = _partition_prefix(table, partition)
        return [_item(value) for _, value in self.documents.scan(prefix)]

    def scan(self, table: str) -> list[Item]:
        return [_item(value) for _, value in self.documents.scan(_table_prefix(table))]


def _item(value: bytes) -> Item:
    item: Item = orjson.loads(value)
    return item


def _table_prefix(table: str) -> str:
    return f"{_ITEM}{table}/"


def _partition_prefix(table: str, partition: str) -> str:
    return f"{_table_prefix(table)}{len(partition)}:{partition}/"


def _item_key(table: str, partition: str, sort: str) -> str:
    return _partition_prefix(table, partition) + sort


class DynamoDBClient(ServiceClient):
    """DynamoDB's JSON API over the embedded tables (``put_item(TableName=..., Item=...)``)."""

    service_name: ClassVar[str] = "dynamodb"

    def call(self, operation: str, request: Request | None = None) -> Response:
        name = operation_name(operation)
        if name not in OPERATIONS:
            raise ServiceError(
                "UnknownOperationException", f"The embedded dynamodb does not implement {name}."
            )
        try:
            with self.store.documents(NAMESPACE) as documents:
                engine = TableEngine(
                    DocumentItemStore(documents),
                    clock=self.clock,
                    region=self.region,
                    account=self.account,
                )
                return engine.call(name, dict(request or {}))
        except DynamoDBError as error:
            raise _service_error(error) from None

    def supports(self, operation: str) -> bool:
        return operation_name(operation) in OPERATIONS


def _service_error(error: DynamoDBError) -> ServiceError:
    extra: dict[str, Any] = {}
    if error.item is not None:
        extra["Item"] = error.item
    if error.cancellation_reasons is not None:
        extra["CancellationReasons"] = error.cancellation_reasons
    return ServiceError(error.code, error.message, extra=extra)


__all__ = ["NAMESPACE", "DocumentItemStore", "DynamoDBClient"]
