"""Who may do what in disaster mode (DESIGN §11.5; 災害対策基本法 §49-11).

| who | open / close an event | see checks | update a check |
|---|---|---|---|
| supervisor of disaster_prevention, admin | yes | every district, open or closed | every district, while open |
| other city staff (a department of kind `city`) | no | every district, open or closed | every district, while open |
| auditor | no | every district, open or closed | no |
| connector (民生委員 …) | no | their own districts, **only while the event is open** | the same |
| staff of an external body (the shakyo), anyone else | no | no (404) | no |

The connectors' reach comes from the basis `disaster` and ends when the event closes (404 at once). No
sensitive flag or case content is in what they see (disasters/selectors.py picks the fields). External
bodies are left out: the issue names city staff and the district's supporters; giving the shakyo's
volunteer centre the board would be one line here (`_city_staff`).
"""

from __future__ import annotations

from typing import Any

from referral_engine.access.policy.principals import principal
from referral_engine.accounts.models import Department

DISASTER_DEPARTMENT_CODE = "disaster_prevention"
CITY_STAFF_CACHE = "_city_staff"


def _active_superuser(user: Any) -> bool:
    return bool(getattr(user, "is_active", False) and getattr(user, "is_superuser", False))


def _city_staff(user: Any) -> bool:
    """A staff member of at least one city department (one query per user object, cached on it)."""
    cached = getattr(user, CITY_STAFF_CACHE, None)
    if cached is None:
        p = principal(user)
        cached = (
            p.is_staff_member and Department.objects.filter(id__in=p.department_ids, kind=Department.Kind.CITY).exists()
        )
        setattr(user, CITY_STAFF_CACHE, cached)
    return cached


def can_open_disaster(user: Any) -> bool:
    """A disaster_prevention supervisor or an admin opens (and closes) an event."""
    p = principal(user)
    if p.is_admin or _active_superuser(user):
        return True
    return p.is_supervisor and DISASTER_DEPARTMENT_CODE in p.department_codes


def can_see_disaster_menu(user: Any) -> bool:
    """The menu's 安否確認 link, without a query (every page renders it): staff, auditors, admins and
    connectors; the page itself tells a connector when no open event covers their district."""
    p = principal(user)
    return p.is_staff_member or p.is_auditor or p.is_admin or p.is_connector


def disaster_district_reach(user: Any, disaster: Any) -> frozenset[int] | None:
    """The districts of `disaster` whose checks `user` may see: None for every district, an empty set
    for none."""
    p = principal(user)
    if can_open_disaster(user) or p.is_auditor or _city_staff(user):
        return None
    if p.is_connector and disaster.closed_at is None:
        return frozenset(p.district_ids) & disaster.district_ids
    return frozenset()


def can_view_disaster(user: Any, disaster: Any) -> bool:
    reach = disaster_district_reach(user, disaster)
    return reach is None or bool(reach)


def can_update_safety_check(user: Any, check: Any) -> bool:
    """While the event is open: city staff anywhere, a connector in their own district."""
    disaster = check.disaster
    if disaster.closed_at is not None:
        return False
    if principal(user).is_auditor and not _city_staff(user):  # auditors read, they do not act
        return False
    reach = disaster_district_reach(user, disaster)
    return reach is None or check.district_id in reach
