"""Deadlines and escalations of cases and referrals (DESIGN §7). The writes of the timers app.

The case services call, in the transaction of every change and after locking the row:

- `timers_plan_new(obj)` before the first save of a case or referral (its deadline fields go in
  with the INSERT), then `timers_start_new(obj, clocks)` right after it: no signal receiver and
  nothing kept on the instance, the service makes both calls;
- `timers_referral_changed(referral=...)` and `timers_case_changed(case=...)`: start, restart,
  recompute or stop the object's clocks (`Timer` rows), set its deadline fields in memory and return
  their names (the caller saves them);
- `timers_object_resolved(case=..., referral=...)`: stop the clocks whose condition cleared and
  resolve their escalations (a handoff accepted, declined or cancelled; a case touched; a stage left);
- `timers_runaround_check(case=...)` after a decline or a return (the たらい回し rule).

Escalations are recorded by one path, `referral_engine.timers.firing.escalations_fire`: the sweep
(`referral_engine.timers.sweep`) fires the due levels through it in batches, the immediate rules
(`timers_runaround_check`, `escalation_fire`) a batch of one; `escalation_acknowledge` is the
supervisor's action; `timers_recompute_open` follows edits of the calendar and of the rules.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from referral_engine.access import policy
from referral_engine.accounts.roles import DESK_DEPARTMENT_CODE
from referral_engine.accounts.system import system_user as _system_user
from referral_engine.audit.history import save_with_history
from referral_engine.bound_queries import bound_rows
from referral_engine.cases import events
from referral_engine.cases.choices import CaseState, ReferralState
from referral_engine.cases.models import Case, Referral
from referral_engine.errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from referral_engine.timers import calendar
from referral_engine.timers.firing import Firing, desk_department_id, escalations_fire
from referral_engine.timers.models import Escalation, Timer
from referral_engine.timers.policies import (
    HANDOFF,
    HANDOFF_URGENT,
    RUNAROUND,
    Rule,
    Target,
    rules_for,
    stage_rule_code,
    stall_rule_code,
)
from referral_engine.workflow import registry as workflow_registry

logger = logging.getLogger(__name__)

LIVE_ESCALATION_STATES = (Escalation.State.OPEN, Escalation.State.ACKNOWLEDGED)
STALL_PAUSED_STATES = (CaseState.CLOSED, CaseState.ON_HOLD)
RUNAROUND_THRESHOLD = 2  # declines and returns, in total, that make a case はざま


def case_key(case_id: int) -> str:
    return f"case:{case_id}"


def referral_key(referral_id: int) -> str:
    return f"referral:{referral_id}"


class _LazySystemUser:
    """The system user, looked up only if a change needs it (most service calls change no clock)."""

    def __init__(self) -> None:
        self._user = None

    def get(self):
        if self._user is None:
            self._user = _system_user()
        return self._user


# --- Which clocks an object should have ---------------------------------------------------------


@dataclass(frozen=True)
class ClockSpec:
    """A clock the object should be running now. `started_at=None`: keep the running clock's start
    (a stage clock), or start now."""

    rule: Rule
    department_id: int
    started_at: datetime | None
    stage: str = ""


def _referral_specs(referral: Referral) -> list[ClockSpec]:
    if referral.state == ReferralState.REQUESTED:
        code = HANDOFF_URGENT if referral.urgent else HANDOFF
        rule = rules_for([code]).get(code)
        return [ClockSpec(rule, referral.to_department_id, referral.created_at)] if rule else []
    if referral.state == ReferralState.ACCEPTED and referral.stage:
        department_code = referral.to_department.code
        workflow = workflow_registry.get(department_code)
        if workflow is None:
            return []
        codes = {stage_rule_code(department_code, t.code): t for t in workflow.timers if t.stage == referral.stage}
        return [
            ClockSpec(rule, referral.to_department_id, None, stage=referral.stage)
            for rule in rules_for(list(codes)).values()
        ]
    return []


def _case_specs(case: Case) -> list[ClockSpec]:
    if case.state in STALL_PAUSED_STATES:
        return []  # closed, or on hold: the stall clock does not run
    code = stall_rule_code(case.risk)
    rule = rules_for([code]).get(code)
    return [ClockSpec(rule, case.lead_department_id, case.last_touched_at)] if rule else []


# --- Scheduling ---------------------------------------------------------------------------------


def _schedule(timer: Timer, rule: Rule, *, case: Case, closed=None) -> None:
    """Set due_at, the level times and next_fire_at from the rule and the clock's start."""
    due = calendar.deadline_after(timer.started_at, rule.duration, closed)
    if timer.target == Target.CASE:
        # Time on hold since the clock started does not count (DESIGN §3.1).
        due += timedelta(seconds=max(0, case.on_hold_seconds - timer.hold_baseline_seconds))
    timer.due_at = due
    timer.l1_at = (
        timer.started_at + (due - timer.started_at) * rule.l1_percent / 100 if 0 < rule.l1_percent < 100 else None
    )
    if timer.target == Target.FOLLOWUP:  # overdue is the warning itself: L1 when the day has passed
        timer.l1_at = timer.started_at
    timer.l3_at = calendar.office_days_later(due, rule.l3_office_days, closed) if rule.l3_office_days > 0 else None
    timer.next_fire_at = timer_next_fire_at(timer)


