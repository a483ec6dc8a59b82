"""Fixtures of the timers tests: a seeded calendar and rules, times in the office time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

JST = ZoneInfo("Asia/Tokyo")


def jst(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=JST)


@pytest.fixture
def calendar_seeded(db):
    """This year's neighbours' holidays and year-end closures in ClosedDay; the process cache fresh."""
    from django.utils import timezone

    from referral_engine.timers import calendar
    from referral_engine.timers.services import timers_calendar_seed

    year = timezone.localdate().year
    timers_calendar_seed(years=range(year - 1, year + 3))
    calendar.invalidate_cache()
    yield
    calendar.invalidate_cache()


@pytest.fixture
def policies(db):
    from referral_engine.timers.services import timers_policies_seed

    timers_policies_seed()


@pytest.fixture
def timers_world(org, users, calendar_seeded, policies, open_case, fresh):
    """The organisation, the demo users, the calendar and the rules; `open_case` opens through the
    case services."""
    return {"org": org, "users": users, "open_case": open_case, "fresh": fresh}
