"""Every page, as the role that uses it: a screenshot under artifacts/screenshots/ and axe-core with no
serious or critical violation. Pages in their interesting states too: form errors, the duplicate
warning, a limited view, the print view, error pages, English, a phone."""

from __future__ import annotations

import pytest

from referral_engine.cases.services.records import activity_add
from referral_engine.cases.services.referrals import referral_transition
from referral_engine.cases.services.slips import slip_submit
from tests.browser.conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(open_case, users, fresh):
    """A referred case (health accepted and at its second stage, longevity declined), a requested
    one, a slip, and notifications, so every page has something to show."""
    case = open_case(
        "desk_welfare",
        risk="high",
        referrals=[
            {"to_department": "health_promotion", "basis": "internal_use", "reason": "保健師の訪問をお願いします。"},
            {"to_department": "longevity_support", "basis": "internal_use", "reason": "介護の確認をお願いします。"},
        ],
        first_note="窓口で長く話していかれた。",
    )
    health = case.referrals.get(to_department__code="health_promotion")
    referral_transition(referral_id=health.pk, name="accept", actor=fresh(users["worker_health"]))
    referral_transition(referral_id=health.pk, name="record_home_visit", actor=fresh(users["worker_health"]))
    longevity = case.referrals.get(to_department__code="longevity_support")
    referral_transition(
        referral_id=longevity.pk, name="decline", actor=fresh(users["worker_longevity"]), reason="対象外"
    )
    activity_add(case_id=case.pk, actor=fresh(users["worker_health"]), kind="visit", body="通院歴あり", sensitive=True)
    requested = open_case(
        "desk_welfare",
        referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "相談への同行"}],
    )
    slip = slip_submit(actor=fresh(users["minsei_kawakami"]), concern="新聞がたまっている", urgency="urgent")
    return {"case": case, "requested": requested, "slip": slip}


# (screenshot name, username or None, path, viewport)
PAGES = [
    ("login", None, "/accounts/login/", None),
    ("home-desk", "desk_welfare", "/", None),
    ("home-worker", "worker_health", "/", None),
    ("home-chief", "chief_welfare", "/", None),
    ("home-auditor", "auditor", "/", None),
    ("home-connector", "minsei_kawakami", "/", PHONE),
    ("home-admin", "admin", "/", None),
    ("intake", "desk_welfare", "/cases/new/", None),
    ("intake-phone", "desk_welfare", "/cases/new/", PHONE),
    ("case-list", "chief_welfare", "/cases/", None),
    ("case-list-filtered", "chief_welfare", "/cases/?state=received&risk=high", None),
    ("case-full", "worker_health", "/cases/{case}/", None),
    ("case-limited", "worker_health", "/cases/{requested}/", None),
    ("case-phone", "worker_health", "/cases/{case}/", PHONE),
    ("case-print", "desk_welfare", "/cases/{case}/print/", None),
    ("case-auditor", "auditor", "/cases/{case}/", None),
    ("inbox", "worker_health", "/inbox/", None),
    ("inbox-phone", "worker_health", "/inbox/", PHONE),
    ("dashboard", "chief_welfare", "/dashboard/", None),
    ("dashboard-department", "chief_health", "/dashboard/", None),
    ("slips", "minsei_kawakami", "/slips/", PHONE),
    ("slips-desktop", "minsei_kawakami", "/slips/", None),
    ("slip-queue", "desk_welfare", "/slips/queue/", None),
    ("notifications", "desk_welfare", "/notifications/", None),
    ("notifications-phone", "desk_welfare", "/notifications/", PHONE),
    ("work-setbacks", "desk_welfare", "/work/setbacks/", None),
    ("work-slips-phone", "desk_welfare", "/work/slips/", PHONE),
    ("work-led-cases", "chief_welfare", "/work/led_cases/", None),
    ("work-assigned-phone", "worker_health", "/work/assigned/", PHONE),
    ("my-cases-phone", "worker_health", "/cases/mine/", PHONE),
    ("home-worker-phone", "worker_health", "/", PHONE),
    ("help-phone", "worker_health", "/help/", PHONE),
    ("tokens", "worker_health", "/accounts/tokens/", None),
    ("password", "worker_health", "/accounts/password/", PHONE),
    ("audit-index", "auditor", "/audit/", None),
    ("audit-access-log", "auditor", "/audit/access-log/", None),
    ("audit-case-history", "auditor", "/audit/cases/{case}/", None),
    ("audit-users", "auditor", "/audit/users/", None),
    ("admin-index", "admin", "/admin/", None),
    ("admin-users", "admin", "/admin/accounts/user/", None),
    ("admin-cases", "admin", "/admin/cases/case/", None),
    ("error-404", "worker_bosai", "/cases/{case}/", None),
    ("error-403", "minsei_kawakami", "/dashboard/", None),
]


