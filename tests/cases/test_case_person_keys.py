"""The person's name keys copied onto the case (cases/0009) for the case-list search: the database writes
them, on PostgreSQL and SQLite alike, whichever writer touched the case or the person — intake, a
person's edit, a merge, or a write that sets them by hand."""

from __future__ import annotations

import pytest
from django.test import Client

from referral_engine.cases import normalize
from referral_engine.cases.models import Case, Person
from referral_engine.cases.services.intake import case_open
from referral_engine.cases.services.merge import person_merge
from referral_engine.cases.services.persons import person_update
from tests.fixtures import NEW_PERSON

pytestmark = pytest.mark.django_db

OTHER = {
    **NEW_PERSON,
    "family_name": "保戸島",
    "given_name": "ウメ",
    "family_name_kana": "ホトジマ",
    "given_name_kana": "ウメ",
}


def _keys(case: Case) -> tuple[str, str]:
    return tuple(Case.objects.filter(pk=case.pk).values_list("person_kana_key", "person_name_key").get())


def _expected(person: Person) -> tuple[str, str]:
    person = Person.objects.get(pk=person.pk)
    return (
        normalize.kana_key(person.family_name_kana, person.given_name_kana),
        normalize.name_key(person.family_name, person.given_name),
    )


def _search(user, q: str) -> set[str]:
    client = Client()
    client.force_login(user)
    response = client.get("/api/v1/cases/", {"q": q})
    assert response.status_code == 200, response.content
    return {row["number"] for row in response.json()["results"]}


def test_intake_edit_and_merge_keep_the_case_rows_keys_to_the_persons(users, fresh):
    worker = users["worker_welfare"]
    first = case_open(actor=fresh(worker), summary="一人暮らし", person=NEW_PERSON, confirm_new_person=True)
    again = case_open(actor=fresh(worker), summary="再相談", person_id=first.person_id)
    other = case_open(actor=fresh(worker), summary="転倒", person=OTHER, confirm_new_person=True)
    assert _keys(first) == _keys(again) == _expected(first.person) != ("", "")
    assert _keys(other) == _expected(other.person)

    # A person's edit changes the keys of every case of theirs, and the search follows.
    person_update(
        person_id=first.person_id,
        actor=fresh(worker),
        changes={"family_name": "四浦", "family_name_kana": "ヨウラ"},
        reason="婚姻による改姓",
    )
    assert _keys(first) == _keys(again) == _expected(first.person)
    assert _keys(first)[0].startswith("ヨウラ") and _keys(first)[1].startswith("四浦")
    assert _search(fresh(worker), "四浦") == {first.number, again.number}
    assert _search(fresh(worker), "よう") == {first.number, again.number}
    assert _search(fresh(worker), "ほとじ") == {other.number}

    # A merge moves the case to the kept person: its keys are the kept person's.
    person_merge(person_id=other.person_id, into_id=first.person_id, actor=fresh(users["chief_welfare"]), reason="同一")
    assert _keys(other) == _expected(first.person)
    assert _search(fresh(worker), "ほとじ") == set()
    assert _search(fresh(worker), "四浦") == {first.number, again.number, other.number}


def test_a_write_that_sets_the_keys_by_hand_gets_the_persons_back(users, fresh):
    case = case_open(actor=fresh(users["worker_welfare"]), summary="相談", person=OTHER, confirm_new_person=True)
    Case.objects.filter(pk=case.pk).update(person_kana_key="ニセ", person_name_key="偽")
    assert _keys(case) == _expected(case.person)
    # A full save of an instance holding stale copies (Python never computes them) leaves them right.
    stale = Case.objects.get(pk=case.pk)
    stale.person_kana_key = stale.person_name_key = ""
    stale.save()
    assert _keys(case) == _expected(case.person)
