"""My work's setbacks from the stored `Referral.setback_open` (migration cases/0010), which the database
keeps: the same answers as the definition it replaces — declined or returned, on an open case, and no
event of an acting kind on the case since — step by step through declines, returns, notes, a stale
save, a new referral and a closure, on PostgreSQL and SQLite alike."""

from __future__ import annotations

import importlib

import pytest
from django.db.models import Exists, OuterRef

from referral_engine.cases import selectors, work
from referral_engine.cases.choices import CaseState
from referral_engine.cases.models import CaseEvent, Referral
from referral_engine.cases.services.case_state import case_transition
from referral_engine.cases.services.records import activity_add
from referral_engine.cases.services.referrals import referral_create, referral_transition

pytestmark = pytest.mark.django_db

TO_LONGEVITY = [{"to_department": "longevity_support", "basis": "internal_use", "reason": "介護の相談"}]
TO_HEALTH = [{"to_department": "health_promotion", "basis": "internal_use", "reason": "健康相談"}]


def _defined(user) -> set[int]:
    """The definition the flag replaces (cases.work.setbacks before cases/0010), as the oracle."""
    acted = CaseEvent.objects.filter(
        case_id=OuterRef("case_id"), kind__in=work.ACTED_KINDS, created_at__gt=OuterRef("updated_at")
    )
    p = work.policy.principal(user)
    concerned = work.Q(requested_by_id=p.user_id) | work.Q(case__lead_worker_id=p.user_id)
    if p.supervisor_department_ids:
        concerned |= work.Q(case__lead_department_id__in=p.supervisor_department_ids)
    rows = (
        selectors.referrals_visible_to(user)
        .filter(concerned, state__in=work.SETBACK_STATES)
        .exclude(case__state=CaseState.CLOSED)
        .filter(~Exists(acted))
    )
    return set(rows.values_list("pk", flat=True))


def _stored(user) -> set[int]:
    return set(work.setbacks(user).values_list("pk", flat=True))


def test_the_migrations_kinds_and_states_are_my_works():
    migration = importlib.import_module("referral_engine.cases.migrations.0010_referral_setback_open")
    assert set(migration.ACTED_KINDS) == {str(k) for k in work.ACTED_KINDS}
    assert set(migration.SETBACK_STATES) == {str(s) for s in work.SETBACK_STATES}


def test_the_flag_follows_declines_returns_acts_and_closures(open_case, users, fresh):
    ww, chief = users["worker_welfare"], users["chief_welfare"]

    def check(expected: set[int], *, not_defined: set[int] = frozenset()) -> None:
        for user in (ww, chief):
            assert _stored(fresh(user)) == _defined(fresh(user)) - not_defined, user.username
        assert _stored(fresh(ww)) == expected

    declined = open_case("worker_welfare", referrals=TO_LONGEVITY).referrals.get()
    returned = open_case("worker_welfare", referrals=TO_HEALTH).referrals.get()
    closing = open_case("worker_welfare", referrals=TO_LONGEVITY).referrals.get()
    check(set())

    referral_transition(
        referral_id=declined.pk, name="decline", actor=fresh(users["worker_longevity"]), reason="対象外"
    )
    referral_transition(referral_id=returned.pk, name="accept", actor=fresh(users["worker_health"]))
    referral_transition(referral_id=returned.pk, name="return", actor=fresh(users["worker_health"]), reason="対象外")
    referral_transition(referral_id=closing.pk, name="decline", actor=fresh(users["worker_longevity"]), reason="対象外")
    check({declined.pk, returned.pk, closing.pk})

    # A note on the declined one's case: somebody acted.
    stale = Referral.objects.get(pk=declined.pk)  # loaded while its flag is set
    activity_add(case_id=declined.case_id, actor=fresh(ww), kind="note", body="本人に電話した")
    check({returned.pk, closing.pk})
    # A full save of an instance that still holds the old flag does not set it again. (The old
    # definition counted acts after the referral's last save, so any save of it — a clock's, an
    # assignment's — brought the setback back: a difference meant.)
    assert stale.setback_open is True
    stale.save()
    assert Referral.objects.get(pk=declined.pk).setback_open is False
    check({returned.pk, closing.pk}, not_defined={declined.pk})

    # A new referral on the returned one's case.
    referral_create(
        case_id=returned.case_id,
        actor=fresh(ww),
        to_department="longevity_support",
        basis="internal_use",
        reason="介護",
    )
    check({closing.pk}, not_defined={declined.pk})

    # The last case closed: no setback on a closed case.
    case_transition(case_id=closing.case_id, name="close", actor=fresh(ww), closure_reason="resolved")
    check(set(), not_defined={declined.pk})
    assert not Referral.objects.filter(setback_open=True).exists()  # the closure itself acted