def timer_next_fire_at(timer: Timer) -> datetime | None:
    if not timer.is_open:
        return None
    for level in (1, 2, 3):
        if level > timer.fired_level and timer.level_time(level) is not None:
            return timer.level_time(level)
    return None


SCHEDULE_FIELDS = ("due_at", "l1_at", "l3_at", "next_fire_at")


def _schedule_snapshot(timer: Timer) -> tuple:
    return tuple(getattr(timer, f) for f in SCHEDULE_FIELDS)


def _row(timer: Timer) -> dict[str, Any]:
    """The clock's columns as loaded (but its key), to save only those that moved."""
    return {f.attname: getattr(timer, f.attname) for f in Timer._meta.concrete_fields if not f.primary_key}


# --- Keeping the clocks of one object in step -----------------------------------------------------


def _sync_clocks(
    *,
    object_key: str,
    target_filter: Iterable[str],
    case: Case,
    referral: Referral | None,
    specs: list[ClockSpec],
    now: datetime,
    actor: Any,
    reason: str,
    inserted: bool = False,
) -> dict[str, Timer]:
    """Make the object's Timer rows match `specs`: start, restart, recompute or stop. Returns the
    open timers by rule. Stopping a clock resolves its live escalations. `inserted`: the object's
    row was inserted in this transaction, so it has no clocks yet (nothing to lock or read)."""
    targets = tuple(target_filter)
    existing = (
        {}
        if inserted
        else {
            t.rule: t
            for t in bound_rows(
                Timer,
                lambda key: Timer.objects.select_for_update().filter(object_key=key, target__in=targets),
                (object_key,),
                shape=targets,
                for_update=True,
            )
        }
    )
    system = _LazySystemUser()
    open_timers: dict[str, Timer] = {}
    for spec in specs:
        timer = existing.pop(spec.rule.rule, None)
        before = None if timer is None else (_schedule_snapshot(timer), timer.is_open, timer.cycle)
        row = None if timer is None else _row(timer)
        why = reason
        if timer is None:
            timer = Timer(
                object_key=object_key,
                rule=spec.rule.rule,
                target=spec.rule.target,
                case=case,
                referral=referral,
                cycle=1,
                started_at=spec.started_at or now,
            )
            timer.hold_baseline_seconds = case.on_hold_seconds
            why = f"start: {reason}"
        elif timer.is_open and spec.started_at in (None, timer.started_at):
            pass  # the same clock keeps running
        elif not timer.is_open and spec.started_at is not None and spec.started_at == timer.started_at:
            timer.is_open, timer.closed_at = True, None  # e.g. resumed after a hold: same period
            why = f"resume: {reason}"
        else:
            if timer.is_open and timer.fired_level > 0:  # no level fired in this cycle: nothing to resolve
                _resolve_escalations(
                    timer=timer, now=now, system=system.get(), reason=_("期限の起算点が変わりました") + f" ({reason})"
                )
            timer.cycle += 1
            timer.started_at = spec.started_at or now
            timer.hold_baseline_seconds = case.on_hold_seconds
            timer.fired_level = 0
            timer.is_open, timer.closed_at = True, None
            why = f"restart: {reason}"
        timer.department_id = spec.department_id
        timer.stage = spec.stage
        _schedule(timer, spec.rule, case=case)
        if before != (_schedule_snapshot(timer), timer.is_open, timer.cycle) or timer.pk is None:
            # Compared just above: a tracked field moved, no need to read the last history row. An
            # existing clock's UPDATE sets only the columns that moved.
            moved = None if row is None else [name for name, value in row.items() if getattr(timer, name) != value]
            save_with_history(timer, actor=actor or system.get(), reason=why[:500], update_fields=moved, changed=True)
        open_timers[timer.rule] = timer
    for timer in existing.values():
        if timer.is_open:
            _stop_clock(timer=timer, now=now, actor=actor or system.get(), system=system.get(), reason=reason)
    return open_timers


