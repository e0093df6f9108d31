"""JSON syntax errors in the words of AWS's JSON reader (aws-behaviour K10, L)."""

from __future__ import annotations

import pytest

from stepwell.language.json_errors import input_problem, json_syntax_error

VALUES = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
CASES = [
    ("not a definition", f"Unrecognized token 'not': was expecting {VALUES}", 1, 4),
    ("{'not': 'json'}",
     "Unexpected character (''' (code 39)): was expecting double-quote to start field name", 1, 3),
    ('{"a": tru}', f"Unrecognized token 'tru': was expecting {VALUES}", 1, 10),
    ("", "No content to map due to end-of-input", 1, 1),
    ('{"a" 1}',
     "Unexpected character ('1' (code 49)): was expecting a colon to separate field name and value",
     1, 7),
    ('{"a": 1 "b": 2}',
     "Unexpected character ('\"' (code 34)): was expecting comma to separate Object entries",
     1, 10),
    ("[1 2]", "Unexpected character ('2' (code 50)): was expecting comma to separate Array entries",
     1, 5),
    ("[1,]", f"Unexpected character (']' (code 93)): expected a valid value {VALUES}", 1, 5),
    ("\n  #", f"Unexpected character ('#' (code 35)): expected a valid value {VALUES}", 2, 4),
    ('{"a": 1', "Unexpected end-of-input: expected close marker for OBJECT (start marker at "
     '[Source: (String)"{"a": 1"; line: 1, column: 1])', 1, 8),
    ('"abc', "Unexpected end-of-input: was expecting closing quote for a string value", 1, 5),
    ('"a\tb"', "Illegal unquoted character ((CTRL-CHAR, code 9)): has to be escaped using "
     "backslash to be included in string value", 1, 4),
    ('"\\q"', "Unrecognized character escape 'q' (code 113)", 1, 4),
    ('["\u20ac" 1]', "Unexpected character ('1' (code 49)): was expecting comma to separate "
     "Array entries", 1, 7),
    ("\u20ac", "Unexpected character ('\u20ac' (code 8364 / 0x20ac)): expected a valid value "
     f"{VALUES}", 1, 2),
    ('{"a": NaN}', "Non-standard token 'NaN': enable JsonParser.Feature."
     "ALLOW_NON_NUMERIC_NUMBERS to allow", 1, 10),
    ('{"k\\"": [[1] 2]}', "Unexpected character ('2' (code 50)): was expecting comma to "
     "separate Array entries", 1, 15),
    ("{} x", "Extra data", 1, 5),  # no known Jackson words: Python's
]  # fmt: skip


@pytest.mark.parametrize(("text", "message", "line", "column"), CASES)
def test_jackson_messages(text: str, message: str, line: int, column: int) -> None:
    found = json_syntax_error(text)
    assert found is not None
    assert (found.message, found.line, found.column) == (message, line, column)
    assert found.location == f'[Source: (String)"{text}"; line: {line}, column: {column}]'
    assert str(found) == f"{message}\n at {found.location}"


def test_valid_json_has_no_error() -> None:
    assert json_syntax_error('{"a": [1, "}"]}') is None


def test_long_sources_and_tokens_are_cut_as_jackson_cuts_them() -> None:
    found = json_syntax_error("x" * 600)
    assert found is not None
    assert found.message == f"Unrecognized token '{'x' * 256}...': was expecting {VALUES}"
    assert (
        found.location
        == f'[Source: (String)"{"x" * 500}"[truncated 100 chars]; line: 1, column: 257]'
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "Invalid execution input."),  # K10
        ("  ", "Invalid execution input."),
        ("not some json", f"Unrecognized token 'not': was expecting {VALUES}"),
        ('"\ud800"', "Invalid execution input."),  # Python reads it; orjson does not
    ],
)
def test_K10_input_problem(text: str, problem: str) -> None:
    assert input_problem(text) == problem
