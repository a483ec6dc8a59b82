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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
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


# --- Pure arithmetic (every function takes the closed set, so tests can pass their own) ---------


def is_office_day(day: date, closed: frozenset[date] | None = None) -> bool:
    closed = closed_dates() if closed is None else closed
    return day.weekday() < 5 and day not in closed


def next_office_day(day: date, closed: frozenset[date] | None = None) -> date:
    """The first office day strictly after `day`."""
    closed = closed_dates() if closed is None else closed
    day += timedelta(days=1)
    while not is_office_day(day, closed):
        day += timedelta(days=1)
    return day


def nth_office_day_after(day: date, n: int, closed: frozenset[date] | None = None) -> date:
    """The Nth office day after `day` (n=0: `day` itself)."""
    closed = closed_dates() if closed is None else closed
    for _ in range(n):
        day = next_office_day(day, closed)
    return day


def close_of_day(day: date) -> datetime:
    return datetime.combine(day, office_close_time(), tzinfo=office_tz())


def counting_day(moment: datetime, closed: frozenset[date] | None = None) -> date:
    """The office day a request made at `moment` counts from."""
    closed = closed_dates() if closed is None else closed
    local = timezone.localtime(moment, office_tz())
    if is_office_day(local.date(), closed) and local.time() < office_close_time():
        return local.date()
    return next_office_day(local.date(), closed)


def office_deadline(start: datetime, office_days: int, closed: frozenset[date] | None = None) -> datetime:
    """DESIGN §7: the close of office hours on the Nth office day after the counting day."""
    closed = closed_dates() if closed is None else closed
    return close_of_day(nth_office_day_after(counting_day(start, closed), office_days, closed))


def office_days_later(moment: datetime, office_days: int, closed: frozenset[date] | None = None) -> datetime:
    """The close of office hours on the Nth office day after `moment`'s date (the L3 time: "two
    office days after the deadline"; a deadline at 17:15 on Monday gives Wednesday 17:15)."""
    if office_days <= 0:
        return moment
    closed = closed_dates() if closed is None else closed
    local_day = timezone.localtime(moment, office_tz()).date()
    return close_of_day(nth_office_day_after(local_day, office_days, closed))


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


def deadline_after(start: datetime, duration: Duration, closed: frozenset[date] | None = None) -> datetime:
    due = office_deadline(start, duration.office_days, closed) if duration.uses_office_days else start
    return due + timedelta(days=duration.calendar_days, hours=duration.hours)


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
