"""Individual evacuation plans that live on (issue 19 item 3): made at `plan_made`, marking the person
`evacuation_support`, kept after the referral is completed, listed by district, printable, and
reminded a month before their review date (`plan_review`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from referral_engine.accounts.system import system_user
from referral_engine.cases.choices import PersonFlag, ReferralState
from referral_engine.cases.models import EvacuationPlan
from referral_engine.cases.services.evacuation_plans import evacuation_plan_reminders_send
from referral_engine.cases.services.records import stage_record_update
from referral_engine.cases.services.referrals import referral_transition
from referral_engine.notifications.models import Notification

pytestmark = pytest.mark.django_db

SUPPORTERS = [{"name": "津久見 太郎", "relation": "長男", "contact": "090-0000-0000"}]


@pytest.fixture
def plan_referral(open_case, users, fresh):
    case = open_case(
        "worker_welfare",
        referrals=[{"to_department": "disaster_prevention", "basis": "internal_use", "reason": "避難支援"}],
    )
    referral = case.referrals.get()
    bosai = users["worker_bosai"]
    for name in ("accept", "confirm_register_entry", "record_plan_consent"):
        referral_transition(referral_id=referral.pk, name=name, actor=fresh(bosai))
    review = timezone.localdate() + timedelta(days=40)
    stage_record_update(
        referral_id=referral.pk,
        actor=fresh(bosai),
        data={"supporters": SUPPORTERS, "evacuation_destination": "第一小学校", "review_date": review.isoformat()},
    )
    return referral


def test_a_plan_is_made_at_plan_made_and_marks_the_person(plan_referral, users, fresh):
    assert not EvacuationPlan.objects.exists()  # drafting is not a plan yet
    referral_transition(referral_id=plan_referral.pk, name="finalise_plan", actor=fresh(users["worker_bosai"]))
    plan = EvacuationPlan.objects.get()
    assert plan.supporters == SUPPORTERS and plan.destination == "第一小学校"
    assert plan.district.code == "kawakami" and plan.person == plan_referral.case.person
    assert timezone.localtime(plan.review_remind_at).date() == plan.review_date - timedelta(days=30)
    plan.person.refresh_from_db()
    assert PersonFlag.EVACUATION_SUPPORT in plan.person.flags
    assert plan.history.count() == 1


def test_editing_the_record_at_plan_made_moves_the_review(plan_referral, users, fresh):
    referral_transition(referral_id=plan_referral.pk, name="finalise_plan", actor=fresh(users["worker_bosai"]))
    later = timezone.localdate() + timedelta(days=200)
    stage_record_update(
        referral_id=plan_referral.pk, actor=fresh(users["worker_bosai"]), data={"review_date": later.isoformat()}
    )
    plan = EvacuationPlan.objects.get()
    assert plan.review_date == later
    assert timezone.localtime(plan.review_remind_at).date() == later - timedelta(days=30)


def test_plan_review_fires_for_a_plan_whose_referral_is_completed(plan_referral, users, fresh):
    bosai = users["worker_bosai"]
    referral_transition(referral_id=plan_referral.pk, name="finalise_plan", actor=fresh(bosai))
    referral_transition(referral_id=plan_referral.pk, name="complete", actor=fresh(bosai))
    plan_referral.refresh_from_db()
    assert plan_referral.state == ReferralState.COMPLETED
    plan = EvacuationPlan.objects.get()
    assert plan.is_active
    system = system_user()
    assert evacuation_plan_reminders_send(actor=system, now=plan.review_remind_at - timedelta(minutes=1)) == 0
    assert evacuation_plan_reminders_send(actor=system, now=plan.review_remind_at + timedelta(minutes=1)) == 1
    told = Notification.objects.filter(kind="plan_review")
    # The supervisors and the referral's assigned worker (accepting assigned the accepting caseworker).
    assert {n.recipient.username for n in told} == {"chief_bosai", "worker_bosai"}
    assert plan_referral.case.person.family_name not in told.first().title  # no name in mail
    assert evacuation_plan_reminders_send(actor=system, now=plan.review_remind_at + timedelta(days=2)) == 0


def test_the_list_and_the_printable_plan(plan_referral, users, fresh, client):
    referral_transition(referral_id=plan_referral.pk, name="finalise_plan", actor=fresh(users["worker_bosai"]))
    plan = EvacuationPlan.objects.get()
    client.force_login(users["worker_bosai"])
    listed = client.get("/api/v1/evacuation-plans/").json()["results"]
    assert [(p["id"], p["district"], p["destination"], p["supporters"]) for p in listed] == [
        (plan.pk, "kawakami", "第一小学校", SUPPORTERS)
    ]
    assert client.get("/api/v1/evacuation-plans/?district=aoe").json()["results"] == []
    page = client.get("/evacuation-plans/").content.decode()
    assert "第一小学校" in page and "津久見 太郎" in page
    sheet = client.get(f"/evacuation-plans/{plan.pk}/print/")
    assert sheet.status_code == 200 and "090-0000-0000" in sheet.content.decode()
    for outsider, api_status in (("worker_welfare", 403), ("minsei_kawakami", 403)):
        client.force_login(users[outsider])
        assert client.get("/api/v1/evacuation-plans/").status_code == api_status
        assert client.get(f"/evacuation-plans/{plan.pk}/print/").status_code == 404