def _stop_clock(*, timer: Timer, now: datetime, actor: Any, system: Any, reason: str) -> None:
    timer.is_open = False
    timer.closed_at = now
    timer.next_fire_at = None
    save_with_history(
        timer,
        actor=actor,
        reason=f"stop: {reason}"[:500],
        update_fields=["is_open", "closed_at", "next_fire_at"],
        changed=True,  # an open clock closes
    )
    if timer.fired_level > 0:  # escalations exist only for the levels fired in this cycle
        _resolve_escalations(timer=timer, now=now, system=system, reason=reason)


def _resolve_escalations(*, timer: Timer, now: datetime, system: Any, reason: str) -> int:
    live = Escalation.objects.filter(
        object_key=timer.object_key, rule=timer.rule, state__in=LIVE_ESCALATION_STATES
    ).select_related("case")
    return _resolve(live, now=now, system=system, reason=reason)


def _resolve(escalations: Iterable[Escalation], *, now: datetime, system: Any, reason: str) -> int:
    count = 0
    for escalation in escalations:
        escalation.state = Escalation.State.RESOLVED
        escalation.resolved_at = now
        save_with_history(
            escalation,
            actor=system,
            reason=f"resolved: {reason}"[:500],
            update_fields=["state", "resolved_at"],
            changed=True,  # open or acknowledged → resolved
        )
        events.escalation_resolved(escalation=escalation, actor=system, reason=reason)
        count += 1
    return count


# --- The interface the case services call -------------------------------------------------------


def timers_referral_changed(*, referral: Referral, actor: Any = None, now: datetime | None = None) -> list[str]:
    """Start, restart, recompute or stop the referral's clocks (handoff acceptance, stage) and set
    `due_at` / `stage_due_at` in memory; returns the changed field names (the caller saves them).
    Call with the referral locked, after it has a primary key (a new one: `timers_plan_new`)."""
    _require_saved(referral)
    now = now or timezone.now()
    timers = _sync_clocks(
        object_key=referral_key(referral.pk),
        target_filter=(Target.REFERRAL, Target.STAGE),
        case=referral.case,
        referral=referral,
        specs=_referral_specs(referral),
        now=now,
        actor=actor,
        reason=f"referral {referral.state}/{referral.stage or '-'}",
    )
    return _referral_deadlines(referral, timers)


def _referral_deadlines(referral: Referral, timers: dict[str, Timer]) -> list[str]:
    changed = []
    handoff = next((t for t in timers.values() if t.target == Target.REFERRAL), None)
    if handoff is not None and referral.due_at != handoff.due_at:
        referral.due_at = handoff.due_at
        changed.append("due_at")
    stage = min((t.due_at for t in timers.values() if t.target == Target.STAGE), default=None)
    if referral.stage_due_at != stage:
        referral.stage_due_at = stage
        changed.append("stage_due_at")
    return changed


def timers_case_changed(*, case: Case, actor: Any = None, now: datetime | None = None) -> list[str]:
    """Start, restart (a touch), recompute (risk, hold) or stop (hold, close) the stall clock and set
    `stall_due_at` in memory; returns the changed field names (the caller saves them). Closing the
    case stops every clock of the case and resolves its escalations. Call with the case locked, after
    it has a primary key (a new one: `timers_plan_new`)."""
    _require_saved(case)
    now = now or timezone.now()
    timers = _sync_clocks(
        object_key=case_key(case.pk),
        target_filter=(Target.CASE,),
        case=case,
        referral=None,
        specs=_case_specs(case),
        now=now,
        actor=actor,
        reason=f"case {case.state}",
    )
    if case.state == CaseState.CLOSED:
        _close_case_clocks(case=case, now=now, actor=actor)
    return _case_deadline(case, timers)


