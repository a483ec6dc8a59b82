"""What a service changed on a row (so it saves only those fields), and the touch of a case."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Model

from referral_engine.audit.history import save_with_history
from referral_engine.cases import events
from referral_engine.cases.models import Case
from referral_engine.timers import services as timers


def snapshot(obj: Model) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def changed_fields(obj: Model, before: dict[str, Any]) -> list[str]:
    return [f.name for f in obj._meta.concrete_fields if before.get(f.attname) != getattr(obj, f.attname)]


def case_touch(case: Case, at: datetime) -> list[str]:
    """Any activity or transition touches the case: the stall clock starts again. Returns the fields
    to save (the caller saves them with its own history reason)."""
    case.last_touched_at = at
    return ["last_touched_at", *timers.timers_case_changed(case=case)]


def gap_clear(case: Case, *, actor: Any, how: str, department: Any = None) -> bool:
    """はざま ends when someone takes the case on (DESIGN §11.3): a referral of it accepted (`how`
    "accept") or a lead worker named ("lead"). Clears `is_gap` with history, writes `gap_cleared` to
    the timeline and resolves the L3 escalations that flagged it. The case is locked by the caller.
    Returns whether it was はざま."""
    if not case.is_gap:
        return False
    case.is_gap = False
    save_with_history(case, actor=actor, reason=f"gap_cleared: {how}", update_fields=["is_gap"], changed=True)
    events.gap_cleared(case=case, actor=actor, how=how, department=department)
    timers.timers_gap_cleared(case=case, actor=actor, reason=f"はざま解消（{how}）")
    return True
