"""Every access decision, in one module (DESIGN §5, CONVENTIONS 4).

Decisions read the guardian rows written by `referral_engine.access.grants` (per-object reach of
departments and assigned users) and the user's roles (auditor, desk supervisor). django-fsm
transitions take these functions as `permission=` callables: `(instance, user) -> bool`.

This module imports no models at import time: `cases.models` imports it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Q

from referral_engine.accounts.roles import DESK_DEPARTMENT_CODE, STAFF_ROLES, Role

if TYPE_CHECKING:
    from referral_engine.cases.models import Case, Referral


class ViewLevel(enum.IntEnum):
    NONE = 0
    LIMITED = 1  # a department whose referral is only requested: summary and referral reason
    FULL = 2  # lead and departments that took the work on
    AUDIT = 3  # auditors: read everything, change nothing


@dataclass(frozen=True)
class Principal:
    """Who the user is in the organisation right now (active memberships only)."""

    user_id: int | None
    roles: frozenset[str]
    department_ids: frozenset[int]
    department_codes: frozenset[str]
    district_ids: frozenset[int]
    group_ids: frozenset[int]
    supervisor_department_ids: frozenset[int]
    # Department groups whose reach starts with the membership (caseworkers and front desk): a grant
    # to the group counts for this user only if an event made or renewed it since `started_at`.
    group_since: tuple[tuple[int, datetime], ...] = ()

    def group_reach(self) -> Q:
        """The group-permission rows that give this user reach (the staff-move rule: a caseworker who
        joins a department sees what events grant the department from then on, not its old cases)."""
        scoped = dict(self.group_since)
        reach = Q(group_id__in=sorted(self.group_ids - scoped.keys()))
        for group_id, since in sorted(scoped.items()):
            reach |= Q(group_id=group_id, granted_at__gte=since)
        return reach

    @property
    def is_staff_member(self) -> bool:
        return bool(self.roles & STAFF_ROLES) and bool(self.department_ids)

    @property
    def is_auditor(self) -> bool:
        return Role.AUDITOR in self.roles

    @property
    def is_connector(self) -> bool:
        return Role.CONNECTOR in self.roles

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @property
    def is_supervisor(self) -> bool:
        return Role.SUPERVISOR in self.roles

    @property
    def is_desk_supervisor(self) -> bool:
        return Role.SUPERVISOR in self.roles and DESK_DEPARTMENT_CODE in self.department_codes

    @property
    def can_work(self) -> bool:
        """Caseworkers and supervisors work cases; front desk opens and refers."""
        return bool(self.roles & {Role.CASEWORKER, Role.SUPERVISOR}) and bool(self.department_ids)


# Roles whose department reach starts with their membership; supervisors see everything their
# department is involved in (DESIGN §2), old cases included, so they can hand them on.
MEMBERSHIP_SCOPED_ROLES = frozenset({Role.CASEWORKER, Role.FRONT_DESK})

NOBODY = Principal(None, frozenset(), frozenset(), frozenset(), frozenset(), frozenset(), frozenset())


def principal(user: Any) -> Principal:
    """The user's Principal, computed once per user object (one query)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return NOBODY
    cached = getattr(user, "_principal", None)
    if cached is not None:
        return cached
    from referral_engine.accounts.models import Membership

    memberships = list(
        Membership.objects.filter(user=user, ended_at__isnull=True).select_related("department", "district")
    )
    roles = {m.role for m in memberships}
    departments = [m.department for m in memberships if m.department_id]
    districts = [m.district for m in memberships if m.district_id]
    value = Principal(
        user_id=user.pk,
        roles=frozenset(roles),
        department_ids=frozenset(d.pk for d in departments),
        department_codes=frozenset(d.code for d in departments),
        district_ids=frozenset(d.pk for d in districts),
        group_ids=frozenset([d.group_id for d in departments] + [d.group_id for d in districts]),
        supervisor_department_ids=frozenset(
            m.department_id for m in memberships if m.role == Role.SUPERVISOR and m.department_id
        ),
        group_since=tuple(
            (m.department.group_id, m.started_at)
            for m in memberships
            if m.department_id and m.role in MEMBERSHIP_SCOPED_ROLES
        ),
    )
    user._principal = value
    return value


def forget(user: Any) -> None:
    """Drop what was cached on the user object (after a membership or grant change)."""
    for attr in ("_principal", "_case_perms", "_referral_perms"):
        try:
            delattr(user, attr)
        except AttributeError:
            pass


