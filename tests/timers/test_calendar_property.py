"""The deadline rule (DESIGN §7) against a brute-force walker, over 2020–2030 and N = 0..30."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from referral_engine.timers import calendar

JST = ZoneInfo("Asia/Tokyo")
CLOSED = frozenset(s.date for s in calendar.closed_days_for_years(range(2019, 2032)))
CLOSE = time(17, 15)


def walker(start: datetime, n: int) -> datetime:
    """Walk day by day, the rule read literally: the counting day is the request's day if that is
    an office day and the request came before 17:15, else the next office day; then count N
    office days onwards; the deadline is 17:15 that day."""

    def office(d: date) -> bool:
        return d.weekday() not in (5, 6) and d not in CLOSED

    local = start.astimezone(JST)
    day = local.date()
    if not (office(day) and local.time() < CLOSE):
        day += timedelta(days=1)
        while not office(day):
            day += timedelta(days=1)
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        if office(day):
            counted += 1
    return datetime.combine(day, CLOSE, tzinfo=JST)


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
