"""The one path that records escalations (issue 15, item 2): the sweep fires a batch of due levels
through `escalations_fire`, the immediate rules (the runaround, たらい回し) fire one through the same
function. Whatever the size, a firing writes, with a fixed number of statements:

1. the escalation rows and their history rows (the unique constraint on (object, rule, cycle, level)
   has the last word on "at most once": a level recorded meanwhile is skipped, not doubled);
2. at L3, the はざま flag on the case, with its history row ("はざま: L3 <rule>");
3. the timeline rows, through `cases/events.py` (`escalation_fired`, then `gap_flagged`);
4. the outbox rows, to the people `escalation_recipients` names (or the firing's own recipients).

The bulk writers below (`bulk_update_with_history`, `history_write`) take each row's history reason
as an argument: nothing is stashed on the instances.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from referral_engine.accounts.models import Department, Membership, User
from referral_engine.accounts.roles import DESK_DEPARTMENT_CODE, Role
from referral_engine.cases import events
from referral_engine.cases.models import Case, CaseEvent, Referral
from referral_engine.notifications.services import Outgoing, notifications_queue_many
from referral_engine.timers import calendar
from referral_engine.timers.models import Escalation, Timer
from referral_engine.timers.policies import Target

LEVEL_TITLES = {
    1: "【L1 注意】期限の半分が過ぎました",
    2: "【L2 期限超過】期限を過ぎました",
    3: "【L3 はざま】期限後も対応がありません",
}
TARGET_TITLES = {
    Target.REFERRAL: "つなぎの受理",
    Target.CASE: "ケースの停滞",
    Target.STAGE: "部署内の段階",
}


def desk_department_id() -> int | None:
    """The social_welfare department (None before the organisation is seeded)."""
    return Department.objects.filter(code=DESK_DEPARTMENT_CODE).values_list("pk", flat=True).first()


@dataclass
class Firing:
    """One level of one (object, rule, cycle) to record. `recipients=None`: the level's rule decides
    (`escalation_recipients`); an immediate rule may name its own."""

    case: Case
    referral: Referral | None
    object_key: str
    rule: str
    rule_name: str
    target: str
    cycle: int
    level: int
    department_id: int
    due_at: datetime
    recipients: list[User] | None = None
    escalation: Escalation | None = None  # set once recorded

    @classmethod
    def of_timer(cls, timer: Timer, *, case: Case, referral: Referral | None, rule_name: str, level: int) -> Firing:
        return cls(
            case=case,
            referral=referral,
            object_key=timer.object_key,
            rule=timer.rule,
            rule_name=rule_name,
            target=timer.target,
            cycle=timer.cycle,
            level=level,
            department_id=timer.department_id,
            due_at=timer.due_at,
        )

    @property
    def key(self) -> tuple[str, str, int, int]:
        return (self.object_key, self.rule, self.cycle, self.level)


# --- Who is told --------------------------------------------------------------------------------


class Supervisors:
    """The active supervisors of departments, loaded once for a batch (one query). Only supervisors:
    the number of rows a firing writes must not grow with a department's caseworkers."""

    def __init__(self, department_ids: Iterable[int | None]) -> None:
        self._by_department: dict[int, list[User]] = defaultdict(list)
        wanted = {d for d in department_ids if d is not None}
        if not wanted:
            return
        memberships = Membership.objects.filter(
            ended_at__isnull=True, role=Role.SUPERVISOR, department_id__in=wanted, user__is_active=True
        ).select_related("user")
        for m in memberships.order_by("pk"):
            self._by_department[m.department_id].append(m.user)

    def of(self, department_id: int | None) -> list[User]:
        return list(self._by_department.get(department_id, ())) if department_id is not None else []


def escalation_recipients(firing: Firing, *, desk_id: int | None, supervisors: Supervisors) -> list[User]:
    """DESIGN §7, as docs/timers.md "Who is told" reads it, for every firing path:
    L1 "to the receiving department": its supervisors, and the worker who holds the item (the
    referral's assigned worker; for a stall clock, the case's lead worker). Its caseworkers see the
    waiting handoffs in their inbox, so they are not written a row each (it grew with the staff).
    L2: that department's supervisors and the case lead (the lead worker, or else the lead
    department's supervisors). L3 (and the runaround): the social_welfare (desk) supervisors.
    A follow-up (rule `followup`, issue 18): L1 its assignee (named by the sweep, `followups_address`),
    L2 the supervisors of the assignee's department."""
    if firing.recipients is not None:
        return list(firing.recipients)
    if firing.target == Target.FOLLOWUP:
        return supervisors.of(firing.department_id) if firing.level >= 2 else []
    case, referral = firing.case, firing.referral
    if firing.level == 1:
        holder = case.lead_worker if firing.target == Target.CASE else getattr(referral, "assigned_worker", None)
        return [*supervisors.of(firing.department_id), *([holder] if holder is not None else [])]
    if firing.level == 2:
        lead = [case.lead_worker] if case.lead_worker_id else supervisors.of(case.lead_department_id)
        return [*supervisors.of(firing.department_id), *lead]
    return supervisors.of(desk_id)


# --- The one firing path ------------------------------------------------------------------------


