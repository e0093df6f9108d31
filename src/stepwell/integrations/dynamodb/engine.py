"""``TableEngine``: an embedded DynamoDB, spoken to in DynamoDB's own JSON.

Every operation takes the request exactly as the DynamoDB JSON API (and so a Step Functions
task's ``Parameters``) writes it and returns the API's response, or raises
``DynamoDBError`` with AWS's exception name and message. ``call("PutItem", request)`` (or
``"putItem"``, as Step Functions resources spell it) dispatches by name.

Design. The engine is pure logic over two things it is given: an ``ItemStore`` that files
items (memory by default; a durable store later) and a ``clock`` returning epoch seconds,
used for TTL expiry and creation times — the engine never reads the system time. Each table
has its own lock; operations on one table are serialised, different tables run in parallel.
Tables are ``ACTIVE`` as soon as they are created and gone as soon as they are deleted.

Supported: CreateTable, DeleteTable, DescribeTable, ListTables, UpdateTimeToLive,
DescribeTimeToLive, UpdateTable (billing only), PutItem, GetItem, UpdateItem, DeleteItem,
Query, Scan, BatchGetItem, BatchWriteItem, TransactWriteItems and TransactGetItems. Not
supported (refused with a clear ValidationException): secondary indexes and the legacy
non-expression parameters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any, Final

from stepwell.integrations.dynamodb.batches import (
    batch_get_item,
    batch_write_item,
    transact_get_items,
)
from stepwell.integrations.dynamodb.errors import (
    RESOURCE_IN_USE,
    DynamoDBError,
    table_not_found,
    validation,
)
from stepwell.integrations.dynamodb.items import delete_item, get_item, put_item, update_item
from stepwell.integrations.dynamodb.reads import query, scan
from stepwell.integrations.dynamodb.requests import Request
from stepwell.integrations.dynamodb.schema import TableSchema, capacity, schema_from_request
from stepwell.integrations.dynamodb.storage import ItemStore, MemoryItemStore
from stepwell.integrations.dynamodb.table import Table
from stepwell.integrations.dynamodb.transactions import transact_write_items

Clock = Callable[[], float | int | Decimal]
Response = dict[str, Any]


class TableEngine:
    """Embedded DynamoDB tables behind DynamoDB's JSON API."""

    def __init__(
        self,
        store: ItemStore | None = None,
        *,
        clock: Clock,
        region: str = "us-east-1",
        account: str = "123456789012",
    ) -> None:
        self.store: ItemStore = store if store is not None else MemoryItemStore()
        self.clock = clock
        self.region = region
        self.account = account
        self._lock = threading.Lock()
        self._tables = {
            name: Table(TableSchema.from_metadata(metadata), self.store)
            for name, metadata in self.store.load_tables().items()
        }

    # --- what operations need ---------------------------------------------------------------

    def now(self) -> Decimal:
        return Decimal(str(self.clock()))

    def table(self, name: str) -> Table:
        """The live table called ``name`` (item operations' not-found message)."""
        with self._lock:
            table = self._tables.get(name)
        if table is None:
            raise table_not_found()
        return table

    def _named_table(self, name: str) -> Table:
        """Like ``table``, with the message table operations use, which names the table."""
        with self._lock:
            table = self._tables.get(name)
        if table is None:
            raise table_not_found(name)
        return table

    def call(self, operation: str, request: Mapping[str, Any]) -> Response:
        """Run an operation by its API name (``PutItem``) or resource name (``putItem``)."""
        handler = OPERATIONS.get(operation[:1].upper() + operation[1:])
        if handler is None:
            raise DynamoDBError("UnknownOperationException", f"Unknown operation: {operation}")
        return handler(self, request)

    def purge_expired(self) -> int:
        """Delete every expired item of every table now; how many went."""
        now = self.now()
        purged = 0
        with self._lock:  # the registry lock first, as DeleteTable takes them
            for table in self._tables.values():
                with table.lock:
                    purged += table.purge_expired(now)
        return purged

    # --- tables -----------------------------------------------------------------------------

    def create_table(self, request: Mapping[str, Any]) -> Response:
        schema = schema_from_request(Request(request), float(self.now()), self.region, self.account)
        with self._lock:
            if schema.name in self._tables:
                raise DynamoDBError(RESOURCE_IN_USE, f"Table already exists: {schema.name}")
            self.store.save_table(schema.name, schema.metadata())
            self._tables[schema.name] = Table(schema, self.store)
        return {"TableDescription": schema.description(0, 0)}

    def describe_table(self, request: Mapping[str, Any]) -> Response:
        table = self._named_table(self._table_name(request))
        with table.lock:
            count, size = table.statistics(self.now())
        return {"Table": table.schema.description(count, size)}

    def delete_table(self, request: Mapping[str, Any]) -> Response:
        table = self._named_table(self._table_name(request))
        if table.schema.deletion_protection:
            raise validation(
                "Resource cannot be deleted as it is currently protected against deletion. "
                "Disable deletion protection first."
            )
        with self._lock, table.lock:
            count, size = table.statistics(self.now())
            self.store.drop_table(table.name)
            self._tables.pop(table.name, None)
            table.deleted = True
        return {"TableDescription": table.schema.description(count, size, status="DELETING")}

    def list_tables(self, request: Mapping[str, Any]) -> Response:
        parameters = Request(request)
        start = parameters.string("ExclusiveStartTableName")
        limit = parameters.integer("Limit", 1, 100) or 100
        parameters.check()
        with self._lock:
            names = sorted(name for name in self._tables if start is None or name > start)
        response: Response = {"TableNames": names[:limit]}
        if len(names) > limit:
            response["LastEvaluatedTableName"] = names[limit - 1]
        return response

    def update_time_to_live(self, request: Mapping[str, Any]) -> Response:
        parameters = Request(request)
        name = parameters.table_name()
        specification = parameters.mapping("TimeToLiveSpecification", required=True)
        parameters.check()
        assert specification is not None
        spec = Request(specification, "timeToLiveSpecification.")
        attribute = spec.string("AttributeName", required=True)
        if attribute is not None:
            spec.length("AttributeName", attribute, 1, 255)
        if spec.parameters.get("Enabled") is None:
            spec.violated("Enabled", None, "Member must not be null")
        enabled = spec.boolean("Enabled")
        spec.check()
        assert attribute is not None
        table = self._named_table(name)
        with table.lock:
            table.schema = _ttl_changed(table.schema, attribute, enabled)
            self.store.save_table(table.name, table.schema.metadata())
        return {"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": attribute}}

    def describe_time_to_live(self, request: Mapping[str, Any]) -> Response:
        schema = self._named_table(self._table_name(request)).schema
        if schema.ttl_attribute is None:
            return {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}
        return {
            "TimeToLiveDescription": {
                "TimeToLiveStatus": "ENABLED",
                "AttributeName": schema.ttl_attribute,
            }
        }

    @staticmethod
    def _table_name(request: Mapping[str, Any]) -> str:
        parameters = Request(request)
        name = parameters.table_name()
        parameters.check()
        return name

    # --- items ------------------------------------------------------------------------------

    def put_item(self, request: Mapping[str, Any]) -> Response:
        return put_item(self, request)

    def get_item(self, request: Mapping[str, Any]) -> Response:
        return get_item(self, request)

    def update_item(self, request: Mapping[str, Any]) -> Response:
        return update_item(self, request)

    def delete_item(self, request: Mapping[str, Any]) -> Response:
        return delete_item(self, request)

    def query(self, request: Mapping[str, Any]) -> Response:
        return query(self, request)

    def scan(self, request: Mapping[str, Any]) -> Response:
        return scan(self, request)

    def transact_write_items(self, request: Mapping[str, Any]) -> Response:
        return transact_write_items(self, request)

    def transact_get_items(self, request: Mapping[str, Any]) -> Response:
        return transact_get_items(self, request)

    def batch_get_item(self, request: Mapping[str, Any]) -> Response:
        return batch_get_item(self, request)

    def batch_write_item(self, request: Mapping[str, Any]) -> Response:
        return batch_write_item(self, request)

    def update_table(self, request: Mapping[str, Any]) -> Response:
        """UpdateTable: billing mode, provisioned throughput and deletion protection only."""
        parameters = Request(request)
        name = parameters.table_name()
        unsupported = sorted(set(request) & UNSUPPORTED_TABLE_UPDATES)
        if unsupported:
            raise validation(f"Stepwell's embedded DynamoDB cannot update {unsupported[0]}")
        billing = parameters.enum("BillingMode", ("PROVISIONED", "PAY_PER_REQUEST"))
        throughput = parameters.mapping("ProvisionedThroughput")
        protection = parameters.boolean("DeletionProtectionEnabled")
        parameters.check()
        table = self._named_table(name)
        with table.lock:
            schema = table.schema
            mode = billing or schema.billing_mode
            if throughput is not None or mode != schema.billing_mode:
                read, write = capacity(mode, throughput)
                schema = replace(
                    schema, billing_mode=mode, read_capacity=read, write_capacity=write
                )
            if protection is not None:
                schema = replace(schema, deletion_protection=protection)
            table.schema = schema
            self.store.save_table(table.name, schema.metadata())
            count, size = table.statistics(self.now())
        return {"TableDescription": schema.description(count, size)}


