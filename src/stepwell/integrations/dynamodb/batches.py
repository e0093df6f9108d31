"""BatchGetItem, BatchWriteItem and TransactGetItems, built on the single-item operations.

Each entry is run through ``get_item``/``put_item``/``delete_item``, so keys, projections
and item rules are checked exactly as for one item. The limits and messages are the API
Reference's: at most 100 keys per BatchGetItem or TransactGetItems, 25 requests per
BatchWriteItem, no key twice in one request. The embedded tables never throttle, so
``UnprocessedKeys``/``UnprocessedItems`` are always empty; a batch that fails fails
whole (the service runs every operation in one store transaction).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from stepwell.integrations.dynamodb.errors import validation
from stepwell.integrations.dynamodb.items import Catalog, delete_item, get_item, put_item
from stepwell.integrations.dynamodb.values import canonical_item

MAX_BATCH_GET: Final = 100
MAX_BATCH_WRITE: Final = 25
MAX_TRANSACT_GET: Final = 100
DUPLICATES: Final = "Provided list of item keys contains duplicates"
_READ_OPTIONS: Final = ("ProjectionExpression", "ExpressionAttributeNames", "ConsistentRead")


def batch_get_item(catalog: Catalog, parameters: Mapping[str, Any]) -> dict[str, Any]:
    tables = _request_items(parameters)
    count = sum(len(_list(request.get("Keys"))) for request in tables.values())
    if count > MAX_BATCH_GET:
        raise validation("Too many items requested for the BatchGetItem call")
    responses: dict[str, list[Any]] = {}
    for name, request in tables.items():
        keys = _list(request.get("Keys"))
        _no_duplicates(keys)
        options = {k: request[k] for k in _READ_OPTIONS if k in request}
        found = [get_item(catalog, {"TableName": name, "Key": key, **options}) for key in keys]
        responses[name] = [response["Item"] for response in found if "Item" in response]
    return {"Responses": responses, "UnprocessedKeys": {}}


def batch_write_item(catalog: Catalog, parameters: Mapping[str, Any]) -> dict[str, Any]:
    tables = _request_items(parameters)
    count = sum(len(_list(requests)) for requests in tables.values())
    if count > MAX_BATCH_WRITE:
        raise validation("Too many items requested for the BatchWriteItem call")
    for name, requests in tables.items():
        writes = [_write(name, request) for request in _list(requests)]
        _no_duplicates([target for target, _ in writes], keyed_by=catalog, table=name)
        for _, run in writes:
            run(catalog)
    return {"UnprocessedItems": {}}


def transact_get_items(catalog: Catalog, parameters: Mapping[str, Any]) -> dict[str, Any]:
    entries = _list(parameters.get("TransactItems"))
    if not 1 <= len(entries) <= MAX_TRANSACT_GET:
        raise validation(
            f"1 validation error detected: Value at 'transactItems' failed to satisfy "
            f"constraint: Member must have length between 1 and {MAX_TRANSACT_GET}"
        )
    gets = [_mapping(_mapping(entry).get("Get")) for entry in entries]
    targets = [orjson.dumps([get.get("TableName"), get.get("Key")]) for get in gets]
    if len(set(targets)) != len(targets):
        raise validation("Transaction request cannot include multiple operations on one item")
    return {"Responses": [get_item(catalog, get) for get in gets]}


def _write(table: str, request: Any) -> tuple[Any, Any]:
    """The item key a write targets, and the write itself."""
    request = _mapping(request)
    put, delete = request.get("PutRequest"), request.get("DeleteRequest")
    if (put is None) == (delete is None):
        raise validation("Supplied AttributeValue has more than one datatypes set")
    if put is not None:
        item = _mapping(put).get("Item")
        return item, lambda catalog: put_item(catalog, {"TableName": table, "Item": item})
    key = _mapping(delete).get("Key")
    return key, lambda catalog: delete_item(catalog, {"TableName": table, "Key": key})


def _request_items(parameters: Mapping[str, Any]) -> dict[str, Any]:
    items = parameters.get("RequestItems")
    if not isinstance(items, Mapping) or not items:
        raise validation(
            "1 validation error detected: Value null at 'requestItems' failed to satisfy "
            "constraint: Member must have length greater than or equal to 1"
        )
    return {str(name): request for name, request in items.items()}


def _no_duplicates(
    items: list[Any], keyed_by: Catalog | None = None, table: str | None = None
) -> None:
    """Refuse a request naming one key twice (a write's key is its item's key)."""
    if keyed_by is not None and table is not None:
        schema = keyed_by.table(table).schema
        items = [
            {name: value for name, value in _mapping(item).items() if name in schema.key_names}
            for item in items
        ]
    seen = {orjson.dumps(canonical_item(item), option=orjson.OPT_SORT_KEYS) for item in items}
    if len(seen) != len(items):
        raise validation(DUPLICATES)


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}
