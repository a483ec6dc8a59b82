"""The read pages' shortcuts give the same answers as the slow, obvious way (issue 10): the
dashboard's grouped counts equal one count per department and figure, and the capped count of
the lists says "N件以上" / `count_capped` past the cap while every page stays reachable."""

from __future__ import annotations

import re
import statistics
from datetime import timedelta

import pytest
from django.core.paginator import EmptyPage
from django.test import Client

from referral_engine import pagination
from referral_engine.pagination import CappedCountPaginator

pytestmark = pytest.mark.slow


def _client(username: str) -> Client:
    from referral_engine.accounts.models import User

    client = Client(HTTP_ACCEPT_LANGUAGE="ja")
    client.force_login(User.objects.get(username=username))
    return client


# --- The dashboard's figures ----------------------------------------------------------------------


def _straightforward_department_counts(department_ids, now) -> dict[str, dict[str, int]]:
    from referral_engine.accounts.models import Department
    from referral_engine.cases.choices import CaseState, ReferralState
    from referral_engine.cases.models import Case, Referral
    from referral_engine.timers.models import Escalation

    expected = {}
    for d in Department.objects.filter(is_active=True, pk__in=department_ids):
        open_cases = Case.objects.filter(lead_department=d).exclude(state=CaseState.CLOSED)
        waiting = Referral.objects.filter(to_department=d, state=ReferralState.REQUESTED)
        expected[d.code] = {
            "open_cases": open_cases.count(),
            "stalled_cases": open_cases.exclude(state=CaseState.ON_HOLD).filter(stall_due_at__lte=now).count(),
            "gap_cases": open_cases.filter(is_gap=True).count(),
            "pending_handoffs": waiting.count(),
            "overdue_handoffs": waiting.filter(due_at__lte=now).count(),
            "open_escalations": Escalation.objects.filter(department=d, state=Escalation.State.OPEN).count(),
        }
    return expected


def _straightforward_acceptance(to_department_ids, now) -> dict[str, tuple[int, float]]:
    from referral_engine.cases.models import Referral
    from referral_engine.timers.selectors import ACCEPTED_AT_SOME_POINT, CHART_WEEKS

    waits: dict[str, list[float]] = {}
    for r in Referral.objects.filter(
        state__in=ACCEPTED_AT_SOME_POINT,
        responded_at__isnull=False,
        created_at__gte=now - timedelta(weeks=CHART_WEEKS),
        to_department_id__in=to_department_ids,
    ).select_related("to_department"):
        waits.setdefault(r.to_department.code, []).append((r.responded_at - r.created_at).total_seconds() / 3600)
    return {code: (len(v), statistics.median(v)) for code, v in waits.items()}


@pytest.mark.parametrize("username", ["chief_welfare", "chief_health"])
def test_dashboard_figures_equal_one_count_per_department_and_figure(username, load, now):
    from referral_engine.accounts.models import Department, User
    from referral_engine.timers.selectors import dashboard_data, dashboard_scope

    # Given a generated city of 200 cases with every state, deadline and escalation level
    load(200)
    user = User.objects.get(username=username)
    scope = dashboard_scope(user)
    ids = set(Department.objects.values_list("pk", flat=True)) if scope.all else scope.department_ids

    # When the dashboard is computed at the generation time
    data = dashboard_data(user=user, now=now)

    # Then each department's figures are the straightforward counts
    got = {row["code"]: {k: v for k, v in row.items() if k not in ("code", "name")} for row in data["departments"]}
    expected = _straightforward_department_counts(ids, now)
    assert got == expected
    assert data["scope"]["departments"] == list(expected)
    # (and the data has something to count: the comparison is not of zeros)
    for figure in ("open_cases", "stalled_cases", "pending_handoffs", "open_escalations"):
        assert sum(row[figure] for row in expected.values()) > 0, figure
    # And the acceptance chart's medians are those of the durations, department by department
    acceptance = _straightforward_acceptance(ids, now)
    assert [row["department"]["code"] for row in data["acceptance_hours_by_department"]] == sorted(acceptance)
    for row in data["acceptance_hours_by_department"]:
        n, median = acceptance[row["department"]["code"]]
        assert row["accepted"] == n
        assert row["median_hours"] == pytest.approx(median, abs=0.051)
    assert acceptance, "no accepted referral in the last 12 weeks: the chart comparison would be empty"


