"""The office-day arithmetic of `referral_engine.timers.calendar`, made fast for millions of clocks.

The calendar module walks day by day and reads the settings on every call; that is right for the
app and too slow for a generator that schedules tens of millions of deadlines. This class holds the
office days of a bounded range as a sorted list and answers with a binary search. It must give the
same answers: `tests/perf/test_generate_load.py` compares it with the calendar module on random
moments.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from referral_engine.timers import calendar
from referral_engine.timers.calendar import Duration


class OfficeDays:
    def __init__(self, closed: frozenset[date], first: date, last: date) -> None:
        self.tz = ZoneInfo(settings.TIME_ZONE)
        self.close = calendar.office_close_time()
        self.first, self.last = first, last
        days, day = [], first
        while day <= last:
            if day.weekday() < 5 and day not in closed:
                days.append(day.toordinal())
            day += timedelta(days=1)
        self.days = days
        self.office = frozenset(days)
        self._close_cache: dict[int, datetime] = {}

    def _check(self, day: date) -> None:
        if not (self.first <= day <= self.last):
            raise ValueError(f"{day} is outside the prepared calendar ({self.first} … {self.last})")

    def close_of_day(self, ordinal: int) -> datetime:
        found = self._close_cache.get(ordinal)
        if found is None:
            found = datetime.combine(date.fromordinal(ordinal), self.close, tzinfo=self.tz)
            self._close_cache[ordinal] = found
        return found

    def nth_after(self, ordinal: int, n: int) -> int:
        """calendar.nth_office_day_after on ordinals (n=0: the day itself)."""
        if n <= 0:
            return ordinal
        return self.days[bisect_right(self.days, ordinal) + n - 1]

    def counting_day(self, moment: datetime) -> int:
        local = moment.astimezone(self.tz)
        day = local.date()
        self._check(day)
        ordinal = day.toordinal()
        if ordinal in self.office and local.time() < self.close:
            return ordinal
        return self.days[bisect_right(self.days, ordinal)]

    def deadline_after(self, start: datetime, duration: Duration) -> datetime:
        if duration.uses_office_days:
            due = self.close_of_day(self.nth_after(self.counting_day(start), duration.office_days))
        else:
            due = start
        if duration.calendar_days or duration.hours:
            due = due + timedelta(days=duration.calendar_days, hours=duration.hours)
        return due

    def office_days_later(self, moment: datetime, office_days: int) -> datetime:
        if office_days <= 0:
            return moment
        day = moment.astimezone(self.tz).date()
        self._check(day)
        return self.close_of_day(self.nth_after(day.toordinal(), office_days))
