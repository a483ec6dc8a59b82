"""Every web form, driven with generated dates and texts (issue 16 item 1): the answer is 200, 302 or
400, never a 500, and afterwards every page of the case still reads (the case page, its print page,
the API's activities and history, the auditor's timeline and CSV, the author's change CSV).

One form once let `0001-01-01T00:00` through, which PostgreSQL stored as a BC timestamp nobody could
read back; the range is declared once now (cases/inputs.py, DATE_YEAR_MIN..DATE_YEAR_MAX) and every
form, serializer and service reads it. Each example runs in a savepoint rolled back afterwards.
"""

from __future__ import annotations

import inspect
import os
import uuid
from datetime import date, datetime, timedelta
from unittest.mock import MagicMock

import pytest
from django.conf import settings as settings_django
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from referral_engine.cases.models import Activity, Consent, Person, StageRecord

pytestmark = pytest.mark.django_db

# A settings profile bounds the run: `ci` (the default) keeps the file near a minute on the CI runner;
# `HOSTILE_FORMS_PROFILE=deep` for a longer hunt by hand.
_HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "hostile-forms-ci",
    max_examples=4,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking on CI: the message names the form and data
    deadline=None,
    database=None,
    suppress_health_check=_HEALTH,
)
settings.register_profile(
    "hostile-forms-deep", max_examples=60, deadline=None, database=None, suppress_health_check=_HEALTH
)
PROPERTY = settings(settings.get_profile(f"hostile-forms-{os.environ.get('HOSTILE_FORMS_PROFILE', 'ci')}"))

FAR = [
    "0001-01-01",
    "0001-01-01T00:00",
    "0001-01-01 00:00",
    "9999-12-31",
    "9999-12-31T23:59",
    "1899-12-31",
    "1899-12-31T23:59",
    "1900-01-01T00:00",
    "2100-12-31",
    "2101-01-01T00:00",
    "0000-00-00",
    "-0001-01-01",
    "10000-01-01",
    "2024-02-30",
    "2019-05-01T09:00",
    "",
]
dates = st.one_of(
    st.sampled_from(FAR),
    st.dates().map(lambda d: d.strftime("%Y-%m-%d") if d.year >= 1000 else f"{d.year:04d}-{d.month:02d}-{d.day:02d}"),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}"
    ),
)
RARE = ["\x00", "\x01", "\x7f", "\u202e", "\ufeff", "𠮷", "👨‍👩‍👧", "e\u0301", "=cmd|' /C calc'!A0", "<script>"]
texts = st.one_of(
    st.lists(st.one_of(st.characters(exclude_categories=["Cs"]), st.sampled_from(RARE)), max_size=30).map("".join),
    st.builds(lambda ch, n: ch * n, st.sampled_from(["あ", "a", "\n"]), st.integers(9_990, 10_010)),
    st.sampled_from(["", " ", "相談の記録"]),
)

OK = {200, 302, 400}


# An id typed into a form (a person, a worker, a notification) is one the user was meant to pick, or
# anything: another record is answered as missing (404), never a 500.
ids = st.one_of(
    st.just(None),
    st.just(None),
    texts.map(lambda s: s[:20]),
    st.integers(-(2**70), 2**70).map(str),
)


class _Rollback(Exception):
    pass


def _client(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="ja")
    client.force_login(user)
    return client


