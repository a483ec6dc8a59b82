"""An XSS payload typed into every free-text field renders as text, on every page that shows it.

A dialog (alert) anywhere fails the test (Session.check), and no <img src=x> element may appear."""

from __future__ import annotations

from datetime import timedelta

import pytest

from referral_engine.cases.models import Case, CommunitySlip
from referral_engine.timers.models import Escalation, Timer
from referral_engine.timers.sweep import timers_sweep_due
from tests.browser.conftest import CASE_URL, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def assert_inert(session, name: str) -> None:
    page = session.page
    assert page.locator("img[src=x]").count() == 0, f"{name}: an injected <img> was parsed"
    assert page.evaluate("() => [...document.scripts].every(s => s.src && !s.text.includes('alert'))")
    assert not session.dialogs, f"{name}: {session.dialogs}"
    session.check(name)


def open_details(page, scope, summary_text: str):
    scope.locator(f"summary:has-text('{summary_text}')").first.click()


def test_payload_in_every_free_text_field_renders_as_text(session_for, users):
    # --- Intake: every text field of the form -------------------------------------------------------
    desk = session_for("desk_welfare")
    page = desk.page
    desk.goto("/cases/new/")
    page.fill("#person-search-input", PAYLOAD)  # search as you type renders results with textContent
    page.wait_for_timeout(600)
    for selector in (
        "#id_family_name",
        "#id_given_name",
        "#id_family_name_kana",
        "#id_given_name_kana",
        "#id_address",
        "#id_phone",
        "#id_summary",
        "#id_first_note",
    ):
        page.fill(selector, PAYLOAD)  # maxlength may cut it: still markup if it were rendered raw
    page.check("#id_consent_given")
    page.check("input[name=consent_recipients][value=shakyo]")
    page.fill("#id_consent_purposes", PAYLOAD)
    page.check("#id_refer_health_promotion")
    page.fill("#id_reason_health_promotion", PAYLOAD)
    page.fill("#id_justification_health_promotion", PAYLOAD)
    page.check("#id_refer_longevity_support")
    page.fill("#id_reason_longevity_support", PAYLOAD)
    page.check("#id_refer_shakyo")
    page.select_option("#id_basis_shakyo", "consent")
    page.fill("#id_reason_shakyo", PAYLOAD)
    page.click(".form-actions button.button-primary")
    page.wait_for_url(CASE_URL)
    case = Case.objects.get()
    assert case.summary == PAYLOAD
    assert page.locator("text=" + PAYLOAD).count() >= 1  # shown as the literal text
    assert_inert(desk, "xss-01-case-after-intake")

    # --- Case page forms: activity, consent, referral, state change reasons --------------------------
    open_details(page, page.locator("#activities"), "支援記録を追加する")
    page.fill("#id_body", PAYLOAD)
    page.click("#activities button:has-text('記録する')")
    page.wait_for_url(CASE_URL)
    open_details(page, page.locator("#consents"), "同意を記録する")
    page.check("#consents input[name=recipients][value=disaster_prevention]")
    page.fill("#id_purposes", PAYLOAD)
    page.fill("#id_note", PAYLOAD)
    page.click("#consents button:has-text('同意を記録する')")
    page.wait_for_url(CASE_URL)
    open_details(page, page.locator("#referrals"), "ほかの部署・団体へつなぐ")
    page.select_option("#id_to_department", "disaster_prevention")
    page.select_option("#id_basis", "disaster")
    page.fill("#id_reason", PAYLOAD)
    page.fill("#id_justification", PAYLOAD)
    page.click("#referrals button:has-text('つなぎを依頼する')")
    page.wait_for_url(CASE_URL)
    page.click("#state button:has-text('アセスメントを始める')")
    page.wait_for_url(CASE_URL)
    open_details(page, page.locator("#state"), "中断・保留にする")
    page.fill("#case-reason-hold", PAYLOAD)
    page.click("#state button:has-text('中断・保留にする（確定）')")
    page.wait_for_url(CASE_URL)
    consent = case.consents.order_by("id").first()
    item = page.locator("li.consent", has=page.locator(f"#withdraw-note-{consent.pk}"))
    open_details(page, item, "同意の撤回を記録する")
    page.fill(f"#withdraw-note-{consent.pk}", PAYLOAD)
    item.locator("button:has-text('撤回を記録する（確定）')").click()
    page.wait_for_url(CASE_URL)
    desk.goto(f"/cases/?q={PAYLOAD}")
    assert_inert(desk, "xss-02-case-list-search")
    desk.goto(f"/cases/{case.pk}/")
    assert_inert(desk, "xss-03-case-after-forms")

    # --- Health: accept, fill the stage record with the payload ---------------------------------------
    health = session_for("worker_health")
    health.goto(f"/cases/{case.pk}/")
    referral = case.referrals.get(to_department__code="health_promotion")
    card = health.page.locator(f"#referral-{referral.pk}")
    card.locator("button:has-text('受理する')").click()
    health.page.wait_for_load_state("load")
    card = health.page.locator(f"#referral-{referral.pk}")
    open_details(health.page, card, "部署の記録を入力する")
    card.locator("input[name=visited_by]").fill(PAYLOAD[:100])
    card.locator("textarea[name=findings]").fill(PAYLOAD)
    card.locator("button:has-text('記録を保存する')").click()
    health.page.wait_for_load_state("load")
    assert_inert(health, "xss-04-health-case-with-record")

    # --- Longevity: decline with the payload as the reason --------------------------------------------
    longevity = session_for("worker_longevity")
    longevity.goto("/inbox/")
    card = longevity.page.locator("article.inbox-card", has_text=case.number)
    assert_inert(longevity, "xss-05-longevity-inbox")
    open_details(longevity.page, card, "辞退する")
    card.locator("textarea[name=reason]").fill(PAYLOAD)
    card.locator("button:has-text('辞退する（確定）')").click()
    longevity.page.wait_for_url("**/inbox/")

    # --- The supervisor: notifications, dashboard, escalation note ------------------------------------
    shakyo = case.referrals.get(to_department__code="shakyo")
    timer = Timer.objects.get(referral=shakyo, is_open=True)
    timers_sweep_due(now=timer.due_at + timedelta(minutes=1))
    escalation = Escalation.objects.filter(referral=shakyo).order_by("-level").first()
    chief = session_for("chief_welfare")
    chief.goto("/notifications/")
    assert_inert(chief, "xss-06-chief-notifications")
    chief.goto("/dashboard/")
    # The case may carry several escalations (handoff, stall): act on the one this test fetched.
    article = chief.page.locator(f"article.esc-card[aria-labelledby='h-esc-{escalation.pk}']")
    article.locator("textarea[name=note]").fill(PAYLOAD)
    article.locator("button:has-text('確認済みにする')").click()
    chief.page.wait_for_url("**/dashboard/")
    escalation.refresh_from_db()
    assert escalation.note == PAYLOAD
    assert_inert(chief, "xss-07-chief-dashboard")
    chief.goto(f"/cases/{case.pk}/")
    assert_inert(chief, "xss-08-chief-case")

    # --- The connector: every field of the slip ------------------------------------------------------
    minsei = session_for("minsei_kawakami", viewport=PHONE)
    minsei.goto("/slips/")
    for selector in ("#id_concern", "#id_name", "#id_name_kana", "#id_address_note"):
        minsei.page.fill(selector, PAYLOAD)
    minsei.page.click("button:has-text('つなぎ票を送る')")
    minsei.page.wait_for_url("**/slips/")
    assert_inert(minsei, "xss-09-connector-slips")
    slip_case = CommunitySlip.objects.get().case
    desk.goto(f"/cases/{slip_case.pk}/")
    assert_inert(desk, "xss-10-slip-case")

    # --- The auditor: the history shows every stored value -----------------------------------------
    auditor = session_for("auditor")
    auditor.goto(f"/audit/cases/{case.pk}/")
    assert PAYLOAD in auditor.page.inner_text("main")
    assert_inert(auditor, "xss-11-audit-history")
    auditor.goto(f"/audit/access-log/?case={case.pk}")
    assert_inert(auditor, "xss-12-audit-access-log")

    for session in (desk, health, longevity, chief, minsei, auditor):
        assert not session.dialogs
