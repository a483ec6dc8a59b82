"""Query budgets (issue 10): each page and API list runs the same number of queries with 30 cases and
with 200 (the count must not grow with the data), and no more than its stated cap.

The data is built once per test module by the load generator's own code, measured at the small size,
grown to the large size and measured again; each page is then one test that reads the two counts.
Pages are requested twice and the second request is counted (per-process caches warm, as in a
server). Detail pages show the same case at both sizes (its own content does not change when other
cases are added), lists show whatever the user's departments hold.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.slow

SMALL, LARGE = 30, 200


@dataclass(frozen=True)
class Page:
    name: str
    path: str  # {case}: a case that the user may see, picked at the small size
    username: str
    cap: int  # the stated budget: queries per request (measured on 2026-11-26 plus a little room)


# {worker} / {chief}: the demo caseworker / supervisor of the department with the most handoffs
# both waiting and in progress at the small size, so that every list has rows at both sizes.
PAGES = [
    # 25 → 34 (2026-12-03): the case page gained the person edit form, reassessment, the household
    # panel, follow-ups and the watch requests (issues 17-19), each a read or two; none grows with data.
    Page("case detail (web)", "/cases/{case}/", "worker_welfare", 34),
    Page("inbox (web)", "/inbox/", "{worker}", 19),
    Page("dashboard, desk supervisor (web)", "/dashboard/", "chief_welfare", 24),
    Page("dashboard, department supervisor (web)", "/dashboard/", "{chief}", 24),
    Page("visible cases, department user (web)", "/cases/", "{worker}", 14),
    # The search (issue 18, item 6): the list's queries plus the access-log row of the search.
    Page("search by name part (web)", "/cases/?q=%E3%83%8A%E3%82%AB", "chief_welfare", 15),
    Page("search by number part (web)", "/cases/?q=0000", "{worker}", 15),
    Page("search by name part (API)", "/api/v1/cases/?q=%E3%81%AA%E3%81%8B", "chief_welfare", 13),
    # 33 → 37 (2026-12-03): labels for auditors (issue 16) and the person's view since the case opened (17).
    # 37 → 21 (issue 23): the history from one statement (audit/history_read.py); 19 measured.
    Page("auditor case timeline (web)", "/audit/cases/{case}/", "auditor", 21),
    Page("cases (API)", "/api/v1/cases/", "{worker}", 13),
    Page("referral inbox (API)", "/api/v1/referrals/?inbox=true", "{worker}", 13),
    Page("escalations (API)", "/api/v1/escalations/", "chief_welfare", 12),
    Page("access log (API)", "/api/v1/audit/access-log/", "auditor", 13),
    # 31 → 17 (issue 23): the history from one statement; 15 measured.
    Page("case history (API)", "/api/v1/cases/{case}/history/", "auditor", 17),
    # My work (issue 18): six sections, each its rows and its count.
    Page("my work home, caseworker (web)", "/", "{worker}", 22),
    Page("my work home, desk supervisor (web)", "/", "chief_welfare", 22),
    Page("my work (API), caseworker", "/api/v1/me/work/", "{worker}", 21),
    Page("my work (API), desk caseworker", "/api/v1/me/work/", "worker_welfare", 21),
]
DEMO = {
    "social_welfare": ("worker_welfare", "chief_welfare"),
    "health_promotion": ("worker_health", "chief_health"),
    "longevity_support": ("worker_longevity", "chief_longevity"),
    "disaster_prevention": ("worker_bosai", "chief_bosai"),
    "shakyo": ("worker_shakyo", "chief_shakyo"),
}

# Pages whose count grows with the data today, reported to their owners (see docs/benchmarks.md).
# strict=True: the day one is fixed, its XPASS fails the run and the mark must be removed.
KNOWN_N_PLUS_ONE: dict[str, str] = {}

_measured: dict[str, dict[int, int | str]] = {}
# The pages that read a case's timeline (audit.history_read: one statement on PostgreSQL).
HISTORY_PAGES = {"auditor case timeline (web)", "case history (API)"}


def _count(client: Client, path: str) -> int | str:
    response = client.get(path)  # warm the per-process caches
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    return len(ctx.captured_queries)


def _busiest_department() -> str:
    from django.db.models import Count, Q

    from referral_engine.accounts.models import Department

    rows = Department.objects.filter(code__in=DEMO).annotate(
        waiting=Count("referrals_received", filter=Q(referrals_received__state="requested")),
        working=Count("referrals_received", filter=Q(referrals_received__state="accepted")),
    )
    best = max(rows, key=lambda d: (min(d.waiting, d.working), d.waiting + d.working, -d.pk))
    assert best.waiting and best.working, "no department has handoffs both waiting and in progress"
    return best.code


def _measure_all(load, monkeypatch) -> dict[str, dict[int, int | str]]:
    """Build the data (small, then large) and count every page at both sizes, once per module."""
    if _measured:
        return _measured
    from referral_engine.accounts.models import User
    from referral_engine.cases.models import Case
    from referral_engine.timers import calendar

    # The closed-day cache re-reads its version at most every few seconds: not during a count.
    monkeypatch.setattr(calendar, "VERSION_CHECK_SECONDS", 3600.0)
    load(SMALL)
    worker, chief = DEMO[_busiest_department()]
    # The case the detail pages show: opened at the welfare desk, referred, with activities.
    case = (
        Case.objects.filter(lead_department__code="social_welfare", referrals__isnull=False, activities__isnull=False)
        .order_by("id")
        .first()
    )
    assert case is not None, "the generator made no referred welfare case at the small size"
    clients = {}
    for page in PAGES:
        client = Client(HTTP_ACCEPT_LANGUAGE="ja")
        client.force_login(User.objects.get(username=page.username.format(worker=worker, chief=chief)))
        clients[page.name] = client
    for size in (SMALL, LARGE):
        if size == LARGE:
            load(LARGE - SMALL, seed=11)
        for page in PAGES:
            path = page.path.format(case=case.pk)
            _measured.setdefault(page.name, {})[size] = _count(clients[page.name], path)
    return _measured


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_query_count_does_not_grow_with_the_data(page: Page, load, monkeypatch, request):
    if page.name in KNOWN_N_PLUS_ONE:
        request.applymarker(pytest.mark.xfail(reason=KNOWN_N_PLUS_ONE[page.name], strict=True))
    counts = _measure_all(load, monkeypatch)[page.name]
    small, large = counts[SMALL], counts[LARGE]
    assert isinstance(small, int) and isinstance(large, int), f"{page.path}: {small} / {large}"
    assert small == large, f"{page.path} as {page.username}: {small} queries at {SMALL} cases, {large} at {LARGE}"
    cap = page.cap
    if page.name in HISTORY_PAGES and connection.vendor != "postgresql":
        from referral_engine.audit.history_read import PORTABLE_EXTRA_STATEMENTS

        cap += PORTABLE_EXTRA_STATEMENTS  # SQLite reads the timeline per history table
    assert large <= cap, f"{page.path} as {page.username}: {large} queries, budget {cap}"
