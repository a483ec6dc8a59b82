"""The access log: every view of a case or person, every search, export and print (DESIGN §6)."""

from __future__ import annotations

from typing import Any

from referral_engine.access import policy
from referral_engine.audit.models import AccessLog


def _client_ip(request: Any) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def access_log_record(
    *,
    user: Any,
    action: str,
    object_type: str = "",
    object_id: int | None = None,
    case_id: int | None = None,
    query: str = "",
    request: Any = None,
    via: str = "ui",
) -> AccessLog:
    p = policy.principal(user)
    return AccessLog.objects.create(
        user=user,
        username=user.get_username(),
        role=",".join(sorted(p.roles)),
        department=",".join(sorted(p.department_codes)),
        action=action,
        object_type=object_type,
        object_id=object_id,
        case_id=case_id,
        query=query[:2000],
        path=(request.get_full_path()[:500] if request is not None else ""),
        via=via,
        ip_address=_client_ip(request),
    )
