"""The connector's journey on a 390-pixel phone, and intake done with the keyboard alone."""

from __future__ import annotations

import pytest

from referral_engine.cases.models import Case, CommunitySlip
from referral_engine.cases.services.referrals import referral_create, referral_transition
from tests.browser.conftest import CASE_URL, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_connector_sends_a_slip_from_a_phone_and_follows_its_status(session_for, users):
    minsei = session_for("minsei_kawakami", viewport=PHONE)
    page = minsei.page
    minsei.goto("/")
    assert no_horizontal_scroll(page)
    minsei.check("connector-01-home-390")
    page.click("a:has-text('つなぎ票を書く')")
    page.wait_for_url("**/slips/")
    assert no_horizontal_scroll(page)
    minsei.check("connector-02-slip-form-390")

    # Sending without the one required field keeps what was typed and says what is missing.
    page.fill("#id_name", "保戸 太郎")
    page.click("button:has-text('つなぎ票を送る')")
    page.wait_for_load_state("load")
    assert page.locator("#id_concern-errors").is_visible()
    assert page.input_value("#id_name") == "保戸 太郎"
    minsei.check("connector-03-slip-error-390")

    page.fill("#id_concern", "郵便受けがあふれている。声をかけても出てこない。")
    page.click("label:has-text('急ぎ')")  # the whole label is the target
    page.fill("#id_address_note", "川上の公民館の裏の家")
    page.click("label:has-text('ご本人が市からの連絡を了承している')")
    button = page.locator("button:has-text('つなぎ票を送る')")
    box = button.bounding_box()
    assert box["height"] >= 48 and box["width"] >= 300  # a big button for a thumb
    button.click()
    page.wait_for_url("**/slips/")
    slip = CommunitySlip.objects.get()
    assert slip.urgency == "urgent" and slip.person_agreed_to_contact
    assert page.is_visible(f"text=受付番号 {slip.pk}")
    item = page.locator(".slip-item", has_text=f"受付番号 {slip.pk}")
    assert item.locator(".slip-status").inner_text() == "受付済み"
    assert "郵便受け" not in page.inner_text(".slip-list")  # status only, never contents
    assert no_horizontal_scroll(page)
    minsei.check("connector-04-slip-sent-390")

    # The desk refers it and longevity accepts: the connector now sees "connected", nothing more.
    case = Case.objects.get(pk=slip.case_id)
    referral = referral_create(
        case_id=case.pk,
        actor=users["chief_welfare"],
        to_department="longevity_support",
        basis="vital_interest",
        reason="安否確認",
        justification="新聞・郵便がたまり安否が不明",
    )
    referral_transition(referral_id=referral.pk, name="accept", actor=users["worker_longevity"])
    minsei.goto("/slips/")
    item = page.locator(".slip-item", has_text=f"受付番号 {slip.pk}")
    assert item.locator(".slip-status").inner_text() == "つながりました"
    assert minsei.goto(f"/cases/{case.pk}/").status == 404
    minsei.goto("/slips/")
    minsei.check("connector-05-slip-connected-390")


def _tab_to(page, selector: str, limit: int = 120) -> None:
    """Press Tab until the focused element matches `selector` (proves it is reachable by keyboard)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} not reachable with Tab")


def test_intake_with_the_keyboard_alone(session_for, open_case):
    existing = open_case("desk_health").person  # 津久見 花子1 (ツクミ ハナコ1)
    desk = session_for("desk_welfare")
    page = desk.page
    desk.goto("/cases/new/")

    # The skip link is the first stop and jumps to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.classList.contains('skip-link')")

    # Search as you type, pick the person with Tab + Enter.
    _tab_to(page, "#person-search-input")
    page.keyboard.type("つくみ")
    page.wait_for_selector("#person-search-results .search-result")
    assert "1件見つかりました" in page.inner_text("#person-search-status")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "この方を選ぶ"
    page.keyboard.press("Enter")
    assert page.is_visible("#selected-person") and page.is_hidden("#new-person")
    assert page.evaluate("() => document.activeElement.id") == "clear-person"
    assert page.input_value("#id_person_id") == str(existing.pk)

    _tab_to(page, "#id_channel")
    page.keyboard.press("ArrowDown")  # 窓口 → 電話
    _tab_to(page, "input[name=risk]")
    page.keyboard.press("ArrowLeft")  # 通常 → 高 (radio groups move with the arrow keys)
    _tab_to(page, "#id_summary")
    page.keyboard.type("電話で相談。外出が減っている。")
    _tab_to(page, "#id_needs_0")
    page.keyboard.press("Space")
    _tab_to(page, "#id_refer_health_promotion")
    page.keyboard.press("Space")
    assert page.is_visible("[data-department=health_promotion] .referral-details")
    _tab_to(page, "#id_reason_health_promotion")
    page.keyboard.type("保健師の訪問をお願いします。")
    _tab_to(page, ".form-actions button.button-primary")
    desk.shot("keyboard-01-intake-before-submit")
    page.keyboard.press("Enter")
    page.wait_for_url(CASE_URL)

    case = Case.objects.exclude(pk__in=existing.cases.order_by("id").values("pk")[:1]).get()
    assert case.person_id == existing.pk
    assert case.channel == "phone" and case.risk == "high" and case.needs == ["isolation"]
    assert case.referrals.get().to_department.code == "health_promotion"
    desk.check("keyboard-02-case-opened")


def test_submitting_the_intake_twice_makes_one_case(session_for):
    desk = session_for("desk_welfare")
    page = desk.page
    desk.goto("/cases/new/")
    page.fill("#id_family_name", "二重")
    page.fill("#id_given_name", "送信")
    page.fill("#id_summary", "ダブルクリックの確認")
    # The same form sent twice by the browser (a retry after a timeout): same token, one case.
    statuses = page.evaluate(
        """async () => {
            const form = document.getElementById('intake-form');
            const send = () => fetch(form.action, {method: 'POST', body: new FormData(form), redirect: 'manual'});
            const first = await send();
            const second = await send();
            return [first.type, second.type];
        }"""
    )
    assert statuses == ["opaqueredirect", "opaqueredirect"]
    assert Case.objects.filter(person__family_name="二重").count() == 1
    # A double click: the page's script lets only the first click through.
    page.fill("#id_given_name", "送信二")
    page.fill("#id_family_name", "二重二")
    page.evaluate("() => { document.querySelector('input[name=idempotency_key]').value = 'fresh-token'; }")
    page.locator("button:has-text('受け付ける')").dblclick()
    page.wait_for_url(CASE_URL)
    assert Case.objects.filter(person__family_name="二重二").count() == 1
