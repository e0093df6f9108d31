"""AWS Step Functions' JSONPath dialect, compiled once into getter closures.

Step Functions evaluates JSONPath with Jayway JsonPath semantics (Developer Guide, "Paths";
https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-paths.html):

* A path reads from one of three roots: ``$`` the data, ``$$`` the context object, or
  ``$name`` a workflow variable ("Passing data between states with variables").
* A *definite* path (only ``.name``, ``['name']``, ``[n]`` and a final ``['a','b']``) yields
  one value; when it does not resolve, ``get`` raises ``PathNotFound`` and the caller words
  the AWS message for its field.
* An *indefinite* path (wildcard, filter, slice, index union, ``..``) yields the list of
  matches; parts of the document that do not fit the path are skipped, so no match is ``[]``.
* JsonPath functions such as ``length()`` are not supported by Step Functions: AWS reads
  ``$.list.length()`` as a property named ``length()`` (and reports it not found), as here.

Design: the parser turns a path into a tuple of small immutable steps, then ``compile_path``
builds one closure for ``get``. The common definite shapes (``$``, ``$.a``, ``$.a.b.c``)
become straight-line dictionary lookups with no loop; only indefinite paths run the
general step-by-step matcher. ``set`` implements ResultPath copy-on-write: dictionaries on
the way to the target are copied, nothing passed in is ever mutated, so values may be shared
between states (the engine's convention is that JSON values are never mutated in place).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

import orjson

from stepwell.language.errors import RESULT_PATH_MATCH_FAILURE, ExpressionSyntaxError, StatesError
from stepwell.language.evaluation import JSON, EvalContext

__all__ = [
    "CompiledPath",
    "PathNotFound",
    "compact_json",
    "compile_path",
    "compile_result_path",
    "json_equal",
]

Root = Literal["data", "context", "variable"]
Getter = Callable[[JSON, EvalContext], JSON]
Predicate = Callable[[JSON, JSON], bool]
"""A filter test: ``predicate(candidate, root)``."""
Operand = Callable[[JSON, JSON], JSON]

MISSING: Final[Any] = object()
"""What a filter operand yields when its path finds nothing (distinct from ``null``)."""


class PathNotFound(LookupError):
    """A definite path found no value; ``path`` is the path's text as written."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def compact_json(value: JSON) -> str:
    """JSON text without spaces, as AWS quotes inputs in its error causes."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits, which orjson refuses
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True, slots=True)
class NameStep:
    """``.name`` or ``['name']``."""

    name: str

    def select(self, node: JSON, root: JSON, out: list[JSON]) -> None:
        if isinstance(node, dict) and self.name in node:
            out.append(node[self.name])


@dataclass(frozen=True, slots=True)
class IndexStep:
    """``[n]``; a negative index counts from the end, as in Jayway."""

    index: int

    def select(self, node: JSON, root: JSON, out: list[JSON]) -> None:
        if isinstance(node, list) and -len(node) <= self.index < len(node):
            out.append(node[self.index])


@dataclass(frozen=True, slots=True)
class NamesStep:
    """``['a','b']``: Jayway merges the named properties into one object (leaf only)."""

    names: tuple[str, ...]

    def select(self, node: JSON, root: JSON, out: list[JSON]) -> None:
        if isinstance(node, dict):
            out.append({name: node[name] for name in self.names if name in node})


@dataclass(frozen=True, slots=True)
class IndexesStep:
    """``[0,2]``: an index union."""

    indexes: tuple[int, ...]

    def select(self, node: JSON, root: JSON, out: list[JSON]) -> None:
        if isinstance(node, list):
            size = len(node)
            out.extend(node[i] for i in self.indexes if -size <= i < size)


@dataclass(frozen=True, slots=True)
class SliceStep:
    """``[start:end]`` with Python's (and Jayway's) clipping."""

    start: int | None
    end: int | None

    def select(self, node: JSON, root: JSON, out: list[JSON]) -> None:
        if isinstance(node, list):
            out.extend(node[self.start : self.end])


@dataclass(frozen=True, slots=True)
class WildcardStep:
    """``.*`` or ``[*]``: every member of an object or array."""

    def select(self, node: JSON, root: JSON, out: list[JSON]) -> None:
        if isinstance(node, dict):
            out.extend(node.values())
        elif isinstance(node, list):
            out.extend(node)


@dataclass(frozen=True, slots=True)
class FilterStep:
    """``[?(...)]``: the array's elements that pass, or the object itself if it passes."""

    predicate: Predicate

    def select(self, node: JSON, root: JSON, out: list[JSON]) -> None:
        if isinstance(node, list):
            out.extend(item for item in node if self.predicate(item, root))
        elif isinstance(node, dict) and self.predicate(node, root):
            out.append(node)


