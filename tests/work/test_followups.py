"""Issue 18 item 3: follow-ups (予定) — create, list (`?mine=true`), done with a note; on the case and
in my work; an open one past its day escalates with rule `followup` (L1 to the assignee, L2 to the
supervisors of the assignee's department two office days later); `start_monitoring` sets the review."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from referral_engine.cases.choices import EventKind
from referral_engine.cases.models import CaseEvent, FollowUp
from referral_engine.cases.services.case_state import case_transition
from referral_engine.cases.services.followups import followup_create, followup_done
from referral_engine.cases.services.referrals import referral_transition
from referral_engine.notifications.models import Notification
from referral_engine.timers.models import Escalation, Timer
from referral_engine.timers.sweep import timers_sweep_due

pytestmark = pytest.mark.django_db
JST = ZoneInfo("Asia/Tokyo")
TO_LONGEVITY = [{"to_department": "longevity_support", "basis": "internal_use", "reason": "介護の相談"}]


@pytest.fixture
def case(open_case):
    """Opened by worker_welfare (lead social_welfare, lead worker worker_welfare), referred to
    longevity_support (requested: longevity sees it limited)."""
    return open_case("worker_welfare", referrals=TO_LONGEVITY)


def _api_create(client, case_id, **body):
    return client.post(f"/api/v1/cases/{case_id}/followups/", body, content_type="application/json")


def test_api_create_list_and_done(case, users, client):
    client.force_login(users["worker_welfare"])
    day = (timezone.localdate() + timedelta(days=3)).isoformat()
    response = _api_create(client, case.pk, due_on=day, note="電話で様子を聞く")
    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("case", "due_on", "note", "assignee", "state")} == {
        "case": case.pk,
        "due_on": day,
        "note": "電話で様子を聞く",
        "assignee": "worker_welfare",
        "state": "open",
    }
    followup = FollowUp.objects.get(pk=body["id"])
    assert followup.history.count() == 1
    event = CaseEvent.objects.get(case=case, kind=EventKind.FOLLOWUP, name="followup_created")
    assert event.data["due_on"] == day and "電話" not in str(event.data)  # the note stays off the timeline
    timer = Timer.objects.get(object_key=f"followup:{followup.pk}")
    midnight = datetime.combine(followup.due_on + timedelta(days=1), time.min, tzinfo=JST)
    assert (timer.rule, timer.is_open, timer.l1_at, timer.next_fire_at) == ("followup", True, midnight, midnight)
    assert timer.due_at > midnight  # L2 two office days later

    mine = client.get("/api/v1/followups/?mine=true").json()
    assert [f["id"] for f in mine["results"]] == [followup.pk]
    assert [f["id"] for f in client.get(f"/api/v1/cases/{case.pk}/followups/").json()["results"]] == [followup.pk]

    assert client.post(f"/api/v1/followups/{followup.pk}/done/", {}, content_type="application/json").status_code == 400
    done = client.post(
        f"/api/v1/followups/{followup.pk}/done/", {"note": "元気だった"}, content_type="application/json"
    )
    assert done.status_code == 200 and done.json()["state"] == "done" and done.json()["done_note"] == "元気だった"
    timer.refresh_from_db()
    assert timer.is_open is False
    again = client.post(f"/api/v1/followups/{followup.pk}/done/", {"note": "再度"}, content_type="application/json")
    assert again.status_code == 409
    assert client.get("/api/v1/followups/?mine=true").json()["results"] == []


def test_api_bad_input_and_reach(case, users, client):
    client.force_login(users["worker_welfare"])
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    past = _api_create(client, case.pk, due_on=yesterday)
    assert past.status_code == 400 and "due_on" in past.json()["fields"]
    assert _api_create(client, case.pk, due_on="2026/13/01").status_code == 400
    stranger = _api_create(client, case.pk, due_on=tomorrow, assignee="worker_shakyo")
    assert stranger.status_code == 400 and "assignee" in stranger.json()["fields"]
    client.force_login(users["worker_longevity"])  # sees the case (limited), does not work it
    assert _api_create(client, case.pk, due_on=tomorrow).status_code == 403
    client.force_login(users["worker_shakyo"])  # does not see it at all
    assert _api_create(client, case.pk, due_on=tomorrow).status_code == 404
    assert FollowUp.objects.count() == 0


def test_notes_only_for_those_who_may_read_them(case, users, client, fresh):
    followup = followup_create(
        case_id=case.pk, actor=fresh(users["worker_welfare"]), due_on=timezone.localdate(), note="本人の体調のこと"
    )
    client.force_login(users["worker_longevity"])  # limited viewer
    listed = client.get(f"/api/v1/cases/{case.pk}/followups/").json()["results"]
    assert listed[0]["id"] == followup.pk and listed[0]["note"] is None
    assert "本人の体調のこと" not in client.get(f"/cases/{case.pk}/").content.decode()


def test_an_overdue_followup_escalates_l1_to_the_assignee_then_l2_to_the_supervisor(case, users, fresh):
    followup = followup_create(
        case_id=case.pk, actor=fresh(users["chief_welfare"]), due_on=timezone.localdate(), assignee="worker_welfare"
    )
    timer = Timer.objects.get(object_key=f"followup:{followup.pk}")
    timers_sweep_due(now=timer.l1_at - timedelta(minutes=1))
    assert not Escalation.objects.filter(rule="followup").exists()  # still its day

    timers_sweep_due(now=timer.l1_at + timedelta(hours=9))
    assert list(Escalation.objects.filter(rule="followup").values_list("level", flat=True)) == [1]
    l1 = Escalation.objects.get(rule="followup", level=1)
    assert (l1.case_id, l1.department.code, l1.object_key) == (case.pk, "social_welfare", f"followup:{followup.pk}")
    assert list(Notification.objects.filter(escalation_id=l1.pk).values_list("recipient__username", flat=True)) == [
        "worker_welfare"
    ]
    assert CaseEvent.objects.filter(case=case, kind=EventKind.ESCALATION, name="L1").exists()

    timers_sweep_due(now=timer.due_at)
    assert sorted(Escalation.objects.filter(rule="followup").values_list("level", flat=True)) == [1, 2]
    l2 = Escalation.objects.get(rule="followup", level=2)
    assert set(Notification.objects.filter(escalation_id=l2.pk).values_list("recipient__username", flat=True)) == {
        "chief_welfare"
    }
    timers_sweep_due(now=timer.due_at + timedelta(days=30))
    assert not Escalation.objects.filter(rule="followup", level=3).exists()  # no L3 for a follow-up

    followup_done(followup_id=followup.pk, actor=fresh(users["worker_welfare"]), note="訪問した")
    assert set(Escalation.objects.filter(rule="followup").values_list("state", flat=True)) == {"resolved"}


def test_start_monitoring_sets_the_review(open_case, users, fresh, client):
    case = open_case("worker_welfare")
    worker = fresh(users["worker_welfare"])
    case_transition(case_id=case.pk, name="start_assessment", actor=worker)
    case_transition(case_id=case.pk, name="start_support", actor=worker)
    case_transition(case_id=case.pk, name="start_monitoring", actor=worker)
    review = FollowUp.objects.get(case=case)
    assert review.due_on == timezone.localdate() + timedelta(days=90)
    assert review.assignee == users["worker_welfare"] and review.note == "モニタリングの見直し"

    other = open_case("worker_welfare")
    for name in ("start_assessment", "start_support"):
        case_transition(case_id=other.pk, name=name, actor=worker)
    client.force_login(users["worker_welfare"])
    day = (timezone.localdate() + timedelta(days=30)).isoformat()
    bad = client.post(
        f"/api/v1/cases/{other.pk}/transitions/start_monitoring/",
        {"review_on": "1999-01-01"},
        content_type="application/json",
    )
    assert bad.status_code == 400 and "review_on" in bad.json()["fields"]
    assert other.__class__.objects.get(pk=other.pk).state == "in_support"  # nothing half-saved
    ok = client.post(
        f"/api/v1/cases/{other.pk}/transitions/start_monitoring/", {"review_on": day}, content_type="application/json"
    )
    assert ok.status_code == 200 and ok.json()["state"] == "monitoring"
    assert FollowUp.objects.get(case=other).due_on.isoformat() == day


def test_web_case_page_create_and_done(case, users, client):
    client.force_login(users["worker_welfare"])
    day = (timezone.localdate() + timedelta(days=2)).isoformat()
    response = client.post(f"/cases/{case.pk}/followups/", {"followup-due_on": day, "followup-note": "再訪問"})
    assert response.status_code == 302
    followup = FollowUp.objects.get(case=case)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert f'id="followup-{followup.pk}"' in page and "再訪問" in page
    bad = client.post(f"/cases/{case.pk}/followups/", {"followup-due_on": "2000-01-01"})
    assert bad.status_code == 400 and "今日から3年以内" in bad.content.decode()
    done = client.post(f"/followups/{followup.pk}/done/", {"note": "訪問して確認した", "next": f"/cases/{case.pk}/"})
    assert done.status_code == 302
    assert FollowUp.objects.get(pk=followup.pk).state == "done"


def test_accepting_department_worker_may_hold_a_followup(case, users, fresh):
    referral = case.referrals.get()
    referral_transition(referral_id=referral.pk, name="accept", actor=fresh(users["worker_longevity"]))
    followup = followup_create(
        case_id=case.pk, actor=fresh(users["worker_welfare"]), due_on=timezone.localdate(), assignee="worker_longevity"
    )
    assert followup.department.code == "longevity_support"
