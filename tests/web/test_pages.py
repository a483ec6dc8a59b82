"""Every page × every role: the status each role gets (DESIGN §2, §5: a case you may not see is a
404 like one that does not exist; a page your role has no use for is a 403)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db

ROLES = [
    "desk_welfare",
    "worker_health",
    "worker_longevity",
    "worker_bosai",
    "chief_welfare",
    "chief_health",
    "auditor",
    "minsei_kawakami",
    "admin",
]

# page -> {username: status}; unlisted usernames get the page's default.
EXPECTED = {
    "/": {"default": 200},
    "/cases/": {"default": 200, "minsei_kawakami": 403, "admin": 403},
    "/cases/new/": {"default": 200, "auditor": 403, "minsei_kawakami": 403, "admin": 403},
    "/inbox/": {"default": 200, "auditor": 403, "minsei_kawakami": 403, "admin": 403},
    "/dashboard/": {"default": 403, "chief_welfare": 200, "chief_health": 200, "auditor": 200},
    "/reports/": {"default": 403, "chief_welfare": 200, "chief_health": 200, "auditor": 200, "admin": 200},
    "/slips/": {"default": 403, "minsei_kawakami": 200},
    "/notifications/": {"default": 200},
    "/accounts/settings/": {"default": 200},
    "/help/": {"default": 200},
    # The case is opened at the welfare desk and referred to health (requested): welfare staff,
    # health (limited), the desk supervisor and the auditor see it; nobody else.
    "/cases/{case}/": {
        "default": 404,
        "desk_welfare": 200,
        "worker_health": 200,
        "chief_welfare": 200,
        "chief_health": 200,
        "auditor": 200,
    },
    "/cases/{case}/print/": {
        "default": 404,
        "desk_welfare": 200,
        "worker_health": 200,
        "chief_welfare": 200,
        "chief_health": 200,
        "auditor": 200,
    },
    "/cases/999999/": {"default": 404},
}


@pytest.fixture
def case_for_matrix(open_case):
    return open_case(
        "desk_welfare",
        referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問をお願いします。"}],
    )


@pytest.mark.parametrize("username", ROLES)
def test_every_page_answers_each_role_as_expected(as_user, case_for_matrix, username):
    client = as_user(username)
    got, want = {}, {}
    for pattern, statuses in EXPECTED.items():
        url = pattern.format(case=case_for_matrix.pk)
        got[url] = client.get(url).status_code
        want[url] = statuses.get(username, statuses["default"])
    assert got == want


def test_anonymous_users_are_sent_to_login(client, case_for_matrix):
    for url in ["/", "/cases/", "/cases/new/", f"/cases/{case_for_matrix.pk}/", "/inbox/", "/dashboard/", "/slips/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_login_page_renders_without_login(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert "ログイン" in response.content.decode()


def test_post_endpoints_refuse_get(as_user, case_for_matrix):
    client = as_user("desk_welfare")
    referral = case_for_matrix.referrals.get()
    for url in [
        f"/cases/{case_for_matrix.pk}/transition/",
        f"/cases/{case_for_matrix.pk}/activities/",
        f"/referrals/{referral.pk}/transition/",
        "/notifications/read/",
    ]:
        assert client.get(url).status_code == 405


def test_writes_to_a_case_you_cannot_see_are_404(as_user, case_for_matrix):
    client = as_user("worker_bosai")
    referral = case_for_matrix.referrals.get()
    assert client.post(f"/cases/{case_for_matrix.pk}/activities/", {"kind": "note", "body": "x"}).status_code == 404
    assert client.post(f"/referrals/{referral.pk}/transition/", {"name": "accept"}).status_code == 404
    assert client.post(f"/cases/{case_for_matrix.pk}/transition/", {"name": "start_assessment"}).status_code == 404


def test_the_auditor_reads_but_writes_nothing(as_user, case_for_matrix):
    client = as_user("auditor")
    page = client.get(f"/cases/{case_for_matrix.pk}/").content.decode()
    assert "監査（閲覧のみ）" in page
    assert f'action="/cases/{case_for_matrix.pk}/transition/"' not in page
    response = client.post(f"/cases/{case_for_matrix.pk}/activities/", {"kind": "note", "body": "監査のメモ"})
    assert response.status_code == 403
    assert not case_for_matrix.activities.filter(body="監査のメモ").exists()


def test_header_shows_the_menu_of_the_role(as_user):
    desk = as_user("desk_welfare").get("/").content.decode()
    assert 'href="/cases/new/"' in desk and 'href="/dashboard/"' not in desk and 'href="/audit/"' not in desk
    chief = as_user("chief_welfare").get("/").content.decode()
    assert 'href="/dashboard/"' in chief
    auditor = as_user("auditor").get("/").content.decode()
    assert 'href="/audit/"' in auditor and 'href="/cases/new/"' not in auditor
    connector = as_user("minsei_kawakami").get("/").content.decode()
    assert 'href="/slips/"' in connector and 'href="/cases/"' not in connector
    admin = as_user("admin").get("/").content.decode()
    assert 'href="/admin/"' in admin


def test_english_is_one_click_away(as_user):
    client = as_user("desk_welfare")
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert '<html lang="en">' in page
    assert "New intake" in page  # the compiled en catalogue is used
    client.post("/i18n/setlang/", {"language": "ja", "next": "/"})
    assert "新規受付" in client.get("/").content.decode()


def test_every_page_carries_the_csp_and_loads_only_local_assets(as_user, case_for_matrix):
    client = as_user("chief_welfare")
    pages = ["/", "/cases/", "/cases/new/", f"/cases/{case_for_matrix.pk}/", "/inbox/", "/dashboard/", "/reports/"]
    for url in pages:
        response = client.get(url)
        assert "script-src 'self'" in response["Content-Security-Policy"]
        html = response.content.decode()
        assert "http://" not in re.sub(r"http://www\.w3\.org/[0-9]{4}/(svg|xlink)", "", html)
        assert "https://" not in html
        assert "<style" not in html
        assert " style=" not in html
        assert " onclick=" not in html and " onload=" not in html


def test_the_case_list_filters_and_logs_a_name_search(as_user, open_case):
    from referral_engine.audit.models import AccessLog
    from referral_engine.audit.services import search_term_fingerprint

    case = open_case("desk_welfare", risk="high")
    open_case("desk_welfare", risk="low")
    client = as_user("chief_welfare")
    html = client.get("/cases/", {"risk": "high"}).content.decode()
    assert case.number in html and html.count('class="risk risk-') == 1
    html = client.get("/cases/", {"q": "つくみ はなこ1"}).content.decode()
    assert case.number in html
    log = AccessLog.objects.get(action="search", object_type="case")
    # A name typed into the list is kept as its fingerprint, never in clear (docs/audit.md).
    assert log.query == search_term_fingerprint("つくみ はなこ1") and log.username == "chief_welfare"
    assert "はなこ" not in log.query and log.path == "/cases/"


@pytest.mark.parametrize(
    "username, shown",
    [("worker_bosai", True), ("chief_bosai", True), ("chief_welfare", True), ("auditor", True)]
    + [("desk_welfare", False), ("worker_welfare", False), ("worker_shakyo", False), ("minsei_kawakami", False)],
)
def test_the_menu_links_the_evacuation_plans_for_those_who_may_read_them(as_user, username, shown):
    """The link follows the policy's `can_view_evacuation_plans`, as the page itself does."""
    client = as_user(username)
    page = client.get("/").content.decode()
    assert ('href="/evacuation-plans/"' in page) is shown
    assert client.get("/evacuation-plans/").status_code == (200 if shown else 403)
