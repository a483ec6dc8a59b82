"""Escalation timers end to end through the case services: levels fire once, conditions clearing
resolve them, hold and resume, the runaround rule, acknowledging, the calendar edits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from referral_engine.cases.models import Case, CaseEvent, Referral
from referral_engine.errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from referral_engine.notifications.models import Notification
from referral_engine.timers import calendar
from referral_engine.timers.models import ClosedDay, Escalation, EscalationPolicy, Timer
from referral_engine.timers.selectors import dashboard_data, escalations_visible_to
from referral_engine.timers.services import (
    closed_day_delete,
    closed_day_save,
    escalation_acknowledge,
    timers_case_changed,
)
from referral_engine.timers.sweep import timers_sweep_due

TO_HEALTH = {"to_department": "health_promotion", "basis": "internal_use", "reason": "家庭訪問の依頼"}


def _handoff_timer(referral: Referral) -> Timer:
    return Timer.objects.get(object_key=f"referral:{referral.pk}", rule__startswith="handoff")


def _referral(case: Case) -> Referral:
    return case.referrals.get()


def _transition(world, referral, name, actor, reason=""):
    from referral_engine.cases.services.referrals import referral_transition

    return referral_transition(
        referral_id=referral.pk, name=name, actor=world["fresh"](world["users"][actor]), reason=reason
    )


def test_handoff_deadline_is_the_office_day_rule(timers_world):
    case = timers_world["open_case"](referrals=[TO_HEALTH])
    referral = _referral(case)
    timer = _handoff_timer(referral)

    assert timer.due_at == calendar.office_deadline(referral.created_at, 2)
    assert referral.due_at == timer.due_at
    assert timer.l1_at == timer.started_at + (timer.due_at - timer.started_at) / 2
    assert timer.l3_at == calendar.office_days_later(timer.due_at, 2)
    assert timer.next_fire_at == timer.l1_at


def test_urgent_handoff_is_four_hours_round_the_clock(timers_world):
    case = timers_world["open_case"](referrals=[{**TO_HEALTH, "urgent": True}])
    referral = _referral(case)
    timer = _handoff_timer(referral)

    assert timer.rule == "handoff_urgent"
    assert referral.due_at == timer.due_at == timer.started_at + timedelta(hours=4)


def test_each_level_fires_once_with_its_evidence(timers_world):
    case = timers_world["open_case"](referrals=[TO_HEALTH])
    referral = _referral(case)
    timer = _handoff_timer(referral)

    # L1 at half the time: the receiving department — its supervisors (nobody holds it yet; its
    # caseworkers see the waiting handoff in their inbox, not a notification each).
    first = timers_sweep_due(now=timer.l1_at)
    again = timers_sweep_due(now=timer.l1_at)
    assert (first.fired, again.fired) == (1, 0)
    l1 = Escalation.objects.get(object_key=f"referral:{referral.pk}", level=1)
    assert (l1.rule, l1.department.code, l1.state) == ("handoff", "health_promotion", "open")
    event = CaseEvent.objects.get(case=case, kind="escalation", name="L1")
    assert event.actor.username == "system" and event.data["escalation_id"] == l1.pk
    assert set(Notification.objects.filter(escalation_id=l1.pk).values_list("recipient__username", flat=True)) == {
        "chief_health",
    }
    assert l1.history.first().history_user.username == "system"

    # L2 at the deadline: its supervisor and the case lead.
    assert timers_sweep_due(now=timer.due_at).by_level == {2: 1}
    l2 = Escalation.objects.get(object_key=f"referral:{referral.pk}", level=2)
    lead = case.lead_worker.username if case.lead_worker_id else "chief_welfare"
    assert set(Notification.objects.filter(escalation_id=l2.pk).values_list("recipient__username", flat=True)) == {
        "chief_health",
        lead,
    }

    # L3 two office days later: the desk supervisor, and the case is はざま.
    assert timers_sweep_due(now=timer.l3_at).by_level == {3: 1}
    l3 = Escalation.objects.get(object_key=f"referral:{referral.pk}", level=3)
    assert list(Notification.objects.filter(escalation_id=l3.pk).values_list("recipient__username", flat=True)) == [
        "chief_welfare"
    ]
    case.refresh_from_db()
    assert case.is_gap
    assert case.history.first().history_change_reason.startswith("はざま")
    assert CaseEvent.objects.filter(case=case, kind="gap_flagged").count() == 1

    # Nothing more for the handoff, however late (the case's own stall clock runs on).
    timers_sweep_due(now=timer.l3_at + timedelta(days=30))
    assert Escalation.objects.filter(object_key=f"referral:{referral.pk}").count() == 3
    assert CaseEvent.objects.filter(referral=referral, kind="escalation").count() == 3


def test_a_late_sweep_fires_only_the_highest_level_due(timers_world):
    case = timers_world["open_case"](referrals=[TO_HEALTH])
    timer = _handoff_timer(_referral(case))

    result = timers_sweep_due(now=timer.due_at + timedelta(minutes=1))

    assert result.by_level == {2: 1}
    assert list(Escalation.objects.values_list("level", flat=True)) == [2]
    timer.refresh_from_db()
    assert (timer.fired_level, timer.next_fire_at) == (2, timer.l3_at)


def test_accepting_the_handoff_resolves_its_escalation(timers_world):
    case = timers_world["open_case"](referrals=[TO_HEALTH])
    referral = _referral(case)
    timer = _handoff_timer(referral)
    timers_sweep_due(now=timer.due_at)
    escalation = Escalation.objects.get(referral=referral)

    _transition(timers_world, referral, "accept", "worker_health")

    escalation.refresh_from_db()
    timer.refresh_from_db()
    assert escalation.state == Escalation.State.RESOLVED and escalation.resolved_at is not None
    assert not timer.is_open and timer.next_fire_at is None
    assert CaseEvent.objects.filter(case=case, kind="escalation", name="resolved").count() == 1
    assert escalation.history.first().history_change_reason.startswith("resolved")
    timers_sweep_due(now=timer.l3_at)
    assert list(Escalation.objects.filter(rule="handoff").values_list("level", flat=True)) == [2]


def test_a_touch_resolves_the_stall_escalation_and_starts_a_new_period(timers_world):
    from referral_engine.cases.services.records import activity_add

    case = timers_world["open_case"]("worker_welfare")
    stall = Timer.objects.get(object_key=f"case:{case.pk}", rule="stall_normal")
    assert case.stall_due_at == stall.due_at == case.last_touched_at + timedelta(days=14)
    timers_sweep_due(now=stall.due_at)
    escalation = Escalation.objects.get(object_key=f"case:{case.pk}")
    assert escalation.level == 2

    activity_add(
        case_id=case.pk, actor=timers_world["fresh"](timers_world["users"]["worker_welfare"]), kind="call", body="電話"
    )

    escalation.refresh_from_db()
    stall.refresh_from_db()
    case.refresh_from_db()
    assert escalation.state == Escalation.State.RESOLVED
    assert stall.is_open and stall.fired_level == 0 and stall.cycle >= 2
    assert case.stall_due_at == stall.due_at == case.last_touched_at + timedelta(days=14)
    # The new period escalates again, under its own cycle.
    timers_sweep_due(now=stall.due_at)
    assert Escalation.objects.filter(object_key=f"case:{case.pk}", level=2, state="open").count() == 1


def test_hold_and_resume_move_the_stall_deadline_by_the_time_on_hold(timers_world):
    """The service path: hold and resume are transitions (touches); the hold lasted three days."""
    from referral_engine.cases.services.case_state import case_transition

    worker = timers_world["fresh"](timers_world["users"]["worker_welfare"])
    case = timers_world["open_case"]("worker_welfare")
    case_transition(case_id=case.pk, name="start_assessment", actor=worker)
    case = case_transition(case_id=case.pk, name="hold", actor=worker, reason="本人の希望で保留")
    assert case.stall_due_at is None
    assert not Timer.objects.get(object_key=f"case:{case.pk}").is_open
    due_when_held = case.last_touched_at + timedelta(days=14)
    # Three days pass on hold (the test moves the clock of the hold back instead of waiting).
    three_days = timedelta(days=3)
    Case.objects.filter(pk=case.pk).update(
        hold_started_at=case.hold_started_at - three_days, last_touched_at=case.last_touched_at - three_days
    )
    due_when_held -= three_days

    case = case_transition(case_id=case.pk, name="resume", actor=worker)

    assert case.on_hold_seconds >= three_days.total_seconds()
    moved = case.stall_due_at - due_when_held
    assert three_days <= moved < three_days + timedelta(minutes=1)


def test_time_on_hold_since_the_last_touch_extends_the_stall_clock(timers_world):
    """The rule itself: last touch + N days + time on hold since that touch (a resume that is not a
    touch keeps the period and moves its deadline)."""
    case = timers_world["open_case"]("worker_welfare")
    touched = case.last_touched_at
    case.__dict__["state"] = "on_hold"  # an in-memory stand-in for a hold that is not a touch
    assert timers_case_changed(case=case) == ["stall_due_at"]
    assert case.stall_due_at is None
    case.__dict__["state"] = "assessing"
    case.on_hold_seconds += 5 * 3600

    assert timers_case_changed(case=case) == ["stall_due_at"]
    assert case.stall_due_at == touched + timedelta(days=14, hours=5)
    timer = Timer.objects.get(object_key=f"case:{case.pk}")
    assert timer.is_open and timer.started_at == touched


def test_two_declines_make_a_gap_case_for_the_desk_supervisor(timers_world):
    users, fresh = timers_world["users"], timers_world["fresh"]
    case = timers_world["open_case"](
        referrals=[TO_HEALTH, {"to_department": "longevity_support", "basis": "internal_use", "reason": "介護"}]
    )
    health = case.referrals.get(to_department__code="health_promotion")
    longevity = case.referrals.get(to_department__code="longevity_support")

    _transition(timers_world, health, "decline", "worker_health", reason="対象外")
    case.refresh_from_db()
    assert not case.is_gap
    _transition(timers_world, longevity, "decline", "worker_longevity", reason="対象外")

    case.refresh_from_db()
    assert case.is_gap
    runaround = Escalation.objects.get(case=case, rule="runaround")
    assert (runaround.level, runaround.department.code, runaround.state) == (3, "social_welfare", "open")
    assert CaseEvent.objects.filter(case=case, kind="escalation", name="L3").exists()
    assert Notification.objects.filter(escalation_id=runaround.pk, recipient__username="chief_welfare").exists()
    data = dashboard_data(user=fresh(users["chief_welfare"]))
    assert case.pk in [c["id"] for c in data["gap_cases"]]
    assert data["open_escalations_by_level"]["L3"] == 1
    # A department supervisor sees its own department's part only.
    assert case.pk not in [c["id"] for c in dashboard_data(user=fresh(users["chief_bosai"]))["gap_cases"]]


def test_the_runaround_flags_the_gap_on_the_timeline(timers_world):
    """The runaround fires at once, from the decline (not from a sweep): after the second decline the
    case is はざま, with its history row and a gap_flagged event that names the runaround escalation."""
    case = timers_world["open_case"](
        referrals=[TO_HEALTH, {"to_department": "longevity_support", "basis": "internal_use", "reason": "介護"}]
    )
    _transition(
        timers_world, case.referrals.get(to_department__code="health_promotion"), "decline", "worker_health", "対象外"
    )
    assert not CaseEvent.objects.filter(case=case, kind="gap_flagged").exists()

    _transition(
        timers_world,
        case.referrals.get(to_department__code="longevity_support"),
        "decline",
        "worker_longevity",
        "対象外",
    )

    case.refresh_from_db()
    runaround = Escalation.objects.get(case=case, rule="runaround")
    gap = CaseEvent.objects.get(case=case, kind="gap_flagged")
    assert case.is_gap
    assert (gap.name, gap.actor.username, gap.data) == (
        "gap",
        "system",
        {"escalation_id": runaround.pk, "rule": "runaround"},
    )
    assert gap.reason.startswith("たらい回し")
    flagged = case.history.filter(history_change_reason="はざま: L3 runaround").get()
    assert flagged.is_gap and flagged.history_user.username == "system"


def test_acknowledge_permissions_and_states(timers_world):
    users, fresh = timers_world["users"], timers_world["fresh"]
    case = timers_world["open_case"](referrals=[TO_HEALTH])
    timer = _handoff_timer(_referral(case))
    timers_sweep_due(now=timer.due_at)
    escalation = Escalation.objects.get(level=2)

    with pytest.raises(NotFound):
        escalation_acknowledge(escalation_id=escalation.pk, actor=fresh(users["chief_longevity"]), note="見ました")
    with pytest.raises(Forbidden):
        escalation_acknowledge(escalation_id=escalation.pk, actor=fresh(users["worker_health"]), note="見ました")
    with pytest.raises(InvalidInput):
        escalation_acknowledge(escalation_id=escalation.pk, actor=fresh(users["chief_health"]), note=" ")
    done = escalation_acknowledge(
        escalation_id=escalation.pk, actor=fresh(users["chief_health"]), note="本日中に訪問を調整"
    )
    assert (done.state, done.acknowledged_by.username, done.note) == (
        "acknowledged",
        "chief_health",
        "本日中に訪問を調整",
    )
    assert done.history.first().history_user.username == "chief_health"
    assert CaseEvent.objects.filter(case=case, kind="escalation", name="acknowledged").exists()
    with pytest.raises(IllegalTransition):
        escalation_acknowledge(escalation_id=escalation.pk, actor=fresh(users["chief_welfare"]), note="再確認")
    assert escalations_visible_to(fresh(users["auditor"])).count() == 1
    assert escalations_visible_to(fresh(users["minsei_aoe"])).count() == 0


def test_editing_the_calendar_recomputes_open_deadlines_with_a_reason(timers_world, django_capture_on_commit_callbacks):
    admin = timers_world["users"]["admin"]
    case = timers_world["open_case"](referrals=[TO_HEALTH])
    referral = _referral(case)
    due = referral.due_at
    due_day = timezone.localtime(due, calendar.office_tz()).date()

    closed = ClosedDay(date=due_day, name="臨時休庁", source=ClosedDay.Source.MANUAL)
    with django_capture_on_commit_callbacks(execute=True):
        closed_day_save(closed_day=closed, actor=admin)

    referral.refresh_from_db()
    assert referral.due_at == calendar.close_of_day(calendar.next_office_day(due_day))
    assert referral.history.first().history_change_reason.startswith("recompute: 閉庁日")
    assert _handoff_timer(referral).history.first().history_change_reason.startswith("recompute")

    with django_capture_on_commit_callbacks(execute=True):
        closed_day_delete(closed_day=ClosedDay.objects.get(date=due_day), actor=admin)
    referral.refresh_from_db()
    assert referral.due_at == due


def test_the_closed_day_cache_follows_the_table(calendar_seeded):
    day = timezone.localdate() + timedelta(days=400)
    while day.weekday() >= 5 or day in calendar.closed_dates():
        day += timedelta(days=1)
    assert calendar.is_office_day(day)
    ClosedDay.objects.create(date=day, name="臨時")
    calendar.invalidate_cache()
    assert not calendar.is_office_day(day)


def test_seed_commands_are_idempotent(db, org, capsys):
    call_command("seed_calendar", "--from-year", "2026", "--to-year", "2027")
    count = ClosedDay.objects.count()
    call_command("seed_calendar", "--from-year", "2026", "--to-year", "2027")
    assert ClosedDay.objects.count() == count
    assert ClosedDay.objects.filter(date="2026-12-29", source="year_end").exists()
    assert ClosedDay.objects.get(date="2027-01-01").source == "holiday"
    assert ClosedDay.objects.filter(date="2026-09-22").exists()  # 国民の休日

    call_command("seed_policies")
    call_command("seed_policies")
    rules = dict(EscalationPolicy.objects.values_list("rule", "office_days"))
    assert rules["handoff"] == 2
    assert EscalationPolicy.objects.get(rule="handoff_urgent").hours == 4
    assert {
        r: EscalationPolicy.objects.get(rule=r).calendar_days
        for r in ("stall_urgent", "stall_high", "stall_normal", "stall_low")
    } == {
        "stall_urgent": 1,
        "stall_high": 3,
        "stall_normal": 14,
        "stall_low": 14,
    }
    assert any(r.startswith("stage:health_promotion:") for r in rules)


def test_an_admin_deletion_survives_reseeding(db, org):
    call_command("seed_calendar", "--from-year", "2026", "--to-year", "2026")
    closed_day_delete(closed_day=ClosedDay.objects.get(date="2026-12-29"), actor=None)
    call_command("seed_calendar", "--from-year", "2026", "--to-year", "2026")
    assert not ClosedDay.objects.filter(date="2026-12-29").exists()


def test_sweep_command_prints_what_it_did(timers_world, capsys):
    case = timers_world["open_case"](referrals=[TO_HEALTH])
    timer = _handoff_timer(_referral(case))

    call_command("sweep_timers", "--now", timer.due_at.isoformat())

    out = capsys.readouterr().out
    assert "fired 1 (L2=1)" in out
    call_command("sweep_timers", "--now", timer.due_at.isoformat(), "--json")
    assert '"fired": 0' in capsys.readouterr().out


def test_the_admin_edits_the_calendar_through_the_service(timers_world, client, django_capture_on_commit_callbacks):
    admin = timers_world["users"]["admin"]
    referral = _referral(timers_world["open_case"](referrals=[TO_HEALTH]))
    due_day = timezone.localtime(referral.due_at, calendar.office_tz()).date()
    client.force_login(admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/timers/closedday/add/", {"date": due_day.isoformat(), "name": "臨時休庁", "source": "manual"}
        )

    assert response.status_code == 302
    referral.refresh_from_db()
    assert timezone.localtime(referral.due_at, calendar.office_tz()).date() > due_day
    assert ClosedDay.history.filter(date=due_day).first().history_user == admin


def test_a_sweep_before_the_organisation_exists_does_nothing(db):
    assert timers_sweep_due().fired == 0


def test_health_reports_the_last_sweep(db, org):
    from referral_engine.timers.health import last_sweep

    assert last_sweep()["ok"] is False
    timers_sweep_due()
    status = last_sweep()
    assert status["ok"] is True and status["age_seconds"] < 5 and status["last_success"]


def test_a_switched_off_rule_starts_no_clock(timers_world):
    EscalationPolicy.objects.filter(rule="handoff").update(is_active=False)
    case = timers_world["open_case"](referrals=[TO_HEALTH])
    assert not Timer.objects.filter(object_key=f"referral:{_referral(case).pk}").exists()


def test_dashboard_runs_a_fixed_number_of_queries(timers_world, django_assert_max_num_queries):
    users, fresh = timers_world["users"], timers_world["fresh"]

    def measure() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        user = fresh(users["chief_welfare"])
        with CaptureQueriesContext(connection) as ctx:
            dashboard_data(user=user, now=timezone.now() + timedelta(days=20))
        return len(ctx.captured_queries)

    timers_world["open_case"](referrals=[TO_HEALTH])
    small = measure()
    for _ in range(4):
        timers_world["open_case"](
            referrals=[TO_HEALTH, {"to_department": "longevity_support", "basis": "internal_use", "reason": "介護"}]
        )
    timers_sweep_due(now=timezone.now() + timedelta(days=20))
    assert measure() == small <= 15


def test_dashboard_data_shape_and_scope(timers_world):
    users, fresh = timers_world["users"], timers_world["fresh"]
    case = timers_world["open_case"](referrals=[TO_HEALTH])
    referral = _referral(case)
    _transition(timers_world, referral, "accept", "worker_health")
    later = _handoff_timer(referral).due_at
    other = timers_world["open_case"](referrals=[TO_HEALTH])
    timers_sweep_due(now=later + timedelta(days=20))

    data = dashboard_data(user=fresh(users["chief_health"]), now=later + timedelta(days=20))

    assert data["scope"] == {"all": False, "departments": ["health_promotion"]}
    assert [h["id"] for h in data["overdue_handoffs"]] == [_referral(other).pk]
    assert data["acceptance_hours_by_department"][0]["department"]["code"] == "health_promotion"
    assert data["acceptance_hours_by_department"][0]["accepted"] == 1
    assert len(data["escalations_per_week"]) == 12
    assert {d["code"] for d in data["departments"]} == {"health_promotion"}
    with pytest.raises(Forbidden):
        dashboard_data(user=fresh(users["worker_health"]))


def test_a_stage_clock_runs_while_the_referral_is_in_its_stage(timers_world):
    case = timers_world["open_case"](referrals=[TO_HEALTH])
    referral = _transition(timers_world, _referral(case), "accept", "worker_health")
    stage = Timer.objects.get(object_key=f"referral:{referral.pk}", rule="stage:health_promotion:home_visit")
    referral.refresh_from_db()
    assert stage.is_open and stage.stage == "visit_arranging"
    assert referral.stage_due_at == stage.due_at == calendar.office_deadline(stage.started_at, 5)
    timers_sweep_due(now=stage.due_at)
    escalation = Escalation.objects.get(rule="stage:health_promotion:home_visit")
    assert (escalation.level, escalation.department.code) == (2, "health_promotion")

    referral = _transition(timers_world, referral, "record_home_visit", "worker_health")

    stage.refresh_from_db()
    escalation.refresh_from_db()
    referral.refresh_from_db()
    assert not stage.is_open and escalation.state == Escalation.State.RESOLVED
    assert referral.stage_due_at is None
