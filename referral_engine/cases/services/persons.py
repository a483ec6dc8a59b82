"""The person of an intake (本人): an existing one named by id, or a new one after the duplicate
check (normalised kana, kanji name or phone, and a birth date that does not contradict). Staff
decide; nothing is merged silently. Written only inside an intake the policy has authorised."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils.translation import gettext as _

from referral_engine.accounts.models import User
from referral_engine.audit.history import save_with_history
from referral_engine.cases import normalize
from referral_engine.cases.inputs import PersonInput, person_input
from referral_engine.cases.models import Person
from referral_engine.cases.services.guards import unchecked
from referral_engine.errors import InvalidInput, PossibleDuplicate


@unchecked("formats a person the caller was already allowed to find; reads and writes nothing")
def person_candidate_payload(person: Person) -> dict[str, Any]:
    """What a duplicate warning shows: identifying, never sensitive."""
    return {
        "id": person.pk,
        "name": person.full_name,
        "kana": person.full_name_kana,
        "birth_date": person.birth_date.isoformat() if person.birth_date else None,
        "district": person.district.code if person.district_id else None,
        "address": person.address,
    }


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


def _intake_person(*, actor: User, person_id: Any, person: dict[str, Any] | None, confirm_new_person: bool) -> Person:
    """The person an intake is for: `person_id`, or a new person from `person` unless possible
    duplicates exist and the opener has not confirmed a new one (409 with the candidates)."""
    if person_id is not None:
        try:
            chosen = Person.objects.get(pk=int(person_id))
            # A merged record's cases live on the record it was merged into (issue 17): so does a new one.
            while chosen.merged_into_id:
                chosen = chosen.merged_into
            return chosen
        except (Person.DoesNotExist, TypeError, ValueError):
            raise InvalidInput(_("本人が見つかりません。"), fields={"person_id": [_("存在しない本人です。")]}) from None
    if person is None:
        raise InvalidInput(_("本人を指定してください。"), fields={"person": [_("person_id か person が必要です。")]})
    data = person_input(person)
    if not confirm_new_person:
        candidates = _duplicate_candidates(data)
        if candidates:
            raise PossibleDuplicate(
                _("同一人物の可能性がある方が登録されています。確認してください。"),
                candidates=[person_candidate_payload(c) for c in candidates],
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
    return person
