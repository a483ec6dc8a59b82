"""Triage at a glance (issue 18 item 4): the case lists' deadline, sort orders and the filters by
referral stage and assignee. Each is a queryset expression, so a list stays one query for its rows
whatever it shows or however it is sorted (the query budgets hold this).

A case's deadline is the earliest clock that is running on it: the acceptance deadline of a waiting
handoff, the stage deadline of an accepted one, or the case's own stall deadline while it is open and
not on hold.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Case as When_
from django.db.models import Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from referral_engine.access import policy
from referral_engine.accounts.models import User
from referral_engine.accounts.roles import Role
from referral_engine.cases.choices import OPEN_REFERRAL_STATES, CaseState, ReferralState, Risk
from referral_engine.cases.models import Case, Referral
from referral_engine.workflow import registry as workflow_registry

# Sort keys of the case lists (`?sort=`): anything else is the default, newest first.
SORTS = ("urgency", "deadline", "stage", "assignee")
RISK_ORDER = (Risk.URGENT, Risk.HIGH, Risk.NORMAL, Risk.LOW)
STATE_ORDER = tuple(CaseState.values)  # the declaration order is the order of the work
# `?due=`: overdue, due by the end of today, due within seven days.
DUE_FILTERS = ("overdue", "today", "week")


def _rank(field: str, values: tuple[str, ...]) -> When_:
    return When_(
        *[When(**{field: value}, then=Value(i)) for i, value in enumerate(values)],
        default=Value(len(values)),
        output_field=IntegerField(),
    )


def _referral_deadline() -> Subquery:
    """The earliest deadline among the case's open referrals (waiting: 受理期限; accepted: 段階の期限)."""
    due = When_(When(state=ReferralState.REQUESTED, then=F("due_at")), default=F("stage_due_at"))
    rows = (
        Referral.objects.filter(case_id=OuterRef("pk"), state__in=OPEN_REFERRAL_STATES)
        .annotate(deadline=due)
        .filter(deadline__isnull=False)
        .order_by("deadline")
        .values("deadline")[:1]
    )
    return Subquery(rows)


def cases_with_deadline(qs: QuerySet[Case]) -> QuerySet[Case]:
    """Annotate `next_due_at`: the earliest running clock of each case (None: no clock runs)."""
    stall = When_(
        When(state__in=[CaseState.CLOSED, CaseState.ON_HOLD], then=Value(None)),
        default=F("stall_due_at"),
    )
    qs = qs.annotate(referral_due_at=_referral_deadline(), open_stall_due_at=stall)
    # PostgreSQL's LEAST skips NULLs, SQLite's MIN() does not: Coalesce makes both read the same.
    return qs.annotate(
        next_due_at=Coalesce(
            Least("referral_due_at", "open_stall_due_at"), F("referral_due_at"), F("open_stall_due_at")
        )
    )


def cases_sort(qs: QuerySet[Case], sort: str) -> QuerySet[Case]:
    """Order a list annotated by `cases_with_deadline`; an unknown key keeps the model's order."""
    newest = ("-created_at", "-id")
    if sort == "urgency":
        return qs.order_by(_rank("risk", RISK_ORDER), F("next_due_at").asc(nulls_last=True), *newest)
    if sort == "deadline":
        return qs.order_by(F("next_due_at").asc(nulls_last=True), _rank("risk", RISK_ORDER), *newest)
    if sort == "stage":
        return qs.order_by(_rank("state", STATE_ORDER), F("next_due_at").asc(nulls_last=True), *newest)
    if sort == "assignee":
        # Nobody holding the case first: that is what triage looks for.
        return qs.order_by(F("lead_worker__username").asc(nulls_first=True), *newest)
    return qs


def stage_choices() -> list[tuple[str, str, str]]:
    """(value, department code, stage code) for every registered workflow's stages: `?stage=` takes
    `<department>:<stage>` since two departments may name a stage alike."""
    return [
        (f"{workflow.department_code}:{code}", workflow.department_code, code)
        for workflow in workflow_registry.all_workflows()
        for code in workflow.stage_codes
    ]


def _assigned_open(worker: Any) -> Exists:
    return Exists(
        Referral.objects.filter(case_id=OuterRef("pk"), assigned_worker=worker, state__in=OPEN_REFERRAL_STATES)
    )


def cases_triage_filter(
    qs: QuerySet[Case],
    *,
    stage: tuple[str, str] | None = None,
    assignee: Any = None,
    unassigned: bool = False,
    due: str | None = None,
    now: Any = None,
) -> QuerySet[Case]:
    """`stage`: (department, stage) of an accepted referral of the case; `assignee`: cases that user
    leads or holds an open referral of; `unassigned`: nobody leads it and no open referral has a
    worker; `due` (one of DUE_FILTERS, needs `cases_with_deadline` and `now`)."""
    if stage is not None:
        department, code = stage
        qs = qs.filter(
            Exists(
                Referral.objects.filter(
                    case_id=OuterRef("pk"),
                    to_department__code=department,
                    stage=code,
                    state=ReferralState.ACCEPTED,
                )
            )
        )
    if assignee is not None:
        qs = qs.filter(Q(lead_worker=assignee) | _assigned_open(assignee))
    if unassigned:
        held = Referral.objects.filter(
            case_id=OuterRef("pk"), assigned_worker__isnull=False, state__in=OPEN_REFERRAL_STATES
        )
        qs = qs.filter(lead_worker__isnull=True).exclude(Exists(held))
    if due in DUE_FILTERS and now is not None:
        if due == "overdue":
            qs = qs.filter(next_due_at__lt=now)
        elif due == "today":
            end = timezone.localtime(now).replace(hour=23, minute=59, second=59, microsecond=999999)
            qs = qs.filter(next_due_at__lte=end)
        else:
            qs = qs.filter(next_due_at__lte=now + timedelta(days=7))
    return qs


def assignee_choices(user: Any) -> list[Any]:
    """The caseworkers and supervisors of the user's departments (the `?assignee=` select), one query."""
    department_ids = sorted(policy.principal(user).department_ids)
    return list(
        User.objects.filter(
            pk__in=User.objects.filter(
                memberships__department_id__in=department_ids,
                memberships__role__in=[Role.CASEWORKER, Role.SUPERVISOR],
                memberships__ended_at__isnull=True,
                is_active=True,
            ).values("pk")
        ).order_by("username")
    )


# `/inbox/`'s `?sort=`: "urgency" (the case's 緊急度, then the deadline) or "deadline" (the clock only);
# anything else keeps each list's own order (waiting: urgent handoffs first, then the deadline).
INBOX_SORTS = ("urgency", "deadline")


def referrals_triage(
    qs: QuerySet[Referral],
    *,
    deadline_field: str,
    sort: str = "",
    risk: str = "",
    assignee: Any = None,
    unassigned: bool = False,
) -> QuerySet[Referral]:
    """The inbox's lists sorted and filtered: `deadline_field` is the clock of the list (`due_at` for
    waiting handoffs, `stage_due_at` for accepted ones); `risk` the case's 緊急度; `assignee` /
    `unassigned` the referral's worker."""
    if risk:
        qs = qs.filter(case__risk=risk)
    if assignee is not None:
        qs = qs.filter(assigned_worker=assignee)
    if unassigned:
        qs = qs.filter(assigned_worker__isnull=True)
    due = F(deadline_field).asc(nulls_last=True)
    if sort == "urgency":
        return qs.order_by(_rank("case__risk", RISK_ORDER), "-urgent", due, "id")
    if sort == "deadline":
        return qs.order_by(due, "id")
    return qs
