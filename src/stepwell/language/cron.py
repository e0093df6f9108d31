"""EventBridge schedule expressions, ``cron(...)`` and ``rate(...)``, and their ticks.

EventBridge's cron is not Unix cron (EventBridge User Guide, "Cron expressions
reference"): six fields ``Minutes Hours Day-of-month Month Day-of-week Year``;
day-of-week counts ``SUN=1`` to ``SAT=7``; exactly one of the two day fields is ``?``;
the day fields take Quartz's ``L``, ``W`` and ``#``; and times are UTC. croniter reads
five-field Unix cron, so this is a small evaluator of our own. Each field compiles once
to a sorted tuple of values (the day fields to a rule evaluated per month), and the next
tick is a walk down years → months → days → hours → minutes that starts at the first
candidate and takes the first match: no minute-by-minute scanning.

``rate(N unit)`` ticks every N minutes, hours or days counted from an anchor (the time
the schedule was created), as EventBridge rate rules do.
"""

from __future__ import annotations

import calendar
import re
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

INVALID = "Parameter ScheduleExpression is not valid."
_MONTHS = {
    name: n
    for n, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_UNITS = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}


class ScheduleExpressionError(ValueError):
    """A schedule expression EventBridge would refuse; ``reason`` says which part."""

    def __init__(self, expression: str, reason: str) -> None:
        super().__init__(expression, reason)
        self.expression = expression
        self.reason = reason

    def __str__(self) -> str:
        return f"{INVALID} {self.expression!r}: {self.reason}"


class ScheduleExpression(Protocol):
    @property
    def text(self) -> str: ...

    def next_after(self, moment: float, anchor: float) -> float | None:
        """The first tick strictly after ``moment`` (epoch seconds), or None."""
        ...

    def last_between(self, after: float, until: float, anchor: float) -> float | None:
        """The latest tick ``t`` with ``after < t <= until``, or None."""
        ...


def parse_schedule(text: str) -> ScheduleExpression:
    """``cron(...)`` or ``rate(...)`` → a compiled expression; ScheduleExpressionError."""
    stripped = text.strip()
    if stripped.startswith("cron(") and stripped.endswith(")"):
        return Cron.parse(stripped)
    if stripped.startswith("rate(") and stripped.endswith(")"):
        return Rate.parse(stripped)
    raise ScheduleExpressionError(text, "expected cron(...) or rate(...)")


# --------------------------------------------------------------------- rate


