"""Editing a person (DESIGN §11.2, issue 17 item 3): `PATCH /api/v1/persons/{id}/` and the form on the
case page change identity fields and flags with a reason, historied (who and why); who may edit is a
policy rule (staff with a full view of an open case of the person). Ordinary flags (独居,
避難行動要支援者) show wherever the identity does; sensitive ones (要配慮) only with reach."""

from __future__ import annotations

import pytest
from django.test import Client

from referral_engine.cases.models import Person

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="ja")
    client.force_login(user)
    return client


def _patch(user, person_id, body):
    return _client(user).patch(f"/api/v1/persons/{person_id}/", body, content_type="application/json")


@pytest.fixture
def referred(open_case):
    """A case at the welfare desk referred to health (requested: health sees it limited)."""
    return open_case(
        "worker_welfare",
        referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問"}],
        person={
            "family_name": "青江",
            "given_name": "次郎",
            "family_name_kana": "アオエ",
            "given_name_kana": "ジロウ",
            "birth_date": "1950-03-04",
            "district": "aoe",
            "address": "津久見市青江1-1",
            "flags": ["hikikomori", "lives_alone"],
        },
    )


def test_an_edit_is_historied_with_who_and_why(referred, users):
    response = _patch(
        users["worker_welfare"],
        referred.person_id,
        {
            "address": "津久見市青江3-3",
            "family_name_kana": "あおえ",
            "flags": ["lives_alone", "evacuation_support"],
            "reason": "本人から転居の連絡",
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["address"] == "津久見市青江3-3"
    assert sorted(body["flags"]) == ["evacuation_support", "lives_alone"]  # the editor saw ひきこもり: removed
    person = Person.objects.get(pk=referred.person_id)
    assert person.family_name_kana == "アオエ"  # cleaned as at intake (katakana)
    last = person.history.order_by("-history_date", "-history_id").first()
    assert (last.history_user.username, last.history_change_reason) == (
        "worker_welfare",
        "person_update: 本人から転居の連絡",
    )
    # The case's history shows it, field by field, to its full viewers.
    history = _client(users["worker_welfare"]).get(f"/api/v1/cases/{referred.pk}/history/").json()
    entries = history["results"] if isinstance(history, dict) else history
    edit = [e for e in entries if e["object_type"] == "person" and e["kind"] == "changed"][-1]
    assert edit["user"]["username"] == "worker_welfare" and edit["reason"] == "person_update: 本人から転居の連絡"
    assert {c["field"] for c in edit["changes"]} >= {"address", "flags"}


def test_no_reason_is_a_400_and_changes_nothing(referred, users):
    before = Person.history.count()
    response = _patch(users["worker_welfare"], referred.person_id, {"address": "津久見市青江9-9"})
    assert response.status_code == 400 and "reason" in response.json()["fields"]
    response = _patch(users["worker_welfare"], referred.person_id, {"address": "津久見市青江9-9", "reason": "  "})
    assert response.status_code == 400
    assert Person.objects.get(pk=referred.person_id).address == "津久見市青江1-1"
    assert Person.history.count() == before


@pytest.mark.parametrize(
    "body",
    [
        {"district": "nowhere", "reason": "x"},
        {"flags": ["not_a_flag"], "reason": "x"},
        {"birth_date": "2999-01-01", "reason": "x"},
        {"family_name": "", "reason": "x"},
        {"case": 5, "reason": "x"},
    ],
)
def test_bad_values_are_a_400_naming_the_field(referred, users, body):
    response = _patch(users["worker_welfare"], referred.person_id, body)
    assert response.status_code == 400, response.content
    assert response.json()["fields"]


def test_who_may_edit(referred, users, fresh):
    from referral_engine.cases.services.case_state import case_transition
    from referral_engine.cases.services.referrals import referral_transition

    person_id = referred.person_id
    body = {"phone": "0972-11-1111", "reason": "電話番号の確認"}
    assert _patch(users["worker_health"], person_id, body).status_code == 403  # limited view only
    assert _patch(users["auditor"], person_id, body).status_code == 403  # reads everything, changes nothing
    assert _patch(users["worker_shakyo"], person_id, body).status_code == 404  # reaches no case of theirs
    assert _patch(users["minsei_aoe"], person_id, body).status_code == 404
    assert _patch(users["chief_welfare"], person_id, body).status_code == 200  # the desk supervisor
    # Once the only case is closed, nobody edits the person through it.
    referral_transition(referral_id=referred.referrals.get().pk, name="cancel", actor=fresh(users["worker_welfare"]))
    case_transition(case_id=referred.pk, name="close", actor=fresh(users["worker_welfare"]), closure_reason="resolved")
    assert _patch(users["worker_welfare"], person_id, body | {"phone": "0972-22-2222"}).status_code == 403


def test_ordinary_flags_show_with_the_identity_sensitive_ones_with_reach(referred, users):
    _patch(
        users["worker_welfare"],
        referred.person_id,
        {"flags": ["hikikomori", "lives_alone", "evacuation_support"], "reason": "個別避難計画の対象"},
    )
    limited = _client(users["worker_health"]).get(f"/api/v1/cases/{referred.pk}/").json()["person"]
    assert limited["flags"] == ["evacuation_support", "lives_alone"]
    page = _client(users["worker_health"]).get(f"/cases/{referred.pk}/").content.decode()
    assert "避難行動要支援者" in page and "独居" in page and "ひきこもり" not in page
    full = _client(users["worker_welfare"]).get(f"/api/v1/cases/{referred.pk}/").json()["person"]
    assert full["flags"] == ["evacuation_support", "hikikomori", "lives_alone"]


def test_the_case_page_form(referred, users):
    editor = _client(users["worker_welfare"])
    page = editor.get(f"/cases/{referred.pk}/").content.decode()
    assert f'action="/cases/{referred.pk}/person/"' in page and "ひきこもり（要配慮）" in page
    assert (
        f'action="/cases/{referred.pk}/person/"'
        not in _client(users["worker_health"]).get(f"/cases/{referred.pk}/").content.decode()
    )

    form = {
        "family_name": "青江",
        "given_name": "次郎",
        "family_name_kana": "アオエ",
        "given_name_kana": "ジロウ",
        "birth_date": "1950-03-04",
        "district": "aoe",
        "address": "津久見市青江5-5",
        "flags": ["lives_alone"],
    }
    missing = editor.post(f"/cases/{referred.pk}/person/", form)
    assert missing.status_code == 400
    assert (
        'id="id_person_reason-errors"' in missing.content.decode() or "この項目は必須です" in missing.content.decode()
    )
    assert Person.objects.get(pk=referred.person_id).address == "津久見市青江1-1"

    done = editor.post(f"/cases/{referred.pk}/person/", form | {"reason": "本人の申し出"})
    assert done.status_code == 302 and done["Location"].endswith(f"/cases/{referred.pk}/#summary")
    person = Person.objects.get(pk=referred.person_id)
    assert person.address == "津久見市青江5-5" and person.flags == ["lives_alone"]
    assert (
        _client(users["worker_health"]).post(f"/cases/{referred.pk}/person/", form | {"reason": "x"}).status_code == 403
    )
