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

from referral_engine.accounts.tokens import api_token_issue
from referral_engine.cases.services.intake import case_open
from referral_engine.cases.services.person_choice import person_choice_issue
from referral_engine.cases.services.persons import person_update
from referral_engine.cases.services.records import consent_record
from referral_engine.cases.services.referrals import referral_create, referral_transition
from referral_engine.cases.services.slips import slip_submit
from referral_engine.notifications.models import Notification

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
# Disaster mode (access/policy/disasters.py): city staff, auditors and the admin see every district; a
# connector their own district while the event is open (the world's event covers kawakami); the shakyo no.
CITY_STAFF = STAFF - {"worker_shakyo", "chief_shakyo"}
DISASTER_OPENERS = {"chief_bosai", "admin"}
SEES_DISASTER = CITY_STAFF | {"auditor", "admin", "minsei_kawakami"}
UPDATES_CHECKS = SEES_DISASTER - {"auditor"}


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


def _today() -> str:
    from django.utils import timezone

    return timezone.localdate().isoformat()


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
REASSESSORS = {u for u in CASE_WRITERS if not u.startswith("desk_")}  # caseworkers and supervisors
# The desk (social_welfare staff) triages community slips; the slip's case is seen by the desk and auditors.
DESK = {"desk_welfare", "worker_welfare", "chief_welfare"}
# A's household (A's person and the slip's person): managed by those who see A (or the slip's case) in
# full; seen by whoever sees a case of a member.
# The shakyo reaches A's person through its own case N (issue 17), and a household through a member's case.
HOUSEHOLD_MANAGERS = FULL | {"worker_shakyo", "chief_shakyo"}
SEES_HOUSEHOLD = SEES_A | DESK | {"worker_shakyo", "chief_shakyo"}

