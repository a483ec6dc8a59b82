"""The sweep (DESIGN §7): beat runs it every minute (`timers.sweep`), `manage.py sweep_timers` by hand.

Each batch is one transaction. It picks at most `batch` due timers, locks their cases, then the
timers and referrals, all with `SELECT … FOR UPDATE SKIP LOCKED` (the case services' lock order,
but never waiting: a row a case service or another sweep holds is passed over, and that case service
moves the clock itself or the next sweep fires it), works out in Python the highest level due of
each timer, then writes the whole batch in bulk: the escalations and their history rows, the はざま
flags with theirs, the timeline events, the outbox rows, the timers with theirs — about a dozen
statements per batch, whatever its size (issue 10: one timer at a time was ~9 statements per level).
A worker killed mid-batch rolls the whole batch back; the next sweep does it again. Two sweeps at
once claim disjoint cases, and the unique constraint on (object, rule, cycle, level) is the last word
on "at most once".
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from referral_engine.accounts.models import Membership
from referral_engine.accounts.roles import Role
from referral_engine.accounts.system import system_user
from referral_engine.audit.history import save_with_history
from referral_engine.cases import events
from referral_engine.cases.choices import CaseState, ReferralState
from referral_engine.cases.models import Case, CaseEvent, Referral
from referral_engine.notifications.services import Outgoing, notifications_queue_many
from referral_engine.timers import calendar
from referral_engine.timers.followups import followup_assignees, timers_followup_resync
from referral_engine.timers.models import Escalation, SweepStatus, Timer
from referral_engine.timers.policies import Target, rules_for
from referral_engine.timers.services import (
    LEVEL_TITLES,
    TARGET_TITLES,
    desk_department_id,
    timer_next_fire_at,
    timers_case_changed,
    timers_referral_changed,
)

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
            firings.append(Firing(timer=timer, case=case, referral=referral, rule_name=rule.name, level=level))
            timer.fired_level = level
        timer.next_fire_at = timer_next_fire_at(timer)
        if (timer.fired_level, timer.next_fire_at) != before:  # a save that changes nothing leaves no history
            moved.append((timer, f"L{level} fired" if level else "reschedule"))
    if firings:
        _fire(firings, now=now, system=system, desk_id=desk_id, result=result)
    _timers_save(moved, system=system)
    return len(candidates)


@dataclass
class Firing:
    """One level of one (object, rule, cycle) that is due, found under the locks of its batch."""

    timer: Timer
    case: Case
    referral: Referral | None
    rule_name: str
    level: int
    escalation: Escalation | None = None

    @property
    def key(self) -> tuple[str, str, int, int]:
        return (self.timer.object_key, self.timer.rule, self.timer.cycle, self.level)


def _fire(firings: list[Firing], *, now: datetime, system, desk_id: int | None, result: SweepResult) -> None:
    """Record a batch of firings with a fixed number of statements, whatever its size: the escalations
    and their history rows, the はざま flags with theirs, the timeline events, the outbox rows. The same
    rows, in the same order, as `timers.services.escalation_fire` writes for one."""
    fresh = _escalations_create(firings, now=now, system=system)
    result.already_fired += len(firings) - len(fresh)
    for firing in fresh:
        result.fired += 1
        result.by_level[firing.level] += 1
    if not fresh:
        return
    rows: list[CaseEvent] = []  # timeline rows, inserted together
    flagged: list[Case] = []
    messages: list[Outgoing] = []
    supervisors = Supervisors(
        {f.timer.department_id for f in fresh} | {f.case.lead_department_id for f in fresh} | ({desk_id} - {None})
    )
    assignees = followup_assignees(f.timer for f in fresh)
    for firing in fresh:
        timer, case, referral, escalation = firing.timer, firing.case, firing.referral, firing.escalation
        rule, level = timer.rule, firing.level
        due_local = timezone.localtime(timer.due_at, calendar.office_tz())
        rows.append(
            events.escalation_fired(escalation=escalation, actor=system, rule_name=firing.rule_name, commit=False)
        )
        if level == 3 and not case.is_gap:
            case.is_gap = True
            case._change_reason = f"はざま: L3 {rule}"
            flagged.append(case)
            rows.append(
                events.gap_flagged(escalation=escalation, actor=system, rule_name=firing.rule_name, commit=False)
            )
        messages.append(
            Outgoing(
                recipients=recipients_for_level(
                    level=level,
                    timer=timer,
                    case=case,
                    referral=referral,
                    desk_id=desk_id,
                    supervisors=supervisors,
                    assignees=assignees,
                ),
                kind=f"escalation_l{level}",
                title=f"{LEVEL_TITLES[level]}: {case.number} {TARGET_TITLES.get(timer.target, firing.rule_name)}",
                body=f"{firing.rule_name}\n{_('期限')}: {due_local:%Y-%m-%d %H:%M}",
                case_id=case.pk,
                referral_id=referral.pk if referral else None,
                escalation_id=escalation.pk,
                url=f"/cases/{case.pk}/",
            )
        )
    if flagged:
        _bulk_update_with_history(Case, flagged, ["is_gap"], system=system)
    events.events_save(rows)
    notifications_queue_many(messages)


def _escalations_create(firings: list[Firing], *, now: datetime, system) -> list[Firing]:
    """Insert the escalations not recorded yet, with their history rows; return the firings that
    made one. The unique constraint (object, rule, cycle, level) has the last word: a level another
    transaction recorded between our read and our INSERT makes the bulk INSERT fail in its savepoint,
    and the batch falls back to one savepoint per escalation, skipping the ones that exist."""
    done = _recorded_keys(firings)
    todo = [f for f in firings if f.key not in done]
    for firing in todo:
        timer = firing.timer
        firing.escalation = Escalation(
            object_key=timer.object_key,
            rule=timer.rule,
            cycle=timer.cycle,
            level=firing.level,
            case=firing.case,
            referral=firing.referral,
            department_id=timer.department_id,
            due_at=timer.due_at,
            fired_at=now,
        )
        firing.escalation._change_reason = f"L{firing.level} {timer.rule}"
    try:
        with transaction.atomic():
            Escalation.objects.bulk_create([f.escalation for f in todo])
    except IntegrityError:
        fresh = []
        for firing in todo:
            firing.escalation.pk = None
            try:
                with transaction.atomic():
                    Escalation.objects.bulk_create([firing.escalation])
            except IntegrityError:
                firing.escalation = None
            else:
                fresh.append(firing)
        todo = fresh
    created = [f.escalation for f in todo]
    _ids_after_insert(created)
    if created:
        _history_write(Escalation, created, history_type="+", system=system)
    return todo


def _recorded_keys(firings: list[Firing]) -> set[tuple[str, str, int, int]]:
    """The (object, rule, cycle, level) already recorded among the batch's objects (one query)."""
    keys = Escalation.objects.filter(object_key__in={f.timer.object_key for f in firings})
    return set(keys.values_list("object_key", "rule", "cycle", "level"))


