"""Reach: the queryset form of "which cases / referrals / escalations may this user see" (Wagtail's
`instances_user_has_permission_for`), beside the per-object answers of `decisions.py` and equal to them
(`cases_reach` ⇔ `can_view_case`, `referrals_reach` ⇔ `can_view_referral`; tests/access/test_reach.py
cross-checks them over generated cases).

Each function returns a `Q` over its model, so a selector composes it with its own filters,
`select_related` and the access log: `Case.objects.select_related(...).filter(policy.cases_reach(user))`.
Reach through rows is an `Exists(...)` over the direct-FK guardian tables (never
`get_objects_for_user`, which loads rows into Python); auditors and the desk supervisor reach
everything from their role. No module outside `access/` builds reach itself (tests/access/test_reach.py).

The guardian and case models are imported inside the functions: `cases.models` imports the policy
(`__init__.py`), so the policy cannot import them when it loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from referral_engine.access.permissions import permission_ids
from referral_engine.access.policy.principals import Principal, principal
from referral_engine.cases.choices import OPEN_REFERRAL_STATES, WatchState

if TYPE_CHECKING:
    from referral_engine.accounts.models import Department
    from referral_engine.cases.models import Case, Referral
    from referral_engine.timers.models import Escalation

EVERYTHING = Q()
NOTHING = Q(pk__in=[])  # Django answers it without a query, as it does `.none()`

CASE_VIEW = ("view_case_full", "view_case_limited")


# --- Rows that give reach -----------------------------------------------------------------------


def _case_rows(p: Principal, case_id: str, codenames: tuple[str, ...] = CASE_VIEW) -> Q:
    """The user's or their departments' view rows on the case whose id is the outer query's `case_id`."""
    from referral_engine.access.models import CaseGroupObjectPermission, CaseUserObjectPermission

    view = permission_ids("case", *codenames)
    by_group = CaseGroupObjectPermission.objects.filter(
        p.group_reach(), content_object_id=OuterRef(case_id), permission_id__in=view
    )
    by_user = CaseUserObjectPermission.objects.filter(
        content_object_id=OuterRef(case_id), user_id=p.user_id, permission_id__in=view
    )
    return Q(Exists(by_group)) | Q(Exists(by_user))


def _referral_rows(p: Principal) -> Q:
    """The user's or their departments' `view_referral` rows on the referral itself."""
    from referral_engine.access.models import ReferralGroupObjectPermission, ReferralUserObjectPermission

    view = permission_ids("referral", "view_referral")
    by_group = ReferralGroupObjectPermission.objects.filter(
        p.group_reach(), content_object_id=OuterRef("pk"), permission_id__in=view
    )
    by_user = ReferralUserObjectPermission.objects.filter(
        content_object_id=OuterRef("pk"), user_id=p.user_id, permission_id__in=view
    )
    return Q(Exists(by_group)) | Q(Exists(by_user))


# --- What a user may see ------------------------------------------------------------------------


def cases_reach(user: Any) -> Q:
    """Cases the user may open, at any level (`can_view_case`)."""
    p = principal(user)
    if p.reaches_every_case:
        return EVERYTHING
    if not p.is_staff_member:
        return NOTHING
    return _case_rows(p, "pk")


def cases_full_reach(user: Any) -> Q:
    """Cases the user sees whole, sensitive records included (`can_see_sensitive`): what gives reach
    to the person's record (access/policy/persons.py)."""
    p = principal(user)
    if p.reaches_every_case:
        return EVERYTHING
    if not p.is_staff_member:
        return NOTHING
    return _case_rows(p, "pk", ("view_case_full",))


def referrals_reach(user: Any) -> Q:
    """Referrals the user may open (`can_view_referral`): through rows on the referral itself (a
    department keeps its own declined referral) or through reach to its case."""
    p = principal(user)
    if p.reaches_every_case:
        return EVERYTHING
    if not p.is_staff_member:
        return NOTHING
    return _referral_rows(p) | _case_rows(p, "case_id")


