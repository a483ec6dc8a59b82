"""The person (本人): the person of an intake — an existing one named by id, or a new one after the
duplicate check (normalised kana, kanji name or phone, and a birth date that does not contradict;
staff decide, nothing is merged silently) — what a search hit shows of a person, and the edit of a
person's identity and flags (`person_update`, DESIGN §11.2)."""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from referral_engine.access import policy
from referral_engine.accounts.models import User
from referral_engine.audit.history import save_with_history
from referral_engine.cases import locks, normalize
from referral_engine.cases.choices import CaseState
from referral_engine.cases.inputs import PersonEditInputs, PersonInput, person_changes_input, person_input
from referral_engine.cases.models import Case, Person
from referral_engine.cases.services.guards import access_person_for_write, checks, unchecked
from referral_engine.cases.services.person_choice import person_choice_issue, person_choice_valid
from referral_engine.errors import Forbidden, InvalidInput, PossibleDuplicate

# The start of a house number: what follows is not the town part of an address.
_HOUSE_NUMBER = re.compile(r"[0-9０-９]|[一二三四五六七八九十〇]+(?:丁目|番地|番|号)")
_PREFECTURE = re.compile(r"^\S{2,3}?[都道府県]")
_CITY = re.compile(r"^\S{1,5}?[市郡]")


@unchecked("formats a text; reads and writes nothing")
def address_town(address: str) -> str:
    """The town part of an address (DESIGN §11.1): without prefecture and city, without the house
    number. `大分県津久見市川上 港町3-4` → `川上 港町`."""
    rest = (address or "").strip()
    rest = _PREFECTURE.sub("", rest, count=1)
    rest = _CITY.sub("", rest, count=1)
    match = _HOUSE_NUMBER.search(rest)
    if match:
        rest = rest[: match.start()]
    return " ".join(rest.replace("　", " ").split()).rstrip("-－ー−")


@unchecked("reads which windows have an open case of persons the caller was already allowed to find")
def person_open_departments(person_ids: list[int]) -> dict[int, list[str]]:
    """ "Open case at: <departments>": the lead departments of each person's open cases, by code,
    without anything of their contents. One query for the whole list."""
    found: dict[int, list[str]] = {pk: [] for pk in person_ids}
    rows = (
        Case.objects.filter(person_id__in=person_ids)
        .exclude(state=CaseState.CLOSED)
        .values_list("person_id", "lead_department__code")
        .order_by("lead_department__code")
        .distinct()
    )
    for person_id, code in rows:
        if code not in found[person_id]:
            found[person_id].append(code)
    return found


@unchecked("formats a person the caller was already allowed to find; reads and writes nothing")
def person_candidate_payload(person: Person, open_at: list[str] | None = None) -> dict[str, Any]:
    """A search hit or a duplicate warning (DESIGN §11.1): name, kana, birth date, district, the town
    part of the address and where the person has an open case. No house number, no phone, no flag."""
    return {
        "id": person.pk,
        "name": person.full_name,
        "kana": person.full_name_kana,
        "birth_date": person.birth_date.isoformat() if person.birth_date else None,
        "district": person.district.code if person.district_id else None,
        "town": address_town(person.address),
        "open_case_at": list(open_at or []),
    }


@unchecked("formats persons the caller was already allowed to find; one read of their open cases")
def person_candidates_payload(persons: list[Person], *, for_user: User | None = None) -> list[dict[str, Any]]:
    """The candidates; shown to `for_user` at intake, each carries `choice`, the proof that lets this
    user open a case for that person (services/person_choice.py)."""
    open_at = person_open_departments([p.pk for p in persons])
    payload = [person_candidate_payload(p, open_at.get(p.pk)) for p in persons]
    if for_user is not None:
        for candidate in payload:
            candidate["choice"] = person_choice_issue(for_user, candidate["id"])
    return payload


def _duplicate_candidates(person: PersonInput, *, limit: int = 10) -> list[Person]:
    """Same normalised kana, kanji name or phone, and a birth date that does not contradict.
    A different birth date is not a match."""
    kana = normalize.kana_key(person.family_name_kana, person.given_name_kana)
    name = normalize.name_key(person.family_name, person.given_name)
    phone = normalize.phone_key(person.phone)
    match = Q(name_key=name)
    if kana:
        match |= Q(kana_key=kana)
    if len(phone) >= 6:
        match |= Q(phone_key=phone)
    query = match
    if person.birth_date:
        query &= Q(birth_date=person.birth_date) | Q(birth_date__isnull=True)
    # A record merged into another is no candidate: the record it was merged into is (issue 17).
    persons = Person.objects.filter(query, merged_into__isnull=True)
    return list(persons.select_related("district").order_by("id")[:limit])


