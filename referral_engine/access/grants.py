"""Grants and revocations, in this one module (DESIGN §5): the only writer of guardian rows and of
department/district group membership. Driven by events; each event reconciles the rows of the
objects it touches against what the data says they should be, so it is idempotent.

Who holds what on a case (group = a department's group):
- lead department, intake department, any department that requested a referral: full + work;
- a department whose referral is requested: limited view; on the referral: view + respond;
- accepted: full + work; on the referral: view + work;
- completed: full view (no work) ; on the referral: view;
- declined / cancelled / returned: nothing on the case; on its own referral: view;
- the lead worker and a referral's assigned worker: the same per user.
Auditors and the desk supervisor get their reach from their role (policy), not from rows.

Group rows carry `granted_at`. An event that gives a department something on a case (a referral
requested of it, accepted by it, the lead moved to it) renews the department's rows on that case, so
a caseworker who joined the department after the first grant reaches it from then on; older cases
of the department stay out of their reach until an event renews them (the staff-move rule,
docs/permissions.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from django.db import transaction
from django.utils import timezone

from referral_engine.access.models import (
    CaseGroupObjectPermission,
    CaseUserObjectPermission,
    ReferralGroupObjectPermission,
    ReferralUserObjectPermission,
)
from referral_engine.access.permissions import permission_id
from referral_engine.bound_queries import bound_bulk_insert
from referral_engine.cases.choices import ReferralState
from referral_engine.cases.models import Referral

CASE_FULL = ("view_case_full", "work_case")
CASE_FULL_READONLY = ("view_case_full",)
CASE_LIMITED = ("view_case_limited",)


class _HasGroup(Protocol):
    group_id: int


class CaseGrantFacts(Protocol):
    """What the rules read of a case: a `Case` with its departments loaded, or any stand-in."""

    lead_department: _HasGroup
    intake_department: _HasGroup
    lead_worker_id: int | None


class ReferralGrantFacts(Protocol):
    """What the rules read of a referral: a `Referral` with its departments loaded, or any stand-in."""

    from_department: _HasGroup
    to_department: _HasGroup
    state: str
    assigned_worker_id: int | None


Owners = dict[int, set[str]]  # group or user id -> permission codenames


@dataclass(frozen=True)
class DesiredGrants:
    """The rows a case and its referrals should carry, by owner: what `case_grants_sync` reconciles to."""

    case_groups: Owners
    case_users: Owners
    referrals: list[tuple[Owners, Owners]]  # (groups, users) of each referral, in the order given


def grants_desired_for(case: CaseGrantFacts, referrals: Sequence[ReferralGrantFacts]) -> DesiredGrants:
    """The grant rules of this module (see its docstring) applied to a case and all its referrals,
    without a query. `case_grants_sync` reconciles the rows to this answer; a bulk writer (the load
    generator) writes it directly, with the ids from `access.permissions.permission_id`."""
    return DesiredGrants(*_desired_case_rows(case, referrals), referrals=[_desired_referral_rows(r) for r in referrals])


def _desired_case_rows(case: Any, referrals: Iterable[Any]) -> tuple[Owners, Owners]:
    """(group_id -> codenames, user_id -> codenames) the case should carry."""
    groups: dict[int, set[str]] = defaultdict(set)
    users: dict[int, set[str]] = defaultdict(set)
    groups[case.lead_department.group_id].update(CASE_FULL)
    groups[case.intake_department.group_id].update(CASE_FULL)
    if case.lead_worker_id:
        users[case.lead_worker_id].update(CASE_FULL)
    for referral in referrals:
        groups[referral.from_department.group_id].update(CASE_FULL)
        target = groups[referral.to_department.group_id]
        if referral.state == ReferralState.REQUESTED:
            target.update(CASE_LIMITED)
        elif referral.state == ReferralState.ACCEPTED:
            target.update(CASE_FULL)
            if referral.assigned_worker_id:
                users[referral.assigned_worker_id].update(CASE_FULL)
        elif referral.state == ReferralState.COMPLETED:
            target.update(CASE_FULL_READONLY)
    for codes in groups.values():
        if "view_case_full" in codes:
            codes.discard("view_case_limited")
    return groups, users


def _desired_referral_rows(referral: Any) -> tuple[Owners, Owners]:
    groups: dict[int, set[str]] = defaultdict(set)
    users: dict[int, set[str]] = defaultdict(set)
    groups[referral.from_department.group_id].add("view_referral")
    to = groups[referral.to_department.group_id]
    to.add("view_referral")
    if referral.state == ReferralState.REQUESTED:
        to.add("respond_referral")
    elif referral.state == ReferralState.ACCEPTED:
        to.add("work_referral")
        if referral.assigned_worker_id:
            users[referral.assigned_worker_id].update({"view_referral", "work_referral"})
    return groups, users


def _reconcile(model: Any, owner_field: str, obj: Any, desired: dict[int, set[str]], kind: str) -> set[int]:
    """Make the object's rows equal to `desired`; return the owners that kept a row they had."""
    wanted = {(owner, permission_id(kind, code)) for owner, codes in desired.items() for code in codes}
    existing = {
        (row[owner_field], row["permission_id"]): row["pk"]
        for row in model.objects.filter(content_object=obj).values("pk", owner_field, "permission_id")
    }
    stale = [pk for key, pk in existing.items() if key not in wanted]
    if stale:
        model.objects.filter(pk__in=stale).delete()
    missing = [key for key in wanted if key not in existing]
    if missing:
        model.objects.bulk_create(
            [model(**{owner_field: owner, "permission_id": perm, "content_object": obj}) for owner, perm in missing]
        )
    return {owner for owner, _perm in existing if (owner, _perm) in wanted}


