"""Intake → refer to two bodies → one accepts, one declines → the requester is told and the
timeline tells the story, end to end through the services."""

from referral_engine.cases.models import CaseEvent
from referral_engine.cases.selectors import case_timeline
from referral_engine.cases.services.intake import case_open
from referral_engine.cases.services.referrals import referral_transition
from referral_engine.notifications.models import Notification


def test_intake_two_referrals_accept_and_decline(users, fresh):
    desk = users["desk_welfare"]
    case = case_open(
        actor=fresh(desk),
        channel="counter",
        summary="夫を亡くしてから外出せず、食事も不規則。",
        needs=["isolation", "health", "care"],
        risk="high",
        person={
            "family_name": "津久見",
            "given_name": "ハル",
            "family_name_kana": "ツクミ",
            "given_name_kana": "ハル",
            "birth_date": "1940-02-29",
            "district": "aoe",
        },
        referrals=[
            {"to_department": "health_promotion", "basis": "internal_use", "reason": "保健師の訪問"},
            {"to_department": "longevity_support", "basis": "internal_use", "reason": "介護認定の相談"},
        ],
        first_note="娘は県外在住。",
    )
    assert case.number.startswith("R")
    health, longevity = (case.referrals.get(to_department__code=c) for c in ("health_promotion", "longevity_support"))

    referral_transition(referral_id=health.pk, name="accept", actor=fresh(users["worker_health"]))
    referral_transition(
        referral_id=longevity.pk,
        name="decline",
        actor=fresh(users["worker_longevity"]),
        reason="要介護状態ではないため",
    )

    told = Notification.objects.filter(recipient=desk, case_id=case.pk).values_list("kind", flat=True)
    assert set(told) == {"referral_accept", "referral_decline"}
    story = [(e.kind, e.name, e.referral.to_department.code if e.referral else None) for e in case_timeline(case)]
    assert story == [
        ("case_opened", "open", None),
        ("activity", "note", None),
        ("referral_requested", "request", "health_promotion"),
        ("disclosure", "internal_use", "health_promotion"),
        ("referral_requested", "request", "longevity_support"),
        ("disclosure", "internal_use", "longevity_support"),
        ("referral_transition", "accept", "health_promotion"),
        ("referral_transition", "decline", "longevity_support"),
    ]
    assert CaseEvent.objects.get(case=case, name="decline").reason == "要介護状態ではないため"
