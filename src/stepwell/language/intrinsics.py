"""The 18 intrinsic functions of JSONPath states (``States.Format(...)`` and friends).

Source: Developer Guide, "Intrinsic functions for JSONPath states"
(https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html) and the
States Language specification, "Intrinsic Functions".

Design: ``compile_intrinsic`` parses the call once into a tree of argument evaluators, each a
closure ``(data, ctx) -> JSON``; a function is a row in ``FUNCTIONS`` (arity and an
implementation over already-evaluated arguments), so adding or auditing one is one table
entry. What can be known from the text alone is checked while compiling and raises
``ExpressionSyntaxError``: the grammar, unknown functions, argument counts, escapes, the
number of ``{}`` in a literal ``States.Format`` template, and nesting deeper than AWS's 10.
Everything that depends on data fails at run time with ``States.IntrinsicFailure``; a path
argument that matches nothing fails with ``States.Runtime`` and AWS's cause
("The function '…' had the following error: The JsonPath argument for the field '$.x'
could not be found in the input '…'"). Integers stay ``int`` (``States.MathAdd(1, 2)`` is
``3``); the only entropy comes from ``ctx.random``/``ctx.uuid4``, or from the seed that
``States.MathRandom`` may be given.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from stepwell.language.errors import (
    INTRINSIC_FAILURE,
    RUNTIME,
    ExpressionSyntaxError,
    StatesError,
)
from stepwell.language.evaluation import JSON, EvalContext
from stepwell.language.jsonpath import PathNotFound, compact_json, compile_path, json_equal

__all__ = ["FUNCTIONS", "CompiledIntrinsic", "compile_intrinsic", "is_intrinsic"]

Evaluator = Callable[[JSON, EvalContext], JSON]
Implementation = Callable[[Sequence[JSON], EvalContext], JSON]

MAX_NESTING: Final = 10
""""You can nest up to 10 intrinsic functions within a field in your workflows"."""
MAX_STRING_LENGTH: Final = 10_000
"""Base64Encode, Base64Decode and Hash take strings "of up to 10,000 characters"."""
MAX_RANGE_ITEMS: Final = 1000
"""States.ArrayRange: "The newly generated array can't contain more than 1000 items"."""
_HASH_ALGORITHMS: Final = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}
_CALL_START: Final = re.compile(r"States\.([A-Za-z0-9]+)\(")
_NUMBER: Final = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_ESCAPABLE: Final = frozenset("'{}\\")


class _Failure(Exception):
    """A function rejected its arguments; becomes ``States.IntrinsicFailure``."""


# --------------------------------------------------------------------------- argument checks


def _string(value: JSON, what: str) -> str:
    if not isinstance(value, str):
        raise _Failure(f"{what} must be a string, not {_type_name(value)}")
    return value


def _array(value: JSON, what: str) -> list[JSON]:
    if not isinstance(value, list):
        raise _Failure(f"{what} must be an array, not {_type_name(value)}")
    return value


def _object(value: JSON, what: str) -> dict[str, JSON]:
    if not isinstance(value, dict):
        raise _Failure(f"{what} must be an object, not {_type_name(value)}")
    return value


def _integer(value: JSON, what: str) -> int:
    """An integer; ``2.0`` counts as ``2`` (JSON does not tell them apart)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _Failure(f"{what} must be an integer, not {compact_json(value)}")


def _bounded_string(value: JSON, what: str) -> str:
    text = _string(value, what)
    if len(text) > MAX_STRING_LENGTH:
        raise _Failure(f"{what} must be at most {MAX_STRING_LENGTH} characters long")
    return text


def _type_name(value: JSON) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _natural_string(value: JSON) -> str:
    """How States.Format shows a value (E3): strings bare, scalars as JSON, objects and
    arrays as Java's ``toString`` writes maps and lists: ``{Arg1=1, Arg2=[]}``, ``[a, b]``,
    in the value's own key order, nested alike, strings inside them bare too."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_natural_string(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_natural_string(item) for item in value) + "]"
    return compact_json(value)


def _rounded(value: JSON, what: str) -> int:
    """A number rounded half up to an integer, as Java's ``Math.round`` (``floor(x + 0.5)``):
    States.MathAdd and States.MathRandom accept non-integer arguments (E1, E2)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return math.floor(value + 0.5)
    raise _Failure(f"{what} must be a number, not {compact_json(value)}")


# --------------------------------------------------------------------------- the functions


def _format_with(pieces: Sequence[str], values: Sequence[JSON]) -> str:
    parts = [pieces[0]]
    for value, piece in zip(values, pieces[1:], strict=True):
        parts.append(_natural_string(value))
        parts.append(piece)
    return "".join(parts)


