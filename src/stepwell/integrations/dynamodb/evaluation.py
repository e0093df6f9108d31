"""Evaluating bound condition and filter expressions against an item.

The rules are DynamoDB's (Developer Guide, "Condition and filter expressions, operators,
and functions"): an operand that names a missing attribute does not exist, and a
comparison with a missing operand or between different types is false rather than an
error — so ``a <> :v`` holds when ``a`` is missing or of another type, being the negation
of ``=``. Ordering (``<``, ``BETWEEN``) applies to strings (by UTF-8 bytes), numbers and
binary only. ``size`` of a value it cannot measure (a number, Boolean or null) does not
exist, so comparisons on it are false.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, Final

from stepwell.integrations.dynamodb.documents import get_path
from stepwell.integrations.dynamodb.syntax import (
    And,
    Between,
    Call,
    Comparison,
    Condition,
    FunctionTest,
    In,
    Literal,
    Not,
    Operand,
    Or,
    Path,
)
from stepwell.integrations.dynamodb.values import (
    SET_TYPES,
    AttributeValue,
    Item,
    compare_ordered,
    type_of,
    values_equal,
)

Value = AttributeValue | None


def evaluate(condition: Condition, item: Item | None) -> bool:
    """Whether the bound ``condition`` holds for ``item`` (``None``: no such item)."""
    return _CONDITIONS[type(condition)](condition, item)


def operand_value(operand: Operand, item: Item | None) -> Value:
    if isinstance(operand, Path):
        return get_path(item, operand)
    if isinstance(operand, Literal):
        return operand.value
    assert isinstance(operand, Call) and operand.name == "size"
    return _size(operand_value(operand.args[0], item))


# --- comparisons --------------------------------------------------------------------------

_ORDER_TESTS: Final[dict[str, Callable[[int], bool]]] = {
    "<": lambda order: order < 0,
    "<=": lambda order: order <= 0,
    ">": lambda order: order > 0,
    ">=": lambda order: order >= 0,
}


def compare(operator: str, left: Value, right: Value) -> bool:
    if operator == "=":
        return equal(left, right)
    if operator == "<>":
        return not equal(left, right)
    if left is None or right is None:
        return False
    order = compare_ordered(left, right)
    return order is not None and _ORDER_TESTS[operator](order)


def equal(left: Value, right: Value) -> bool:
    return left is not None and right is not None and values_equal(left, right)


def between(subject: Value, low: Value, high: Value) -> bool:
    return compare(">=", subject, low) and compare("<=", subject, high)


def _comparison(node: Any, item: Item | None) -> bool:
    return compare(node.operator, operand_value(node.left, item), operand_value(node.right, item))


def _between(node: Any, item: Item | None) -> bool:
    subject, low, high = (operand_value(o, item) for o in (node.subject, node.low, node.high))
    return between(subject, low, high)


def _in(node: Any, item: Item | None) -> bool:
    subject = operand_value(node.subject, item)
    return any(equal(subject, operand_value(option, item)) for option in node.options)


def _not(node: Any, item: Item | None) -> bool:
    return not evaluate(node.operand, item)


def _and(node: Any, item: Item | None) -> bool:
    return evaluate(node.left, item) and evaluate(node.right, item)


def _or(node: Any, item: Item | None) -> bool:
    return evaluate(node.left, item) or evaluate(node.right, item)


def _function_test(node: Any, item: Item | None) -> bool:
    call: Call = node.call
    args = [operand_value(arg, item) for arg in call.args]
    return _FUNCTIONS[call.name](*args)


_CONDITIONS: Final[dict[type, Callable[[Any, Item | None], bool]]] = {
    Comparison: _comparison,
    Between: _between,
    In: _in,
    FunctionTest: _function_test,
    Not: _not,
    And: _and,
    Or: _or,
}

# --- functions ----------------------------------------------------------------------------


def _attribute_exists(value: Value) -> bool:
    return value is not None


def _attribute_not_exists(value: Value) -> bool:
    return value is None


def _attribute_type(value: Value, type_name: Value) -> bool:
    return value is not None and type_name is not None and type_of(value) == type_name.get("S")


def begins_with(value: Value, prefix: Value) -> bool:
    if value is None or prefix is None or type_of(value) != type_of(prefix):
        return False
    if "S" in value:
        return bool(value["S"].startswith(prefix["S"]))
    if "B" in value:
        return _bytes(value).startswith(_bytes(prefix))
    return False


def _contains(container: Value, element: Value) -> bool:
    if container is None or element is None:
        return False
    kind = type_of(container)
    if kind == "S" and "S" in element:
        return bool(element["S"] in container["S"])
    if kind == "B" and "B" in element:
        return _bytes(element) in _bytes(container)
    if kind in SET_TYPES:
        member_type = SET_TYPES[kind]
        return member_type in element and element[member_type] in container[kind]
    if kind == "L":
        return any(values_equal(member, element) for member in container["L"])
    return False


def _size(value: Value) -> Value:
    if value is None:
        return None
    kind = type_of(value)
    if kind == "S":
        length = len(value["S"])
    elif kind == "B":
        length = len(_bytes(value))
    elif kind in SET_TYPES or kind in ("L", "M"):
        length = len(value[kind])
    else:
        return None
    return {"N": str(length)}


def _bytes(value: AttributeValue) -> bytes:
    return base64.b64decode(value["B"])


_FUNCTIONS: Final[dict[str, Callable[..., bool]]] = {
    "attribute_exists": _attribute_exists,
    "attribute_not_exists": _attribute_not_exists,
    "attribute_type": _attribute_type,
    "begins_with": begins_with,
    "contains": _contains,
}
