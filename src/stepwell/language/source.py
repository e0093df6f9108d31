"""Load a definition's text (JSON or YAML) into plain data, remembering where each value was.

A definition reaches Stepwell as text: hand-written JSON, YAML from SAM or a file, or a
string built by CDK. Its mistakes must be reported at a line and a column, so loading
keeps a map from each value's JSON Pointer (RFC 6901: ``""`` is the root,
``"/States/A/Next"`` the value of A's ``Next``) to the 1-based ``(line, column)`` of the
value's first character (``{`` for an object, ``"`` for a string). Columns count
characters, not bytes.

Design: JSON is parsed by the standard library's C decoder (fast, exact errors); the
positions come from a second, structural pass over the same text with one compiled
token regex, which never decodes a value except keys that hold an escape. Both passes
are linear, so a 1 MB definition loads in tens of milliseconds. Text that is not JSON
is read as YAML through PyYAML's composed nodes, whose start marks give the positions.

Limits (a definition is at most 1 MB, but its shape could still exhaust the server):

* ``MAX_NESTING_DEPTH`` (128) levels of objects and arrays, in JSON and in YAML (after
  alias expansion). A real definition is far shallower: a Parallel inside a Map inside a
  Parallel costs about four levels each, so 128 allows some thirty nested Parallel/Map
  states with payloads of their own. Deeper text would overflow the recursive readers
  (the standard library's decoder, PyYAML's composer) and every walk after them.
* Integers of at most ``MAX_INTEGER_DIGITS`` (4,300) digits, Python's own limit for
  turning text into an ``int``; a number too large for a float (``1e999``) is refused
  rather than read as infinity, which JSON cannot represent.
* YAML aliases may not make the document larger than ``MAX_YAML_NODES`` (200,000)
  values once expanded, nor refer to themselves. A 547-byte "billion laughs" document
  expands to billions; counting the expanded size over the composed nodes (each node's
  size is computed once) refuses it in time linear in its text.

Each breach is a ``DefinitionSyntaxError`` with a line and column where known, which
the validator reports as ``INVALID_JSON_DESCRIPTION`` and the API as ``InvalidDefinition``.

Duplicate keys: AWS parses definitions with a strict JSON reader and rejects a
definition whose object repeats a key (two states of the same name are reported as
``DUPLICATE_STATE_NAME``). Loading keeps the last value, as JSON readers do, and lists
the pointer of every repeated key in ``duplicates`` so the validator can report it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import yaml

from stepwell.language.json_errors import from_decode_error

JSON = Any  # a value made of dict, list, str, int, float, bool and None
Position = tuple[int, int]

MAX_NESTING_DEPTH = 128
"""Levels of nested objects and arrays a definition may have."""
MAX_INTEGER_DIGITS = 4300
"""Digits an integer in a definition may have (Python's int-from-text limit)."""
MAX_YAML_NODES = 200_000
"""Values a YAML definition may have once its aliases are expanded."""


class DefinitionSyntaxError(ValueError):
    """The definition text is neither valid JSON nor valid YAML.

    ``line`` and ``column`` are 1-based; the validator reports this as AWS's
    ``INVALID_JSON_DESCRIPTION``.
    """

    def __init__(
        self,
        message: str,
        line: int | None = None,
        column: int | None = None,
        location: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.location = location
        """Where AWS's JSON reader says the error is (``[Source: ...]``), for JSON text."""

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"{self.message} (line {self.line}, column {self.column})"


@dataclass(frozen=True, slots=True)
class LoadedDefinition:
    """Parsed definition data with the source position of every value."""

    data: JSON
    positions: Mapping[str, Position] = field(default_factory=dict)
    """JSON Pointer → 1-based (line, column) of the value's first character."""
    duplicates: tuple[str, ...] = ()
    """JSON Pointers of keys that appeared more than once in their object."""
    syntax: str = "json"
    """``"json"`` or ``"yaml"``: which reader accepted the text."""


def pointer(*parts: str | int) -> str:
    """Build a JSON Pointer from reference tokens, escaping ``~`` and ``/``."""
    return "".join("/" + escape_token(str(part)) for part in parts)


def escape_token(token: str) -> str:
    """Escape one reference token for a JSON Pointer (RFC 6901 section 3)."""
    if "~" in token or "/" in token:
        return token.replace("~", "~0").replace("/", "~1")
    return token


def load_definition(text: str | bytes) -> LoadedDefinition:
    """Parse JSON (tried first) or YAML text; raise ``DefinitionSyntaxError`` if neither."""
    source = _decode(text)
    try:
        data = json.loads(
            source, parse_constant=_reject_constant, parse_int=_integer, parse_float=_float
        )
    except json.JSONDecodeError as error:
        return _load_yaml_or_raise(source, error)
    except _UnreadableNumber as error:
        line, column = _line_column(source, error.offset(source))
        raise DefinitionSyntaxError(str(error), line, column) from None
    except RecursionError:
        # The decoder recurses per level; the walk below finds where the limit was passed.
        data = None
    positions, duplicates = _json_positions(source)
    return LoadedDefinition(data, positions, duplicates, "json")


def too_deep_location(data: JSON) -> str | None:
    """The pointer of a value nested deeper than ``MAX_NESTING_DEPTH``, else None.

    For definitions given as data rather than text; iterative, so any depth is safe.
    """
    pending: list[tuple[JSON, str, int]] = [(data, "", 0)]
    while pending:
        value, path, depth = pending.pop()
        if isinstance(value, Mapping):
            items: Any = value.items()
        elif isinstance(value, list | tuple):
            items = enumerate(value)
        else:
            continue
        if depth >= MAX_NESTING_DEPTH:
            return path
        pending.extend((item, f"{path}/{escape_token(str(key))}", depth + 1) for key, item in items)
    return None


def too_deep_message() -> str:
    """The message of a definition nested deeper than ``MAX_NESTING_DEPTH``."""
    return (
        f"The definition is nested more than {MAX_NESTING_DEPTH} levels deep "
        "(objects and arrays inside each other)"
    )


# --- text -----------------------------------------------------------------------------


def _decode(text: str | bytes) -> str:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            message = f"The definition is not valid UTF-8: {error.reason}"
            raise DefinitionSyntaxError(message) from None
    return text.removeprefix("\ufeff")


class _UnreadableNumber(ValueError):
    """A number the definition cannot hold; ``text`` locates it in the source."""

    def __init__(self, message: str, text: str) -> None:
        super().__init__(message)
        self.text = text

    def offset(self, source: str) -> int:
        match = re.search(rf"(?<![\w\"\.]){re.escape(self.text)}", source)
        return match.start() if match else 0


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON (and AWS) do not.
    raise _UnreadableNumber(f"Invalid JSON: {name} is not a JSON value", name)


def _integer(text: str) -> int:
    digits = len(text.lstrip("-+"))
    if digits > MAX_INTEGER_DIGITS:
        raise _UnreadableNumber(_long_integer_message(digits), text[:20])
    return int(text)


def _long_integer_message(digits: int) -> str:
    return (
        f"A number in the definition has {digits} digits; at most {MAX_INTEGER_DIGITS} are allowed"
    )


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _UnreadableNumber(_huge_number_message(text), text[:20])
    return value


def _huge_number_message(text: str) -> str:
    shown = text if len(text) <= 30 else text[:27] + "..."
    return f"The number {shown} in the definition is too large to represent"


def _line_column(source: str, offset: int) -> Position:
    line = source.count("\n", 0, offset) + 1
    return line, offset - (source.rfind("\n", 0, offset) + 1) + 1


# --- JSON positions -------------------------------------------------------------------

# One token of already-valid JSON, told apart by the last group that matched: 1 a string
# value, 2 an object key (a string and its colon), 3 an opening bracket, 4 a closing
# bracket, 5 a comma, none a bare scalar (number, true, false, null).
_TOKEN = re.compile(r'("[^"\\]*(?:\\.[^"\\]*)*")(\s*:)?|([{\[])|([}\]])|(,)|[^\s{}\[\],:"]+')
_NEWLINE = re.compile("\n")
_KEY, _OPEN, _CLOSE, _COMMA = 2, 3, 4, 5


@dataclass(slots=True)
class _Frame:
    is_object: bool
    base: str
    index: int = 0
    seen: set[str] = field(default_factory=set)


def _json_positions(source: str) -> tuple[dict[str, Position], tuple[str, ...]]:
    offsets, duplicates = _json_offsets(source)
    line_starts = [match.end() for match in _NEWLINE.finditer(source)]
    positions: dict[str, Position] = {}
    line, line_start, upcoming = 1, 0, 0  # offsets arrive in increasing order
    for path, offset in offsets.items():
        while upcoming < len(line_starts) and line_starts[upcoming] <= offset:
            line_start = line_starts[upcoming]
            upcoming += 1
            line += 1
        positions[path] = (line, offset - line_start + 1)
    return positions, tuple(duplicates)


def _json_offsets(source: str) -> tuple[dict[str, int], list[str]]:
    """Walk the tokens of valid JSON, recording each value's pointer and offset."""
    offsets: dict[str, int] = {}
    duplicates: list[str] = []
    stack: list[_Frame] = []
    top = _Frame(False, "")
    current = ""
    for match in _TOKEN.finditer(source):
        kind = match.lastindex
        if kind == _OPEN and len(stack) >= MAX_NESTING_DEPTH:
            line, column = _line_column(source, match.start())
            raise DefinitionSyntaxError(too_deep_message(), line, column)
        if kind == _KEY:
            key = match.group(1)
            key = json.loads(key) if "\\" in key else key[1:-1]
            current = f"{top.base}/{escape_token(key)}"
            if key in top.seen:
                duplicates.append(current)
                _forget_nested(offsets, current)
            top.seen.add(key)
        elif kind == _COMMA:
            if not top.is_object:
                top.index += 1
                current = f"{top.base}/{top.index}"
        elif kind == _CLOSE:
            top = stack.pop()
        else:
            offsets[current] = match.start()
            if kind == _OPEN:
                stack.append(top)
                top = _Frame(match.group(_OPEN) == "{", current)
                current = f"{current}/0"
    return offsets, duplicates


def _forget_nested(offsets: dict[str, int], path: str) -> None:
    """Drop the positions inside an earlier value of a repeated key (the last one wins)."""
    prefix = path + "/"
    for stale in [known for known in offsets if known.startswith(prefix)]:
        del offsets[stale]
    offsets.pop(path, None)


# --- YAML -----------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """A safe loader that keeps timestamps as the strings ASL expects, within the limits.

    The pure-Python loader, not libyaml's: libyaml's composed nodes lose their tags
    when a tracer (coverage, a debugger) is active, and YAML definitions are small.
    PyYAML's composer recurses once per level, so the depth is checked as it descends.
    """

    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_NESTING_DEPTH + 1:  # +1: the scalars at the deepest level
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise DefinitionSyntaxError(too_deep_message(), mark.line + 1, mark.column + 1)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _timestamp_as_string(loader: _Loader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


def _bounded_int(loader: _Loader, node: yaml.Node) -> int:
    text = str(node.value)
    digits = sum(character.isdigit() for character in text)
    if digits > MAX_INTEGER_DIGITS:
        mark = node.start_mark
        raise DefinitionSyntaxError(_long_integer_message(digits), mark.line + 1, mark.column + 1)
    return loader.construct_yaml_int(node)  # type: ignore[arg-type]


def _finite_float(loader: _Loader, node: yaml.Node) -> float:
    value = loader.construct_yaml_float(node)  # type: ignore[arg-type]
    if math.isinf(value) or math.isnan(value):
        mark = node.start_mark
        message = f"The number {node.value} in the definition is not a JSON value"
        raise DefinitionSyntaxError(message, mark.line + 1, mark.column + 1)
    return float(value)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_string)
_Loader.add_constructor("tag:yaml.org,2002:int", _bounded_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _finite_float)


def _load_yaml_or_raise(source: str, json_error: json.JSONDecodeError) -> LoadedDefinition:
    if source.lstrip()[:1] in ("{", "["):
        raise _json_syntax_error(json_error)
    _refuse_runaway_brackets(source)
    try:
        node, data = _compose(source)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        message = f"Invalid YAML: {error.problem or error.context}"
        if mark is None:  # pragma: no cover - PyYAML always marks parse errors
            raise DefinitionSyntaxError(message) from None
        raise DefinitionSyntaxError(message, mark.line + 1, mark.column + 1) from None
    except yaml.reader.ReaderError as error:
        line, column = _line_column(source, error.position)
        message = f"Invalid YAML: unacceptable character #x{error.character:04x}"
        raise DefinitionSyntaxError(message, line, column) from None
    if node is None or not isinstance(data, dict | list):
        # Any stray text is a YAML scalar; the JSON error says more about what went wrong.
        raise _json_syntax_error(json_error)
    positions: dict[str, Position] = {}
    duplicates: list[str] = []
    _yaml_positions(node, "", positions, duplicates)
    return LoadedDefinition(data, positions, tuple(duplicates), "yaml")


_BRACKET: Final = re.compile(r"[\[\]{}]")
_RUNAWAY_BRACKETS: Final = 4 * MAX_NESTING_DEPTH


def _refuse_runaway_brackets(source: str) -> None:
    """Refuse flow brackets nested far past the limit before PyYAML's scanner sees them.

    Its scanner looks up to 1,024 characters ahead for a possible key at every open
    flow level, so ``[[[[…`` a thousand deep costs seconds before the composer's depth
    check is reached. Brackets inside scalars and comments are counted too, hence the
    margin: only text with 512 unclosed brackets is refused here.
    """
    depth = 0
    for match in _BRACKET.finditer(source):
        depth += 1 if match.group() in "[{" else -1
        if depth > _RUNAWAY_BRACKETS:
            line, column = _line_column(source, match.start())
            raise DefinitionSyntaxError(too_deep_message(), line, column)


def _compose(source: str) -> tuple[yaml.Node | None, JSON]:
    loader = _Loader(source)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_expansion(node)
        return node, loader.construct_document(node)
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a document whose aliases expand it past the limits, or refer to themselves.

    Sizes and heights are computed once per composed node (aliases share nodes), so
    this is linear in the text however much the aliases would expand.
    """
    measured: dict[int, tuple[int, int]] = {}  # id(node) → (expanded size, height)
    # ``depth`` bounds the recursion: a path longer than the limit is a too-deep document.
    in_progress: set[int] = set()

    def measure(node: yaml.Node, depth: int) -> tuple[int, int]:
        known = measured.get(id(node))
        if known is not None:
            return known
        if id(node) in in_progress:
            raise _alias_error(node, "A YAML alias refers to a node that contains it")
        if depth > MAX_NESTING_DEPTH:
            raise _alias_error(node, too_deep_message() + " once its YAML aliases are expanded")
        in_progress.add(id(node))
        size, height = 1, 0
        for child in _children(node):
            child_size, child_height = measure(child, depth + 1)
            size, height = size + child_size, max(height, child_height + 1)
            if size > MAX_YAML_NODES:
                raise _alias_error(node, _expansion_message())
        if height > MAX_NESTING_DEPTH:  # a height below any node is one the root has too
            raise _alias_error(node, too_deep_message() + " once its YAML aliases are expanded")
        in_progress.discard(id(node))
        measured[id(node)] = (size, height)
        return size, height

    measure(root, 0)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _expansion_message() -> str:
    return f"The definition's YAML aliases expand it to more than {MAX_YAML_NODES} values"


def _alias_error(node: yaml.Node, message: str) -> DefinitionSyntaxError:
    return DefinitionSyntaxError(message, node.start_mark.line + 1, node.start_mark.column + 1)


def _json_syntax_error(error: json.JSONDecodeError) -> DefinitionSyntaxError:
    """The message and location AWS's JSON reader gives (aws-behaviour L)."""
    found = from_decode_error(error)
    return DefinitionSyntaxError(str(found), error.lineno, error.colno, found.location)


def _yaml_positions(
    node: yaml.Node, path: str, positions: dict[str, Position], duplicates: list[str]
) -> None:
    positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{path}/{escape_token(key)}"
            if key in seen:
                duplicates.append(child)
            seen.add(key)
            _yaml_positions(value_node, child, positions, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _yaml_positions(item, f"{path}/{index}", positions, duplicates)