@pytest.fixture
def world(open_case, users, fresh):
    """A welfare case referred to health (accepted: health keeps a record form) and to longevity
    (requested, with an overdue escalation), with a consent, a follow-up, a watch request to kawakami, a
    household with the person of a connector's slip, an open disaster over kawakami holding the safety
    check of the case's person, and an API token of its worker."""
    from referral_engine.accounts.models import District
    from referral_engine.accounts.tokens import api_token_issue
    from referral_engine.cases.services.followups import followup_create
    from referral_engine.cases.services.households import household_create
    from referral_engine.cases.services.records import consent_record
    from referral_engine.cases.services.referrals import referral_transition
    from referral_engine.cases.services.slips import slip_submit
    from referral_engine.cases.services.watch import watch_request_create
    from referral_engine.disasters.models import SafetyCheck
    from referral_engine.disasters.services import disaster_open
    from referral_engine.notifications.models import Notification
    from referral_engine.timers.models import Escalation

    case = open_case(
        "worker_welfare",
        referrals=[
            {"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問依頼"},
            {"to_department": "longevity_support", "basis": "internal_use", "reason": "介護の確認"},
        ],
    )
    health = case.referrals.get(to_department__code="health_promotion")
    longevity = case.referrals.get(to_department__code="longevity_support")
    welfare = fresh(users["worker_welfare"])
    referral_transition(referral_id=health.pk, name="accept", actor=fresh(users["worker_health"]))
    consent = consent_record(case_id=case.pk, actor=welfare, recipients=["shakyo"], purposes="支援", method="oral")
    slip = slip_submit(actor=fresh(users["minsei_kawakami"]), concern="新聞がたまっている", name="保戸 太郎")
    household_create(
        actor=welfare,
        members=[
            {"person_id": case.person_id, "relation": "self"},
            {"person_id": slip.case.person_id, "relation": "child"},
        ],
        reason="同居の確認",
    )
    other = open_case("worker_welfare")
    Person.objects.filter(pk=case.person_id).update(
        flags=["evacuation_support"], district=District.objects.get(code="kawakami")
    )
    disaster = disaster_open(
        actor=fresh(users["chief_bosai"]), name="地震", kind="earthquake", district_codes=["kawakami"]
    )
    token, _key = api_token_issue(user=welfare, session_key="")
    return {
        "case": case,
        "health": health,
        "longevity": longevity,
        "consent": consent,
        "followup": followup_create(case_id=case.pk, actor=welfare, due_on=date.today(), note="電話する"),
        "watch": watch_request_create(
            case_id=case.pk,
            actor=welfare,
            district="kawakami",
            what_to_watch="新聞がたまっていないか",
            basis="support_meeting",
            justification="支援会議で合意",
            until=(date.today() + timedelta(days=30)).isoformat(),
        ),
        "escalation": Escalation.objects.create(
            object_key=f"referral:{longevity.pk}",
            rule="handoff",
            level=2,
            case=case,
            referral=longevity,
            department=longevity.to_department,
            due_at=case.created_at,
        ),
        "slip": slip,
        "other": other,
        "disaster": disaster,
        "check": SafetyCheck.objects.get(disaster=disaster, person_id=case.person_id),
        "token": token,
        # The worker was told of the health department's acceptance: a notification to mark read.
        "notification": Notification.objects.filter(recipient=welfare).order_by("pk").first(),
    }


def _case_pages_read(world, users, *, all_pages: bool = True) -> None:
    """Every page that shows the case answers 200: none trips over what a form stored. With
    `all_pages`, also the pages of what the world holds beside the case (the connector's watch page,
    the disaster board, the slip queue, the dashboard, the token list, the plans, the year's report),
    which a closing form may legitimately take away."""
    case = world["case"]
    worker, auditor = _client(users["worker_welfare"]), _client(users["auditor"])
    pages = [
        (worker, f"/cases/{case.pk}/"),
        (worker, f"/cases/{case.pk}/print/"),
        (worker, f"/api/v1/cases/{case.pk}/"),
        (worker, f"/api/v1/cases/{case.pk}/activities/"),
        (worker, f"/api/v1/cases/{case.pk}/history/"),
        (_client(users["worker_health"]), f"/cases/{case.pk}/"),
        (auditor, f"/audit/cases/{case.pk}/"),
        (auditor, f"/audit/cases/{case.pk}/export.csv"),
        (auditor, f"/audit/users/{users['worker_welfare'].pk}/"),
        (auditor, f"/audit/users/{users['worker_welfare'].pk}/changes.csv"),
    ]
    if all_pages:
        bosai = _client(users["chief_bosai"])
        pages += [
            (_client(users["minsei_kawakami"]), f"/watch/{world['watch'].pk}/"),
            (_client(users["minsei_kawakami"]), "/slips/"),
            (bosai, f"/disaster/{world['disaster'].pk}/"),
            (bosai, f"/disaster/{world['disaster'].pk}/unconfirmed.csv"),
            (bosai, "/evacuation-plans/"),
            (_client(users["desk_welfare"]), "/slips/queue/"),
            (_client(users["chief_longevity"]), "/dashboard/"),
            (worker, "/accounts/tokens/"),
            (worker, "/"),
            (_client(users["chief_health"]), "/reports/2026/"),
        ]
    for client, path in pages:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        if response.streaming:
            b"".join(response.streaming_content)


