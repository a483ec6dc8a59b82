"""The authorization matrix (issue 5): every URL pattern and API route × every demo user (every role)
× the user's relation to the case → the expected status.

Routes are enumerated from the URL resolver, so a new route without an entry in ROUTES (or PUBLIC)
fails `test_every_route_has_an_entry`. The expectations are written here by hand from DESIGN §2/§4/§5,
not computed from the policy module, so the policy can be wrong and this test says so.

The world: case A, opened by worker_welfare (lead social_welfare), referred to health_promotion
(accepted), longevity_support (requested) and disaster_prevention (declined); shakyo uninvolved.
A community slip by minsei_kawakami. Each request runs in a savepoint that is rolled back, so a
successful write by one user does not change what the next user meets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver

from referral_engine.cases.services.intake import case_open
from referral_engine.cases.services.records import consent_record
from referral_engine.cases.services.referrals import referral_create, referral_transition
from referral_engine.cases.services.slips import slip_submit

USERS = [
    "desk_welfare", "desk_health", "worker_welfare", "worker_health", "worker_longevity", "worker_bosai",
    "worker_shakyo", "chief_welfare", "chief_health", "chief_longevity", "chief_bosai", "chief_shakyo",
    "auditor", "minsei_kawakami", "minsei_aoe", "admin",
]  # fmt: skip

# Relation of each user to case A (lead / involved-accepted / involved-requested / declined / uninvolved /
# connector) and the view level that relation gives.
RELATION_A = {
    "desk_welfare": "lead", "worker_welfare": "lead", "chief_welfare": "lead",
    "desk_health": "accepted", "worker_health": "accepted", "chief_health": "accepted",
    "worker_longevity": "requested", "chief_longevity": "requested",
    "worker_bosai": "declined", "chief_bosai": "declined",
    "worker_shakyo": "uninvolved", "chief_shakyo": "uninvolved",
    "auditor": "audit", "minsei_kawakami": "connector-own", "minsei_aoe": "connector-other", "admin": "none",
}  # fmt: skip
FULL = {u for u, r in RELATION_A.items() if r in ("lead", "accepted")}
LIMITED = {u for u, r in RELATION_A.items() if r == "requested"}
SEES_A = FULL | LIMITED | {"auditor"}
STAFF = {u for u in USERS if u.split("_")[0] in ("desk", "worker", "chief")}
WORKERS = {u for u in STAFF if not u.startswith("desk_")}
SUPERVISORS = {u for u in USERS if u.startswith("chief_")}
CONNECTORS = {"minsei_kawakami", "minsei_aoe"}
REPORTERS = SUPERVISORS | {"auditor", "admin"}


def case_rule(*, ok: int, who: set[str], seen_by: set[str] = SEES_A) -> Callable[[str], int]:
    """`ok` for `who`; 403 for those who see the object but may not do this; 404 for the rest."""

    def rule(user: str) -> int:
        if user in who:
            return ok
        return 403 if user in seen_by else 404

    return rule


def role_rule(*, ok: int, who: set[str], other: int = 403) -> Callable[[str], int]:
    return lambda user: ok if user in who else other


@dataclass
class Route:
    method: str
    path: Callable[[dict[str, Any]], str]
    expect: Callable[[str], int]
    data: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    json: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _ids(world, key):
    return world[key].pk


# Who may see referral L (to longevity, requested): the case's viewers plus the receiving department.
SEES_L = SEES_A
# Referral H (to health, accepted): the same case viewers.
SEES_H = SEES_A

# The escalation is on the longevity handoff: its department's staff, the desk supervisor and auditors
# see it; its supervisor and the desk supervisor acknowledge it.
SEES_ESCALATION = {"worker_longevity", "chief_longevity", "chief_welfare", "auditor"}
ESCALATION_ACK = {"chief_longevity", "chief_welfare"}

PLAN_READERS = {"worker_bosai", "chief_bosai", "chief_welfare", "auditor"}
WATCH_UNTIL = (date.today() + timedelta(days=30)).isoformat()

CASE_WRITERS = FULL  # staff of a department holding `work_case` on A (incl. the desk supervisor)

ROUTES: dict[str, Route] = {
    # --- web pages ------------------------------------------------------------------------------
    "home": Route("get", lambda w: "/", role_rule(ok=200, who=set(USERS))),
    "case_list": Route("get", lambda w: "/cases/", role_rule(ok=200, who=STAFF | {"auditor"})),
    "case_new": Route("get", lambda w: "/cases/new/", role_rule(ok=200, who=STAFF)),
    "case_detail": Route("get", lambda w: f"/cases/{w['A'].pk}/", case_rule(ok=200, who=SEES_A)),
    "case_print": Route("get", lambda w: f"/cases/{w['A'].pk}/print/", case_rule(ok=200, who=SEES_A)),
    "case_transition": Route(
        "post",
        lambda w: f"/cases/{w['A'].pk}/transition/",
        case_rule(ok=302, who=CASE_WRITERS),
        data=lambda w: {"name": "start_assessment"},
    ),
    "case_activity_add": Route(
        "post",
        lambda w: f"/cases/{w['A'].pk}/activities/",
        case_rule(ok=302, who=CASE_WRITERS),
        data=lambda w: {"kind": "note", "body": "電話で様子を確認"},
    ),
    "case_referral_add": Route(
        "post",
        lambda w: f"/cases/{w['A'].pk}/referrals/",
        case_rule(ok=302, who=CASE_WRITERS),
        data=lambda w: {
            "to_department": "shakyo",
            "basis": "support_meeting",
            "reason": "サロン",
            "justification": "支援会議で合意",
        },
    ),
    "case_consent_add": Route(
        "post",
        lambda w: f"/cases/{w['A'].pk}/consents/",
        case_rule(ok=302, who=CASE_WRITERS),
        data=lambda w: {"recipients": ["shakyo"], "purposes": "サロン参加", "method": "oral"},
    ),
    "case_lead_change": Route(
        "post",
        lambda w: f"/cases/{w['A'].pk}/lead/",
        case_rule(ok=302, who={"chief_welfare"}),
        data=lambda w: {"lead_department": "social_welfare", "lead_worker_id": w["users"]["worker_welfare"].pk},
    ),
    "consent_withdraw": Route(
        "post", lambda w: f"/consents/{w['consent'].pk}/withdraw/", case_rule(ok=302, who=CASE_WRITERS)
    ),
    "referral_transition": Route(
        "post",
        lambda w: f"/referrals/{w['L'].pk}/transition/",
        case_rule(ok=302, who={"worker_longevity", "chief_longevity"}, seen_by=SEES_L),
        data=lambda w: {"name": "accept"},
    ),
    "referral_record": Route(
        "post",
        lambda w: f"/referrals/{w['H'].pk}/record/",
        case_rule(ok=302, who={"worker_health", "chief_health"}, seen_by=SEES_H),
        data=lambda w: {"visited_by": "保健師"},
    ),
    "referral_assign": Route(
        "post",
        lambda w: f"/referrals/{w['H'].pk}/assign/",
        case_rule(ok=302, who={"chief_health", "chief_welfare"}, seen_by=SEES_H),
        data=lambda w: {"worker_id": w["users"]["worker_health"].pk},
    ),
    "person_search": Route("get", lambda w: "/persons/search/?q=ツクミ", role_rule(ok=200, who=STAFF)),
    "inbox": Route("get", lambda w: "/inbox/", role_rule(ok=200, who=STAFF)),
    "dashboard": Route("get", lambda w: "/dashboard/", role_rule(ok=200, who=SUPERVISORS | {"auditor"})),
    "escalation_ack": Route(
        "post",
        lambda w: f"/escalations/{w['escalation'].pk}/acknowledge/",
        case_rule(ok=302, who=ESCALATION_ACK, seen_by=SEES_ESCALATION),
        data=lambda w: {"note": "確認しました"},
    ),
    # --- fiscal-year reports: supervisors, auditors, the admin; an export's file only for its owner ---------
    "reports:index": Route("get", lambda w: "/reports/", role_rule(ok=200, who=REPORTERS)),
    "reports:year": Route("get", lambda w: "/reports/2026/", role_rule(ok=200, who=REPORTERS)),
    "reports:print": Route("get", lambda w: "/reports/2026/print/", role_rule(ok=200, who=REPORTERS)),
    "reports:csv": Route("get", lambda w: "/reports/2026/report.csv", role_rule(ok=200, who=REPORTERS)),
    "reports:export_start": Route(
        "post", lambda w: "/reports/2026/exports/", role_rule(ok=302, who=REPORTERS), data=lambda w: {"format": "csv"}
    ),
    "reports:export_status": Route(
        "get", lambda w: f"/reports/exports/{w['export'].pk}/", role_rule(ok=200, who={"chief_health"}, other=404)
    ),
    "reports:export_download": Route(
        "get",
        lambda w: f"/reports/exports/{w['export'].pk}/download/",
        role_rule(ok=200, who={"chief_health"}, other=404),
    ),
    "slips": Route("get", lambda w: "/slips/", role_rule(ok=200, who=CONNECTORS)),
    # 見守り依頼 (issue 19): staff with full view ask from the case page; the district's connector
    # reports on /watch/<id>/ (staff who see the case are sent to the case page); closing as in the API.
    "case_watch_add": Route(
        "post",
        lambda w: f"/cases/{w['A'].pk}/watch-requests/",
        case_rule(ok=302, who=FULL),
        data=lambda w: {
            "watch-district": "aoe",
            "watch-what_to_watch": "夜に明かりがつくか",
            "watch-until": WATCH_UNTIL,
            "watch-basis": "support_meeting",
            "watch-justification": "支援会議で合意",
        },
    ),
    "evacuation_plans": Route("get", lambda w: "/evacuation-plans/", role_rule(ok=200, who=PLAN_READERS)),
    "evacuation_plan_print": Route(
        "get", lambda w: f"/evacuation-plans/{w['plan'].pk}/print/", role_rule(ok=200, who=PLAN_READERS, other=404)
    ),
    "watch_detail": Route(
        "get",
        lambda w: f"/watch/{w['W'].pk}/",
        lambda u: 200 if u == "minsei_kawakami" else 302 if u in SEES_A else 404,
    ),
    "watch_close": Route(
        "post",
        lambda w: f"/watch/{w['W'].pk}/close/",
        case_rule(ok=302, who=CASE_WRITERS, seen_by=SEES_A | {"minsei_kawakami"}),
        data=lambda w: {"reason": "入院"},
    ),
    "notifications": Route("get", lambda w: "/notifications/", role_rule(ok=200, who=set(USERS))),
    "notification_read": Route("post", lambda w: "/notifications/read/", role_rule(ok=302, who=set(USERS))),
    # --- auditor pages (hidden from everybody else: 404) -----------------------------------------
    "audit:index": Route("get", lambda w: "/audit/", role_rule(ok=200, who={"auditor"}, other=404)),
    "audit:access_log": Route("get", lambda w: "/audit/access-log/", role_rule(ok=200, who={"auditor"}, other=404)),
    "audit:access_log_export": Route(
        "get", lambda w: "/audit/access-log/export.csv", role_rule(ok=200, who={"auditor"}, other=404)
    ),
    "audit:case_lookup": Route(
        "get", lambda w: f"/audit/cases/?number={w['A'].number}", role_rule(ok=302, who={"auditor"}, other=404)
    ),
    "audit:case_history": Route(
        "get", lambda w: f"/audit/cases/{w['A'].pk}/", role_rule(ok=200, who={"auditor"}, other=404)
    ),
    "audit:case_history_export": Route(
        "get", lambda w: f"/audit/cases/{w['A'].pk}/export.csv", role_rule(ok=200, who={"auditor"}, other=404)
    ),
    "audit:user_list": Route("get", lambda w: "/audit/users/", role_rule(ok=200, who={"auditor"}, other=404)),
    "audit:user_activity": Route(
        "get",
        lambda w: f"/audit/users/{w['users']['worker_welfare'].pk}/",
        role_rule(ok=200, who={"auditor"}, other=404),
    ),
    "audit:user_access_export": Route(
        "get",
        lambda w: f"/audit/users/{w['users']['worker_welfare'].pk}/access.csv",
        role_rule(ok=200, who={"auditor"}, other=404),
    ),
    "audit:user_changes_export": Route(
        "get",
        lambda w: f"/audit/users/{w['users']['worker_welfare'].pk}/changes.csv",
        role_rule(ok=200, who={"auditor"}, other=404),
    ),
    # --- API (DESIGN §8.1) -------------------------------------------------------------------------
    "api-persons": Route("get", lambda w: "/api/v1/persons/?q=ツクミ", role_rule(ok=200, who=STAFF)),
    "api-cases": Route("get", lambda w: "/api/v1/cases/", role_rule(ok=200, who=STAFF | {"auditor"})),
    "api-cases:post": Route(
        "post",
        lambda w: "/api/v1/cases/",
        role_rule(ok=201, who=STAFF),
        data=lambda w: {
            "person": {"family_name": "新規", "given_name": "太郎"},
            "summary": "相談",
            "confirm_new_person": True,
        },
        json=True,
    ),
    "api-case": Route("get", lambda w: f"/api/v1/cases/{w['A'].pk}/", case_rule(ok=200, who=SEES_A)),
    "api-case-transitions": Route(
        "get", lambda w: f"/api/v1/cases/{w['A'].pk}/transitions/", case_rule(ok=200, who=SEES_A)
    ),
    "api-case-transition": Route(
        "post",
        lambda w: f"/api/v1/cases/{w['A'].pk}/transitions/start_assessment/",
        case_rule(ok=200, who=CASE_WRITERS),
        data=lambda w: {},
        json=True,
    ),
    "api-case-referrals": Route(
        "get", lambda w: f"/api/v1/cases/{w['A'].pk}/referrals/", case_rule(ok=200, who=SEES_A)
    ),
    "api-case-referrals:post": Route(
        "post",
        lambda w: f"/api/v1/cases/{w['A'].pk}/referrals/",
        case_rule(ok=201, who=CASE_WRITERS),
        data=lambda w: {
            "to_department": "shakyo",
            "basis": "support_meeting",
            "reason": "サロン",
            "justification": "支援会議で合意",
        },
        json=True,
    ),
    "api-case-activities": Route(
        "get", lambda w: f"/api/v1/cases/{w['A'].pk}/activities/", case_rule(ok=200, who=SEES_A)
    ),
    "api-case-activities:post": Route(
        "post",
        lambda w: f"/api/v1/cases/{w['A'].pk}/activities/",
        case_rule(ok=201, who=CASE_WRITERS),
        data=lambda w: {"kind": "call", "body": "電話", "sensitive": False},
        json=True,
    ),
    "api-case-consents": Route("get", lambda w: f"/api/v1/cases/{w['A'].pk}/consents/", case_rule(ok=200, who=SEES_A)),
    "api-case-consents:post": Route(
        "post",
        lambda w: f"/api/v1/cases/{w['A'].pk}/consents/",
        case_rule(ok=201, who=CASE_WRITERS),
        data=lambda w: {"recipients": ["shakyo"], "purposes": "サロン参加", "method": "oral"},
        json=True,
    ),
    # Field-level history: full viewers and auditors; a limited viewer may not read it (404).
    "api-case-history": Route(
        "get",
        lambda w: f"/api/v1/cases/{w['A'].pk}/history/",
        lambda u: 200 if u in FULL | {"auditor"} else 404,
    ),
    "api-consent-withdraw": Route(
        "post",
        lambda w: f"/api/v1/consents/{w['consent'].pk}/withdraw/",
        case_rule(ok=200, who=CASE_WRITERS),
        data=lambda w: {},
        json=True,
    ),
    "api-referrals": Route("get", lambda w: "/api/v1/referrals/", role_rule(ok=200, who=STAFF | {"auditor"})),
    "api-referral": Route("get", lambda w: f"/api/v1/referrals/{w['L'].pk}/", case_rule(ok=200, who=SEES_L)),
    "api-referral-transitions": Route(
        "get", lambda w: f"/api/v1/referrals/{w['L'].pk}/transitions/", case_rule(ok=200, who=SEES_L)
    ),
    "api-referral-transition": Route(
        "post",
        lambda w: f"/api/v1/referrals/{w['L'].pk}/transitions/accept/",
        case_rule(ok=200, who={"worker_longevity", "chief_longevity"}, seen_by=SEES_L),
        data=lambda w: {},
        json=True,
    ),
    "api-referral-record": Route(
        "patch",
        lambda w: f"/api/v1/referrals/{w['H'].pk}/record/",
        case_rule(ok=200, who={"worker_health", "chief_health"}, seen_by=SEES_H),
        data=lambda w: {"visited_by": "保健師"},
        json=True,
    ),
    "api-community-slips": Route("get", lambda w: "/api/v1/community-slips/", role_rule(ok=200, who=CONNECTORS)),
    "api-community-slips:post": Route(
        "post",
        lambda w: "/api/v1/community-slips/",
        role_rule(ok=201, who=CONNECTORS),
        data=lambda w: {"name": "見守り 花子", "concern": "新聞がたまっている", "urgency": "normal"},
        json=True,
    ),
    # --- Watch requests (見守り依頼, issue 19): W is case A's request to kawakami ----------------------------
    "api-case-watch-requests": Route(
        "get", lambda w: f"/api/v1/cases/{w['A'].pk}/watch-requests/", case_rule(ok=200, who=FULL | {"auditor"})
    ),
    "api-case-watch-requests:post": Route(
        "post",
        lambda w: f"/api/v1/cases/{w['A'].pk}/watch-requests/",
        case_rule(ok=201, who=FULL),
        data=lambda w: {
            "district": "aoe",
            "what_to_watch": "夜に明かりがつくか",
            "basis": "support_meeting",
            "justification": "支援会議で合意",
            "until": WATCH_UNTIL,
        },
        json=True,
    ),
    # The district's connectors only; everybody else finds a case's requests on the case.
    "api-watch-requests": Route(
        "get", lambda w: "/api/v1/watch-requests/", role_rule(ok=200, who={"minsei_kawakami", "minsei_aoe"})
    ),
    "api-watch-request-reports": Route(
        "post",
        lambda w: f"/api/v1/watch-requests/{w['W'].pk}/reports/",
        case_rule(ok=201, who={"minsei_kawakami"}),
        data=lambda w: {"outcome": "met", "note": "元気そう"},
        json=True,
    ),
    # The requester and whoever works the case close it; its district's connector sees it (403).
    "api-watch-request-close": Route(
        "post",
        lambda w: f"/api/v1/watch-requests/{w['W'].pk}/close/",
        case_rule(ok=200, who=CASE_WRITERS, seen_by=SEES_A | {"minsei_kawakami"}),
        data=lambda w: {"reason": "入院"},
        json=True,
    ),
    # Individual evacuation plans (issue 19): disaster_prevention's staff, the desk supervisor, auditors.
    "api-evacuation-plans": Route("get", lambda w: "/api/v1/evacuation-plans/", role_rule(ok=200, who=PLAN_READERS)),
    # L1 warnings go to the receiving department's staff: staff list their departments' escalations.
    "api-escalations": Route("get", lambda w: "/api/v1/escalations/", role_rule(ok=200, who=STAFF | {"auditor"})),
    "api-escalation-acknowledge": Route(
        "post",
        lambda w: f"/api/v1/escalations/{w['escalation'].pk}/acknowledge/",
        case_rule(ok=200, who=ESCALATION_ACK, seen_by=SEES_ESCALATION),
        data=lambda w: {"note": "確認"},
        json=True,
    ),
    "api-dashboard": Route("get", lambda w: "/api/v1/dashboard/", role_rule(ok=200, who=SUPERVISORS | {"auditor"})),
    "api-reports-fiscal-year": Route(
        "get", lambda w: "/api/v1/reports/fiscal-year/2026/", role_rule(ok=200, who=REPORTERS)
    ),
    "api-audit-access-log": Route("get", lambda w: "/api/v1/audit/access-log/", role_rule(ok=200, who={"auditor"})),
    "api-not-found": Route("get", lambda w: "/api/v1/no-such-thing/", role_rule(ok=404, who=set(USERS))),
    # A login gives no access to the metrics: a bearer token or an allowed address does (docs/operations.md).
    "metrics": Route("get", lambda w: "/metrics", role_rule(ok=200, who=set())),
}

# Routes outside the per-role matrix, each with the reason; they are tested where named.
PUBLIC = {
    "healthz": "no login by design (tests/test_foundation.py)",
    "login": "the login page (tests/test_foundation.py, tests/reliability)",
    "logout": "POST only, ends the session",
    "set_language": "Django's language switch",
    "api-token": "credentials exchange (tests/api)",
    "api-schema": "the OpenAPI document (tests/api)",
    "api-docs": "the offline docs page (tests/api)",
}
# Namespaces covered by their own suites: the admin (admin role only, tests/web/test_admin*.py) and
# two-factor login (tests/reliability).
OWN_SUITES = {"admin", "otp", "security", "two_factor"}
OWN_SUITE_PREFIXES = ("two_factor_",)


def _walk(patterns, prefix="", namespace=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = p.namespace or namespace
            yield from _walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            name = p.name or str(p.pattern)
            yield (f"{namespace}:{name}" if namespace else name), prefix + str(p.pattern)


def all_routes() -> dict[str, str]:
    return dict(_walk(get_resolver().url_patterns))


def test_every_route_has_an_entry():
    missing = []
    for name, pattern in all_routes().items():
        namespace = name.split(":", 1)[0] if ":" in name else ""
        if name in ROUTES or name in PUBLIC or namespace in OWN_SUITES or name.startswith(OWN_SUITE_PREFIXES):
            continue
        missing.append(f"{name} ({pattern})")
    assert missing == [], "routes without an entry in the authorization matrix"
    stale = [name for name in ROUTES if name.split(":post")[0] not in all_routes()]
    assert stale == []


@pytest.fixture
def world(users, fresh):
    u = users
    a = case_open(
        actor=fresh(u["worker_welfare"]),
        summary="一人暮らし、外出が減っている",
        person={"family_name": "津久見", "given_name": "花子", "family_name_kana": "ツクミ", "flags": ["hikikomori"]},
        confirm_new_person=True,
        referrals=[
            {"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問"},
            {"to_department": "longevity_support", "basis": "internal_use", "reason": "介護"},
            {"to_department": "disaster_prevention", "basis": "internal_use", "reason": "避難"},
        ],
    )
    refs = {r.to_department.code: r for r in a.referrals.all()}
    referral_transition(referral_id=refs["health_promotion"].pk, name="accept", actor=fresh(u["worker_health"]))
    referral_transition(
        referral_id=refs["disaster_prevention"].pk, name="decline", actor=fresh(u["worker_bosai"]), reason="対象外"
    )
    consent = consent_record(
        case_id=a.pk, actor=fresh(u["worker_welfare"]), recipients=["shakyo"], purposes="サロン", method="oral"
    )
    slip = slip_submit(actor=fresh(u["minsei_kawakami"]), concern="新聞がたまっている", name="保戸 太郎")
    from referral_engine.accounts.models import Department
    from referral_engine.timers.models import Escalation

    escalation = Escalation.objects.create(
        object_key=f"referral:{refs['longevity_support'].pk}",
        rule="handoff",
        level=2,
        case=a,
        referral=refs["longevity_support"],
        department=Department.objects.get(code="longevity_support"),
        due_at=a.created_at,
    )
    from referral_engine.cases.services.watch import watch_request_create

    watch = watch_request_create(
        case_id=a.pk,
        actor=fresh(u["worker_welfare"]),
        district="kawakami",
        what_to_watch="新聞がたまっていないか",
        basis="support_meeting",
        justification="支援会議で合意",
        until=WATCH_UNTIL,
    )
    from referral_engine.cases.models import EvacuationPlan

    plan = EvacuationPlan.objects.create(
        person=a.person, referral=refs["disaster_prevention"], made_at=a.created_at, destination="第一小学校"
    )
    # referral_create is imported for its side effect in other tests; keep the world minimal here.
    assert referral_create
    # A fiscal-year report file made for chief_health (only its owner may fetch it).
    from referral_engine.reports.models import ReportExport
    from referral_engine.reports.services import report_export_run

    export = ReportExport.objects.create(owner=u["chief_health"], fiscal_year=2026, format="csv")
    report_export_run(export_id=export.pk)
    return {
        "users": u,
        "A": a,
        "H": refs["health_promotion"],
        "L": refs["longevity_support"],
        "B": refs["disaster_prevention"],
        "consent": consent,
        "slip": slip,
        "escalation": escalation,
        "export": export,
        "W": watch,
        "plan": plan,
    }


def _request(client, route: Route, world) -> int:
    url = route.path(world)
    method = getattr(client, route.method)
    kwargs: dict[str, Any] = {}
    if route.data is not None:
        payload = route.data(world)
        if route.json:
            kwargs = {"data": payload, "content_type": "application/json"}
        else:
            kwargs = {"data": payload}
    with transaction.atomic():
        response = method(url, **kwargs)
        transaction.set_rollback(True)
    return response.status_code


@pytest.mark.parametrize("route_name", sorted(ROUTES))
def test_matrix(route_name, world, client):
    route = ROUTES[route_name]
    wrong = {}
    for username in USERS:
        client.force_login(world["users"][username])
        expected = route.expect(username)
        got = _request(client, route, world)
        if got != expected:
            wrong[f"{username} ({RELATION_A[username]})"] = f"expected {expected}, got {got}"
    assert wrong == {}


SECRET = "機微情報-XYZZY-4711"


def test_sensitive_text_never_reaches_those_who_may_not_see_it(world, client):
    """Plant a unique string in a sensitive activity; fetch every GET route as every user; only full
    viewers of case A and auditors may ever receive it (pages, API, exports, search, notifications)."""
    from referral_engine.cases.services.records import activity_add

    activity_add(
        case_id=world["A"].pk, actor=world["users"]["worker_welfare"], kind="visit", body=SECRET, sensitive=True
    )
    may_see = FULL | {"auditor"}
    leaks, seen_by = [], set()
    get_routes = [name for name, route in ROUTES.items() if route.method == "get"]
    for username in USERS:
        client.force_login(world["users"][username])
        for name in get_routes:
            response = client.get(ROUTES[name].path(world))
            body = b"".join(response.streaming_content) if response.streaming else response.content
            if SECRET.encode() in body:
                seen_by.add(username)
                if username not in may_see:
                    leaks.append(f"{username} via {name}")
    assert leaks == []
    assert {"worker_welfare", "worker_health", "auditor"} <= seen_by  # the probe can find it


CASE_SECRET = "ケース内容-PLUGH-0815"


def test_connectors_never_receive_the_case_only_what_to_watch(world, client):
    """Issue 19: plant a unique string in the case's summary, in an ordinary (not sensitive) support
    record and in a watch request's justification; fetch every GET route as each connector. The
    district's connector gets the person's name, address and what to watch, and nothing else of the
    case; the other district's connector not even that."""
    from referral_engine.cases.models import Case
    from referral_engine.cases.services.records import activity_add

    Case.objects.filter(pk=world["A"].pk).update(summary=f"主訴 {CASE_SECRET}")
    activity_add(case_id=world["A"].pk, actor=world["users"]["worker_welfare"], kind="call", body=f"電話 {CASE_SECRET}")
    get_routes = [name for name, route in ROUTES.items() if route.method == "get"]
    received: dict[str, bytes] = {}
    for username in sorted(CONNECTORS):
        client.force_login(world["users"][username])
        for name in get_routes:
            response = client.get(ROUTES[name].path(world))
            body = b"".join(response.streaming_content) if response.streaming else response.content
            received[f"{username} via {name}"] = body
    assert [where for where, body in received.items() if CASE_SECRET.encode() in body] == []
    assert [where for where, body in received.items() if "支援会議で合意".encode() in body] == []  # justification
    # The probe can find what a connector may see: the request of their district, with the person's name.
    watch_list = received["minsei_kawakami via api-watch-requests"].decode()
    assert "新聞がたまっていないか" in watch_list and "津久見 花子" in watch_list
    assert [w for w, body in received.items() if w.startswith("minsei_aoe") and "津久見 花子".encode() in body] == []
