"""Each endpoint × each role, inside and outside the case → the expected status (DESIGN §5):
404 for what you may not see, 403 for what you may not do, 401 without credentials.

The users stand in the relations the permissions issue names, all to the world's `case` (see
conftest): its lead department, a department that accepted its referral, one whose referral is only
requested (limited view), one that declined, one never involved; the desk supervisor; an auditor; a
connector; the admin; nobody. Every route of tests/api/routes.py must have at least one row here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import transaction

from tests.api.conftest import PASSWORD, World
from tests.api.routes import ROUTES

# (username, role, relation to the world's case)
USERS: list[tuple[str | None, str, str]] = [
    ("desk_welfare", "front_desk", "lead"),
    ("desk_shakyo", "front_desk", "uninvolved"),
    ("worker_welfare", "caseworker", "lead"),
    ("worker_health", "caseworker", "accepted"),
    ("worker_longevity", "caseworker", "requested"),
    ("worker_bosai", "caseworker", "declined"),
    ("worker_shakyo", "caseworker", "uninvolved"),
    ("chief_health", "supervisor", "accepted"),
    ("chief_longevity", "supervisor", "requested"),
    ("chief_shakyo", "supervisor", "uninvolved"),
    ("chief_welfare", "supervisor", "desk supervisor"),
    ("auditor", "auditor", "everything"),
    ("minsei_kawakami", "connector", "own slip only"),
    ("minsei_aoe", "connector", "nothing"),
    ("admin", "admin", "nothing"),
    (None, "anonymous", "nothing"),
]
NAMES = [u for u, _role, _rel in USERS]


@dataclass(frozen=True)
class Op:
    route: str
    method: str
    expected: str  # one status per USERS entry, space separated
    params: Callable[[World], dict[str, Any]] = lambda w: {}
    body: Callable[[World], Any] = lambda w: None
    query: str = ""
    label: str = field(default="")

    @property
    def id(self) -> str:
        return f"{self.method} {self.route}{' ' + self.label if self.label else ''}"


def _case(w: World) -> dict[str, Any]:
    return {"id": w.case.pk}


def _household(w: World) -> dict[str, Any]:
    """A household of the case's person and the slip's, recorded inside the request's rolled-back
    transaction (so each user meets a fresh one)."""
    from referral_engine.accounts.models import User
    from referral_engine.cases.services.households import household_create

    household = household_create(
        actor=User.objects.get(username="worker_welfare"),
        members=[
            {"person_id": w.case.person_id, "relation": "self"},
            {"person_id": w.slip.case.person_id, "relation": "child"},
        ],
        reason="同居の確認",
    )
    return {"id": household.pk}


def _today() -> str:
    from django.utils import timezone

    return timezone.localdate().isoformat()


def _followup(w: World) -> Any:
    from referral_engine.accounts.models import User
    from referral_engine.cases.services.followups import followup_create

    return followup_create(case_id=w.case.pk, actor=User.objects.get(username="worker_welfare"), due_on=_today())


def _notification(w: World) -> dict[str, Any]:
    """chief_health's own notification, made inside each user's rolled-back request."""
    from referral_engine.accounts.models import User
    from referral_engine.notifications.services import notifications_queue

    chief = User.objects.get(username="chief_health")
    return {"id": notifications_queue(recipients=[chief], kind="referral_accept", title="受理")[0].pk}


INTAKE = {
    "summary": "電話での相談。",
    "person": {"family_name": "青江", "given_name": "三郎", "family_name_kana": "アオエ", "birth_date": "1960-04-01"},
    "confirm_new_person": True,
}

#                 dw  ds  ww  wh  wl  wb  wsk ch  cl  csk cw  au  mk  ma  ad  anon
VIEW_CASE = "     200 404 200 200 200 404 404 200 200 404 200 200 404 404 404 401"
WORK_CASE = "     201 404 201 201 403 404 404 201 403 404 201 403 404 404 404 401"
#                   dw  ds  ww  wh  wl  wb  wsk ch  cl  csk cw  au  mk  ma  ad  anon
DISASTER_VIEW = "   200 404 200 200 200 200 404 200 200 404 200 200 200 404 200 401"


def _disaster(w: World) -> dict[str, Any]:
    return {"id": w.disaster.pk}


WATCH = {
    "district": "kawakami",
    "what_to_watch": "夜に明かりがつくか",
    "basis": "support_meeting",
    "justification": "支援会議で合意",
    "until": (date.today() + timedelta(days=30)).isoformat(),
}


def _watch(w: World) -> dict[str, Any]:
    """A watch request of the world's case to kawakami, made inside the user's rolled-back request."""
    from referral_engine.accounts.models import User
    from referral_engine.cases.services.watch import watch_request_create

    asker = User.objects.get(username="worker_welfare")
    return {"id": watch_request_create(case_id=w.case.pk, actor=asker, **WATCH).pk}


OPS = [
    Op("api-cases", "GET", "200 200 200 200 200 200 200 200 200 200 200 200 403 403 403 401"),
    Op("api-cases", "POST", "201 201 201 201 201 201 201 201 201 201 201 403 403 403 403 401", body=lambda w: INTAKE),
    Op("api-case", "GET", VIEW_CASE, _case),
    Op("api-case-transitions", "GET", VIEW_CASE, _case),
    Op(
        "api-case-transition",
        "POST",
        WORK_CASE.replace("201", "200"),
        lambda w: {"id": w.case.pk, "name": "start_assessment"},
        body=lambda w: {},
    ),
    Op(
        "api-case-transition",
        "POST",
        "409 404 409 409 409 404 404 409 409 404 409 409 404 404 404 401",
        lambda w: {"id": w.case.pk, "name": "reopen"},
        body=lambda w: {},
        label="illegal",
    ),
    Op("api-case-referrals", "GET", VIEW_CASE, _case),
    Op(
        "api-case-referrals",
        "POST",
        WORK_CASE,
        _case,
        body=lambda w: {"to_department": "shakyo", "basis": "consent", "reason": "生活支援の相談"},
    ),
    Op("api-case-activities", "GET", VIEW_CASE, _case),
    Op("api-case-activities", "POST", WORK_CASE, _case, body=lambda w: {"kind": "call", "body": "電話した。"}),
    Op("api-case-consents", "GET", VIEW_CASE, _case),
    Op(
        "api-case-consents",
        "POST",
        WORK_CASE,
        _case,
        body=lambda w: {"recipients": ["shakyo"], "purposes": "生活支援", "method": "oral"},
    ),
    Op(
        "api-case-history",
        "GET",
        "200 404 200 200 404 404 404 200 404 404 200 200 404 404 404 401",
        _case,
    ),
    Op(
        "api-consent-withdraw",
        "POST",
        WORK_CASE.replace("201", "200"),
        lambda w: {"id": w.consent.pk},
        body=lambda w: {"note": "本人の申し出"},
    ),
    # Reassessment: caseworkers and supervisors who work the case; front desk and auditors see it but may not.
    Op(
        "api-case-reassess",
        "POST",
        "403 404 200 200 403 404 404 200 403 404 200 403 404 404 404 401",
        _case,
        body=lambda w: {"risk": "urgent", "reason": "訪問で急変を確認"},
    ),
    # The desk's slip queue and triage (issue 17): the social_welfare desk only.
    Op(
        "api-community-slips",
        "GET",
        "200 403 200 403 403 403 403 403 403 403 200 403 403 403 403 401",
        query="?queue=true",
        label="queue",
    ),
    Op(
        "api-community-slip-link",
        "POST",
        "200 403 200 403 403 403 403 403 403 403 200 403 403 403 403 401",
        lambda w: {"id": w.slip.pk},
        body=lambda w: {"person_id": w.case.person_id},
    ),
    Op(
        "api-community-slip-confirm-new",
        "POST",
        "200 403 200 403 403 403 403 403 403 403 200 403 403 403 403 401",
        lambda w: {"id": w.slip.pk},
        body=lambda w: {},
    ),
    # Merging the slip's person into the case's: a supervisor who sees a case of each (the desk
    # supervisor); front desk, caseworkers and auditors who see both: 403; the rest: 404.
    Op(
        "api-person-merge",
        "POST",
        "403 404 403 404 404 404 404 404 404 404 200 403 404 404 404 401",
        lambda w: {"id": w.slip.case.person_id},
        body=lambda w: {"into": w.case.person_id, "reason": "同一人物"},
    ),
    # Households: recorded by those who see an open case of a member in full.
    Op(
        "api-households",
        "POST",
        "201 403 201 201 403 403 403 201 403 403 201 403 403 403 403 401",
        body=lambda w: {"members": [{"person_id": w.case.person_id, "relation": "self"}], "reason": "同居の確認"},
    ),
    Op("api-household", "GET", VIEW_CASE, _household),
    Op(
        "api-household",
        "PATCH",
        "200 404 200 200 403 404 404 200 403 404 200 403 404 404 404 401",
        _household,
        body=lambda w: {
            "members": [{"person_id": w.case.person_id, "relation": "self", "without_work": True}],
            "reason": "r",
        },
    ),
    Op("api-referrals", "GET", "200 200 200 200 200 200 200 200 200 200 200 200 403 403 403 401"),
    Op(
        "api-referrals",
        "GET",
        "200 200 200 200 200 200 200 200 200 200 200 200 403 403 403 401",
        query="?inbox=true",
        label="inbox",
    ),
    Op("api-referral", "GET", VIEW_CASE, lambda w: {"id": w.requested.pk}),
    Op("api-referral-transitions", "GET", VIEW_CASE, lambda w: {"id": w.requested.pk}),
    Op(
        "api-referral-transition",
        "POST",
        "403 404 403 403 200 404 404 403 200 404 403 403 404 404 404 401",
        lambda w: {"id": w.requested.pk, "name": "accept"},
        body=lambda w: {},
    ),
    Op(
        "api-referral-transition",
        "POST",
        "200 404 200 403 403 404 404 403 403 404 200 403 404 404 404 401",
        lambda w: {"id": w.requested.pk, "name": "cancel"},
        body=lambda w: {"reason": "本人と連絡がついた"},
        label="cancel",
    ),
    # Assigning longevity's waiting referral to worker_longevity: its supervisor, the desk supervisor,
    # and worker_longevity taking the unassigned referral for themselves (issue 18).
    Op(
        "api-referral-assign",
        "POST",
        "403 404 403 403 200 404 404 403 200 404 200 403 404 404 404 401",
        lambda w: {"id": w.requested.pk},
        body=lambda w: {"worker": "worker_longevity"},
    ),
    Op(
        "api-referral-record",
        "PUT",
        "403 404 403 200 403 404 404 200 403 404 403 403 404 404 404 401",
        lambda w: {"id": w.accepted.pk},
        body=lambda w: {"visited_by": "保健師A"},
    ),
    Op(
        "api-referral-record",
        "PATCH",
        "403 404 403 200 403 404 404 200 403 404 403 403 404 404 404 401",
        lambda w: {"id": w.accepted.pk},
        body=lambda w: {"findings": "継続して見守る"},
    ),
    Op("api-community-slips", "GET", "403 403 403 403 403 403 403 403 403 403 403 403 200 200 403 401"),
    Op(
        "api-community-slips",
        "POST",
        "403 403 403 403 403 403 403 403 403 403 403 403 201 201 403 401",
        body=lambda w: {"concern": "最近見かけない。"},
    ),
    # 見守り依頼 (issue 19): asked by staff with full view; listed and reported by kawakami's connectors.
    Op("api-case-watch-requests", "GET", "200 404 200 200 403 404 404 200 403 404 200 200 404 404 404 401", _case),
    Op("api-case-watch-requests", "POST", WORK_CASE, _case, body=lambda w: WATCH),
    Op("api-watch-requests", "GET", "403 403 403 403 403 403 403 403 403 403 403 403 200 200 403 401"),
    Op(
        "api-watch-request-reports",
        "POST",
        "403 404 403 403 403 404 404 403 403 404 403 403 201 404 404 401",
        lambda w: _watch(w),
        body=lambda w: {"outcome": "met"},
    ),
    Op(
        "api-watch-request-close",
        "POST",
        "200 404 200 200 403 404 404 200 403 404 200 403 403 404 404 401",
        lambda w: _watch(w),
        body=lambda w: {},
    ),
    Op("api-evacuation-plans", "GET", "403 403 403 403 403 200 403 403 403 403 200 200 403 403 403 401"),
    Op("api-escalations", "GET", "200 200 200 200 200 200 200 200 200 200 200 200 403 403 403 401"),
    Op(
        "api-escalation-acknowledge",
        "POST",
        "404 404 404 404 403 404 404 404 200 404 200 403 404 404 404 401",
        lambda w: {"id": w.escalation.pk},
        body=lambda w: {"note": "明日までに連絡する"},
    ),
    # Follow-ups and my work (issue 18): set and done by those who work the case; my work for staff.
    Op("api-case-followups", "GET", VIEW_CASE, _case),
    Op("api-case-followups", "POST", WORK_CASE, _case, body=lambda w: {"due_on": _today(), "note": "電話する"}),
    Op("api-followups", "GET", "200 200 200 200 200 200 200 200 200 200 200 200 403 403 403 401", query="?mine=true"),
    Op(
        "api-followup-done",
        "POST",
        WORK_CASE.replace("201", "200"),
        lambda w: {"id": _followup(w).pk},  # made inside each user's rolled-back request
        body=lambda w: {"note": "電話した"},
    ),
    Op("api-me-work", "GET", "200 200 200 200 200 200 200 200 200 200 200 403 403 403 403 401"),
    # Everyone's own notifications and settings (issue 18, item 7); someone else's notification is a 404.
    Op("api-notifications", "GET", "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 401"),
    Op(
        "api-notification-read",
        "POST",
        "404 404 404 404 404 404 404 200 404 404 404 404 404 404 404 401",
        _notification,
        body=lambda w: {},
    ),
    Op("api-me-preferences", "GET", "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 401"),
    Op(
        "api-me-preferences",
        "PATCH",
        "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 401",
        body=lambda w: {"date_style": "western"},
    ),
    Op("api-dashboard", "GET", "403 403 403 403 403 403 403 200 200 200 200 200 403 403 403 401"),
    Op("api-audit-access-log", "GET", "403 403 403 403 403 403 403 403 403 403 403 200 403 403 403 401"),
    Op("api-audit-denied", "GET", "403 403 403 403 403 403 403 403 403 403 403 200 403 403 403 401"),
    # Reports: supervisors (their departments), the desk supervisor, auditors and the admin.
    Op(
        "api-reports-fiscal-year",
        "GET",
        "403 403 403 403 403 403 403 200 200 200 200 200 403 403 200 401",
        lambda w: {"year": 2026},
    ),
    Op(
        "api-reports-fiscal-year",
        "GET",
        "403 403 403 403 403 403 403 200 200 200 200 200 403 403 200 401",
        lambda w: {"year": 2026},
        query="?format=xlsx&publication=true",
        label="xlsx",
    ),
    # Disaster mode (access/policy/disasters.py): city staff, the auditor and the admin see the event over
    # kawakami; its connector while it is open; the shakyo (an external body) and aoe's connector do not.
    Op("api-disasters", "GET", "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 401"),
    Op(
        "api-disasters",
        "POST",
        "403 403 403 403 403 403 403 403 403 403 403 403 403 403 201 401",
        body=lambda w: {"name": "大雨", "kind": "typhoon", "districts": ["aoe"]},
    ),
    Op("api-disaster", "GET", DISASTER_VIEW, _disaster),
    Op("api-disaster-board", "GET", DISASTER_VIEW, _disaster),
    Op("api-disaster-checks", "GET", DISASTER_VIEW, _disaster),
    Op(
        "api-disaster-close",
        "POST",
        "403 404 403 403 403 403 404 403 403 404 403 403 403 404 200 401",
        _disaster,
    ),
    Op(
        "api-safety-check",
        "PATCH",
        "200 404 200 200 200 200 404 200 200 404 200 403 200 404 200 401",
        lambda w: {"id": w.check.pk},
        body=lambda w: {"status": "safe", "note": "無事を確認"},
    ),
    Op(
        "api-persons",
        "GET",
        "200 200 200 200 200 200 200 200 200 200 200 403 403 403 403 401",
        query="?q=ツクミ",
    ),
    # Person edit (issue 17): staff with a full view of an open case of the person; a limited viewer
    # or an auditor may see the person but not edit (403); the rest do not see them (404).
    Op(
        "api-person",
        "PATCH",
        "200 404 200 200 403 404 404 200 403 404 200 403 404 404 404 401",
        lambda w: {"id": w.case.person_id},
        body=lambda w: {"address": "津久見市青江2-1", "reason": "転居の連絡"},
    ),
    Op(
        "api-person",
        "PATCH",
        "400 404 400 400 403 404 404 400 403 404 400 403 404 404 404 401",
        lambda w: {"id": w.case.person_id},
        body=lambda w: {"address": "津久見市青江2-1"},
        label="no reason",
    ),
    Op(
        "api-token",
        "POST",
        "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 400",
        body=lambda w: None,  # filled in per user below
    ),
    # Every user may refresh or end their own token (each request runs with a fresh token).
    Op("api-token-refresh", "POST", "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 401"),
    Op("api-logout", "POST", "204 204 204 204 204 204 204 204 204 204 204 204 204 204 204 401"),
]


def _request(client, op: Op, world: World, username: str | None):
    route = next(r for r in ROUTES if r.name == op.route)
    url = route.url(**op.params(world)) + op.query
    body = op.body(world)
    if op.route == "api-token":
        body = {"username": username or "nobody", "password": PASSWORD}
    call = getattr(client, op.method.lower())
    return call(url, data=body, format="json") if op.method != "GET" else call(url)


def test_every_route_and_method_has_a_row():
    covered = {(op.route, op.method) for op in OPS}
    missing = [(r.name, m) for r in ROUTES for m in r.methods if (r.name, m) not in covered]
    assert not missing, f"routes without an authorization-matrix row: {missing}"


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.id)
def test_matrix(op: Op, world, client_for):
    expected = op.expected.split()
    assert len(expected) == len(USERS), op.id
    got = []
    for username in NAMES:
        # Each user meets the world as it was: their request is rolled back afterwards.
        with transaction.atomic():
            response = _request(client_for(username), op, world, username)
            transaction.set_rollback(True)
        got.append(str(response.status_code))
        if response.status_code >= 400:
            body = response.json()
            assert set(body) >= {"error", "message", "fields"}, (op.id, username, body)
    mismatches = [
        f"{u or 'anonymous'} ({role}, {rel}): expected {e}, got {g}"
        for (u, role, rel), e, g in zip(USERS, expected, got)
        if e != g
    ]
    assert not mismatches, f"{op.id}\n  " + "\n  ".join(mismatches) + f"\n  got: {' '.join(got)}"