@dataclass(frozen=True, slots=True)
class DescendantStep:
    """``..x``: apply ``x`` at the node and at every node below it, in document order."""

    inner: Step

    def select(self, node: JSON, root: JSON, out: list[JSON]) -> None:
        inner = self.inner
        for each in _self_and_descendants(node):
            if isinstance(inner, FilterStep):
                # Jayway's scan tests the filter on objects only, each exactly once.
                if isinstance(each, dict) and inner.predicate(each, root):
                    out.append(each)
            else:
                inner.select(each, root, out)


Step: TypeAlias = (
    NameStep
    | IndexStep
    | NamesStep
    | IndexesStep
    | SliceStep
    | WildcardStep
    | FilterStep
    | DescendantStep
)
_DEFINITE_STEPS: Final = (NameStep, IndexStep, NamesStep)
_REFERENCE_STEPS: Final = (NameStep, IndexStep)


def _self_and_descendants(node: JSON) -> Iterator[JSON]:
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from _self_and_descendants(child)


# --------------------------------------------------------------------------- parser

_NAME_STOP: Final = frozenset(".[")
_FILTER_NAME_STOP: Final = frozenset(".[]()=!<>&|~,'\" \t\r\n")
_NUMBER: Final = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_INTEGER: Final = re.compile(r"-?\d+")
_WORD: Final = re.compile(r"[A-Za-z_]\w*")
_REGEX_FLAGS: Final = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}