def _case_deadline(case: Case, timers: dict[str, Timer]) -> list[str]:
    due = next(iter(timers.values())).due_at if timers else None
    if due != case.stall_due_at:
        case.stall_due_at = due
        return ["stall_due_at"]
    return []


def _require_saved(obj: Case | Referral) -> None:
    if obj.pk is None:
        raise ValueError(f"{type(obj).__name__} not saved yet: timers_plan_new, save, then timers_start_new")


# --- A new case or referral: plan before the INSERT, start after it --------------------------------


@dataclass(frozen=True)
class NewClocks:
    """The clocks a case or referral not saved yet will run, planned by `timers_plan_new` (which set
    its deadline fields, so the INSERT carries them) and written by `timers_start_new` once the row
    has its primary key. A value the service holds between the two calls: nothing is kept on the
    instance, no signal writes anything."""

    specs: tuple[ClockSpec, ...]
    now: datetime
    actor: Any


def timers_plan_new(obj: Case | Referral, *, actor: Any = None, now: datetime | None = None) -> NewClocks:
    """Before the first save of a case or referral: set its deadline fields in memory
    (`stall_due_at`, or `due_at` / `stage_due_at`) and return the clocks to start. The service then
    saves the row and calls `timers_start_new(obj, clocks)` in the same transaction."""
    if obj.pk is not None:
        raise ValueError(f"{type(obj).__name__} {obj.pk} is saved already: use the *_changed functions")
    now = now or timezone.now()
    is_referral = isinstance(obj, Referral)
    case = obj.case if is_referral else obj
    specs = tuple(
        replace(s, started_at=s.started_at or now) for s in (_referral_specs(obj) if is_referral else _case_specs(obj))
    )
    timers = {}
    for spec in specs:
        timer = Timer(
            rule=spec.rule.rule,
            target=spec.rule.target,
            started_at=spec.started_at,
            hold_baseline_seconds=case.on_hold_seconds,
        )
        _schedule(timer, spec.rule, case=case)
        timers[timer.rule] = timer
    if is_referral:
        _referral_deadlines(obj, timers)
    else:
        _case_deadline(obj, timers)
    return NewClocks(specs=specs, now=now, actor=actor)


def timers_start_new(obj: Case | Referral, clocks: NewClocks) -> None:
    """Right after the INSERT of a case or referral planned by `timers_plan_new`, in the same
    transaction: write its clocks (the row is new, so there is nothing to lock or read first)."""
    _require_saved(obj)
    if isinstance(obj, Referral):
        _sync_clocks(
            object_key=referral_key(obj.pk),
            target_filter=(Target.REFERRAL, Target.STAGE),
            case=obj.case,
            referral=obj,
            specs=list(clocks.specs),
            now=clocks.now,
            actor=clocks.actor,
            reason=f"referral {obj.state}",
            inserted=True,
        )
    else:
        _sync_clocks(
            object_key=case_key(obj.pk),
            target_filter=(Target.CASE,),
            case=obj,
            referral=None,
            specs=list(clocks.specs),
            now=clocks.now,
            actor=clocks.actor,
            reason=f"case {obj.state}",
            inserted=True,
        )


def _close_case_clocks(*, case: Case, now: datetime, actor: Any) -> None:
    system = _system_user()
    for timer in Timer.objects.select_for_update().filter(case=case, is_open=True):
        _stop_clock(timer=timer, now=now, actor=actor or system, system=system, reason=_("ケース終結"))
    runaround = Escalation.objects.filter(case=case, rule=RUNAROUND, state__in=LIVE_ESCALATION_STATES)
    _resolve(runaround, now=now, system=system, reason=_("ケース終結"))


