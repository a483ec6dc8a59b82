"""The journey of DESIGN §1 in a real browser: the welfare desk opens a case for a new person and
refers it to two bodies → health accepts and moves a stage, longevity declines with a reason → the
desk supervisor sees the decline (notification and dashboard) → the auditor finds every step and
every read in the case history and the access log. Every page is screenshotted and axe-checked."""

from __future__ import annotations

import pytest

from referral_engine.audit.models import AccessLog
from referral_engine.cases.models import Case, CaseEvent
from tests.browser.conftest import CASE_URL

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_referral_journey_from_intake_to_audit(session_for):
    # --- 1. Front desk: intake in one screen, a new person, two referrals -----------------------
    desk = session_for("desk_welfare")
    desk.goto("/")
    desk.check("journey-01-desk-home")
    desk.goto("/cases/new/")
    page = desk.page
    assert page.is_visible("#person-search-input")  # the search box appears with the script
    desk.check("journey-02-intake-empty")
    page.fill("#id_family_name", "青江")
    page.fill("#id_given_name", "ハル")
    page.fill("#id_family_name_kana", "あおえ")
    page.fill("#id_given_name_kana", "はる")
    page.fill("#id_birth_date", "1939-03-15")
    assert page.inner_text("#birth-wareki") == "昭和14年3月15日"
    page.select_option("#id_district", "aoe")
    page.fill("#id_summary", "夫を亡くしてから外出が減り、食事も不規則。近所づきあいもない。")
    page.check("#id_needs_0")  # 孤独・孤立
    page.check("#id_refer_health_promotion")
    page.fill("#id_reason_health_promotion", "保健師の家庭訪問をお願いします。")
    page.check("#id_refer_longevity_support")
    page.fill("#id_reason_longevity_support", "介護保険の申請が必要か確認をお願いします。")
    page.fill("#id_first_note", "窓口で長く話していかれた。")
    desk.shot("journey-03-intake-filled")
    page.click("button:has-text('受け付ける')")
    page.wait_for_url(CASE_URL)
    case = Case.objects.get(person__family_name="青江")
    assert page.is_visible(f"text=ケース {case.number} を受け付けました。")
    assert set(case.referrals.values_list("to_department__code", flat=True)) == {
        "health_promotion",
        "longevity_support",
    }
    desk.check("journey-04-case-opened")

    # --- 2. Health: accept from the inbox, then move a stage on the case page ---------------------
    health = session_for("worker_health")
    health.goto("/inbox/")
    health.check("journey-05-health-inbox")
    card = health.page.locator("article.inbox-card", has_text=case.number)
    card.locator("button:has-text('受理する')").click()
    health.page.wait_for_url("**/inbox/")
    assert health.page.is_visible("text=健康推進課として受理しました。")
    health.goto(f"/cases/{case.pk}/")
    referral = case.referrals.get(to_department__code="health_promotion")
    article = health.page.locator(f"#referral-{referral.pk}")
    assert article.locator(".stage-badge").inner_text().endswith("訪問調整")
    assert article.locator("figure.diagram svg, ol.stage-list").count() == 1  # diagram or stage list
    health.check("journey-06-health-case-accepted")
    article.locator("summary:has-text('家庭訪問を実施した')").click()  # a stage move asks first (issue 18)
    article.locator("button:has-text('家庭訪問を実施した（確定）')").click()
    health.page.wait_for_load_state("load")
    referral.refresh_from_db()
    assert referral.state == "accepted" and referral.stage == "home_visited"
    assert "家庭訪問済み" in health.page.locator(f"#referral-{referral.pk} .stage-badge").inner_text()
    health.check("journey-07-health-stage-moved")

    # --- 3. Longevity: decline with a reason --------------------------------------------------------
    longevity = session_for("worker_longevity")
    longevity.goto("/inbox/")
    card = longevity.page.locator("article.inbox-card", has_text=case.number)
    card.locator("summary:has-text('辞退する')").click()
    card.locator("textarea[name=reason]").fill("介護保険の対象ではなく、まず健康面の支援が先と判断しました。")
    longevity.check("journey-08-longevity-decline-open")
    card.locator("button:has-text('辞退する（確定）')").click()
    longevity.page.wait_for_url("**/inbox/")
    declined = case.referrals.get(to_department__code="longevity_support")
    assert declined.state == "declined"

    # --- 4. The desk supervisor learns of it: notification and dashboard ----------------------------
    chief = session_for("chief_welfare")
    chief.goto("/")
    assert chief.page.locator(".main-nav .count-badge").count() == 1  # unread count in the header
    chief.goto("/notifications/")
    assert chief.page.is_visible(f"text=長寿支援課 が辞退しました: {case.number}")
    chief.check("journey-09-chief-notifications")
    chief.goto("/dashboard/")
    setbacks = chief.page.locator("#setbacks")
    assert case.number in setbacks.inner_text() and "まず健康面の支援が先" in setbacks.inner_text()
    chief.check("journey-10-chief-dashboard")
    chief.goto(f"/cases/{case.pk}/")
    assert chief.page.is_visible("text=介護保険の対象ではなく、まず健康面の支援が先と判断しました。")
    chief.check("journey-11-chief-case")

    # --- 5. The auditor finds every step and every read ---------------------------------------------
    auditor = session_for("auditor")
    auditor.goto("/audit/")
    auditor.check("journey-12-audit-index")
    auditor.goto(f"/audit/cases/{case.pk}/")
    history = auditor.page.inner_text("main")
    auditor.check("journey-13-audit-case-history")
    for user in ("desk_welfare", "worker_health", "worker_longevity"):
        assert user in history, f"{user} missing from the case history"
    events = CaseEvent.objects.filter(case=case)
    steps = {(e.kind, e.name) for e in events}
    assert {
        ("case_opened", "open"),
        ("referral_requested", "request"),
        ("referral_transition", "accept"),
        ("stage_transition", "record_home_visit"),
        ("referral_transition", "decline"),
    } <= steps
    reads = set(AccessLog.objects.filter(case_id=case.pk, action="view").values_list("username", flat=True))
    assert {"desk_welfare", "worker_health", "chief_welfare", "auditor"} <= reads
    auditor.goto(f"/audit/access-log/?case={case.pk}")
    access = auditor.page.inner_text("main")
    for user in ("desk_welfare", "worker_health", "chief_welfare"):
        assert user in access, f"{user}'s read missing from the access log page"
    auditor.check("journey-14-audit-access-log")
