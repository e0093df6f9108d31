"""JSONPath Choice Rules, compiled into predicates: ``rule.evaluate(data, ctx) -> bool``.

A Choice Rule is a Boolean expression (``And``, ``Or``, ``Not``) or a data-test expression:
a ``Variable`` path and exactly one comparison operator (States Language specification,
"Choice State"; Developer Guide, "Choice workflow state", "Choice Rules (JSONPath)").

Design: everything that depends only on the definition is decided at compile time. The
operator name picks, from a dispatch table, one small test function; constant operands are
checked and converted once (a timestamp becomes an integer key, a ``StringMatches``
pattern becomes literal segments); paths are compiled once. Evaluating a data test is one
path lookup (two for the ``...Path`` operators) and one call of its test function.

Semantics, with their sources:

* A comparison whose values are not both of the operator's type is false, not an error
  (spec: "if the values are not both of the appropriate type ... the comparison will
  return false"). Booleans are not numbers: ``NumericEquals: 1`` does not match ``true``.
* ``IsPresent`` is the only operator that tolerates a ``Variable`` that matches nothing
  (spec, note on IsPresent). For any other operator, and for a ``...Path`` operand that
  matches nothing, the execution fails with ``States.Runtime`` (Developer Guide, Choice
  example note: "If the state input doesn't contain the $.type field, the execution
  fails"). The cause text follows what AWS reports:
  ``Invalid path '$.x': The choice state's condition path references an invalid value.``
  (wording from AWS's console output, not from a document; the interpreter prefixes it
  with the state).
* String ordering is Java's ``String.compareTo`` (Developer Guide links it): UTF-16 code
  units, no case folding or normalisation. Python compares code points; the two differ
  only when a character above U+FFFF meets one in U+E000..U+FFFF, so non-ASCII pairs are
  compared as UTF-16 bytes.
* ``StringMatches``: ``*`` matches any run of characters (also none); ``\\*`` is a literal
  ``*`` and ``\\\\`` a literal backslash; a pattern ending in an open escape is a runtime
  error (spec). A backslash before any other character makes that character literal
  (the spec is silent; not verified against AWS). Matching is done with ``str.find`` on
  the literal segments, so it is linear and cannot backtrack catastrophically.
* Timestamp operators parse both sides (``timestamps.py``); a value that is not a valid
  timestamp makes the comparison false. Instants are compared, so offsets are honoured.
* ``Numeric...`` compares ints and floats exactly, as Python does.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from stepwell.language.errors import RUNTIME, ExpressionSyntaxError, StatesError
from stepwell.language.evaluation import JSON, EvalContext
from stepwell.language.jsonpath import CompiledPath, PathNotFound, compile_path
from stepwell.language.timestamps import TimestampKey, is_timestamp, timestamp_key


class ChoicePredicate(Protocol):
    """A compiled Choice Rule."""

    def evaluate(self, data: JSON, ctx: EvalContext) -> bool: ...


_Test = Callable[[JSON, Any], bool]
"""(value selected by Variable, operand) -> whether the comparison holds."""


# --- compiled rules ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AllOf:
    """``And``: true when every rule is; stops at the first false one."""

    rules: tuple[ChoicePredicate, ...]

    def evaluate(self, data: JSON, ctx: EvalContext) -> bool:
        for rule in self.rules:  # noqa: SIM110 - a loop is faster than all(<generator>)
            if not rule.evaluate(data, ctx):
                return False
        return True


@dataclass(frozen=True, slots=True)
class AnyOf:
    """``Or``: true when some rule is; stops at the first true one."""

    rules: tuple[ChoicePredicate, ...]

    def evaluate(self, data: JSON, ctx: EvalContext) -> bool:
        for rule in self.rules:  # noqa: SIM110 - a loop is faster than any(<generator>)
            if rule.evaluate(data, ctx):
                return True
        return False


@dataclass(frozen=True, slots=True)
class Negation:
    """``Not``: the inverse of one rule."""

    rule: ChoicePredicate

    def evaluate(self, data: JSON, ctx: EvalContext) -> bool:
        return not self.rule.evaluate(data, ctx)


@dataclass(frozen=True, slots=True)
class ConstantTest:
    """``Variable`` compared with an operand written in the definition."""

    variable: CompiledPath
    test: _Test
    operand: Any

    def evaluate(self, data: JSON, ctx: EvalContext) -> bool:
        try:
            value = self.variable.get(data, ctx)
        except PathNotFound:
            raise _invalid_path(self.variable) from None
        return self.test(value, self.operand)


@dataclass(frozen=True, slots=True)
class PathTest:
    """``Variable`` compared with the value another path selects (``...Path`` operators)."""

    variable: CompiledPath
    test: _Test
    operand: CompiledPath

    def evaluate(self, data: JSON, ctx: EvalContext) -> bool:
        try:
            value = self.variable.get(data, ctx)
        except PathNotFound:
            raise _invalid_path(self.variable) from None
        try:
            other = self.operand.get(data, ctx)
        except PathNotFound:
            raise _invalid_path(self.operand) from None
        return self.test(value, other)


@dataclass(frozen=True, slots=True)
class PresenceTest:
    """``IsPresent``: whether ``Variable`` selects anything, compared with ``expected``."""

    variable: CompiledPath
    expected: bool

    def evaluate(self, data: JSON, ctx: EvalContext) -> bool:
        try:
            self.variable.get(data, ctx)
        except PathNotFound:
            return not self.expected
        return self.expected


def _invalid_path(path: CompiledPath) -> StatesError:
    return StatesError(
        RUNTIME,
        f"Invalid path '{path.text}': "
        "The choice state's condition path references an invalid value.",
    )


# --- StringMatches patterns --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Glob:
    """A ``StringMatches`` pattern: literal ``prefix``, ``middle`` and ``suffix`` segments
    separated by unescaped ``*``; ``wildcard`` is False when the pattern has no ``*``."""

    prefix: str
    middle: tuple[str, ...]
    suffix: str
    wildcard: bool

    def matches(self, value: JSON) -> bool:
        if type(value) is not str:
            return False
        if not self.wildcard:
            return value == self.prefix
        end = len(value) - len(self.suffix)
        if end < len(self.prefix) or not value.startswith(self.prefix):
            return False
        if not value.endswith(self.suffix):
            return False
        position = len(self.prefix)
        for segment in self.middle:  # the leftmost placement of each segment is always safe
            found = value.find(segment, position, end)
            if found < 0:
                return False
            position = found + len(segment)
        return True


@dataclass(frozen=True, slots=True)
class _OpenEscape:
    """A pattern ending in a lone backslash: the spec makes evaluating it a runtime error."""

    pattern: str

    def matches(self, value: JSON) -> bool:
        raise StatesError(
            RUNTIME, f"Invalid StringMatches pattern '{self.pattern}': open escape '\\' at end."
        )


def _compile_glob(pattern: str) -> _Glob | _OpenEscape:
    segments: list[str] = []
    literal: list[str] = []
    characters = iter(pattern)
    for character in characters:
        if character == "\\":
            escaped = next(characters, None)
            if escaped is None:
                return _OpenEscape(pattern)
            literal.append(escaped)
        elif character == "*":
            segments.append("".join(literal))
            literal = []
        else:
            literal.append(character)
    segments.append("".join(literal))
    return _Glob(segments[0], tuple(segments[1:-1]), segments[-1], len(segments) > 1)


# --- test functions ----------------------------------------------------------------------

_NUMBERS: Final = frozenset({int, float})  # type() of bool is bool, so booleans are excluded
_UTF16: Final = "utf-16-be"


def _string_equals(value: JSON, operand: JSON) -> bool:
    return type(value) is str and value == operand  # a str never equals a non-str


def _string_ordering(relation: Callable[[Any, Any], bool]) -> _Test:
    def test(value: JSON, operand: JSON) -> bool:
        if type(value) is not str or type(operand) is not str:
            return False
        if value.isascii() or operand.isascii():  # code point order == UTF-16 order here
            return relation(value, operand)
        return relation(
            value.encode(_UTF16, "surrogatepass"), operand.encode(_UTF16, "surrogatepass")
        )

    return test


def _numeric(relation: Callable[[Any, Any], bool]) -> _Test:
    def test(value: JSON, operand: JSON) -> bool:
        return type(value) in _NUMBERS and type(operand) in _NUMBERS and relation(value, operand)

    return test


def _boolean_equals(value: JSON, operand: JSON) -> bool:
    return type(value) is bool and value is operand  # True and False are singletons


def _timestamp_against_key(relation: Callable[[Any, Any], bool]) -> _Test:
    def test(value: JSON, operand_key: TimestampKey) -> bool:
        if type(value) is not str:
            return False
        key = timestamp_key(value)
        return key is not None and relation(key, operand_key)

    return test


def _timestamp_against_value(relation: Callable[[Any, Any], bool]) -> _Test:
    against_key = _timestamp_against_key(relation)

    def test(value: JSON, operand: JSON) -> bool:
        if type(operand) is not str:
            return False
        operand_key = timestamp_key(operand)
        return operand_key is not None and against_key(value, operand_key)

    return test


def _string_matches(value: JSON, pattern: _Glob | _OpenEscape) -> bool:
    return pattern.matches(value)


def _type_check(predicate: Callable[[JSON], bool]) -> _Test:
    def test(value: JSON, expected: bool) -> bool:
        return predicate(value) is expected

    return test


def _is_number(value: JSON) -> bool:
    return type(value) in _NUMBERS


# --- operand conversion (compile time) ---------------------------------------------------


def _string_operand(operator_name: str, operand: JSON) -> str:
    if type(operand) is not str:
        raise _bad_operand(operator_name, "a string", operand)
    return operand


def _number_operand(operator_name: str, operand: JSON) -> int | float:
    if type(operand) not in _NUMBERS:
        raise _bad_operand(operator_name, "a number", operand)
    number: int | float = operand
    return number


def _boolean_operand(operator_name: str, operand: JSON) -> bool:
    if type(operand) is not bool:
        raise _bad_operand(operator_name, "a boolean", operand)
    flag: bool = operand
    return flag


def _timestamp_operand(operator_name: str, operand: JSON) -> TimestampKey:
    key = timestamp_key(operand) if type(operand) is str else None
    if key is None:
        raise _bad_operand(operator_name, "a timestamp such as 2016-03-14T01:59:00Z", operand)
    return key


def _pattern_operand(operator_name: str, operand: JSON) -> _Glob | _OpenEscape:
    return _compile_glob(_string_operand(operator_name, operand))


def _bad_operand(operator_name: str, expected: str, operand: JSON) -> ExpressionSyntaxError:
    return ExpressionSyntaxError(f"{operator_name} needs {expected}, got {operand!r}")


# --- the operator table ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Operator:
    """How one comparison operator compiles: its constant operand and its tests."""

    convert: Callable[[str, JSON], Any]
    """Checks a constant operand and returns what ``test`` receives."""
    test: _Test
    """Compares the Variable's value with the converted constant."""
    test_values: _Test | None
    """Compares the Variable's value with a raw value read by the ``...Path`` variant."""


