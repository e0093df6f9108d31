"""ASL timestamps: States Language spec "Timestamps", Developer Guide "Choice workflow state"
and "Wait workflow state" (RFC 3339 profile of ISO 8601, uppercase T, uppercase Z)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from stepwell.language.timestamps import (
    format_timestamp,
    is_timestamp,
    parse_timestamp,
    timestamp_key,
)

PLUS_0530 = timezone(timedelta(hours=5, minutes=30))
MINUS_0700 = timezone(timedelta(hours=-7))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2016-03-14T01:59:00Z", datetime(2016, 3, 14, 1, 59, tzinfo=UTC)),
        ("2016-08-18T17:33:00Z", datetime(2016, 8, 18, 17, 33, tzinfo=UTC)),
        ("2001-01-01T12:00:00.5Z", datetime(2001, 1, 1, 12, 0, 0, 500_000, tzinfo=UTC)),
        ("2001-01-01T12:00:00.123Z", datetime(2001, 1, 1, 12, 0, 0, 123_000, tzinfo=UTC)),
        ("2001-01-01T12:00:00.123456Z", datetime(2001, 1, 1, 12, 0, 0, 123_456, tzinfo=UTC)),
        # Beyond microseconds the datetime truncates; timestamp_key keeps nanoseconds.
        ("2001-01-01T12:00:00.123456789Z", datetime(2001, 1, 1, 12, 0, 0, 123_456, tzinfo=UTC)),
        ("2016-03-14T01:59:00+05:30", datetime(2016, 3, 14, 1, 59, tzinfo=PLUS_0530)),
        ("2016-03-14T01:59:00-07:00", datetime(2016, 3, 14, 1, 59, tzinfo=MINUS_0700)),
        ("2016-03-14T01:59:00+00:00", datetime(2016, 3, 14, 1, 59, tzinfo=UTC)),
        ("2016-03-14T01:59:00-00:00", datetime(2016, 3, 14, 1, 59, tzinfo=UTC)),
        ("2024-02-29T23:59:59Z", datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
        ("9999-12-31T23:59:59.999999Z", datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)),
    ],
)
def test_parse_valid_timestamp(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() == expected.utcoffset()
    assert is_timestamp(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2016-03-14",  # a date alone
        "01:59:00Z",  # a time alone
        "2016-03-14t01:59:00Z",  # lowercase t (spec: uppercase T MUST separate)
        "2016-03-14T01:59:00z",  # lowercase z
        "2016-03-14 01:59:00Z",  # space separator (RFC 3339 allows it, ASL does not)
        "2016-03-14T01:59:00",  # no offset at all
        "2016-03-14T01:59Z",  # no seconds
        "2016-03-14T01:59:00.Z",  # a dot without digits
        "2016-03-14T01:59:00.1234567891Z",  # ten fractional digits
        "2016-03-14T01:59:00,5Z",  # comma decimal separator (ISO 8601 only)
        "2016-03-14T01:59:00+0530",  # offset without colon
        "2016-03-14T01:59:00+05",  # offset without minutes
        "2016-03-14T01:59:00+24:00",  # offset hour out of range
        "2016-03-14T01:59:00+05:60",  # offset minute out of range
        "20160314T015900Z",  # ISO 8601 basic format
        "2016-3-14T01:59:00Z",  # one-digit month
        "2016-13-14T01:59:00Z",  # month 13
        "2016-00-14T01:59:00Z",  # month 0
        "2016-02-30T01:59:00Z",  # February 30
        "2023-02-29T01:59:00Z",  # not a leap year
        "2016-03-00T01:59:00Z",  # day 0
        "0000-01-01T00:00:00Z",  # year 0
        "2016-03-14T24:00:00Z",  # hour 24
        "2016-03-14T01:60:00Z",  # minute 60
        "2016-03-14T23:59:60Z",  # leap second: not representable, rejected
        "2016-03-14T01:59:00Z ",  # trailing space
        " 2016-03-14T01:59:00Z",  # leading space
        "2016-03-14T01:59:00Z\n",  # trailing newline ($ would have allowed it)
        "\uff12\uff10\uff11\uff16-03-14T01:59:00Z",  # fullwidth digits are not ASCII digits
        "12016-03-14T01:59:00Z",  # five-digit year
    ],
)
def test_invalid_timestamp_is_none(text: str) -> None:
    assert parse_timestamp(text) is None
    assert timestamp_key(text) is None
    assert not is_timestamp(text)


@pytest.mark.parametrize("value", [None, 20160314, 1.5, True, ["2016-03-14T01:59:00Z"], {}])
def test_is_timestamp_is_false_for_non_strings(value: object) -> None:
    assert not is_timestamp(value)


def test_key_orders_instants() -> None:
    keys = [
        timestamp_key(text)
        for text in [
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:00:00Z",
            "1970-01-01T00:00:00.000000001Z",
            "1970-01-01T00:00:00.000001Z",
            "1970-01-01T01:00:00.5+01:00",
            "2016-03-14T01:59:00Z",
        ]
    ]
    assert all(key is not None for key in keys)
    assert keys == sorted(keys)  # type: ignore[type-var]
    assert len(set(keys)) == len(keys)


def test_key_keeps_precision_beyond_microseconds() -> None:
    first = timestamp_key("2016-03-14T01:59:00.0000001Z")
    second = timestamp_key("2016-03-14T01:59:00.0000002Z")
    assert first is not None and second is not None
    assert first < second
    assert first[1] == 100 and second[1] == 200


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("2016-03-14T01:59:00Z", "2016-03-14T07:29:00+05:30"),
        ("2016-03-14T01:59:00Z", "2016-03-13T18:59:00-07:00"),
        ("2016-03-14T01:59:00.5Z", "2016-03-14T01:59:00.500000000Z"),
        ("2016-12-31T23:30:00-01:00", "2017-01-01T00:30:00Z"),
    ],
)
def test_key_compares_instants_across_offsets(first: str, second: str) -> None:
    assert timestamp_key(first) == timestamp_key(second)


def test_key_below_year_one_in_utc_does_not_overflow() -> None:
    # 0001-01-01T00:00:00+01:00 is 0000-12-31T23:00:00Z, outside datetime's range.
    early = timestamp_key("0001-01-01T00:00:00+01:00")
    midnight = timestamp_key("0001-01-01T00:00:00Z")
    assert early is not None and midnight is not None
    assert early < midnight


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # Developer Guide, "Accessing execution data from the Context object":
        # "StartTime": "2019-03-26T20:14:13.192Z".
        (datetime(2019, 3, 26, 20, 14, 13, 192_000, tzinfo=UTC), "2019-03-26T20:14:13.192Z"),
        # ... and "trailing zeros are removed" for zero fractional seconds.
        (datetime(2019, 3, 26, 20, 14, 13, tzinfo=UTC), "2019-03-26T20:14:13Z"),
        (datetime(2019, 3, 26, 20, 14, 13, 192_999, tzinfo=UTC), "2019-03-26T20:14:13.192Z"),
        (datetime(2019, 3, 27, 1, 44, 13, 5_000, tzinfo=PLUS_0530), "2019-03-26T20:14:13.005Z"),
        (datetime(5, 1, 2, 3, 4, 5, tzinfo=UTC), "0005-01-02T03:04:05Z"),
    ],
)
def test_format_timestamp(moment: datetime, expected: str) -> None:
    assert format_timestamp(moment) == expected


def test_format_then_parse_round_trips_milliseconds() -> None:
    moment = datetime(2024, 1, 1, 12, 0, 0, 123_000, tzinfo=UTC)
    assert parse_timestamp(format_timestamp(moment)) == moment


def test_format_rejects_naive_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        format_timestamp(datetime(2024, 1, 1))