def timers_object_resolved(
    *, case: Case | None = None, referral: Referral | None = None, actor: Any = None, now: datetime | None = None
) -> None:
    """Stop the clocks whose condition has cleared and resolve their escalations: the handoff
    accepted, declined or cancelled; the case touched (a new stall period); the stage left."""
    now = now or timezone.now()
    if referral is not None and referral.pk is not None:
        _sync_clocks(
            object_key=referral_key(referral.pk),
            target_filter=(Target.REFERRAL, Target.STAGE),
            case=referral.case,
            referral=referral,
            specs=_referral_specs(referral),
            now=now,
            actor=actor,
            reason=f"referral {referral.state}/{referral.stage or '-'}",
        )
    if case is not None and case.pk is not None:
        _sync_clocks(
            object_key=case_key(case.pk),
            target_filter=(Target.CASE,),
            case=case,
            referral=None,
            specs=_case_specs(case),
            now=now,
            actor=actor,
            reason=f"case {case.state}",
        )
        if case.state == CaseState.CLOSED:
            _close_case_clocks(case=case, now=now, actor=actor)


# --- Firing -------------------------------------------------------------------------------------


def escalation_fire(
    *,
    case: Case,
    referral: Referral | None,
    object_key: str,
    rule: str,
    rule_name: str,
    target: str,
    cycle: int,
    level: int,
    department_id: int,
    due_at: datetime,
    now: datetime,
    system: Any,
    recipients: list[Any] | None = None,
) -> Escalation | None:
    """An immediate rule fires one level now: the one firing path (`firing.escalations_fire`, the
    sweep's) with a batch of one. `recipients=None`: the level's rule decides who is told. Returns
    the escalation, or None when it had fired already (the unique constraint decides)."""
    firing = Firing(
        case=case,
        referral=referral,
        object_key=object_key,
        rule=rule,
        rule_name=rule_name,
        target=target,
        cycle=cycle,
        level=level,
        department_id=department_id,
        due_at=due_at,
        recipients=recipients,
    )
    fired = escalations_fire([firing], now=now, system=system, desk_id=desk_department_id() if level == 3 else None)
    return fired[0].escalation if fired else None


def timers_runaround_check(*, case: Case, actor: Any = None, now: datetime | None = None) -> Escalation | None:
    """たらい回し: once a case's referrals were declined or returned twice in total, flag it はざま
    and escalate to the social_welfare supervisor at once (rule "runaround", level 3). Call after a
    decline or a return, with the case locked. Returns the new escalation, or None."""
    if case.state == CaseState.CLOSED:
        return None
    bounced = case.referrals.filter(state__in=(ReferralState.DECLINED, ReferralState.RETURNED)).count()
    if bounced < RUNAROUND_THRESHOLD:
        return None
    key = case_key(case.pk)
    if Escalation.objects.filter(object_key=key, rule=RUNAROUND).exists():
        return None
    now = now or timezone.now()
    desk_id = desk_department_id()
    if desk_id is None:
        logger.warning("runaround: no %s department to escalate case %s to", DESK_DEPARTMENT_CODE, case.pk)
        return None
    firing = Firing(
        case=case,
        referral=None,
        object_key=key,
        rule=RUNAROUND,
        rule_name=_("たらい回し（辞退・差し戻し {count} 回）").format(count=bounced),
        target=Target.CASE,
        cycle=1,
        level=3,
        department_id=desk_id,
        due_at=now,
    )  # L3: the desk supervisors are told (`firing.escalation_recipients`)
    fired = escalations_fire([firing], now=now, system=_system_user(), desk_id=desk_id)
    return fired[0].escalation if fired else None


def timers_gap_cleared(*, case: Case, actor: Any, reason: str, now: datetime | None = None) -> int:
    """はざま ended (issue 18: a referral of the case accepted, or a lead worker named): resolve the
    case's live L3 escalations (an L3 of any clock, the runaround), the ones that flagged it. The
    caller has cleared `is_gap` under the case's lock. Returns how many were resolved."""
    from referral_engine.timers.selectors import dashboard_figures_expire

    live = Escalation.objects.filter(case=case, level=3, state__in=LIVE_ESCALATION_STATES).select_related("case")
    resolved = _resolve(live, now=now or timezone.now(), system=actor or _system_user(), reason=reason)
    transaction.on_commit(dashboard_figures_expire)
    return resolved


# --- Acknowledging ------------------------------------------------------------------------------


