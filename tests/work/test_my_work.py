"""Issue 18 item 1: my work (`GET /api/v1/me/work/` and the staff home `/`): assigned to me, cases I
(a supervisor: my department) lead, my departments' waiting handoffs, my follow-ups due within 7 days
or overdue, setbacks until someone acts, untriaged slips for the desk; each with its count and the
link to its full list; an urgent item at the top. The query count does not grow with the rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from referral_engine.cases.models import FollowUp
from referral_engine.cases.services.followups import followup_create
from referral_engine.cases.services.records import activity_add
from referral_engine.cases.services.referrals import referral_create, referral_transition
from referral_engine.cases.services.slips import slip_submit

pytestmark = pytest.mark.django_db

TO_LONGEVITY = [{"to_department": "longevity_support", "basis": "internal_use", "reason": "介護の相談"}]
TO_WELFARE = [{"to_department": "social_welfare", "basis": "internal_use", "reason": "多機関で協議したい"}]


def _build(open_case, users, fresh, n: int) -> dict:
    """n of each thing that reaches worker_welfare (a caseworker of the desk)."""
    ww = fresh(users["worker_welfare"])
    made: dict = {"led": [], "inbox": [], "assigned": [], "followups": [], "setbacks": [], "slips": []}
    for i in range(n):
        led = open_case("worker_welfare")  # lead worker: worker_welfare
        made["led"].append(led)
        waiting = open_case("desk_health", referrals=TO_WELFARE).referrals.get()
        made["inbox"].append(waiting)
        taken = open_case("desk_health", referrals=TO_WELFARE).referrals.get()
        referral_transition(referral_id=taken.pk, name="accept", actor=fresh(users["worker_welfare"]))
        made["assigned"].append(taken)
        followup = followup_create(case_id=led.pk, actor=ww, due_on=timezone.localdate() + timedelta(days=i % 3))
        made["followups"].append(followup)
        bounced = open_case("worker_welfare", referrals=TO_LONGEVITY).referrals.get()
        referral_transition(
            referral_id=bounced.pk, name="decline", actor=fresh(users["worker_longevity"]), reason="対象外"
        )
        made["setbacks"].append(bounced)
        made["slips"].append(slip_submit(actor=fresh(users["minsei_kawakami"]), concern=f"気づき {i}"))
    return made


def test_every_section_with_counts_links_and_the_urgent_first(open_case, users, fresh, client):
    made = _build(open_case, users, fresh, 2)
    urgent = open_case("desk_health", referrals=[{**TO_WELFARE[0], "urgent": True}]).referrals.get()
    urgent_slip = slip_submit(actor=fresh(users["minsei_kawakami"]), concern="倒れていた", urgency="urgent")
    late = made["followups"][0]
    FollowUp.objects.filter(pk=late.pk).update(due_on=timezone.localdate() - timedelta(days=1))  # overdue
    far = followup_create(
        case_id=made["led"][0].pk, actor=fresh(users["worker_welfare"]), due_on=timezone.localdate() + timedelta(days=8)
    )

    client.force_login(users["worker_welfare"])
    work = client.get("/api/v1/me/work/").json()
    assert {r["id"] for r in work["assigned"]} == {r.pk for r in made["assigned"]} and work["assigned_count"] == 2
    assert {c["id"] for c in work["led_cases"]} >= {c.pk for c in made["led"]}
    assert {r["id"] for r in work["inbox"]} == {r.pk for r in made["inbox"]} | {urgent.pk}
    assert work["inbox"][0]["id"] == urgent.pk  # urgent first
    assert {f["id"] for f in work["followups"]} == {f.pk for f in made["followups"]}  # not the one 8 days out
    assert far.pk not in {f["id"] for f in work["followups"]}
    assert {r["id"] for r in work["setbacks"]} == {r.pk for r in made["setbacks"]}
    assert {s["id"] for s in work["slips"]} == {s.pk for s in made["slips"]} | {urgent_slip.pk}
    assert work["followups_url"] == "/work/followups/" and work["inbox_url"] == "/inbox/"
    assert {(u["kind"], u["id"]) for u in work["urgent"]} == {
        ("referral", urgent.pk),
        ("followup", late.pk),
        ("slip", urgent_slip.pk),
    }

    page = client.get("/").content.decode()
    assert page.index('id="urgent"') < page.index('id="work-assigned"')  # the urgent items come first
    assert urgent.case.number in page[page.index('id="urgent"') : page.index('id="work-assigned"')]
    for section in ("assigned", "led_cases", "inbox", "followups", "setbacks", "slips"):
        assert f'id="work-{section}"' in page
    for url in ("/work/assigned/", "/work/followups/", "/work/setbacks/", "/work/slips/", "/inbox/"):
        assert f'href="{url}"' in page
        assert client.get(url).status_code == 200
    assert client.get("/work/nothing/").status_code == 404


def test_counts_stop_at_the_cap_and_say_so(open_case, users, fresh, client, monkeypatch):
    """A supervisor's department leads 75,000 open cases at a million: counts stop at COUNT_CAP, as the
    lists' do, and say there are more (API `<section>_count_capped`, "1,000+" on the page)."""
    from referral_engine import pagination
    from referral_engine.cases import work as work_module

    assert work_module.COUNT_CAP == pagination.COUNT_CAP
    _build(open_case, users, fresh, 2)
    monkeypatch.setattr(work_module, "COUNT_CAP", 1)
    client.force_login(users["worker_welfare"])
    work = client.get("/api/v1/me/work/").json()
    assert len(work["assigned"]) == 2  # the rows are not capped, the count is
    assert (work["assigned_count"], work["assigned_count_capped"]) == (1, True)
    assert (work["inbox_count"], work["inbox_count_capped"]) == (1, True)
    assert (work["followups_count"], work["followups_count_capped"]) == (1, True)
    monkeypatch.setattr(work_module, "COUNT_CAP", 2)
    work = client.get("/api/v1/me/work/").json()
    assert (work["assigned_count"], work["assigned_count_capped"]) == (2, False)
    monkeypatch.setattr(work_module, "COUNT_CAP", 1)
    page = client.get("/").content.decode()
    assert '<span class="stat-number">1+</span>' in page


