"""Office-day arithmetic: the one module for business-day math (CONVENTIONS 9, DESIGN §7).

Closed days are Saturdays, Sundays and every `ClosedDay` row (national holidays and the municipal
year-end closure 12/29–1/3, seeded by `seed_calendar`, plus one-off closures the admin adds).

The deadline rule for "N office days": a request made on an office day before the close of office
hours (`settings.OFFICE_CLOSE_TIME`, 17:15 JST) counts from that day, otherwise from the next office
day; the deadline is the close of office hours on the Nth office day after that day.

The closed days are cached per process. Every ORM write to `ClosedDay` leaves a history row, so the
largest history id is the table's version: a process re-reads the table when that changes (checked at
most every `VERSION_CHECK_SECONDS`), and the process that made the change drops its cache at once.
"""

from __future__ import annotations

import threading
import time as _time
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import jpholiday
from django.conf import settings
from django.utils import timezone

VERSION_CHECK_SECONDS = 5.0
YEAR_END_CLOSURE = ((12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3))


def office_tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


@lru_cache(maxsize=8)
def _parse_close(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def office_close_time() -> time:
    return _parse_close(settings.OFFICE_CLOSE_TIME)


# --- The closed-day cache -------------------------------------------------------------------------


class _ClosedDayCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dates: frozenset[date] | None = None
        self._version: int | None = None
        self._checked_at = 0.0

    def invalidate(self) -> None:
        with self._lock:
            self._dates = None
            self._version = None
            self._checked_at = 0.0

    def get(self) -> frozenset[date]:
        from referral_engine.timers.models import ClosedDay

        now = _time.monotonic()
        with self._lock:
            if self._dates is not None and now - self._checked_at < VERSION_CHECK_SECONDS:
                return self._dates
        version = _table_version()
        with self._lock:
            if self._dates is not None and version == self._version:
                self._checked_at = now
                return self._dates
        dates = frozenset(ClosedDay.objects.values_list("date", flat=True))
        with self._lock:
            self._dates, self._version, self._checked_at = dates, version, now
        return dates


def _table_version() -> int:
    from django.db.models import Max

    from referral_engine.timers.models import ClosedDay

    return ClosedDay.history.aggregate(v=Max("history_id"))["v"] or 0


_cache = _ClosedDayCache()


def closed_dates() -> frozenset[date]:
    """The ClosedDay dates (weekends are not in it), cached per process."""
    return _cache.get()


def invalidate_cache() -> None:
    _cache.invalidate()
    _prepared.cache_clear()


# --- Pure arithmetic (every function takes the closed set, so tests can pass their own) ---------
#
# One implementation: `OfficeDays` holds the office days of a bounded range as a sorted list and
# answers with a binary search. The module's functions ask one prepared for the closed set and the
# years from the question on (kept per process); a bulk writer that schedules millions of deadlines
# (the load generator) prepares its own over the range it needs and asks it directly.


def is_office_day(day: date, closed: frozenset[date] | None = None) -> bool:
    closed = closed_dates() if closed is None else closed
    return day.weekday() < 5 and day not in closed


@dataclass(frozen=True)
class Duration:
    """How long a rule allows: office days by the deadline rule, then calendar days and hours
    round the clock (an urgent handoff: 4 hours, nights and holidays included)."""

    office_days: int = 0
    calendar_days: int = 0
    hours: int = 0

    @property
    def uses_office_days(self) -> bool:
        return self.office_days > 0 or (self.calendar_days == 0 and self.hours == 0)


class BeyondRange(ValueError):
    """The answer lies after the last day an `OfficeDays` was prepared for."""


class OfficeDays:
    """The office days of `first` … `last` (given the closed days), read once from the settings'
    time zone and close of office hours. Days are kept as ordinals; every question is a bisection."""

    def __init__(self, closed: frozenset[date], first: date, last: date) -> None:
        self.tz = office_tz()
        self.close = office_close_time()
        self.first, self.last = first, last
        days, day = [], first
        while day <= last:
            if is_office_day(day, closed):
                days.append(day.toordinal())
            day += timedelta(days=1)
        self._days = days
        self._office = frozenset(days)
        self._closes: dict[int, datetime] = {}

    # On ordinals (the generator's hot path stays on these).
    def _ordinal(self, day: date) -> int:
        if not (self.first <= day <= self.last):
            raise ValueError(f"{day} is outside the prepared office days ({self.first} … {self.last})")
        return day.toordinal()

    def _nth_after(self, ordinal: int, n: int) -> int:
        if n <= 0:
            return ordinal
        i = bisect_right(self._days, ordinal) + n - 1
        if i >= len(self._days):
            raise BeyondRange(f"{n} office day(s) after {date.fromordinal(ordinal)} fall after {self.last}")
        return self._days[i]

    def _counting(self, moment: datetime) -> int:
        if moment.tzinfo is None:
            raise ValueError("office-day arithmetic needs an aware datetime")
        local = moment.astimezone(self.tz)
        day = local.date()
        if not (self.first <= day <= self.last):
            raise ValueError(f"{day} is outside the prepared office days ({self.first} … {self.last})")
        ordinal = day.toordinal()
        if ordinal in self._office and local.time() < self.close:
            return ordinal
        days = self._days
        i = bisect_right(days, ordinal)
        if i >= len(days):
            raise BeyondRange(f"the office day after {day} falls after {self.last}")
        return days[i]

    def _close_of(self, ordinal: int) -> datetime:
        found = self._closes.get(ordinal)
        if found is None:
            found = datetime.combine(date.fromordinal(ordinal), self.close, tzinfo=self.tz)
            self._closes[ordinal] = found
        return found

    # The questions.
    def nth_office_day_after(self, day: date, n: int) -> date:
        """The Nth office day after `day` (n=0: `day` itself)."""
        return date.fromordinal(self._nth_after(self._ordinal(day), n))

    def counting_day(self, moment: datetime) -> date:
        """The office day a request made at `moment` counts from: its own day if that is an office
        day and the request came before the close of office hours, else the next office day."""
        return date.fromordinal(self._counting(moment))

    def office_deadline(self, start: datetime, office_days: int) -> datetime:
        """DESIGN §7: the close of office hours on the Nth office day after the counting day."""
        return self._close_of(self._nth_after(self._counting(start), office_days))

    def deadline_after(self, start: datetime, duration: Duration) -> datetime:
        if duration.uses_office_days:
            due = self._close_of(self._nth_after(self._counting(start), duration.office_days))
        else:
            due = start
        if duration.calendar_days or duration.hours:
            due = due + timedelta(days=duration.calendar_days, hours=duration.hours)
        return due

    def office_days_between(self, start: date, end: date) -> int:
        """How many office days fall after `start` up to and including `end` (0 when `end` <= `start`)."""
        if end <= start:
            return 0
        a, b = self._ordinal(start), self._ordinal(end)
        return bisect_right(self._days, b) - bisect_right(self._days, a)

    def office_days_later(self, moment: datetime, office_days: int) -> datetime:
        """The close of office hours on the Nth office day after `moment`'s date (the L3 time: "two
        office days after the deadline"; a deadline at 17:15 on Monday gives Wednesday 17:15)."""
        if office_days <= 0:
            return moment
        if moment.tzinfo is None:
            raise ValueError("office-day arithmetic needs an aware datetime")
        return self._close_of(self._nth_after(self._ordinal(moment.astimezone(self.tz).date()), office_days))


@lru_cache(maxsize=32)
def _prepared(closed: frozenset[date], first_year: int, years: int, tz: str, close: str) -> OfficeDays:
    # `tz` and `close` are part of the key only: a settings change must not reuse an old range.
    return OfficeDays(closed, date(first_year, 1, 1), date(first_year + years - 1, 12, 31))


def _ask(closed: frozenset[date] | None, day: date, office_days: int, question: Callable[[OfficeDays], Any]) -> Any:
    """Ask the office days prepared from `day`'s year on, with room for `office_days` more (a year
    has about 240): a range too short for the closed days given is doubled until it holds the answer."""
    closed = closed_dates() if closed is None else closed
    years = 2 + max(office_days, 0) // 200
    while True:
        try:
            return question(_prepared(closed, day.year, years, settings.TIME_ZONE, settings.OFFICE_CLOSE_TIME))
        except BeyondRange:
            years *= 2


def _local_day(moment: datetime) -> date:
    return timezone.localtime(moment, office_tz()).date()


def next_office_day(day: date, closed: frozenset[date] | None = None) -> date:
    """The first office day strictly after `day`."""
    return nth_office_day_after(day, 1, closed)


def nth_office_day_after(day: date, n: int, closed: frozenset[date] | None = None) -> date:
    """The Nth office day after `day` (n=0: `day` itself)."""
    if n <= 0:
        return day
    return _ask(closed, day, n, lambda days: days.nth_office_day_after(day, n))


def office_days_between(start: date, end: date, closed: frozenset[date] | None = None) -> int:
    """How many office days fall after `start` up to and including `end` (a deadline's "あと N 開庁日",
    or how many office days it is overdue with the two swapped); 0 when `end` <= `start`."""
    if end <= start:
        return 0
    end = min(end, start + timedelta(days=3660))  # a bound for a bad date far ahead (ten years is plenty)
    # A range prepared from `start`'s year holds about 240 office days a year: ask for enough years.
    return _ask(closed, start, (end - start).days, lambda days: days.office_days_between(start, end))


def close_of_day(day: date) -> datetime:
    return datetime.combine(day, office_close_time(), tzinfo=office_tz())


def counting_day(moment: datetime, closed: frozenset[date] | None = None) -> date:
    """The office day a request made at `moment` counts from."""
    return _ask(closed, _local_day(moment), 1, lambda days: days.counting_day(moment))


def office_deadline(start: datetime, office_days: int, closed: frozenset[date] | None = None) -> datetime:
    """DESIGN §7: the close of office hours on the Nth office day after the counting day."""
    return _ask(closed, _local_day(start), office_days + 1, lambda days: days.office_deadline(start, office_days))


def office_days_later(moment: datetime, office_days: int, closed: frozenset[date] | None = None) -> datetime:
    """The close of office hours on the Nth office day after `moment`'s date (the L3 time: "two
    office days after the deadline"; a deadline at 17:15 on Monday gives Wednesday 17:15)."""
    if office_days <= 0:
        return moment
    return _ask(closed, _local_day(moment), office_days, lambda days: days.office_days_later(moment, office_days))


def deadline_after(start: datetime, duration: Duration, closed: frozenset[date] | None = None) -> datetime:
    if not duration.uses_office_days:
        return start + timedelta(days=duration.calendar_days, hours=duration.hours)
    return _ask(closed, _local_day(start), duration.office_days + 1, lambda days: days.deadline_after(start, duration))


# --- What `seed_calendar` writes --------------------------------------------------------------------


@dataclass(frozen=True)
class ClosedDaySeed:
    date: date
    name: str
    source: str


def closed_days_for_years(years: Iterable[int]) -> list[ClosedDaySeed]:
    """National holidays (jpholiday) and the municipal closure 12/29–1/3 of each year, by date."""
    from referral_engine.timers.models import ClosedDay

    seeds: dict[date, ClosedDaySeed] = {}
    for year in years:
        for month, day in YEAR_END_CLOSURE:
            d = date(year, month, day)
            seeds[d] = ClosedDaySeed(d, "年末年始休庁", ClosedDay.Source.YEAR_END)
        for d, name in jpholiday.year_holidays(year):
            # 元日 is both: the holiday's name is the more telling one.
            seeds[d] = ClosedDaySeed(d, name, ClosedDay.Source.HOLIDAY)
    return sorted(seeds.values(), key=lambda s: s.date)