@transaction.atomic
def escalation_acknowledge(*, escalation_id: int, actor: Any, note: str) -> Escalation:
    """A supervisor has seen the escalation and says what happens next (open → acknowledged)."""
    from referral_engine.timers.selectors import dashboard_figures_expire, escalations_visible_to

    escalation = escalations_visible_to(actor).select_for_update(of=("self",)).filter(pk=escalation_id).first()
    if escalation is None:
        raise NotFound(_("エスカレーションが見つかりません。"))
    if not policy.can_acknowledge_escalation(actor, escalation):
        raise Forbidden(_("このエスカレーションを確認する権限がありません。"))
    if escalation.state != Escalation.State.OPEN:
        raise IllegalTransition(_("このエスカレーションは対応済みです。"), allowed=[])
    note = (note or "").strip()
    if not note:
        raise InvalidInput(_("確認メモを入力してください。"), fields={"note": [_("必須です。")]})
    escalation.state = Escalation.State.ACKNOWLEDGED
    escalation.acknowledged_by = actor
    escalation.acknowledged_at = timezone.now()
    escalation.note = note
    save_with_history(
        escalation,
        actor=actor,
        reason="acknowledge",
        update_fields=["state", "acknowledged_by", "acknowledged_at", "note"],
    )
    events.escalation_acknowledged(escalation=escalation, actor=actor)
    # The dashboard's department table counts open escalations too: it must not lag behind the tile.
    transaction.on_commit(dashboard_figures_expire)
    return escalation


# --- Recomputing after the calendar or a rule changed ---------------------------------------------


def timers_recompute_open(*, actor: Any, reason: str, rules: Iterable[str] | None = None) -> int:
    """Recompute the schedule of every open clock (of `rules`, or all) after the calendar or a rule
    was edited; each change is saved with a history row carrying `reason`, on the timer and on the
    deadline field of the case or referral. Returns how many clocks moved.

    Works object by object, locking the case or referral before its timer (the order the case
    services use), so an edit never deadlocks with them; the sweep never waits on either."""
    calendar.invalidate_cache()
    qs = Timer.objects.filter(is_open=True).select_related("case")
    if rules is not None:
        qs = qs.filter(rule__in=list(rules))
    codes = set(qs.values_list("rule", flat=True).distinct())
    known = rules_for(sorted(codes))
    closed = calendar.closed_dates()
    moved = 0
    for timer in list(qs):
        rule = known.get(timer.rule)
        before = _schedule_snapshot(timer)
        if rule is not None:
            _schedule(timer, rule, case=timer.case, closed=closed)
            if _schedule_snapshot(timer) == before:
                continue
        if _recompute_one(timer_id=timer.pk, actor=actor, reason=reason):
            moved += 1
    return moved


@transaction.atomic
def _recompute_one(*, timer_id: int, actor: Any, reason: str) -> bool:
    timer = Timer.objects.filter(pk=timer_id).values("case_id", "referral_id", "target").first()
    if timer is None:
        return False
    if timer["referral_id"]:
        obj = Referral.objects.select_for_update(of=("self",)).select_related("case").get(pk=timer["referral_id"])
        case = obj.case
    else:
        obj = case = Case.objects.select_for_update(of=("self",)).get(pk=timer["case_id"])
    timer = Timer.objects.select_for_update().filter(pk=timer_id, is_open=True).first()
    if timer is None:
        return False
    system = _system_user()
    why = f"recompute: {reason}"[:500]
    rule = rules_for([timer.rule]).get(timer.rule)
    if rule is None:  # the rule was switched off: the clock stops, what fired stays on record
        timer.is_open, timer.closed_at, timer.next_fire_at = False, timezone.now(), None
        save_with_history(
            timer, actor=actor or system, reason=why, update_fields=["is_open", "closed_at", "next_fire_at"]
        )
        return True
    before = _schedule_snapshot(timer)
    _schedule(timer, rule, case=case)
    if _schedule_snapshot(timer) == before:
        return False
    save_with_history(timer, actor=actor or system, reason=why, update_fields=list(SCHEDULE_FIELDS))
    field = {Target.REFERRAL: "due_at", Target.STAGE: "stage_due_at", Target.CASE: "stall_due_at"}.get(timer.target)
    if field is None:  # a follow-up's clock: the row shows its day, not the deadline
        return True
    due = timer.due_at
    if timer.target == Target.STAGE:  # a stage may run several clocks: the field shows the nearest
        due = min(
            Timer.objects.filter(referral=obj, target=Target.STAGE, is_open=True).values_list("due_at", flat=True)
        )
    if getattr(obj, field) != due:
        setattr(obj, field, due)
        save_with_history(obj, actor=actor or system, reason=why, update_fields=[field])
    return True