def escalations_reach(user: Any) -> Q:
    """Escalations addressed to the user's departments; for staff whose reach starts with their
    membership, only those about cases they reach (the staff-move rule, docs/permissions.md)."""
    p = principal(user)
    if p.reaches_every_case:
        return EVERYTHING
    if not p.is_staff_member:
        return NOTHING
    reach = Q(department_id__in=p.department_ids)
    if p.group_since:
        from referral_engine.cases.models import Case

        reach &= Q(case__in=Case.objects.filter(cases_reach(user)).values("pk"))
    return reach


def inbox_reach(user: Any) -> Q:
    """Referrals addressed to one of the user's departments, as its queue. Waiting handoffs are current
    work for the whole department, a newcomer included (`grants.department_queue_renew`)."""
    p = principal(user)
    if not p.is_staff_member:
        return NOTHING
    return Q(to_department_id__in=p.department_ids)


def in_progress_reach(user: Any) -> Q:
    """Referrals addressed to the user's departments as work taken on: a caseworker who joined later
    sees the work handed to them, not the department's older handoffs (the staff-move rule)."""
    p = principal(user)
    if not p.is_staff_member:
        return NOTHING
    reach = Q(to_department_id__in=p.department_ids)
    if p.group_since:
        reach &= _referral_rows(p)
    return reach


def watch_requests_reach(user: Any) -> Q:
    """Watch requests a connector sees (`can_view_watch_request` for connectors): their districts'
    open requests not past `until`. Staff reach a request through its case, never through this list."""
    p = principal(user)
    if not p.is_connector or not p.district_ids:
        return NOTHING
    return Q(district_id__in=p.district_ids, state=WatchState.OPEN, until__gte=timezone.localdate())


# --- Whose figures a dashboard counts -----------------------------------------------------------


@dataclass(frozen=True)
class DashboardScope:
    """The whole desk (the desk supervisor, auditors) or the user's departments: what they lead, the
    handoffs they send or receive, the escalations addressed to them."""

    all: bool
    department_ids: frozenset[int]

    def cases(self, qs: QuerySet[Case]) -> QuerySet[Case]:
        if self.all:
            return qs
        from referral_engine.cases.models import Referral

        involved = Referral.objects.filter(
            case=OuterRef("pk"), to_department_id__in=self.department_ids, state__in=OPEN_REFERRAL_STATES
        )
        return qs.filter(Q(lead_department_id__in=self.department_ids) | Exists(involved))

    def referrals(self, qs: QuerySet[Referral]) -> QuerySet[Referral]:
        if self.all:
            return qs
        return qs.filter(Q(to_department_id__in=self.department_ids) | Q(from_department_id__in=self.department_ids))

    def escalations(self, qs: QuerySet[Escalation]) -> QuerySet[Escalation]:
        return qs if self.all else qs.filter(department_id__in=self.department_ids)

    def departments(self, qs: QuerySet[Department]) -> QuerySet[Department]:
        return qs if self.all else qs.filter(pk__in=self.department_ids)


def dashboard_reach(user: Any) -> DashboardScope:
    """The scope of the user's dashboard; whether they may open one at all is `can_view_dashboard`."""
    p = principal(user)
    return DashboardScope(all=p.reaches_every_case, department_ids=p.department_ids)


# --- Fiscal-year reports (issue 21) ---------------------------------------------------------------


@dataclass(frozen=True)
class ReportScope:
    """Whose figures a fiscal-year report counts: everything (`all`), or what concerns these
    departments (the reports selectors turn it into filters: docs/reports.md)."""

    all: bool
    department_ids: frozenset[int]


def report_scope(user: Any) -> ReportScope:
    """The desk supervisor, auditors and admins count the whole desk; another supervisor the
    departments they supervise; anybody else nothing (callers check `can_view_reports` first)."""
    p = principal(user)
    everything = p.reaches_every_case or p.is_admin
    if everything or (getattr(user, "is_active", False) and getattr(user, "is_superuser", False)):
        return ReportScope(all=True, department_ids=frozenset())
    return ReportScope(all=False, department_ids=p.supervisor_department_ids)
