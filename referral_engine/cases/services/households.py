"""Households (世帯, DESIGN §11.2): who lives with whom, each member with their relation to the
household's 本人. Recorded and edited with a reason, historied (the household and each member).
A person belongs to one household at most.

Who may record or edit one is a policy rule (`policy.can_manage_household`: staff who see the whole of
an open case of a member); what a reader sees of each member is decided when it is read
(`selectors.household_for`)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from referral_engine.access import policy
from referral_engine.accounts.models import User
from referral_engine.audit.history import save_with_history
from referral_engine.cases.choices import HouseholdRelation
from referral_engine.cases.inputs import UpkeepInputs, clean_choice
from referral_engine.cases.models import Household, HouseholdMember, Person
from referral_engine.cases.services.guards import checks
from referral_engine.errors import Conflict, Forbidden, InvalidInput, NotFound

MAX_MEMBERS = 20


def _clean_members(members: Any) -> list[dict[str, Any]]:
    """[{person_id, relation, without_work}], each person once, one 本人 at most."""
    if not isinstance(members, list | tuple) or not members:
        raise InvalidInput(_("世帯員を指定してください。"), fields={"members": [_("1人以上必要です。")]})
    if len(members) > MAX_MEMBERS:
        raise InvalidInput(_("世帯員が多すぎます。"), fields={"members": [_("%(n)d人までです。") % {"n": MAX_MEMBERS}]})
    cleaned, seen = [], set()
    for index, member in enumerate(members):
        if not isinstance(member, dict):
            raise InvalidInput(_("世帯員が正しくありません。"), fields={f"members[{index}]": [_("不正な形式です。")]})
        try:
            person_id = int(member.get("person_id"))
        except (TypeError, ValueError):
            raise InvalidInput(
                _("本人が見つかりません。"), fields={f"members[{index}].person_id": [_("本人を指定してください。")]}
            ) from None
        if person_id in seen:
            raise InvalidInput(
                _("同じ人が二度指定されています。"), fields={f"members[{index}].person_id": [_("重複しています。")]}
            )
        seen.add(person_id)
        relation = clean_choice(member.get("relation"), HouseholdRelation, field=f"members[{index}].relation")
        cleaned.append(
            {"person_id": person_id, "relation": relation, "without_work": bool(member.get("without_work", False))}
        )
    if sum(1 for m in cleaned if m["relation"] == HouseholdRelation.SELF) > 1:
        raise InvalidInput(_("本人は1人だけです。"), fields={"members": [_("続柄「本人」が複数あります。")]})
    found = (
        Person.objects.select_for_update().filter(pk__in=seen, merged_into__isnull=True).values_list("pk", flat=True)
    )
    missing = seen - set(found)
    for index, member in enumerate(cleaned):
        if member["person_id"] in missing:
            raise InvalidInput(
                _("本人が見つかりません。"), fields={f"members[{index}].person_id": [_("存在しない本人です。")]}
            )
    return cleaned


def _refuse_members_elsewhere(person_ids: set[int], household_id: int | None) -> None:
    elsewhere = HouseholdMember.objects.filter(person_id__in=person_ids).exclude(household_id=household_id)
    if elsewhere.exists():
        raise Conflict(_("ほかの世帯に登録されている人がいます。先にその世帯から外してください。"))


@checks(policy.can_manage_household)
@transaction.atomic
def household_create(*, actor: User, members: list[dict[str, Any]], reason: str) -> Household:
    cleaned = _clean_members(members)
    ids = {m["person_id"] for m in cleaned}
    if not policy.can_manage_household(actor, sorted(ids)):
        raise Forbidden(_("世帯を登録できるのは、世帯員のケースに対応している職員です。"))
    reason = UpkeepInputs.reason.clean(reason)
    _refuse_members_elsewhere(ids, None)
    household = Household(created_by=actor)
    save_with_history(household, actor=actor, reason=f"household_create: {reason}")
    for member in cleaned:
        row = HouseholdMember(household=household, **member)
        save_with_history(row, actor=actor, reason=f"household_create: {reason}")
    return household


@checks(policy.can_view_household, policy.can_manage_household)
@transaction.atomic
def household_update(
    *,
    household_id: int,
    actor: User,
    members: list[dict[str, Any]] | None = None,
    remove: list[int] | None = None,
    reason: str,
) -> Household:
    """`members` are added to the household or have their relation updated; the persons in `remove`
    leave it; anyone else stays as they are (an editor need not see every member to add one)."""
    try:
        household = Household.objects.select_for_update().get(pk=int(household_id))
    except (Household.DoesNotExist, TypeError, ValueError):
        raise NotFound(_("世帯が見つかりません。")) from None
    current = {m.person_id: m for m in HouseholdMember.objects.select_for_update().filter(household=household)}
    if not policy.can_view_household(actor, sorted(current)):
        raise NotFound(_("世帯が見つかりません。"))
    if not policy.can_manage_household(actor, sorted(current)):
        raise Forbidden(_("世帯を変更できるのは、世帯員のケースに対応している職員です。"))
    cleaned = _clean_members(members) if members else []
    try:
        leaving = {int(pid) for pid in remove or []}
    except (TypeError, ValueError):
        raise InvalidInput(_("外す人の指定が正しくありません。"), fields={"remove": [_("本人の番号です。")]}) from None
    if not cleaned and not leaving:
        raise InvalidInput(
            _("変更がありません。"), fields={"members": [_("追加・変更する世帯員か、外す人を指定してください。")]}
        )
    if leaving - set(current):
        raise InvalidInput(_("この世帯にいない人です。"), fields={"remove": [_("世帯員ではありません。")]})
    reason = UpkeepInputs.reason.clean(reason)
    history_reason = f"household_update: {reason}"
    wanted = {m["person_id"]: m for m in cleaned}
    _refuse_members_elsewhere(set(wanted), household.pk)
    staying_self = [
        pid
        for pid, row in current.items()
        if pid not in leaving and pid not in wanted and row.relation == HouseholdRelation.SELF
    ]
    if staying_self and any(m["relation"] == HouseholdRelation.SELF for m in cleaned):
        raise InvalidInput(_("本人は1人だけです。"), fields={"members": [_("この世帯にはすでに本人がいます。")]})
    for person_id in sorted(leaving):
        row = current[person_id]
        row._history_user = actor
        row._change_reason = history_reason
        row.delete()
    for person_id, member in wanted.items():
        row = current.get(person_id)
        if row is None or person_id in leaving:
            save_with_history(HouseholdMember(household=household, **member), actor=actor, reason=history_reason)
            continue
        changed = [f for f in ("relation", "without_work") if getattr(row, f) != member[f]]
        for f in changed:
            setattr(row, f, member[f])
        save_with_history(row, actor=actor, reason=history_reason, update_fields=changed, changed=bool(changed))
    save_with_history(household, actor=actor, reason=history_reason, update_fields=["updated_at"], changed=True)
    return household
