"""Merging two records of one person (名寄せ, DESIGN §11.2): the cases, consents and household link of
`person` move to `into`; `person` keeps its row and its history and records `merged_into`; every
moved case gets a timeline event. Staff decide; nothing is merged silently (DESIGN §3).

`person_merge` is a supervisor's decision (`policy.can_merge_persons`: they can see a case of each).
The desk's triage of a community slip (`slips.slip_link`) merges the slip's provisional person
through the same writer, `_person_merge_write`.

The record kept is `into`, as it is: its identity fields are not overwritten by the merged one's
(an edit of the person, with its reason, does that). A model given a foreign key to Person must be
moved here too: cases, consents, the household link, evacuation plans and safety checks are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from referral_engine.access import policy
from referral_engine.accounts.models import User
from referral_engine.audit.history import save_with_history
from referral_engine.cases import events
from referral_engine.cases.inputs import UpkeepInputs
from referral_engine.cases.models import Case, Consent, EvacuationPlan, HouseholdMember, Person
from referral_engine.cases.services.guards import checks
from referral_engine.errors import Conflict, Forbidden, InvalidInput, NotFound


def _person_for_update(person_id: Any) -> Person:
    try:
        return Person.objects.select_for_update().get(pk=int(person_id))
    except (Person.DoesNotExist, TypeError, ValueError):
        raise NotFound(_("本人が見つかりません。")) from None


@dataclass(frozen=True)
class PersonMerge:
    person: Person  # the merged record (`merged_into` set)
    into: Person  # the record kept
    cases: list[Case]  # the cases that moved


@checks(policy.sees_a_case_of, policy.can_merge_persons)
@transaction.atomic
def person_merge(*, person_id: int, into_id: int, actor: User, reason: str) -> PersonMerge:
    """Merge `person_id` into `into_id`."""
    ids = sorted({int(person_id), int(into_id)})
    for pid in ids:
        # Both rows locked in id order, so two merges of the same pair cannot deadlock.
        _person_for_update(pid)
    for pid in ids:
        if not policy.sees_a_case_of(actor, pid):
            raise NotFound(_("本人が見つかりません。"))
    if not policy.can_merge_persons(actor, int(person_id), int(into_id)):
        raise Forbidden(_("本人の記録を統合できるのは、双方のケースを見られる係長・班長です。"))
    reason = UpkeepInputs.reason.clean(reason)
    person = Person.objects.get(pk=person_id)
    into = Person.objects.get(pk=into_id)
    cases = _person_merge_write(person=person, into=into, actor=actor, reason=reason, via="merge")
    return PersonMerge(person=person, into=into, cases=cases)


def _person_merge_write(*, person: Person, into: Person, actor: User, reason: str, via: str) -> list[Case]:
    """Move everything of `person` to `into` and mark `person` merged. Returns the moved cases."""
    if person.pk == into.pk:
        raise InvalidInput(_("同じ本人には統合できません。"), fields={"into": [_("別の本人を選んでください。")]})
    if person.merged_into_id or into.merged_into_id:
        raise Conflict(_("すでに統合された本人の記録です。統合先の記録を使ってください。"))
    history_reason = f"{via}: {reason}"
    _household_link_move(person=person, into=into, actor=actor, reason=history_reason)
    cases = list(Case.objects.select_for_update(of=("self",)).filter(person=person).order_by("pk"))
    for case in cases:
        case.person = into
        save_with_history(case, actor=actor, reason=history_reason, update_fields=["person"], changed=True)
        events.person_merged(case=case, actor=actor, merged_id=person.pk, into_id=into.pk, reason=reason, via=via)
    for consent in Consent.objects.select_for_update().filter(person=person).order_by("pk"):
        consent.person = into
        save_with_history(consent, actor=actor, reason=history_reason, update_fields=["person"], changed=True)
    for plan in EvacuationPlan.objects.select_for_update().filter(person=person).order_by("pk"):
        plan.person = into
        save_with_history(plan, actor=actor, reason=history_reason, update_fields=["person"], changed=True)
    _safety_checks_move(person=person, into=into, actor=actor, reason=history_reason)
    person.merged_into = into
    save_with_history(person, actor=actor, reason=history_reason, update_fields=["merged_into"], changed=True)
    return cases


def _household_link_move(*, person: Person, into: Person, actor: User, reason: str) -> None:
    """The merged person's place in a household goes to `into`, unless `into` already has one: in
    the same household the merged place is ended; in another, staff must settle the households first."""
    link = HouseholdMember.objects.select_for_update().filter(person=person).first()
    if link is None:
        return
    theirs = HouseholdMember.objects.select_for_update().filter(person=into).first()
    if theirs is None:
        link.person = into
        save_with_history(link, actor=actor, reason=reason, update_fields=["person"], changed=True)
    elif theirs.household_id == link.household_id:
        link._history_user = actor
        link._change_reason = reason
        link.delete()
    else:
        raise Conflict(_("二人が別々の世帯に登録されています。先に世帯を整理してください。"))


def _safety_checks_move(*, person: Person, into: Person, actor: User, reason: str) -> None:
    """The merged person's safety checks (安否確認, disasters) go to `into`. A disaster holds one check
    per person: where both have one, the check updated last is the one kept (on `into`), the other is
    deleted with its history kept, so the board counts the person once and keeps the latest word.
    Read through Person's reverse relation: the disasters app sits above the services (architecture.md)."""
    theirs = {c.disaster_id: c for c in into.safety_checks.select_for_update().order_by("pk")}
    for check in person.safety_checks.select_for_update().order_by("pk"):
        other = theirs.get(check.disaster_id)
        if other is not None:
            keep_merged = check.updated_at > other.updated_at
            drop = other if keep_merged else check
            drop._history_user = actor
            drop._change_reason = reason
            drop.delete()
            if not keep_merged:
                continue
        check.person = into
        save_with_history(check, actor=actor, reason=reason, update_fields=["person"], changed=True)