_RELATIONS: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "GreaterThan": operator.gt,
    "LessThanEquals": operator.le,
    "GreaterThanEquals": operator.ge,
}


def _operator_table() -> dict[str, _Operator]:
    table: dict[str, _Operator] = {}
    for suffix, relation in _RELATIONS.items():
        string_test = _string_equals if suffix == "Equals" else _string_ordering(relation)
        number_test = _numeric(relation)
        table["String" + suffix] = _Operator(_string_operand, string_test, string_test)
        table["Numeric" + suffix] = _Operator(_number_operand, number_test, number_test)
        table["Timestamp" + suffix] = _Operator(
            _timestamp_operand,
            _timestamp_against_key(relation),
            _timestamp_against_value(relation),
        )
    table["BooleanEquals"] = _Operator(_boolean_operand, _boolean_equals, _boolean_equals)
    table["StringMatches"] = _Operator(_pattern_operand, _string_matches, None)
    type_checks: dict[str, Callable[[JSON], bool]] = {
        "IsNull": lambda value: value is None,
        "IsNumeric": _is_number,
        "IsString": lambda value: type(value) is str,
        "IsBoolean": lambda value: type(value) is bool,
        "IsTimestamp": is_timestamp,
    }
    for name, predicate in type_checks.items():
        table[name] = _Operator(_boolean_operand, _type_check(predicate), None)
    return table


