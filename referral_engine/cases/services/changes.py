"""What a service changed on a row (so it saves only those fields), and the touch of a case."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Model

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
