"""Load the guardian rows of many referrals and cases in two queries, so list pages can ask the
policy about every row (which buttons to show) without one query per row.

This fills the per-user caches `referral_engine.access.policy.referral_perms` / `case_perms` read
(attributes `_referral_perms`, `_case_perms` of the user object: object id -> codenames) with exactly what those
functions would have computed. It belongs next to them in the policy module; it lives here until the
policy grows a `*_perms_prefetch` of its own (reported to the access owner). The query-count tests
of the list pages fail if the cache shape changes under it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from referral_engine.access import policy
from referral_engine.access.models import (
    CaseGroupObjectPermission,
    CaseUserObjectPermission,
    ReferralGroupObjectPermission,
    ReferralUserObjectPermission,
)


def _fill(user: Any, attr: str, ids: set[int], group_model: Any, user_model: Any) -> None:
    p = policy.principal(user)
    if p.user_id is None:
        return
    # getattr/setattr, as the policy does: request.user is a lazy proxy.
    cache: dict[int, frozenset[str]] | None = getattr(user, attr, None)
    if cache is None:
        cache = {}
        setattr(user, attr, cache)
    missing = {i for i in ids if i is not None and i not in cache}
    if not missing:
        return
    found: dict[int, set[str]] = defaultdict(set)
    by_group = group_model.objects.filter(content_object_id__in=missing, group_id__in=p.group_ids).values_list(
        "content_object_id", "permission__codename"
    )
    by_user = user_model.objects.filter(content_object_id__in=missing, user_id=p.user_id).values_list(
        "content_object_id", "permission__codename"
    )
    for object_id, codename in by_group.union(by_user):
        found[object_id].add(codename)
    for object_id in missing:
        cache[object_id] = frozenset(found.get(object_id, ()))


def referrals_perms_prefetch(user: Any, referrals: Iterable[Any]) -> None:
    referrals = list(referrals)
    _fill(
        user, "_referral_perms", {r.pk for r in referrals}, ReferralGroupObjectPermission, ReferralUserObjectPermission
    )
    _fill(user, "_case_perms", {r.case_id for r in referrals}, CaseGroupObjectPermission, CaseUserObjectPermission)


def cases_perms_prefetch(user: Any, cases: Iterable[Any]) -> None:
    _fill(user, "_case_perms", {c.pk for c in cases}, CaseGroupObjectPermission, CaseUserObjectPermission)
