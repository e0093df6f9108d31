"""Filter expressions of AWS's JSONPath (``[?(@.price < 10 && @.tag == 'x')]``).

A filter is a small boolean language of its own inside a path: ``||`` over ``&&`` over
``!`` over comparisons (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``=~``, ``in``,
``nin``) and existence tests (``[?(@.isbn)]``), between operands that are paths relative to
the candidate (``@…``) or to the document (``$…``) and literals. The semantics follow
Jayway JsonPath, which Step Functions uses: ``==`` treats a number and a string spelling
it as equal, ordering never holds across types, ``=~`` matches the whole string, and an
operand path that finds nothing is ``MISSING`` (distinct from ``null``), equal to nothing.

Unquoted words (rule F4 of aws-behaviour.md). Published AWS samples deploy filters such as
``$.Labels[?(@.Name==Receipt)]`` and ``$..QualityResults[?(@.constraint_status==Failure)]``,
and AWS accepts them when the state machine is created. Jayway's documented operands are
paths, quoted strings, numbers, ``true``/``false``/``null``, JSON and ``/regex/``; a bare
word is none of these, and what AWS selects with one is not established. Stepwell reads a
bare word as the string it spells (``Receipt`` is ``'Receipt'``): it never rejects the
definition, and it gives the meaning the authors of those samples evidently intended (the
filter picks the labels named "Receipt"). ``true``, ``false`` and ``null`` stay keywords.

Design: this module holds the filter grammar (``FilterParser``, a mixin that the path
parser in ``jsonpath.py`` completes with ``path_operand``, since an operand is a path) and
the predicates it compiles to: closures ``predicate(candidate, root) -> bool`` built once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from stepwell.language.errors import ExpressionSyntaxError
from stepwell.language.evaluation import JSON

__all__ = [
    "MISSING",
    "FilterParser",
    "Operand",
    "Predicate",
    "Scanner",
    "json_equal",
]

Predicate = Callable[[JSON, JSON], bool]
"""A filter test: ``predicate(candidate, root)``."""
Operand = Callable[[JSON, JSON], JSON]

MISSING: Final[Any] = object()
"""What a filter operand yields when its path finds nothing (distinct from ``null``)."""

_NUMBER: Final = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_WORD: Final = re.compile(r"[A-Za-z_]\w*")
_BARE_WORD: Final = re.compile(r"[^\s()&|!=<>~,\[\]'\"]+")
_REGEX_FLAGS: Final = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}
_KEYWORDS: Final[dict[str, JSON]] = {"true": True, "false": False, "null": None}


class Scanner:
    """Position-keeping helpers shared by the path and filter grammars."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str, position: int | None = None) -> ExpressionSyntaxError:
        where = self.pos if position is None else position
        return ExpressionSyntaxError(message, self.text, min(where, len(self.text)))

    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def skip_blanks(self) -> None:
        while self.peek().isspace():
            self.pos += 1

    def expect(self, char: str) -> None:
        self.skip_blanks()
        if self.peek() != char:
            raise self.error(f"expected '{char}'")
        self.pos += 1

    def next_is(self, symbol: str) -> bool:
        """Skip blanks; consume ``symbol`` if it comes next."""
        self.skip_blanks()
        if self.text.startswith(symbol, self.pos):
            self.pos += len(symbol)
            return True
        return False

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def read_string(self) -> str:
        """A quoted filter literal; a backslash makes the next character literal."""
        quote = self.peek()
        if quote not in ("'", '"'):
            raise self.error("expected a quoted string")
        self.pos += 1
        chars: list[str] = []
        while True:
            char = self.peek()
            if char == "":
                raise self.error("unterminated string")
            self.pos += 1
            if char == quote:
                return "".join(chars)
            if char == "\\" and self.peek() != "":
                char = self.peek()
                self.pos += 1
            chars.append(char)


