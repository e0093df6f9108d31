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
* What AWS accepts in deployed definitions is accepted here too (aws-behaviour.md, F1-F4):
  a dot before a bracket (``$.[0]``, ``$.abc.['def ghi']``, ``$.[?(@.OU > 0)]``) means the
  bracket alone; whitespace around a path is trimmed; a quoted bracket name is taken
  literally, backslashes included; and a bare word in a filter is a string (see
  ``jsonpath_filters``, which holds the filter grammar and its Jayway semantics).

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
from typing import Final, Literal, TypeAlias

import orjson

from stepwell.language.errors import RESULT_PATH_MATCH_FAILURE, ExpressionSyntaxError, StatesError
from stepwell.language.evaluation import JSON, EvalContext
from stepwell.language.jsonpath_filters import MISSING, FilterParser, Operand, Predicate, json_equal

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
_INTEGER: Final = re.compile(r"-?\d+")


class _Parser(FilterParser):
    """A hand-written recursive-descent reader for paths; filters come from FilterParser."""

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
            elif self.peek() == "." and self.peek(1) == "[":
                # F2: Jayway reads "$.[0]" as "$[0]", "$.abc.['def ghi']" as "$.abc['def ghi']"
                self.pos += 1
                steps.append(self.parse_bracket())
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
        names = [self.read_bracket_name()]
        self.skip_blanks()
        while self.peek() == ",":
            self.pos += 1
            self.skip_blanks()
            names.append(self.read_bracket_name())
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

    def read_bracket_name(self) -> str:
        """A quoted name in brackets, kept literally (F1): ``$['Test\\""Name"']`` names the
        key ``Test\\""Name"``. Only a backslash right before the closing quote keeps that
        quote in the name (``$['it\\'s']`` is ``it's``); every other backslash is literal."""
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
            if char == "\\" and self.peek() == quote:
                char = quote
                self.pos += 1
            chars.append(char)

    def path_operand(self, relative: bool) -> Operand:
        steps = self.parse_steps(in_filter=True)
        definite = all(isinstance(step, _DEFINITE_STEPS) for step in steps)

        def evaluate(node: JSON, root: JSON) -> JSON:
            start = node if relative else root
            matches = _select_all(steps, start, root)
            if not definite:
                return matches
            return matches[0] if matches else MISSING

        return evaluate


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
    """Parse and compile a JSONPath; ExpressionSyntaxError if it does not parse.

    Whitespace around the path is trimmed first, as AWS does (F3: a deployed AWS example
    reads ``"$$.Execution.Name "``); ``text`` of the result is the trimmed path.
    """
    if not isinstance(text, str):
        raise ExpressionSyntaxError(f"a path must be a string, not {type(text).__name__}")
    return _compile_path(text.strip())


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
