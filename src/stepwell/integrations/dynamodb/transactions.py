"""TransactWriteItems: all-or-nothing writes across items and tables.

The idempotent-workflow seed takes its lock with
``arn:aws:states:::aws-sdk:dynamodb:transactWriteItems`` and one conditional ``Update``, and
catches ``DynamoDb.TransactionCanceledException`` to learn that another execution holds it.
So a failed condition here is not a ConditionalCheckFailedException but a cancellation that
lists one reason per action, in order (API Reference, "TransactWriteItems" and
"CancellationReason"): ``{"Code": "None"}`` for actions that were fine,
``{"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}`` (plus the
old ``Item`` when asked for) for failed conditions, ``{"Code": "ValidationError", ...}`` for
an action whose write would be invalid (a type error in an update, say). The message names
the codes: ``Transaction cancelled, please refer cancellation reasons for specific reasons
[None, ConditionalCheckFailed]``.

The whole request is validated first; then the locks of all tables involved are taken in
name order (so two transactions cannot deadlock), every condition is checked and every new
item computed, and only if all succeed is anything written.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from stepwell.integrations.dynamodb.errors import (
    CONDITION_FAILED_MESSAGE,
    TRANSACTION_CANCELED,
    DynamoDBError,
    validation,
)
from stepwell.integrations.dynamodb.evaluation import evaluate
from stepwell.integrations.dynamodb.expressions import CONDITION, UPDATE, read_expressions
from stepwell.integrations.dynamodb.items import (
    Catalog,
    read_accounting_options,
    read_key,
    updated_item,
)
from stepwell.integrations.dynamodb.requests import RETURN_VALUES_ON_FAILURE, Request
from stepwell.integrations.dynamodb.syntax import Condition, UpdateExpression
from stepwell.integrations.dynamodb.table import Table
from stepwell.integrations.dynamodb.updates import check_update
from stepwell.integrations.dynamodb.values import Item, canonical_item, check_item_size

MAX_ACTIONS: Final = 100
ACTION_TYPES: Final = ("ConditionCheck", "Put", "Delete", "Update")


@dataclass(frozen=True, slots=True)
class Action:
    """One validated action of a transaction."""

    kind: str
    table: Table
    key: Item
    condition: Condition | None
    on_failure: str
    item: Item | None = None
    update: UpdateExpression | None = None

    def target(self) -> tuple[str, str, str]:
        return (self.table.name, *self.table.schema.tokens(self.key))


def transact_write_items(catalog: Catalog, parameters: object) -> dict[str, Any]:
    request = Request(parameters)
    entries = request.array("TransactItems")
    request.string("ClientRequestToken")
    read_accounting_options(request)
    if entries is not None and not 1 <= len(entries) <= MAX_ACTIONS:
        bound = ("greater", 1) if not entries else ("less", MAX_ACTIONS)
        request.violated(
            "TransactItems",
            entries,
            f"Member must have length {bound[0]} than or equal to {bound[1]}",
        )
    request.check()
    assert entries is not None
    actions = [_action(catalog, entry, position) for position, entry in enumerate(entries, start=1)]
    targets = [action.target() for action in actions]
    if len(set(targets)) != len(targets):
        raise validation("Transaction request cannot include multiple operations on one item")
    tables = sorted({action.table.name: action.table for action in actions}.items())
    return _run(actions, [table for _, table in tables], catalog.now())


def _run(actions: list[Action], tables: list[Table], now: Decimal) -> dict[str, Any]:
    for table in tables:
        table.lock.acquire()
    try:
        olds = [action.table.get(action.key, now) for action in actions]
        outcomes = [_outcome(action, old) for action, old in zip(actions, olds, strict=True)]
        reasons = [reason for reason, _ in outcomes]
        if any(reason["Code"] != "None" for reason in reasons):
            codes = ", ".join(reason["Code"] for reason in reasons)
            raise DynamoDBError(
                TRANSACTION_CANCELED,
                "Transaction cancelled, please refer cancellation reasons for specific reasons "
                f"[{codes}]",
                cancellation_reasons=reasons,
            )
        for _, write in outcomes:
            write()
    finally:
        for table in reversed(tables):
            table.lock.release()
    return {}


def _outcome(action: Action, old: Item | None) -> tuple[dict[str, Any], Callable[[], None]]:
    """The cancellation reason of an action, and the write to do if none is cancelled."""
    if action.condition is not None and not evaluate(action.condition, old):
        reason: dict[str, Any] = {
            "Code": "ConditionalCheckFailed",
            "Message": CONDITION_FAILED_MESSAGE,
        }
        if action.on_failure == "ALL_OLD" and old is not None:
            reason["Item"] = copy.deepcopy(old)
        return reason, _nothing
    try:
        write = _WRITES[action.kind](action, old)
    except DynamoDBError as error:
        return {"Code": "ValidationError", "Message": error.message}, _nothing
    return {"Code": "None"}, write


def _nothing() -> None:
    return None


def _put(action: Action, _old: Item | None) -> Callable[[], None]:
    item = action.item
    assert item is not None
    return lambda: action.table.put(item)


def _delete(action: Action, _old: Item | None) -> Callable[[], None]:
    return lambda: action.table.delete(action.key)


def _update(action: Action, old: Item | None) -> Callable[[], None]:
    new = updated_item(action.update, old, action.key)
    return lambda: action.table.put(new)


_WRITES: Final[dict[str, Callable[[Action, Item | None], Callable[[], None]]]] = {
    "ConditionCheck": lambda action, old: _nothing,
    "Put": _put,
    "Delete": _delete,
    "Update": _update,
}


# --- reading one action -------------------------------------------------------------------


def _action(catalog: Catalog, entry: object, position: int) -> Action:
    wrapper = Request(entry, f"transactItems.{position}.member.")
    present = [kind for kind in ACTION_TYPES if wrapper.parameters.get(kind) is not None]
    if len(present) != 1:
        raise validation("TransactItems can only contain one of Check, Put, Update or Delete")
    kind = present[0]
    member = f"transactItems.{position}.member.{kind[0].lower()}{kind[1:]}."
    request = Request(wrapper.parameters[kind], member)
    name = request.table_name()
    on_failure = request.enum("ReturnValuesOnConditionCheckFailure", RETURN_VALUES_ON_FAILURE)
    required = {"ConditionCheck": CONDITION, "Update": UPDATE}.get(kind)
    if required is not None and request.parameters.get(required) is None:
        request.violated(required, None, "Member must not be null")
    request.mapping("Item" if kind == "Put" else "Key", required=True)
    expressions = read_expressions(
        request, (UPDATE, CONDITION) if kind == "Update" else (CONDITION,)
    )
    table = catalog.table(name)
    if kind == "Put":
        item = canonical_item(request.parameters["Item"])
        table.schema.check_item_keys(item)
        check_item_size(item)
        key = table.schema.key_of(item)
    else:
        item = None
        key = read_key(request, table)
    if expressions.update is not None:
        check_update(expressions.update, table.schema.key_names)
    return Action(
        kind, table, key, expressions.condition, on_failure or "NONE", item, expressions.update
    )
