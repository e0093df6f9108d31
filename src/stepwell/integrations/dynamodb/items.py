"""PutItem, GetItem, UpdateItem and DeleteItem (API Reference pages of the same names).

Each operation reads and validates its whole request before it touches a table, then does
its read-check-write under the table's lock, so a condition is evaluated against exactly
the item it guards — the property the idempotency semaphore relies on. ``ReturnValues``
follows the API: PutItem and DeleteItem allow ``NONE`` and ``ALL_OLD``; UpdateItem also
``UPDATED_OLD``, ``ALL_NEW`` and ``UPDATED_NEW``, where the UPDATED forms return only the
paths the update expression touched, nested as in the item. A response omits
``Attributes`` when there is nothing to return.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final, Protocol

from stepwell.integrations.dynamodb.documents import project
from stepwell.integrations.dynamodb.errors import condition_failed, validation
from stepwell.integrations.dynamodb.evaluation import evaluate
from stepwell.integrations.dynamodb.expressions import (
    CONDITION,
    PROJECTION,
    UPDATE,
    read_expressions,
)
from stepwell.integrations.dynamodb.requests import (
    COLLECTION_METRICS,
    CONSUMED_CAPACITY,
    RETURN_VALUES,
    RETURN_VALUES_ON_FAILURE,
    Request,
)
from stepwell.integrations.dynamodb.syntax import Condition, Path, UpdateExpression
from stepwell.integrations.dynamodb.table import Table
from stepwell.integrations.dynamodb.updates import apply_update, check_update
from stepwell.integrations.dynamodb.values import Item, canonical_item, check_item_size

UPDATE_TOO_LARGE: Final = "Item size to update has exceeded the maximum allowed size"


class Catalog(Protocol):
    """What item operations need from the engine: tables by name, and the time."""

    def table(self, name: str) -> Table: ...

    def now(self) -> Decimal: ...


# --- shared pieces ------------------------------------------------------------------------


def read_write_options(request: Request) -> tuple[str, str]:
    """``ReturnValues`` and ``ReturnValuesOnConditionCheckFailure``, defaulting to NONE."""
    returns = request.enum("ReturnValues", RETURN_VALUES, "NONE") or "NONE"
    on_failure = request.enum("ReturnValuesOnConditionCheckFailure", RETURN_VALUES_ON_FAILURE)
    read_accounting_options(request)
    return returns, on_failure or "NONE"


def check_return_values(returns: str, allowed: tuple[str, ...]) -> None:
    if returns not in allowed:
        raise validation(f"ReturnValues can only be {' or '.join(allowed)}")


def read_accounting_options(request: Request) -> None:
    """Accepted and validated, but Stepwell reports no capacity or collection metrics."""
    request.enum("ReturnConsumedCapacity", CONSUMED_CAPACITY)
    request.enum("ReturnItemCollectionMetrics", COLLECTION_METRICS)


def check_condition(condition: Condition | None, item: Item | None, on_failure: str) -> None:
    if condition is not None and not evaluate(condition, item):
        shown = copy.deepcopy(item) if on_failure == "ALL_OLD" and item is not None else None
        raise condition_failed(shown)


def attributes(item: Item | None) -> dict[str, Any]:
    return {"Attributes": copy.deepcopy(item)} if item else {}


def read_key(request: Request, table: Table) -> Item:
    key = canonical_item(request.parameters["Key"])
    table.schema.check_key(key)
    return key


# --- operations ---------------------------------------------------------------------------


def put_item(catalog: Catalog, parameters: object) -> dict[str, Any]:
    request = Request(parameters)
    request.reject_legacy()
    name = request.table_name()
    request.mapping("Item", required=True)
    returns, on_failure = read_write_options(request)
    expressions = read_expressions(request, (CONDITION,))
    check_return_values(returns, ("ALL_OLD", "NONE"))
    item = canonical_item(request.parameters["Item"])
    table = catalog.table(name)
    table.schema.check_item_keys(item)
    check_item_size(item)
    with table.lock:
        old = table.get(item, catalog.now())
        check_condition(expressions.condition, old, on_failure)
        table.put(item)
    return attributes(old if returns == "ALL_OLD" else None)


def get_item(catalog: Catalog, parameters: object) -> dict[str, Any]:
    request = Request(parameters)
    request.reject_legacy()
    name = request.table_name()
    request.mapping("Key", required=True)
    request.boolean("ConsistentRead")
    request.enum("ReturnConsumedCapacity", CONSUMED_CAPACITY)
    expressions = read_expressions(request, (PROJECTION,))
    table = catalog.table(name)
    key = read_key(request, table)
    with table.lock:
        item = table.get(key, catalog.now())
    if item is None:
        return {}
    if expressions.projection is None:
        return {"Item": copy.deepcopy(item)}
    return {"Item": project(item, expressions.projection.paths)}


def delete_item(catalog: Catalog, parameters: object) -> dict[str, Any]:
    request = Request(parameters)
    request.reject_legacy()
    name = request.table_name()
    request.mapping("Key", required=True)
    returns, on_failure = read_write_options(request)
    expressions = read_expressions(request, (CONDITION,))
    check_return_values(returns, ("ALL_OLD", "NONE"))
    table = catalog.table(name)
    key = read_key(request, table)
    with table.lock:
        old = table.get(key, catalog.now())
        check_condition(expressions.condition, old, on_failure)
        table.delete(key)
    return attributes(old if returns == "ALL_OLD" else None)


def update_item(catalog: Catalog, parameters: object) -> dict[str, Any]:
    request = Request(parameters)
    request.reject_legacy()
    name = request.table_name()
    request.mapping("Key", required=True)
    returns, on_failure = read_write_options(request)
    expressions = read_expressions(request, (UPDATE, CONDITION))
    table = catalog.table(name)
    key = read_key(request, table)
    if expressions.update is not None:
        check_update(expressions.update, table.schema.key_names)
    with table.lock:
        old = table.get(key, catalog.now())
        check_condition(expressions.condition, old, on_failure)
        new = updated_item(expressions.update, old, key)
        table.put(new)
    paths = [] if expressions.update is None else [a.path for a in expressions.update.actions]
    return _UPDATE_RETURNS[returns](old, new, paths)


def updated_item(update: UpdateExpression | None, old: Item | None, key: Item) -> Item:
    """The item an UpdateItem writes: an update of the old item, or of a new one (the key)."""
    original = old if old is not None else key
    new = apply_update(update, original) if update is not None else copy.deepcopy(original)
    check_item_size(new, UPDATE_TOO_LARGE)
    return new


_UPDATE_RETURNS: Final[dict[str, Callable[[Item | None, Item, list[Path]], dict[str, Any]]]] = {
    "NONE": lambda old, new, paths: {},
    "ALL_OLD": lambda old, new, paths: attributes(old),
    "ALL_NEW": lambda old, new, paths: attributes(new),
    "UPDATED_OLD": lambda old, new, paths: attributes(project(old, paths) if old else None),
    "UPDATED_NEW": lambda old, new, paths: attributes(project(new, paths)),
}