# --- Per-object permissions (guardian rows, direct FK tables) -----------------------------------


def _user_cache(user: Any, attr: str) -> dict[int, frozenset[str]]:
    """A per-user-object cache. getattr/setattr, not __dict__: request.user is a lazy proxy."""
    cache = getattr(user, attr, None)
    if cache is None:
        cache = {}
        setattr(user, attr, cache)
    return cache


def case_perms(user: Any, case: Case) -> frozenset[str]:
    p = principal(user)
    if p.user_id is None:
        return frozenset()
    cache = _user_cache(user, "_case_perms")
    if case.pk not in cache:
        from referral_engine.access.models import CaseGroupObjectPermission, CaseUserObjectPermission

        by_group = CaseGroupObjectPermission.objects.filter(p.group_reach(), content_object_id=case.pk)
        by_user = CaseUserObjectPermission.objects.filter(content_object_id=case.pk, user_id=p.user_id)
        cache[case.pk] = frozenset(
            by_group.values_list("permission__codename", flat=True).union(
                by_user.values_list("permission__codename", flat=True)
            )
        )
    return cache[case.pk]


def referral_perms(user: Any, referral: Referral) -> frozenset[str]:
    p = principal(user)
    if p.user_id is None:
        return frozenset()
    cache = _user_cache(user, "_referral_perms")
    if referral.pk not in cache:
        from referral_engine.access.models import ReferralGroupObjectPermission, ReferralUserObjectPermission

        by_group = ReferralGroupObjectPermission.objects.filter(p.group_reach(), content_object_id=referral.pk)
        by_user = ReferralUserObjectPermission.objects.filter(content_object_id=referral.pk, user_id=p.user_id)
        cache[referral.pk] = frozenset(
            by_group.values_list("permission__codename", flat=True).union(
                by_user.values_list("permission__codename", flat=True)
            )
        )
    return cache[referral.pk]


def _perms_prefetch(user: Any, attr: str, ids: set[int], group_model: Any, user_model: Any) -> None:
    p = principal(user)
    if p.user_id is None:
        return
    cache = _user_cache(user, attr)
    missing = {i for i in ids if i is not None and i not in cache}
    if not missing:
        return
    found: dict[int, set[str]] = {}
    by_group = group_model.objects.filter(p.group_reach(), content_object_id__in=missing)
    by_user = user_model.objects.filter(content_object_id__in=missing, user_id=p.user_id)
    rows = by_group.values_list("content_object_id", "permission__codename").union(
        by_user.values_list("content_object_id", "permission__codename")
    )
    for object_id, codename in rows:
        found.setdefault(object_id, set()).add(codename)
    for object_id in missing:
        cache[object_id] = frozenset(found.get(object_id, ()))


def referrals_perms_prefetch(user: Any, referrals: Any) -> None:
    """Load the rows `referral_perms`/`case_perms` read for many referrals in two queries, so a list
    page can ask the policy about every row without one query per row."""
    from referral_engine.access.models import (
        CaseGroupObjectPermission,
        CaseUserObjectPermission,
        ReferralGroupObjectPermission,
        ReferralUserObjectPermission,
    )

    referrals = list(referrals)
    _perms_prefetch(
        user, "_referral_perms", {r.pk for r in referrals}, ReferralGroupObjectPermission, ReferralUserObjectPermission
    )
    _perms_prefetch(
        user, "_case_perms", {r.case_id for r in referrals}, CaseGroupObjectPermission, CaseUserObjectPermission
    )


def cases_perms_prefetch(user: Any, cases: Any) -> None:
    from referral_engine.access.models import CaseGroupObjectPermission, CaseUserObjectPermission

    _perms_prefetch(user, "_case_perms", {c.pk for c in cases}, CaseGroupObjectPermission, CaseUserObjectPermission)


# --- Reading ------------------------------------------------------------------------------------


def case_view_level(user: Any, case: Case) -> ViewLevel:
    p = principal(user)
    if p.is_auditor:
        return ViewLevel.AUDIT
    if p.is_desk_supervisor:
        return ViewLevel.FULL
    if not p.is_staff_member:
        return ViewLevel.NONE
    perms = case_perms(user, case)
    if "view_case_full" in perms:
        return ViewLevel.FULL
    if "view_case_limited" in perms:
        return ViewLevel.LIMITED
    return ViewLevel.NONE


def can_view_case(user: Any, case: Case) -> bool:
    return case_view_level(user, case) > ViewLevel.NONE