class FilterParser(Scanner):
    """The filter grammar; ``path_operand`` (a ``@…`` or ``$…`` path) comes from the
    path parser, which inherits this class."""

    def path_operand(self, relative: bool) -> Operand:
        raise NotImplementedError  # pragma: no cover - jsonpath._Parser provides it

    def parse_or(self) -> Predicate:
        left = self.parse_and()
        while self.next_is("||"):
            left = _any_of(left, self.parse_and())
        return left

    def parse_and(self) -> Predicate:
        left = self.parse_unary()
        while self.next_is("&&"):
            left = _all_of(left, self.parse_unary())
        return left

    def parse_unary(self) -> Predicate:
        self.skip_blanks()
        if self.peek() == "!":
            self.pos += 1
            return _negation(self.parse_unary())
        if self.peek() == "(":
            self.pos += 1
            inner = self.parse_or()
            self.expect(")")
            return inner
        return self.parse_comparison()

    def parse_comparison(self) -> Predicate:
        start = self.pos
        left, is_path = self.parse_operand()
        self.skip_blanks()
        operator = self.read_operator()
        if operator is None:
            if not is_path:
                raise self.error("a filter needs a comparison or a path to test", start)
            return _existence(left)
        self.skip_blanks()
        if operator == "=~":
            return _regex_match(left, self.read_regex())
        right, _ = self.parse_operand()
        return _comparison(_COMPARATORS[operator], left, right)

    def read_operator(self) -> str | None:
        for symbol in ("==", "!=", "<=", ">=", "=~", "<", ">"):
            if self.text.startswith(symbol, self.pos):
                self.pos += len(symbol)
                return symbol
        match = _WORD.match(self.text, self.pos)
        if match is not None and match.group() in ("in", "nin"):
            self.pos = match.end()
            return match.group()
        if match is not None:
            raise self.error(f"unsupported filter operator '{match.group()}'")
        return None

    def parse_operand(self) -> tuple[Operand, bool]:
        self.skip_blanks()
        char = self.peek()
        if char == "@":
            self.pos += 1
            return self.path_operand(relative=True), True
        if char == "$":
            self.pos += 1
            if self.peek() == "$" or self.peek().isalpha():
                raise self.error("a filter can only refer to '@' or '$'")
            return self.path_operand(relative=False), True
        value = self.read_literal()
        return (lambda node, root: value), False

    def read_literal(self) -> JSON:
        char = self.peek()
        if char in ("'", '"'):
            return self.read_string()
        if char == "[":
            return self.read_literal_list()
        number = _NUMBER.match(self.text, self.pos)
        if number is not None:
            self.pos = number.end()
            text = number.group()
            return float(text) if number.group(1) or number.group(2) else int(text)
        word = _BARE_WORD.match(self.text, self.pos)
        if word is None:
            raise self.error("expected a value in the filter")
        self.pos = word.end()
        # F4: a bare word is the string it spells; true, false and null are keywords.
        return _KEYWORDS.get(word.group(), word.group())

    def read_literal_list(self) -> list[JSON]:
        self.pos += 1  # '['
        items: list[JSON] = []
        self.skip_blanks()
        while self.peek() != "]":
            items.append(self.read_literal())
            self.skip_blanks()
            if self.peek() == ",":
                self.pos += 1
                self.skip_blanks()
            elif self.peek() != "]":
                raise self.error("expected ',' or ']'")
        self.pos += 1
        return items

    def read_regex(self) -> re.Pattern[str]:
        start = self.pos
        if self.peek() != "/":
            raise self.error("expected a /regular expression/ after '=~'")
        self.pos += 1
        while self.peek() not in ("/", ""):
            self.pos += 2 if self.peek() == "\\" else 1
        if self.peek() != "/":
            raise self.error("unterminated regular expression", start)
        pattern = self.text[start + 1 : self.pos]
        self.pos += 1
        flags = 0
        while self.peek() in _REGEX_FLAGS:
            flags |= _REGEX_FLAGS[self.peek()]
            self.pos += 1
        try:
            return re.compile(pattern, flags)
        except re.error as error:
            raise self.error(f"invalid regular expression: {error}", start) from None


# --------------------------------------------------------------------------- predicates


def _any_of(left: Predicate, right: Predicate) -> Predicate:
    return lambda node, root: left(node, root) or right(node, root)


def _all_of(left: Predicate, right: Predicate) -> Predicate:
    return lambda node, root: left(node, root) and right(node, root)


def _negation(inner: Predicate) -> Predicate:
    return lambda node, root: not inner(node, root)


def _existence(operand: Operand) -> Predicate:
    """``[?(@.x)]``: the property is there and not ``null`` (``!@.x`` matches null too)."""

    def test(node: JSON, root: JSON) -> bool:
        value = operand(node, root)
        return value is not MISSING and value is not None

    return test


def _comparison(compare: Callable[[JSON, JSON], bool], left: Operand, right: Operand) -> Predicate:
    return lambda node, root: compare(left(node, root), right(node, root))


def _regex_match(left: Operand, pattern: re.Pattern[str]) -> Predicate:
    """Jayway's ``=~`` matches the whole string."""

    def test(node: JSON, root: JSON) -> bool:
        value = left(node, root)
        return isinstance(value, str) and pattern.fullmatch(value) is not None

    return test


def _is_number(value: JSON) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def json_equal(left: JSON, right: JSON) -> bool:
    """JSON equality: ``true`` is not ``1``, ``1`` is ``1.0``, containers compare deeply."""
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if type(left) is not type(right):
        return False
    if isinstance(left, list):
        return len(left) == len(right) and all(map(json_equal, left, right))
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(json_equal(v, right[k]) for k, v in left.items())
    return bool(left == right)


def _filter_equal(left: JSON, right: JSON) -> bool:
    """Jayway's ``==``: as JSON equality, but a number equals a string spelling it."""
    if left is MISSING or right is MISSING:
        return False
    if _is_number(left) and isinstance(right, str):
        return _number_equals_text(left, right)
    if isinstance(left, str) and _is_number(right):
        return _number_equals_text(right, left)
    return json_equal(left, right)


def _number_equals_text(number: float, text: str) -> bool:
    try:
        return float(text) == number
    except ValueError:
        return False


def _ordered(test: Callable[[Any, Any], bool]) -> Callable[[JSON, JSON], bool]:
    """Ordering holds between two numbers or two strings, never across types."""

    def compare(left: JSON, right: JSON) -> bool:
        if _is_number(left) and _is_number(right):
            return test(left, right)
        if isinstance(left, str) and isinstance(right, str):
            return test(left, right)
        return False

    return compare


def _member_of(left: JSON, right: JSON) -> bool:
    return isinstance(right, list) and any(_filter_equal(left, item) for item in right)


_COMPARATORS: Final[dict[str, Callable[[JSON, JSON], bool]]] = {
    "==": _filter_equal,
    "!=": lambda left, right: not _filter_equal(left, right),
    "<": _ordered(lambda a, b: a < b),
    "<=": _ordered(lambda a, b: a <= b),
    ">": _ordered(lambda a, b: a > b),
    ">=": _ordered(lambda a, b: a >= b),
    "in": _member_of,
    "nin": lambda left, right: left is not MISSING and not _member_of(left, right),
}
