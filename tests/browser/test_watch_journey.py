"""見守り依頼 in a browser (issue 19): a caseworker asks the district from the case page, the district's
connector reports a visit on a 390-pixel phone in a few taps (nothing wider than 360 px either), and
the caseworker sees it on the case (also at 390 px)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from referral_engine.cases.models import WatchReport, WatchRequest
from tests.browser.conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_a_volunteer_reports_a_visit_and_staff_see_it_on_the_case(session_for, open_case):
    case = open_case("worker_welfare")

    # The caseworker asks 川上地区 from the case page.
    worker = session_for("worker_welfare")
    page = worker.page
    worker.goto(f"/cases/{case.pk}/")
    page.click("summary:has-text('地区に見守りを依頼する')")
    page.select_option("#id_watch-district", "kawakami")
    page.fill("#id_watch-what_to_watch", "夜に明かりがつくか、新聞がたまっていないか")
    page.fill("#id_watch-until", (timezone.localdate() + timedelta(days=30)).isoformat())
    page.click("#watch label:has-text('生命・身体の保護')")
    page.fill("#id_watch-justification", "電話に出ない日が続いている")
    page.click("button:has-text('見守りを依頼する')")
    page.wait_for_load_state("load")
    watch = WatchRequest.objects.get()
    assert watch.district.code == "kawakami" and watch.basis == "vital_interest"
    worker.check("watch-01-requested-desktop")

    # The connector, on a phone: the request is on their home page; a few taps report the visit.
    minsei = session_for("minsei_kawakami", viewport=PHONE)
    phone = minsei.page
    minsei.goto("/")
    assert no_horizontal_scroll(phone)
    link = phone.locator(".watch-link", has_text=case.person.full_name)
    assert link.is_visible()
    assert link.bounding_box()["height"] >= 48
    assert case.summary not in phone.inner_text("main")
    minsei.check("watch-02-connector-home-390")
    phone.set_viewport_size({"width": 360, "height": 740})  # the narrowest phone the issue names
    assert no_horizontal_scroll(phone)
    link.click()
    phone.wait_for_url(f"**/watch/{watch.pk}/")
    assert no_horizontal_scroll(phone)
    phone.set_viewport_size(PHONE)
    assert no_horizontal_scroll(phone)
    minsei.check("watch-03-report-form-390")
    choice = phone.locator("label:has-text('気になることがある')")
    assert choice.bounding_box()["height"] >= 48
    choice.click()
    phone.fill("#id_note", "咳をしていた")
    button = phone.locator("button:has-text('報告する')")
    box = button.bounding_box()
    assert box["height"] >= 48 and box["width"] >= 300
    button.click()
    phone.wait_for_url("**/")
    assert phone.is_visible("text=ご報告ありがとうございました")
    report = WatchReport.objects.get()
    assert report.outcome == "concern" and report.note == "咳をしていた"
    minsei.check("watch-04-reported-390")

    # The caseworker, on a phone as well, sees the report on the case page and in its timeline.
    staff = session_for("worker_welfare", viewport=PHONE)
    staff.goto(f"/cases/{case.pk}/")
    watch_panel = staff.page.inner_text("#watch")
    assert "気になることがある" in watch_panel and "咳をしていた" in watch_panel
    assert "見守りの報告" in staff.page.inner_text("#timeline")
    staff.check("watch-05-case-page-390")
