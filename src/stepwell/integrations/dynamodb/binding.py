"""Binding a request's placeholders into its parsed expressions.

A request carries up to four expressions and one pair of maps, ``ExpressionAttributeNames``
(``#n`` → name) and ``ExpressionAttributeValues`` (``:v`` → value). ``Bindings`` validates
the maps as DynamoDB does, rewrites each parsed tree into a bound one (``syntax.py``),
remembers which placeholders were used, and finally rejects the unused ones — AWS refuses
a request that defines a name or value no expression uses.

Checks that need the values but not the item happen here too, once per request: operand
types of literal values (``begins_with(a, :n)`` with a number), ``attribute_type``'s type
name, ``BETWEEN`` bounds, and the types ``ADD``, ``DELETE``, ``+``/``-`` and ``list_append``
accept. Checks that need the item happen while evaluating.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from stepwell.integrations.dynamodb.errors import DynamoDBError, validation
from stepwell.integrations.dynamodb.syntax import (
    And,
    Arithmetic,
    Between,
    Call,
    Comparison,
    Condition,
    FunctionTest,
    In,
    Index,
    Literal,
    Name,
    Not,
    Operand,
    Or,
    Path,
    Placeholder,
    Projection,
    Step,
    UpdateAction,
    UpdateExpression,
)
from stepwell.integrations.dynamodb.values import (
    ALL_TYPES,
    ORDERED_TYPES,
    SET_TYPES,
    AttributeValue,
    canonical_value,
    compare_ordered,
    describe,
    type_of,
)

_NAME_KEY: Final = re.compile(r"#[A-Za-z0-9_]+")
_VALUE_KEY: Final = re.compile(r":[A-Za-z0-9_]+")
# How ADD and DELETE name an operand's type in their messages.
_LONG_TYPE_NAMES: Final = {
    "S": "STRING",
    "N": "NUMBER",
    "B": "BINARY",
    "BOOL": "BOOLEAN",
    "NULL": "NULL",
    "M": "MAP",
    "L": "LIST",
}


class Bindings:
    """The placeholder maps of one request, and which of them the expressions used."""

    def __init__(self, names: object = None, values: object = None) -> None:
        self.names = _names_map(names)
        self.values = _values_map(values)
        self.used_names: set[str] = set()
        self.used_values: set[str] = set()
        self.kind = ""

    # --- rewriting ------------------------------------------------------------------------

    def condition(self, condition: Condition, kind: str) -> Condition:
        self.kind = kind
        return self._condition(condition)

    def update(self, update: UpdateExpression) -> UpdateExpression:
        self.kind = "UpdateExpression"
        actions = tuple(self._action(action) for action in update.actions)
        return UpdateExpression(actions)

    def projection(self, projection: Projection) -> Projection:
        self.kind = "ProjectionExpression"
        return Projection(tuple(self.path(path) for path in projection.paths))

    def check_all_used(self) -> None:
        """Reject names or values that no expression of the request used."""
        for label, given, used in (
            ("ExpressionAttributeNames", self.names, self.used_names),
            ("ExpressionAttributeValues", self.values, self.used_values),
        ):
            unused = sorted(set(given) - used)
            if unused:
                raise validation(
                    f"Value provided in {label} unused in expressions: "
                    f"keys: {{{', '.join(unused)}}}"
                )

    def fail(self, detail: str) -> DynamoDBError:
        return validation(f"Invalid {self.kind}: {detail}")

    def path(self, path: Path) -> Path:
        return Path(tuple(self._step(step) for step in path.steps))

    def _step(self, step: Step) -> Step:
        if isinstance(step, Index) or not step.placeholder:
            return step
        if step.text not in self.names:
            raise self.fail(
                "An expression attribute name used in the document path is not defined; "
                f"attribute name: {step.text}"
            )
        self.used_names.add(step.text)
        return Name(self.names[step.text])

    def operand(self, operand: Operand) -> Operand:
        if isinstance(operand, Path):
            return self.path(operand)
        if isinstance(operand, Placeholder):
            return self._literal(operand)
        if isinstance(operand, Call):
            return self._call(operand)
        assert isinstance(operand, Arithmetic)
        return Arithmetic(operand.operator, self.operand(operand.left), self.operand(operand.right))

    def _literal(self, placeholder: Placeholder) -> Literal:
        if placeholder.key not in self.values:
            raise self.fail(
                "An expression attribute value used in expression is not defined; "
                f"attribute value: {placeholder.key}"
            )
        self.used_values.add(placeholder.key)
        return Literal(self.values[placeholder.key], placeholder.key)

    def _call(self, call: Call) -> Call:
        bound = Call(call.name, tuple(self.operand(arg) for arg in call.args))
        _CALL_CHECKS.get(call.name, _no_check)(self, bound)
        return bound

    def _condition(self, condition: Condition) -> Condition:
        rewrite = _CONDITION_REWRITES[type(condition)]
        return rewrite(self, condition)

    def _action(self, action: UpdateAction) -> UpdateAction:
        path = self.path(action.path)
        if action.value is None:
            return UpdateAction(action.section, path)
        value = self.operand(action.value)
        if isinstance(value, Arithmetic):
            for side in (value.left, value.right):
                self.require_types(side, value.operator, frozenset({"N"}))
        if action.section in ("ADD", "DELETE"):
            assert isinstance(value, Literal)
            allowed = SET_TYPES.keys() | ({"N"} if action.section == "ADD" else set())
            if type_of(value.value) not in allowed:
                shown = _LONG_TYPE_NAMES[type_of(value.value)]
                raise self.fail(
                    "Incorrect operand type for operator or function; "
                    f"operator: {action.section}, operand type: {shown}"
                )
        return UpdateAction(action.section, path, value)

    # --- static checks --------------------------------------------------------------------

    def require_types(self, operand: Operand, operator: str, allowed: frozenset[str]) -> None:
        """A literal operand must be of one of the ``allowed`` types."""
        if isinstance(operand, Literal) and type_of(operand.value) not in allowed:
            raise self.fail(
                "Incorrect operand type for operator or function; "
                f"operator or function: {operator}, operand type: {type_of(operand.value)}"
            )


def _names_map(names: object) -> dict[str, str]:
    if names is None:
        return {}
    if not isinstance(names, Mapping):
        raise DynamoDBError("SerializationException", "ExpressionAttributeNames must be a map")
    if not names:
        raise validation("ExpressionAttributeNames must not be empty")
    result: dict[str, str] = {}
    for key, name in names.items():
        if not isinstance(key, str) or not _NAME_KEY.fullmatch(key):
            raise validation(
                f'ExpressionAttributeNames contains invalid key: Syntax error; key: "{key}"'
            )
        if not isinstance(name, str) or not name:
            raise validation(
                "ExpressionAttributeNames contains invalid value: "
                f"Empty attribute name for key {key}"
            )
        result[key] = name
    return result


def _values_map(values: object) -> dict[str, AttributeValue]:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise DynamoDBError("SerializationException", "ExpressionAttributeValues must be a map")
    if not values:
        raise validation("ExpressionAttributeValues must not be empty")
    result: dict[str, AttributeValue] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not _VALUE_KEY.fullmatch(key):
            raise validation(
                f'ExpressionAttributeValues contains invalid key: Syntax error; key: "{key}"'
            )
        try:
            result[key] = canonical_value(value)
        except DynamoDBError as error:
            if error.code != "ValidationException":
                raise
            raise validation(
                f"ExpressionAttributeValues contains invalid value: {error.message} for key {key}"
            ) from None
    return result


# --- condition rewriting, one function per node type ---------------------------------------


def _comparison(bindings: Bindings, node: Any) -> Condition:
    left, right = bindings.operand(node.left), bindings.operand(node.right)
    if node.operator not in ("=", "<>"):
        for side in (left, right):
            bindings.require_types(side, node.operator, ORDERED_TYPES)
    return Comparison(node.operator, left, right)


def _between(bindings: Bindings, node: Any) -> Condition:
    subject, low, high = (bindings.operand(o) for o in (node.subject, node.low, node.high))
    for side in (subject, low, high):
        bindings.require_types(side, "BETWEEN", ORDERED_TYPES)
    if isinstance(low, Literal) and isinstance(high, Literal):
        bounds = (
            f"lower bound operand: AttributeValue: {describe(low.value)}, "
            f"upper bound operand: AttributeValue: {describe(high.value)}"
        )
        order = compare_ordered(low.value, high.value)
        if order is None:
            raise bindings.fail(
                f"The BETWEEN operator requires same data type for lower and upper bounds; {bounds}"
            )
        if order > 0:
            raise bindings.fail(
                "The BETWEEN operator requires upper bound to be greater than or equal to "
                f"lower bound; {bounds}"
            )
    return Between(subject, low, high)


def _in(bindings: Bindings, node: Any) -> Condition:
    subject = bindings.operand(node.subject)
    return In(subject, tuple(bindings.operand(option) for option in node.options))


def _function_test(bindings: Bindings, node: Any) -> Condition:
    call = bindings.operand(node.call)
    assert isinstance(call, Call)
    return FunctionTest(call)


def _not(bindings: Bindings, node: Any) -> Condition:
    return Not(bindings._condition(node.operand))


def _and(bindings: Bindings, node: Any) -> Condition:
    return And(bindings._condition(node.left), bindings._condition(node.right))


def _or(bindings: Bindings, node: Any) -> Condition:
    return Or(bindings._condition(node.left), bindings._condition(node.right))


_CONDITION_REWRITES: Final[dict[type, Callable[[Bindings, Any], Condition]]] = {
    Comparison: _comparison,
    Between: _between,
    In: _in,
    FunctionTest: _function_test,
    Not: _not,
    And: _and,
    Or: _or,
}


# --- per-function checks -------------------------------------------------------------------


def _no_check(_bindings: Bindings, _call: Call) -> None:
    return None


def _check_attribute_type(bindings: Bindings, call: Call) -> None:
    type_name = call.args[1]
    bindings.require_types(type_name, call.name, frozenset({"S"}))
    if isinstance(type_name, Literal) and type_name.value["S"] not in ALL_TYPES:
        raise bindings.fail(
            f"Invalid attribute type name found; type: {type_name.value['S']}, "
            f"valid types: {{ {','.join(ALL_TYPES)} }}"
        )


def _check_string_or_binary(bindings: Bindings, call: Call) -> None:
    for arg in call.args:
        bindings.require_types(arg, call.name, frozenset({"S", "B"}))


def _check_contains(bindings: Bindings, call: Call) -> None:
    first, second = call.args
    if isinstance(first, Path) and first == second:
        raise bindings.fail(
            "The first operand must be distinct from the remaining operands for this "
            f"operator or function; operator: contains, first operand: {first.render()}"
        )


def _check_list_append(bindings: Bindings, call: Call) -> None:
    for arg in call.args:
        bindings.require_types(arg, call.name, frozenset({"L"}))


_CALL_CHECKS: Final[dict[str, Callable[[Bindings, Call], None]]] = {
    "attribute_type": _check_attribute_type,
    "begins_with": _check_string_or_binary,
    "contains": _check_contains,
    "list_append": _check_list_append,
}


# --- document path sets (update targets, projections) ---------------------------------------


def check_disjoint(paths: list[Path], kind: str) -> None:
    """No path may contain, equal or contradict another (AWS's overlap/conflict rules)."""
    for i, first in enumerate(paths):
        for second in paths[i + 1 :]:
            relation = _relation(first.steps, second.steps)
            if relation:
                raise validation(
                    f"Invalid {kind}: Two document paths {relation} with each other; "
                    "must remove or rewrite one of these paths; "
                    f"path one: {first.render()}, path two: {second.render()}"
                )


def _relation(first: tuple[Step, ...], second: tuple[Step, ...]) -> str:
    for a, b in zip(first, second, strict=False):
        if type(a) is not type(b):
            return "conflict"
        if a != b:
            return ""
    return "overlap"
