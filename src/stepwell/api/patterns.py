"""Java regular expressions from the service model, translated to Python where safe.

botocore's ``pattern`` traits are Java regexes (AWS validates them with
``java.util.regex.Pattern.matches``, i.e. against the whole value). Python's ``re`` reads
most of that syntax the same way, including possessive quantifiers (3.11+). What it does
not read are Java's POSIX property classes such as ``\\p{ASCII}``: the few with an exact
ASCII meaning are rewritten as character ranges; a pattern using anything else (Unicode
properties like ``\\p{L}``, ``\\Q…\\E`` quoting) or too long to trust is not enforced at
all, because a wrong rejection is worse than a missing one — the service validates names
and ARNs again with precise error types.
"""

from __future__ import annotations

import re
from typing import Final

# Java's POSIX character classes (java.util.regex.Pattern, "POSIX character classes
# (US-ASCII only)"), as the ranges that go between [ and ].
_POSIX_RANGES: Final = {
    "ASCII": r"\x00-\x7F",
    "Lower": "a-z",
    "Upper": "A-Z",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "XDigit": "0-9a-fA-F",
    "Space": r" \t\n\x0B\f\r",
    "Punct": r"!-/:-@\[-`{-~",
    "Graph": r"!-~",
    "Print": r" -~",
    "Blank": r" \t",
    "Cntrl": r"\x00-\x1F\x7F",
}

MAX_PATTERN_LENGTH: Final = 512


def compile_java_pattern(pattern: str | None) -> re.Pattern[str] | None:
    """The Python equivalent of a Java pattern, or None when it cannot be trusted."""
    if not pattern or len(pattern) > MAX_PATTERN_LENGTH:
        return None
    translated = translate_java_pattern(pattern)
    if translated is None:
        return None
    try:
        return re.compile(translated)
    except re.error:
        return None


def translate_java_pattern(pattern: str) -> str | None:
    """Rewrite Java-only syntax; None if the pattern uses something untranslatable."""
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            escaped = pattern[index + 1]
            if escaped in "pP":
                rewritten, index = _property_class(pattern, index, in_class)
                if rewritten is None:
                    return None
                out.append(rewritten)
                continue
            if escaped in "QEGZz":  # \Q..\E quoting and anchors Python spells differently
                return None
            out.append(pattern[index : index + 2])
            index += 2
            continue
        if char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        out.append(char)
        index += 1
    return "".join(out)


def _property_class(pattern: str, index: int, in_class: bool) -> tuple[str | None, int]:
    """Translate ``\\p{Name}`` at ``index``; return the text and the index after it."""
    negated = pattern[index + 1] == "P"
    if index + 2 >= len(pattern) or pattern[index + 2] != "{":
        return None, index
    end = pattern.find("}", index + 3)
    if end < 0:
        return None, index
    ranges = _POSIX_RANGES.get(pattern[index + 3 : end])
    if ranges is None or (negated and in_class):
        return None, index
    if in_class:
        return ranges, end + 1
    return f"[{'^' if negated else ''}{ranges}]", end + 1
