"""Disaster mode in the browser (issue 20): the bosai supervisor opens an event, a connector on a
390-pixel phone marks two people safe, the board's counts follow by themselves (htmx polling), the event
is closed and the connector's list is gone."""

from __future__ import annotations

import pytest

from referral_engine.accounts.models import District
from referral_engine.cases.models import Person
from referral_engine.disasters.models import Disaster
from tests.browser.conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_open_mark_safe_watch_the_board_close(session_for, users, settings):
    settings.DISASTER_BOARD_POLL_SECONDS = 1
    kawakami = District.objects.get(code="kawakami")
    for family in ("安否一", "安否二", "安否三"):
        Person.objects.create(
            family_name=family, address=f"津久見市川上{family}", district=kawakami, flags=["evacuation_support"]
        )

    bosai = session_for("chief_bosai")
    bosai.goto("/disaster/")
    bosai.check("disaster-01-index-1280")
    bosai.page.fill("#id_name", "豪雨")
    bosai.page.select_option("#id_kind", "typhoon")
    bosai.page.check("input[name=districts][value=kawakami]")
    bosai.page.click("button:has-text('開始する')")
    bosai.page.wait_for_url("**/disaster/*/")
    disaster = Disaster.objects.get()
    totals = bosai.page.locator("#board-counts tfoot td")
    assert totals.nth(1).inner_text() == "3"  # unconfirmed (the second column)
    bosai.check("disaster-02-board-1280")

    minsei = session_for("minsei_kawakami", viewport=PHONE)
    minsei.goto("/disaster/")
    assert minsei.page.url.endswith(f"/disaster/{disaster.pk}/")
    assert no_horizontal_scroll(minsei.page)
    minsei.check("disaster-03-connector-list-390")
    for family in ("安否一", "安否二"):
        card = minsei.page.locator(".check-card", has_text=family)
        card.locator("label.status-choice", has_text="無事").click()
        button = card.locator("button:has-text('記録する')")
        assert button.bounding_box()["height"] >= 44
        button.click()
        minsei.page.wait_for_load_state("load")
        assert minsei.page.locator(".check-card", has_text=family).locator(".status-badge").inner_text() == "無事"
    assert no_horizontal_scroll(minsei.page)
    minsei.check("disaster-04-connector-marked-390")

    # The supervisor's board counts two safe without a reload (the poll every second here).
    safe_column = (
        7  # 地区, then STATUS_ORDER: needs_rescue, unconfirmed, not_found, needs_help, checking, evacuated, safe
    )
    bosai.page.wait_for_function(
        "n => document.querySelectorAll('#board-counts tfoot td')[n].innerText.trim() === '2'",
        arg=safe_column - 1,
        timeout=10_000,
    )
    assert totals.nth(1).inner_text() == "1"

    # Closing asks first; then the connector's list is gone (404) and the board stays for staff.
    bosai.page.remove_listener("dialog", bosai._on_dialog)
    bosai.page.once("dialog", lambda dialog: dialog.accept())
    bosai.page.click("button:has-text('災害対応を終了する')")
    bosai.page.wait_for_load_state("load")
    disaster.refresh_from_db()
    assert disaster.closed_at is not None
    assert minsei.goto(f"/disaster/{disaster.pk}/").status == 404
    minsei.goto("/disaster/")
    assert "対応中の災害はありません" in minsei.page.inner_text("main")
    assert bosai.goto(f"/disaster/{disaster.pk}/").status == 200
    bosai.check("disaster-05-closed-summary-1280")
