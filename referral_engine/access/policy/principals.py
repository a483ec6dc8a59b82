"""Who the user is in the organisation right now: roles, departments, districts, groups (one query per
user object, cached on it). Every decision and every reach of the policy starts here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q

from referral_engine.accounts.models import Membership
from referral_engine.accounts.roles import DESK_DEPARTMENT_CODE, STAFF_ROLES, Role
from referral_engine.bound_queries import bound_rows

# What the policy caches on a user object (getattr/setattr, not __dict__: request.user is a lazy proxy).
PRINCIPAL_CACHE = "_principal"
CASE_PERMS_CACHE = "_case_perms"
REFERRAL_PERMS_CACHE = "_referral_perms"
PERSON_VIEW_CACHE = "_person_views"  # access.policy.persons: what of a person the user sees


def reach_q(whole: Any, scoped: Any) -> Q:
    """`Principal.group_reach` from its values (`group_reach_values`)."""
    reach = Q(group_id__in=list(whole))
    for group_id, since in scoped:
        reach |= Q(group_id=group_id, granted_at__gte=since)
    return reach


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
    # The system principal (the sweep, the timers, commands acting for the city): no role and no
    # department, so no rule for people lets it in; only the rules that name it do.
    is_system: bool = False
    # The departments themselves (rows read with the memberships), for the writers that need the
    # actor's window (`cases.services.departments.actor_department`) without reading them again.
    departments: tuple[Any, ...] = field(default=(), compare=False, repr=False)

    def group_reach(self) -> Q:
        """The group-permission rows that give this user reach (the staff-move rule: a caseworker who
        joins a department sees what events grant the department from then on, not its old cases)."""
        return reach_q(*self.group_reach_values())

    def group_reach_values(self) -> tuple[tuple[int, ...], tuple[tuple[int, datetime], ...]]:
        """What `group_reach` is made of: the groups that count whole, and the membership-scoped
        groups with the start of their reach (each sorted)."""
        scoped = dict(self.group_since)
        return tuple(sorted(self.group_ids - scoped.keys())), tuple(sorted(scoped.items()))

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
    def reaches_every_case(self) -> bool:
        """Auditors and the desk supervisor get their reach from their role, not from per-object rows."""
        return self.is_auditor or self.is_desk_supervisor

    @property
    def can_work(self) -> bool:
        """Caseworkers and supervisors work cases; front desk opens and refers."""
        return bool(self.roles & {Role.CASEWORKER, Role.SUPERVISOR}) and bool(self.department_ids)


# Roles whose department reach starts with their membership; supervisors see everything their
# department is involved in (DESIGN §2), old cases included, so they can hand them on.
MEMBERSHIP_SCOPED_ROLES = frozenset({Role.CASEWORKER, Role.FRONT_DESK})

NOBODY = Principal(None, frozenset(), frozenset(), frozenset(), frozenset(), frozenset(), frozenset())


def principal(user: Any) -> Principal:
    """The user's Principal, computed once per user object (one query, compiled once: `bound_queries`)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return NOBODY
    cached = getattr(user, PRINCIPAL_CACHE, None)
    if cached is not None:
        return cached
    memberships = bound_rows(Membership, _live_memberships, (user.pk,))
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
        is_system=bool(getattr(user, "is_system", False)),
        departments=tuple(sorted({d.pk: d for d in departments}.values(), key=lambda d: d.pk)),
    )
    setattr(user, PRINCIPAL_CACHE, value)
    return value


def _live_memberships(user_id: int) -> Any:
    return Membership.objects.filter(user_id=user_id, ended_at__isnull=True).select_related("department", "district")


def user_cache(user: Any, attr: str) -> dict[int, Any]:
    """A per-user-object cache of object permissions (`CASE_PERMS_CACHE`, `REFERRAL_PERMS_CACHE`)."""
    cache = getattr(user, attr, None)
    if cache is None:
        cache = {}
        setattr(user, attr, cache)
    return cache


def forget(user: Any) -> None:
    """Drop what was cached on the user object (after a membership or grant change)."""
    for attr in (PRINCIPAL_CACHE, CASE_PERMS_CACHE, REFERRAL_PERMS_CACHE, PERSON_VIEW_CACHE):
        try:
            delattr(user, attr)
        except AttributeError:
            pass
