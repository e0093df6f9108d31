"""Tokens of DynamoDB's expression language.

One small regular-expression scanner serves every expression kind. Anything it does not
recognise becomes a one-character ``invalid`` token rather than an exception, so the parser
reports it the way DynamoDB does — ``Syntax error; token: "!", near: "!!"`` — with the
offending token and the source between its neighbours (``Token.span`` makes that cheap).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

IDENTIFIER: Final = "identifier"
NAME_PLACEHOLDER: Final = "name"
VALUE_PLACEHOLDER: Final = "value"
NUMBER: Final = "number"
SYMBOL: Final = "symbol"
INVALID: Final = "invalid"
EOF: Final = "eof"

_TOKEN: Final = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<name>\#[A-Za-z0-9_]+)
    | (?P<value>:[A-Za-z0-9_]+)
    | (?P<identifier>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<number>[0-9]+)
    | (?P<symbol><>|<=|>=|[=<>()\[\],.+-])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    start: int
    end: int

    def upper(self) -> str:
        return self.text.upper() if self.kind == IDENTIFIER else ""


def tokenize(source: str) -> list[Token]:
    """All tokens of ``source``, ending with an ``eof`` token whose text is ``<EOF>``."""
    tokens: list[Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            tokens.append(Token(INVALID, source[position], position, position + 1))
            position += 1
            continue
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            tokens.append(Token(kind, match.group(), match.start(), match.end()))
        position = match.end()
    tokens.append(Token(EOF, "<EOF>", len(source), len(source)))
    return tokens