class _Parser:
    """A hand-written recursive-descent reader for paths and filter expressions."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # -- helpers
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

    # -- whole paths
    def parse_path(self) -> tuple[Root, str, tuple[Step, ...]]:
        if self.peek() != "$":
            raise self.error("a path must start with '$'")
        self.pos += 1
        root: Root = "data"
        variable = ""
        if self.peek() == "$":
            self.pos += 1
            root = "context"
        elif self.peek().isalpha() or self.peek() == "_":
            root, variable = "variable", self.read_variable_name()
        steps = self.parse_steps(in_filter=False)
        if not self.at_end():
            raise self.error(f"unexpected character '{self.peek()}'")
        return root, variable, steps

    def read_variable_name(self) -> str:
        start = self.pos
        while self.peek().isalnum() or self.peek() == "_":
            self.pos += 1
        return self.text[start : self.pos]

    def parse_steps(self, in_filter: bool) -> tuple[Step, ...]:
        steps: list[Step] = []
        while True:
            if self.peek() == "." and self.peek(1) == ".":
                self.pos += 2
                steps.append(DescendantStep(self.parse_descendant_target(in_filter)))
            elif self.peek() == ".":
                self.pos += 1
                steps.append(self.parse_dot_member(in_filter))
            elif self.peek() == "[":
                steps.append(self.parse_bracket())
            else:
                break
        for step in steps[:-1]:
            if isinstance(step, NamesStep):
                raise self.error("Multi properties can only be used as path leafs")
        return tuple(steps)

    def parse_descendant_target(self, in_filter: bool) -> Step:
        if self.peek() == "[":
            return self.parse_bracket()
        return self.parse_dot_member(in_filter)

    def parse_dot_member(self, in_filter: bool) -> Step:
        if self.peek() == "*":
            self.pos += 1
            return WildcardStep()
        stop = _FILTER_NAME_STOP if in_filter else _NAME_STOP
        start = self.pos
        while not self.at_end() and self.peek() not in stop and not self.peek().isspace():
            self.pos += 1
        if self.pos == start:
            raise self.error("expected a property name")
        return NameStep(self.text[start : self.pos])

    def parse_bracket(self) -> Step:
        self.pos += 1  # '['
        self.skip_blanks()
        char = self.peek()
        if char == "*":
            self.pos += 1
            step: Step = WildcardStep()
        elif char == "?":
            self.pos += 1
            self.expect("(")
            step = FilterStep(self.parse_or())
            self.expect(")")
        elif char in ("'", '"'):
            step = self.parse_quoted_names()
        else:
            step = self.parse_indexes_or_slice()
        self.expect("]")
        return step

    def parse_quoted_names(self) -> Step:
        names = [self.read_string()]
        self.skip_blanks()
        while self.peek() == ",":
            self.pos += 1
            self.skip_blanks()
            names.append(self.read_string())
            self.skip_blanks()
        return NameStep(names[0]) if len(names) == 1 else NamesStep(tuple(names))

    def parse_indexes_or_slice(self) -> Step:
        start = self.read_optional_integer()
        self.skip_blanks()
        if self.peek() == ":":
            self.pos += 1
            self.skip_blanks()
            return SliceStep(start, self.read_optional_integer())
        if start is None:
            raise self.error("expected an index, a slice, '*', a filter or a quoted name")
        indexes = [start]
        while self.peek() == ",":
            self.pos += 1
            self.skip_blanks()
            indexes.append(self.read_integer())
            self.skip_blanks()
        return IndexStep(start) if len(indexes) == 1 else IndexesStep(tuple(indexes))

    def read_optional_integer(self) -> int | None:
        match = _INTEGER.match(self.text, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        return int(match.group())

    def read_integer(self) -> int:
        value = self.read_optional_integer()
        if value is None:
            raise self.error("expected an integer")
        return value

    def read_string(self) -> str:
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

    # -- filter expressions: || over && over ! over comparisons
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
            return _path_operand(self.parse_steps(in_filter=True), relative=True), True
        if char == "$":
            self.pos += 1
            if self.peek() == "$" or self.peek().isalpha():
                raise self.error("a filter can only refer to '@' or '$'")
            return _path_operand(self.parse_steps(in_filter=True), relative=False), True
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
        word = _WORD.match(self.text, self.pos)
        if word is not None and word.group() in _KEYWORDS:
            self.pos = word.end()
            return _KEYWORDS[word.group()]
        raise self.error("expected a value in the filter")

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


_KEYWORDS: Final[dict[str, JSON]] = {"true": True, "false": False, "null": None}


# --------------------------------------------------------------------------- filters


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


def _path_operand(steps: tuple[Step, ...], relative: bool) -> Operand:
    definite = all(isinstance(step, _DEFINITE_STEPS) for step in steps)

    def evaluate(node: JSON, root: JSON) -> JSON:
        start = node if relative else root
        matches = _select_all(steps, start, root)
        if not definite:
            return matches
        return matches[0] if matches else MISSING

    return evaluate


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


def _select_all(steps: tuple[Step, ...], start: JSON, root: JSON) -> list[JSON]:
    nodes = [start]
    for step in steps:
        found: list[JSON] = []
        for node in nodes:
            step.select(node, root, found)
        nodes = found
    return nodes


# --------------------------------------------------------------------------- getters


def _root_getter(text: str, root: Root, variable: str) -> Getter:
    if root == "data":
        return lambda data, ctx: data
    if root == "context":
        return lambda data, ctx: ctx.context

    def read_variable(data: JSON, ctx: EvalContext) -> JSON:
        try:
            return ctx.variables[variable]
        except KeyError:
            raise PathNotFound(text) from None

    return read_variable


def _names_getter(text: str, keys: tuple[str, ...]) -> Getter:
    """``$``, ``$.a``, ``$.a.b``, ``$.a.b.c`` … on the data: plain lookups, no loop.

    Exact without type checks: a string key on a list, a string, a number or ``null``
    raises TypeError, a missing key KeyError; both mean "not found".
    """
    if not keys:
        return lambda data, ctx: data
    if len(keys) == 1:
        (k0,) = keys

        def get1(data: JSON, ctx: EvalContext) -> JSON:
            try:
                return data[k0]
            except (KeyError, TypeError):
                raise PathNotFound(text) from None

        return get1
    if len(keys) == 2:
        k0, k1 = keys

        def get2(data: JSON, ctx: EvalContext) -> JSON:
            try:
                return data[k0][k1]
            except (KeyError, TypeError):
                raise PathNotFound(text) from None

        return get2
    if len(keys) == 3:
        k0, k1, k2 = keys

        def get3(data: JSON, ctx: EvalContext) -> JSON:
            try:
                return data[k0][k1][k2]
            except (KeyError, TypeError):
                raise PathNotFound(text) from None

        return get3
    return _general_getter(text, lambda data, ctx: data, tuple(NameStep(k) for k in keys))


def _accessor(step: Step) -> Callable[[JSON], JSON]:
    if isinstance(step, NameStep):
        name = step.name
        return lambda node: node[name] if isinstance(node, dict) else _mismatch()
    if isinstance(step, IndexStep):
        index = step.index
        return lambda node: node[index] if isinstance(node, list) else _mismatch()
    assert isinstance(step, NamesStep)
    names = step.names
    return lambda node: (
        {n: node[n] for n in names if n in node} if isinstance(node, dict) else _mismatch()
    )


def _mismatch() -> JSON:
    raise TypeError("path does not fit the data")


def _general_getter(text: str, root_getter: Getter, steps: tuple[Step, ...]) -> Getter:
    accessors = tuple(_accessor(step) for step in steps)

    def get(data: JSON, ctx: EvalContext) -> JSON:
        node = root_getter(data, ctx)
        try:
            for access in accessors:
                node = access(node)
        except (KeyError, TypeError, IndexError):
            raise PathNotFound(text) from None
        return node

    return get


def _indefinite_getter(root_getter: Getter, steps: tuple[Step, ...]) -> Getter:
    def get(data: JSON, ctx: EvalContext) -> JSON:
        base = root_getter(data, ctx)
        return _select_all(steps, base, base)

    return get


def _build_getter(text: str, root: Root, variable: str, steps: tuple[Step, ...]) -> Getter:
    if not all(isinstance(step, _DEFINITE_STEPS) for step in steps):
        return _indefinite_getter(_root_getter(text, root, variable), steps)
    names = tuple(step.name for step in steps if isinstance(step, NameStep))
    if root == "data" and len(names) == len(steps):
        return _names_getter(text, names)
    return _general_getter(text, _root_getter(text, root, variable), steps)


# --------------------------------------------------------------------------- compiled path


@dataclass(frozen=True, slots=True)
class CompiledPath:
    """A parsed path with a ready-to-call getter: ``path.get(data, ctx)``."""

    text: str
    root: Root
    variable: str
    """The variable's name (without ``$``) when ``root == "variable"``, else ``""``."""
    steps: tuple[Step, ...]
    is_definite: bool
    is_reference: bool
    get: Getter
    """``get(data, ctx)``: the value (definite) or list of matches; PathNotFound if absent."""

    def set(self, data: JSON, value: JSON) -> JSON:
        """ResultPath: ``data`` with ``value`` placed at this path, without mutating ``data``.

        Missing objects on the way are created; anything else that does not fit raises
        ``States.ResultPathMatchFailure`` (Developer Guide, "ResultPath").
        """
        if not (self.is_reference and self.root == "data"):
            raise ExpressionSyntaxError("ResultPath must be a reference path on '$'", self.text, 0)
        try:
            return _placed(data, self.steps, 0, value)
        except _NoPlace:
            raise StatesError(
                RESULT_PATH_MATCH_FAILURE,
                f"Unable to apply ReferencePath {self.text} to input {compact_json(data)}",
            ) from None


