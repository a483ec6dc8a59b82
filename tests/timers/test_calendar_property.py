"""The deadline rule (DESIGN §7) against a brute-force walker, over 2020–2030 and N = 0..30: through
the module's functions and through a prepared `OfficeDays` range (what the load generator holds),
which are one implementation."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings
from hypothesis import example, given, settings
from hypothesis import strategies as st

from referral_engine.timers import calendar

JST = ZoneInfo("Asia/Tokyo")
CLOSED = frozenset(s.date for s in calendar.closed_days_for_years(range(2019, 2032)))
CLOSE = time(17, 15)


def _count_on(day: date, n: int, closed: frozenset[date]) -> date:
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        if day.weekday() not in (5, 6) and day not in closed:
            counted += 1
    return day


def walker(start: datetime, n: int, closed: frozenset[date] = CLOSED) -> datetime:
    """Walk day by day, the rule read literally: the counting day is the request's day if that is
    an office day and the request came before 17:15, else the next office day; then count N
    office days onwards; the deadline is 17:15 that day."""
    local = start.astimezone(JST)
    day = local.date()
    if not (day.weekday() not in (5, 6) and day not in closed and local.time() < CLOSE):
        day = _count_on(day, 1, closed)
    return datetime.combine(_count_on(day, n, closed), CLOSE, tzinfo=JST)


def later_walker(moment: datetime, n: int) -> datetime:
    """The L3 time read literally: 17:15 on the Nth office day after the moment's day (N=0: the moment)."""
    if n == 0:
        return moment
    return datetime.combine(_count_on(moment.astimezone(JST).date(), n, CLOSED), CLOSE, tzinfo=JST)


MOMENTS = st.builds(
    lambda d, t: datetime.combine(d, t, tzinfo=JST),
    st.dates(date(2020, 1, 1), date(2030, 12, 31)),
    st.one_of(
        st.sampled_from([time(0, 0), time(8, 30), time(17, 14), time(17, 14, 59), time(17, 15), time(23, 59, 59)]),
        st.times(),
    ),
)


@settings(max_examples=600, deadline=None)
@given(start=MOMENTS, n=st.integers(0, 30))
@example(start=datetime(2026, 12, 28, 17, 14, tzinfo=JST), n=1)  # Mon before close: next is 1/4
@example(start=datetime(2026, 12, 28, 17, 15, tzinfo=JST), n=0)  # at close: counts from 1/4
@example(start=datetime(2027, 1, 5, 9, 0, tzinfo=JST), n=0)
@example(start=datetime(2026, 11, 28, 10, 0, tzinfo=JST), n=2)  # a Saturday
@example(start=datetime(2026, 5, 1, 17, 14, tzinfo=JST), n=1)  # before Golden Week
def test_deadline_matches_the_day_walker(start, n):
    assert calendar.office_deadline(start, n, CLOSED) == walker(start, n)


@given(start=MOMENTS, n=st.integers(0, 30))
@settings(max_examples=200, deadline=None)
def test_deadline_in_other_time_zones_is_the_same_instant(start, n):
    from datetime import UTC

    assert calendar.office_deadline(start.astimezone(UTC), n, CLOSED) == walker(start, n)


def test_examples_read_like_the_rule():
    # Monday 10:00 → Wednesday 17:15; Monday 17:15 → Thursday 17:15; Saturday → Wednesday.
    assert calendar.office_deadline(datetime(2026, 11, 30, 10, 0, tzinfo=JST), 2, CLOSED) == datetime(
        2026, 12, 2, 17, 15, tzinfo=JST
    )
    assert calendar.office_deadline(datetime(2026, 11, 30, 17, 15, tzinfo=JST), 2, CLOSED) == datetime(
        2026, 12, 3, 17, 15, tzinfo=JST
    )
    assert calendar.office_deadline(datetime(2026, 11, 28, 10, 0, tzinfo=JST), 2, CLOSED) == datetime(
        2026, 12, 2, 17, 15, tzinfo=JST
    )
    # 12/28 (Mon) 17:14 with N=1: 12/29–1/3 closed → Mon 1/4 17:15.
    assert calendar.office_deadline(datetime(2026, 12, 28, 17, 14, tzinfo=JST), 1, CLOSED) == datetime(
        2027, 1, 4, 17, 15, tzinfo=JST
    )
    # L3: two office days after a Monday 17:15 deadline is Wednesday 17:15.
    assert calendar.office_days_later(datetime(2026, 11, 30, 17, 15, tzinfo=JST), 2, CLOSED) == datetime(
        2026, 12, 2, 17, 15, tzinfo=JST
    )


@given(start=MOMENTS, n=st.integers(0, 30))
@settings(max_examples=300, deadline=None)
def test_office_days_later_matches_the_day_walker(start, n):
    assert calendar.office_days_later(start, n, CLOSED) == later_walker(start, n)


PREPARED = calendar.OfficeDays(CLOSED, date(2020, 1, 1), date(2031, 12, 31))


@given(start=MOMENTS, n=st.integers(0, 30))
@settings(max_examples=300, deadline=None)
def test_a_prepared_range_answers_like_the_walker(start, n):
    assert PREPARED.office_deadline(start, n) == walker(start, n)
    assert PREPARED.office_days_later(start, n) == later_walker(start, n)
    assert PREPARED.deadline_after(start, calendar.Duration(office_days=n)) == walker(start, n)


def test_a_prepared_range_refuses_questions_outside_it():
    year = calendar.OfficeDays(CLOSED, date(2026, 1, 1), date(2026, 12, 31))
    assert year.office_deadline(datetime(2026, 12, 25, 10, 0, tzinfo=JST), 1) == datetime(
        2026, 12, 28, 17, 15, tzinfo=JST
    )
    with pytest.raises(ValueError, match="outside"):
        year.office_deadline(datetime(2027, 1, 5, 10, 0, tzinfo=JST), 0)
    with pytest.raises(ValueError, match="after 2026-12-31"):
        year.office_deadline(datetime(2026, 12, 28, 17, 14, tzinfo=JST), 1)  # 1/4 2027
    with pytest.raises(ValueError, match="aware"):
        year.counting_day(datetime(2026, 6, 1, 10, 0))  # naive on purpose


def test_closures_longer_than_the_prepared_years_still_give_the_rule():
    """Two whole years closed (an admin's one-off closures): the module's range grows to the answer."""
    closed = CLOSED | {date(2027, 1, 1) + timedelta(days=i) for i in range(731)}
    start = datetime(2027, 3, 1, 10, 0, tzinfo=JST)
    assert calendar.office_deadline(start, 3, closed) == walker(start, 3, closed)
    assert calendar.office_deadline(start, 3, closed).year == 2029


def test_the_close_of_office_hours_is_read_from_the_settings():
    start = datetime(2026, 11, 30, 10, 0, tzinfo=JST)
    assert calendar.office_deadline(start, 2, CLOSED) == datetime(2026, 12, 2, 17, 15, tzinfo=JST)
    with override_settings(OFFICE_CLOSE_TIME="17:00"):
        assert calendar.office_deadline(start, 2, CLOSED) == datetime(2026, 12, 2, 17, 0, tzinfo=JST)
        assert calendar.counting_day(datetime(2026, 11, 30, 17, 5, tzinfo=JST), CLOSED) == date(2026, 12, 1)
    assert calendar.counting_day(datetime(2026, 11, 30, 17, 5, tzinfo=JST), CLOSED) == date(2026, 11, 30)
