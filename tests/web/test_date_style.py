"""One date style (issue 18, item 8): the `wareki` filter shows every date in the signed-in user's
`date_style` — 和暦 with 西暦 or 西暦 only — and costs no query; templates use it and nothing else."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from referral_engine.web import date_style
from referral_engine.web.templatetags.wareki import wareki, wareki_short

pytestmark = pytest.mark.django_db

MOMENT = datetime(2026, 12, 3, 5, 4, 9, tzinfo=UTC)  # 14:04:09 in Tokyo


@pytest.mark.parametrize(
    ("style", "value", "arg", "expected"),
    [
        ("wareki", date(2026, 12, 3), "", "令和8年12月3日 (2026)"),
        ("wareki", MOMENT, "", "令和8年12月3日 (2026) 14:04"),
        ("wareki", MOMENT, "date", "令和8年12月3日 (2026)"),
        ("wareki", MOMENT, "seconds", "令和8年12月3日 (2026) 14:04:09"),
        ("wareki", "2019-05-01", "", "令和元年5月1日 (2019)"),
        ("western", date(2026, 12, 3), "", "2026-12-03"),
        ("western", MOMENT, "", "2026-12-03 14:04"),
        ("western", MOMENT, "date", "2026-12-03"),
        ("western", MOMENT, "seconds", "2026-12-03 14:04:09"),
        ("western", "2019-05-01", "", "2019-05-01"),
        ("western", None, "", ""),
    ],
)
def test_the_filter_in_both_styles(style, value, arg, expected):
    with translation.override("ja"), date_style.override(style):
        assert wareki(value, arg) == expected


def test_the_default_outside_a_request_is_wareki_and_unknown_styles_fall_back():
    with translation.override("ja"):
        assert wareki(date(2026, 12, 3)) == "令和8年12月3日 (2026)"
        with date_style.override("klingon"):
            assert wareki(date(2026, 12, 3)) == "令和8年12月3日 (2026)"
    with date_style.override("western"):
        assert wareki_short(date(2026, 12, 3)) == "2026-12-03"  # the chart axis follows too


def _set_style(user, style):
    user.date_style = style
    user.save(update_fields=["date_style"])


def test_a_case_page_rendered_in_both_styles(as_user, users, referred_case):
    created = timezone.localtime(referred_case.created_at)
    western = re.compile(rf"{created:%Y-%m-%d} \d{{2}}:\d{{2}}")
    client = as_user("desk_welfare")

    html = client.get(f"/cases/{referred_case.pk}/").content.decode()
    assert f"令和{created.year - 2018}年{created.month}月{created.day}日 ({created.year})" in html
    assert not western.search(html)

    _set_style(users["desk_welfare"], "western")
    html = client.get(f"/cases/{referred_case.pk}/").content.decode()
    assert western.search(html)
    assert f"令和{created.year - 2018}年" not in html
    # Machine formats are untouched: <time datetime> keeps ISO 8601 with the offset.
    assert re.search(r'datetime="\d{4}-\d{2}-\d{2}T', html)


def test_the_audit_pages_follow_the_style_with_seconds(as_user, users, referred_case):
    _set_style(users["auditor"], "western")
    client = as_user("auditor")
    client.get(f"/audit/cases/{referred_case.pk}/")
    html = client.get("/audit/access-log/").content.decode()
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", html)
    _set_style(users["auditor"], "wareki")
    html = client.get("/audit/access-log/").content.decode()
    assert re.search(r"令和\d+年\d+月\d+日 \(\d{4}\) \d{2}:\d{2}:\d{2}", html)


def test_the_style_costs_no_query_per_date(as_user, users, referred_case):
    client = as_user("desk_welfare")
    client.get(f"/cases/{referred_case.pk}/")  # warm the per-process caches
    with CaptureQueriesContext(connection) as wareki_run:
        client.get(f"/cases/{referred_case.pk}/")
    _set_style(users["desk_welfare"], "western")
    with CaptureQueriesContext(connection) as western_run:
        client.get(f"/cases/{referred_case.pk}/")
    assert len(western_run) == len(wareki_run)


def test_templates_show_dates_only_through_the_one_filter():
    """No display date through `|date:"Y-…"`, `wareki_short` or a bare ISO string: `|date` is only for
    machine formats (`<time datetime>`, `<input type="date">` values, query strings)."""
    offenders = []
    for path in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "wareki_short" in line:
                offenders.append(f"{path.name}:{n} wareki_short")
            for match in re.finditer(r"\{\{[^}]*\|date:[^}]*\}\}", line):
                machine = re.search(r'(datetime|value|min|max|href)="[^"]*$', line[: match.start()])
                if not machine:
                    offenders.append(f"{path.name}:{n} {match.group(0)}")
    assert offenders == []
