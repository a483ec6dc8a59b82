"""What the case page shows and offers for keeping the person and the case right (issue 17): the
reassessment form, the community slip's facts, the household. `case_page` merges this in."""

from __future__ import annotations

from typing import Any

from referral_engine.access import policy
from referral_engine.cases.models import Case
from referral_engine.web.upkeep_forms import ReassessForm


def upkeep_context(user: Any, case: Case, bound: dict[str, Any]) -> dict[str, Any]:
    can_reassess = policy.can_reassess(user, case)
    reassess_form = None
    if can_reassess:
        reassess_form = bound.get("reassess") or ReassessForm(
            initial={"risk": case.risk, "needs": list(case.needs), "summary": case.summary}
        )
    return {"reassess_form": reassess_form}