def _forms(world, users) -> dict:
    """Route name → (who posts, the path, the data from `draw`): `draw.d()` a date, `draw.t()` a text,
    `draw.i(valid)` the id the form offers or anything typed instead, `draw.pick(*choices)` one of the
    choices or any text. Phase 1 first, then the forms that close or move what phase 1 uses."""
    case, health, longevity = world["case"], world["health"], world["longevity"]
    person, slip_person = case.person_id, world["slip"].case.person_id
    disaster = world["disaster"]
    return {
        "case_new": (
            "desk_welfare",
            "/cases/new/",
            lambda x: {
                "idempotency_key": uuid.uuid4().hex,
                "family_name": x.t() or "津久見",
                "given_name": x.t(),
                "family_name_kana": x.t(),
                "birth_date": x.d(),
                "district": x.pick("kawakami"),
                "address": x.t(),
                "phone": x.t(),
                "channel": "counter",
                "summary": x.t(),
                "risk": x.pick("normal", "urgent"),
                "first_note": x.t(),
                "refer_health_promotion": "on",
                "basis_health_promotion": "internal_use",
                "reason_health_promotion": x.t(),
                # The person chosen: a duplicate's proof, the check step, the search's proof (issue 17).
                "use_person": x.pick("", str(person)),
                "check_person": x.pick(""),
                "person_id": x.pick("", str(person)),
                "person_choice": x.pick(""),
            },
        ),
        "case_activity_add": (
            "worker_welfare",
            f"/cases/{case.pk}/activities/",
            lambda x: {"kind": x.pick("note", "visit"), "body": x.t(), "occurred_at": x.d(), "sensitive": x.t()[:2]},
        ),
        "case_consent_add": (
            "worker_welfare",
            f"/cases/{case.pk}/consents/",
            lambda x: {"recipients": [x.pick("shakyo")], "purposes": x.t(), "method": "written", "note": x.t()},
        ),
        "case_referral_add": (
            "worker_welfare",
            f"/cases/{case.pk}/referrals/",
            lambda x: {"to_department": "shakyo", "basis": "consent", "reason": x.t(), "justification": x.t()},
        ),
        "case_transition": (
            "worker_welfare",
            f"/cases/{case.pk}/transition/",
            lambda x: {"name": x.pick("start_assessment"), "reason": x.t(), "review_on": x.d()},
        ),
        "referral_record": (
            "worker_health",
            f"/referrals/{health.pk}/record/",
            lambda x: {
                "planned_date": x.d(),
                "visit_date": x.d(),
                "visited_by": x.t()[:100],
                "outcome": x.pick("met", ""),
                "findings": x.t(),
            },
        ),
        "referral_assign": (
            "chief_health",
            f"/referrals/{health.pk}/assign/",
            lambda x: {"worker_id": x.i(users["worker_health"].pk)},
        ),
        "escalation_ack": (
            "chief_longevity",
            f"/escalations/{world['escalation'].pk}/acknowledge/",
            lambda x: {"note": x.t()},
        ),
        "referral_transition": (
            "worker_longevity",
            f"/referrals/{longevity.pk}/transition/",
            lambda x: {"name": x.pick("decline"), "reason": x.t(), "next": x.t()},
        ),
        "case_person_edit": (
            "worker_welfare",
            f"/cases/{case.pk}/person/",
            lambda x: {
                "family_name": x.t() or "津久見",
                "given_name": x.t(),
                "family_name_kana": x.t(),
                "given_name_kana": x.t(),
                "birth_date": x.d(),
                "sex": x.pick("female", ""),
                "district": x.pick("kawakami", "aoe"),
                "address": x.t(),
                "phone": x.t(),
                "flags": [x.pick("evacuation_support", "lives_alone")],
                "reason": x.t(),
            },
        ),
        "case_reassess": (
            "worker_welfare",
            f"/cases/{case.pk}/reassess/",
            lambda x: {
                "risk": x.pick("normal", "urgent"),
                "needs": [x.pick("isolation")],
                "summary": x.t(),
                "reason": x.t(),
            },
        ),
        "case_household_add": (
            "worker_welfare",
            f"/cases/{case.pk}/household/",
            lambda x: {
                "person_id": x.i(world["other"].person_id),
                "relation": x.pick("parent", "cohabitant"),
                "without_work": x.t()[:2],
                "reason": x.t(),
            },
        ),
        "case_followup_add": (
            "worker_welfare",
            f"/cases/{case.pk}/followups/",
            lambda x: {
                "followup-due_on": x.d(),
                "followup-note": x.t(),
                "followup-assignee_id": x.i(users["worker_welfare"].pk),
            },
        ),
        "case_watch_add": (
            "worker_welfare",
            f"/cases/{case.pk}/watch-requests/",
            lambda x: {
                "watch-district": x.pick("aoe"),
                "watch-what_to_watch": x.t(),
                "watch-until": x.d(),
                "watch-basis": x.pick("support_meeting", "consent"),
                "watch-justification": x.t(),
            },
        ),
        "watch_detail": (
            "minsei_kawakami",
            f"/watch/{world['watch'].pk}/",
            lambda x: {"outcome": x.pick("met", "absent", "concern"), "note": x.t(), "visited_on": x.d()},
        ),
        "slips": (
            "minsei_kawakami",
            "/slips/",
            lambda x: {
                "name": x.t(),
                "name_kana": x.t(),
                "district": x.pick("kawakami"),
                "address_note": x.t(),
                "concern": x.t(),
                "urgency": x.pick("normal", "urgent"),
                "person_agreed_to_contact": x.t()[:2],
            },
        ),
        "disasters:check": (
            "minsei_kawakami",
            f"/disaster/checks/{world['check'].pk}/",
            lambda x: {"status": x.pick("safe", "needs_help"), "note": x.t(), "back": x.t()},
        ),
        "disasters:index": (
            "chief_bosai",
            "/disaster/",
            lambda x: {"name": x.t(), "kind": x.pick("flood"), "districts": [x.pick("aoe", "kawakami")]},
        ),
        "reports:export_start": (
            "chief_health",
            "/reports/2026/exports/",
            lambda x: {"format": x.pick("csv", "xlsx"), "publication": x.pick("1", "")},
        ),
        "notification_read": (
            "worker_welfare",
            "/notifications/read/",
            lambda x: {"notification_id": x.i(world["notification"].pk), "url": x.t(), "open": "1"},
        ),
        "account_token_issue": ("worker_welfare", "/accounts/tokens/new/", lambda x: {"name": x.t()}),
        "account_settings": (
            "worker_welfare",
            "/accounts/settings/",
            lambda x: {
                "mail_preference": x.pick("immediate", "daily_digest", "off"),
                "date_style": x.pick("wareki", "western"),
            },
        ),
        "two_factor_setup": ("chief_welfare", "/accounts/2fa/setup/", lambda x: {"code": x.t(), "next": x.t()}),
        "two_factor_verify": ("chief_welfare", "/accounts/2fa/verify/", lambda x: {"code": x.t(), "next": x.t()}),
        # --- phase 2: what closes, moves or ends what phase 1 used --------------------------------
        "followup_done": ("worker_welfare", f"/followups/{world['followup'].pk}/done/", lambda x: {"note": x.t()}),
        "consent_withdraw": ("worker_welfare", f"/consents/{world['consent'].pk}/withdraw/", lambda x: {"note": x.t()}),
        "watch_close": ("worker_welfare", f"/watch/{world['watch'].pk}/close/", lambda x: {"reason": x.t()}),
        "case_household_remove": (
            "worker_welfare",
            f"/cases/{case.pk}/household/remove/",
            lambda x: {"person_id": x.i(slip_person), "reason": x.t()},
        ),
        "slip_link": ("desk_welfare", f"/slips/{world['slip'].pk}/link/", lambda x: {"person_id": x.i(person)}),
        "slip_confirm_new": ("desk_welfare", f"/slips/{world['slip'].pk}/confirm-new/", lambda x: {"x": x.t()}),
        "person_merge": (
            "chief_welfare",
            f"/persons/{slip_person}/merge/",
            lambda x: {"into": x.i(person), "reason": x.t(), "next": x.t()},
        ),
        "disasters:close": ("chief_bosai", f"/disaster/{disaster.pk}/close/", lambda x: {"x": x.t()}),
        "account_token_revoke": ("worker_welfare", f"/accounts/tokens/{world['token'].pk}/revoke/", lambda x: {}),
        "account_password": (
            "worker_welfare",
            "/accounts/password/",
            lambda x: {
                "old_password": x.pick(settings_django.DEMO_PASSWORD),
                "new_password1": x.t(),
                "new_password2": x.t(),
            },
        ),
        "case_lead_change": (
            "chief_welfare",
            f"/cases/{case.pk}/lead/",
            lambda x: {"lead_department": x.pick("health_promotion"), "lead_worker_id": x.i(users["worker_health"].pk)},
        ),
    }


