"""EventBridge event patterns: which events a rule matches, compiled once, checked purely.

From the Amazon EventBridge User Guide ("Creating Amazon EventBridge event patterns",
"Content filtering in Amazon EventBridge event patterns", "Comparison operators for use
in event patterns", "Matching events on null values and empty strings"):

* a pattern has the structure of the events it matches; every field named must match
  (AND); fields the pattern does not name are ignored;
* a leaf is an array of conditions, any one of which matches (OR); ``"$or": [p, …]``
  matches when any of its sub-patterns does;
* a literal (string, number, ``true``, ``false``, ``null``) matches an equal value:
  strings exactly and case-sensitively, numbers numerically; ``""`` and ``null`` are
  different values;
* ``prefix``, ``suffix`` (each also ``{"equals-ignore-case": …}``), ``equals-ignore-case``,
  ``wildcard`` (``*`` any run of characters, ``\\*`` a star), ``anything-but`` (a value,
  a list of values, or ``{"prefix"|"suffix"|"equals-ignore-case"|"wildcard": …}``),
  ``numeric`` (``[">", 0, "<=", 5]``, ``["=", 3]``), ``cidr`` and ``exists``;
* when the event holds an array, the condition matches if any element does; a nested
  pattern under an array of objects matches if one element matches it all.

Design decision: a pattern is validated and compiled at ``PutRule`` into a tree of small
matcher closures, so a malformed pattern is an ``InvalidEventPatternException`` there and
matching an event walks the tree once, with no parsing. Pure: no I/O, no clock.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import orjson

Condition = Callable[[Any], bool]  # one leaf value -> matches
_COMPARISONS: Final[Mapping[str, Callable[[Decimal, Decimal], bool]]] = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_NUMERIC_LIMIT: Final = Decimal("5.0e9")  # EventBridge's numeric matching range
_ABSENT: Final = object()
# Amazon EventBridge quotas, "Event pattern size": 2,048 characters (the default quota).
MAX_PATTERN_LENGTH: Final = 2048
# Not an AWS figure: a bound on nesting so compiling and matching never exhaust the stack.
MAX_PATTERN_DEPTH: Final = 100


class InvalidEventPattern(ValueError):
    """A pattern EventBridge refuses; ``reason`` is the part AWS puts after "Reason:"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"Event pattern is not valid. Reason: {self.reason}"


@dataclass(frozen=True, slots=True)
class EventPattern:
    """A compiled pattern: ``pattern.matches(event)``."""

    text: str
    _match: Callable[[Any], bool]

    def matches(self, event: Mapping[str, Any]) -> bool:
        return self._match(event)


def parse_pattern(text: str) -> EventPattern:
    """A pattern from its JSON text (``PutRule``'s ``EventPattern``), validated."""
    if len(text) > MAX_PATTERN_LENGTH:
        raise InvalidEventPattern(
            f"Event pattern is longer than {MAX_PATTERN_LENGTH} characters ({len(text)})"
        )
    try:
        pattern = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise InvalidEventPattern(f"Filter is not valid JSON: {error}") from None
    if not isinstance(pattern, dict):
        raise InvalidEventPattern("Filter is not an object")
    if not pattern:
        raise InvalidEventPattern("Empty objects are not allowed")
    if _depth(pattern) > MAX_PATTERN_DEPTH:
        raise InvalidEventPattern(f"Event pattern is nested deeper than {MAX_PATTERN_DEPTH} levels")
    return EventPattern(text, _object(pattern, ""))


def _depth(value: Any) -> int:
    """How deeply objects and arrays nest in a parsed pattern, found without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


# --------------------------------------------------------------------- structure


def _object(pattern: Mapping[str, Any], where: str) -> Callable[[Any], bool]:
    """All of an object's fields must match (``$or`` adds alternatives)."""
    checks = [_field(key, value, where) for key, value in pattern.items()]

    def match(document: Any) -> bool:
        return isinstance(document, Mapping) and all(check(document) for check in checks)

    return match


def _field(key: str, value: Any, where: str) -> Callable[[Mapping[str, Any]], bool]:
    path = f"{where}.{key}" if where else key
    if key == "$or":
        return _or(value, where)
    if isinstance(value, dict):
        if not value:
            raise InvalidEventPattern(f"Empty objects are not allowed (at {path})")
        nested = _object(value, path)
        return lambda document: _nested(document.get(key, _ABSENT), nested)
    if isinstance(value, list):
        conditions = [_condition(item, path) for item in value]
        return lambda document: _leaf(document.get(key, _ABSENT), conditions)
    raise InvalidEventPattern(
        f"Match value must be String, number, true, false, or null (at {path})"
    )