def _ids_after_insert(escalations: list[Escalation]) -> None:
    """PostgreSQL and SQLite ≥ 3.35 return the ids from the INSERT; elsewhere read them back."""
    missing = {(e.object_key, e.rule, e.cycle, e.level): e for e in escalations if e.pk is None}
    if missing:
        rows = Escalation.objects.filter(object_key__in={k[0] for k in missing}).values_list(
            "pk", "object_key", "rule", "cycle", "level"
        )
        for pk, *key in rows:
            if tuple(key) in missing:
                missing[tuple(key)].pk = pk


def _timers_save(moved: list[tuple[Timer, str]], *, system) -> None:
    """One UPDATE for the batch's timers and one INSERT of their history rows."""
    if not moved:
        return
    for timer, reason in moved:
        timer._change_reason = reason
    _bulk_update_with_history(Timer, [t for t, _reason in moved], ["fired_level", "next_fire_at"], system=system)


def _bulk_update_with_history(model, objs: list, fields: list[str], *, system) -> None:
    """`save_with_history(obj, update_fields=fields)` for many objects: one UPDATE (with
    `updated_at`, which `bulk_update` does not set by itself) and one INSERT of history rows
    ("~", the system user, each object's `_change_reason`)."""
    at = timezone.now()
    if any(f.name == "updated_at" for f in model._meta.concrete_fields):
        for obj in objs:
            obj.updated_at = at
        fields = [*fields, "updated_at"]
    _bulk_update(model, objs, fields)
    _history_write(model, objs, history_type="~", system=system)


