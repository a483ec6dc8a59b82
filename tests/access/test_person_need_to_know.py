"""Need-to-know at the person (DESIGN §11.1, issue 17 item 1): opening a case for an existing person
gives the identity needed to contact them and what the new case records itself — never the sensitive
flags, the sex, the consents, activities or history of the person's other cases, nor those cases.

The attack of the issue, as every staff role and through both interfaces: a user who cannot see the
person's case (404) opens a new case for the same person (`person_id` / `use_person`) and reads it.
"""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from referral_engine.cases.models import Case
from referral_engine.cases.services.intake import case_open
from referral_engine.cases.services.person_choice import person_choice_issue as offered
from referral_engine.cases.services.records import activity_add, consent_record

pytestmark = pytest.mark.django_db

SECRET_NOTE = "機微メモ-PLUGH-1234"
SECRET_PURPOSE = "同意目的-XYZZY-5678"

# Staff who do not see case O, one per role and body (front desk, caseworker, supervisor; a city
# section and the external shakyo).
OUTSIDERS = ["desk_health", "worker_shakyo", "chief_shakyo", "worker_longevity", "chief_bosai"]


@pytest.fixture
def held(users, fresh):
    """Case O, opened at the welfare desk: the person with a sensitive flag (障害) and an ordinary one
    (独居), a sex, a consent and a sensitive activity recorded on O."""
    case = case_open(
        actor=fresh(users["worker_welfare"]),
        summary="障害のある方の生活相談",
        person={
            "family_name": "守秘",
            "given_name": "花子",
            "family_name_kana": "シュヒ",
            "given_name_kana": "ハナコ",
            "birth_date": "1950-01-02",
            "sex": "female",
            "district": "kawakami",
            "address": "津久見市川上 港町3-4",
            "phone": "0972-99-0001",
            "flags": ["disability", "lives_alone"],
        },
        confirm_new_person=True,
    )
    consent_record(
        case_id=case.pk,
        actor=fresh(users["worker_welfare"]),
        recipients=["shakyo"],
        purposes=SECRET_PURPOSE,
        method="oral",
    )
    activity_add(case_id=case.pk, actor=fresh(users["worker_welfare"]), kind="visit", body=SECRET_NOTE, sensitive=True)
    return case


def _client(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="ja")
    client.force_login(user)
    return client


def _body(response) -> str:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return raw.decode()


def _assert_nothing_held(text: str, where: str) -> None:
    for secret in (SECRET_NOTE, SECRET_PURPOSE, "disability", "障害", "female", "女性"):
        assert secret not in text, (secret, where)


