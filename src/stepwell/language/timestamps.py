"""ASL timestamps: the strings Choice rules compare and Wait states wait until.

The States Language specification ("Timestamps") and the Developer Guide ("Choice
workflow state", "Wait workflow state") define a timestamp as a string that conforms to
the RFC 3339 profile of ISO 8601, with two further restrictions: an uppercase ``T``
separates date and time, and an uppercase ``Z`` stands for UTC when there is no numeric
offset, e.g. ``2016-03-14T01:59:00Z`` or ``2016-03-14T01:59:00.5-07:00``.

Design: one precompiled, anchored, ASCII-only regular expression checks the exact RFC 3339
shape (and the hour, minute, second and offset ranges); ``datetime.fromisoformat``, which is
implemented in C, then does the arithmetic and rejects impossible dates (February 30). On
its own ``fromisoformat`` would be too lenient: it accepts a lowercase ``t``, a space,
missing seconds, basic format. Choice rules compare ``timestamp_key`` values: the aware
``datetime`` plus the nanoseconds a ``datetime`` cannot hold, so comparison is exact and
honours offsets.

Choices made where neither document is explicit (not verified against AWS):

* fractional seconds: 1 to 9 digits (RFC 3339 allows any number; 9 is what Java's
  ISO parsers, which AWS's service very likely uses, accept). ``parse_timestamp``
  truncates to microseconds because ``datetime`` cannot hold more; ``timestamp_key``
  keeps nanoseconds.
* a leap second (``:60``) is rejected, as ``datetime`` cannot represent it.
* ``-00:00`` ("offset unknown" in RFC 3339) is read as UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

# full-date "T" partial-time time-offset (RFC 3339, section 5.6), uppercase T and Z only.
_TIMESTAMP: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}"  # full-date; fromisoformat checks month and day
    r"T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.(\d{1,9}))?"  # "T" partial-time, no leap second
    r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)",  # time-offset
    re.ASCII,  # \d is 0-9 only, not every Unicode digit
)

TimestampKey = tuple[datetime, int]
"""An instant: the aware ``datetime`` (to the microsecond) and the nanoseconds beyond it."""


def parse_timestamp(text: str) -> datetime | None:
    """The aware ``datetime`` that ``text`` denotes, or None if it is not an ASL timestamp.

    Fractional seconds beyond microseconds are truncated.
    """
    if _TIMESTAMP.fullmatch(text) is None:
        return None
    return _from_iso(text)


def timestamp_key(text: str) -> TimestampKey | None:
    """A key that orders timestamps as the instants they denote, or None if ``text`` is
    not an ASL timestamp. Keys of the same instant are equal whatever the offsets."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    moment = _from_iso(text)
    if moment is None:
        return None
    fraction = match.group(1)
    beyond_microseconds = int(fraction[6:].ljust(3, "0")) if fraction and len(fraction) > 6 else 0
    return moment, beyond_microseconds


def is_timestamp(value: object) -> bool:
    """Whether ``value`` is a string holding a valid ASL timestamp (Choice ``IsTimestamp``)."""
    return type(value) is str and parse_timestamp(value) is not None


def format_timestamp(moment: datetime) -> str:
    """``moment`` in UTC with millisecond precision, as AWS writes the context object.

    The Developer Guide ("Accessing execution data from the Context object") shows
    ``"StartTime": "2019-03-26T20:14:13.192Z"``: UTC, ``Z``, milliseconds — and none at all
    when they are zero: "when a timestamp has zero fractional seconds, trailing zeros are
    removed". Sub-millisecond digits are truncated. A naive ``datetime`` is a caller bug.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("format_timestamp needs an aware datetime")
    utc = moment.astimezone(UTC)
    millis = utc.microsecond // 1000
    fraction = f".{millis:03d}" if millis else ""
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}{fraction}Z"
    )


def _from_iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # month 13, February 30, year 0000, ...
        return None
