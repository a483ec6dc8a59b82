"""The evacuation-plan pages in a browser (issue 19): the list by district and the printable plan,
checked with axe-core, and the print layout (no navigation, the plan alone)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from referral_engine.cases.services.records import stage_record_update
from referral_engine.cases.services.referrals import referral_transition

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_disaster_prevention_lists_and_prints_a_plan(session_for, open_case, users, fresh):
    case = open_case(
        "worker_welfare",
        referrals=[{"to_department": "disaster_prevention", "basis": "internal_use", "reason": "避難支援"}],
    )
    referral = case.referrals.get()
    for name in ("accept", "confirm_register_entry", "record_plan_consent"):
        referral_transition(referral_id=referral.pk, name=name, actor=fresh(users["worker_bosai"]))
    stage_record_update(
        referral_id=referral.pk,
        actor=fresh(users["worker_bosai"]),
        data={
            "supporters": [{"name": "津久見 太郎", "relation": "長男", "contact": "090-0000-0000"}],
            "evacuation_destination": "第一小学校",
            "review_date": (timezone.localdate() + timedelta(days=200)).isoformat(),
        },
    )
    referral_transition(referral_id=referral.pk, name="finalise_plan", actor=fresh(users["worker_bosai"]))
    referral_transition(referral_id=referral.pk, name="complete", actor=fresh(users["worker_bosai"]))

    bosai = session_for("worker_bosai")
    page = bosai.page
    bosai.goto("/evacuation-plans/?district=kawakami")
    assert "第一小学校" in page.inner_text("main") and "津久見 太郎" in page.inner_text("main")
    bosai.check("plans-01-list")
    page.click("a:has-text('印刷用')")
    page.wait_for_url("**/print/")
    assert "090-0000-0000" in page.inner_text(".plan-supporters")
    bosai.check("plans-02-print")
    page.emulate_media(media="print")
    assert not page.locator("header").first.is_visible()
    assert not page.locator("button:has-text('印刷する')").is_visible()
    assert page.locator(".plan-sheet").is_visible()