def _or(branches: Any, where: str) -> Callable[[Mapping[str, Any]], bool]:
    if not isinstance(branches, list) or len(branches) < 2:
        raise InvalidEventPattern("Value of $or must be an array of at least two objects")
    compiled = []
    for branch in branches:
        if not isinstance(branch, dict) or not branch:
            raise InvalidEventPattern("Value of $or must be an array of non-empty objects")
        compiled.append(_object(branch, where))
    return lambda document: any(branch(document) for branch in compiled)


def _nested(value: Any, nested: Callable[[Any], bool]) -> bool:
    if isinstance(value, list):  # an array of objects: one element must match it all
        return any(nested(element) for element in value)
    return nested(value)


def _leaves(value: Any) -> list[Any]:
    """The leaf values of an event field: an array contributes its elements (flattened, to
    any depth, without recursion); an object or a missing field none."""
    leaves: list[Any] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(reversed(item))
        elif item is not _ABSENT and not isinstance(item, dict):
            leaves.append(item)
    return leaves


def _leaf(value: Any, conditions: Sequence[Condition | bool]) -> bool:
    leaves = _leaves(value)
    for condition in conditions:
        if isinstance(condition, bool):  # {"exists": true|false}
            if condition == bool(leaves):
                return True
        elif any(condition(leaf) for leaf in leaves):
            return True
    return False


# --------------------------------------------------------------------- conditions


def _condition(item: Any, path: str) -> Condition | bool:
    if isinstance(item, dict):
        if len(item) != 1:
            raise InvalidEventPattern(f"Only one key allowed in match expression (at {path})")
        name, operand = next(iter(item.items()))
        build = _OPERATORS.get(name)
        if build is None:
            raise InvalidEventPattern(f"Unrecognized match type {name} (at {path})")
        return build(operand, path)
    if isinstance(item, list):
        raise InvalidEventPattern(f"Arrays are not allowed inside match arrays (at {path})")
    return _literal(item)


def _literal(expected: Any) -> Condition:
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return lambda value: type(value) is type(expected) and value == expected
    number = _number(expected)
    return lambda value: _number(value) == number