PHASE_2 = "followup_done"  # the first form of phase 2 (the dict keeps its order)
# A form whose id field may be typed (`draw.i`) can name a record the user does not see: 404 is the
# same answer as for a missing one.
OK_WITH_IDS = OK | {404}
# A form whose action the records' state may refuse whatever is typed answers 409 with the reason,
# as the API does: a disaster is already open over kawakami (the world's), and one district holds one
# open disaster. Every other form's bad input is a 400.
STATE_CONFLICTS = {"disasters:index"}


def _merged_away(name: str, slip_person: int) -> bool:
    """`slip_link`, just before, may have linked the slip to the case's person (a valid id drawn and the
    slip still untriaged): the slip's own record is then merged away and has no case, so merging it
    again is the 404 of any person one cannot see a case of."""
    return name == "person_merge" and Person.objects.filter(pk=slip_person, merged_into__isnull=False).exists()


class _Draw:
    """Draws one form's values from hypothesis; records whether an id was typed."""

    def __init__(self, data):
        self.data, self.typed_id = data, False

    def d(self) -> str:
        return self.data.draw(dates)

    def t(self) -> str:
        return self.data.draw(texts)

    def i(self, valid) -> str:
        value = self.data.draw(ids)
        if value is None:
            return str(valid)
        self.typed_id = True
        return value

    def pick(self, *choices) -> str:
        return self.data.draw(st.one_of(st.sampled_from(choices), texts.map(lambda s: s[:30])))