@transaction.atomic
def case_grants_sync(*, case: Any, renew: Iterable[Any] = ()) -> None:
    """Reconcile every grant on the case and its referrals. Called on: case opened, lead changed,
    referral requested / accepted / declined / returned / cancelled / completed / assigned.
    `renew`: the departments this event grants something; their rows on the case count as granted now."""
    renewed = {department.group_id for department in renew}
    referrals = list(case.referrals.select_related("from_department", "to_department"))
    desired = grants_desired_for(case, referrals)
    kept = _reconcile(CaseGroupObjectPermission, "group_id", case, desired.case_groups, "case") & renewed
    _reconcile(CaseUserObjectPermission, "user_id", case, desired.case_users, "case")
    kept_on_referrals: list[int] = []
    for referral, (r_groups, r_users) in zip(referrals, desired.referrals):
        if _reconcile(ReferralGroupObjectPermission, "group_id", referral, r_groups, "referral") & renewed:
            kept_on_referrals.append(referral.pk)
        _reconcile(ReferralUserObjectPermission, "user_id", referral, r_users, "referral")
    # Rows made just now already carry this moment; only rows kept from before are renewed.
    now = timezone.now()
    if kept:
        CaseGroupObjectPermission.objects.filter(content_object=case, group_id__in=kept).update(granted_at=now)
    if kept_on_referrals:
        ReferralGroupObjectPermission.objects.filter(content_object__in=kept_on_referrals, group_id__in=renewed).update(
            granted_at=now
        )


def case_grants_create(*, case: Any, referrals: Sequence[Any] = ()) -> tuple[DesiredGrants, datetime]:
    """The grants of a case, and of its referrals, that were all inserted in this transaction (an
    intake): no row of theirs can exist yet, so the rows `case_grants_sync` would reconcile to are
    written as they are, one INSERT per table that gets rows, with no read and no savepoint (the
    intake's transaction is the unit: a failure rolls back the case with them). Returns what was
    written and its `granted_at`, so the caller can tell the policy what the actor now holds on the
    case instead of reading it back. Calling it on a case that had rows would duplicate them: the
    unique constraints refuse that (tests/access/test_grants_create.py compares it with the sync)."""
    desired = grants_desired_for(case, referrals)
    now = timezone.now()
    case_groups = [
        CaseGroupObjectPermission(
            group_id=group, permission_id=permission_id("case", code), content_object=case, granted_at=now
        )
        for group, codes in desired.case_groups.items()
        for code in sorted(codes)
    ]
    case_users = [
        CaseUserObjectPermission(user_id=user, permission_id=permission_id("case", code), content_object=case)
        for user, codes in desired.case_users.items()
        for code in sorted(codes)
    ]
    referral_groups: list[Any] = []
    referral_users: list[Any] = []
    for referral, (r_groups, r_users) in zip(referrals, desired.referrals):
        referral_groups += [
            ReferralGroupObjectPermission(
                group_id=group, permission_id=permission_id("referral", code), content_object=referral, granted_at=now
            )
            for group, codes in r_groups.items()
            for code in sorted(codes)
        ]
        referral_users += [
            ReferralUserObjectPermission(
                user_id=user, permission_id=permission_id("referral", code), content_object=referral
            )
            for user, codes in r_users.items()
            for code in sorted(codes)
        ]
    for rows in (case_groups, case_users, referral_groups, referral_users):
        bound_bulk_insert(rows)  # one INSERT per table that gets rows, written once per number of rows
    return desired, now


@transaction.atomic
def department_queue_renew(*, department: Any) -> None:
    """Membership started: the handoffs waiting for the department (its inbox) are current work, so
    its rows on them count as granted now, for the newcomer too. Cases the department took on earlier
    stay out of a newcomer's reach until an event (assignment, a new handoff) renews them."""
    waiting = Referral.objects.filter(to_department=department, state=ReferralState.REQUESTED)
    now = timezone.now()
    CaseGroupObjectPermission.objects.filter(
        group_id=department.group_id, content_object__in=waiting.values("case_id")
    ).update(granted_at=now)
    ReferralGroupObjectPermission.objects.filter(
        group_id=department.group_id, content_object__in=waiting.values("pk")
    ).update(granted_at=now)


@transaction.atomic
def user_groups_sync(*, user: Any) -> None:
    """Keep a user's groups equal to their active memberships: role groups plus their departments'
    and districts' groups. Leaving a department removes its cases from view at once."""
    from django.contrib.auth.models import Group

    active = list(user.memberships.filter(ended_at__isnull=True).select_related("department", "district"))
    wanted = {m.role for m in active}
    wanted_ids = set(Group.objects.filter(name__in=wanted).values_list("pk", flat=True))
    wanted_ids |= {m.department.group_id for m in active if m.department_id}
    wanted_ids |= {m.district.group_id for m in active if m.district_id}
    current = set(user.groups.values_list("pk", flat=True))
    if current - wanted_ids:
        user.groups.remove(*(current - wanted_ids))
    if wanted_ids - current:
        user.groups.add(*(wanted_ids - current))
