"""Nothing about a person reaches the logs or the access log's stored text (issue 22, item 3).

A secret is planted in every text field of a case — the person's names, フリガナ, address and phone,
the summary, the first note, the consent, the referral reasons and justification, a decline's reason,
transition reasons, an activity, a department record, a community slip — and the main journeys run
over HTTP (intake, referral, accept / decline, case transitions, activity, consent, person and case
searches, the slip, the case page, its print view, the audit pages, failing requests). Then every log
line written at any level, in both formats, and every access-log row's `query` and `path` are scanned
for every secret, as typed and URL-encoded."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client
from rest_framework.test import APIClient

from referral_engine.accounts.tokens import api_token_issue

pytestmark = pytest.mark.django_db

SECRETS = {
    "family_name": "漏洩野",
    "given_name": "秘子",
    "family_name_kana": "ロウエイノ",
    "given_name_kana": "ヒミコ",
    "address": "津久見市秘密町九丁目九番",
    "phone": "0972-99-8877",
    "summary": "SECRET-SUMMARY 夫の借金のこと",
    "first_note": "SECRET-FIRST-NOTE",
    "consent_purposes": "SECRET-CONSENT-PURPOSES",
    "consent_note": "SECRET-CONSENT-NOTE",
    "referral_reason": "SECRET-REFERRAL-REASON",
    "referral_justification": "SECRET-JUSTIFICATION",
    "second_referral_reason": "SECRET-SECOND-REFERRAL",
    "decline_reason": "SECRET-DECLINE-REASON",
    "transition_reason": "SECRET-TRANSITION-REASON",
    "activity_body": "SECRET-ACTIVITY-BODY",
    "record_findings": "SECRET-RECORD-FINDINGS",
    "slip_name": "隠田 太郎",
    "slip_name_kana": "カクシダ",
    "slip_address_note": "SECRET-SLIP-ADDRESS",
    "slip_concern": "SECRET-SLIP-CONCERN",
}


def forms_of(secret: str) -> set[str]:
    """The secret as typed, without its spaces or hyphens, and URL-encoded (a query string)."""
    forms = {secret, quote(secret), quote(secret, safe=""), secret.replace(" ", "+")}
    compact = secret.replace(" ", "").replace("-", "")
    if len(compact) >= 6:
        forms |= {compact, quote(compact)}
    return forms


def api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=user)[1]}")
    return client


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ok(response, *statuses: int):
    assert response.status_code in (statuses or (200,)), (response.status_code, response.content[:500])
    return response


def drive_the_journeys(users) -> int:
    s = SECRETS
    desk, welfare = api(users["desk_welfare"]), api(users["worker_welfare"])
    # Intake with a new person, a consent, a first note and a referral.
    intake = {
        "summary": s["summary"],
        "needs": ["isolation", "health"],
        "risk": "high",
        "channel": "phone",
        "first_note": s["first_note"],
        "person": {
            "family_name": s["family_name"],
            "given_name": s["given_name"],
            "family_name_kana": s["family_name_kana"],
            "given_name_kana": s["given_name_kana"],
            "birth_date": "1941-02-03",
            "district": "kawakami",
            "address": s["address"],
            "phone": s["phone"],
        },
        "consent": {
            "recipients": ["health_promotion", "longevity_support"],
            "purposes": s["consent_purposes"],
            "method": "written",
            "note": s["consent_note"],
        },
        "referrals": [
            {
                "to_department": "health_promotion",
                "basis": "internal_use",
                "reason": s["referral_reason"],
                "justification": s["referral_justification"],
            }
        ],
        "confirm_new_person": True,
    }
    ok(desk.post("/api/v1/cases/", {**intake, "risk": s["summary"]}, format="json"), 400)  # refused input
    case_id = ok(desk.post("/api/v1/cases/", intake, format="json"), 201).json()["id"]

    # The searches staff type a name, kana or phone into.
    for term in (s["family_name"], s["family_name_kana"], s["phone"], s["family_name"] + s["given_name"]):
        ok(desk.get("/api/v1/persons/", {"q": term}))
        ok(welfare.get("/api/v1/cases/", {"q": term}))
        ok(web(users["chief_welfare"]).get("/cases/", {"q": term, "state": "received"}))
        ok(web(users["desk_welfare"]).get("/persons/search/", {"q": term}), 200, 400)
    ok(welfare.get("/api/v1/referrals/", {"q": s["family_name_kana"]}), 200, 400)

    # The handoff: accepted with a record, a second one declined with a reason.
    health = api(users["worker_health"])
    (referral,) = ok(health.get(f"/api/v1/cases/{case_id}/referrals/")).json()["results"]
    ok(health.post(f"/api/v1/referrals/{referral['id']}/transitions/accept/", {}, format="json"))
    transitions = ok(health.get(f"/api/v1/referrals/{referral['id']}/transitions/")).json()["transitions"]
    stage = next((t for t in transitions if t not in {"decline", "return", "complete", "cancel"}), None)
    if stage:
        ok(
            health.post(
                f"/api/v1/referrals/{referral['id']}/transitions/{stage}/",
                {"reason": s["transition_reason"]},
                format="json",
            )
        )
    ok(
        health.patch(f"/api/v1/referrals/{referral['id']}/record/", {"findings": s["record_findings"]}, format="json"),
        200,
        400,
        409,
    )
    second = ok(
        welfare.post(
            f"/api/v1/cases/{case_id}/referrals/",
            {"to_department": "longevity_support", "basis": "internal_use", "reason": s["second_referral_reason"]},
            format="json",
        ),
        201,
    ).json()
    ok(
        api(users["worker_longevity"]).post(
            f"/api/v1/referrals/{second['id']}/transitions/decline/", {"reason": s["decline_reason"]}, format="json"
        )
    )

    # The case's own work: an activity, a transition with a reason, the pages that show it.
    ok(
        welfare.post(
            f"/api/v1/cases/{case_id}/activities/",
            {"kind": "note", "body": s["activity_body"], "sensitive": True},
            format="json",
        ),
        201,
    )
    ok(
        welfare.post(
            f"/api/v1/cases/{case_id}/transitions/start_assessment/", {"reason": s["transition_reason"]}, format="json"
        )
    )
    ok(welfare.get(f"/api/v1/cases/{case_id}/"))
    ok(welfare.get(f"/api/v1/cases/{case_id}/history/"))
    page = web(users["worker_welfare"])
    ok(page.get(f"/cases/{case_id}/"))
    ok(page.get(f"/cases/{case_id}/print/"))
    ok(page.get(f"/cases/{case_id}/", {"q": s["family_name"]}))
    ok(page.get("/cases/99999999/", {"q": s["given_name"]}), 404)

    # A connector's slip, the desk's view of it.
    ok(
        api(users["minsei_kawakami"]).post(
            "/api/v1/community-slips/",
            {
                "name": s["slip_name"],
                "name_kana": s["slip_name_kana"],
                "district": "kawakami",
                "address_note": s["slip_address_note"],
                "concern": s["slip_concern"],
                "urgency": "normal",
                "person_agreed_to_contact": True,
            },
            format="json",
        ),
        201,
    )
    ok(web(users["minsei_kawakami"]).get("/slips/"))
    ok(web(users["desk_welfare"]).get("/inbox/"))

    # The auditor reads the case and looks for who searched the name.
    auditor = web(users["auditor"])
    ok(auditor.get(f"/audit/cases/{case_id}/"))
    ok(auditor.get("/audit/access-log/", {"term": s["family_name"]}))
    ok(api(users["auditor"]).get("/api/v1/audit/access-log/", {"term": s["family_name_kana"]}))
    return case_id


def test_no_planted_secret_reaches_a_log_line_or_the_access_log(users, captured_log):
    from referral_engine.audit.models import AccessLog
    from referral_engine.cases.models import Case

    case_id = drive_the_journeys(users)

    # The secrets really were stored (the journeys ran): the scan below is not vacuous.
    case = Case.objects.select_related("person").get(pk=case_id)
    assert (case.person.family_name, case.summary) == (SECRETS["family_name"], SECRETS["summary"])
    assert len(captured_log.lines) > 40
    assert sum(1 for r in captured_log.records if r["logger"] == "referral_engine.request") > 30
    searches = AccessLog.objects.filter(action="search")
    assert searches.filter(object_type="person").count() >= 4

    leaks = []
    stored = [
        (f"access log #{row.pk} {name}", getattr(row, name))
        for row in AccessLog.objects.all()
        for name in ("query", "path")
    ]
    for field, secret in SECRETS.items():
        for form in forms_of(secret):
            if form in captured_log.text:
                leaks.append(f"{field} ({form!r}) in a log line")
            leaks.extend(f"{field} ({form!r}) in {where}" for where, text in stored if form in text)
    assert leaks == []


def test_the_auditor_finds_who_searched_a_name_by_its_fingerprint(users):
    from referral_engine.audit.models import AccessLog

    desk = api(users["desk_welfare"])
    ok(desk.get("/api/v1/persons/", {"q": "つくみ"}))
    ok(desk.get("/api/v1/persons/", {"q": "ホトジマ"}))
    auditor = api(users["auditor"])
    found = ok(auditor.get("/api/v1/audit/access-log/", {"term": "ツクミ", "action": "search"})).json()["results"]
    assert [(e["username"], e["object_type"]) for e in found] == [(users["desk_welfare"].username, "person")]
    assert not any("ツクミ" in row.query or "つくみ" in row.query for row in AccessLog.objects.all())
