"""Decisions on keeping the records of persons and cases right (issue 17, DESIGN §11.2): reassessing
a case, merging two records of one person, the desk's triage of community slips, households.

The per-object answers build on `decisions` (who sees and works a case); "sees a case of this
person" is asked as a queryset filter over the person's cases with `reach.cases_reach`, so it agrees
with the case pages. The case model is imported inside the functions that query it (as in `reach`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from referral_engine.access.policy.decisions import can_open_case, can_see_sensitive, can_work_case
from referral_engine.access.policy.principals import principal
from referral_engine.access.policy.reach import cases_reach
from referral_engine.accounts.roles import DESK_DEPARTMENT_CODE
from referral_engine.cases.choices import CaseState

if TYPE_CHECKING:
    from referral_engine.cases.models import Case


def can_reassess(user: Any, case: Case) -> bool:
    """Risk, needs and summary change after intake: caseworkers and supervisors who work the open
    case (front desk staff open and refer; they do not reassess)."""
    p = principal(user)
    return case.state != CaseState.CLOSED and p.can_work and can_work_case(case, user)


def sees_a_case_of(user: Any, person_id: int) -> bool:
    """The user may open at least one case of this person (at any level)."""
    from referral_engine.cases.models import Case

    return Case.objects.filter(cases_reach(user), person_id=person_id).exists()


def sees_a_full_case_of(user: Any, person_id: int) -> bool:
    """The user sees the whole of an open case of this person (sensitive records included)."""
    from referral_engine.cases.models import Case

    cases = Case.objects.filter(cases_reach(user), person_id=person_id).exclude(state=CaseState.CLOSED)
    return any(can_see_sensitive(user, case) for case in cases.order_by("-id")[:20])


def can_choose_person_at_intake(user: Any, person_id: int, *, offered: bool) -> bool:
    """Opening a case for an existing person, and seeing before submit what the new case will show of
    their household (the intake's household signal): someone who may open a case, for a person who was
    offered to them — a candidate of their own recent search or duplicate warning (`offered`: the
    signed proof the candidate carried, services/person_choice.py) — or whose case they already see.
    Person ids are sequential: a bare id must not tell the opener who is registered."""
    return can_open_case(user) and (offered or sees_a_case_of(user, person_id))


def can_merge_persons(user: Any, person_id: int, into_id: int) -> bool:
    """Merging two records of one person: a supervisor who can see a case of each (DESIGN §11.2)."""
    p = principal(user)
    if not p.is_supervisor or p.is_auditor:
        return False
    return sees_a_case_of(user, person_id) and sees_a_case_of(user, into_id)


def can_triage_slips(user: Any) -> bool:
    """The desk's queue of community slips: the social_welfare desk's staff (its front desk,
    caseworkers and supervisors)."""
    p = principal(user)
    return p.is_staff_member and DESK_DEPARTMENT_CODE in p.department_codes


def can_manage_household(user: Any, person_ids: list[int]) -> bool:
    """Recording or editing a household: staff who see the whole of an open case of one of its members
    (they are working with that family)."""
    p = principal(user)
    if not p.is_staff_member or p.is_auditor:
        return False
    return any(sees_a_full_case_of(user, pid) for pid in person_ids)


def can_view_household(user: Any, person_ids: list[int]) -> bool:
    """A household is seen by those who may open a case of one of its members (auditors: all); each
    member is then shown in full or as relation and age band (`sees_a_case_of`)."""
    p = principal(user)
    if p.is_auditor:
        return True
    if not p.is_staff_member:
        return False
    return any(sees_a_case_of(user, pid) for pid in person_ids)
