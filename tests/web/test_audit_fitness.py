"""Audit fitness (issue 16 item 6).

- A 404 on a case, person or referral URL (the user may not see it, or it does not exist) is an
  access-log row with action `denied`; rate limited per user and minute (then summary rows); the
  auditor sees who was denied what, when (page, CSV, API).
- The auditor's screens and CSVs show labels, not internal codes, and case numbers, not ids: a test
  scans every audit CSV of a busy case for codes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
from django.core.cache import cache
from django.test import Client

from referral_engine.audit.models import AccessLog

pytestmark = pytest.mark.django_db


def _client(user, **headers) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="ja", **headers)
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def case(open_case):
    return open_case(
        "worker_welfare",
        referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問依頼"}],
    )


def _denied(user) -> list[tuple[str, int | None, str, str]]:
    return list(
        AccessLog.objects.filter(user=user, action="denied")
        .order_by("id")
        .values_list("object_type", "object_id", "path", "via")
    )


# --- Denied reads are logged ------------------------------------------------------------------


def test_a_case_the_user_may_not_see_is_a_404_logged_as_denied(users, case):
    prober = users["worker_longevity"]
    client = _client(prober)
    assert client.get(f"/cases/{case.pk}/").status_code == 404
    assert client.get("/cases/987654/").status_code == 404  # does not exist: the same 404, logged alike
    assert client.get(f"/api/v1/cases/{case.pk}/").status_code == 404
    referral = case.referrals.get()
    assert client.get(f"/api/v1/referrals/{referral.pk}/").status_code == 404
    assert _denied(prober) == [
        ("case", case.pk, f"/cases/{case.pk}/", "ui"),
        ("case", 987654, "/cases/987654/", "ui"),
        ("case", case.pk, f"/api/v1/cases/{case.pk}/", "api"),
        ("referral", referral.pk, f"/api/v1/referrals/{referral.pk}/", "api"),
    ]
    # A case denial names the case (the auditor's case page lists it); nothing is logged as a view.
    assert AccessLog.objects.filter(user=prober, action="view").count() == 0
    assert AccessLog.objects.filter(user=prober, action="denied", case_id=case.pk).count() == 2


def test_what_the_user_may_see_is_not_denied(users, case):
    assert _client(users["worker_welfare"]).get(f"/cases/{case.pk}/").status_code == 200
    assert _denied(users["worker_welfare"]) == []


def test_a_404_that_names_no_object_is_not_a_denial(users):
    client = _client(users["worker_longevity"])
    assert client.get("/no-such-page/").status_code == 404
    assert client.get("/api/v1/no-such-endpoint/").status_code == 404
    assert _denied(users["worker_longevity"]) == []


def test_a_scan_is_rate_limited_per_user_with_summary_rows(users, case, settings, monkeypatch):
    settings.ACCESS_LOG_DENIED_PER_MINUTE = 3
    settings.ACCESS_LOG_DENIED_SUMMARY_EVERY = 5
    from referral_engine.audit import services

    minute = dt.datetime(2026, 12, 3, 5, 0, 10, tzinfo=dt.UTC)
    monkeypatch.setattr(services.timezone, "now", lambda: minute)
    prober = users["worker_longevity"]
    client = _client(prober)
    for case_id in range(500_000, 500_013):  # 13 probes in one minute
        assert client.get(f"/cases/{case_id}/").status_code == 404
    rows = list(AccessLog.objects.filter(user=prober, action="denied").order_by("id"))
    assert [r.object_type for r in rows] == ["case"] * 3 + ["denied_summary"] * 2
    assert [json.loads(r.query)["suppressed"] for r in rows[3:]] == [5, 5]

    # Another user is counted apart.
    assert _client(users["worker_bosai"]).get("/cases/500000/").status_code == 404
    assert _denied(users["worker_bosai"]) == [("case", 500_000, "/cases/500000/", "ui")]

    # The next minute: the 13 - 3 - 10 = 0 remainder writes nothing; two more probes past the limit
    # of the new minute are counted and the remainder is written with the next minute's first denial.
    monkeypatch.setattr(services.timezone, "now", lambda: minute + dt.timedelta(minutes=1))
    for case_id in range(600_000, 600_005):  # 3 rows, 2 counted
        client.get(f"/cases/{case_id}/")
    monkeypatch.setattr(services.timezone, "now", lambda: minute + dt.timedelta(minutes=2))
    client.get("/cases/700000/")
    rows = list(AccessLog.objects.filter(user=prober, action="denied").order_by("id"))
    summaries = [json.loads(r.query)["suppressed"] for r in rows if r.object_type == "denied_summary"]
    assert summaries == [5, 5, 2]
    assert rows[-1].object_id == 700_000

    from referral_engine.audit.selectors import AccessLogFilter, denied_by_user

    totals = {r["username"]: r["denials"] for r in denied_by_user(user=users["auditor"], filters=AccessLogFilter())}
    assert totals == {prober.username: 13 + 5 + 1, users["worker_bosai"].username: 1}


def test_the_auditor_sees_who_was_denied_what(users, case):
    prober = users["worker_longevity"]
    _client(prober).get(f"/cases/{case.pk}/")
    auditor = _client(users["auditor"])

    page = auditor.get("/audit/denied/")
    assert page.status_code == 200
    html = page.content.decode()
    assert prober.username in html and case.number in html and "拒否（見えない対象）" in html
    assert page.context["by_user"][0]["username"] == prober.username

    exported = auditor.get("/audit/denied/export.csv")
    text = b"".join(exported.streaming_content).decode("utf-8-sig")
    body = list(csv.reader(io.StringIO(text)))
    assert body[0][8] == "ケース番号" and body[1][1] == prober.username and body[1][8] == case.number

    api = auditor.get("/api/v1/audit/denied/").json()
    assert [(e["username"], e["action"], e["object_type"], e["object_id"]) for e in api["results"]] == [
        (prober.username, "denied", "case", case.pk)
    ]
    assert _client(users["chief_welfare"]).get("/audit/denied/").status_code == 404
    assert _client(users["chief_welfare"]).get("/api/v1/audit/denied/").status_code == 403


# --- No internal codes in the auditor's CSVs --------------------------------------------------

INTERNAL_CODES = [
    # departments and roles
    "social_welfare",
    "health_promotion",
    "longevity_support",
    "disaster_prevention",
    "shakyo",
    "front_desk",
    "caseworker",
    "supervisor",
    "connector",
    # legal bases, states, event kinds, actions, routes
    "internal_use",
    "support_meeting",
    "consent",
    "requested",
    "accepted",
    "declined",
    "received",
    "assessing",
    "case_opened",
    "referral_requested",
    "referral_transition",
    "stage_transition",
    "stage_data",
    "gap_flagged",
    "escalation",
    "view",
    "search",
    "export",
    "ui",
    # change reasons and rules
    "person_create",
    "case_open",
    "referral_request",
    "activity_add",
    "consent_record",
    "stage_record_update",
    "runaround",
    # department record fields and values
    "care_level",
    "program_eligible",
    "fact_finding",
]
CODE = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(map(re.escape, INTERNAL_CODES)) + r")(?![A-Za-z0-9_])")
# Columns that hold what a person typed or a technical address, not codes: names, paths, addresses.
FREE_COLUMNS = {"ユーザー名", "表示名", "パス", "接続元"}


@pytest.fixture
def busy_case(open_case, users, fresh):
    """A case with everything an auditor reads: a consent, referrals accepted and declined twice
    (たらい回し → an L3 escalation), a department record with a care level, an activity."""
    from referral_engine.cases.services.records import activity_add, consent_record, stage_record_update
    from referral_engine.cases.services.referrals import referral_create, referral_transition

    case = open_case(
        "worker_welfare",
        referrals=[
            {"to_department": "longevity_support", "basis": "internal_use", "reason": "介護の確認"},
            {"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問依頼"},
            {"to_department": "disaster_prevention", "basis": "internal_use", "reason": "避難計画"},
        ],
    )
    welfare = fresh(users["worker_welfare"])
    consent_record(case_id=case.pk, actor=welfare, recipients=["shakyo"], purposes="支援", method="oral")
    activity_add(case_id=case.pk, actor=welfare, kind="call", body="電話で様子を聞いた")
    longevity = case.referrals.get(to_department__code="longevity_support")
    referral_transition(referral_id=longevity.pk, name="accept", actor=fresh(users["worker_longevity"]))
    stage_record_update(
        referral_id=longevity.pk,
        actor=fresh(users["worker_longevity"]),
        data={"care_level": "program_eligible", "notes": "実態把握"},
    )
    for code, worker in (("health_promotion", "worker_health"), ("disaster_prevention", "worker_bosai")):
        referral = case.referrals.get(to_department__code=code)
        referral_transition(referral_id=referral.pk, name="decline", actor=fresh(users[worker]), reason="対象外")
    referral_create(case_id=case.pk, actor=welfare, to_department="shakyo", basis="consent", reason="サロン参加")
    _client(users["worker_longevity"]).get(f"/cases/{case.pk}/")
    _client(users["worker_shakyo"]).get("/cases/987654/")  # a denial
    _client(users["worker_welfare"]).get("/cases/", {"department": "shakyo", "state": "received"})
    return case


def _csv(client: Client, path: str) -> list[dict[str, str]]:
    response = client.get(path)
    assert response.status_code == 200, path
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_no_audit_csv_carries_an_internal_code(users, busy_case):
    from referral_engine.timers.models import Escalation

    assert Escalation.objects.filter(case=busy_case, rule="runaround").exists()  # the L3 たらい回し is there
    auditor = _client(users["auditor"])
    auditor.get("/audit/access-log/", {"department": "shakyo", "action": "view"})  # a filter search, logged
    paths = [
        "/audit/access-log/export.csv",
        f"/audit/cases/{busy_case.pk}/export.csv",
        "/audit/denied/export.csv",
    ] + [
        f"/audit/users/{users[name].pk}/{kind}.csv"
        for name in ("worker_welfare", "worker_longevity", "worker_health", "auditor")
        for kind in ("access", "changes")
    ]
    found = []
    rows_seen = 0
    for path in paths:
        for row in _csv(auditor, path):
            rows_seen += 1
            for column, cell in row.items():
                if column in FREE_COLUMNS or not cell:
                    continue
                found += [(path, column, cell) for _match in CODE.finditer(cell)][:1]
    assert rows_seen > 30
    assert found == [], "\n".join(map(repr, found))


def test_the_case_history_csv_names_the_case_by_number_and_labels_the_record_and_the_rule(users, busy_case):
    rows = _csv(_client(users["auditor"]), f"/audit/cases/{busy_case.pk}/export.csv")
    assert {r["ケース番号"] for r in rows} == {busy_case.number}
    # The department's record names its fields and values in words (care_level: program_eligible).
    assert any("認定結果（要介護度）: 事業対象者" in r["変更後"] for r in rows), [r["変更後"] for r in rows]
    reasons = {r["理由"] for r in rows}
    assert any("たらい回し" in reason or "はざま" in reason for reason in reasons), reasons
    assert "つなぎ依頼: 庁内利用" in reasons


def _text(html: str) -> str:
    """What a person reads: no tags, no attributes (links and CSS classes may hold codes), no scripts."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_no_auditor_screen_shows_an_internal_code(users, busy_case):
    auditor = _client(users["auditor"])
    auditor.get("/audit/access-log/", {"department": "shakyo", "action": "view"})
    found = []
    for path in [
        "/audit/",
        "/audit/access-log/",
        f"/audit/cases/{busy_case.pk}/",
        f"/audit/users/{users['worker_longevity'].pk}/",
        f"/audit/users/{users['worker_welfare'].pk}/",
        "/audit/denied/",
    ]:
        response = auditor.get(path)
        assert response.status_code == 200, path
        text = _text(response.content.decode())
        found += [(path, m.group(0), text[max(0, m.start() - 40) : m.end() + 40]) for m in CODE.finditer(text)]
    assert found == [], "\n".join(map(repr, found))
