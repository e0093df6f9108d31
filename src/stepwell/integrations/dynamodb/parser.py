"""A recursive-descent parser for DynamoDB's expressions, with a cache by text.

Why hand-written: the grammar is tiny (Developer Guide, "Condition and filter expressions,
operators, and functions" and "Update expressions"), and DynamoDB's error messages depend on
exactly which token the parser stopped at, which a hand-written parser reports naturally.
Precedence follows the guide: comparisons, ``IN``, ``BETWEEN`` and functions bind tightest,
then parentheses, ``NOT``, ``AND`` and finally ``OR``; all are left-associative.

Each ``parse_*`` function is cached by ``(text, kind)``: a workflow that runs the same
``ConditionExpression`` a thousand times parses it once. Parsed trees hold placeholders
and are immutable, so sharing them between requests and threads is safe. ``kind`` is the
parameter name that prefixes error messages (``Invalid ConditionExpression: …``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final, NoReturn

from stepwell.integrations.dynamodb.errors import DynamoDBError, validation
from stepwell.integrations.dynamodb.lexer import (
    EOF,
    IDENTIFIER,
    NAME_PLACEHOLDER,
    NUMBER,
    VALUE_PLACEHOLDER,
    Token,
    tokenize,
)
from stepwell.integrations.dynamodb.reserved import is_reserved
from stepwell.integrations.dynamodb.syntax import (
    ALL_FUNCTIONS,
    ARITY,
    CONDITION_FUNCTIONS,
    OPERAND_FUNCTIONS,
    PATH_FIRST,
    UPDATE_FUNCTIONS,
    And,
    Arithmetic,
    Between,
    Call,
    Comparison,
    Condition,
    FunctionTest,
    In,
    Index,
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

COMPARATORS: Final = frozenset({"=", "<>", "<", "<=", ">", ">="})
KEYWORDS: Final = frozenset({"AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE"})
SECTIONS: Final = ("SET", "REMOVE", "ADD", "DELETE")
MAX_IN_OPERANDS: Final = 100


class Parser:
    """Reads one expression; ``kind`` names it in error messages."""

    def __init__(self, source: str, kind: str) -> None:
        if not source.strip():
            raise self.error_for(kind, "The expression can not be empty;")
        self.source = source
        self.kind = kind
        self.tokens = tokenize(source)
        self.position = 0

    @staticmethod
    def error_for(kind: str, detail: str) -> DynamoDBError:
        return validation(f"Invalid {kind}: {detail}")

    def fail(self, detail: str) -> NoReturn:
        raise self.error_for(self.kind, detail)

    # --- token stream ---------------------------------------------------------------------

    @property
    def current(self) -> Token:
        return self.tokens[self.position]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.position + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.current
        self.position = min(self.position + 1, len(self.tokens) - 1)
        return token

    def at_symbol(self, *symbols: str) -> bool:
        token = self.current
        return token.kind == "symbol" and token.text in symbols

    def at_keyword(self, keyword: str) -> bool:
        return self.current.upper() == keyword

    def accept_symbol(self, symbol: str) -> bool:
        if self.at_symbol(symbol):
            self.advance()
            return True
        return False

    def accept_keyword(self, keyword: str) -> bool:
        if self.at_keyword(keyword):
            self.advance()
            return True
        return False

    def expect_symbol(self, symbol: str) -> None:
        if not self.accept_symbol(symbol):
            self.syntax_error()

    def expect_end(self) -> None:
        if self.current.kind != EOF:
            self.syntax_error()

    def syntax_error(self) -> NoReturn:
        """``Syntax error; token: "<bad>", near: "<previous> <bad> <next>"``, as AWS puts it."""
        bad = self.current
        before = self.tokens[self.position - 1] if self.position > 0 else bad
        after = self.peek() if bad.kind != EOF else bad
        near = self.source[before.start : after.end]
        self.fail(f'Syntax error; token: "{bad.text}", near: "{near}"')

    # --- paths ----------------------------------------------------------------------------

    def path(self) -> Path:
        steps: list[Step] = [self.name()]
        while True:
            if self.accept_symbol("."):
                steps.append(self.name())
            elif self.accept_symbol("["):
                steps.append(self.index())
                self.expect_symbol("]")
            else:
                return Path(tuple(steps))

    def name(self) -> Name:
        token = self.current
        if token.kind == NAME_PLACEHOLDER:
            self.advance()
            return Name(token.text, placeholder=True)
        if token.kind != IDENTIFIER or token.upper() in KEYWORDS:
            self.syntax_error()
        if is_reserved(token.text):
            self.fail(f"Attribute name is a reserved keyword; reserved keyword: {token.text}")
        self.advance()
        return Name(token.text)

    def index(self) -> Index:
        if self.current.kind != NUMBER:
            self.syntax_error()
        return Index(int(self.advance().text))

    # --- function calls -------------------------------------------------------------------

    def at_call(self) -> bool:
        return self.current.kind == IDENTIFIER and self.peek().text == "("

    def call(self, allowed: frozenset[str], misuse: str) -> Call:
        """``name(operand, ...)``; a known function not in ``allowed`` gets ``misuse``."""
        name = self.current.text
        if name not in ALL_FUNCTIONS:
            self.fail(f"Invalid function name; function: {name}")
        if name not in allowed:
            self.fail(f"{misuse}; function: {name}")
        self.advance()
        self.expect_symbol("(")
        args = [self.argument()]
        while self.accept_symbol(","):
            args.append(self.argument())
        self.expect_symbol(")")
        return self.checked_call(Call(name, tuple(args)))

    def checked_call(self, call: Call) -> Call:
        if len(call.args) != ARITY[call.name]:
            self.fail(
                "Incorrect number of operands for operator or function; "
                f"operator or function: {call.name}, number of operands: {len(call.args)}"
            )
        if call.name in PATH_FIRST and not isinstance(call.args[0], Path):
            self.fail(
                f"Operator or function requires a document path; operator or function: {call.name}"
            )
        return call

    def argument(self) -> Operand:
        raise NotImplementedError


class ConditionParser(Parser):
    """Condition, filter and key-condition expressions share one grammar."""

    MISUSE: Final = "The function is not allowed to be used this way in an expression"

    def condition(self) -> Condition:
        left = self.conjunction()
        while self.accept_keyword("OR"):
            left = Or(left, self.conjunction())
        return left

    def conjunction(self) -> Condition:
        left = self.negation()
        while self.accept_keyword("AND"):
            left = And(left, self.negation())
        return left

    def negation(self) -> Condition:
        if self.accept_keyword("NOT"):
            return Not(self.negation())
        return self.primary()

    def primary(self) -> Condition:
        if self.accept_symbol("("):
            inner = self.condition()
            self.expect_symbol(")")
            return inner
        if self.at_call() and self.current.text in CONDITION_FUNCTIONS:
            test = FunctionTest(self.call(CONDITION_FUNCTIONS, self.MISUSE))
            if self.at_symbol(*COMPARATORS) or self.at_keyword("BETWEEN") or self.at_keyword("IN"):
                self.fail(f"{self.MISUSE}; function: {test.call.name}")
            return test
        return self.predicate(self.operand())

    def predicate(self, subject: Operand) -> Condition:
        if self.at_symbol(*COMPARATORS):
            operator = self.advance().text
            return Comparison(operator, subject, self.operand())
        if self.accept_keyword("BETWEEN"):
            low = self.operand()
            if not self.accept_keyword("AND"):
                self.syntax_error()
            return Between(subject, low, self.operand())
        if self.accept_keyword("IN"):
            return In(subject, self.options())
        if isinstance(subject, Call):
            self.fail(f"{self.MISUSE}; function: {subject.name}")
        self.syntax_error()

    def options(self) -> tuple[Operand, ...]:
        self.expect_symbol("(")
        options = [self.operand()]
        while self.accept_symbol(","):
            options.append(self.operand())
        self.expect_symbol(")")
        if len(options) > MAX_IN_OPERANDS:
            self.fail(
                "The IN operator is provided with too many operands; "
                f"number of operands: {len(options)}"
            )
        return tuple(options)

    def operand(self) -> Operand:
        if self.current.kind == VALUE_PLACEHOLDER:
            return Placeholder(self.advance().text)
        if self.at_call():
            return self.call(OPERAND_FUNCTIONS, self.MISUSE)
        return self.path()

    def argument(self) -> Operand:
        return self.operand()


class UpdateParser(Parser):
    MISUSE: Final = "The function is not allowed in an update expression"

    def update(self) -> UpdateExpression:
        actions: list[UpdateAction] = []
        seen: set[str] = set()
        while self.current.kind != EOF:
            section = self.current.upper()
            if section not in SECTIONS:
                self.syntax_error()
            if section in seen:
                self.fail(f'The "{section}" section can only be used once in an update expression;')
            seen.add(section)
            self.advance()
            actions.append(self.action(section))
            while self.accept_symbol(","):
                actions.append(self.action(section))
        return UpdateExpression(tuple(actions))

    def action(self, section: str) -> UpdateAction:
        path = self.path()
        if section == "SET":
            self.expect_symbol("=")
            return UpdateAction(section, path, self.set_value())
        if section == "REMOVE":
            return UpdateAction(section, path)
        if self.current.kind != VALUE_PLACEHOLDER:
            self.syntax_error()
        return UpdateAction(section, path, Placeholder(self.advance().text))

    def set_value(self) -> Operand:
        left = self.argument()
        if self.at_symbol("+", "-"):
            operator = self.advance().text
            return Arithmetic(operator, left, self.argument())
        return left

    def argument(self) -> Operand:
        if self.current.kind == VALUE_PLACEHOLDER:
            return Placeholder(self.advance().text)
        if self.at_call():
            return self.call(UPDATE_FUNCTIONS, self.MISUSE)
        return self.path()


class ProjectionParser(Parser):
    def projection(self) -> Projection:
        paths = [self.path()]
        while self.accept_symbol(","):
            paths.append(self.path())
        return Projection(tuple(paths))


@lru_cache(maxsize=1024)
def parse_condition(source: str, kind: str = "ConditionExpression") -> Condition:
    parser = ConditionParser(source, kind)
    condition = parser.condition()
    parser.expect_end()
    return condition


@lru_cache(maxsize=1024)
def parse_update(source: str) -> UpdateExpression:
    parser = UpdateParser(source, "UpdateExpression")
    update = parser.update()
    parser.expect_end()
    return update


@lru_cache(maxsize=1024)
def parse_projection(source: str) -> Projection:
    parser = ProjectionParser(source, "ProjectionExpression")
    projection = parser.projection()
    parser.expect_end()
    return projection
