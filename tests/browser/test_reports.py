"""The fiscal-year report page in Chromium: at 1280 and 390 px (no sideways page scroll on the phone;
tables scroll in their own box), axe-core clean, the print layout with its charts, and the Excel
export: the button starts it, htmx polls its progress and swaps in the download link."""

from __future__ import annotations

import pytest

from referral_engine.reports.models import ReportExport
from tests.browser.conftest import PHONE
from tests.reports.conftest import at, eager, jst  # noqa: F401 - eager is a fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

YEAR = 2026


@pytest.fixture
def world(open_case):
    referral = {"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問をお願いします。"}
    with at(jst(2025, 9, 1, 10)):
        open_case("desk_welfare", channel="phone")
    for month, channel in ((4, "counter"), (5, "phone"), (5, "visit"), (8, "counter"), (11, "partner")):
        with at(jst(2026, month, 3, 10)):
            open_case("desk_welfare", channel=channel, referrals=[referral], needs=["isolation", "health"])


def _no_page_scroll(session) -> None:
    widths = session.page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"


def test_report_page_desktop_phone_and_print(session_for, world):
    desk = session_for("chief_welfare")
    desk.goto(f"/reports/{YEAR}/")
    page = desk.page
    assert page.locator("h1").inner_text().startswith("年度報告 令和8年度")
    assert page.locator("svg.chart").count() >= 6
    assert (
        page.locator("#by_month svg .chart-bar-previous:not(.chart-legend)").count() == 12
    )  # last year beside each month
    desk.check("reports-desktop")
    _no_page_scroll(desk)

    phone = session_for("chief_health", viewport=PHONE)
    phone.goto(f"/reports/{YEAR}/")
    phone.check("reports-phone")
    _no_page_scroll(phone)
    # The wide referral table scrolls inside its own box, not the page.
    box = phone.page.locator("#referrals .table-scroll")
    assert box.evaluate("el => el.scrollWidth > el.clientWidth")
    assert box.evaluate("el => getComputedStyle(el).overflowX") == "auto"

    printing = session_for("auditor")
    printing.goto(f"/reports/{YEAR}/print/")
    printing.page.emulate_media(media="print")
    printing.check("reports-print")
    assert printing.page.locator(".report-tools").count() == 0
    assert printing.page.locator("svg.chart").first.is_visible()
    assert not printing.page.locator(".site-header").is_visible()
    pdf = printing.page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF")


@pytest.mark.usefixtures("eager")
def test_excel_export_progress_is_polled_and_the_link_appears(session_for, world, users):
    # `eager`: made at once in the request (no worker here); the polling is tested on a running row below.
    session = session_for("chief_welfare")
    session.goto(f"/reports/{YEAR}/")
    page = session.page
    page.get_by_role("button", name="Excel", exact=True).click()
    link = page.locator("#export-list a", has_text="年度報告_令和8年度.xlsx")
    link.wait_for()
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "年度報告_令和8年度.xlsx"

    running = ReportExport.objects.create(owner=users["chief_welfare"], fiscal_year=YEAR, format="xlsx")
    ReportExport.objects.filter(pk=running.pk).update(state="running", progress=40)
    session.goto(f"/reports/{YEAR}/")
    item = page.locator(f"#export-{running.pk}")
    assert item.locator("progress").get_attribute("value") == "40"
    session.check("reports-export-running")
    # The task finishes: the next poll (every 2 s) swaps the line for the download link.
    from referral_engine.reports.services import report_export_run

    ReportExport.objects.filter(pk=running.pk).update(state="queued", progress=0)
    report_export_run(export_id=running.pk)
    page.locator(f"#export-{running.pk} a", has_text="ダウンロード").wait_for(timeout=10_000)
    assert page.locator(f"#export-{running.pk} progress").count() == 0
    session.check("reports-export-done")