def _number(value: Any) -> Decimal | None:
    """A JSON number as an exact decimal; None for anything else (strings included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:  # pragma: no cover - nan/inf are not JSON
        return None


def _text(operand: Any, name: str, path: str) -> str:
    if not isinstance(operand, str):
        raise InvalidEventPattern(f"{name} match pattern must be a string (at {path})")
    return operand


def _casing(operand: Any, name: str, path: str) -> tuple[str, bool]:
    """``"abc"`` or ``{"equals-ignore-case": "abc"}``: the text and whether case is ignored."""
    if isinstance(operand, dict):
        if list(operand) != ["equals-ignore-case"]:
            raise InvalidEventPattern(f"Unsupported {name} pattern {sorted(operand)} (at {path})")
        return _text(operand["equals-ignore-case"], name, path).casefold(), True
    return _text(operand, name, path), False


def _prefix(operand: Any, path: str) -> Condition:
    text, ignore_case = _casing(operand, "prefix", path)
    if ignore_case:
        return lambda value: isinstance(value, str) and value.casefold().startswith(text)
    return lambda value: isinstance(value, str) and value.startswith(text)


def _suffix(operand: Any, path: str) -> Condition:
    text, ignore_case = _casing(operand, "suffix", path)
    if ignore_case:
        return lambda value: isinstance(value, str) and value.casefold().endswith(text)
    return lambda value: isinstance(value, str) and value.endswith(text)


def _ignore_case(operand: Any, path: str) -> Condition:
    text = _text(operand, "equals-ignore-case", path).casefold()
    return lambda value: isinstance(value, str) and value.casefold() == text


def _wildcard(operand: Any, path: str) -> Condition:
    text = _text(operand, "wildcard", path)
    if "**" in text:
        raise InvalidEventPattern(
            f"Consecutive wildcard characters at pos {text.index('**') + 1} (at {path})"
        )
    pieces = _wildcard_pieces(text, path)
    return lambda value: isinstance(value, str) and _wildcard_matches(pieces, value)


def _wildcard_pieces(text: str, path: str) -> tuple[str, ...]:
    """The literal runs between unescaped stars (``\\*`` a star, ``\\\\`` a backslash)."""
    pieces: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            following = text[index + 1 : index + 2]
            if following not in ("*", "\\"):
                raise InvalidEventPattern(f"Invalid escape in wildcard pattern (at {path})")
            current.append(following)
            index += 2
            continue
        if char == "*":
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    pieces.append("".join(current))
    return tuple(pieces)


def _wildcard_matches(pieces: Sequence[str], value: str) -> bool:
    """Linear-time glob: the first piece a prefix, the last a suffix, the middle ones found
    left to right (leftmost is always safe for ``*``-only globs, so no backtracking)."""
    if len(pieces) == 1:
        return value == pieces[0]
    first, *middle, last = pieces
    if len(value) < len(first) + len(last) or not value.startswith(first):
        return False
    if not value.endswith(last):
        return False
    position, end = len(first), len(value) - len(last)
    for piece in middle:
        found = value.find(piece, position, end)
        if found < 0:
            return False
        position = found + len(piece)
    return True


def _exists(operand: Any, path: str) -> bool:
    if not isinstance(operand, bool):
        raise InvalidEventPattern(f"exists match pattern must be either true or false (at {path})")
    return operand


def _numeric(operand: Any, path: str) -> Condition:
    if not isinstance(operand, list) or not operand or len(operand) > 4 or len(operand) % 2:
        raise InvalidEventPattern(f"Value of numeric must be an array (at {path})")
    pairs: list[tuple[Callable[[Decimal, Decimal], bool], Decimal]] = []
    kinds: list[str] = []
    for index in range(0, len(operand), 2):
        symbol, bound = operand[index], _number(operand[index + 1])
        if symbol not in _COMPARISONS:
            raise InvalidEventPattern(f"Unrecognized numeric range operator: {symbol} (at {path})")
        if bound is None or abs(bound) > _NUMERIC_LIMIT:
            raise InvalidEventPattern(
                f"Value of {symbol} must be a number in [-5.0e9, 5.0e9] (at {path})"
            )
        kinds.append("=" if symbol == "=" else "lower" if symbol[0] == ">" else "upper")
        pairs.append((_COMPARISONS[symbol], bound))
    if len(kinds) == 2 and sorted(kinds) != ["lower", "upper"]:
        raise InvalidEventPattern(f"Bad numeric range: need one lower and one upper bound ({path})")

    def match(value: Any) -> bool:
        number = _number(value)
        return number is not None and all(compare(number, bound) for compare, bound in pairs)

    return match


def _cidr(operand: Any, path: str) -> Condition:
    try:
        network = ipaddress.ip_network(_text(operand, "cidr", path), strict=False)
    except ValueError:
        raise InvalidEventPattern(f"Nonstandard IP address: {operand} (at {path})") from None

    def match(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            return ipaddress.ip_address(value) in network
        except ValueError:
            return False

    return match


def _anything_but(operand: Any, path: str) -> Condition:
    if isinstance(operand, dict):
        return _anything_but_operator(operand, path)
    values = operand if isinstance(operand, list) else [operand]
    if not values:
        raise InvalidEventPattern(f"Inside anything but list, empty list is not allowed ({path})")
    kinds = {type(v) is str for v in values}
    if any(isinstance(v, dict | list | bool) or v is None for v in values) or len(kinds) > 1:
        raise InvalidEventPattern(
            f"Inside anything but list, mixed types or non-string/number values ({path})"
        )
    excluded = [_literal(v) for v in values]
    return lambda value: not any(condition(value) for condition in excluded)


def _anything_but_operator(operand: Mapping[str, Any], path: str) -> Condition:
    if len(operand) != 1:
        raise InvalidEventPattern(f"Only one key allowed in anything-but (at {path})")
    name, inner = next(iter(operand.items()))
    build = _STRING_OPERATORS.get(name)
    if build is None:
        raise InvalidEventPattern(f"Unsupported anything-but pattern: {name} (at {path})")
    many = isinstance(inner, list) and name in ("equals-ignore-case", "wildcard")
    conditions = [build(item, path) for item in (inner if many else [inner])]
    return lambda value: not any(condition(value) for condition in conditions)


_STRING_OPERATORS: Final[Mapping[str, Callable[[Any, str], Condition]]] = {
    "prefix": _prefix,
    "suffix": _suffix,
    "equals-ignore-case": _ignore_case,
    "wildcard": _wildcard,
}


_OPERATORS: Final[Mapping[str, Callable[[Any, str], Condition | bool]]] = {
    **_STRING_OPERATORS,
    "anything-but": _anything_but,
    "numeric": _numeric,
    "cidr": _cidr,
    "exists": _exists,
}

__all__ = ["EventPattern", "InvalidEventPattern", "parse_pattern"]
