"""Merging two records of one person (issue 17 item 4, DESIGN §11.2): cases, consents and household
links move; the merged record keeps its history and `merged_into`; an event on every moved case; only
a supervisor who can see a case of each may merge."""

from __future__ import annotations

import pytest

from referral_engine.cases.choices import EventKind
from referral_engine.cases.models import Case, CaseEvent, Consent, HouseholdMember, Person
from referral_engine.cases.services.households import household_create
from referral_engine.cases.services.merge import person_merge
from referral_engine.cases.services.records import consent_record
from referral_engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from tests.fixtures import NEW_PERSON

pytestmark = pytest.mark.django_db

TWIN = {**NEW_PERSON, "family_name": "津久見", "given_name": "はな子", "phone": "", "address": "津久見市川上"}


@pytest.fixture
def pair(users, fresh):
    """Two records of one person, each with a case at the desk; the first has a consent and a household
    with a relative."""
    from referral_engine.cases.services.intake import case_open

    worker = users["worker_welfare"]
    first = case_open(actor=fresh(worker), summary="一人暮らし", person=NEW_PERSON, confirm_new_person=True)
    second = case_open(actor=fresh(worker), summary="転倒", person=TWIN, confirm_new_person=True)
    son = case_open(
        actor=fresh(worker),
        summary="息子の相談",
        person={"family_name": "津久見", "given_name": "一郎", "birth_date": "1975-01-01"},
        confirm_new_person=True,
    )
    consent = consent_record(
        case_id=first.pk, actor=fresh(worker), recipients=["shakyo"], purposes="サロン", method="oral"
    )
    household_create(
        actor=fresh(worker),
        members=[
            {"person_id": first.person_id, "relation": "self"},
            {"person_id": son.person_id, "relation": "child"},
        ],
        reason="家族構成の聞き取り",
    )
    return {"first": first, "second": second, "son": son, "consent": consent}


def test_merge_moves_cases_consents_and_household_links_and_keeps_both_histories(pair, users, fresh):
    merged, kept = pair["first"].person, pair["second"].person
    merged_history = list(merged.history.values_list("history_id", flat=True))
    kept_history = list(kept.history.values_list("history_id", flat=True))

    result = person_merge(
        person_id=merged.pk, into_id=kept.pk, actor=fresh(users["chief_welfare"]), reason="同一人物（生年月日・住所）"
    )

    assert [c.pk for c in result.cases] == [pair["first"].pk]
    assert set(Case.objects.filter(person=kept).values_list("pk", flat=True)) == {pair["first"].pk, pair["second"].pk}
    assert not Case.objects.filter(person=merged).exists()
    assert Consent.objects.get(pk=pair["consent"].pk).person_id == kept.pk
    link = HouseholdMember.objects.get(person=kept)
    assert link.relation == "self"
    assert not HouseholdMember.objects.filter(person=merged).exists()

    merged.refresh_from_db()
    assert merged.merged_into_id == kept.pk
    # Both histories kept: every earlier row still there, and the merge is a new row with who and why.
    assert set(merged_history) < set(merged.history.values_list("history_id", flat=True))
    assert set(kept_history) <= set(Person.history.filter(id=kept.pk).values_list("history_id", flat=True))
    row = merged.history.first()
    assert row.history_user.username == "chief_welfare"
    assert row.history_change_reason == "merge: 同一人物（生年月日・住所）"
    case_row = Case.history.filter(id=pair["first"].pk).first()
    assert case_row.person_id == kept.pk and case_row.history_user.username == "chief_welfare"

    event = CaseEvent.objects.get(case=pair["first"], kind=EventKind.PERSON_MERGED)
    assert event.data == {"merged": merged.pk, "into": kept.pk}
    assert event.actor.username == "chief_welfare"
    assert not CaseEvent.objects.filter(case=pair["second"], kind=EventKind.PERSON_MERGED).exists()