def _format(args: Sequence[JSON], ctx: EvalContext) -> JSON:
    """States.Format with a template only known at run time (from a path or a call)."""
    pieces = _string(args[0], "The format template").split("{}")
    if len(pieces) - 1 != len(args) - 1:
        raise _Failure(
            f"The format template has {len(pieces) - 1} '{{}}' but "
            f"{len(args) - 1} arguments were given"
        )
    return _format_with(pieces, args[1:])


def _string_to_json(args: Sequence[JSON], ctx: EvalContext) -> JSON:
    text = _string(args[0], "The argument")
    if not text.strip():
        return None  # E4: blank text is null on AWS, not a parse error
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise _Failure(f"The argument is not valid JSON: {error.msg}") from None


def _reject_constant(name: str) -> JSON:
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


def _json_to_string(args: Sequence[JSON], ctx: EvalContext) -> JSON:
    return compact_json(args[0])


def _array_of(args: Sequence[JSON], ctx: EvalContext) -> JSON:
    return list(args)


def _array_partition(args: Sequence[JSON], ctx: EvalContext) -> JSON:
    items = _array(args[0], "The first argument")
    size = _integer(args[1], "The chunk size")
    if size <= 0:
        raise _Failure("The chunk size must be a positive integer")
    return [items[i : i + size] for i in range(0, len(items), size)]


def _array_contains(args: Sequence[JSON], ctx: EvalContext) -> JSON:
    items = _array(args[0], "The first argument")
    return any(json_equal(item, args[1]) for item in items)


