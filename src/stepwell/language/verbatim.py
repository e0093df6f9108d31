"""JSON values that remember the text they were sent as (aws-behaviour.md I1, M12).

AWS stores an execution's input as sent: ``ExecutionStarted.input`` and the first
``StateEntered.input`` keep its spacing (``"[[1, 2, 3], [4, 5, 6]]"``), and so does every
later payload that still holds that *unmodified* value, even inside a newly built one (a
Parallel over it outputs ``"[[[[1, 2, 3], [4, 5, 6]]]]"``). Values that are selected out of
it, or built by a state, are written compact.

Design: the value itself carries its text. ``with_text`` returns a ``VerbatimList`` or
``VerbatimDict`` (subclasses of ``list``/``dict`` with one extra slot): everything that
reads JSON sees an ordinary array or object, so the hot path pays nothing. Anything that
changes the value builds a new plain ``list``/``dict`` (the engine never mutates values in
place; ResultPath copies on write), so the text is dropped exactly when the value stops
being the one that was sent. Only ``json_text`` looks at the text: orjson hands subclasses
to ``_default`` (``OPT_PASSTHROUGH_SUBCLASS``), which returns the remembered text as an
``orjson.Fragment``, so serialising stays in C.

Stored between steps (a durable execution waits, a worker restarts), a kept value is
written as ``{STORED_MARK: text}`` (``dump_stored``) and turned back into a kept value
when the state is read (``restore_stored``), so the text survives the store. The mark
cannot be forged: user data may hold any key, so every key of user data that begins like
a mark (``STORED_PREFIX``) is stored escaped and unescaped on reading, and only a mark
``dump_stored`` wrote reads back as one. Checking costs one count over the written bytes;
the escaping walk runs only for states whose data holds such a key (never in practice).
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import orjson

from stepwell.language.evaluation import JSON

__all__ = [
    "STORED_MARK",
    "STORED_PREFIX",
    "VerbatimDict",
    "VerbatimList",
    "compact_json",
    "compact_text",
    "dump_stored",
    "escape_keys",
    "json_text",
    "parse_json",
    "parse_kept",
    "parse_sent_json",
    "restore_stored",
    "with_text",
]

_OPTIONS = orjson.OPT_PASSTHROUGH_SUBCLASS
STORED_PREFIX = "\u0000stepwell:"  # how every key Stepwell adds to stored data begins
STORED_MARK = STORED_PREFIX + "verbatim"  # {STORED_MARK: text}: a kept value
_ESCAPED = STORED_PREFIX + "key:"  # a user's key that begins with STORED_PREFIX, escaped
_PREFIX_BYTES = orjson.dumps(STORED_PREFIX)[:-1]  # the opening quote, no closing one


class VerbatimList(list[Any]):
    """An array that remembers the JSON text it was parsed from."""

    __slots__ = ("text",)
    text: str


class VerbatimDict(dict[str, Any]):
    """An object that remembers the JSON text it was parsed from."""

    __slots__ = ("text",)
    text: str


def with_text(value: JSON, text: str) -> JSON:
    """``value`` (parsed from ``text``) marked to serialise as ``text``, when that differs
    from its compact form; scalars and values ``text`` does not spell are returned as is."""
    if not isinstance(value, list | dict) or isinstance(value, VerbatimList | VerbatimDict):
        return value
    try:
        compact = orjson.dumps(value)
        if compact == text.encode() or orjson.loads(text) != value:
            return value
    except (TypeError, orjson.JSONDecodeError):  # 64-bit overflow, or text is not JSON
        return value
    wrapped: VerbatimList | VerbatimDict = (
        VerbatimList(value) if isinstance(value, list) else VerbatimDict(value)
    )
    wrapped.text = text
    return wrapped


def parse_kept(text: str) -> JSON:
    """``with_text(parse_sent_json(text), text)``, the text read once: a value parsed from
    ``text`` is one ``text`` spells, so only its compact form is compared."""
    value = parse_sent_json(text)
    if not isinstance(value, list | dict):
        return value
    try:
        if orjson.dumps(value) == text.encode():
            return value
    except TypeError:  # 64-bit overflow: as with_text, kept as a plain value
        return value
    wrapped: VerbatimList | VerbatimDict = (
        VerbatimList(value) if isinstance(value, list) else VerbatimDict(value)
    )
    wrapped.text = text
    return wrapped


def json_text(value: JSON) -> str:
    """JSON text of ``value``: compact, except unmodified values that keep their text."""
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS).decode()
    except TypeError:  # integers beyond 64 bits, which orjson refuses
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def compact_json(value: JSON) -> bytes:
    """Compact JSON of ``value`` (kept texts not used), integers beyond 64 bits included.
    orjson refuses those; ``json`` writes them, after one leading space (valid JSON, never
    written by orjson) that tells ``parse_json`` to read the text with ``json`` too."""
    try:
        return orjson.dumps(value)
    except TypeError:  # integers beyond 64 bits, which orjson refuses
        return BIG_INTEGERS + json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


BIG_INTEGERS = b" "  # how compact_json (and dump_execution) mark text orjson cannot read


def parse_json(data: bytes | str) -> JSON:
    """Text ``compact_json`` wrote, parsed: by orjson, or, when it holds integers beyond
    64 bits (which orjson would silently read as floats), by ``json``. One byte is checked,
    so this costs what ``orjson.loads`` does."""
    marked = data[:1] == (BIG_INTEGERS if isinstance(data, bytes) else " ")
    value: JSON = json.loads(data) if marked else orjson.loads(data)
    return value


_LONG_NUMBER = re.compile(r"\d{19}")  # 19 digits: maybe past 64 bits
_LONG_NUMBER_BYTES = re.compile(rb"\d{19}")


def parse_sent_json(data: bytes | str) -> JSON:
    """JSON text a caller sent, parsed exactly: text holding a run of 19 digits anywhere
    (maybe an integer past 64 bits) is read by ``json``, the rest by orjson. The scan
    costs a few times ``orjson.loads``: for texts read once, not for stored state."""
    pattern = _LONG_NUMBER if isinstance(data, str) else _LONG_NUMBER_BYTES
    if pattern.search(data) is None:  # type: ignore[arg-type]
        value: JSON = orjson.loads(data)
    else:
        value = json.loads(data)
    return value


def compact_text(value: JSON) -> bytes | None:
    """``json_text`` of ``value`` as bytes when that is also its compact form (no kept
    text inside): one serialisation serves both the payload size and the history; None
    when a kept text differs from the compact form. Raises TypeError as orjson does."""
    kept: list[bool] = []

    def noting(inner: Any) -> Any:
        kept.append(True)
        return _default(inner)

    text = orjson.dumps(value, default=noting, option=_OPTIONS)
    return None if kept else text


def _default(value: Any) -> Any:
    text = getattr(value, "text", None)
    if text is not None:
        return orjson.Fragment(text)
    if isinstance(value, dict):  # other subclasses: serialise as their base type
        return dict(value)
    if isinstance(value, list):
        return list(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def dump_stored(value: Any, option: int = 0) -> bytes:
    """``value`` as JSON to store: each kept value as ``{STORED_MARK: text}``, and each key
    of user data that begins with ``STORED_PREFIX`` escaped, so that reading it back
    (``restore_stored``) never mistakes user data for a mark."""
    marks = 0

    def default(item: Any) -> Any:
        nonlocal marks
        text = getattr(item, "text", None)
        if text is None:
            return _default(item)
        marks += 1
        return {STORED_MARK: text}

    data = orjson.dumps(value, default=default, option=option | _OPTIONS)
    # Each mark spells the prefix once (a quote inside a string is escaped, so no text
    # does): more means user data holds it, in a key or a string.
    if data.count(_PREFIX_BYTES) == marks:
        return data
    return _dump_escaped(value, option)


def _dump_escaped(value: Any, option: int) -> bytes:
    """``dump_stored`` when user data holds the prefix: written once with a mark no data
    can hold (a random key), read back, its keys escaped and its marks made the usual
    ones, written again."""
    private = f"{STORED_PREFIX}mark:{secrets.token_hex(16)}"

    def default(item: Any) -> Any:
        text = getattr(item, "text", None)
        return _default(item) if text is None else {private: text}

    plain = orjson.loads(orjson.dumps(value, default=default, option=option | _OPTIONS))
    return orjson.dumps(_escaped(plain, private))


def escape_keys(value: Any) -> Any:
    """Plain data (no kept values) with its keys that begin with ``STORED_PREFIX``
    escaped, as ``dump_stored`` writes them (for data stored by other means)."""
    return _escaped(value, None)


def _escaped(value: Any, mark: str | None) -> Any:
    if isinstance(value, dict):
        if mark is not None and len(value) == 1 and mark in value:
            return {STORED_MARK: value[mark]}
        return {
            _ESCAPED + key if _is_ours(key) else key: _escaped(item, mark)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_escaped(item, mark) for item in value]
    return value


def _is_ours(key: Any) -> bool:
    return isinstance(key, str) and key.startswith(STORED_PREFIX)


def restore_stored(raw: Any, data: bytes | bytearray | memoryview | str) -> Any:
    """``raw`` (parsed from ``data``, written by ``dump_stored``) with each mark a kept
    value again and each escaped key as it was; ``raw`` itself when ``data`` holds
    neither (the usual case: no walk at all)."""
    encoded = data.encode() if isinstance(data, str) else bytes(data)
    if _PREFIX_BYTES not in encoded:
        return raw
    return _restored(raw)


def _restored(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get(STORED_MARK), str):
            text = value[STORED_MARK]
            try:
                return with_text(parse_sent_json(text), text)
            except ValueError:  # written before marks were unforgeable: user data
                return {STORED_MARK: text}
        return {
            key.removeprefix(_ESCAPED) if _is_ours(key) else key: _restored(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_restored(item) for item in value]
    return value