def test_a_caseworker_cannot_merge(pair, users, fresh):
    with pytest.raises(Forbidden):
        person_merge(
            person_id=pair["first"].person_id,
            into_id=pair["second"].person_id,
            actor=fresh(users["worker_welfare"]),
            reason="同一人物",
        )
    assert Person.objects.get(pk=pair["first"].person_id).merged_into_id is None


def test_a_supervisor_who_cannot_see_a_case_of_each_gets_not_found(pair, users, fresh):
    with pytest.raises(NotFound):
        person_merge(
            person_id=pair["first"].person_id,
            into_id=pair["second"].person_id,
            actor=fresh(users["chief_shakyo"]),
            reason="同一人物",
        )


def test_merge_refusals(pair, users, fresh):
    chief = users["chief_welfare"]
    a, b = pair["first"].person_id, pair["second"].person_id
    with pytest.raises(InvalidInput):
        person_merge(person_id=a, into_id=a, actor=fresh(chief), reason="r")
    with pytest.raises(InvalidInput):
        person_merge(person_id=a, into_id=b, actor=fresh(chief), reason="")
    person_merge(person_id=a, into_id=b, actor=fresh(chief), reason="同一人物")
    with pytest.raises((Conflict, NotFound)):  # merged already (and it has no case left to see)
        person_merge(person_id=a, into_id=b, actor=fresh(chief), reason="同一人物")


def test_an_intake_naming_a_merged_record_opens_the_case_on_the_record_kept(pair, users, fresh):
    from referral_engine.cases.services.intake import case_open

    a, b = pair["first"].person_id, pair["second"].person_id
    person_merge(person_id=a, into_id=b, actor=fresh(users["chief_welfare"]), reason="同一人物")
    case = case_open(actor=fresh(users["desk_welfare"]), summary="再相談", person_id=a)
    assert case.person_id == b


def test_api_merge(pair, users, client):
    url = f"/api/v1/persons/{pair['first'].person_id}/merge/"
    body = {"into": pair["second"].person_id, "reason": "同一人物"}
    client.force_login(users["worker_welfare"])
    assert client.post(url, body, content_type="application/json").status_code == 403
    client.force_login(users["chief_welfare"])
    assert client.post(url, {"into": pair["second"].person_id}, content_type="application/json").status_code == 400
    done = client.post(url, body, content_type="application/json")
    assert done.status_code == 200
    assert done.json() == {
        "id": pair["first"].person_id,
        "merged_into": pair["second"].person_id,
        "moved_cases": [pair["first"].pk],
    }


def test_the_intake_duplicates_offer_this_is_the_same_person_to_supervisors(pair, users, client):
    form = {
        "family_name": "津久見",
        "given_name": "花子",
        "family_name_kana": "ツクミ",
        "given_name_kana": "ハナコ",
        "birth_date": "1944-05-03",
        "channel": "counter",
        "summary": "相談",
        "risk": "normal",
    }
    client.force_login(users["chief_welfare"])
    page = client.post("/cases/new/", {**form, "idempotency_key": "merge-offer-1"})
    assert page.status_code == 409
    html = page.content.decode()
    assert f'data-merge="{pair["first"].person_id}-{pair["second"].person_id}"' in html
    # The button merges from the intake page: the reason comes from its field.
    done = client.post(
        f"/persons/{pair['first'].person_id}/merge/",
        {"into": pair["second"].person_id, "merge_reason": "同一人物", "next": "/cases/new/"},
    )
    assert done.status_code == 302
    assert Person.objects.get(pk=pair["first"].person_id).merged_into_id == pair["second"].person_id


def test_caseworkers_are_not_offered_a_merge_at_intake(pair, users, client):
    form = {
        "family_name": "津久見",
        "given_name": "花子",
        "family_name_kana": "ツクミ",
        "given_name_kana": "ハナコ",
        "birth_date": "1944-05-03",
        "channel": "counter",
        "summary": "相談",
        "risk": "normal",
        "idempotency_key": "merge-offer-2",
    }
    client.force_login(users["worker_welfare"])
    page = client.post("/cases/new/", form)
    assert page.status_code == 409
    assert "data-merge=" not in page.content.decode()


