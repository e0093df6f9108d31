"""Applying a bound UpdateExpression to an item.

DynamoDB evaluates every operand of every action against the item as it was *before* the
update (Developer Guide, "Update expressions": the actions are not applied one after
another), so this module computes all SET values from the original item first and only
then writes. Because the action paths may not overlap, the writes are independent,
except that list indexes refer to the original list: SETs on one list are applied in
ascending index order (an index past the end appends, "sorted in order by element number")
and REMOVEs in descending order, so ``REMOVE l[1], l[2]`` removes both original elements.

Runtime errors are AWS's: "The provided expression refers to an attribute that does not
exist in the item" (``a + :v`` or ``list_append(a, :l)`` with ``a`` missing) and "An operand
in the update expression has an incorrect data type" (``+`` on a string, ``ADD`` to a map).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, Final

from stepwell.integrations.dynamodb.binding import check_disjoint
from stepwell.integrations.dynamodb.documents import get_path, remove_path, set_path
from stepwell.integrations.dynamodb.errors import invalid_parameters, validation
from stepwell.integrations.dynamodb.syntax import (
    Arithmetic,
    Call,
    Index,
    Literal,
    Operand,
    Path,
    UpdateAction,
    UpdateExpression,
)
from stepwell.integrations.dynamodb.values import (
    EXACT,
    AttributeValue,
    Item,
    number_value,
    type_of,
)

MISSING_ATTRIBUTE: Final = (
    "The provided expression refers to an attribute that does not exist in the item"
)
WRONG_TYPE: Final = "An operand in the update expression has an incorrect data type"


def check_update(update: UpdateExpression, key_names: Iterable[str]) -> None:
    """Request-level checks: no overlapping targets, no key attribute among them."""
    paths = [action.path for action in update.actions]
    check_disjoint(paths, "UpdateExpression")
    keys = set(key_names)
    for path in paths:
        if path.top in keys:
            raise invalid_parameters(
                f"Cannot update attribute {path.top}. This attribute is part of the key"
            )


def apply_update(update: UpdateExpression, original: Item) -> Item:
    """The item after ``update``; ``original`` (left untouched) includes the key."""
    item = copy.deepcopy(original)
    sets = [(a.path, value_of(a.value, original)) for a in update.actions if a.section == "SET"]
    for path, value in sorted(sets, key=lambda pair: _order(pair[0])):
        set_path(item, path, value)
    others = [action for action in update.actions if action.section != "SET"]
    for action in sorted(others, key=lambda a: _order(a.path), reverse=True):
        _APPLY[action.section](item, action)
    return item


def _order(path: Path) -> tuple[tuple[int, Any], ...]:
    return tuple((1, s.position) if isinstance(s, Index) else (0, s.text) for s in path.steps)


# --- SET values ---------------------------------------------------------------------------


def value_of(operand: Operand | None, item: Item) -> AttributeValue:
    """The value a SET operand stands for, read from the original ``item``."""
    if isinstance(operand, Literal):
        return copy.deepcopy(operand.value)
    if isinstance(operand, Path):
        return copy.deepcopy(_existing(item, operand))
    if isinstance(operand, Arithmetic):
        return _arithmetic(operand, item)
    assert isinstance(operand, Call)
    return _SET_FUNCTIONS[operand.name](operand, item)


def _existing(item: Item, path: Path) -> AttributeValue:
    value = get_path(item, path)
    if value is None:
        raise validation(MISSING_ATTRIBUTE)
    return value


def _arithmetic(operand: Arithmetic, item: Item) -> AttributeValue:
    left, right = value_of(operand.left, item), value_of(operand.right, item)
    if "N" not in left or "N" not in right:
        raise validation(WRONG_TYPE)
    a, b = Decimal(left["N"]), Decimal(right["N"])
    result = EXACT.add(a, b) if operand.operator == "+" else EXACT.subtract(a, b)
    return number_value(result)


def _if_not_exists(call: Call, item: Item) -> AttributeValue:
    path, default = call.args
    assert isinstance(path, Path)
    present = get_path(item, path)
    return copy.deepcopy(present) if present is not None else value_of(default, item)


def _list_append(call: Call, item: Item) -> AttributeValue:
    first, second = (value_of(arg, item) for arg in call.args)
    if "L" not in first or "L" not in second:
        raise validation(WRONG_TYPE)
    return {"L": first["L"] + second["L"]}


_SET_FUNCTIONS: Final[dict[str, Callable[[Call, Item], AttributeValue]]] = {
    "if_not_exists": _if_not_exists,
    "list_append": _list_append,
}

# --- REMOVE, ADD, DELETE ------------------------------------------------------------------


def _remove(item: Item, action: UpdateAction) -> None:
    remove_path(item, action.path)


def _add(item: Item, action: UpdateAction) -> None:
    assert isinstance(action.value, Literal)
    addend = action.value.value
    current = get_path(item, action.path)
    if current is None:
        set_path(item, action.path, copy.deepcopy(addend))
        return
    kind = type_of(addend)
    if type_of(current) != kind:
        raise validation(WRONG_TYPE)
    if kind == "N":
        total = EXACT.add(Decimal(current["N"]), Decimal(addend["N"]))
        set_path(item, action.path, number_value(total))
        return
    merged = current[kind] + [m for m in addend[kind] if m not in current[kind]]
    set_path(item, action.path, {kind: merged})


def _delete(item: Item, action: UpdateAction) -> None:
    assert isinstance(action.value, Literal)
    subset = action.value.value
    current = get_path(item, action.path)
    if current is None:
        return
    kind = type_of(subset)
    if type_of(current) != kind:
        raise validation(WRONG_TYPE)
    remaining = [m for m in current[kind] if m not in subset[kind]]
    if remaining:
        set_path(item, action.path, {kind: remaining})
    else:
        remove_path(item, action.path)


_APPLY: Final[dict[str, Callable[[Item, UpdateAction], None]]] = {
    "REMOVE": _remove,
    "ADD": _add,
    "DELETE": _delete,
}
