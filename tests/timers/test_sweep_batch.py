"""The sweep writes a batch in bulk (issue 10): who each level tells, that the rows a firing writes do
not grow with a department's caseworkers, that a batch costs a fixed number of queries, that the bulk
rows carry the same evidence as one firing did, and that "once" holds when a level was recorded
meanwhile (the unique constraint, through the per-row fallback)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from referral_engine.accounts.roles import Role
from referral_engine.cases.models import Case, CaseEvent, Referral
from referral_engine.notifications.models import Notification
from referral_engine.timers import firing
from referral_engine.timers.models import Escalation, Timer
from referral_engine.timers.sweep import timers_sweep_due

TO_HEALTH = {"to_department": "health_promotion", "basis": "internal_use", "reason": "家庭訪問の依頼"}
TO_LONGEVITY = {"to_department": "longevity_support", "basis": "internal_use", "reason": "介護の確認"}


def _handoff_timer(referral: Referral) -> Timer:
    return Timer.objects.get(object_key=f"referral:{referral.pk}", rule__startswith="handoff")


def _told(escalation: Escalation) -> set[str]:
    return set(Notification.objects.filter(escalation_id=escalation.pk).values_list("recipient__username", flat=True))


def _add_caseworkers(org, department: str, count: int) -> None:
    from referral_engine.accounts.services import user_create

    for n in range(count):
        user_create(
            username=f"extra_{department}_{n}",
            password=None,
            email=f"extra_{department}_{n}@city.tsukumi.example",
            role=Role.CASEWORKER,
            department=org[department],
        )


def test_l1_of_a_handoff_tells_the_supervisors_and_the_assigned_worker_not_every_caseworker(timers_world):
    from referral_engine.cases.services.referrals import referral_assign

    users, fresh = timers_world["users"], timers_world["fresh"]
    _add_caseworkers(timers_world["org"], "health_promotion", 3)
    referral = timers_world["open_case"](referrals=[TO_HEALTH]).referrals.get()
    referral_assign(referral_id=referral.pk, actor=fresh(users["chief_health"]), worker_id=users["worker_health"].pk)

    timers_sweep_due(now=_handoff_timer(referral).l1_at)

    l1 = Escalation.objects.get(referral=referral, level=1)
    assert _told(l1) == {"chief_health", "worker_health"}


def test_l1_of_a_stall_tells_the_lead_departments_supervisors_and_the_lead_worker(timers_world):
    case = timers_world["open_case"]("worker_welfare")
    assert case.lead_worker.username == "worker_welfare"
    stall = Timer.objects.get(object_key=f"case:{case.pk}")

    assert timers_sweep_due(now=stall.l1_at).by_level == {1: 1}

    assert _told(Escalation.objects.get(case=case, level=1)) == {"chief_welfare", "worker_welfare"}


def test_the_rows_an_escalation_writes_do_not_grow_with_the_caseworkers(timers_world):
    def rows_of_one_l1() -> int:
        referral = timers_world["open_case"](referrals=[TO_HEALTH]).referrals.get()
        timers_sweep_due(now=_handoff_timer(referral).l1_at)
        return Notification.objects.filter(escalation_id=Escalation.objects.get(referral=referral).pk).count()

    before = rows_of_one_l1()
    _add_caseworkers(timers_world["org"], "health_promotion", 10)

    assert rows_of_one_l1() == before == 1  # chief_health


def test_a_batch_costs_the_same_queries_whatever_its_size(timers_world):
    def sweep_queries(cases: int) -> int:
        referrals = [timers_world["open_case"](referrals=[TO_HEALTH]).referrals.get() for _ in range(cases)]
        now = max(_handoff_timer(r).l1_at for r in referrals)
        with CaptureQueriesContext(connection) as ctx:
            result = timers_sweep_due(now=now)
        assert result.by_level == {1: cases}
        return len(ctx.captured_queries)

    sweep_queries(1)  # warm: the sweep status row, the process caches
    assert sweep_queries(2) == sweep_queries(7) <= 22


def test_two_l3_of_one_case_in_one_batch_flag_it_once_with_the_evidence_of_each(timers_world):
    case = timers_world["open_case"](referrals=[TO_HEALTH, TO_LONGEVITY])
    timers = [_handoff_timer(r) for r in case.referrals.all()]

    result = timers_sweep_due(now=max(t.l3_at for t in timers))

    assert result.by_level == {3: 2}
    escalations = list(Escalation.objects.filter(case=case).order_by("pk"))
    assert [e.level for e in escalations] == [3, 3]
    for escalation in escalations:
        history = escalation.history.get()
        assert (history.history_type, history.history_user.username) == ("+", "system")
        assert history.history_change_reason == f"L3 {escalation.rule}"
        event = CaseEvent.objects.get(kind="escalation", data__escalation_id=escalation.pk)
        assert (event.name, event.actor.username, event.referral_id) == ("L3", "system", escalation.referral_id)
        assert _told(escalation) == {"chief_welfare"}
    case.refresh_from_db()
    assert case.is_gap
    flagged = [h for h in case.history.all() if h.history_change_reason.startswith("はざま")]
    assert len(flagged) == 1 and flagged[0].is_gap and flagged[0].history_user.username == "system"
    assert CaseEvent.objects.filter(case=case, kind="gap_flagged").count() == 1
    for timer in timers:
        timer.refresh_from_db()
        assert (timer.fired_level, timer.next_fire_at) == (3, None)
        last = timer.history.first()
        assert (last.history_type, last.history_change_reason, last.fired_level) == ("~", "L3 fired", 3)


@pytest.mark.parametrize("read_first", [True, False], ids=["read-before-insert", "constraint-fallback"])
def test_a_level_recorded_meanwhile_fires_once(timers_world, monkeypatch, read_first):
    """Level 1 of A is already recorded when the sweep claims A again (its timer set back, as a
    concurrent writer could leave it): A counts as already fired, B fires, nothing is doubled. Without
    the read before the INSERT, the unique constraint fails the bulk INSERT and the per-row fallback
    sorts it out."""
    first = timers_world["open_case"](referrals=[TO_HEALTH]).referrals.get()
    timer_a = _handoff_timer(first)
    timers_sweep_due(now=timer_a.l1_at)
    recorded = Escalation.objects.get(referral=first)
    told_before = Notification.objects.filter(escalation_id=recorded.pk).count()
    Timer.objects.filter(pk=timer_a.pk).update(fired_level=0, next_fire_at=timer_a.l1_at)  # set back (test only)
    second = timers_world["open_case"](referrals=[TO_HEALTH]).referrals.get()
    timer_b = _handoff_timer(second)
    if not read_first:
        monkeypatch.setattr(firing, "_recorded_keys", lambda firings: set())

    result = timers_sweep_due(now=timer_b.l1_at)

    assert (result.fired, result.already_fired) == (1, 1)
    assert Escalation.objects.filter(referral=first).count() == 1
    assert Escalation.objects.filter(referral=second, level=1).count() == 1
    assert CaseEvent.objects.filter(referral=first, kind="escalation").count() == 1
    assert CaseEvent.objects.filter(referral=second, kind="escalation").count() == 1
    assert Notification.objects.filter(escalation_id=recorded.pk).count() == told_before
    assert Notification.objects.filter(escalation_id__isnull=False).exclude(escalation_id=recorded.pk).exists()
    timer_a.refresh_from_db()
    assert (timer_a.fired_level, timer_a.next_fire_at) == (1, timer_a.due_at)


def test_a_reschedule_that_moves_nothing_leaves_no_history(timers_world):
    """Only timers whose level or next time changed are written (as `save_with_history` would)."""
    referral = timers_world["open_case"](referrals=[TO_HEALTH]).referrals.get()
    timer = _handoff_timer(referral)
    rows = timer.history.count()

    timers_sweep_due(now=timer.l1_at - timedelta(minutes=1))

    assert timer.history.count() == rows
    assert not Case.objects.filter(is_gap=True).exists()
