"""Who sees which figures (API and web): a supervisor their departments' — cases their department took
in, leads or was referred, referrals to or from it — the desk supervisor, auditors and admins
everything; caseworkers, front desk and connectors 403. Every answer is in the access log."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from referral_engine.audit.models import AccessLog
from referral_engine.reports.periods import FiscalYear
from tests.reports.conftest import at, jst

pytestmark = pytest.mark.django_db

YEAR = 2026
URL = f"/api/v1/reports/fiscal-year/{YEAR}/"
TO_HEALTH = {"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問をお願いします。"}

# username → consultations the user's report counts in the world below (None: 403).
EXPECTED_TOTAL = {
    "chief_welfare": 4,  # the desk supervisor: everything
    "auditor": 4,
    "admin": 4,
    "chief_health": 2,  # referred to health + opened at the health desk
    "chief_longevity": 0,
    "chief_shakyo": 1,  # the shakyo desk's own intake
    "worker_health": None,
    "worker_welfare": None,
    "desk_welfare": None,
    "desk_health": None,
    "minsei_kawakami": None,
}


@pytest.fixture
def world(open_case):
    with at(jst(2026, 5, 1, 10)):
        referred = open_case("desk_welfare", referrals=[TO_HEALTH])
        welfare_only = open_case("desk_welfare")
        at_health = open_case("desk_health")
        at_shakyo = open_case("worker_shakyo")
    return {"referred": referred, "welfare_only": welfare_only, "at_health": at_health, "at_shakyo": at_shakyo}


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize("username", sorted(EXPECTED_TOTAL))
def test_api_scope_per_role(world, users, username):
    response = _api(users[username]).get(URL)
    expected = EXPECTED_TOTAL[username]
    if expected is None:
        assert response.status_code == 403
        assert response.json()["error"] == "forbidden"
        assert not AccessLog.objects.filter(user=users[username], object_type="report").exists()
        return
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["consultations"]["total"] == expected
    assert body["fiscal_year"] == YEAR
    log = AccessLog.objects.get(user=users[username], object_type="report")
    assert (log.action, log.via) == ("view", "api")
    assert json.loads(log.query)["fiscal_year"] == YEAR


def test_a_department_supervisor_counts_referrals_to_and_from_it(world, users, open_case):
    with at(jst(2026, 6, 1, 10)):
        open_case("desk_health", referrals=[{**TO_HEALTH, "to_department": "longevity_support"}])
    health = _api(users["chief_health"]).get(URL).json()
    longevity = _api(users["chief_longevity"]).get(URL).json()
    # health: one received (from welfare), one sent (to longevity).
    assert health["referrals"]["total"] == 2
    assert health["referrals"]["by_department"]["health_promotion"]["requested"] == 1
    assert health["referrals"]["by_department"]["longevity_support"]["requested"] == 1
    assert health["scope"] == {"all": False, "departments": ["health_promotion"]}
    # longevity: only the one it received; the case came in at health, so it is in its cases too.
    assert longevity["referrals"]["total"] == 1
    assert longevity["consultations"]["total"] == 1
    assert _api(users["chief_welfare"]).get(URL).json()["scope"] == {"all": True, "departments": []}


def test_api_answers_and_errors(world, users):
    client = _api(users["auditor"])
    assert client.get("/api/v1/reports/fiscal-year/1999/").status_code == 404
    assert client.get("/api/v1/reports/fiscal-year/99999999/").json()["error"] == "not_found"
    bad = client.get(URL + "?format=pdf")
    assert bad.status_code == 400 and "format" in bad.json()["fields"]
    json_publication = client.get(URL + "?publication=true")
    assert json_publication.status_code == 400 and "publication" in json_publication.json()["fields"]
    assert client.get(URL + "?compare=maybe").status_code == 400
    compared = client.get(URL + "?compare=true").json()
    assert compared["previous"]["fiscal_year"] == YEAR - 1
    anonymous = APIClient().get(URL)
    assert anonymous.status_code == 401
    # A file asked for by someone who may not have it: the error is JSON all the same.
    denied = _api(users["worker_health"]).get(URL + "?format=csv")
    assert denied.status_code == 403 and denied["Content-Type"] == "application/json"


def test_api_files_are_exports_in_the_access_log(world, users):
    client = _api(users["chief_health"])
    csv = client.get(URL + "?format=csv")
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    xlsx = client.get(URL + "?format=xlsx&publication=true")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert "filename*=UTF-8''" in xlsx["Content-Disposition"]
    logs = list(AccessLog.objects.filter(user=users["chief_health"], object_type="report").order_by("id"))
    assert [(log.action, log.via) for log in logs] == [("export", "api"), ("export", "api")]
    assert json.loads(logs[1].query) == {"fiscal_year": YEAR, "format": "xlsx", "compare": False, "publication": True}


# --- Web ----------------------------------------------------------------------------------------------

WEB_STATUS = {u: (200 if total is not None else 403) for u, total in EXPECTED_TOTAL.items()}


@pytest.mark.parametrize("username", sorted(WEB_STATUS))
def test_web_pages_per_role(world, client, users, username):
    client.force_login(users[username])
    page = client.get(f"/reports/{YEAR}/")
    assert page.status_code == WEB_STATUS[username]
    for url in (f"/reports/{YEAR}/print/", f"/reports/{YEAR}/report.csv", "/reports/"):
        assert client.get(url).status_code == WEB_STATUS[username], url
    assert client.post(f"/reports/{YEAR}/exports/", {"format": "xlsx"}).status_code == (
        302 if WEB_STATUS[username] == 200 else 403
    )
    nav = client.get("/notifications/").content.decode()
    assert ('href="/reports/"' in nav) == (WEB_STATUS[username] == 200)
    if WEB_STATUS[username] == 200:
        html = page.content.decode()
        total = EXPECTED_TOTAL[username]
        assert "令和8年度" in html
        assert f'<span class="stat-number">{total}</span>' in html
        actions = list(
            AccessLog.objects.filter(user=users[username], object_type="report").values_list("action", flat=True)
        )
        # page, print, csv, the current year's page from /reports/ (the export row is only a request).
        assert sorted(actions) == sorted(["view", "print", "export", "view"])


def test_web_year_picker_and_bad_years(client, users):
    client.force_login(users["auditor"])
    assert client.get("/reports/?year=2024")["Location"] == "/reports/2024/"
    assert client.get("/reports/?year=abc").status_code == 400
    assert client.get("/reports/?year=1800").status_code == 400
    assert client.get("/reports/1800/").status_code == 404
    current = client.get("/reports/")
    assert current.status_code == 200
    assert FiscalYear.current().label_ja in current.content.decode()


def test_web_csv_and_print(world, client, users):
    client.force_login(users["chief_welfare"])
    csv = client.get(f"/reports/{YEAR}/report.csv?publication=1")
    assert csv.status_code == 200
    assert csv.content.startswith("\ufeff年度,集計表".encode())
    assert "publication" in csv["Content-Disposition"]
    printed = client.get(f"/reports/{YEAR}/print/").content.decode()
    assert "print-view" in printed and "印刷:" in printed
    assert 'class="report-tools' not in printed  # no forms on paper
    log = AccessLog.objects.filter(user=users["chief_welfare"], action="export").get()
    assert json.loads(log.query) == {"fiscal_year": YEAR, "format": "csv", "publication": True}


def test_the_page_speaks_english_while_the_files_stay_japanese(world, client, users, settings):
    client.force_login(users["chief_welfare"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get(f"/reports/{YEAR}/").content.decode()
    assert "Fiscal-year report FY2026 (Reiwa 8)" in html
    assert "Consultations by channel" in html and "経路別の相談件数" not in html
    csv = client.get(f"/reports/{YEAR}/report.csv").content.decode("utf-8-sig")
    assert csv.startswith("年度,集計表") and "経路別の相談件数" in csv and "窓口" in csv