def _intake_person(
    *, actor: User, person_id: Any, person_choice: str, person: dict[str, Any] | None, confirm_new_person: bool
) -> Person:
    """The person an intake is for: `person_id`, or a new person from `person` unless possible
    duplicates exist and the opener has not confirmed a new one (409 with the candidates).

    An existing person must have been offered to the opener (`person_choice`, the proof a candidate
    carries), or be one whose case they already see: an unknown id and an id without its proof get
    the same answer, so ids cannot be walked to learn who is registered."""
    if person_id is not None:
        try:
            chosen = Person.objects.get(pk=int(person_id))
        except (Person.DoesNotExist, TypeError, ValueError, OverflowError):
            chosen = None
        # A merged record's cases live on the record it was merged into (issue 17): so does a new one.
        kept = chosen
        while kept is not None and kept.merged_into_id:
            kept = kept.merged_into
        offered = kept is not None and (
            person_choice_valid(actor, chosen.pk, person_choice) or person_choice_valid(actor, kept.pk, person_choice)
        )
        if kept is None or not policy.can_choose_person_at_intake(actor, kept.pk, offered=offered):
            raise InvalidInput(
                _("本人が見つかりません。"),
                fields={
                    "person_id": [
                        _("検索の候補から本人を選び直してください（候補の有効期限が切れた可能性があります）。")
                    ]
                },
            )
        return kept
    if person is None:
        raise InvalidInput(_("本人を指定してください。"), fields={"person": [_("person_id か person が必要です。")]})
    data = person_input(person)
    if not confirm_new_person:
        candidates = _duplicate_candidates(data)
        if candidates:
            raise PossibleDuplicate(
                _("同一人物の可能性がある方が登録されています。確認してください。"),
                candidates=person_candidates_payload(candidates, for_user=actor),
            )
    return _person_write(data, actor=actor)


def _person_write(data: PersonInput, *, actor: User) -> Person:
    person = Person(
        family_name=data.family_name,
        given_name=data.given_name,
        family_name_kana=data.family_name_kana,
        given_name_kana=data.given_name_kana,
        birth_date=data.birth_date,
        sex=data.sex,
        address=data.address,
        district=data.district,
        phone=data.phone,
        flags=data.flags,
        kana_key=normalize.kana_key(data.family_name_kana, data.given_name_kana),
        name_key=normalize.name_key(data.family_name, data.given_name),
        phone_key=normalize.phone_key(data.phone),
    )
    save_with_history(person, actor=actor, reason="person_create")
    locks.person_household_none(person)  # new: in no household yet (the intake's response need not ask)
    return person


# --- Edit (DESIGN §11.2) ---------------------------------------------------------------------------


@checks(policy.can_see_person, policy.can_edit_person)
@transaction.atomic
def person_update(*, person_id: Any, actor: User, changes: dict[str, Any], reason: str) -> Person:
    """Change the person's identity fields and flags, with a reason, historied (who and why).

    The sensitive flags the editor may not see (`policy.person_view`) are kept whatever they send:
    nobody removes what they cannot see. A change that changes nothing writes no history row."""
    person = access_person_for_write(person_id, actor)
    if not policy.can_edit_person(actor, person):
        raise Forbidden(_("この本人の情報を変更する権限がありません。"))
    reason = PersonEditInputs.reason.clean(reason)
    cleaned = person_changes_input(changes)
    if "flags" in cleaned:
        view = policy.person_view(actor, person)
        hidden = [f for f in person.flags or [] if not view.sees_flag(f)]
        cleaned["flags"] = sorted(set(cleaned["flags"]) | set(hidden))
    changed = []
    for name, value in cleaned.items():
        current = person.district if name == "district" else getattr(person, name)
        if name == "flags":
            current = sorted(set(current or []))
        if current != value:
            setattr(person, name, value)
            changed.append(name)
    if not changed:
        return person
    keys = {
        "kana_key": normalize.kana_key(person.family_name_kana, person.given_name_kana),
        "name_key": normalize.name_key(person.family_name, person.given_name),
        "phone_key": normalize.phone_key(person.phone),
    }
    for name, value in keys.items():
        if getattr(person, name) != value:
            setattr(person, name, value)
            changed.append(name)
    save_with_history(person, actor=actor, reason=f"person_update: {reason}", update_fields=changed, changed=True)
    policy.forget(actor)  # what the actor may see of the person follows the change
    return person
