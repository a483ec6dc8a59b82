"""Issue 18, items 7 and 8 in the browser: a caseworker changes the date style on the settings page
and sees the case page's dates change; the help page opens from the header. Both widths, axe on each
new page, screenshots `prefs-<width>-NN-*.png`."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from tests.browser.conftest import DESKTOP, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
WIDTHS = [pytest.param(DESKTOP, id="1280"), pytest.param(PHONE, id="390")]


@pytest.mark.parametrize("viewport", WIDTHS)
def test_changing_the_date_style_shows_on_the_case_page(viewport, session_for, open_case, users):
    w = viewport["width"]
    case = open_case("desk_welfare", first_note="最初の記録です。")
    created = timezone.localtime(case.created_at)
    wareki_day = f"令和{created.year - 2018}年{created.month}月{created.day}日 ({created.year})"
    western_day = re.compile(rf"{created:%Y-%m-%d} \d{{2}}:\d{{2}}")

    desk = session_for("desk_welfare", viewport=viewport)
    desk.goto(f"/cases/{case.pk}/")
    main = desk.page.locator("main")
    assert wareki_day in main.inner_text()
    assert not western_day.search(main.inner_text())

    desk.goto("/")
    desk.page.click("header a[href='/accounts/settings/']")
    desk.page.wait_for_url("**/accounts/settings/")
    desk.check(f"prefs-{w}-01-settings")
    desk.page.check("input[name=date_style][value=western]")
    desk.page.check("input[name=mail_preference][value=daily_digest]")
    desk.page.click("main form button[type=submit]")
    desk.page.wait_for_url("**/accounts/settings/")
    assert desk.page.is_visible("text=設定を保存しました。")
    assert created.strftime("%Y-%m-%d") in desk.page.locator("[data-date-sample]").inner_text()
    desk.check(f"prefs-{w}-02-saved")

    desk.goto(f"/cases/{case.pk}/")
    text = desk.page.locator("main").inner_text()
    assert western_day.search(text)
    assert wareki_day not in text
    desk.check(f"prefs-{w}-03-case-western")
    user = users["desk_welfare"]
    user.refresh_from_db()
    assert (user.date_style, user.mail_preference) == ("western", "daily_digest")


@pytest.mark.parametrize("viewport", WIDTHS)
def test_the_help_page_opens_from_the_header(viewport, session_for):
    w = viewport["width"]
    worker = session_for("worker_health", viewport=viewport)
    worker.goto("/")
    worker.page.click("header a[href='/help/']")
    worker.page.wait_for_url("**/help/")
    text = worker.page.locator("main").inner_text()
    assert "L1 注意" in text and "L3 はざま" in text and "予定" in text
    assert worker.page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    worker.check(f"prefs-{w}-04-help")
