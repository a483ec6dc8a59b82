"""What the case page shows and offers for keeping the person and the case right (issue 17): the
reassessment form, the community slip's facts, the household. `case_page` merges this in."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.utils.translation import gettext_lazy as _

from referral_engine.access import policy
from referral_engine.accounts.models import Department
from referral_engine.cases import selectors
from referral_engine.cases.choices import Channel, HouseholdRelation
from referral_engine.cases.models import Case, CommunitySlip
from referral_engine.web.upkeep_forms import HouseholdMemberForm, ReassessForm

AGE_BAND_LABELS = {
    "under_18": _("18歳未満"),
    "18_29": _("18〜29歳"),
    "30_39": _("30代"),
    "40_49": _("40代"),
    "50_59": _("50代"),
    "60_69": _("60代"),
    "70_79": _("70代"),
    "80_plus": _("80歳以上"),
    "unknown": _("年齢不明"),
}
HINT_LABELS = {
    "8050": _("8050の可能性: 80歳以上の親と、ひきこもり・就労していない40〜64歳の子の世帯です。"),
    "young_carer": _(
        "ヤングケアラーの可能性: 18歳未満の世帯員と、介護・支援の必要な世帯員がいて、支えられる大人がいません。"
    ),
}


def upkeep_context(user: Any, case: Case, bound: dict[str, Any]) -> dict[str, Any]:
    can_reassess = policy.can_reassess(user, case)
    reassess_form = None
    if can_reassess:
        reassess_form = bound.get("reassess") or ReassessForm(
            initial={"risk": case.risk, "needs": list(case.needs), "summary": case.summary}
        )
    return {
        "reassess_form": reassess_form,
        "community_slip": _slip_of(case),
        **household_context(user, case, bound),
    }


def household_context(user: Any, case: Case, bound: dict[str, Any]) -> dict[str, Any]:
    """The person's household with labels; the form to add a member for those who may."""
    household = selectors.person_household_for(user, case.person, case=case)
    departments = {d.code: d.name_ja for d in Department.objects.all()} if household else {}
    relations = dict(HouseholdRelation.choices)
    members = []
    for member in (household or {}).get("members", []):
        members.append(
            {
                **member,
                "relation_label": relations.get(member["relation"], member["relation"]),
                "age_band_label": AGE_BAND_LABELS.get(member["age_band"], member["age_band"]),
                "department_names": [departments.get(c, c) for c in member["open_case_departments"]],
                "is_this_person": member.get("person_id") == case.person_id,
            }
        )
    can_manage = policy.can_manage_household(user, [case.person_id])
    return {
        "household": household,
        "household_members": members,
        "household_hints": [HINT_LABELS[h] for h in (household or {}).get("hints", [])],
        "can_manage_household": can_manage,
        "household_form": (bound.get("household") or HouseholdMemberForm()) if can_manage else None,
    }


def _slip_of(case: Case) -> CommunitySlip | None:
    if case.channel != Channel.COMMUNITY:
        return None
    try:
        return case.slip
    except ObjectDoesNotExist:
        return None


MERGE_OFFER_CANDIDATES = 4  # pairs among the first few candidates: the list stays readable


def household_signal_labels(signal: dict[str, Any]) -> dict[str, Any]:
    """The intake's household signal (cases/intake_signal.py) with the labels the page shows."""
    departments = dict(Department.objects.values_list("code", "name_ja"))
    relations = dict(HouseholdRelation.choices)
    members = [
        {
            **member,
            "relation_label": relations.get(member["relation"], member["relation"]),
            "age_band_label": AGE_BAND_LABELS.get(member["age_band"], member["age_band"]),
            "department_names": [departments.get(c, c) for c in member["open_case_departments"]],
        }
        for member in signal["members"]
    ]
    return {**signal, "members": members, "hint_labels": [HINT_LABELS[h] for h in signal["hints"]]}


def merge_offers(user: Any, candidates: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """「同一人物として統合」 at intake: for each duplicate candidate, the other candidates it may be
    merged into by this user (a supervisor who sees a case of each)."""
    if not policy.principal(user).is_supervisor:
        return {}
    shown = candidates[:MERGE_OFFER_CANDIDATES]
    offers: dict[int, list[dict[str, Any]]] = {}
    for candidate in shown:
        for other in shown:
            if other["id"] != candidate["id"] and policy.can_merge_persons(user, candidate["id"], other["id"]):
                offers.setdefault(candidate["id"], []).append(other)
    return offers