_OPERATORS: Final = _operator_table()
_IS_PRESENT: Final = "IsPresent"
_PATH_SUFFIX: Final = "Path"
_PATH_OPERATORS: Final = {
    name + _PATH_SUFFIX: spec for name, spec in _OPERATORS.items() if spec.test_values is not None
}


# --- compilation -------------------------------------------------------------------------


def compile_choice_rule(rule: Mapping[str, JSON]) -> ChoicePredicate:
    """Compile one JSONPath Choice Rule (top-level or nested) into a predicate.

    Fields that are not part of the test (``Next``, ``Assign``, ``Comment``) are ignored.
    Raises ``ExpressionSyntaxError`` for a rule that cannot be compiled: no operator or
    several, an operand of the wrong type, an invalid path.
    """
    if not isinstance(rule, Mapping):
        raise ExpressionSyntaxError(f"a Choice Rule must be a JSON object, got {rule!r}")
    names = [name for name in rule if _is_operator(name)]
    if len(names) != 1:
        found = ", ".join(names) if names else "none"
        raise ExpressionSyntaxError(
            f"a Choice Rule needs exactly one of And, Or, Not or a comparison operator "
            f"(found: {found})"
        )
    name = names[0]
    combinator = _COMBINATORS.get(name)
    if combinator is not None:
        return combinator(name, rule[name])
    return _compile_data_test(rule, name)


