"""Races on PostgreSQL (select_for_update is a no-op on SQLite): one accept wins, numbers never repeat."""

import threading

import pytest
from django.db import close_old_connections, connection

from referral_engine.cases.models import Case, CaseEvent, Referral
from referral_engine.cases.services.intake import case_open
from referral_engine.cases.services.referrals import referral_transition
from referral_engine.errors import DomainError, IllegalTransition

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _in_threads(n, target):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run(i):
        try:
            barrier.wait()
            results.append(target(i))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results, errors


def test_ten_threads_accepting_the_same_referral(users, fresh):
    case = case_open(
        actor=fresh(users["worker_welfare"]),
        summary="訪問依頼",
        person={"family_name": "川上", "given_name": "一"},
        confirm_new_person=True,
        referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問"}],
    )
    referral = case.referrals.get()
    history_before = referral.history.count()

    results, errors = _in_threads(
        10, lambda i: referral_transition(referral_id=referral.pk, name="accept", actor=fresh(users["worker_health"]))
    )

    assert len(results) == 1
    assert len(errors) == 9 and all(isinstance(e, IllegalTransition) for e in errors), errors
    assert all(e.status == 409 and "accept" not in e.allowed for e in errors)
    assert Referral.objects.get(pk=referral.pk).state == "accepted"
    assert CaseEvent.objects.filter(referral=referral, name="accept").count() == 1
    assert referral.history.count() == history_before + 1


def test_twenty_concurrent_intakes_get_distinct_numbers(users, fresh):
    def intake(i):
        return case_open(
            actor=fresh(users["desk_welfare"]),
            summary=f"相談{i}",
            person={"family_name": "同時", "given_name": f"{i}"},
            confirm_new_person=True,
        ).number

    results, errors = _in_threads(20, intake)
    assert not [e for e in errors if not isinstance(e, DomainError)], errors
    assert not errors
    assert len(set(results)) == 20
    assert Case.objects.count() == 20
