"""Choosing an existing person at intake needs proof that the person was offered to this user (issue 17
leftover): person ids are sequential, and an intake naming a bare id told the opener who the person
was. A candidate (search hit, duplicate warning, the disaster board's "open a case") carries `choice`,
signed for that user and person and short-lived; the API takes it as `person_choice` beside the
`person_id` of DESIGN §11.1, the web as `use_person` / `person_choice`. Without it an id is answered
exactly as an unknown id. Whoever already sees a case of the person needs no proof.

And the household signal before submit (issue 17 item 6): the chosen person's household — relation,
age band, departments with an open case, the 8050 hint — on the intake page, never a member's name."""

from __future__ import annotations

import json
import re
import time
from datetime import date

import pytest
from django.test import Client

from referral_engine.audit.models import AccessLog
from referral_engine.cases.models import Case
from referral_engine.cases.services.households import household_create
from referral_engine.cases.services.intake import case_open
from referral_engine.cases.services.person_choice import person_choice_issue, person_choice_valid
from referral_engine.errors import InvalidInput

pytestmark = pytest.mark.django_db

TODAY = date.today()


def _client(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="ja")
    client.force_login(user)
    return client


@pytest.fixture
def family(users, fresh):
    """A mother of 84 (a welfare case) and her son of 52, ひきこもり, with an open health case: the 8050
    pattern. The shakyo sees neither case."""

    def open_for(actor, given, kana, age, flags=()):
        return case_open(
            actor=fresh(users[actor]),
            summary="相談",
            person={
                "family_name": "保戸島",
                "given_name": given,
                "family_name_kana": "ホトジマ",
                "given_name_kana": kana,
                "birth_date": date(TODAY.year - age - 1, 1, 1).isoformat(),
                "flags": list(flags),
            },
            confirm_new_person=True,
        )

    mother = open_for("worker_welfare", "トメ", "トメ", 84)
    son = open_for("desk_health", "一郎", "イチロウ", 52, flags=["hikikomori"])
    household_create(
        actor=fresh(users["worker_welfare"]),
        members=[
            {"person_id": mother.person_id, "relation": "self"},
            {"person_id": son.person_id, "relation": "child", "without_work": True},
        ],
        reason="訪問で同居を確認",
    )
    return {"mother": mother.person, "son": son.person}


# --- The service ----------------------------------------------------------------------------------


def _open(actor, person_id, choice=""):
    return case_open(actor=actor, summary="窓口に来られた", person_id=person_id, person_choice=choice)


def _refusal(actor, person_id, choice="") -> dict:
    with pytest.raises(InvalidInput) as refused:
        _open(actor, person_id, choice)
    return refused.value.fields


def test_a_bare_id_is_answered_as_an_unknown_id(family, users, fresh):
    shakyo = fresh(users["worker_shakyo"])
    mother = family["mother"]
    assert _refusal(shakyo, mother.pk) == _refusal(shakyo, 987654321) == _refusal(shakyo, "x")
    assert Case.objects.filter(person=mother).count() == 1


def test_the_proof_opens_the_case_for_its_user_and_its_person_only(family, users, fresh):
    shakyo, chief = fresh(users["worker_shakyo"]), fresh(users["chief_shakyo"])
    mother, son = family["mother"], family["son"]
    proof = person_choice_issue(shakyo, mother.pk)
    assert "person_id" in _refusal(chief, mother.pk, proof)  # handed on to a colleague: no
    assert "person_id" in _refusal(shakyo, son.pk, proof)  # another person: no
    assert "person_id" in _refusal(shakyo, mother.pk, proof[:-2] + "xx")  # tampered: no
    case = _open(shakyo, mother.pk, proof)
    assert case.person_id == mother.pk


def test_the_proof_expires(family, users, fresh, settings, monkeypatch):
    settings.PERSON_CHOICE_MAX_AGE = 600
    shakyo = fresh(users["worker_shakyo"])
    mother = family["mother"]
    now = time.time()
    with monkeypatch.context() as m:
        m.setattr(time, "time", lambda: now - 601)
        old = person_choice_issue(shakyo, mother.pk)
        m.setattr(time, "time", lambda: now - 590)
        recent = person_choice_issue(shakyo, mother.pk)
    assert not person_choice_valid(shakyo, mother.pk, old)
    assert "person_id" in _refusal(shakyo, mother.pk, old)
    assert person_choice_valid(shakyo, mother.pk, recent)


def test_who_sees_a_case_of_the_person_needs_no_proof(family, users, fresh):
    """Their identity is already theirs to read: the welfare desk opens again for the mother."""
    case = _open(fresh(users["desk_welfare"]), family["mother"].pk)
    assert case.person_id == family["mother"].pk


# --- The API --------------------------------------------------------------------------------------


