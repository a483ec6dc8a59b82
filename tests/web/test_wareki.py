"""The `wareki` filters: 和暦 with 西暦, era boundaries, 元年, leap days, Tokyo time."""

from datetime import UTC, date, datetime

import pytest
from django.utils import translation

from referral_engine.web.templatetags.wareki import age, era_of, wareki, wareki_short

CASES = [
    (date(2026, 11, 26), "令和8年11月26日 (2026)"),
    (date(2019, 5, 1), "令和元年5月1日 (2019)"),
    (date(2019, 4, 30), "平成31年4月30日 (2019)"),
    (date(2020, 1, 1), "令和2年1月1日 (2020)"),
    (date(1989, 1, 8), "平成元年1月8日 (1989)"),
    (date(1989, 1, 7), "昭和64年1月7日 (1989)"),
    (date(1926, 12, 25), "昭和元年12月25日 (1926)"),
    (date(1926, 12, 24), "大正15年12月24日 (1926)"),
    (date(1912, 7, 30), "大正元年7月30日 (1912)"),
    (date(1912, 7, 29), "明治45年7月29日 (1912)"),
    (date(1944, 5, 3), "昭和19年5月3日 (1944)"),
    (date(2024, 2, 29), "令和6年2月29日 (2024)"),  # leap day
    (date(2000, 2, 29), "平成12年2月29日 (2000)"),  # leap day of a century year divisible by 400
    (date(1988, 2, 29), "昭和63年2月29日 (1988)"),
    (date(1850, 1, 1), "1850年1月1日"),  # before the Gregorian reform: no era
]


@pytest.mark.parametrize(("value", "expected"), CASES, ids=[c[1] for c in CASES])
def test_wareki_dates(value, expected):
    with translation.override("ja"):
        assert wareki(value) == expected


def test_datetime_is_shown_in_tokyo_time():
    # 2019-04-30 15:30 UTC is 2019-05-01 00:30 in Tokyo: the first minutes of 令和.
    moment = datetime(2019, 4, 30, 15, 30, tzinfo=UTC)
    with translation.override("ja"):
        assert wareki(moment) == "令和元年5月1日 (2019) 00:30"
        assert wareki(moment, "date") == "令和元年5月1日 (2019)"
        assert wareki_short(moment) == "R1.5.1 00:30"


def test_iso_strings_and_empty_values():
    with translation.override("ja"):
        assert wareki("1989-01-07") == "昭和64年1月7日 (1989)"
        assert wareki(None) == ""
        assert wareki("") == ""
        assert wareki("not a date") == "not a date"


def test_english_shows_the_era_name():
    with translation.override("en"):
        assert wareki(date(2019, 5, 1)) == "1 May 2019 (Reiwa 1)"
        assert wareki(date(1989, 1, 7)) == "7 Jan 1989 (Showa 64)"


def test_short_form_and_era_lookup():
    assert wareki_short(date(2026, 11, 26)) == "R8.11.26"
    assert wareki_short(date(1989, 1, 7)) == "S64.1.7"
    assert era_of(date(1989, 1, 8))[:2] == ("平成", "H")
    assert era_of(date(1800, 1, 1)) is None


def test_age_counts_full_years(monkeypatch):
    from django.utils import timezone

    monkeypatch.setattr(timezone, "localdate", lambda: date(2025, 2, 28))
    assert age(date(2000, 2, 29)) == 24  # a leap-day birthday is not yet reached on 28 Feb
    monkeypatch.setattr(timezone, "localdate", lambda: date(2025, 3, 1))
    assert age(date(2000, 2, 29)) == 25
    assert age(None) == ""
