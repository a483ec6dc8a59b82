"""The guardian rows one user holds on one case or referral (direct FK tables), read for the per-object
decisions and cached on the user object; the prefetches fill the caches for a whole list in two queries.

Rows are written only by `referral_engine.access.grants`. The guardian models are imported inside the
functions: they have foreign keys to Case, whose model module imports this package (`__init__.py`)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, NamedTuple

from referral_engine.access.policy.principals import (
    CASE_PERMS_CACHE,
    REFERRAL_PERMS_CACHE,
    principal,
    reach_q,
    user_cache,
)

if TYPE_CHECKING:
    from referral_engine.cases.models import Case, Referral


def case_perms(user: Any, case: Case) -> frozenset[str]:
    p = principal(user)
    if p.user_id is None:
        return frozenset()
    cache = user_cache(user, CASE_PERMS_CACHE)
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


# Every codename a case's rows can hold (`access.grants` writes only these).
CASE_CODENAMES = ("view_case_full", "view_case_limited", "work_case")
_PERM_COLUMN = "_perm_{}"


class BoundColumns(NamedTuple):
    """Columns to add to a statement, split into what its SQL text depends on (`shape`) and the
    values it is run with (`values`, ints and datetimes, each one parameter wherever it appears):
    `build(*values)` makes the columns. A caller may compile `build` once per shape, with stand-in
    values, and bind each call's `values` (`bound_queries`)."""

    shape: Hashable
    values: tuple[Any, ...]
    build: Callable[..., dict[str, Any]]


def case_perms_bound_columns(user: Any) -> BoundColumns | None:
    """Columns that answer `case_perms` for the user, to add to a statement that loads one case (the
    transition's lock, `cases.locks.case_for_update`; the history read, `audit.selectors.case_for_history`):
    one boolean per codename, the same rows `case_perms` reads (the group rows within
    `Principal.group_reach`, the user's own rows), as `BoundColumns` (None: no columns, the user holds
    no case rows). Its values are the user's id, then `Principal.group_reach_values` (the whole groups,
    the scoped groups, their starts). Then `case_perms_from_columns`."""
    p = principal(user)
    if p.user_id is None or not p.is_staff_member:
        return None
    from referral_engine.access.permissions import permission_ids

    whole, scoped = p.group_reach_values()
    perms = tuple((code, tuple(permission_ids("case", code))) for code in CASE_CODENAMES)
    n_whole, n_scoped = len(whole), len(scoped)

    def build(user_id: int, *groups: Any) -> dict[str, Any]:
        scoped_ids = groups[n_whole : n_whole + n_scoped]
        sinces = groups[n_whole + n_scoped :]
        return _case_perms_columns(user_id, groups[:n_whole], tuple(zip(scoped_ids, sinces)), perms)

    values = (p.user_id, *whole, *(g for g, _ in scoped), *(since for _, since in scoped))
    return BoundColumns(("case_perms", n_whole, n_scoped, perms), values, build)


def _case_perms_columns(user_id: int, whole: Any, scoped: Any, perms: Any) -> dict[str, Any]:
    from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q

    from referral_engine.access.models import CaseGroupObjectPermission, CaseUserObjectPermission

    columns = {}
    for code, perm_ids in perms:
        for perm in perm_ids:
            by_group = CaseGroupObjectPermission.objects.filter(
                reach_q(whole, scoped), content_object_id=OuterRef("pk"), permission_id=perm
            )
            by_user = CaseUserObjectPermission.objects.filter(
                content_object_id=OuterRef("pk"), user_id=user_id, permission_id=perm
            )
            columns[_PERM_COLUMN.format(code)] = ExpressionWrapper(
                Q(Exists(by_group)) | Q(Exists(by_user)), output_field=BooleanField()
            )
    return columns


def case_perms_from_columns(user: Any, case: Case) -> None:
    """Cache what the columns of `case_perms_bound_columns` said (nothing when the case came without them)."""
    p = principal(user)
    names = [_PERM_COLUMN.format(code) for code in CASE_CODENAMES]
    if p.user_id is None or not all(hasattr(case, name) for name in names):
        return
    user_cache(user, CASE_PERMS_CACHE)[case.pk] = frozenset(
        code for code, name in zip(CASE_CODENAMES, names) if getattr(case, name)
    )


def case_perms_granted(
    user: Any, case: Case, groups: dict[int, set[str]], users: dict[int, set[str]], granted_at: Any
) -> None:
    """What `case_perms` would read back for a case whose rows were all written just now
    (`grants.case_grants_create`: `groups`/`users` are its owners and codenames, every group row made
    at `granted_at`), put in the user's cache instead of read: the same reach as `Principal.group_reach`
    (a membership-scoped group counts from the membership's start) plus the user's own rows."""
    p = principal(user)
    if p.user_id is None:
        return
    scoped = dict(p.group_since)
    codes: set[str] = set(users.get(p.user_id, ()))
    for group_id, granted in groups.items():
        if group_id in p.group_ids and (group_id not in scoped or granted_at >= scoped[group_id]):
            codes |= granted
    user_cache(user, CASE_PERMS_CACHE)[case.pk] = frozenset(codes)


def referral_perms(user: Any, referral: Referral) -> frozenset[str]:
    p = principal(user)
    if p.user_id is None:
        return frozenset()
    cache = user_cache(user, REFERRAL_PERMS_CACHE)
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
    cache = user_cache(user, attr)
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
        user,
        REFERRAL_PERMS_CACHE,
        {r.pk for r in referrals},
        ReferralGroupObjectPermission,
        ReferralUserObjectPermission,
    )
    _perms_prefetch(
        user, CASE_PERMS_CACHE, {r.case_id for r in referrals}, CaseGroupObjectPermission, CaseUserObjectPermission
    )


def cases_perms_prefetch(user: Any, cases: Any) -> None:
    from referral_engine.access.models import CaseGroupObjectPermission, CaseUserObjectPermission

    _perms_prefetch(user, CASE_PERMS_CACHE, {c.pk for c in cases}, CaseGroupObjectPermission, CaseUserObjectPermission)