def _ttl_changed(schema: TableSchema, attribute: str, enabled: bool) -> TableSchema:
    """The schema after an UpdateTimeToLive, refused as AWS refuses a redundant change."""
    current = schema.ttl_attribute
    if enabled and current is not None:
        raise validation("TimeToLive is already enabled")
    if not enabled and current is None:
        raise validation("TimeToLive is already disabled")
    if not enabled and current != attribute:
        raise validation(
            f"TimeToLive is active on a different AttributeName: current AttributeName is {current}"
        )
    return schema.with_ttl(attribute if enabled else None)


OPERATIONS: Final[dict[str, Callable[[TableEngine, Mapping[str, Any]], Response]]] = {
    "CreateTable": TableEngine.create_table,
    "DeleteTable": TableEngine.delete_table,
    "DescribeTable": TableEngine.describe_table,
    "ListTables": TableEngine.list_tables,
    "UpdateTimeToLive": TableEngine.update_time_to_live,
    "DescribeTimeToLive": TableEngine.describe_time_to_live,
    "PutItem": TableEngine.put_item,
    "GetItem": TableEngine.get_item,
    "UpdateItem": TableEngine.update_item,
    "DeleteItem": TableEngine.delete_item,
    "Query": TableEngine.query,
    "Scan": TableEngine.scan,
    "TransactWriteItems": TableEngine.transact_write_items,
    "TransactGetItems": TableEngine.transact_get_items,
    "BatchGetItem": TableEngine.batch_get_item,
    "BatchWriteItem": TableEngine.batch_write_item,
    "UpdateTable": TableEngine.update_table,
}

# UpdateTable members that change more than billing (indexes, streams, replicas, …).
UNSUPPORTED_TABLE_UPDATES: Final = frozenset(
    {
        "AttributeDefinitions",
        "GlobalSecondaryIndexUpdates",
        "StreamSpecification",
        "SSESpecification",
        "ReplicaUpdates",
        "TableClass",
        "OnDemandThroughput",
        "WarmThroughput",
        "MultiRegionConsistency",
        "GlobalTableWitnessUpdates",
    }
)