# --- Capped counts --------------------------------------------------------------------------------


def test_paginator_counts_exactly_up_to_the_cap_and_says_more_past_it():
    under = CappedCountPaginator(list(range(20)), 10, cap=20)
    assert (under.count_shown, under.count_capped, under.num_pages) == (20, False, 2)
    over = CappedCountPaginator(list(range(95)), 10, cap=20)
    page = over.page(1)
    assert (over.count_shown, over.count_capped) == (20, True)
    assert page.has_next()
    # A page past the cap is reachable, and counting then reaches one row past it
    deep = CappedCountPaginator(list(range(95)), 10, cap=20)
    page = deep.page(5)
    assert list(page.object_list) == list(range(40, 50)) and page.has_next()
    assert (deep.count_shown, deep.count_capped) == (50, True)
    # The last page knows it is the last: the count is exact there
    last = CappedCountPaginator(list(range(95)), 10, cap=20)
    page = last.page(10)
    assert list(page.object_list) == list(range(90, 95)) and not page.has_next()
    assert (last.count_shown, last.count_capped) == (95, False)
    # A page number of any size is past the end, not a LIMIT the database refuses
    with pytest.raises(EmptyPage):
        CappedCountPaginator(list(range(95)), 10, cap=20).page(10**22)


def test_case_list_shows_the_capped_label_past_the_cap_and_the_number_below_it(load, monkeypatch):
    from referral_engine.accounts.models import User
    from referral_engine.cases.selectors import cases_visible_to

    # Given a caseworker who may see more cases than the cap
    load(200)
    visible = cases_visible_to(User.objects.get(username="worker_welfare"))
    total = visible.count()
    monkeypatch.setattr(pagination, "COUNT_CAP", 50)  # one page of the list
    assert total > 50
    client = _client("worker_welfare")

    # When the unfiltered list is shown, then it says "50件以上" and offers the next page
    html = client.get("/cases/").content.decode()
    assert re.search(r'class="result-count" role="status">\s*50件以上', html)
    assert 'rel="next"' in html and "1 ページ目" in html

    # When a filter leaves fewer than the cap, then the exact number is shown
    number = visible.order_by("id").first().number
    html = client.get("/cases/", {"q": number}).content.decode()
    assert re.search(r'class="result-count" role="status">\s*1件', html)

    # And with a cap above the total, the exact total
    monkeypatch.setattr(pagination, "COUNT_CAP", 1000)
    html = client.get("/cases/").content.decode()
    assert re.search(rf'class="result-count" role="status">\s*{total}件', html)


def test_api_list_flags_a_capped_count_and_next_reaches_every_case(load, monkeypatch):
    from referral_engine.accounts.models import User
    from referral_engine.cases.selectors import cases_visible_to

    load(200)
    expected = set(cases_visible_to(User.objects.get(username="worker_welfare")).values_list("pk", flat=True))
    monkeypatch.setattr(pagination, "COUNT_CAP", 20)
    client = _client("worker_welfare")

    body = client.get("/api/v1/cases/", {"page_size": 10}).json()
    assert set(body) == {"count", "count_capped", "next", "previous", "results"}
    assert (body["count"], body["count_capped"], len(body["results"])) == (20, True, 10)

    # Following `next` past the cap reaches every visible case once; the last page's count is exact
    seen = [r["id"] for r in body["results"]]
    while body["next"]:
        body = client.get(body["next"]).json()
        seen += [r["id"] for r in body["results"]]
    assert len(seen) == len(set(seen)) and set(seen) == expected
    assert (body["count"], body["count_capped"]) == (len(expected), False)

    # A page far past the end is a 404, as before
    assert client.get("/api/v1/cases/", {"page": 10**22}).status_code == 404

    # Below the cap the count is exact and not flagged
    monkeypatch.setattr(pagination, "COUNT_CAP", 1000)
    body = client.get("/api/v1/cases/", {"page_size": 10}).json()
    assert (body["count"], body["count_capped"]) == (len(expected), False)
