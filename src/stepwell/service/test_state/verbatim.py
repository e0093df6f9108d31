"""JSON text as the caller wrote it (aws-behaviour M12, I1).

AWS keeps the raw text of a value it did not change: a mock result ``"[1, 1, 1]"`` comes
back as ``output`` ``"[1, 1, 1]"``, and a value selected unchanged from the input or a
supplied context keeps its spacing, even inside a newly built array or object.

Design decision: no JSON parser of our own. The standard library's pure-Python scanner
is driven with its own object and array parsers wrapped to remember the source span of
every container they build; the span is keyed by the container's identity, which the
engine keeps when it passes a value through unchanged. Writing a value then emits a
remembered span for every container that is still equal to what it was parsed from,
and compact JSON for everything else.
"""

from __future__ import annotations

import json.decoder
import json.scanner
from typing import Any

import orjson

from stepwell.engine.history import to_json_text
from stepwell.language.evaluation import JSON

# The standard library's pure-Python JSON scanner and parts (untyped in typeshed).
_decoder: Any = json.decoder
_scanner: Any = json.scanner


class VerbatimTexts:
    """The source texts of the containers parsed from the caller's JSON strings."""

    def __init__(self) -> None:
        self._spans: dict[int, tuple[Any, str]] = {}

    def parse(self, text: str) -> JSON:
        """Parse ``text`` (already known to be valid JSON) and remember its spans."""
        value = _Scanner(text, self._spans).scan()
        return value

    def text(self, value: JSON) -> str:
        """``value`` as JSON text, with remembered spans where the value is unchanged."""
        if not self._spans:
            return to_json_text(value)
        return "".join(self._write(value))

    def _write(self, value: JSON) -> Any:
        if isinstance(value, dict | list):
            remembered = self._spans.get(id(value))
            if remembered is not None and remembered[0] is value:
                span = remembered[1]
                if orjson.loads(span) == value:
                    yield span
                    return
            if isinstance(value, list):
                yield "["
                for index, item in enumerate(value):
                    if index:
                        yield ","
                    yield from self._write(item)
                yield "]"
                return
            yield "{"
            for index, (key, item) in enumerate(value.items()):
                if index:
                    yield ","
                yield to_json_text(key)
                yield ":"
                yield from self._write(item)
            yield "}"
            return
        yield to_json_text(value)


class _Scanner:
    """The stdlib scanner with span-recording object and array parsers."""

    def __init__(self, text: str, spans: dict[int, tuple[Any, str]]) -> None:
        self.text = text
        self.spans = spans
        self.strict = True
        self.object_hook = None
        self.object_pairs_hook = None
        self.parse_float = float
        self.parse_int = int
        self.parse_constant = _decoder._CONSTANTS.__getitem__
        self.parse_string = _decoder.scanstring
        self.memo: dict[str, str] = {}
        self.parse_object = self._object
        self.parse_array = self._array
        self.scan_once = _scanner.py_make_scanner(self)

    def scan(self) -> JSON:
        start = _decoder.WHITESPACE.match(self.text, 0).end()
        value, _ = self.scan_once(self.text, start)
        return value

    def _remember(self, value: Any, start: int, end: int) -> None:
        self.spans[id(value)] = (value, self.text[start:end])

    def _object(self, s_and_end: tuple[str, int], *args: Any) -> tuple[Any, int]:
        value, end = _decoder.JSONObject(s_and_end, *args)
        self._remember(value, s_and_end[1] - 1, end)
        return value, end

    def _array(self, s_and_end: tuple[str, int], scan_once: Any) -> tuple[Any, int]:
        value, end = _decoder.JSONArray(s_and_end, scan_once)
        self._remember(value, s_and_end[1] - 1, end)
        return value, end
