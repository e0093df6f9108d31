"""JSON syntax errors worded as AWS words them: in the messages of its Java JSON reader.

AWS quotes its parser's message when a definition (ValidateStateMachineDefinition's
``INVALID_JSON_DESCRIPTION``) or an execution input (StartExecution's
``InvalidExecutionInput``) is not JSON, e.g. ``Unrecognized token 'not': was expecting
(JSON String, Number, Array, Object or token 'null', 'true' or 'false')`` with the location
``[Source: (String)"not a definition"; line: 1, column: 4]`` (aws-behaviour K10, L).

Design: Python's decoder finds the error (kind and offset); this module only rewords it.
Each decoder message maps to the Jackson message for the same mistake, and the location
is where Jackson's reader stands when it gives up: after an unrecognized token, after an
unexpected character. A mistake with no known Jackson wording keeps Python's message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

_VALUES: Final = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
_SNIPPET: Final = 500  # Jackson quotes at most this many characters of the source
_TOKEN: Final = 256  # and of an unrecognized token, then "..."
# Python decoder message -> what Jackson expected instead, for an unexpected character.
_EXPECTED: Final = {
    "Expecting property name enclosed in double quotes": "was expecting double-quote to start "
    "field name",
    "Expecting ':' delimiter": "was expecting a colon to separate field name and value",
    "Expecting value": f"expected a valid value {_VALUES}",
}
_CONTAINERS: Final = {"{": "Object", "[": "Array"}


@dataclass(frozen=True, slots=True)
class JsonSyntaxError:
    """A JSON syntax error as Jackson reports it; ``line`` and ``column`` are 1-based."""

    message: str
    """Jackson's message without the location (what StartExecution quotes)."""
    source: str
    line: int
    column: int

    @property
    def location(self) -> str:
        """``[Source: (String)"<text>"; line: L, column: C]``, the text cut at 500."""
        text = self.source[:_SNIPPET]
        cut = len(self.source) - _SNIPPET
        more = f"[truncated {cut} chars]" if cut > 0 else ""
        return f'[Source: (String)"{text}"{more}; line: {self.line}, column: {self.column}]'

    def __str__(self) -> str:
        """The full message, as ValidateStateMachineDefinition shows it."""
        return f"{self.message}\n at {self.location}"


def json_syntax_error(text: str) -> JsonSyntaxError | None:
    """The error in ``text`` as Jackson words it; None when ``text`` is JSON."""
    try:
        json.loads(text, parse_constant=_non_standard)
    except _NonStandard as error:
        return _at(text, text.find(error.name) + len(error.name), error.message)
    except json.JSONDecodeError as error:
        return from_decode_error(error)
    return None


def input_problem(text: str) -> str:
    """What StartExecution quotes of an input that is not JSON (K10): the reader's
    message, not the input; for a blank one, ``Invalid execution input.``"""
    try:
        found = json_syntax_error(text) if text.strip() else None
    except RecursionError:  # deeper than Python's reader goes (orjson stops at 1,024 levels)
        return "Invalid execution input: nested too deeply."
    except ValueError:  # an integer longer than Python converts (4,300 digits)
        return "Invalid execution input: a number is too long."
    # orjson refuses a few texts Python's reader takes (lone surrogates, numbers past a
    # double's range): no Jackson words.
    return found.message if found is not None else "Invalid execution input."


def from_decode_error(error: json.JSONDecodeError) -> JsonSyntaxError:
    """Reword one of Python's decoder errors (which keeps the text it was decoding)."""
    text, pos, kind = error.doc, error.pos, error.msg
    if pos >= len(text) or (kind == "Expecting value" and not text[pos:].strip()):
        return _end_of_input(text)
    char = text[pos]
    if kind == "Expecting value" and (char.isalpha() or char in "_$"):
        token = _token(text, pos)
        shown = token if len(token) < _TOKEN else f"{token}..."
        message = f"Unrecognized token '{shown}': was expecting {_VALUES}"
        return _at(text, pos + len(token), message)
    if kind == "Expecting ',' delimiter":
        opened = _open_container(text, pos)
        what = _CONTAINERS[text[opened]] if opened is not None else "Object"
        return _unexpected(text, pos, f"was expecting comma to separate {what} entries")
    if kind in _EXPECTED:
        return _unexpected(text, pos, _EXPECTED[kind])
    if kind.startswith("Unterminated string"):
        message = "Unexpected end-of-input: was expecting closing quote for a string value"
        return _at(text, len(text), message)
    if kind.startswith("Invalid control character"):
        message = (
            f"Illegal unquoted character ({_describe(char)}): has to be escaped using "
            "backslash to be included in string value"
        )
        return _at(text, pos + 1, message)
    if kind.startswith("Invalid \\escape"):
        escaped = text[pos + 1 : pos + 2]
        message = f"Unrecognized character escape {_describe(escaped)}"
        return _at(text, pos + 2, message)
    return _at(text, pos + 1, kind)


def _end_of_input(text: str) -> JsonSyntaxError:
    opened = _open_container(text, len(text))
    if opened is None:
        return _at(text, len(text), "No content to map due to end-of-input")
    start = _at(text, opened, "")
    kind = _CONTAINERS[text[opened]].upper()
    message = (
        f"Unexpected end-of-input: expected close marker for {kind} (start marker at "
        f"{start.location})"
    )
    return _at(text, len(text), message)


def _unexpected(text: str, pos: int, expected: str) -> JsonSyntaxError:
    return _at(text, pos + 1, f"Unexpected character ({_describe(text[pos])}): {expected}")


def _at(text: str, offset: int, message: str) -> JsonSyntaxError:
    """The error with Jackson's line and column of ``offset`` (the reader's position)."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return JsonSyntaxError(message, text, line, column)


def _token(text: str, pos: int) -> str:
    """The token Jackson quotes: the run of identifier characters from ``pos``."""
    end = pos
    while end < min(len(text), pos + _TOKEN) and (text[end].isalnum() or text[end] in "_$"):
        end += 1
    return text[pos:end]


def _describe(char: str) -> str:
    """Jackson's description of a character: ``'x' (code 120)``, a control character's
    ``(CTRL-CHAR, code 10)``."""
    code = ord(char)
    if code < 32:
        return f"(CTRL-CHAR, code {code})"
    if code > 255:
        return f"'{char}' (code {code} / 0x{code:x})"
    return f"'{char}' (code {code})"


def _open_container(text: str, pos: int) -> int | None:
    """The offset of the bracket (``{`` or ``[``) still open at ``pos``, if any."""
    stack: list[int] = []
    in_string = escaped = False
    for offset, char in enumerate(text[:pos]):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            stack.append(offset)
        elif char in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else None


class _NonStandard(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name
        self.message = (
            f"Non-standard token '{name}': enable JsonParser.Feature.ALLOW_NON_NUMERIC_NUMBERS "
            "to allow"
        )


def _non_standard(name: str) -> None:
    # Python's decoder accepts NaN and Infinity; JSON (and Jackson by default) do not.
    raise _NonStandard(name)