def test_merge_moves_evacuation_plans_and_safety_checks(pair, users, fresh):
    """Every row that names the person moves: the evacuation plan, and the safety checks of each
    disaster. Where a disaster checked both records, one check is left, the one updated last."""
    from datetime import timedelta

    from django.utils import timezone

    from referral_engine.accounts.models import District
    from referral_engine.cases.models import EvacuationPlan
    from referral_engine.cases.services.referrals import referral_create
    from referral_engine.disasters.models import SafetyCheck
    from referral_engine.disasters.services import disaster_open

    merged, kept = pair["first"].person, pair["second"].person
    referral = referral_create(
        case_id=pair["first"].pk,
        actor=fresh(users["worker_welfare"]),
        to_department="disaster_prevention",
        basis="internal_use",
        reason="避難計画",
    )
    plan = EvacuationPlan.objects.create(person=merged, referral=referral, made_at=timezone.now(), destination="第一小")
    kawakami, aoe = District.objects.get(code="kawakami"), District.objects.get(code="aoe")
    Person.objects.filter(pk__in=[merged.pk, kept.pk]).update(flags=["evacuation_support"], district=kawakami)
    both = disaster_open(actor=fresh(users["chief_bosai"]), name="地震", kind="earthquake", district_codes=["kawakami"])
    # The merged record's check was answered later than the kept one's: its word is the one kept.
    SafetyCheck.objects.filter(disaster=both, person=merged).update(
        status="safe", updated_at=timezone.now() + timedelta(minutes=5)
    )
    Person.objects.filter(pk=merged.pk).update(district=aoe)
    only_merged = disaster_open(actor=fresh(users["chief_bosai"]), name="大雨", kind="flood", district_codes=["aoe"])
    assert SafetyCheck.objects.filter(disaster=only_merged, person=merged).exists()

    person_merge(person_id=merged.pk, into_id=kept.pk, actor=fresh(users["chief_welfare"]), reason="同一人物")

    plan.refresh_from_db()
    assert plan.person_id == kept.pk
    assert plan.history.first().history_change_reason == "merge: 同一人物"
    assert not SafetyCheck.objects.filter(person=merged).exists()
    check = SafetyCheck.objects.get(disaster=both)
    assert (check.person_id, check.status) == (kept.pk, "safe")
    assert SafetyCheck.objects.get(disaster=only_merged).person_id == kept.pk
    moved = SafetyCheck.history.filter(id=check.pk).first()
    assert moved.history_user.username == "chief_welfare" and moved.history_change_reason == "merge: 同一人物"
    # The check given up is deleted with a history row saying why; its earlier rows stay.
    dropped = SafetyCheck.history.filter(disaster_id=both.pk, person_id=kept.pk, history_type="-").get()
    assert dropped.history_change_reason == "merge: 同一人物"


def test_merge_keeps_the_kept_records_check_when_it_is_the_later(pair, users, fresh):
    from django.utils import timezone

    from referral_engine.accounts.models import District
    from referral_engine.disasters.models import SafetyCheck
    from referral_engine.disasters.services import disaster_open

    merged, kept = pair["first"].person, pair["second"].person
    Person.objects.filter(pk__in=[merged.pk, kept.pk]).update(
        flags=["evacuation_support"], district=District.objects.get(code="kawakami")
    )
    both = disaster_open(actor=fresh(users["chief_bosai"]), name="地震", kind="earthquake", district_codes=["kawakami"])
    SafetyCheck.objects.filter(disaster=both, person=kept).update(status="evacuated", updated_at=timezone.now())

    person_merge(person_id=merged.pk, into_id=kept.pk, actor=fresh(users["chief_welfare"]), reason="同一人物")

    assert list(SafetyCheck.objects.filter(disaster=both).values_list("person_id", "status")) == [
        (kept.pk, "evacuated")
    ]
