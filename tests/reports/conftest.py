"""Fixtures of the report tests: times in Japan, cases opened at a chosen moment through the case
services (the clock is patched while they run), and plain counts to check the report against."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from unittest import mock
from zoneinfo import ZoneInfo

import pytest

JST = ZoneInfo("Asia/Tokyo")


def jst(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, us, tzinfo=JST)


@contextmanager
def at(moment: datetime) -> Iterator[None]:
    """Everything inside happens at `moment` (auto_now_add, the services' clocks)."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


@pytest.fixture
def media(settings, tmp_path):
    """Report files go to a fresh folder per test."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def calendar_and_rules(db):
    """The office calendar and the escalation rules (the たらい回し rule flags はざま cases)."""
    from django.utils import timezone

    from referral_engine.timers import calendar
    from referral_engine.timers.services import timers_calendar_seed, timers_policies_seed

    year = timezone.localdate().year
    timers_calendar_seed(years=range(year - 2, year + 2))
    timers_policies_seed()
    calendar.invalidate_cache()
    yield
    calendar.invalidate_cache()


@pytest.fixture
def eager():
    """Celery tasks run in the caller even when REDIS_URL points at a real broker (no worker here)."""
    from referral_engine.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before
