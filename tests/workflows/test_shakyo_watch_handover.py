"""The shakyo's "hand to the district's watching-over" stage acts (issue 19 item 4): it makes the watch
request from its record when the person's consent names their district, or asks for one."""

from __future__ import annotations

import pytest

from referral_engine.cases.choices import Basis, WatchState
from referral_engine.cases.models import WatchRequest
from referral_engine.cases.services.records import consent_record, stage_record_update
from referral_engine.cases.services.referrals import referral_transition
from referral_engine.notifications.models import Notification

pytestmark = pytest.mark.django_db

TO_SHAKYO = [
    {"to_department": "shakyo", "basis": "support_meeting", "reason": "サロン参加", "justification": "支援会議で合意"}
]


@pytest.fixture
def shakyo_referral(open_case, users, fresh):
    case = open_case("worker_welfare", referrals=TO_SHAKYO)
    referral = case.referrals.get()
    referral_transition(referral_id=referral.pk, name="accept", actor=fresh(users["worker_shakyo"]))
    referral_transition(referral_id=referral.pk, name="agree_support", actor=fresh(users["worker_shakyo"]))
    stage_record_update(
        referral_id=referral.pk,
        actor=fresh(users["worker_shakyo"]),
        data={"watch_what_to_watch": "サロンに来ない週は声かけを", "watch_until": "2099-01-01"},
    )
    return referral


def test_with_a_consent_naming_the_district_the_stage_makes_the_watch_request(shakyo_referral, users, fresh):
    case = shakyo_referral.case
    consent = consent_record(
        case_id=case.pk,
        actor=fresh(users["worker_welfare"]),
        recipients=["shakyo", "district:kawakami"],
        purposes="見守り",
        method="written",
    )
    stage_record_update(referral_id=shakyo_referral.pk, actor=fresh(users["worker_shakyo"]), data={"watch_until": None})
    referral_transition(
        referral_id=shakyo_referral.pk, name="hand_to_community_watch", actor=fresh(users["worker_shakyo"])
    )
    watch = WatchRequest.objects.get(case=case)
    assert watch.district.code == "kawakami" and watch.state == WatchState.OPEN
    assert watch.basis == Basis.CONSENT and watch.consent == consent
    assert watch.department.code == "shakyo" and watch.requested_by == users["worker_shakyo"]
    assert watch.what_to_watch == "サロンに来ない週は声かけを"
    assert not Notification.objects.filter(kind="watch_handover").exists()


def test_without_consent_it_asks_the_case_for_one(shakyo_referral, users, fresh, client):
    case = shakyo_referral.case
    referral_transition(
        referral_id=shakyo_referral.pk, name="hand_to_community_watch", actor=fresh(users["worker_shakyo"])
    )
    assert not WatchRequest.objects.exists()
    asked = Notification.objects.filter(kind="watch_handover", case_id=case.pk)
    assert users["worker_welfare"] in {n.recipient for n in asked}
    client.force_login(users["worker_welfare"])
    assert "地区の見守りへの引継ぎを求められています" in client.get(f"/cases/{case.pk}/").content.decode()
