"""Reads of the timers app: escalations a user may see, and the supervisor dashboard's data.

`dashboard_data` runs a fixed number of queries whatever the data (each list and count is one
aggregate in SQL); the page and `GET /api/v1/dashboard/` render what it returns.
"""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import TruncWeek
from django.utils import timezone

from referral_engine.access import policy
from referral_engine.access.policy import DashboardScope
from referral_engine.accounts.models import Department
from referral_engine.cases.choices import CaseState, ReferralState
from referral_engine.cases.models import Case, Referral
from referral_engine.errors import Forbidden
from referral_engine.timers import calendar
from referral_engine.timers.models import Escalation

LIST_LIMIT = 50
CHART_WEEKS = 12
STALL_RUNNING = ~Q(state__in=[CaseState.CLOSED, CaseState.ON_HOLD])
# Written as the condition of `cases.Case`'s partial index `case_open_lead_idx`, so the planner uses it.
CASE_OPEN = ~Q(state=CaseState.CLOSED)
DEPARTMENT_FIGURES = (
    "open_cases",
    "stalled_cases",
    "gap_cases",
    "pending_handoffs",
    "overdue_handoffs",
    "open_escalations",
)
# Referrals that were accepted at some point: their responded_at is the acceptance time.
ACCEPTED_AT_SOME_POINT = (ReferralState.ACCEPTED, ReferralState.COMPLETED, ReferralState.RETURNED)


def escalations_visible_to(user: Any) -> QuerySet[Escalation]:
    """The desk supervisor and auditors see every escalation; staff see their departments' (about
    cases they reach, for those whose reach starts with their membership)."""
    return Escalation.objects.select_related("case", "referral", "department", "acknowledged_by").filter(
        policy.escalations_reach(user)
    )


def dashboard_scope(user: Any) -> DashboardScope:
    """Desk supervisor and auditors: the whole desk; a department supervisor: their department."""
    if not policy.can_view_dashboard(user):
        raise Forbidden()
    return policy.dashboard_reach(user)