def _array_range(args: Sequence[JSON], ctx: EvalContext) -> JSON:
    start = _integer(args[0], "The start")
    end = _integer(args[1], "The end")
    step = _integer(args[2], "The step")
    if step == 0:
        raise _Failure("The step must not be 0")
    count = max(0, (end - start) // step + 1)
    if count > MAX_RANGE_ITEMS:
        raise _Failure(f"The range would have {count} items; the maximum is {MAX_RANGE_ITEMS}")
    return [start + i * step for i in range(count)]


def _array_get_item(args: Sequence[JSON], ctx: EvalContext) -> JSON:
    items = _array(args[0], "The first argument")
    index = _integer(args[1], "The index")
    if not 0 <= index < len(items):
        raise _Failure(f"The index {index} is out of bounds for an array of {len(items)}")
    return items[index]


def _array_length(args: Sequence[JSON], ctx: EvalContext) -> JSON:
    return len(_array(args[0], "The argument"))


def _array_unique(args: Sequence[JSON], ctx: EvalContext) -> JSON:
    seen: set[str] = set()
    unique: list[JSON] = []
    for item in _array(args[0], "The argument"):
        key = json.dumps(item, sort_keys=True)  # keeps true and 1, 1 and 1.0 apart
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _base64_encode(args: Sequence[JSON], ctx: EvalContext) -> JSON:
    text = _bounded_string(args[0], "The data to encode")
    return base64.b64encode(text.encode()).decode("ascii")


def _base64_decode(args: Sequence[JSON], ctx: EvalContext) -> JSON:
    text = _bounded_string(args[0], "The data to decode")
    try:
        return base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _Failure("The argument is not Base64-encoded UTF-8 text") from None


def _hash(args: Sequence[JSON], ctx: EvalContext) -> JSON:
    text = _bounded_string(args[0], "The data to hash")
    algorithm = _string(args[1], "The algorithm")
    if algorithm not in _HASH_ALGORITHMS:
        raise _Failure(f"The algorithm '{algorithm}' is not one of {', '.join(_HASH_ALGORITHMS)}")
    return hashlib.new(_HASH_ALGORITHMS[algorithm], text.encode()).hexdigest()


def _json_merge(args: Sequence[JSON], ctx: EvalContext) -> JSON:
    first = _object(args[0], "The first argument")
    second = _object(args[1], "The second argument")
    if args[2] is not False:
        # "Currently, Step Functions only supports the shallow merging mode; therefore,
        # you must specify the boolean value as false."
        raise _Failure("The deep merge argument must be false (only shallow merge is supported)")
    return {**first, **second}


def _math_random(args: Sequence[JSON], ctx: EvalContext) -> JSON:
    """An integer in [start, end); the same seed always gives the same number. Bounds are
    rounded half up first (E2: ``States.MathRandom(12.5, 44.51)`` returns an integer)."""
    start = _rounded(args[0], "The start")
    end = _rounded(args[1], "The end")
    if end <= start:
        raise _Failure("The end must be greater than the start")
    if len(args) == 3:
        return random.Random(_integer(args[2], "The seed")).randrange(start, end)
    return start + int(ctx.random() * (end - start))


def _math_add(args: Sequence[JSON], ctx: EvalContext) -> JSON:
    """E1: each argument is rounded half up before adding (1.49 + 1.5 = 3, -0.5 + 0.5 = 1)."""
    return _rounded(args[0], "The first argument") + _rounded(args[1], "The second argument")


def _string_split(args: Sequence[JSON], ctx: EvalContext) -> JSON:
    """Split at every character of the delimiter; empty pieces are dropped."""
    text = _string(args[0], "The first argument")
    delimiters = _string(args[1], "The delimiter")
    if not delimiters:
        return [text] if text else []
    pattern = "[" + re.escape(delimiters) + "]"
    return [piece for piece in re.split(pattern, text) if piece]


def _uuid(args: Sequence[JSON], ctx: EvalContext) -> JSON:
    return ctx.uuid4()


@dataclass(frozen=True, slots=True)
class Function:
    """One intrinsic: how many arguments it takes and what it does with their values."""

    min_args: int
    max_args: int | None
    implementation: Implementation


FUNCTIONS: Final[dict[str, Function]] = {
    "States.Format": Function(1, None, _format),
    "States.StringToJson": Function(1, 1, _string_to_json),
    "States.JsonToString": Function(1, 1, _json_to_string),
    "States.Array": Function(0, None, _array_of),
    "States.ArrayPartition": Function(2, 2, _array_partition),
    "States.ArrayContains": Function(2, 2, _array_contains),
    "States.ArrayRange": Function(3, 3, _array_range),
    "States.ArrayGetItem": Function(2, 2, _array_get_item),
    "States.ArrayLength": Function(1, 1, _array_length),
    "States.ArrayUnique": Function(1, 1, _array_unique),
    "States.Base64Encode": Function(1, 1, _base64_encode),
    "States.Base64Decode": Function(1, 1, _base64_decode),
    "States.Hash": Function(2, 2, _hash),
    "States.JsonMerge": Function(3, 3, _json_merge),
    "States.MathRandom": Function(2, 3, _math_random),
    "States.MathAdd": Function(2, 2, _math_add),
    "States.StringSplit": Function(2, 2, _string_split),
    "States.UUID": Function(0, 0, _uuid),
}


# --------------------------------------------------------------------------- parser


@dataclass(frozen=True, slots=True)
class _Literal:
    """A literal argument; ``pieces`` is a string split at its unescaped ``{}``."""

    value: JSON
    pieces: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class _Argument:
    evaluate: Evaluator
    literal: _Literal | None = None


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str, position: int | None = None) -> ExpressionSyntaxError:
        where = self.pos if position is None else position
        return ExpressionSyntaxError(message, self.text, min(where, len(self.text)))

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_blanks(self) -> None:
        while self.peek().isspace():
            self.pos += 1

    def parse(self) -> Evaluator:
        call = self.parse_call(depth=1)
        self.skip_blanks()
        if self.pos != len(self.text):
            raise self.error("unexpected text after the function call")
        return call

    def parse_call(self, depth: int) -> Evaluator:
        start = self.pos
        match = _CALL_START.match(self.text, self.pos)
        if match is None:
            raise self.error("expected an intrinsic function such as States.Format(...)")
        if depth > MAX_NESTING:
            raise self.error(f"intrinsic functions nest at most {MAX_NESTING} deep", start)
        name = f"States.{match.group(1)}"
        function = FUNCTIONS.get(name)
        if function is None:
            raise self.error(f"unknown intrinsic function '{name}'", start)
        self.pos = match.end()
        arguments = self.parse_arguments(depth)
        mismatch = _arity_mismatch(function, len(arguments))
        if mismatch:
            raise self.error(f"{name} takes {mismatch}", start)
        if name == "States.Format":
            return self.compile_format(arguments, start)
        return _call(function.implementation, tuple(a.evaluate for a in arguments))

    def parse_arguments(self, depth: int) -> list[_Argument]:
        arguments: list[_Argument] = []
        self.skip_blanks()
        if self.peek() == ")":
            self.pos += 1
            return arguments
        while True:
            arguments.append(self.parse_argument(depth))
            self.skip_blanks()
            if self.peek() == ")":
                self.pos += 1
                return arguments
            if self.peek() != ",":
                raise self.error("expected ',' or ')'")
            self.pos += 1

    def parse_argument(self, depth: int) -> _Argument:
        self.skip_blanks()
        char = self.peek()
        if char == "'":
            literal = self.read_string()
        elif char == "$":
            return _Argument(_path_argument(self.read_path()))
        elif self.text.startswith("States.", self.pos):
            return _Argument(self.parse_call(depth + 1))
        else:
            literal = _Literal(self.read_scalar())
        value = literal.value
        return _Argument(lambda data, ctx: value, literal)

    def read_string(self) -> _Literal:
        """'…' where \\' \\{ \\} \\\\ are escapes; unescaped {} splits the pieces."""
        start = self.pos
        self.pos += 1
        pieces: list[str] = []
        chars: list[str] = []
        while True:
            char = self.peek()
            if char == "":
                raise self.error("unterminated string literal", start)
            self.pos += 1
            if char == "'":
                pieces.append("".join(chars))
                return _Literal("{}".join(pieces), tuple(pieces))
            if char == "\\":
                escaped = self.peek()
                if escaped not in _ESCAPABLE:
                    raise self.error("a backslash may only escape ' { } or \\", self.pos - 1)
                chars.append(escaped)
                self.pos += 1
            elif char == "{" and self.peek() == "}":
                pieces.append("".join(chars))
                chars = []
                self.pos += 1
            else:
                chars.append(char)

    def read_path(self) -> str:
        """A path argument runs to the next ',' or ')' outside brackets and quotes."""
        start = self.pos
        brackets = 0
        quote = ""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if quote:
                if char == "\\":
                    self.pos += 1
                elif char == quote:
                    quote = ""
            elif char in "'\"":
                quote = char
            elif char in "[(":
                brackets += 1
            elif char in "])":
                if brackets == 0:
                    break
                brackets -= 1
            elif char == "," and brackets == 0:
                break
            self.pos += 1
        text = self.text[start : self.pos].rstrip()
        try:
            compile_path(text)
        except ExpressionSyntaxError as error:
            raise self.error(f"invalid path argument: {error.message}", start) from None
        return text

    def read_scalar(self) -> JSON:
        number = _NUMBER.match(self.text, self.pos)
        if number is not None:
            self.pos = number.end()
            text = number.group()
            return float(text) if number.group(1) or number.group(2) else int(text)
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return value
        raise self.error("expected a string, a number, true, false, null, a path or a call")

    def compile_format(self, arguments: list[_Argument], start: int) -> Evaluator:
        template = arguments[0].literal
        values = tuple(a.evaluate for a in arguments[1:])
        if template is None or template.pieces is None:
            return _call(_format, tuple(a.evaluate for a in arguments))
        pieces = template.pieces
        if len(pieces) - 1 != len(values):
            raise self.error(
                f"States.Format: the template has {len(pieces) - 1} '{{}}' but "
                f"{len(values)} arguments follow it",
                start,
            )

        def format_literal(data: JSON, ctx: EvalContext) -> JSON:
            return _format_with(pieces, [value(data, ctx) for value in values])

        return format_literal


