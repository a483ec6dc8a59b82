"""API fixtures: the demo organisation and users (DESIGN §8.3), a token per user, and a world of cases
in every relation the authorization matrix asks about.

The world (opened through the services, never the ORM):

- `case`: opened at social_welfare by desk_welfare (lead: social_welfare), person with a sensitive
  flag and a sensitive activity; referred to health_promotion (accepted), longevity_support
  (requested) and disaster_prevention (declined).
- `other_case`: opened at health_promotion by desk_health; nobody else involved.
- a community slip from minsei_kawakami (its own case).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from referral_engine.accounts.models import User

PASSWORD = "pw-for-api-tests"
SECRET = "SECRET-SENSITIVE-BODY-42"

# One representative user per role, inside and outside the world's `case`.
ROLE_USERS = {
    "front_desk": "desk_welfare",
    "caseworker": "worker_welfare",
    "supervisor": "chief_health",
    "auditor": "auditor",
    "connector": "minsei_kawakami",
    "admin": "admin",
}


@pytest.fixture(autouse=True)
def _clean_throttle_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_users(db) -> dict[str, User]:
    from referral_engine.accounts.demo import demo_users_ensure
    from referral_engine.accounts.models import Department
    from referral_engine.accounts.roles import Role
    from referral_engine.accounts.services import organisation_ensure, user_create

    organisation_ensure()
    users = {u.username: u for u in demo_users_ensure(password=PASSWORD)}
    # A front-desk clerk of a body with no part in the world's case (the demo has none at the shakyo).
    users["desk_shakyo"] = user_create(
        username="desk_shakyo",
        password=PASSWORD,
        display_name="社協 窓口",
        role=Role.FRONT_DESK,
        department=Department.objects.get(code="shakyo"),
    )
    return users


def token_of(user: User) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


@pytest.fixture
def client_for(api_users):
    """`client_for("worker_health")` → an APIClient sending that user's token."""

    def _client(username: str | None) -> APIClient:
        client = APIClient()
        if username:
            client.credentials(HTTP_AUTHORIZATION=f"Token {token_of(api_users[username])}")
        return client

    return _client


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


PERSON = {
    "family_name": "津久見",
    "given_name": "花子",
    "family_name_kana": "ツクミ",
    "given_name_kana": "ハナコ",
    "birth_date": "1944-05-03",
    "district": "kawakami",
    "address": "津久見市川上1-2-3",
    "phone": "0972-00-0001",
}


@dataclass
class World:
    case: Any
    other_case: Any
    accepted: Any  # health_promotion's referral of `case`
    requested: Any  # longevity_support's
    declined: Any  # disaster_prevention's
    other_referral: Any  # of other_case, to shakyo… no: to social_welfare (requested)
    consent: Any
    activity: Any
    slip: Any
    escalation: Any
    disaster: Any = None  # open over kawakami, with one safety check (`check`)
    check: Any = None


@pytest.fixture
def world(api_users) -> World:
    from referral_engine.cases.services.intake import case_open
    from referral_engine.cases.services.records import activity_add, consent_record
    from referral_engine.cases.services.referrals import referral_create, referral_transition
    from referral_engine.cases.services.slips import slip_submit

    u = api_users
    case = case_open(
        actor=fresh(u["desk_welfare"]),
        summary="一人暮らしで外出が減っている。",
        needs=["isolation", "health"],
        risk="high",
        person={**PERSON, "flags": ["lives_alone", "hikikomori"]},
        confirm_new_person=True,
        referrals=[
            {"to_department": "health_promotion", "basis": "internal_use", "reason": "保健師の訪問"},
            {"to_department": "longevity_support", "basis": "internal_use", "reason": "介護の相談"},
            {"to_department": "disaster_prevention", "basis": "internal_use", "reason": "避難支援"},
        ],
    )
    by_code = {r.to_department.code: r for r in case.referrals.all()}
    accepted = referral_transition(
        referral_id=by_code["health_promotion"].pk, name="accept", actor=fresh(u["worker_health"])
    )
    declined = referral_transition(
        referral_id=by_code["disaster_prevention"].pk, name="decline", actor=fresh(u["worker_bosai"]), reason="対象外"
    )
    activity = activity_add(case_id=case.pk, actor=fresh(u["worker_welfare"]), kind="note", body=SECRET, sensitive=True)
    consent = consent_record(
        case_id=case.pk, actor=fresh(u["worker_welfare"]), recipients=["shakyo"], purposes="生活支援", method="written"
    )
    other_case = case_open(
        actor=fresh(u["desk_health"]),
        summary="体調がすぐれない。",
        person={**PERSON, "given_name": "一郎", "given_name_kana": "イチロウ", "birth_date": "1950-01-01"},
        confirm_new_person=True,
    )
    other_referral = referral_create(
        case_id=other_case.pk,
        actor=fresh(u["chief_health"]),
        to_department="longevity_support",
        basis="internal_use",
        reason="介護の相談",
    )
    slip = slip_submit(actor=fresh(u["minsei_kawakami"]), concern="新聞がたまっている。", name="保戸 太郎")
    escalation = _escalation(case=case, referral=by_code["longevity_support"])
    disaster, check = _disaster(u)
    return World(
        case=case,
        other_case=other_case,
        accepted=accepted,
        requested=by_code["longevity_support"],
        declined=declined,
        other_referral=other_referral,
        consent=consent,
        activity=activity,
        slip=slip,
        escalation=escalation,
        disaster=disaster,
        check=check,
    )


def _disaster(u):
    """An open disaster over kawakami with one person of the evacuation-support register (no case)."""
    from referral_engine.accounts.models import District
    from referral_engine.cases.models import Person
    from referral_engine.disasters.services import disaster_open

    Person.objects.create(
        family_name="安否",
        given_name="確子",
        district=District.objects.get(code="kawakami"),
        flags=["evacuation_support"],
    )
    disaster = disaster_open(actor=fresh(u["chief_bosai"]), name="地震", kind="earthquake", district_codes=["kawakami"])
    return disaster, disaster.checks.get()


def _escalation(*, case, referral):
    """An open L2 escalation addressed to longevity_support, fired through the timers' service as
    the sweep would fire it when the handoff is overdue."""
    from django.utils import timezone

    from referral_engine.accounts.system import system_user
    from referral_engine.timers.services import escalation_fire

    now = timezone.now()
    return escalation_fire(
        case=case,
        referral=referral,
        object_key=f"referral:{referral.pk}",
        rule="handoff",
        rule_name="つなぎの受理",
        target="referral",
        cycle=1,
        level=2,
        department_id=referral.to_department_id,
        due_at=now,
        now=now,
        system=system_user(),
        recipients=[],
    )
