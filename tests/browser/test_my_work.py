"""Issue 18 in the browser, at 1280 and 390 px (screenshots under artifacts/screenshots/, axe on every
new page): an urgent handoff appears on the right home page; accepting assigns; a follow-up shows in
my work, becomes overdue and escalates; はざま clears when a department accepts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from referral_engine.cases.models import FollowUp
from referral_engine.cases.services.referrals import referral_create, referral_transition
from referral_engine.timers.models import Escalation, Timer
from referral_engine.timers.sweep import timers_sweep_due
from tests.browser.conftest import DESKTOP, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
WIDTHS = [pytest.param(DESKTOP, id="1280"), pytest.param(PHONE, id="390")]
TO_WELFARE = {"to_department": "social_welfare", "basis": "internal_use", "reason": "多機関で協議したい"}


def _no_horizontal_scroll(session) -> None:
    assert session.page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("viewport", WIDTHS)
def test_urgent_handoff_reaches_the_right_home_and_accepting_assigns(viewport, session_for, open_case):
    w = viewport["width"]
    case = open_case("desk_health", referrals=[{**TO_WELFARE, "urgent": True}])
    referral = case.referrals.get()

    welfare = session_for("worker_welfare", viewport=viewport)
    welfare.goto("/")
    urgent = welfare.page.locator("#urgent")
    assert case.number in urgent.inner_text() and "緊急のつなぎ" in urgent.inner_text()
    assert case.number in welfare.page.locator("#work-inbox").inner_text()
    _no_horizontal_scroll(welfare)
    welfare.check(f"work-{w}-01-welfare-home-urgent")

    health = session_for("worker_longevity", viewport=viewport)  # another department: not theirs
    health.goto("/")
    assert health.page.locator("#urgent").count() == 0
    assert case.number not in health.page.content()
    health.check(f"work-{w}-02-other-home")

    welfare.goto(f"/cases/{case.pk}/")
    welfare.page.click(f"#referral-{referral.pk} button:has-text('受理する')")
    welfare.page.wait_for_load_state("load")
    card = welfare.page.locator(f"#referral-{referral.pk}").inner_text()
    assert "福祉 担当" in card  # the accepting caseworker is its 担当者
    referral.refresh_from_db()
    assert referral.assigned_worker.username == "worker_welfare"
    welfare.check(f"work-{w}-03-accepted-assigned")
    welfare.goto("/cases/mine/")
    assert case.number in welfare.page.locator("#assigned").inner_text()
    _no_horizontal_scroll(welfare)
    welfare.check(f"work-{w}-04-my-cases")


@pytest.mark.parametrize("viewport", WIDTHS)
def test_a_followup_shows_in_my_work_becomes_overdue_and_escalates(viewport, session_for, open_case, users, fresh):
    w = viewport["width"]
    case = open_case("worker_welfare")
    worker = session_for("worker_welfare", viewport=viewport)
    worker.goto(f"/cases/{case.pk}/")
    worker.page.click("#followups summary:has-text('予定を立てる')")
    worker.page.fill("#id_followup-due_on", timezone.localdate().isoformat())
    worker.page.fill("#id_followup-note", "電話で様子を聞く")
    worker.check(f"work-{w}-05-followup-form")
    worker.page.click("#followups button:has-text('予定を登録する')")
    worker.page.wait_for_load_state("load")
    followup = FollowUp.objects.get(case=case)

    worker.goto("/")
    assert case.number in worker.page.locator("#work-followups").inner_text()
    worker.check(f"work-{w}-06-home-followup-today")

    # The day passes with the follow-up still open: the sweep fires L1 to its assignee.
    timer = Timer.objects.get(object_key=f"followup:{followup.pk}")
    timers_sweep_due(now=timer.l1_at + timedelta(hours=9))
    assert Escalation.objects.filter(rule="followup", level=1, case=case).exists()
    FollowUp.objects.filter(pk=followup.pk).update(due_on=timezone.localdate() - timedelta(days=1))
    worker.goto("/")
    assert "期限を過ぎた予定" in worker.page.locator("#urgent").inner_text()
    worker.check(f"work-{w}-07-home-followup-overdue")
    worker.goto("/notifications/")
    assert case.number in worker.page.content()
    worker.goto("/work/followups/")
    _no_horizontal_scroll(worker)
    worker.check(f"work-{w}-08-followups-list")


@pytest.mark.parametrize("viewport", WIDTHS)
def test_gap_clears_when_a_department_accepts(viewport, session_for, open_case, users, fresh):
    w = viewport["width"]
    case = open_case(
        "desk_welfare",
        referrals=[
            {"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問"},
            {"to_department": "longevity_support", "basis": "internal_use", "reason": "介護"},
        ],
    )
    for referral in case.referrals.all():
        who = "worker_health" if referral.to_department.code == "health_promotion" else "worker_longevity"
        referral_transition(referral_id=referral.pk, name="decline", actor=fresh(users[who]), reason="対象外")
    chief = session_for("chief_welfare", viewport=viewport)
    chief.goto("/dashboard/")
    assert case.number in chief.page.locator("#gap").inner_text()
    chief.check(f"work-{w}-09-dashboard-gap")

    shakyo = referral_create(
        case_id=case.pk,
        actor=fresh(users["chief_welfare"]),
        to_department="shakyo",
        basis="support_meeting",
        reason="サロンへの参加",
        justification="支援会議で合意",
    )
    worker = session_for("worker_shakyo", viewport=viewport)
    worker.goto(f"/cases/{case.pk}/")
    worker.page.click(f"#referral-{shakyo.pk} button:has-text('受理する')")
    worker.page.wait_for_load_state("load")

    chief.goto("/dashboard/")
    assert case.number not in chief.page.locator("#gap").inner_text()
    chief.goto(f"/cases/{case.pk}/")
    assert "はざまが解消した" in chief.page.locator("#timeline").inner_text()
    chief.check(f"work-{w}-10-gap-cleared-timeline")