def _arity_mismatch(function: Function, count: int) -> str:
    """'' when ``count`` arguments suit ``function``, else what it takes instead."""
    low, high = function.min_args, function.max_args
    if low <= count and (high is None or count <= high):
        return ""
    if high is None:
        expected = f"at least {low}"
    elif high == low:
        expected = str(high)
    else:
        expected = f"{low} to {high}"
    return f"{expected} argument(s), {count} given"


def _call(implementation: Implementation, arguments: tuple[Evaluator, ...]) -> Evaluator:
    def call(data: JSON, ctx: EvalContext) -> JSON:
        return implementation([argument(data, ctx) for argument in arguments], ctx)

    return call


class _ArgumentNotFound(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def _path_argument(text: str) -> Evaluator:
    get = compile_path(text).get

    def read(data: JSON, ctx: EvalContext) -> JSON:
        try:
            return get(data, ctx)
        except PathNotFound:
            raise _ArgumentNotFound(text) from None

    return read


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True, slots=True)
class CompiledIntrinsic:
    """A parsed intrinsic call; ``evaluate(data, ctx)`` runs it."""

    text: str
    _evaluate: Evaluator

    def evaluate(self, data: JSON, ctx: EvalContext) -> JSON:
        try:
            return self._evaluate(data, ctx)
        except _Failure as failure:
            raise StatesError(INTRINSIC_FAILURE, self._cause(str(failure))) from None
        except _ArgumentNotFound as missing:
            detail = (
                f"The JsonPath argument for the field '{missing.path}' could not be found "
                f"in the input '{compact_json(data)}'"
            )
            raise StatesError(RUNTIME, self._cause(detail)) from None

    def __call__(self, data: JSON, ctx: EvalContext) -> JSON:
        return self.evaluate(data, ctx)

    def _cause(self, detail: str) -> str:
        return f"The function '{self.text}' had the following error: {detail}"


def is_intrinsic(text: str) -> bool:
    """Whether ``text`` reads as an intrinsic call (``States.Name(`` at its start)."""
    return isinstance(text, str) and _CALL_START.match(text) is not None


def compile_intrinsic(text: str) -> CompiledIntrinsic:
    """Parse an intrinsic function call; ExpressionSyntaxError if it is malformed."""
    if not isinstance(text, str):
        raise ExpressionSyntaxError(
            f"an intrinsic function must be a string, not {type(text).__name__}"
        )
    return _compile_intrinsic(text)


@functools.lru_cache(maxsize=4096)
def _compile_intrinsic(text: str) -> CompiledIntrinsic:
    return CompiledIntrinsic(text, _Parser(text).parse())