# Case N: the shakyo's own case for A's person, opened later with `person_id` (issue 17: the person
# seen through a new case). Its whole view: the shakyo's staff and the desk supervisor.
SEES_N_FULL = {"worker_shakyo", "chief_shakyo"}

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
    # Reassessment: caseworkers and supervisors of departments that work the case (not front desk).
    "case_reassess": Route(
        "post",
        lambda w: f"/cases/{w['A'].pk}/reassess/",
        case_rule(ok=302, who=REASSESSORS),
        data=lambda w: {"risk": "urgent", "needs": ["isolation"], "summary": "急変", "reason": "訪問で確認"},
    ),
    # Households from the case page: those who see an open case of a member in full (issue 17).
    "case_household_add": Route(
        "post",
        lambda w: f"/cases/{w['A'].pk}/household/",
        case_rule(ok=302, who=FULL),  # through case A's page: the shakyo does not see A
        data=lambda w: {"person_id": w["slip"].case.person_id, "relation": "cohabitant", "reason": "同居の確認"},
    ),
    "case_household_remove": Route(
        "post",
        lambda w: f"/cases/{w['A'].pk}/household/remove/",
        case_rule(ok=302, who=FULL),
        data=lambda w: {"person_id": w["slip"].case.person_id, "reason": "転出"},
    ),
    # Merging the slip's person into A's: a supervisor who sees a case of each (only the desk supervisor
    # here); staff who see both but may not merge get 403, the rest 404.
    "person_merge": Route(
        "post",
        lambda w: f"/persons/{w['slip'].case.person_id}/merge/",
        case_rule(ok=302, who={"chief_welfare"}, seen_by={"desk_welfare", "worker_welfare", "auditor"}),
        data=lambda w: {"into": w["A"].person_id, "reason": "同一人物"},
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
    # worker_health accepted H and so holds it (issue 18: accepting assigns): naming themselves again is
    # theirs to do; any other caseworker naming worker_health is not.
    "referral_assign": Route(
        "post",
        lambda w: f"/referrals/{w['H'].pk}/assign/",
        case_rule(ok=302, who={"chief_health", "chief_welfare", "worker_health"}, seen_by=SEES_H),
        data=lambda w: {"worker_id": w["users"]["worker_health"].pk},
    ),
    "case_person_edit": Route(
        "post",
        lambda w: f"/cases/{w['A'].pk}/person/",
        case_rule(ok=302, who=FULL),
        data=lambda w: {"family_name": "津久見", "given_name": "花子", "reason": "表記の確認"},
    ),
    "my_cases": Route("get", lambda w: "/cases/mine/", role_rule(ok=200, who=STAFF)),
    # Follow-ups (issue 18): set and done by those who work the case; my work's lists for staff.
    "case_followup_add": Route(
        "post",
        lambda w: f"/cases/{w['A'].pk}/followups/",
        case_rule(ok=302, who=CASE_WRITERS),
        data=lambda w: {"followup-due_on": _today(), "followup-note": "電話する"},
    ),
    "followup_done": Route(
        "post",
        lambda w: f"/followups/{w['followup'].pk}/done/",
        case_rule(ok=302, who=CASE_WRITERS),
        data=lambda w: {"note": "電話した"},
    ),
    "work_section": Route("get", lambda w: "/work/followups/", role_rule(ok=200, who=STAFF)),
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
    "slip_queue": Route("get", lambda w: "/slips/queue/", role_rule(ok=200, who=DESK)),
    "slip_link": Route(
        "post",
        lambda w: f"/slips/{w['slip'].pk}/link/",
        role_rule(ok=302, who=DESK),
        data=lambda w: {"person_id": w["A"].person_id},
    ),
    "slip_confirm_new": Route("post", lambda w: f"/slips/{w['slip'].pk}/confirm-new/", role_rule(ok=302, who=DESK)),
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
    # Everyone's own settings (mail, date style) and the help page (issue 18, items 7 and 8).
    "account_settings": Route("get", lambda w: "/accounts/settings/", role_rule(ok=200, who=set(USERS))),
    "help": Route("get", lambda w: "/help/", role_rule(ok=200, who=set(USERS))),
    # Everyone's own account: the password page and their API tokens (a token id not theirs changes nothing).
    "account_password": Route("get", lambda w: "/accounts/password/", role_rule(ok=200, who=set(USERS))),
    "account_tokens": Route("get", lambda w: "/accounts/tokens/", role_rule(ok=200, who=set(USERS))),
    "account_token_issue": Route("post", lambda w: "/accounts/tokens/new/", role_rule(ok=200, who=set(USERS))),
    "account_token_revoke": Route(
        "post", lambda w: f"/accounts/tokens/{w['token'].pk}/revoke/", role_rule(ok=302, who=set(USERS))
    ),
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
    "audit:search_volume": Route("get", lambda w: "/audit/searches/", role_rule(ok=200, who={"auditor"}, other=404)),
    "audit:search_volume_export": Route(
        "get", lambda w: "/audit/searches/export.csv", role_rule(ok=200, who={"auditor"}, other=404)
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
    # Denied reads (issue 16 item 6): auditors only, like every audit page.
    "audit:denied": Route("get", lambda w: "/audit/denied/", role_rule(ok=200, who={"auditor"}, other=404)),
    "audit:denied_export": Route(
        "get", lambda w: "/audit/denied/export.csv", role_rule(ok=200, who={"auditor"}, other=404)
    ),
    # --- API (DESIGN §8.1) -------------------------------------------------------------------------
    # A session has no token to refresh or end: 400 for everyone (tests/api covers tokens).
    "api-token-refresh": Route("post", lambda w: "/api/v1/auth/token/refresh/", role_rule(ok=400, who=set(USERS))),
    "api-logout": Route("post", lambda w: "/api/v1/auth/logout/", role_rule(ok=400, who=set(USERS))),
    "api-persons": Route("get", lambda w: "/api/v1/persons/?q=ツクミ", role_rule(ok=200, who=STAFF)),
    # Edit the person of A: a full view of an open case of the person — A's full viewers, and the
    # shakyo through case N (its own case of the same person); limited viewers and auditors see the
    # person but may not edit (403); the rest reach no case of the person (404).
    "api-person": Route(
        "patch",
        lambda w: f"/api/v1/persons/{w['A'].person_id}/",
        case_rule(ok=200, who=FULL | SEES_N_FULL, seen_by=SEES_A | SEES_N_FULL),
        data=lambda w: {"address": "津久見市川上2-2", "reason": "転居の連絡"},
        json=True,
    ),
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
    "api-case-reassess": Route(
        "post",
        lambda w: f"/api/v1/cases/{w['A'].pk}/reassess/",
        case_rule(ok=200, who=REASSESSORS),
        data=lambda w: {"risk": "urgent", "reason": "訪問で確認"},
        json=True,
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
    "api-referral-assign": Route(
        "post",
        lambda w: f"/api/v1/referrals/{w['L'].pk}/assign/",
        case_rule(ok=200, who={"chief_longevity", "chief_welfare", "worker_longevity"}, seen_by=SEES_L),
        data=lambda w: {"worker": "worker_longevity"},
        json=True,
    ),
    "api-referral-record": Route(
        "patch",
        lambda w: f"/api/v1/referrals/{w['H'].pk}/record/",
        case_rule(ok=200, who={"worker_health", "chief_health"}, seen_by=SEES_H),
        data=lambda w: {"visited_by": "保健師"},
        json=True,
    ),
    "api-case-followups": Route(
        "get", lambda w: f"/api/v1/cases/{w['A'].pk}/followups/", case_rule(ok=200, who=SEES_A)
    ),
    "api-case-followups:post": Route(
        "post",
        lambda w: f"/api/v1/cases/{w['A'].pk}/followups/",
        case_rule(ok=201, who=CASE_WRITERS),
        data=lambda w: {"due_on": _today(), "note": "電話する"},
        json=True,
    ),
    "api-followups": Route("get", lambda w: "/api/v1/followups/?mine=true", role_rule(ok=200, who=STAFF | {"auditor"})),
    "api-followup-done": Route(
        "post",
        lambda w: f"/api/v1/followups/{w['followup'].pk}/done/",
        case_rule(ok=200, who=CASE_WRITERS),
        data=lambda w: {"note": "電話した"},
        json=True,
    ),
    "api-me-work": Route("get", lambda w: "/api/v1/me/work/", role_rule(ok=200, who=STAFF)),
    # Everyone's own notifications and settings (issue 18, item 7); someone else's notification is a 404.
    "api-notifications": Route("get", lambda w: "/api/v1/notifications/", role_rule(ok=200, who=set(USERS))),
    "api-notification-read": Route(
        "post",
        lambda w: f"/api/v1/notifications/{w['notification'].pk}/read/",
        role_rule(ok=200, who={"chief_health"}, other=404),
        data=lambda w: {},
        json=True,
    ),
    "api-me-preferences": Route("get", lambda w: "/api/v1/me/preferences/", role_rule(ok=200, who=set(USERS))),
    "api-me-preferences:patch": Route(
        "patch",
        lambda w: "/api/v1/me/preferences/",
        role_rule(ok=200, who=set(USERS)),
        data=lambda w: {"date_style": "western"},
        json=True,
    ),
    "api-community-slips": Route("get", lambda w: "/api/v1/community-slips/", role_rule(ok=200, who=CONNECTORS)),
    "api-community-slip-link": Route(
        "post",
        lambda w: f"/api/v1/community-slips/{w['slip'].pk}/link/",
        role_rule(ok=200, who=DESK),
        data=lambda w: {"person_id": w["A"].person_id},
        json=True,
    ),
    "api-community-slip-confirm-new": Route(
        "post",
        lambda w: f"/api/v1/community-slips/{w['slip'].pk}/confirm-new/",
        role_rule(ok=200, who=DESK),
        data=lambda w: {},
        json=True,
    ),
    "api-person-merge": Route(
        "post",
        lambda w: f"/api/v1/persons/{w['slip'].case.person_id}/merge/",
        case_rule(ok=200, who={"chief_welfare"}, seen_by={"desk_welfare", "worker_welfare", "auditor"}),
        data=lambda w: {"into": w["A"].person_id, "reason": "同一人物"},
        json=True,
    ),
    # A's person is in a household already: those who may record one meet the conflict (409).
    "api-households": Route(
        "post",
        lambda w: "/api/v1/households/",
        role_rule(ok=409, who=HOUSEHOLD_MANAGERS),
        data=lambda w: {"members": [{"person_id": w["A"].person_id, "relation": "self"}], "reason": "r"},
        json=True,
    ),
    "api-household": Route(
        "get", lambda w: f"/api/v1/households/{w['household'].pk}/", case_rule(ok=200, who=SEES_HOUSEHOLD)
    ),
    "api-household:patch": Route(
        "patch",
        lambda w: f"/api/v1/households/{w['household'].pk}/",
        case_rule(ok=200, who=HOUSEHOLD_MANAGERS, seen_by=SEES_HOUSEHOLD),
        data=lambda w: {"members": [{"person_id": w["slip"].case.person_id, "relation": "cohabitant"}], "reason": "r"},
        json=True,
    ),
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
    # --- disaster mode ---------------------------------------------------------------------------------
    # A connector whose district is under one open event goes straight to its list.
    "disasters:index": Route("get", lambda w: "/disaster/", lambda user: 302 if user == "minsei_kawakami" else 200),
    "disasters:index:post": Route(
        "post",
        lambda w: "/disaster/",
        role_rule(ok=302, who=DISASTER_OPENERS),
        data=lambda w: {"name": "大雨", "kind": "typhoon", "districts": ["aoe"]},
    ),
    "disasters:board": Route(
        "get", lambda w: f"/disaster/{w['disaster'].pk}/", role_rule(ok=200, who=SEES_DISASTER, other=404)
    ),
    "disasters:counts": Route(
        "get", lambda w: f"/disaster/{w['disaster'].pk}/counts/", role_rule(ok=200, who=SEES_DISASTER, other=404)
    ),
    "disasters:print": Route(
        "get",
        lambda w: f"/disaster/{w['disaster'].pk}/districts/kawakami/print/",
        role_rule(ok=200, who=SEES_DISASTER, other=404),
    ),
    "disasters:unconfirmed_csv": Route(
        "get",
        lambda w: f"/disaster/{w['disaster'].pk}/unconfirmed.csv",
        role_rule(ok=200, who=SEES_DISASTER, other=404),
    ),
    "disasters:close": Route(
        "post",
        lambda w: f"/disaster/{w['disaster'].pk}/close/",
        case_rule(ok=302, who=DISASTER_OPENERS, seen_by=SEES_DISASTER),
        data=lambda w: {},
    ),
    "disasters:check": Route(
        "post",
        lambda w: f"/disaster/checks/{w['check'].pk}/",
        case_rule(ok=302, who=UPDATES_CHECKS, seen_by=SEES_DISASTER),
        data=lambda w: {"status": "safe", "note": ""},
    ),
    "api-disasters": Route("get", lambda w: "/api/v1/disasters/", role_rule(ok=200, who=set(USERS))),
    "api-disasters:post": Route(
        "post",
        lambda w: "/api/v1/disasters/",
        role_rule(ok=201, who=DISASTER_OPENERS),
        data=lambda w: {"name": "大雨", "kind": "typhoon", "districts": ["aoe"]},
        json=True,
    ),
    "api-disaster": Route(
        "get", lambda w: f"/api/v1/disasters/{w['disaster'].pk}/", role_rule(ok=200, who=SEES_DISASTER, other=404)
    ),
    "api-disaster-board": Route(
        "get",
        lambda w: f"/api/v1/disasters/{w['disaster'].pk}/board/",
        role_rule(ok=200, who=SEES_DISASTER, other=404),
    ),
    "api-disaster-checks": Route(
        "get",
        lambda w: f"/api/v1/disasters/{w['disaster'].pk}/checks/",
        role_rule(ok=200, who=SEES_DISASTER, other=404),
    ),
    "api-disaster-close": Route(
        "post",
        lambda w: f"/api/v1/disasters/{w['disaster'].pk}/close/",
        case_rule(ok=200, who=DISASTER_OPENERS, seen_by=SEES_DISASTER),
        data=lambda w: {},
        json=True,
    ),
    "api-safety-check": Route(
        "patch",
        lambda w: f"/api/v1/safety-checks/{w['check'].pk}/",
        case_rule(ok=200, who=UPDATES_CHECKS, seen_by=SEES_DISASTER),
        data=lambda w: {"status": "safe"},
        json=True,
    ),
    "api-audit-denied": Route("get", lambda w: "/api/v1/audit/denied/", role_rule(ok=200, who={"auditor"})),
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
    "api-root": "GET /api/v1/: a pointer to the docs, no data (tests/web/test_polish.py)",
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
    stale = [name for name in ROUTES if name.split(":post")[0].split(":patch")[0] not in all_routes()]
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
        case_id=a.pk, actor=fresh(u["worker_welfare"]), recipients=["shakyo"], purposes=CONSENT_SECRET, method="oral"
    )
    # Earlier history of the person, then case N for the same person at the shakyo (issue 17).
    person_update(
        person_id=a.person_id, actor=fresh(u["worker_welfare"]), changes={"address": OLD_ADDRESS}, reason="確認"
    )
    person_update(
        person_id=a.person_id, actor=fresh(u["worker_welfare"]), changes={"address": "津久見市川上1-1"}, reason="転居"
    )
    # The shakyo found A's person in its intake search (the proof a candidate carries, issue 17).
    shakyo = fresh(u["worker_shakyo"])
    n = case_open(
        actor=shakyo,
        summary="社協の窓口に来られた",
        person_id=a.person_id,
        person_choice=person_choice_issue(shakyo, a.person_id),
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
    from referral_engine.cases.services.households import household_create

    household = household_create(
        actor=fresh(u["worker_welfare"]),
        members=[
            {"person_id": a.person_id, "relation": "self"},
            {"person_id": slip.case.person_id, "relation": "child"},
        ],
        reason="同居の確認",
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
    from referral_engine.cases.services.followups import followup_create
    from referral_engine.reports.models import ReportExport
    from referral_engine.reports.services import report_export_run

    followup = followup_create(case_id=a.pk, actor=fresh(u["worker_welfare"]), due_on=_today(), note="電話する")
    export = ReportExport.objects.create(owner=u["chief_health"], fiscal_year=2026, format="csv")
    report_export_run(export_id=export.pk)
    # An open disaster over kawakami, with the safety check of case A's person (flagged by the register).
    from referral_engine.cases.models import Person
    from referral_engine.disasters.services import disaster_open

    Person.objects.filter(pk=a.person_id).update(
        flags=["hikikomori", "evacuation_support"], district=org_district("kawakami")
    )
    disaster = disaster_open(actor=fresh(u["chief_bosai"]), name="地震", kind="earthquake", district_codes=["kawakami"])
    return {
        "users": u,
        "A": a,
        "N": n,
        "H": refs["health_promotion"],
        "L": refs["longevity_support"],
        "B": refs["disaster_prevention"],
        "consent": consent,
        "slip": slip,
        "escalation": escalation,
        "export": export,
        "followup": followup,
        "disaster": disaster,
        "check": disaster.checks.get(),
        "token": api_token_issue(user=u["worker_welfare"])[0],
        # The health supervisors are told of the handoff to health: one of chief_health's own.
        "notification": Notification.objects.filter(recipient=u["chief_health"]).earliest("id"),
        "household": household,
        "W": watch,
        "plan": plan,
    }


def org_district(code: str):
    from referral_engine.accounts.models import District

    return District.objects.get(code=code)


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
CONSENT_SECRET = "同意の目的-FROBOZZ-2718"  # A's consent: A's own (issue 17)
OLD_ADDRESS = "旧住所-GRUE-1414"  # the person's history before case N was opened (issue 17)


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


def test_the_person_seen_through_a_new_case_shows_nothing_the_other_case_held(world, client):
    """Issue 17: case N is the shakyo's own case of A's person, opened later with `person_id`. Every
    GET route, pointed at N instead of A, as every user: A's sensitive record, A's consent and the
    person's history before N reach only those who see A whole (and auditors) — never the shakyo,
    whose reach to the person is N alone."""
    from referral_engine.cases.services.records import activity_add

    activity_add(
        case_id=world["A"].pk, actor=world["users"]["worker_welfare"], kind="visit", body=SECRET, sensitive=True
    )
    through_n = {**world, "A": world["N"]}
    # Who may receive each secret, by the case the routes point at. Through N: nobody but the auditor
    # (whose pages that name no case — a user's changes — show it). Through A: its full viewers and
    # auditors; A's consents are listed to its limited viewers too (DESIGN §4).
    may_see = {
        ("N", SECRET): {"auditor"},
        ("N", CONSENT_SECRET): {"auditor"},
        ("N", OLD_ADDRESS): {"auditor"},
        ("A", SECRET): FULL | {"auditor"},
        ("A", CONSENT_SECRET): SEES_A,
        ("A", OLD_ADDRESS): FULL | {"auditor"},
    }
    leaks, seen_by = [], set()
    n_seen_by: dict[str, set[str]] = {"case_detail": set(), "api-case": set()}
    get_routes = [name for name, route in ROUTES.items() if route.method == "get"]
    for username in USERS:
        client.force_login(world["users"][username])
        for name in get_routes:
            for label, w in (("N", through_n), ("A", world)):
                response = client.get(ROUTES[name].path(w))
                body = b"".join(response.streaming_content) if response.streaming else response.content
                if label == "N" and name in n_seen_by and response.status_code == 200:
                    n_seen_by[name].add(username)
                for secret in (SECRET, CONSENT_SECRET, OLD_ADDRESS):
                    if secret.encode() in body:
                        seen_by.add((username, secret))
                        if username not in may_see[(label, secret)]:
                            leaks.append(f"{username} via {name} ({label}): {secret}")
    assert leaks == []
    # The probe can find them where they are allowed.
    assert {("worker_welfare", SECRET), ("worker_welfare", CONSENT_SECRET), ("worker_welfare", OLD_ADDRESS)} <= seen_by
    # The relation itself: N is seen by its window (the shakyo), the desk supervisor and auditors;
    # A's other readers do not see N through the person (404 as for any case they may not see).
    assert n_seen_by["case_detail"] == n_seen_by["api-case"] == SEES_N_FULL | {"chief_welfare", "auditor"}


def test_the_new_case_shows_its_readers_the_identity_and_ordinary_flags_only(world, client):
    """N's readers at the shakyo get the identity needed to contact the person, not A's 要配慮 flag
    (ひきこもり), nor A's consent; A's full viewers still see the flag through N."""
    n = world["N"]
    client.force_login(world["users"]["worker_shakyo"])
    case = client.get(f"/api/v1/cases/{n.pk}/").json()
    assert case["access"] == "full"
    assert case["person"]["family_name"] == "津久見" and case["person"]["address"] == "津久見市川上1-1"
    # The world's disaster put A's person on the evacuation-support register: an ordinary flag, shown
    # with the identity; ひきこもり is 要配慮 and stays with A's readers.
    assert case["person"]["flags"] == ["evacuation_support"]
    assert client.get(f"/api/v1/cases/{n.pk}/consents/").json()["results"] == []
    client.force_login(world["users"]["chief_welfare"])
    assert sorted(client.get(f"/api/v1/cases/{n.pk}/").json()["person"]["flags"]) == [
        "evacuation_support",
        "hikikomori",
    ]


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