@dataclass(frozen=True, slots=True)
class Rate:
    text: str
    seconds: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        # "If the value is equal to 1, then the unit must be singular. If the value is
        # greater than 1, the unit must be plural." (EventBridge, rate expressions)
        match = re.fullmatch(r"rate\((\d+)\s+(minute|hour|day)(s?)\)", text)
        if match is None:
            raise ScheduleExpressionError(text, "expected rate(value unit)")
        value, unit, plural = int(match[1]), match[2], match[3]
        if value < 1:
            raise ScheduleExpressionError(text, "the value must be a positive integer")
        if (value == 1) == bool(plural):
            raise ScheduleExpressionError(
                text, "the unit is singular for a value of 1 and plural otherwise"
            )
        return cls(text, value * _UNITS[unit])

    def next_after(self, moment: float, anchor: float) -> float | None:
        ticks = max(0, int((moment - anchor) // self.seconds)) + 1
        return anchor + ticks * self.seconds

    def last_between(self, after: float, until: float, anchor: float) -> float | None:
        ticks = int((until - anchor) // self.seconds)
        tick = anchor + ticks * self.seconds
        return tick if ticks >= 1 and tick > after else None


# --------------------------------------------------------------------- cron


@dataclass(frozen=True, slots=True)
class DayRule:
    """Day-of-month or day-of-week, evaluated for one month at a time."""

    field: str  # "month" (day-of-month) or "week" (day-of-week)
    values: frozenset[int] = frozenset()  # plain days (1-31) or weekdays (1-7)
    last: bool = False  # L: the month's last day
    last_weekday: bool = False  # LW: the month's last Monday-to-Friday day
    nearest_weekday: tuple[int, ...] = ()  # nW: the weekday nearest day n
    last_of: tuple[int, ...] = ()  # nL: the last weekday n of the month
    nth: tuple[tuple[int, int], ...] = ()  # n#k: the k-th weekday n of the month

    def days(self, year: int, month: int) -> list[int]:
        length = calendar.monthrange(year, month)[1]
        chosen: set[int] = set()
        if self.field == "month":
            chosen.update(day for day in self.values if day <= length)
            if self.last:
                chosen.add(length)
            if self.last_weekday:
                chosen.add(_nearest_weekday(year, month, length, length))
            chosen.update(
                _nearest_weekday(year, month, day, length)
                for day in self.nearest_weekday
                if day <= length
            )
        else:
            weekdays = [_weekday(year, month, day) for day in range(1, length + 1)]
            chosen.update(d for d in range(1, length + 1) if weekdays[d - 1] in self.values)
            for wanted in self.last_of:
                chosen.add(max(d for d in range(1, length + 1) if weekdays[d - 1] == wanted))
            for wanted, k in self.nth:
                matching = [d for d in range(1, length + 1) if weekdays[d - 1] == wanted]
                if k <= len(matching):
                    chosen.add(matching[k - 1])
        return sorted(chosen)


@dataclass(frozen=True, slots=True)
class Cron:
    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_rule: DayRule
    months: tuple[int, ...]
    years: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> Cron:
        fields = text[len("cron(") : -1].split()
        if len(fields) != 6:
            raise ScheduleExpressionError(text, "a cron expression has six fields")
        minute, hour, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            # "If you specify a value or a * in one of the fields, you must use a ? in
            # the other."
            raise ScheduleExpressionError(
                text, "exactly one of Day-of-month and Day-of-week must be ?"
            )
        try:
            return cls(
                text,
                _values(minute, 0, 59),
                _values(hour, 0, 23),
                _day_of_week(dow) if dom == "?" else _day_of_month(dom),
                _values(month, 1, 12, _MONTHS),
                _values(year, 1970, 2199),
            )
        except ValueError as problem:
            raise ScheduleExpressionError(text, str(problem)) from None

    def next_after(self, moment: float, anchor: float = 0.0) -> float | None:
        found = self.next_datetime(datetime.fromtimestamp(moment, UTC))
        return found.timestamp() if found is not None else None

    def next_datetime(self, moment: datetime) -> datetime | None:
        """The first whole minute strictly after ``moment`` that the expression names."""
        start = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        for year in _from(self.years, start.year):
            first_year = year == start.year
            for month in _from(self.months, start.month if first_year else 1):
                first_month = first_year and month == start.month
                days = tuple(self.day_rule.days(year, month))
                for day in _from(days, start.day if first_month else 1):
                    first_day = first_month and day == start.day
                    for hour in _from(self.hours, start.hour if first_day else 0):
                        first_hour = first_day and hour == start.hour
                        for minute in _from(self.minutes, start.minute if first_hour else 0):
                            return datetime(year, month, day, hour, minute, tzinfo=UTC)
        return None

    def last_between(self, after: float, until: float, anchor: float = 0.0) -> float | None:
        # Look back over a widening window, then walk forward to the window's last tick:
        # a schedule that ticks every minute never walks more than an hour's ticks.
        span = 3600.0
        while True:
            lower = max(after, until - span)
            tick = self.next_after(lower)
            if tick is not None and tick <= until:
                while (following := self.next_after(tick)) is not None and following <= until:
                    tick = following
                return tick
            if lower <= after:
                return None
            span *= 24


def _from(values: tuple[int, ...], floor: int) -> Iterator[int]:
    """The sorted ``values`` from ``floor`` up."""
    yield from values[bisect_left(values, floor) :]


def _weekday(year: int, month: int, day: int) -> int:
    """EventBridge's day-of-week number: SUN=1 … SAT=7."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, day: int, length: int) -> int:
    """``nW``: the Monday-to-Friday day nearest ``day``, never leaving the month."""
    weekday = _weekday(year, month, day)
    if weekday == 7:  # Saturday: the Friday before, or the Monday after the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 1:  # Sunday: the Monday after, or the Friday before the last day
        return day + 1 if day < length else day - 2
    return day


def _number(text: str, low: int, high: int, names: dict[str, int] | None = None) -> int:
    value = (names or {}).get(text.upper())
    if value is None:
        if not text.isdigit():
            raise ValueError(f"{text!r} is not a value between {low} and {high}")
        value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{value} is outside {low}-{high}")
    return value


def _values(text: str, low: int, high: int, names: dict[str, int] | None = None) -> tuple[int, ...]:
    """A plain field: ``*``, ``n``, ``n-m`` (wrapping past the end), ``,`` lists and
    ``/`` increments (``1/10``: every tenth value from 1; ``*/5``; ``n-m/s``)."""
    chosen: set[int] = set()
    for item in text.split(","):
        base, slash, step_text = item.partition("/")
        step = _number(step_text, 1, high - low + 1) if slash else 1
        if base == "*":
            first, last = low, high
        elif "-" in base:
            start, _, end = base.partition("-")
            first, last = _number(start, low, high, names), _number(end, low, high, names)
        else:
            first = _number(base, low, high, names)
            last = high if slash else first
        span = (last - first) % (high - low + 1)
        chosen.update(low + (first - low + k) % (high - low + 1) for k in range(0, span + 1, step))
    return tuple(sorted(chosen))


def _day_of_month(text: str) -> DayRule:
    values: set[int] = set()
    last = last_weekday = False
    nearest: list[int] = []
    for item in text.split(","):
        if item == "L":
            last = True
        elif item == "LW":
            last_weekday = True
        elif item.endswith("W"):
            nearest.append(_number(item[:-1], 1, 31))
        else:
            values.update(_values(item, 1, 31))
    return DayRule("month", frozenset(values), last, last_weekday, tuple(nearest))


def _day_of_week(text: str) -> DayRule:
    if "#" in text:
        # "If you use a '#' character, you can define only one expression in the
        # day-of-week field. For example, "3#1,6#3" is not valid."
        if "," in text:
            raise ValueError("a day-of-week with # takes a single expression")
        day, _, k = text.partition("#")
        nth = ((_number(day, 1, 7, _DAYS), _number(k, 1, 5)),)
        return DayRule("week", nth=nth)
    values: set[int] = set()
    last_of: list[int] = []
    for item in text.split(","):
        if item == "L":  # the last day of the week: Saturday
            values.add(7)
        elif item.endswith("L"):
            last_of.append(_number(item[:-1], 1, 7, _DAYS))
        else:
            values.update(_values(item, 1, 7, _DAYS))
    return DayRule("week", frozenset(values), last_of=tuple(last_of))
