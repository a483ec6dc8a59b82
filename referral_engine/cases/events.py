"""The case timeline (CaseEvent rows): written here and nowhere else."""

from __future__ import annotations

from typing import Any

from referral_engine.accounts.models import Department, User
from referral_engine.cases.models import Case, CaseEvent, Referral


def event_write(**fields: Any) -> CaseEvent:
    """Write one timeline row (see `event_row` for the fields)."""
    event = event_row(**fields)
    event.save(force_insert=True)
    return event


def event_row(
    *,
    case: Case,
    kind: str,
    actor: User | None,
    name: str = "",
    referral: Referral | None = None,
    from_state: str = "",
    to_state: str = "",
    reason: str = "",
    department: Department | None = None,
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    """A timeline row, not yet saved (`event_write` saves one; `bulk_create` several)."""
    return CaseEvent(
        case=case,
        referral=referral,
        kind=kind,
        name=name,
        from_state=from_state,
        to_state=to_state,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        department=department,
        reason=reason,
        data=data or {},
    )