@PROPERTY
@given(data=st.data())
def test_every_form_answers_200_302_or_400_and_the_case_stays_readable(world, users, data):
    """Each example posts every form once with generated values, keeping what they store, reads every
    page; then the closing forms, and the case's pages again; then it is all rolled back."""
    forms = _forms(world, users)
    slip_person = world["slip"].case.person_id  # read before any form moves the slip's case
    try:
        with transaction.atomic():
            for name, (username, path, build) in forms.items():
                if name == PHASE_2:
                    _case_pages_read(world, users)
                draw = _Draw(data)
                payload = build(draw)
                response = _client(users[username]).post(path, payload)
                allowed = OK_WITH_IDS if draw.typed_id or _merged_away(name, slip_person) else OK
                if name in STATE_CONFLICTS:
                    allowed = allowed | {409}
                assert response.status_code in allowed, (name, path, response.status_code, payload)
            _case_pages_read(world, users, all_pages=False)
            raise _Rollback
    except _Rollback:
        pass


# --- Discovery: every view that takes a POST is driven above, or says here why not -------------------

NOT_DRIVEN = {
    "login": "Django's LoginView: bad credentials and lockout in tests/security and tests/reliability",
    "logout": "no fields: it ends the session",
    "set_language": "Django's language switch (a choice and a next URL it checks itself)",
}
# The admin is read-only (tests/web/test_admin.py: no add or change form saves); the API's every route is
# driven by Schemathesis (tests/api/test_schemathesis.py) and the deep-JSON tests.
NOT_DRIVEN_NAMESPACES = {"admin"}
NOT_DRIVEN_PREFIXES = ("api/",)


