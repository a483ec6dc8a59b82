"""The household signal at intake, before submit (issue 17 item 6, DESIGN §11.2): when the opener
picks an existing person, the page shows whether a member of that person's household has an open case
elsewhere (by department, without contents) and the 8050 / young-carer hints — what the new case will
show them once opened, and no more: no member's name, no flag. Who sees it is the policy's
`can_choose_person_at_intake` (the person was offered to them, or they see a case of theirs)."""

from __future__ import annotations

from typing import Any

from referral_engine.access import policy
from referral_engine.audit.models import AccessLog
from referral_engine.audit.services import access_log_record
from referral_engine.cases.models import HouseholdMember
from referral_engine.cases.selectors import age_band, household_hints
from referral_engine.cases.services.persons import person_open_departments


def intake_household_signal(
    user: Any, person_id: int, *, offered: bool, request: Any = None, via: str = "ui"
) -> dict[str, Any] | None:
    """`{"members": [{relation, age_band, open_case_departments, is_this_person}], "hints": [...],
    "elsewhere": bool}` for the household of `person_id`, or None (no household, or not for this user).
    Read as a view of the household (access log)."""
    if not policy.can_choose_person_at_intake(user, person_id, offered=offered):
        return None
    link = HouseholdMember.objects.filter(person_id=person_id).only("household_id").first()
    if link is None:
        return None
    members = list(
        HouseholdMember.objects.filter(household_id=link.household_id)
        .select_related("person")
        .order_by("relation", "id")
    )
    departments = person_open_departments([m.person_id for m in members])
    rows = [
        {
            "relation": m.relation,
            "age_band": age_band(m.person.birth_date),
            "open_case_departments": departments.get(m.person_id, []),
            "is_this_person": m.person_id == person_id,
        }
        for m in members
    ]
    access_log_record(
        user=user,
        action=AccessLog.Action.VIEW,
        object_type="household",
        object_id=link.household_id,
        request=request,
        via=via,
    )
    return {
        "members": rows,
        "hints": household_hints(members),
        "elsewhere": any(r["open_case_departments"] for r in rows if not r["is_this_person"]),
    }