def test_api_search_hits_and_duplicate_warnings_carry_the_proof(family, users):
    client = _client(users["worker_shakyo"])
    hits = client.get("/api/v1/persons/?q=ホトジマ").json()
    assert {h["id"] for h in hits} == {family["mother"].pk, family["son"].pk}
    mother = next(h for h in hits if h["id"] == family["mother"].pk)
    opened = client.post(
        "/api/v1/cases/",
        {"person_id": mother["id"], "person_choice": mother["choice"], "summary": "相談"},
        content_type="application/json",
    )
    assert opened.status_code == 201, opened.content
    duplicate = client.post(
        "/api/v1/cases/",
        {
            "summary": "相談",
            "person": {
                "family_name": "保戸島",
                "given_name": "一郎",
                "family_name_kana": "ホトジマ",
                "given_name_kana": "イチロウ",
            },
        },
        content_type="application/json",
    )
    assert duplicate.status_code == 409
    (candidate,) = duplicate.json()["candidates"]
    assert candidate["id"] == family["son"].pk and person_choice_valid(
        users["worker_shakyo"], family["son"].pk, candidate["choice"]
    )
    # Another user's proof is refused like no proof at all.
    other = _client(users["chief_shakyo"]).post(
        "/api/v1/cases/",
        {"person_id": candidate["id"], "person_choice": candidate["choice"], "summary": "相談"},
        content_type="application/json",
    )
    assert other.status_code == 400 and "person_id" in other.json()["fields"]


# --- The web intake and its household signal ------------------------------------------------------


def _signal(html: str) -> str:
    found = re.search(r'<div id="household-signal".*?</div>', html, re.S)
    assert found, "no household-signal block"
    return found.group(0)


def test_web_search_hit_shows_the_household_signal_before_submit(family, users):
    client = _client(users["worker_shakyo"])
    hits = json.loads(client.get("/persons/search/?q=ホトジマ").content)["results"]
    mother = next(h for h in hits if h["id"] == family["mother"].pk)
    # What the page's script fetches when the hit is chosen (and the page itself at that address).
    part = client.get(f"/cases/new/?part=household&person={mother['id']}&choice={mother['choice']}")
    assert part.status_code == 200
    signal = _signal(part.content.decode())
    assert "8050の可能性" in signal
    assert "世帯員がほかの窓口で相談中です" in signal and "健康推進課" in signal
    assert "50代" in signal and "80歳以上" in signal
    assert "一郎" not in signal and "イチロウ" not in signal and "保戸島 一郎" not in signal  # no member named
    assert AccessLog.objects.filter(username="worker_shakyo", object_type="household").exists()

    # A bare id shows nothing: no person chosen, no signal.
    bare = client.get(f"/cases/new/?person={mother['id']}").content.decode()
    assert "保戸島 トメ" not in bare and "8050の可能性" not in bare
    assert "8050の可能性" not in client.get(f"/cases/new/?part=household&person={mother['id']}").content.decode()

    # Submitted with the proof: the case is opened for that person.
    opened = client.post(
        "/cases/new/",
        {
            "idempotency_key": "signal-1",
            "person_id": mother["id"],
            "person_choice": mother["choice"],
            "channel": "counter",
            "summary": "相談",
            "risk": "normal",
        },
    )
    assert opened.status_code == 302
    assert Case.objects.filter(person_id=mother["id"]).count() == 2


def test_web_without_script_the_duplicate_warning_has_a_check_step(family, users):
    """The 409 page's "この方を選んで世帯を確認する": the page again, the candidate chosen, the signal
    shown, everything typed kept, nothing opened; then 受け付ける opens it."""
    client = _client(users["worker_shakyo"])
    typed = {
        "idempotency_key": "check-1",
        "family_name": "保戸島",
        "given_name": "トメ",
        "family_name_kana": "ホトジマ",
        "given_name_kana": "トメ",
        "channel": "phone",
        "summary": "電話で相談があった",
        "risk": "normal",
        "needs": ["isolation"],
    }
    warning = client.post("/cases/new/", typed)
    assert warning.status_code == 409
    proof = re.search(r'name="check_person" value="([^"]+)"', warning.content.decode()).group(1)
    checked = client.post("/cases/new/", {**typed, "check_person": proof})
    html = checked.content.decode()
    assert checked.status_code == 200
    assert f'name="person_id" id="id_person_id" value="{family["mother"].pk}"' in html
    assert f'name="person_choice" id="id_person_choice" value="{proof}"' in html
    assert "8050の可能性" in _signal(html)
    assert "電話で相談があった" in html  # what was typed is kept
    assert Case.objects.filter(person=family["mother"]).count() == 1  # nothing opened yet
    opened = client.post("/cases/new/", {**typed, "person_id": family["mother"].pk, "person_choice": proof})
    assert opened.status_code == 302
    assert Case.objects.filter(person=family["mother"]).count() == 2


def test_the_signal_is_not_shown_without_a_household(users, open_case):
    case = open_case("worker_welfare")
    page = _client(users["worker_welfare"]).get(f"/cases/new/?person={case.person_id}").content.decode()
    assert 'id="household-signal"' in page and "8050" not in page and "世帯員がほかの窓口" not in page