def escalations_fire(
    firings: Sequence[Firing], *, now: datetime, system: User, desk_id: int | None = None
) -> list[Firing]:
    """Record `firings` in the caller's transaction (see the module's docstring) and return those
    that made a new escalation (`firing.escalation` set); the others had fired already."""
    fresh = _escalations_create(list(firings), now=now, system=system)
    if not fresh:
        return []
    rows: list[CaseEvent] = []  # timeline rows, inserted together
    flagged: list[Case] = []
    flag_reasons: list[str] = []
    messages: list[Outgoing] = []
    supervisors = Supervisors(
        {f.department_id for f in fresh if f.recipients is None}
        | {f.case.lead_department_id for f in fresh if f.recipients is None and f.level == 2}
        | ({desk_id} if any(f.recipients is None and f.level == 3 for f in fresh) else set())
    )
    for firing in fresh:
        case, escalation, level = firing.case, firing.escalation, firing.level
        rows.append(
            events.escalation_fired(escalation=escalation, actor=system, rule_name=firing.rule_name, commit=False)
        )
        if level == 3 and not case.is_gap:
            case.is_gap = True
            flagged.append(case)
            flag_reasons.append(f"はざま: L3 {firing.rule}")
            rows.append(
                events.gap_flagged(escalation=escalation, actor=system, rule_name=firing.rule_name, commit=False)
            )
        due_local = timezone.localtime(firing.due_at, calendar.office_tz())
        messages.append(
            Outgoing(
                recipients=escalation_recipients(firing, desk_id=desk_id, supervisors=supervisors),
                kind=f"escalation_l{level}",
                title=f"{LEVEL_TITLES[level]}: {case.number} {TARGET_TITLES.get(firing.target, firing.rule_name)}",
                body=f"{firing.rule_name}\n{_('期限')}: {due_local:%Y-%m-%d %H:%M}",
                case_id=case.pk,
                referral_id=firing.referral.pk if firing.referral else None,
                escalation_id=escalation.pk,
            )
        )
    if flagged:
        bulk_update_with_history(Case, flagged, ["is_gap"], reasons=flag_reasons, system=system)
    events.events_save(rows)
    notifications_queue_many(messages)
    return fresh


def _escalations_create(firings: list[Firing], *, now: datetime, system: User) -> list[Firing]:
    """Insert the escalations not recorded yet, with their history rows; return the firings that
    made one. The unique constraint (object, rule, cycle, level) has the last word: a level another
    transaction recorded between our read and our INSERT makes the bulk INSERT fail in its savepoint,
    and the batch falls back to one savepoint per escalation, skipping the ones that exist."""
    if not firings:
        return []
    done = _recorded_keys(firings)
    todo = [f for f in firings if f.key not in done]
    for firing in todo:
        firing.escalation = Escalation(
            object_key=firing.object_key,
            rule=firing.rule,
            cycle=firing.cycle,
            level=firing.level,
            case=firing.case,
            referral=firing.referral,
            department_id=firing.department_id,
            due_at=firing.due_at,
            fired_at=now,
        )
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
        history_write(
            Escalation, created, reasons=[f"L{f.level} {f.rule}" for f in todo], history_type="+", system=system
        )
    return todo


def _recorded_keys(firings: list[Firing]) -> set[tuple[str, str, int, int]]:
    """The (object, rule, cycle, level) already recorded among the batch's objects (one query)."""
    keys = Escalation.objects.filter(object_key__in={f.object_key for f in firings})
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


# --- Bulk writes with history ---------------------------------------------------------------------


def bulk_update_with_history(model, objs: list, fields: list[str], *, reasons: list[str], system: User) -> None:
    """`save_with_history(obj, update_fields=fields, reason=reasons[i])` for many objects: one UPDATE
    (with `updated_at`, which `bulk_update` does not set by itself) and one INSERT of history rows
    ("~", the system user)."""
    at = timezone.now()
    if any(f.name == "updated_at" for f in model._meta.concrete_fields):
        for obj in objs:
            obj.updated_at = at
        fields = [*fields, "updated_at"]
    _bulk_update(model, objs, fields)
    history_write(model, objs, reasons=reasons, history_type="~", system=system)


def history_write(model, objs: list, *, reasons: list[str], history_type: str, system: User | None) -> None:
    """The history rows of objects just inserted ("+") or updated ("~"), as `save_with_history`
    would write them: the system user, `reasons[i]` for `objs[i]`. On PostgreSQL they are copied
    from the rows just written, in one `INSERT … SELECT` (building a historical instance and adapting
    its twenty values in Python was a fifth of the batch); elsewhere simple-history's
    `bulk_history_create` builds them from the instances, one call per run of equal reasons."""
    if len(reasons) != len(objs):
        raise ValueError("one history reason per object")
    if connection.vendor != "postgresql":
        pairs = list(zip(objs, reasons, strict=True))
        for reason, run in itertools.groupby(pairs, key=lambda pair: pair[1]):
            model.history.bulk_history_create(
                [obj for obj, _reason in run],
                update=history_type == "~",
                default_user=system,
                default_change_reason=reason,
            )
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
        list(reasons),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


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
