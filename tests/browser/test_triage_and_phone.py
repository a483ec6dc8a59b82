"""Issue 18 items 4 and 8 in the browser, at 1280 and 390 px (screenshots `triage-<width>-*.png` under
artifacts/screenshots/, axe on every page): the dashboard, inbox, case, case list and audit pages never
scroll sideways (tables become cards on a phone); inbox cards and list rows say what triage needs; a
stage move asks for a note and a second press, and the note lands on the case's timeline."""

from __future__ import annotations

import pytest

from referral_engine.cases.models import CaseEvent
from referral_engine.cases.services.records import activity_add
from referral_engine.cases.services.referrals import referral_transition
from tests.browser.conftest import DESKTOP, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
WIDTHS = [pytest.param(DESKTOP, id="1280"), pytest.param(PHONE, id="390")]
LONG_SUMMARY = "一人暮らしで食事がとれていないと近所の方から連絡がありました。\n二行目は一覧に出ません。"


def _page_width(session) -> tuple[int, int]:
    return session.page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")


def _no_horizontal_scroll(session, name: str) -> None:
    scroll, inner = _page_width(session)
    if scroll > inner:  # name the widest elements, so a failure says where to look
        wide = session.page.evaluate(
            """(inner) => [...document.querySelectorAll('main *')]
                .filter(e => e.getBoundingClientRect().right > inner + 1)
                .slice(0, 8)
                .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""",
            inner,
        )
        raise AssertionError(f"{name}: the page is {scroll} px wide in a {inner} px window: {wide}")


def _overlapping_chart_texts(session) -> list[str]:
    """Pairs of texts in one server-drawn chart whose boxes intersect (labels drawn over each other)."""
    return session.page.evaluate(
        """() => {
            const found = [];
            for (const svg of document.querySelectorAll('svg.chart')) {
                const boxes = [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()]);
                for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
                    const [a, r] = boxes[i], [b, q] = boxes[j];
                    if (r.width && q.width && r.left < q.right - 0.5 && q.left < r.right - 0.5
                        && r.top < q.bottom - 0.5 && q.top < r.bottom - 0.5) found.push(a + ' / ' + b);
                }
            }
            return found;
        }"""
    )


@pytest.fixture
def world(open_case, users, fresh):
    case = open_case(
        "desk_welfare",
        risk="high",
        summary=LONG_SUMMARY,
        needs=["isolation", "care"],
        referrals=[
            {"to_department": "health_promotion", "basis": "internal_use", "reason": "保健師の訪問をお願いします。"},
            {"to_department": "longevity_support", "basis": "internal_use", "reason": "介護の確認をお願いします。"},
        ],
        first_note="窓口で長く話していかれた。",
    )
    health = case.referrals.get(to_department__code="health_promotion")
    referral_transition(referral_id=health.pk, name="accept", actor=fresh(users["worker_health"]))
    activity_add(case_id=case.pk, actor=fresh(users["worker_health"]), kind="visit", body="通院歴あり", sensitive=True)
    return {"case": case, "health": health}


@pytest.mark.parametrize("viewport", WIDTHS)
def test_pages_fit_the_window_and_lists_read_at_a_glance(viewport, session_for, world):
    w = viewport["width"]
    case = world["case"]

    longevity = session_for("worker_longevity", viewport=viewport)
    longevity.goto("/inbox/")
    card = longevity.page.locator("article.inbox-card", has_text=case.number)
    text = card.inner_text()
    assert "一人暮らしで食事がとれていない" in text and "二行目" not in text  # 主訴, its first line
    assert "孤独・孤立" in text and "介護" in text  # needs
    assert "緊急度" in text and "高" in text
    assert "開庁日" in text or "今日まで" in text  # the deadline's badge
    assert "総合相談" in text or "福祉" in text  # the requester's department
    _no_horizontal_scroll(longevity, "inbox")
    longevity.check(f"triage-{w}-01-inbox")

    chief = session_for("chief_welfare", viewport=viewport)
    chief.goto("/dashboard/")
    assert chief.page.locator("svg.chart text.chart-tick").count() >= 2  # the weekly chart has its labels
    for name, path in [
        ("dashboard", "/dashboard/"),
        ("case-list", "/cases/?sort=urgency"),
        ("case", f"/cases/{case.pk}/"),
        ("my-cases", "/cases/mine/"),
    ]:
        chief.goto(path)
        _no_horizontal_scroll(chief, name)
        assert _overlapping_chart_texts(chief) == [], name
        chief.check(f"triage-{w}-02-{name}")
    chief.goto("/cases/?sort=deadline")
    row = chief.page.locator("table.case-table tbody tr", has_text=case.number)
    assert "一人暮らしで食事がとれていない" in row.inner_text()
    if w == PHONE["width"]:  # a card: each cell labelled by its column
        cell = row.locator("td[data-label='期限']")
        assert cell.evaluate("td => getComputedStyle(td, '::before').content") == '"期限"'
        assert chief.page.locator("table.case-table thead").evaluate("h => h.getBoundingClientRect().height") <= 1

    auditor = session_for("auditor", viewport=viewport)
    for name, path in [
        ("audit", "/audit/"),
        ("audit-access-log", "/audit/access-log/"),
        ("audit-case", f"/audit/cases/{case.pk}/"),
        ("audit-users", "/audit/users/"),
        ("audit-searches", "/audit/searches/"),
        ("audit-denied", "/audit/denied/"),
    ]:
        auditor.goto(path)
        _no_horizontal_scroll(auditor, name)
        auditor.check(f"triage-{w}-03-{name}")


@pytest.mark.parametrize("viewport", WIDTHS)
def test_a_stage_move_asks_for_a_note_and_records_it(viewport, session_for, world):
    w = viewport["width"]
    case, health = world["case"], world["health"]
    worker = session_for("worker_health", viewport=viewport)
    worker.goto(f"/cases/{case.pk}/")
    article = worker.page.locator(f"#referral-{health.pk}")
    # One press opens the step; nothing has moved yet.
    article.locator("summary:has-text('家庭訪問を実施した')").click()
    health.refresh_from_db()
    assert health.stage == "visit_arranging"
    article.locator("textarea[name=reason]").first.fill("本人と娘さんに会えた。次回は通院に同行する。")
    _no_horizontal_scroll(worker, "stage-move-open")
    worker.check(f"triage-{w}-04-stage-move-asks")
    article.locator("button:has-text('家庭訪問を実施した（確定）')").click()
    worker.page.wait_for_load_state("load")
    health.refresh_from_db()
    assert health.stage == "home_visited"
    event = CaseEvent.objects.get(case=case, kind="stage_transition", name="record_home_visit")
    assert event.reason == "本人と娘さんに会えた。次回は通院に同行する。"
    assert "次回は通院に同行する" in worker.page.locator("#timeline").inner_text()
    worker.check(f"triage-{w}-05-stage-moved")