def _history_write(model, objs: list, *, history_type: str, system) -> None:
    """The history rows of objects just inserted ("+") or updated ("~"), as `save_with_history`
    would write them: the system user, each object's `_change_reason`. On PostgreSQL they are copied
    from the rows just written, in one `INSERT … SELECT` (building a historical instance and adapting
    its twenty values in Python was a fifth of the batch); elsewhere simple-history's
    `bulk_history_create` builds them from the instances."""
    try:
        if connection.vendor != "postgresql":
            model.history.bulk_history_create(objs, update=history_type == "~", default_user=system)
            return
        history = model.history.model
        table, pk = model._meta.db_table, model._meta.pk.column
        tracked = [connection.ops.quote_name(f.column) for f in history.tracked_fields]
        q = connection.ops.quote_name
        sql = (
            f"INSERT INTO {q(history._meta.db_table)} ({', '.join(tracked)}, history_date, history_change_reason, "  # noqa: S608 - identifiers from _meta
            f"history_type, history_user_id) "
            f"SELECT {', '.join(f't.{c}' for c in tracked)}, %s, v.reason, %s, %s "
            f"FROM {q(table)} AS t JOIN unnest(string_to_array(%s, ',')::bigint[], %s::text[]) "
            f"WITH ORDINALITY AS v(id, reason, n) ON t.{q(pk)} = v.id ORDER BY v.n"
        )
        params = [
            timezone.now(),
            history_type,
            system.pk if system is not None else None,
            ",".join(str(obj.pk) for obj in objs),
            [getattr(obj, "_change_reason", "") for obj in objs],
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    finally:
        for obj in objs:
            obj.__dict__.pop("_change_reason", None)


def _bulk_update(model, objs: list, fields: list[str]) -> None:
    """`bulk_update` builds a `CASE WHEN id = … THEN …` per field and row: a third of the batch's
    time at 500 rows. On PostgreSQL one `UPDATE … FROM (VALUES …)` joins the new values instead."""
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, fields)
        return
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    types = [c.rel_db_type(connection) if c.is_relation else c.db_type(connection) for c in columns]
    types[0] = meta.pk.rel_db_type(connection)  # "bigint", not "bigserial"
    row = "(" + ", ".join(f"%s::{t}" for t in types) + ")"
    params = [column.get_db_prep_save(getattr(obj, column.attname), connection) for obj in objs for column in columns]
    names = [connection.ops.quote_name(c.column) for c in columns]
    sets = ", ".join(f"{name} = v.{name}" for name in names[1:])
    table = connection.ops.quote_name(meta.db_table)
    values = ", ".join([row] * len(objs))
    # Identifiers from the model's _meta, every value a parameter.
    sql = f"UPDATE {table} AS t SET {sets} FROM (VALUES {values}) AS v({', '.join(names)}) WHERE t.{names[0]} = v.{names[0]}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# --- Who is told --------------------------------------------------------------------------------


class Supervisors:
    """The active supervisors of departments, loaded once for a batch (one query). Only supervisors:
    the number of rows a firing writes must not grow with a department's caseworkers."""

    def __init__(self, department_ids: set[int]) -> None:
        self._by_department: dict[int, list] = defaultdict(list)
        memberships = Membership.objects.filter(
            ended_at__isnull=True, role=Role.SUPERVISOR, department_id__in=department_ids, user__is_active=True
        ).select_related("user")
        for m in memberships.order_by("pk"):
            self._by_department[m.department_id].append(m.user)

    def of(self, department_id: int | None) -> list:
        return list(self._by_department.get(department_id, ())) if department_id is not None else []


def recipients_for_level(
    *,
    level: int,
    timer: Timer,
    case: Case,
    referral: Referral | None,
    desk_id: int | None,
    supervisors: Supervisors,
    assignees: dict | None = None,
) -> list:
    """DESIGN §7, as docs/timers.md "Who is told" reads it:
    L1 "to the receiving department": its supervisors, and the worker who holds the item (the
    referral's assigned worker; for a stall clock, the case's lead worker). Its caseworkers see the
    waiting handoffs in their inbox, so they are not written a row each (it grew with the staff).
    L2: that department's supervisors and the case lead (the lead worker, or else the lead
    department's supervisors). L3: the social_welfare (desk) supervisors. A follow-up (rule
    `followup`): L1 its assignee, L2 the supervisors of the assignee's department."""
    if timer.target == Target.FOLLOWUP:
        holder = (assignees or {}).get(timer.object_key)
        return ([holder] if holder is not None else []) if level == 1 else supervisors.of(timer.department_id)
    if level == 1:
        holder = case.lead_worker if timer.target == Target.CASE else getattr(referral, "assigned_worker", None)
        return [*supervisors.of(timer.department_id), *([holder] if holder is not None else [])]
    if level == 2:
        lead = [case.lead_worker] if case.lead_worker_id else supervisors.of(case.lead_department_id)
        return [*supervisors.of(timer.department_id), *lead]
    return supervisors.of(desk_id)


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
