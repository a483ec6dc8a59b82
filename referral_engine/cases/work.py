"""My work (issue 18, DESIGN §11.3): what reaches a member of staff when they open the engine — the
referrals assigned to them, the cases they (or, for a supervisor, their department) lead, their
departments' waiting handoffs, their follow-ups due within a week or overdue, setbacks (declined or
returned handoffs they asked for or of cases they lead that nobody acted on since), and for the
desk the community slips not triaged yet. `GET /api/v1/me/work/` and the staff home `/` read it.

Every section is one query for its first `limit` rows and one for its count, whatever the data
(tests/work/test_my_work.py holds the budget at two sizes). Counts stop at 1,000 (`count_capped`:
"1,000件以上"), as the lists do: a supervisor's department leads 75,000 open cases at a million. The page that lists each in full is
the edge's to say (`web/work_urls.py`: links are built at the edge). `urgent_items` picks, from the rows read, what must be seen first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from referral_engine.access import policy
from referral_engine.accounts.roles import DESK_DEPARTMENT_CODE
from referral_engine.cases import selectors, triage
from referral_engine.cases.choices import CaseState, EventKind, ReferralState, SlipUrgency
from referral_engine.cases.models import Case, CommunitySlip, Referral

LIMIT = 50
COUNT_CAP = 1000  # counts stop here, as the lists' do (`referral_engine.pagination.COUNT_CAP`, an edge)
FOLLOWUP_DAYS_AHEAD = 7
SECTIONS = ("assigned", "led_cases", "inbox", "followups", "setbacks", "slips")
SETBACK_STATES = (ReferralState.DECLINED, ReferralState.RETURNED)
# What counts as "someone acted" on a case after a setback: a new referral, a case transition, a note
# or visit, a new lead — not the timers' escalations or the setback itself.
ACTED_KINDS = (
    EventKind.REFERRAL_REQUESTED,
    EventKind.CASE_TRANSITION,
    EventKind.ACTIVITY,
    EventKind.LEAD_CHANGED,
    EventKind.REFERRAL_ASSIGNED,
)


@dataclass
class Section:
    name: str
    items: list[Any]
    count: int  # at most COUNT_CAP
    count_capped: bool = False  # more than `count`


@dataclass
class MyWork:
    sections: dict[str, Section]
    today: date
    urgent: list[dict[str, Any]] = field(default_factory=list)

    def __getitem__(self, name: str) -> Section:
        return self.sections[name]


def is_desk_staff(user: Any) -> bool:
    p = policy.principal(user)
    return p.is_staff_member and DESK_DEPARTMENT_CODE in p.department_codes


def led_cases(user: Any) -> QuerySet[Case]:
    """Open cases I lead; for a supervisor, also those their departments lead."""
    p = policy.principal(user)
    mine = Q(lead_worker_id=p.user_id)
    if p.supervisor_department_ids:
        mine |= Q(lead_department_id__in=p.supervisor_department_ids)
    return triage.cases_with_deadline(  # the row's deadline badge (issue 18 item 4)
        selectors.cases_visible_to(user).filter(mine).exclude(state=CaseState.CLOSED)
    ).order_by("stall_due_at", "-last_touched_at", "id")


def setbacks(user: Any) -> QuerySet[Referral]:
    """Declined or returned referrals I requested or of cases I (a supervisor: my departments) lead,
    on open cases, that nobody has acted on since (`ACTED_KINDS` after the setback): the stored
    `Referral.setback_open`, which the database keeps (migration cases/0010), through its partial index.
    (Computed here, an anti-join over each case's events, it was 1.0 s of `/` at a million cases.)"""
    p = policy.principal(user)
    # A worker: the cases I lead as a subquery on the referral's own row (case_led_open_idx), not a
    # condition on the joined case, so PostgreSQL tests "mine" before the reach's EXISTS, on my few rows
    # rather than every open setback of the city (22 -> 5 ms at a million). A supervisor's departments
    # lead tens of thousands of open cases: for them the join stays (the subquery took 0.2 s).
    if p.supervisor_department_ids:
        concerned = (
            Q(requested_by_id=p.user_id)
            | Q(case__lead_worker_id=p.user_id)
            | Q(case__lead_department_id__in=p.supervisor_department_ids)
        )
    else:
        led_by_me = Case.objects.filter(lead_worker_id=p.user_id).exclude(state=CaseState.CLOSED).values("pk")
        concerned = Q(requested_by_id=p.user_id) | Q(case_id__in=led_by_me)
    return (
        selectors.referrals_visible_to(user)
        .filter(concerned, setback_open=True)
        .exclude(case__state=CaseState.CLOSED)
        .order_by("-updated_at", "-id")
    )


def untriaged_slips(user: Any) -> QuerySet[CommunitySlip]:
    """Community slips the desk has not triaged: their case is still 受付 with no referral and no lead
    worker. Desk staff only (none for anybody else)."""
    if not is_desk_staff(user):
        return CommunitySlip.objects.none()
    referred = Referral.objects.filter(case_id=OuterRef("case_id"))
    return (
        CommunitySlip.objects.select_related("district", "case")
        .filter(case__in=Case.objects.filter(policy.cases_reach(user)).values("pk"))
        .filter(case__state=CaseState.RECEIVED, case__lead_worker__isnull=True)
        .filter(~Exists(referred))
        .order_by("-urgency", "created_at", "id")  # "urgent" sorts after "normal": descending puts it first
    )


def section_queryset(user: Any, name: str, *, today: date | None = None) -> QuerySet:
    today = today or timezone.localdate()
    if name == "assigned":
        return selectors.referrals_assigned_to(user)
    if name == "led_cases":
        return led_cases(user)
    if name == "inbox":
        return selectors.referrals_inbox(user)
    if name == "followups":
        return selectors.followups_mine(user, due_by=today + timedelta(days=FOLLOWUP_DAYS_AHEAD))
    if name == "setbacks":
        return setbacks(user)
    if name == "slips":
        return untriaged_slips(user)
    raise KeyError(name)


def my_work(user: Any, *, limit: int = LIMIT, now: Any = None) -> MyWork:
    """Every section of my work, each with its first `limit` rows and its count (staff only: the
    callers check `policy.can_view_inbox`)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    sections = {}
    for name in SECTIONS:
        qs = section_queryset(user, name, today=today)
        items = list(qs[:limit])
        # Always asked (the number of queries must not depend on the data), up to COUNT_CAP + 1 rows.
        count = qs.order_by().values("pk")[: COUNT_CAP + 1].count()
        sections[name] = Section(name=name, items=items, count=min(count, COUNT_CAP), count_capped=count > COUNT_CAP)
    work = MyWork(sections=sections, today=today)
    work.urgent = urgent_items(work, now=now)
    return work


def urgent_items(work: MyWork, *, now: Any) -> list[dict[str, Any]]:
    """What must be seen first: urgent or overdue handoffs (waiting for my departments or assigned to
    me), my overdue follow-ups, urgent community slips."""
    found: list[dict[str, Any]] = []
    seen: set[int] = set()
    for name in ("inbox", "assigned"):
        for referral in work[name].items:
            overdue = referral.state == ReferralState.REQUESTED and referral.due_at and referral.due_at <= now
            if (referral.urgent or overdue) and referral.pk not in seen:
                seen.add(referral.pk)
                found.append(
                    {
                        "kind": "referral",
                        "id": referral.pk,
                        "case": referral.case_id,
                        "case_number": referral.case.number,
                        "reason": "urgent" if referral.urgent else "overdue",
                        "due_at": referral.due_at,
                    }
                )
    for followup in work["followups"].items:
        if followup.due_on < work.today:
            found.append(
                {
                    "kind": "followup",
                    "id": followup.pk,
                    "case": followup.case_id,
                    "case_number": followup.case.number,
                    "reason": "overdue",
                    "due_on": followup.due_on,
                }
            )
    for slip in work["slips"].items:
        if slip.urgency == SlipUrgency.URGENT:
            found.append(
                {
                    "kind": "slip",
                    "id": slip.pk,
                    "case": slip.case_id,
                    "case_number": slip.case.number,
                    "reason": "urgent",
                }
            )
    return found