@pytest.mark.parametrize("username", OUTSIDERS)
def test_api_a_new_case_for_an_existing_person_reveals_nothing_the_other_case_held(held, users, username):
    client = _client(users[username])
    assert client.get(f"/api/v1/cases/{held.pk}/").status_code == 404

    # The attack of issue 17: the bare id opens nothing (answered as an unknown id)…
    bare = client.post(
        "/api/v1/cases/",
        {"person_id": held.person_id, "summary": "窓口に来られた", "channel": "counter"},
        content_type="application/json",
    )
    assert bare.status_code == 400 and "person_id" in bare.json()["fields"]
    assert Case.objects.filter(person_id=held.person_id).count() == 1
    # …the person found by a search (the candidate's proof sent back) does.
    (hit,) = client.get("/api/v1/persons/?q=シュヒ").json()
    response = client.post(
        "/api/v1/cases/",
        {
            "person_id": held.person_id,
            "person_choice": hit["choice"],
            "summary": "窓口に来られた",
            "channel": "counter",
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    new = response.json()
    assert new["access"] == "full"  # the new case is theirs, whole
    person = new["person"]
    # The identity needed to contact the person…
    assert (person["family_name"], person["address"], person["phone"], person["district"]) == (
        "守秘",
        "津久見市川上 港町3-4",
        "0972-99-0001",
        "kawakami",
    )
    # …the ordinary flag, and nothing the other case held.
    assert person["flags"] == ["lives_alone"]
    assert person["sex"] == ""
    new_id = new["id"]
    assert client.get(f"/api/v1/cases/{new_id}/consents/").json()["results"] == []
    assert client.get(f"/api/v1/cases/{new_id}/activities/").json()["results"] == []
    history = client.get(f"/api/v1/cases/{new_id}/history/").json()
    entries = history["results"] if isinstance(history, dict) else history
    assert [e for e in entries if e["object_type"] == "person"] == []  # the person's past stays with O
    listed = {c["id"] for c in client.get("/api/v1/cases/?page_size=200").json()["results"]}
    assert held.pk not in listed and new_id in listed
    for url in (
        f"/api/v1/cases/{new_id}/",
        f"/api/v1/cases/{new_id}/consents/",
        f"/api/v1/cases/{new_id}/activities/",
        f"/api/v1/cases/{new_id}/history/",
        f"/api/v1/cases/{new_id}/referrals/",
        "/api/v1/cases/?page_size=200",
        f"/api/v1/cases/{held.pk}/consents/",
    ):
        _assert_nothing_held(json.dumps(client.get(url).json(), ensure_ascii=False), url)


@pytest.mark.parametrize("username", OUTSIDERS)
def test_web_use_person_reveals_nothing_the_other_case_held(held, users, username):
    client = _client(users[username])
    assert client.get(f"/cases/{held.pk}/").status_code == 404
    intake = {"channel": "counter", "summary": "窓口に来られた", "risk": "normal"}
    bare = client.post(
        "/cases/new/",
        {"idempotency_key": f"attack-{username}", "use_person": str(held.person_id), **intake},
    )
    assert bare.status_code == 400 and "守秘" not in _body(bare)
    assert Case.objects.filter(person_id=held.person_id).count() == 1
    (hit,) = json.loads(_body(client.get("/persons/search/?q=シュヒ")))["results"]
    response = client.post(
        "/cases/new/",
        {"idempotency_key": f"found-{username}", "person_id": hit["id"], "person_choice": hit["choice"], **intake},
    )
    assert response.status_code == 302, _body(response)
    new = Case.objects.exclude(pk=held.pk).get(person_id=held.person_id)
    page = _body(client.get(f"/cases/{new.pk}/"))
    assert "守秘" in page and "津久見市川上 港町3-4" in page and "独居" in page
    # The edit form offers every flag and sex as choices: what it must not do is tick what it hides.
    form = re.search(r'<details[^>]*id="person-edit".*?</details>', page, re.S)
    assert form is not None
    assert re.search(r'value="lives_alone"[^>]*checked', form.group(0))
    assert not re.search(r'value="disability"[^>]*checked', form.group(0))
    assert 'value="female" selected' not in form.group(0) and 'name="sex"' not in form.group(0)
    _assert_nothing_held(page.replace(form.group(0), ""), "case page")
    _assert_nothing_held(_body(client.get(f"/cases/{new.pk}/print/")), "print")
    assert client.get(f"/cases/{held.pk}/").status_code == 404


@pytest.mark.parametrize("username", ["auditor", "minsei_kawakami", "admin"])
def test_who_may_not_open_a_case_gets_nothing_either(held, users, username):
    client = _client(users[username])
    response = client.post(
        "/api/v1/cases/", {"person_id": held.person_id, "summary": "x"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert Case.objects.filter(person_id=held.person_id).count() == 1


def test_what_the_new_case_records_itself_is_its_own(held, users, fresh):
    """Changes from the new case's opening on belong to it: a flag recorded later shows through it,
    its own consent lists, and the earlier ones stay with O."""
    from referral_engine.cases.services.persons import person_update

    shakyo = fresh(users["worker_shakyo"])
    new = case_open(
        actor=shakyo, summary="相談", person_id=held.person_id, person_choice=offered(shakyo, held.person_id)
    )
    person_update(
        person_id=held.person_id,
        actor=fresh(users["worker_shakyo"]),
        changes={"flags": ["hikikomori", "lives_alone"]},
        reason="面談で確認",
    )
    consent_record(
        case_id=new.pk,
        actor=fresh(users["worker_shakyo"]),
        recipients=["social_welfare"],
        purposes="連携",
        method="oral",
    )
    client = _client(users["worker_shakyo"])
    person = client.get(f"/api/v1/cases/{new.pk}/").json()["person"]
    assert sorted(person["flags"]) == ["hikikomori", "lives_alone"]  # 障害 stays hidden, and kept
    held.person.refresh_from_db()
    assert sorted(held.person.flags) == ["disability", "hikikomori", "lives_alone"]
    consents = client.get(f"/api/v1/cases/{new.pk}/consents/").json()["results"]
    assert [c["purposes"] for c in consents] == ["連携"]
    history = client.get(f"/api/v1/cases/{new.pk}/history/").json()
    entries = history["results"] if isinstance(history, dict) else history
    person_changes = [c for e in entries if e["object_type"] == "person" for c in e["changes"]]
    assert [(c["field"], c["old"], c["new"]) for c in person_changes] == [("flags", "独居", "ひきこもり、独居")]
    # The welfare worker of O sees everything, through either case they may open.
    welfare = _client(users["worker_welfare"]).get(f"/api/v1/cases/{held.pk}/").json()["person"]
    assert sorted(welfare["flags"]) == ["disability", "hikikomori", "lives_alone"] and welfare["sex"] == "female"
    o_consents = _client(users["worker_welfare"]).get(f"/api/v1/cases/{held.pk}/consents/").json()["results"]
    assert [c["purposes"] for c in o_consents] == [SECRET_PURPOSE]


def test_a_consent_of_another_case_cannot_carry_a_referral(held, users, fresh):
    """The shakyo's new case cannot lean on O's consent (which covers the shakyo) to disclose."""
    from referral_engine.cases.services.referrals import referral_create
    from referral_engine.errors import InvalidInput

    longevity = fresh(users["worker_longevity"])
    new = case_open(
        actor=longevity, summary="相談", person_id=held.person_id, person_choice=offered(longevity, held.person_id)
    )
    o_consent = held.consents.get()
    with pytest.raises(InvalidInput):
        referral_create(
            case_id=new.pk,
            actor=fresh(users["worker_longevity"]),
            to_department="shakyo",
            basis="consent",
            reason="サロン",
            consent_id=o_consent.pk,
        )
    with pytest.raises(InvalidInput):  # nor is it found for them
        referral_create(
            case_id=new.pk,
            actor=fresh(users["worker_longevity"]),
            to_department="shakyo",
            basis="consent",
            reason="サロン",
        )


def test_reach_to_the_case_that_held_them_shows_them_through_the_new_case_too(held, users, fresh):
    """The desk supervisor and auditors reach every case; a worker of O sees O's record through a
    later case they also see whole."""
    new = case_open(actor=fresh(users["worker_welfare"]), summary="再相談", person_id=held.person_id)
    for username in ("worker_welfare", "chief_welfare", "auditor"):
        person = _client(users[username]).get(f"/api/v1/cases/{new.pk}/").json()["person"]
        assert sorted(person["flags"]) == ["disability", "lives_alone"], username
        assert person["sex"] == "female", username