class _NoPlace(Exception):
    """A ResultPath step met something it cannot write into."""


def _placed(node: JSON, steps: tuple[Step, ...], depth: int, value: JSON) -> JSON:
    if depth == len(steps):
        return value
    step = steps[depth]
    if isinstance(step, NameStep):
        if not isinstance(node, dict):
            raise _NoPlace
        copy = dict(node)
        child = node.get(step.name, MISSING)
        copy[step.name] = _placed({} if child is MISSING else child, steps, depth + 1, value)
        return copy
    assert isinstance(step, IndexStep)
    if not isinstance(node, list) or not -len(node) <= step.index < len(node):
        raise _NoPlace
    items = list(node)
    items[step.index] = _placed(node[step.index], steps, depth + 1, value)
    return items


def compile_path(text: str) -> CompiledPath:
    """Parse and compile a JSONPath; ExpressionSyntaxError if it does not parse."""
    if not isinstance(text, str):
        raise ExpressionSyntaxError(f"a path must be a string, not {type(text).__name__}")
    return _compile_path(text)


@functools.lru_cache(maxsize=4096)
def _compile_path(text: str) -> CompiledPath:
    """Compiled paths are immutable, so one per distinct text is shared."""
    root, variable, steps = _Parser(text).parse_path()
    return CompiledPath(
        text=text,
        root=root,
        variable=variable,
        steps=steps,
        is_definite=all(isinstance(step, _DEFINITE_STEPS) for step in steps),
        is_reference=all(isinstance(step, _REFERENCE_STEPS) for step in steps),
        get=_build_getter(text, root, variable, steps),
    )


def compile_result_path(text: str) -> CompiledPath:
    """A path valid as ResultPath: a Reference Path on the data root ``$``."""
    path = compile_path(text)
    if path.root != "data" or not path.is_reference:
        raise ExpressionSyntaxError(
            "ResultPath must be a reference path on '$' (only .name, ['name'] and [n])", text, 0
        )
    return path
