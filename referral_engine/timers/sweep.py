"""The sweep (DESIGN §7): beat runs it every minute (`timers.sweep`), `manage.py sweep_timers` by hand.

Each batch is one transaction. It picks at most `batch` due timers, locks their cases, then the
timers and referrals, all with `SELECT … FOR UPDATE SKIP LOCKED` (the case services' lock order,
but never waiting: a row a case service or another sweep holds is passed over, and that case service
moves the clock itself or the next sweep fires it), works out in Python the highest level due of
each timer, then writes the whole batch in bulk through the one firing path
(`timers.firing.escalations_fire`, which the immediate rules take too): the escalations and their
history rows, the はざま flags with theirs, the timeline events, the outbox rows; then the timers
with theirs — about a dozen
statements per batch, whatever its size (issue 10: one timer at a time was ~9 statements per level).
A worker killed mid-batch rolls the whole batch back; the next sweep does it again. Two sweeps at
once claim disjoint cases, and the unique constraint on (object, rule, cycle, level) is the last word
on "at most once".
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from referral_engine.accounts.system import system_user
from referral_engine.audit.history import save_with_history
from referral_engine.cases.choices import CaseState, ReferralState
from referral_engine.cases.models import Case, Referral
from referral_engine.timers.firing import Firing, bulk_update_with_history, desk_department_id, escalations_fire
from referral_engine.timers.followups import followups_address, timers_followup_resync
from referral_engine.timers.models import SweepStatus, Timer
from referral_engine.timers.policies import Target, rules_for
from referral_engine.timers.services import timer_next_fire_at, timers_case_changed, timers_referral_changed

logger = logging.getLogger(__name__)

MAX_BATCH = 500
_NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass
class SweepResult:
    now: datetime
    batches: int = 0
    claimed: int = 0
    fired: int = 0
    by_level: Counter = field(default_factory=Counter)
    already_fired: int = 0
    resynced: int = 0
    left_locked: int = 0
    duration_ms: float = 0.0

    def as_dict(self) -> dict:
        return {
            "now": self.now.isoformat(),
            "batches": self.batches,
            "claimed": self.claimed,
            "fired": self.fired,
            "by_level": {f"L{k}": v for k, v in sorted(self.by_level.items())},
            "already_fired": self.already_fired,
            "resynced": self.resynced,
            "left_locked": self.left_locked,
            "duration_ms": round(self.duration_ms, 1),
        }

    def __str__(self) -> str:
        levels = ", ".join(f"L{k}={v}" for k, v in sorted(self.by_level.items())) or "none"
        return (
            f"claimed {self.claimed} in {self.batches} batch(es), fired {self.fired} ({levels}), "
            f"already fired {self.already_fired}, resynced {self.resynced}, left locked {self.left_locked}, "
            f"{self.duration_ms:.1f} ms"
        )


def timers_sweep_due(*, now: datetime | None = None, batch: int | None = None, max_batches: int = 40) -> SweepResult:
    """Fire every level that is due at `now`, in batches of at most 500 timers."""
    started = time.monotonic()
    now = now or timezone.now()
    batch = max(1, min(batch or settings.TIMER_SWEEP_BATCH, MAX_BATCH))
    result = SweepResult(now=now)
    system = system_user()
    desk_id = desk_department_id()
    passed_over = PassedOver()
    while result.batches < max_batches:
        with transaction.atomic():
            claimed = _sweep_batch(
                now=now, batch=batch, system=system, desk_id=desk_id, passed_over=passed_over, result=result
            )
        result.batches += 1
        if claimed < batch:
            break
    result.duration_ms = (time.monotonic() - started) * 1000
    SweepStatus.objects.get_or_create(name="timers")
    SweepStatus.objects.filter(name="timers").update(
        last_success_at=timezone.now(),
        last_duration_ms=int(result.duration_ms),
        last_fired=result.fired,
        runs=F("runs") + 1,
    )
    if result.fired or result.left_locked:
        logger.info("timers sweep: %s", result)
    return result


def _condition_holds(timer: Timer, case: Case, referral: Referral | None) -> bool:
    """The clock's condition, re-read under the row lock (a safety net: the case services stop the
    clock in the same transaction as the change that clears it)."""
    if case.state == CaseState.CLOSED:
        return False
    if timer.target == Target.REFERRAL:
        return referral is not None and referral.state == ReferralState.REQUESTED
    if timer.target == Target.STAGE:
        return referral is not None and referral.state == ReferralState.ACCEPTED and referral.stage == timer.stage
    if timer.target == Target.FOLLOWUP:
        return True  # marking a follow-up done stops its clock in the same transaction
    return case.state != CaseState.ON_HOLD and case.last_touched_at == timer.started_at


@dataclass
class PassedOver:
    """What this sweep found locked by someone else: not asked for again in its later batches."""

    case_ids: set[int] = field(default_factory=set)
    timer_ids: set[int] = field(default_factory=set)


def _sweep_batch(
    *, now: datetime, batch: int, system, desk_id: int | None, passed_over: PassedOver, result: SweepResult
) -> int:
    # Lock in the case services' order, case → referral → timer, but never wait: a row somebody
    # holds is passed over (another sweep is on it, or a case service that will move the clock).
    candidates = list(
        Timer.objects.filter(is_open=True, next_fire_at__lte=now)
        .exclude(case_id__in=passed_over.case_ids)
        .exclude(pk__in=passed_over.timer_ids)
        .order_by("next_fire_at", "id")
        .values_list("case_id", flat=True)[:batch]
    )
    if not candidates:
        return 0
    case_ids = set(candidates)
    cases = {
        c.pk: c
        for c in Case.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("lead_worker")
        .filter(pk__in=case_ids)
    }
    passed_over.case_ids |= case_ids - cases.keys()
    result.left_locked += len(case_ids - cases.keys())
    timers = list(
        Timer.objects.select_for_update(skip_locked=True)
        .filter(case_id__in=cases.keys(), is_open=True, next_fire_at__lte=now)
        .order_by("next_fire_at", "id")[:batch]
    )
    result.claimed += len(timers)
    referral_ids = {t.referral_id for t in timers if t.referral_id}
    referrals = (
        {
            r.pk: r
            for r in Referral.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("to_department", "assigned_worker")
            .filter(pk__in=referral_ids)
        }
        if referral_ids
        else {}
    )
    rules = rules_for(sorted({t.rule for t in timers}))
    firings: list[Firing] = []
    moved: list[tuple[Timer, str]] = []  # timers to save, with their history reason
    for timer in timers:
        case = cases[timer.case_id]
        referral = referrals.get(timer.referral_id) if timer.referral_id else None
        if timer.referral_id and referral is None:
            # A case service holds the referral: it will move this clock itself, or the next sweep fires it.
            passed_over.timer_ids.add(timer.pk)
            result.left_locked += 1
            continue
        if referral is not None:
            referral.case = case
        rule = rules.get(timer.rule)
        if rule is None or not _condition_holds(timer, case, referral):
            _resync(timer=timer, case=case, referral=referral, system=system, now=now)
            result.resynced += 1
            continue
        level = max(
            (lvl for lvl in (1, 2, 3) if lvl > timer.fired_level and (timer.level_time(lvl) or _NEVER) <= now),
            default=0,
        )
        before = (timer.fired_level, timer.next_fire_at)
        if level:
            firings.append(Firing.of_timer(timer, case=case, referral=referral, rule_name=rule.name, level=level))
            timer.fired_level = level
        timer.next_fire_at = timer_next_fire_at(timer)
        if (timer.fired_level, timer.next_fire_at) != before:  # a save that changes nothing leaves no history
            moved.append((timer, f"L{level} fired" if level else "reschedule"))
    if firings:
        followups_address(firings)  # a follow-up's L1 goes to its assignee (one query, none without one)
        # The one firing path (timers/firing.py), the one the immediate rules take too.
        fresh = escalations_fire(firings, now=now, system=system, desk_id=desk_id)
        result.already_fired += len(firings) - len(fresh)
        for firing in fresh:
            result.fired += 1
            result.by_level[firing.level] += 1
    if moved:  # one UPDATE for the batch's timers and one INSERT of their history rows
        bulk_update_with_history(
            Timer,
            [timer for timer, _reason in moved],
            ["fired_level", "next_fire_at"],
            reasons=[reason for _timer, reason in moved],
            system=system,
        )
    return len(candidates)


def _resync(*, timer: Timer, case: Case, referral: Referral | None, system, now: datetime) -> None:
    """The object changed without its clocks being told (or the rule was switched off): bring the
    clocks in step as the case services would, saving the deadline fields with history."""
    if timer.target == Target.FOLLOWUP:
        timers_followup_resync(timer=timer, system=system, now=now)
        return
    if referral is not None:
        fields = timers_referral_changed(referral=referral, actor=system, now=now)
        save_with_history(referral, actor=system, reason="timers: resync", update_fields=fields)
    else:
        fields = timers_case_changed(case=case, actor=system, now=now)
        save_with_history(case, actor=system, reason="timers: resync", update_fields=fields)
