"""Department lookups shared by the services: a code a client sent, the actor's window, the
department that asks for a referral, and the people a department's notifications go to."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _

from referral_engine.access import policy
from referral_engine.accounts.models import Department, User
from referral_engine.accounts.roles import Role
from referral_engine.bound_queries import bound_rows
from referral_engine.cases.choices import ReferralState
from referral_engine.cases.inputs import clean_code
from referral_engine.cases.models import Case
from referral_engine.errors import Forbidden, InvalidInput


def department_by_code(code: Any, *, field: str) -> Department:
    found = bound_rows(Department, _active_department, (clean_code(code),))  # compiled once: every referral asks
    department = found[0] if found else None
    if department is None:
        raise InvalidInput(
            _("部署が見つかりません。"), fields={field: [_("「%(v)s」という部署はありません。") % {"v": code}]}
        )
    return department


def actor_department(actor: User, department_code: str | None = None) -> Department:
    """The window the actor works at: their (chosen) department."""
    p = policy.principal(actor)
    if not p.department_ids:
        raise Forbidden(_("部署に所属していないため、この操作はできません。"))
    # The principal carries the department rows it read with the memberships (ordered by pk).
    departments = p.departments or tuple(Department.objects.filter(pk__in=p.department_ids).order_by("pk"))
    if department_code:
        code = clean_code(department_code)
        department = next((d for d in departments if d.code == code), None)
        if department is None:
            raise Forbidden(_("所属していない部署の窓口としては受け付けできません。"))
        return department
    return departments[0]


def requesting_department(actor: User, case: Case, code: str | None) -> Department:
    """The actor's department that asks: the one involved in the case, preferring the lead."""
    p = policy.principal(actor)
    if code:
        return actor_department(actor, code)
    ids = p.department_ids
    if case.lead_department_id in ids:
        return case.lead_department
    involved = case.referrals.filter(to_department_id__in=ids, state=ReferralState.ACCEPTED).first()
    if involved:
        return involved.to_department
    if case.intake_department_id in ids:
        return case.intake_department
    return actor_department(actor)


def _active_department(code: str) -> Any:
    return Department.objects.filter(code=code, is_active=True).order_by("pk")[:1]


def department_members(department_id: int, roles: Iterable[str]) -> list[User]:
    """The department's active users in these roles (compiled once per number of roles: a referral's
    notification asks for its receiving department's)."""
    roles = [str(role) for role in roles]  # plain strings: a choice is a str and an Enum
    return bound_rows(User, _members, (int(department_id), *roles), shape=len(roles))


def _members(department_id: int, *roles: str) -> Any:
    return User.objects.filter(
        memberships__department_id=department_id,
        memberships__role__in=roles,
        memberships__ended_at__isnull=True,
        is_active=True,
    ).distinct()


def lead_recipients(case: Case) -> list[User]:
    """The case's lead: the lead worker, or else the lead department's supervisors."""
    if case.lead_worker_id:
        return [case.lead_worker]
    return department_members(case.lead_department_id, (Role.SUPERVISOR,))


WORKER_ROLES = (Role.CASEWORKER, Role.SUPERVISOR)


def department_worker(department_id: int, *, field: str, user_id: Any = None, username: Any = None) -> User:
    """A caseworker or supervisor of the department, named by id (the web forms) or username (the
    API); anybody else is a field error, never a silent "unassigned"."""
    workers = User.objects.filter(
        memberships__department_id=department_id,
        memberships__role__in=WORKER_ROLES,
        memberships__ended_at__isnull=True,
        is_active=True,
    )
    worker = None
    try:
        if user_id is not None:
            worker = workers.filter(pk=int(user_id)).first()
        elif isinstance(username, str) and username:
            worker = workers.filter(username=username).first()
    except (TypeError, ValueError):
        worker = None
    if worker is None:
        raise InvalidInput(_("担当者が見つかりません。"), fields={field: [_("依頼先部署の職員を選んでください。")]})
    return worker