def _routes(patterns, prefix="", namespace=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _routes(p.url_patterns, prefix + str(p.pattern), p.namespace or namespace)
        elif isinstance(p, URLPattern):
            name = p.name or str(p.pattern)
            yield (f"{namespace}:{name}" if namespace else name), namespace, prefix + str(p.pattern), p.callback


def _takes_post(callback) -> bool:
    """A class-based view with a `post`, or a function whose source (decorators included) names POST:
    `@require_POST`, `require_http_methods([... "POST"])` or `request.method == "POST"`."""
    view_class = getattr(callback, "view_class", None)
    if view_class is not None:
        return hasattr(view_class, "post")
    return "POST" in inspect.getsource(inspect.unwrap(callback))


def post_routes() -> dict[str, str]:
    return {
        name: pattern
        for name, namespace, pattern, callback in _routes(get_resolver().url_patterns)
        if namespace not in NOT_DRIVEN_NAMESPACES
        and not pattern.startswith(NOT_DRIVEN_PREFIXES)
        and _takes_post(callback)
    }


def test_every_form_of_the_site_is_driven():
    """A new POST view fails here until it has an entry in `_forms` (or a reason in NOT_DRIVEN)."""
    routes = post_routes()
    driven = set(_forms(MagicMock(), MagicMock()))  # the names only: no database needed
    missing = sorted(f"{name} ({pattern})" for name, pattern in routes.items() if name not in driven | set(NOT_DRIVEN))
    assert missing == [], "POST views the hostile-form test does not drive"
    assert sorted(driven - set(routes)) == [], "entries for routes that no longer take a POST"
    # The discovery itself holds: it finds the forms it must (a decorator, a method test, a class).
    assert {"case_activity_add", "watch_detail", "two_factor_setup", "login", "disasters:index"} <= set(routes)
    assert "case_detail" not in routes and "disasters:board" not in routes


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00", "9999-12-31T23:59", "1899-12-31T23:59", "2101-01-01T00:00", "10000-01-01T00:00"]
)
def test_an_activity_time_outside_the_years_is_a_field_error_and_nothing_is_saved(world, users, value):
    before = Activity.objects.count(), Activity.history.count()
    response = _client(users["worker_welfare"]).post(
        f"/cases/{world['case'].pk}/activities/", {"kind": "note", "body": "電話", "occurred_at": value}
    )
    assert response.status_code == 400
    errors = " ".join(response.context["activity_form"].errors["occurred_at"])
    # A year of five digits is no date at all; the others are dates outside the years.
    assert "1900年から2100年まで" in errors if not value.startswith("10000") else errors
    assert (Activity.objects.count(), Activity.history.count()) == before


def test_the_range_edges_are_accepted(world, users):
    client = _client(users["worker_welfare"])
    response = client.post(
        f"/cases/{world['case'].pk}/activities/",
        {"kind": "note", "body": "古い記録", "occurred_at": "1900-01-01T09:00"},
    )
    assert response.status_code == 302
    assert Activity.objects.filter(case=world["case"], body="古い記録").get().occurred_at.year == 1900


@pytest.mark.parametrize("value", ["0001-01-01", "1899-12-31", "2101-01-01", "9999-12-31"])
def test_a_birth_date_outside_the_years_is_a_field_error_at_intake(users, value):
    before = Person.objects.count()
    response = _client(users["desk_welfare"]).post(
        "/cases/new/",
        {
            "idempotency_key": uuid.uuid4().hex,
            "family_name": "範囲",
            "birth_date": value,
            "channel": "counter",
            "summary": "相談",
            "risk": "normal",
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors["birth_date"]
    assert Person.objects.count() == before


def test_a_stage_record_date_outside_the_years_is_a_field_error(world, users):
    response = _client(users["worker_health"]).post(
        f"/referrals/{world['health'].pk}/record/", {"planned_date": "0001-01-01"}
    )
    assert response.status_code == 400
    assert not StageRecord.objects.filter(referral=world["health"]).exists()


def test_the_service_refuses_an_out_of_range_moment_from_any_caller(world, users, fresh):
    """A command or a test calls the service directly: the service checks the range too."""
    from zoneinfo import ZoneInfo

    from referral_engine.cases.services.records import activity_add, consent_record
    from referral_engine.errors import InvalidInput

    far = datetime(1, 1, 1, tzinfo=ZoneInfo("Asia/Tokyo"))
    with pytest.raises(InvalidInput) as refused:
        activity_add(
            case_id=world["case"].pk, actor=fresh(users["worker_welfare"]), kind="note", body="x", occurred_at=far
        )
    assert "occurred_at" in refused.value.fields
    with pytest.raises(InvalidInput) as refused:
        consent_record(
            case_id=world["case"].pk,
            actor=fresh(users["worker_welfare"]),
            recipients=["shakyo"],
            purposes="支援",
            method="oral",
            obtained_at=datetime(2101, 1, 1, tzinfo=ZoneInfo("Asia/Tokyo")),
        )
    assert "obtained_at" in refused.value.fields
    assert Consent.objects.filter(case=world["case"]).count() == 1
