"""Every web form, driven with generated dates and texts (issue 16 item 1): the answer is 200, 302 or
400, never a 500, and afterwards every page of the case still reads (the case page, its print page,
the API's activities and history, the auditor's timeline and CSV, the author's change CSV).

One form once let `0001-01-01T00:00` through, which PostgreSQL stored as a BC timestamp nobody could
read back; the range is declared once now (cases/inputs.py, DATE_YEAR_MIN..DATE_YEAR_MAX) and every
form, serializer and service reads it. Each example runs in a savepoint rolled back afterwards.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referral_engine.cases.models import Activity, Consent, Person, StageRecord

pytestmark = pytest.mark.django_db

PROPERTY = settings(
    max_examples=6,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

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


class _Rollback(Exception):
    pass


def _client(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="ja")
    client.force_login(user)
    return client


@pytest.fixture
def world(open_case, users, fresh):
    """A welfare case referred to health (accepted: health keeps a record form) and to longevity
    (requested), with a consent."""
    from referral_engine.cases.services.records import consent_record
    from referral_engine.cases.services.referrals import referral_transition

    case = open_case(
        "worker_welfare",
        referrals=[
            {"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問依頼"},
            {"to_department": "longevity_support", "basis": "internal_use", "reason": "介護の確認"},
        ],
    )
    health = case.referrals.get(to_department__code="health_promotion")
    referral_transition(referral_id=health.pk, name="accept", actor=fresh(users["worker_health"]))
    consent = consent_record(
        case_id=case.pk, actor=fresh(users["worker_welfare"]), recipients=["shakyo"], purposes="支援", method="oral"
    )
    return {
        "case": case,
        "health": health,
        "longevity": case.referrals.get(to_department__code="longevity_support"),
        "consent": consent,
    }


def _case_pages_read(world, users) -> None:
    """Every page that shows the case answers 200: none trips over what a form stored."""
    case = world["case"]
    worker, auditor = _client(users["worker_welfare"]), _client(users["auditor"])
    for client, path in [
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
    ]:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        if response.streaming:
            b"".join(response.streaming_content)


def _post(world, users, username: str, path: str, data: dict) -> int:
    status = None
    try:
        with transaction.atomic():
            response = _client(users[username]).post(path, data)
            status = response.status_code
            assert status in OK, (path, status, data)
            _case_pages_read(world, users)
            raise _Rollback
    except _Rollback:
        pass
    return status


def _forms(world) -> dict:
    case, health, longevity = world["case"], world["health"], world["longevity"]
    return {
        "intake": (
            "desk_welfare",
            "/cases/new/",
            lambda d, t: {
                "idempotency_key": uuid.uuid4().hex,
                "family_name": t[0] or "津久見",
                "given_name": t[1],
                "family_name_kana": t[2],
                "birth_date": d[0],
                "district": "kawakami",
                "address": t[3],
                "phone": t[4],
                "channel": "counter",
                "summary": t[5],
                "risk": "normal",
                "first_note": t[6],
                "refer_health_promotion": "on",
                "basis_health_promotion": "internal_use",
                "reason_health_promotion": t[7],
            },
        ),
        "activity": (
            "worker_welfare",
            f"/cases/{case.pk}/activities/",
            lambda d, t: {"kind": "note", "body": t[0], "occurred_at": d[0], "sensitive": "on" if t[1] else ""},
        ),
        "consent": (
            "worker_welfare",
            f"/cases/{case.pk}/consents/",
            lambda d, t: {"recipients": ["shakyo"], "purposes": t[0], "method": "written", "note": t[1]},
        ),
        "referral": (
            "worker_welfare",
            f"/cases/{case.pk}/referrals/",
            lambda d, t: {"to_department": "shakyo", "basis": "consent", "reason": t[0], "justification": t[1]},
        ),
        "case_transition": (
            "worker_welfare",
            f"/cases/{case.pk}/transition/",
            lambda d, t: {"name": "start_assessment", "reason": t[0]},
        ),
        "referral_decline": (
            "worker_longevity",
            f"/referrals/{longevity.pk}/transition/",
            lambda d, t: {"name": "decline", "reason": t[0]},
        ),
        "stage_record": (
            "worker_health",
            f"/referrals/{health.pk}/record/",
            lambda d, t: {
                "planned_date": d[0],
                "visit_date": d[1],
                "visited_by": t[0][:100],
                "outcome": "met" if t[1] else "",
                "findings": t[2],
            },
        ),
        "consent_withdraw": (
            "worker_welfare",
            f"/consents/{world['consent'].pk}/withdraw/",
            lambda d, t: {"note": t[0]},
        ),
        "lead_change": (
            "chief_welfare",
            f"/cases/{case.pk}/lead/",
            lambda d, t: {"lead_department": t[0][:30] or "health_promotion", "lead_worker_id": t[1][:20]},
        ),
        "referral_assign": (
            "chief_health",
            f"/referrals/{health.pk}/assign/",
            lambda d, t: {"worker_id": t[0][:20]},
        ),
        "notification_read": (
            "worker_welfare",
            "/notifications/read/",
            lambda d, t: {"notification_id": t[0][:30]},
        ),
        "slip": (
            "minsei_kawakami",
            "/slips/",
            lambda d, t: {
                "name": t[0],
                "name_kana": t[1],
                "district": "kawakami",
                "address_note": t[2],
                "concern": t[3],
                "urgency": "normal",
            },
        ),
    }


FORMS = [
    "intake",
    "activity",
    "consent",
    "referral",
    "case_transition",
    "referral_decline",
    "stage_record",
    "consent_withdraw",
    "lead_change",
    "referral_assign",
    "notification_read",
    "slip",
]


@pytest.mark.parametrize("form", FORMS)
@PROPERTY
@given(d=st.lists(dates, min_size=2, max_size=2), t=st.lists(texts, min_size=8, max_size=8))
def test_every_form_answers_200_302_or_400_and_the_case_stays_readable(world, users, form, d, t):
    username, path, data = _forms(world)[form]
    _post(world, users, username, path, data(d, t))


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
