"""Reassessment (issue 17 item 7): risk, needs and summary change with a reason; the history names
who and why, the timeline has the event, and the stall clock follows the new risk."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from referral_engine.cases.choices import EventKind
from referral_engine.cases.models import Case, CaseEvent
from referral_engine.cases.services.case_state import case_transition
from referral_engine.cases.services.reassessment import case_reassess
from referral_engine.errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from referral_engine.timers.models import Timer

pytestmark = pytest.mark.django_db


def test_reassess_to_urgent_moves_the_stall_deadline_to_one_day(open_case, users, fresh):
    case = open_case("worker_welfare")
    assert case.stall_due_at - case.last_touched_at >= timedelta(days=14)  # normal risk: 14 days

    before = timezone.now()
    case = case_reassess(
        case_id=case.pk, actor=fresh(users["worker_welfare"]), risk="urgent", reason="訪問で体調の急変を確認"
    )
    after = timezone.now()

    case.refresh_from_db()
    assert case.risk == "urgent"
    assert before + timedelta(days=1) <= case.stall_due_at <= after + timedelta(days=1)
    timer = Timer.objects.get(case=case, rule="stall_urgent", is_open=True)
    assert timer.due_at == case.stall_due_at
    assert not Timer.objects.filter(case=case, rule="stall_normal", is_open=True).exists()


def test_history_names_who_and_why_and_the_timeline_has_the_event(open_case, users, fresh):
    case = open_case("worker_welfare")
    case_reassess(
        case_id=case.pk,
        actor=fresh(users["worker_welfare"]),
        risk="high",
        needs=["isolation", "care"],
        summary="転倒があり、介護の相談も必要。",
        reason="家族からの連絡",
    )
    row = Case.history.filter(id=case.pk).order_by("-history_id").first()
    assert row.history_user.username == "worker_welfare"
    assert row.history_change_reason == "reassess: 家族からの連絡"
    assert (row.risk, row.needs, row.summary) == ("high", ["isolation", "care"], "転倒があり、介護の相談も必要。")
    previous = row.prev_record
    assert (previous.risk, previous.needs) == ("normal", ["isolation"])

    event = CaseEvent.objects.get(case=case, kind=EventKind.REASSESSED)
    assert event.actor.username == "worker_welfare"
    assert event.reason == "家族からの連絡"
    assert event.data["risk"] == {"from": "normal", "to": "high"}
    assert event.data["needs"] == {"from": ["isolation"], "to": ["isolation", "care"]}
    assert event.data["summary_changed"] is True


def test_a_reason_is_required_and_nothing_is_saved_without_it(open_case, users, fresh):
    case = open_case("worker_welfare")
    with pytest.raises(InvalidInput) as refused:
        case_reassess(case_id=case.pk, actor=fresh(users["worker_welfare"]), risk="urgent", reason="  ")
    assert "reason" in refused.value.fields
    case.refresh_from_db()
    assert case.risk == "normal"
    assert not CaseEvent.objects.filter(case=case, kind=EventKind.REASSESSED).exists()


def test_who_may_reassess(open_case, users, fresh):
    case = open_case("worker_welfare", referrals=[{"to_department": "health_promotion", "basis": "internal_use"}])
    with pytest.raises(NotFound):  # sees nothing of the case
        case_reassess(case_id=case.pk, actor=fresh(users["worker_shakyo"]), risk="high", reason="r")
    with pytest.raises(Forbidden):  # a limited viewer (the referral is only requested)
        case_reassess(case_id=case.pk, actor=fresh(users["worker_health"]), risk="high", reason="r")
    with pytest.raises(Forbidden):  # front desk opens and refers, does not reassess
        case_reassess(case_id=case.pk, actor=fresh(users["desk_welfare"]), risk="high", reason="r")
    with pytest.raises(Forbidden):  # auditors change nothing
        case_reassess(case_id=case.pk, actor=fresh(users["auditor"]), risk="high", reason="r")
    case_reassess(case_id=case.pk, actor=fresh(users["chief_welfare"]), risk="high", reason="係長の判断")


def test_a_closed_case_is_not_reassessed(open_case, users, fresh):
    case = open_case("worker_welfare")
    case_transition(case_id=case.pk, name="close", actor=fresh(users["worker_welfare"]), closure_reason="resolved")
    with pytest.raises(IllegalTransition):
        case_reassess(case_id=case.pk, actor=fresh(users["worker_welfare"]), risk="high", reason="r")


def test_api_reassess(open_case, users, client):
    case = open_case("worker_welfare")
    client.force_login(users["worker_welfare"])
    url = f"/api/v1/cases/{case.pk}/reassess/"
    missing = client.post(url, {"risk": "urgent"}, content_type="application/json")
    assert missing.status_code == 400
    assert "reason" in missing.json()["fields"]
    bad = client.post(url, {"risk": "extreme", "reason": "r"}, content_type="application/json")
    assert bad.status_code == 400
    assert "risk" in bad.json()["fields"]
    ok = client.post(url, {"risk": "urgent", "needs": ["health"], "reason": "急変"}, content_type="application/json")
    assert ok.status_code == 200
    assert (ok.json()["risk"], ok.json()["needs"]) == ("urgent", ["health"])


def test_web_reassess_form(open_case, users, client):
    case = open_case("worker_welfare")
    client.force_login(users["worker_welfare"])
    page = client.get(f"/cases/{case.pk}/")
    assert f'action="/cases/{case.pk}/reassess/"' in page.content.decode()
    refused = client.post(f"/cases/{case.pk}/reassess/", {"risk": "urgent", "needs": ["isolation"], "summary": "s"})
    assert refused.status_code == 400  # no reason: the page again, with the field error
    case.refresh_from_db()
    assert case.risk == "normal"
    done = client.post(
        f"/cases/{case.pk}/reassess/",
        {"risk": "urgent", "needs": ["isolation", "health"], "summary": "体調が急変", "reason": "電話で確認"},
    )
    assert done.status_code == 302
    case.refresh_from_db()
    assert (case.risk, case.needs, case.summary) == ("urgent", ["isolation", "health"], "体調が急変")