def timers_calendar_changed(*, actor: Any, reason: str) -> int:
    """After a ClosedDay was added, edited or deleted (the admin calls this)."""
    return timers_recompute_open(actor=actor, reason=reason)


# --- The calendar and the rules (admin, seed commands) --------------------------------------------


def closed_day_save(*, closed_day: Any, actor: Any, reason: str = "") -> None:
    """Add or edit a closed day (the admin's save); every open deadline is recomputed once the
    change commits."""
    with transaction.atomic():
        save_with_history(closed_day, actor=actor, reason=reason or "closed day saved")
        _recompute_after_commit(actor=actor, reason=f"閉庁日 {closed_day.date} {closed_day.name}")


def closed_day_delete(*, closed_day: Any, actor: Any, reason: str = "") -> None:
    """Delete a closed day (the admin's delete); every open deadline is recomputed once it commits."""
    label = f"閉庁日の削除 {closed_day.date} {closed_day.name}"
    with transaction.atomic():
        closed_day._history_user = actor if getattr(actor, "is_authenticated", False) else None
        closed_day._change_reason = reason or "closed day deleted"
        closed_day.delete()
        _recompute_after_commit(actor=actor, reason=label)


def _recompute_after_commit(*, actor: Any, reason: str, rules: list[str] | None = None) -> None:
    """After the edit commits, each clock is recomputed in its own short transaction: the admin's
    request transaction never holds many cases and referrals at once (no deadlock with the case
    services), and the change is visible to the recomputation."""
    transaction.on_commit(lambda: timers_recompute_open(actor=actor, reason=reason, rules=rules))


def timers_calendar_seed(*, years: Iterable[int], actor: Any = None) -> tuple[int, int]:
    """Add the holidays and the year-end closure of `years` that ClosedDay lacks. Idempotent; a date
    an admin deleted stays deleted (its last history row is a deletion). Returns (added, recomputed)."""
    from referral_engine.timers.models import ClosedDay

    seeds = calendar.closed_days_for_years(years)
    dates = [s.date for s in seeds]
    existing = set(ClosedDay.objects.filter(date__in=dates).values_list("date", flat=True))
    deleted = set(ClosedDay.history.filter(date__in=dates, history_type="-").values_list("date", flat=True)) - existing
    actor = actor or _system_user()
    added = 0
    with transaction.atomic():
        for seed in seeds:
            if seed.date in existing or seed.date in deleted:
                continue
            save_with_history(
                ClosedDay(date=seed.date, name=seed.name, source=seed.source), actor=actor, reason="seed_calendar"
            )
            added += 1
    calendar.invalidate_cache()
    moved = timers_calendar_changed(actor=actor, reason=f"seed_calendar: {added}") if added else 0
    return added, moved


def timers_policies_seed(*, reset: bool = False, actor: Any = None) -> tuple[int, int]:
    """Write the default rules (DESIGN §7 and the workflows' stage timers). Returns (added, reset)."""
    from referral_engine.timers.models import EscalationPolicy
    from referral_engine.timers.policies import default_rules

    actor = actor or _system_user()
    added = updated = 0
    with transaction.atomic():
        existing = {p.rule: p for p in EscalationPolicy.objects.select_for_update()}
        for code, rule in default_rules().items():
            row = existing.get(code)
            if row is None:
                save_with_history(
                    EscalationPolicy(rule=code, **rule.policy_fields()), actor=actor, reason="seed_policies"
                )
                added += 1
            elif reset:
                changed = [k for k, v in rule.policy_fields().items() if getattr(row, k) != v]
                for k in changed:
                    setattr(row, k, rule.policy_fields()[k])
                if changed:
                    save_with_history(row, actor=actor, reason="seed_policies --reset", update_fields=changed)
                    updated += 1
    if updated:
        timers_recompute_open(actor=actor, reason="seed_policies --reset")
    return added, updated


def escalation_policy_save(*, policy_row: Any, actor: Any, reason: str = "") -> None:
    """Save an edited rule (the admin); the open clocks of that rule are recomputed once it commits."""
    with transaction.atomic():
        save_with_history(policy_row, actor=actor, reason=reason or "rule edited")
        _recompute_after_commit(actor=actor, reason=f"規則 {policy_row.rule} の変更", rules=[policy_row.rule])
