"""EventBridge schedule expressions: parsing and next ticks.

The expressions and their meanings come from the EventBridge User Guide, "Cron
expressions reference" (its examples table and wildcard rules) and "Rate expressions".
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stepwell.language.cron import Cron, Rate, ScheduleExpressionError, parse_schedule


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ticks(expression: str, start: str, count: int) -> list[str]:
    cron = parse_schedule(expression)
    assert isinstance(cron, Cron)
    found, moment = [], at(start)
    for _ in range(count):
        following = cron.next_datetime(moment)
        assert following is not None
        found.append(following.strftime("%Y-%m-%d %a %H:%M"))
        moment = following
    return found


# The examples table of "Cron expressions reference", each with the ticks it names.
DOCS_EXAMPLES = [
    # Run at 10:00 am (UTC+0) every day
    ("cron(0 10 * * ? *)", "2024-03-01 10:00", ["2024-03-02 Sat 10:00", "2024-03-03 Sun 10:00"]),
    # Run at 12:15 pm (UTC+0) every day
    ("cron(15 12 * * ? *)", "2024-03-01 00:00", ["2024-03-01 Fri 12:15", "2024-03-02 Sat 12:15"]),
    # Run at 6:00 pm (UTC+0) every Monday through Friday
    (
        "cron(0 18 ? * MON-FRI *)",
        "2024-03-01 18:00",
        ["2024-03-04 Mon 18:00", "2024-03-05 Tue 18:00"],
    ),
    # Run at 8:00 am (UTC+0) every first day of the month
    ("cron(0 8 1 * ? *)", "2024-01-15 00:00", ["2024-02-01 Thu 08:00", "2024-03-01 Fri 08:00"]),
    # Run every 15 minutes
    (
        "cron(0/15 * * * ? *)",
        "2024-03-01 23:40",
        ["2024-03-01 Fri 23:45", "2024-03-02 Sat 00:00", "2024-03-02 Sat 00:15"],
    ),
    # Run every 10 minutes Monday through Friday
    (
        "cron(0/10 * ? * MON-FRI *)",
        "2024-03-01 23:55",
        ["2024-03-04 Mon 00:00", "2024-03-04 Mon 00:10"],
    ),
    # Run every 5 minutes Monday through Friday between 8:00 am and 5:55 pm (UTC+0)
    (
        "cron(0/5 8-17 ? * MON-FRI *)",
        "2024-03-04 17:50",
        ["2024-03-04 Mon 17:55", "2024-03-05 Tue 08:00", "2024-03-05 Tue 08:05"],
    ),
    # Run at 9 a.m. (UTC) the first Monday of each month
    (
        "cron(0 9 ? * 2#1 *)",
        "2024-01-01 09:00",
        ["2024-02-05 Mon 09:00", "2024-03-04 Mon 09:00", "2024-04-01 Mon 09:00"],
    ),
]

# The wildcards the reference describes: , - * / ? L W #, names, and the Year field.
WILDCARDS = [
    # "1/10 ... every tenth minute, starting from the first minute of the hour"
    ("cron(1/10 * * * ? *)", "2024-03-01 10:45", ["2024-03-01 Fri 10:51", "2024-03-01 Fri 11:01"]),
    ("cron(*/20 6 * * ? *)", "2024-03-01 06:30", ["2024-03-01 Fri 06:40", "2024-03-02 Sat 06:00"]),
    (
        "cron(0 0-10/5 * * ? *)",
        "2024-03-01 00:00",
        ["2024-03-01 Fri 05:00", "2024-03-01 Fri 10:00"],
    ),
    ("cron(0 12 * JAN,FEB,MAR ? *)", "2024-03-31 12:00", ["2025-01-01 Wed 12:00"]),
    (
        "cron(0 12 1 NOV-FEB ? *)",
        "2024-02-01 12:00",
        ["2024-11-01 Fri 12:00", "2024-12-01 Sun 12:00"],
    ),
    # L in Day-of-month: the last day of the month (2024 is a leap year)
    ("cron(0 0 L * ? *)", "2024-01-31 00:00", ["2024-02-29 Thu 00:00", "2024-03-31 Sun 00:00"]),
    # LW: the last weekday of the month (2024-03-31 is a Sunday)
    ("cron(0 0 LW * ? *)", "2024-03-01 00:00", ["2024-03-29 Fri 00:00", "2024-04-30 Tue 00:00"]),
    # "3W specifies the weekday closest to the third day of the month"
    ("cron(0 0 3W * ? *)", "2024-02-01 00:00", ["2024-02-02 Fri 00:00", "2024-03-04 Mon 00:00"]),
    # 1W never leaves the month: 2024-06-01 is a Saturday, so Monday the 3rd
    ("cron(0 0 1W * ? *)", "2024-05-15 00:00", ["2024-06-03 Mon 00:00"]),
    # 31W on a Sunday the 31st: the Friday before
    ("cron(0 0 31W * ? *)", "2024-03-01 00:00", ["2024-03-29 Fri 00:00", "2024-05-31 Fri 00:00"]),
    # L in Day-of-week: the last day of the week, Saturday
    ("cron(0 0 ? * L *)", "2024-03-01 00:00", ["2024-03-02 Sat 00:00", "2024-03-09 Sat 00:00"]),
    # 6L: the last Friday of the month; the Year field limits it to 2019-2022
    (
        "cron(15 10 ? * 6L 2019-2022)",
        "2022-10-31 00:00",
        ["2022-11-25 Fri 10:15", "2022-12-30 Fri 10:15"],
    ),
    # "3#2 refers to the second Tuesday of the month"
    ("cron(0 0 ? * 3#2 *)", "2024-03-01 00:00", ["2024-03-12 Tue 00:00", "2024-04-09 Tue 00:00"]),
    # a fifth Friday exists only in some months
    ("cron(0 0 ? * FRI#5 *)", "2024-01-01 00:00", ["2024-03-29 Fri 00:00", "2024-05-31 Fri 00:00"]),
    (
        "cron(0 0 ? * SUN,SAT *)",
        "2024-03-01 00:00",
        ["2024-03-02 Sat 00:00", "2024-03-03 Sun 00:00"],
    ),
    (
        "cron(0 0 ? * FRI-MON *)",
        "2024-03-04 00:00",
        ["2024-03-08 Fri 00:00", "2024-03-09 Sat 00:00"],
    ),
    ("cron(30 23 29 2 ? *)", "2024-03-01 00:00", ["2028-02-29 Tue 23:30"]),
    (
        "cron(0 0 1 1 ? 2030/10)",
        "2024-01-01 00:00",
        ["2030-01-01 Tue 00:00", "2040-01-01 Sun 00:00"],
    ),
]


@pytest.mark.parametrize(("expression", "start", "expected"), DOCS_EXAMPLES + WILDCARDS)
def test_next_ticks(expression: str, start: str, expected: list[str]) -> None:
    assert ticks(expression, start, len(expected)) == expected


def test_next_tick_is_strictly_after_and_on_a_whole_minute() -> None:
    cron = parse_schedule("cron(* * * * ? *)")
    assert isinstance(cron, Cron)
    assert cron.next_datetime(at("2024-03-01 10:00:59.5")) == at("2024-03-01 10:01")


def test_no_tick_after_the_last_year() -> None:
    cron = parse_schedule("cron(0 0 1 1 ? 2020)")
    assert cron.next_after(at("2024-01-01 00:00").timestamp(), 0.0) is None
    assert cron.last_between(0.0, at("2024-01-01 00:00").timestamp(), 0.0) == (
        at("2020-01-01 00:00").timestamp()
    )


@pytest.mark.parametrize(
    ("expression", "after", "until", "expected"),
    [
        ("cron(* * * * ? *)", "2024-03-01 10:00", "2024-03-01 10:07:30", "2024-03-01 10:07"),
        # the latest tick lies beyond the first look-back window (an hour)
        ("cron(0 9 ? * MON *)", "2024-01-01 00:00", "2024-03-06 12:00", "2024-03-04 09:00"),
        ("cron(0 0 1 JAN ? *)", "2020-06-01 00:00", "2024-03-06 12:00", "2024-01-01 00:00"),
        ("cron(0 9 ? * MON *)", "2024-03-04 09:00", "2024-03-06 12:00", None),  # fired already
        ("cron(0 0 1 JAN ? *)", "2024-01-02 00:00", "2024-03-06 12:00", None),
    ],
)
def test_last_between(expression: str, after: str, until: str, expected: str | None) -> None:
    found = parse_schedule(expression).last_between(
        at(after).timestamp(), at(until).timestamp(), 0.0
    )
    assert found == (at(expected).timestamp() if expected else None)


def test_rate_ticks_count_from_the_anchor() -> None:
    rate = parse_schedule("rate(5 minutes)")
    assert isinstance(rate, Rate) and rate.seconds == 300
    anchor = 1000.0
    assert rate.next_after(anchor, anchor) == anchor + 300
    assert rate.next_after(anchor + 299, anchor) == anchor + 300
    assert rate.next_after(anchor + 300, anchor) == anchor + 600
    assert rate.next_after(anchor - 50, anchor) == anchor + 300
    assert rate.last_between(anchor, anchor + 299, anchor) is None
    assert rate.last_between(anchor, anchor + 1234, anchor) == anchor + 1200
    assert rate.last_between(anchor + 1200, anchor + 1234, anchor) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        ("rate(7 days)", 604800),
    ],
)
def test_rate_units(text: str, seconds: float) -> None:
    rate = parse_schedule(text)
    assert isinstance(rate, Rate) and rate.seconds == seconds


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("every 5 minutes", "expected cron(...) or rate(...)"),
        ("rate(5 weeks)", "expected rate(value unit)"),
        ("rate(1 minutes)", "singular"),  # "If the value is equal to 1 ... singular"
        ("rate(5 minute)", "plural"),  # "If the value is greater than 1 ... plural"
        ("rate(0 minutes)", "positive"),
        ("cron(0 10 * * ?)", "six fields"),
        ("cron(0 10 * * * *)", "exactly one of Day-of-month and Day-of-week"),
        ("cron(0 10 ? * ? *)", "exactly one of Day-of-month and Day-of-week"),
        ("cron(60 10 * * ? *)", "outside 0-59"),
        ("cron(0 24 * * ? *)", "outside 0-23"),
        ("cron(0 0 32 * ? *)", "outside 1-31"),
        ("cron(0 0 1 13 ? *)", "outside 1-12"),
        ("cron(0 0 ? * 8 *)", "outside 1-7"),
        ("cron(0 0 1 1 ? 2200)", "outside 1970-2199"),
        ("cron(0 0 1 FOO ? *)", "not a value"),
        ("cron(0 0 ? * 3#1,6#3 *)", "single expression"),  # the reference's own example
        ("cron(0 0 ? * 2#6 *)", "outside 1-5"),
        ("cron(0/0 0 * * ? *)", "outside 1-60"),
    ],
)
def test_invalid_expressions(text: str, reason: str) -> None:
    with pytest.raises(ScheduleExpressionError) as raised:
        parse_schedule(text)
    assert reason in raised.value.reason
    assert str(raised.value).startswith("Parameter ScheduleExpression is not valid.")