def _is_operator(name: str) -> bool:
    return (
        name in _OPERATORS or name in _PATH_OPERATORS or name in _COMBINATORS or name == _IS_PRESENT
    )


def _compile_all_of(name: str, rules: JSON) -> ChoicePredicate:
    return AllOf(_compile_rule_list(name, rules))


def _compile_any_of(name: str, rules: JSON) -> ChoicePredicate:
    return AnyOf(_compile_rule_list(name, rules))


def _compile_negation(name: str, rule: JSON) -> ChoicePredicate:
    return Negation(compile_choice_rule(rule))


def _compile_rule_list(name: str, rules: JSON) -> tuple[ChoicePredicate, ...]:
    if not isinstance(rules, list | tuple) or not rules:
        raise ExpressionSyntaxError(f"{name} needs a non-empty array of Choice Rules")
    return tuple(compile_choice_rule(rule) for rule in rules)


_COMBINATORS: Final[Mapping[str, Callable[[str, JSON], ChoicePredicate]]] = {
    "And": _compile_all_of,
    "Or": _compile_any_of,
    "Not": _compile_negation,
}


def _compile_data_test(rule: Mapping[str, JSON], name: str) -> ChoicePredicate:
    variable = _reference_path("Variable", rule.get("Variable"))
    operand = rule[name]
    if name == _IS_PRESENT:
        return PresenceTest(variable, _boolean_operand(name, operand))
    spec = _OPERATORS.get(name)
    if spec is not None:
        return ConstantTest(variable, spec.test, spec.convert(name, operand))
    test_values = _PATH_OPERATORS[name].test_values
    assert test_values is not None  # _PATH_OPERATORS holds only operators that have one
    return PathTest(variable, test_values, _reference_path(name, operand))


def _reference_path(field: str, text: JSON) -> CompiledPath:
    """``Variable`` and ``...Path`` operands "must be valid Reference Paths" (Developer
    Guide, "Choice Rules (JSONPath)"): one node, no wildcards, filters or slices."""
    if type(text) is not str:
        raise ExpressionSyntaxError(f"{field} needs a Reference Path string, got {text!r}")
    path = compile_path(text)
    if not path.is_reference:
        raise ExpressionSyntaxError(f"{field} must be a Reference Path", text, 0)
    return path