class Median(Aggregate):
    """PostgreSQL's percentile_cont(0.5); works on intervals too."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"


def _hours(delta: timedelta | None) -> float | None:
    return None if delta is None else round(delta.total_seconds() / 3600, 1)


def _department(code: str | None, name: str | None) -> dict:
    return {"code": code, "name": name}


def dashboard_data(*, user: Any, now: datetime | None = None) -> dict:
    """Everything the supervisor dashboard shows, scoped to the user (Forbidden for others)."""
    scope = dashboard_scope(user)
    live = now is None
    now = now or timezone.now()
    soon = calendar.office_days_later(now, 1)  # the close of the next office day

    open_cases = scope.cases(Case.objects.filter(CASE_OPEN))
    stalled = open_cases.filter(STALL_RUNNING, stall_due_at__lte=now)
    stalled_rows = list(
        stalled.order_by("stall_due_at", "id").values(
            "id",
            "number",
            "risk",
            "state",
            "last_touched_at",
            "stall_due_at",
            "lead_department__code",
            "lead_department__name_ja",
            "is_gap",
        )[:LIST_LIMIT]
    )
    pending = scope.referrals(Referral.objects.filter(state=ReferralState.REQUESTED, due_at__isnull=False))
    handoff_fields = (
        "id",
        "case_id",
        "case__number",
        "urgent",
        "created_at",
        "due_at",
        "to_department__code",
        "to_department__name_ja",
        "from_department__code",
        "from_department__name_ja",
    )
    overdue_rows = list(pending.filter(due_at__lte=now).order_by("due_at", "id").values(*handoff_fields)[:LIST_LIMIT])
    soon_rows = list(
        pending.filter(due_at__gt=now, due_at__lte=soon).order_by("due_at", "id").values(*handoff_fields)[:LIST_LIMIT]
    )
    gap_rows = list(
        open_cases.filter(is_gap=True)
        .order_by("-last_touched_at", "-id")
        .values(
            "id", "number", "risk", "state", "last_touched_at", "lead_department__code", "lead_department__name_ja"
        )[:LIST_LIMIT]
    )
    escalations = scope.escalations(Escalation.objects.all())
    by_level = {1: 0, 2: 0, 3: 0}
    acknowledged = {1: 0, 2: 0, 3: 0}
    for row in escalations.exclude(state=Escalation.State.RESOLVED).values("level", "state").annotate(n=Count("*")):
        (by_level if row["state"] == Escalation.State.OPEN else acknowledged)[row["level"]] += row["n"]

    figures = _figures(scope, now, escalations, live=live)
    departments = figures["departments"]
    return {
        "generated_at": now,
        "scope": {"all": scope.all, "departments": [d["code"] for d in departments]},
        "totals": {
            "stalled_cases": stalled.count(),
            "overdue_handoffs": pending.filter(due_at__lte=now).count(),
            "gap_cases": open_cases.filter(is_gap=True).count(),
            "open_escalations": sum(by_level.values()),
        },
        "stalled_cases": [
            {
                "id": r["id"],
                "number": r["number"],
                "risk": r["risk"],
                "state": r["state"],
                "lead_department": _department(r["lead_department__code"], r["lead_department__name_ja"]),
                "last_touched_at": r["last_touched_at"],
                "stall_due_at": r["stall_due_at"],
                "untouched_days": round((now - r["last_touched_at"]).total_seconds() / 86400, 1),
                "overdue_hours": _hours(now - r["stall_due_at"]),
                "is_gap": r["is_gap"],
            }
            for r in stalled_rows
        ],
        "overdue_handoffs": [_handoff(r, now) for r in overdue_rows],
        "soon_due_handoffs": [_handoff(r, now) for r in soon_rows],
        "gap_cases": [
            {
                "id": r["id"],
                "number": r["number"],
                "risk": r["risk"],
                "state": r["state"],
                "lead_department": _department(r["lead_department__code"], r["lead_department__name_ja"]),
                "last_touched_at": r["last_touched_at"],
            }
            for r in gap_rows
        ],
        "open_escalations_by_level": {f"L{k}": v for k, v in by_level.items()},
        "acknowledged_escalations_by_level": {f"L{k}": v for k, v in acknowledged.items()},
        "figures_at": figures["figures_at"],
        "departments": departments,
        "acceptance_hours_by_department": figures["acceptance_hours_by_department"],
        "escalations_per_week": figures["escalations_per_week"],
    }


def _figures(scope: DashboardScope, now: datetime, escalations: QuerySet[Escalation], *, live: bool) -> dict:
    """The per-department table and the two charts: aggregates over every open case and twelve weeks
    of acceptances and escalations, the part of the dashboard that grows with the data. They are
    kept for DASHBOARD_FIGURES_SECONDS (default 60: the sweep's minute) per scope; the lists and
    totals above them are always live. A dashboard for a past `now` is never cached."""
    seconds = getattr(settings, "DASHBOARD_FIGURES_SECONDS", 60)
    scope_key = "all" if scope.all else ",".join(map(str, sorted(scope.department_ids)))
    key = f"dashboard-figures:{_figures_version()}:{scope_key}"
    if live and seconds > 0:
        cached = cache.get(key)
        if cached is not None:
            return cached
    # The department table is small: read once, for the per-department counts and the chart's names.
    all_departments = {d.pk: d for d in Department.objects.order_by("id")}
    figures = {
        "figures_at": now,
        "departments": _department_counts(scope, now, all_departments),
        "acceptance_hours_by_department": _acceptance_hours(scope, now, all_departments),
        "escalations_per_week": _escalations_per_week(escalations, now),
    }
    if live and seconds > 0:
        cache.set(key, figures, seconds)
    return figures


FIGURES_VERSION_KEY = "dashboard-figures-version"


def _figures_version() -> int:
    return cache.get(FIGURES_VERSION_KEY) or 0


def dashboard_figures_expire() -> None:
    """A person changed what the tiles count (an escalation acknowledged, a はざま cleared): every
    scope's cached department table is dropped, so the table agrees with the tiles on the next load
    (issue 18). The sweep's firings are not expired here: the table says when it was counted."""
    try:
        cache.incr(FIGURES_VERSION_KEY)
    except ValueError:
        cache.set(FIGURES_VERSION_KEY, 1, None)


def _handoff(r: dict, now: datetime) -> dict:
    return {
        "id": r["id"],
        "case": {"id": r["case_id"], "number": r["case__number"]},
        "urgent": r["urgent"],
        "created_at": r["created_at"],
        "due_at": r["due_at"],
        "to_department": _department(r["to_department__code"], r["to_department__name_ja"]),
        "from_department": _department(r["from_department__code"], r["from_department__name_ja"]),
        "overdue_hours": _hours(now - r["due_at"]) if r["due_at"] <= now else None,
        "hours_left": _hours(r["due_at"] - now) if r["due_at"] > now else None,
    }


def _department_counts(scope: DashboardScope, now: datetime, all_departments: dict[int, Department]) -> list[dict]:
    """Per department: open cases it leads, stalled cases it leads, はざま cases it leads, handoffs
    waiting on it and how many are overdue, open escalations addressed to it.

    One pass per table, grouped by department with `COUNT(*) FILTER (WHERE …)`, the three passes in
    one `UNION ALL`: a correlated count per department and figure re-read each department's open
    cases six times (1.5 s at a million cases). The case pass reads `case_open_lead_idx` only
    (what is counted is in the index: `COUNT(*)` or the department, not the id)."""
    departments = [d for d in all_departments.values() if d.is_active and (scope.all or d.pk in scope.department_ids)]
    ids = [d.pk for d in departments]
    cases = _per_department(
        Case.objects.filter(CASE_OPEN, lead_department_id__in=ids),
        "lead_department_id",
        open_cases=Count("*"),
        stalled_cases=Count("lead_department", filter=STALL_RUNNING & Q(stall_due_at__lte=now)),
        gap_cases=Count("lead_department", filter=Q(is_gap=True)),
    )
    referrals = _per_department(
        Referral.objects.filter(state=ReferralState.REQUESTED, to_department_id__in=ids),
        "to_department_id",
        pending_handoffs=Count("*"),
        overdue_handoffs=Count("to_department", filter=Q(due_at__lte=now)),
    )
    escalations = _per_department(
        Escalation.objects.filter(state=Escalation.State.OPEN, department_id__in=ids),
        "department_id",
        open_escalations=Count("*"),
    )
    counts = {d: dict.fromkeys(DEPARTMENT_FIGURES, 0) for d in ids}
    for row in cases.union(referrals, escalations, all=True) if ids else []:
        for figure in DEPARTMENT_FIGURES:
            counts[row["dept"]][figure] += row[figure]
    return [{"code": d.code, "name": d.name_ja, **counts[d.pk]} for d in departments]


def _per_department(qs: QuerySet, department_field: str, **figures: Any) -> QuerySet:
    """One grouped pass: `figures` per department, every other DEPARTMENT_FIGURES column a zero, so
    the passes over cases, referrals and escalations can be one UNION ALL."""
    zero = Value(0, output_field=IntegerField())
    return (
        qs.order_by()
        .values(dept=F(department_field))
        .annotate(**{name: figures.get(name, zero) for name in DEPARTMENT_FIGURES})
    )


def _acceptance_hours(scope: DashboardScope, now: datetime, all_departments: dict[int, Department]) -> list[dict]:
    """Median hours from the request to the acceptance, per receiving department, last 12 weeks.
    Grouped by the department's id (names from `all_departments`): the rows come from the covering
    index `referral_accepted_idx` alone, and the sort before the median stays narrow."""
    waited = ExpressionWrapper(F("responded_at") - F("created_at"), output_field=DurationField())
    accepted = Referral.objects.filter(
        state__in=ACCEPTED_AT_SOME_POINT,
        responded_at__isnull=False,
        created_at__gte=now - timedelta(weeks=CHART_WEEKS),
    )
    if not scope.all:
        # The department's view of acceptance is of the referrals it received.
        accepted = accepted.filter(to_department_id__in=scope.department_ids)
    per_department: dict[int, tuple[int, float | None]] = {}
    if connection.vendor == "postgresql":
        for r in (
            accepted.order_by()
            .values("to_department_id")
            .annotate(n=Count("*"), median=Median(waited, output_field=DurationField()))
        ):
            per_department[r["to_department_id"]] = (r["n"], _hours(r["median"]))
    else:
        # SQLite has no percentile: one query for the durations, the median in Python.
        waits: dict[int, list[float]] = {}
        for department_id, created, responded in accepted.order_by().values_list(
            "to_department_id", "created_at", "responded_at"
        ):
            waits.setdefault(department_id, []).append((responded - created).total_seconds() / 3600)
        per_department = {d: (len(v), round(statistics.median(v), 1)) for d, v in waits.items()}
    rows = [
        {
            "department": _department(all_departments[d].code, all_departments[d].name_ja),
            "accepted": n,
            "median_hours": median,
        }
        for d, (n, median) in per_department.items()
    ]
    return sorted(rows, key=lambda r: r["department"]["code"])


def _escalations_per_week(escalations: QuerySet[Escalation], now: datetime) -> list[dict]:
    """Escalations fired per week (Monday to Sunday, office time zone), the last 12 weeks, oldest first."""
    tz = calendar.office_tz()
    this_monday = timezone.localtime(now, tz).date() - timedelta(days=timezone.localtime(now, tz).weekday())
    first_monday = this_monday - timedelta(weeks=CHART_WEEKS - 1)
    since = datetime.combine(first_monday, datetime.min.time(), tzinfo=tz)
    counts = {
        timezone.localtime(r["week"], tz).date() if isinstance(r["week"], datetime) else r["week"]: r["n"]
        for r in escalations.filter(fired_at__gte=since)
        .annotate(week=TruncWeek("fired_at", tzinfo=tz))
        .order_by()
        .values("week")
        .annotate(n=Count("*"))
    }
    weeks = [first_monday + timedelta(weeks=i) for i in range(CHART_WEEKS)]
    return [{"week": w, "count": counts.get(w, 0)} for w in weeks]
