"""The desk triages a community slip about a registered person in a real browser (issue 17 item 5):
a connector sends a slip from the phone form → the desk opens its queue, sees the registered person
among the candidates and links the slip → the slip leaves the queue, its case now belongs to the
registered person (no orphan record), and the case page shows the connector's note that the person
agreed to be contacted. Every page is screenshotted and axe-checked."""

from __future__ import annotations

import pytest

from referral_engine.cases.models import CommunitySlip, Person
from tests.browser.conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_desk_links_a_slip_to_a_registered_person(session_for, users):
    from referral_engine.cases.services.intake import case_open

    registered = case_open(
        actor=users["worker_welfare"],
        summary="一人暮らし",
        person={"family_name": "川上", "given_name": "トメ", "family_name_kana": "カワカミ", "given_name_kana": "トメ"},
        confirm_new_person=True,
    )

    # --- 1. The connector sends a slip from the phone ---------------------------------------------
    minsei = session_for("minsei_kawakami", viewport=PHONE)
    minsei.goto("/slips/")
    page = minsei.page
    page.fill("#id_concern", "新聞がたまっていて、呼び鈴に応答がない。")
    page.fill("#id_name", "川上 トメ")
    page.fill("#id_name_kana", "カワカミ トメ")
    page.check("#id_person_agreed_to_contact")
    page.click("button:has-text('つなぎ票を送る')")
    page.wait_for_url("**/slips/")
    slip = CommunitySlip.objects.get()
    provisional_id = slip.case.person_id
    assert provisional_id != registered.person_id

    # --- 2. The desk's queue: the slip, with the registered person as a candidate -------------------
    desk = session_for("desk_welfare")
    desk.goto("/")
    desk.page.click("nav >> text=つなぎ票の確認")
    desk.page.wait_for_url("**/slips/queue/")
    card = desk.page.locator(f"#slip-{slip.pk}")
    assert card.is_visible()
    assert card.locator("text=新聞がたまっていて").is_visible()
    desk.check("slip-triage-01-queue")

    # --- 3. Link it ------------------------------------------------------------------------------------
    card.locator(f"button[data-link-person='{registered.person_id}']").click()
    desk.page.wait_for_url("**/slips/queue/")
    assert desk.page.is_visible("text=つなぎ票を登録済みの本人に統合しました")
    assert desk.page.locator(f"#slip-{slip.pk}").count() == 0
    assert desk.page.is_visible("text=確認を待っているつなぎ票はありません。")
    desk.check("slip-triage-02-queue-empty")

    slip.refresh_from_db()
    assert slip.triage == "linked"
    assert slip.case.person_id == registered.person_id
    assert Person.objects.get(pk=provisional_id).merged_into_id == registered.person_id
    assert not Person.objects.filter(cases__isnull=True, merged_into__isnull=True).exists()  # no orphan

    # --- 4. The slip's case: the registered person, and the connector's note on contact ---------------
    desk.goto(f"/cases/{slip.case_id}/")
    assert desk.page.is_visible("[data-person-agreed='yes']")
    assert desk.page.is_visible("text=本人の記録を統合した") or desk.page.is_visible(
        "text=つなぎ票の本人を登録済みの本人に統合した"
    )
    desk.check("slip-triage-03-case")