def test_every_page_screenshot_and_axe(session_for, world):
    sessions = {}
    failures = []
    for name, username, pattern, viewport in PAGES:
        key = (username, bool(viewport))
        if key not in sessions:
            sessions[key] = session_for(username, **({"viewport": viewport} if viewport else {}))
        session = sessions[key]
        path = pattern.format(case=world["case"].pk, requested=world["requested"].pk)
        session.goto(path)
        try:
            session.check(f"page-{name}")
        except AssertionError as exc:  # collect them all: one run shows every page's problems
            failures.append(str(exc))
            session.dialogs.clear()
            session.errors.clear()
    assert not failures, "\n".join(failures)


def test_pages_in_their_other_states(session_for, world, open_case):
    desk = session_for("desk_welfare")
    page = desk.page
    # Intake with errors next to the fields.
    desk.goto("/cases/new/")
    page.fill("#id_first_note", "消えてはいけないメモ")
    page.click(".form-actions button.button-primary")
    page.wait_for_selector(".error-summary")
    assert page.evaluate("() => document.activeElement.classList.contains('error-summary')")
    desk.check("state-intake-errors")
    # The duplicate warning.
    person = world["case"].person
    desk.goto("/cases/new/")
    page.fill("#id_family_name", person.family_name)
    page.fill("#id_given_name", person.given_name)
    page.fill("#id_family_name_kana", person.family_name_kana)
    page.fill("#id_given_name_kana", person.given_name_kana)
    page.fill("#id_birth_date", person.birth_date.isoformat())
    page.fill("#id_summary", "二度目の相談")
    page.click(".form-actions button.button-primary")
    page.wait_for_selector(".duplicate-warning")
    assert page.evaluate("() => document.activeElement.id") == "duplicate-warning"
    desk.check("state-intake-duplicate")
    # The print view as it comes out on paper (print media: no header, no forms).
    desk.goto(f"/cases/{world['case'].pk}/print/")
    page.emulate_media(media="print")
    assert page.is_hidden(".site-header") and page.is_hidden("#activities form")
    desk.shot("state-case-print-media")
    page.emulate_media(media="screen")
    # A 409: the same handoff accepted from a page that was already open elsewhere (a stale tab).
    worker = session_for("worker_health")
    referral = world["requested"].referrals.get()
    stale = worker.context.new_page()
    stale.goto(f"{worker.base_url}/cases/{world['requested'].pk}/")
    worker.goto(f"/cases/{world['requested'].pk}/")
    worker.page.locator(f"#referral-{referral.pk} button:has-text('受理する')").click()
    worker.page.wait_for_load_state("load")
    worker.page = stale  # check the stale tab from here on
    with stale.expect_response(lambda r: "/transition/" in r.url) as answer:
        stale.locator(f"#referral-{referral.pk} button:has-text('受理する')").click()
    assert answer.value.status == 409
    stale.wait_for_load_state("load")
    assert stale.is_visible("text=今できる操作")
    worker.check("state-error-409")
    # English.
    english = session_for("worker_health", locale="en-US")
    english.page.click("button[value=en]")
    english.page.wait_for_load_state("load")
    english.goto(f"/cases/{world['case'].pk}/")
    assert english.page.evaluate("() => document.documentElement.lang") == "en"
    english.check("state-case-english")
    english.goto("/inbox/")
    english.check("state-inbox-english")
