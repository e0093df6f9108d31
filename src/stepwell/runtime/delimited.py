"""Text delimited files as the ItemReader reads them (Developer Guide, "How Step Functions
parses input CSV files").

The guide's rules differ from RFC 4180 (Python's ``csv``) in three ways, so they are
written out here: doubled double quotes stand for one double quote *anywhere*, also in a
field that is not quoted (the guide's example ``{""MyKey"":""MyValue""}`` reads as
``{"MyKey":"MyValue"}``); a backslash makes the next backslash, double quote or delimiter
literal, and "a backslash followed by any other character is silently removed"; a row
shorter than the header gets empty strings for the missing values, a longer one loses its
extra fields. Newlines separate records unless quoted; empty lines are skipped.
"""

from __future__ import annotations

_QUOTE = '"'
_BACKSLASH = "\\"
_NEWLINES = "\r\n"


def records(text: str, delimiter: str) -> list[list[str]]:
    """The file's records, each a list of its fields, empty lines left out."""
    if _QUOTE not in text and _BACKSLASH not in text:  # the common case, quickly
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        return [line.split(delimiter) for line in lines if line]
    return _Reader(text, delimiter).read()


def rows_as_objects(rows: list[list[str]], headers: list[str]) -> list[dict[str, str]]:
    """Each row keyed by the headers: missing values are "", extra fields are dropped."""
    width = len(headers)
    return [dict(zip(headers, [*row, *[""] * (width - len(row))], strict=False)) for row in rows]


class _Reader:
    def __init__(self, text: str, delimiter: str) -> None:
        self.text = text
        self.delimiter = delimiter
        self.found: list[list[str]] = []
        self.row: list[str] = []
        self.field: list[str] = []
        self.started = False  # the field has content (or an opening quote) so far

    def read(self) -> list[list[str]]:
        text, at, quoted = self.text, 0, False
        while at < len(text):
            char = text[at]
            following = text[at + 1] if at + 1 < len(text) else ""
            if char == _BACKSLASH:
                if following in (_BACKSLASH, _QUOTE, self.delimiter):
                    self._add(following)
                    at += 2
                else:
                    at += 1  # removed; the next character is read as usual
                continue
            if char == _QUOTE:
                if following == _QUOTE and (quoted or self.started):
                    self._add(_QUOTE)  # "" is one double quote
                    at += 2
                    continue
                quoted, self.started = not quoted, True
            elif quoted:
                self._add(char)
            elif char == self.delimiter:
                self._end_field()
            elif char in _NEWLINES:
                self._end_record()
                if char == "\r" and following == "\n":
                    at += 1
            else:
                self._add(char)
            at += 1
        self._end_record()
        return self.found

    def _add(self, char: str) -> None:
        self.field.append(char)
        self.started = True

    def _end_field(self) -> None:
        self.row.append("".join(self.field))
        self.field, self.started = [], False

    def _end_record(self) -> None:
        if self.row or self.field or self.started:
            self._end_field()
            self.found.append(self.row)
        self.row = []