def test_a_setback_leaves_once_someone_acts_and_a_slip_once_triaged(open_case, users, fresh, client):
    made = _build(open_case, users, fresh, 1)
    bounced, slip = made["setbacks"][0], made["slips"][0]
    client.force_login(users["worker_welfare"])
    assert client.get("/api/v1/me/work/").json()["setbacks_count"] == 1
    activity_add(case_id=bounced.case_id, actor=fresh(users["worker_welfare"]), kind="call", body="本人に電話")
    assert client.get("/api/v1/me/work/").json()["setbacks_count"] == 0

    assert client.get("/api/v1/me/work/").json()["slips_count"] == 1
    referral_create(
        case_id=slip.case_id,
        actor=fresh(users["worker_welfare"]),
        to_department="longevity_support",
        basis="internal_use",
        reason="訪問をお願いします",
    )
    assert client.get("/api/v1/me/work/").json()["slips_count"] == 0


def test_slips_are_for_the_desk_and_supervisors_see_their_departments_cases(open_case, users, fresh, client):
    _build(open_case, users, fresh, 1)
    open_case("desk_health")  # led by health, no lead worker
    client.force_login(users["worker_health"])
    work = client.get("/api/v1/me/work/").json()
    assert work["slips"] == [] and work["slips_count"] == 0
    assert work["led_cases_count"] == 0
    client.force_login(users["chief_health"])
    assert client.get("/api/v1/me/work/").json()["led_cases_count"] >= 1  # the department leads it
    client.force_login(users["minsei_kawakami"])
    assert client.get("/api/v1/me/work/").status_code == 403
    client.force_login(users["auditor"])
    assert client.get("/api/v1/me/work/").status_code == 403


def _queries(client, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_my_work_queries_do_not_grow_with_every_section_filled(open_case, users, fresh, client, monkeypatch):
    from referral_engine.timers import calendar

    monkeypatch.setattr(calendar, "VERSION_CHECK_SECONDS", 3600.0)
    _build(open_case, users, fresh, 2)
    client.force_login(users["worker_welfare"])
    small = {url: _queries(client, url) for url in ("/", "/api/v1/me/work/", "/work/followups/", "/work/setbacks/")}
    _build(open_case, users, fresh, 6)
    large = {url: _queries(client, url) for url in small}
    assert large == small