def can_see_sensitive(user: Any, case: Case) -> bool:
    return case_view_level(user, case) >= ViewLevel.FULL


def can_view_referral(user: Any, referral: Referral) -> bool:
    p = principal(user)
    if p.is_auditor or p.is_desk_supervisor:
        return True
    if not p.is_staff_member:
        return False
    return "view_referral" in referral_perms(user, referral) or can_view_case(user, referral.case)


def can_view_history(user: Any, case: Case) -> bool:
    """Field-level history: auditors, and those who see the whole case."""
    return case_view_level(user, case) >= ViewLevel.FULL


def can_audit(user: Any) -> bool:
    return principal(user).is_auditor


def can_view_dashboard(user: Any) -> bool:
    p = principal(user)
    return p.is_supervisor or p.is_auditor


def can_open_case(user: Any) -> bool:
    """Every counter receives (DESIGN §2): front desk, caseworkers and supervisors, at their window."""
    return principal(user).is_staff_member


def can_submit_slip(user: Any) -> bool:
    p = principal(user)
    return p.is_connector and bool(p.district_ids)


def can_search_persons(user: Any) -> bool:
    return principal(user).is_staff_member


# --- Writing ------------------------------------------------------------------------------------


def can_work_case(case: Case, user: Any) -> bool:
    """Notes, case transitions, new referrals: staff whose department holds `work_case`."""
    p = principal(user)
    if p.is_auditor or not p.is_staff_member:
        return False
    if p.is_desk_supervisor:
        return True
    return "work_case" in case_perms(user, case)


def can_refer(user: Any, case: Case) -> bool:
    return can_work_case(case, user)


def can_add_activity(user: Any, case: Case) -> bool:
    return can_work_case(case, user)


def can_manage_consent(user: Any, case: Case) -> bool:
    return can_work_case(case, user)


def can_close_case(case: Case, user: Any) -> bool:
    """Closing and reopening belong to the lead department's workers (and the desk supervisor)."""
    p = principal(user)
    if not can_work_case(case, user) or not p.can_work:
        return False
    return p.is_desk_supervisor or case.lead_department_id in p.department_ids


def can_reassign(user: Any, case: Case) -> bool:
    p = principal(user)
    if p.is_desk_supervisor:
        return True
    return case.lead_department_id in p.supervisor_department_ids and can_work_case(case, user)


def can_respond(referral: Referral, user: Any) -> bool:
    """Accept or decline: caseworkers and supervisors of the receiving department."""
    p = principal(user)
    if not p.can_work or p.is_auditor:
        return False
    return referral.to_department_id in p.department_ids and "respond_referral" in referral_perms(user, referral)


def can_cancel(referral: Referral, user: Any) -> bool:
    """Cancel: the requesting side (its department's staff, or the requester)."""
    p = principal(user)
    if not p.is_staff_member or p.is_auditor:
        return False
    if referral.requested_by_id == p.user_id:
        return True
    return referral.from_department_id in p.department_ids and can_work_case(referral.case, user)


def can_work_referral(referral: Referral, user: Any) -> bool:
    """Stages, return and complete: the receiving department once it has taken the work on."""
    p = principal(user)
    if not p.can_work or p.is_auditor:
        return False
    return "work_referral" in referral_perms(user, referral)


def can_assign(user: Any, referral: Referral) -> bool:
    """Name the worker who takes a referral on: the receiving department's supervisors (and the desk
    supervisor), while the referral is open."""
    from referral_engine.cases.choices import OPEN_REFERRAL_STATES

    p = principal(user)
    if referral.state not in OPEN_REFERRAL_STATES:
        return False
    return p.is_desk_supervisor or referral.to_department_id in p.supervisor_department_ids


def can_edit_stage_record(referral: Referral, user: Any) -> bool:
    return can_work_referral(referral, user)


def stage_is_final(referral: Referral) -> bool:
    """`complete` is allowed only at one of the department workflow's final stages."""
    from referral_engine import workflow_registry

    workflow = workflow_registry.get(referral.to_department.code)
    return workflow is not None and workflow.is_final(referral.stage)


def can_acknowledge_escalation(user: Any, escalation: Any) -> bool:
    p = principal(user)
    if not p.is_supervisor:
        return False
    if p.is_desk_supervisor:
        return True
    return bool({escalation.department_id} & p.supervisor_department_ids)


def can_manage_master_data(user: Any) -> bool:
    return bool(getattr(user, "is_superuser", False)) or principal(user).is_admin
