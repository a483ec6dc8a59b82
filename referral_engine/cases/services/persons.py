"""The person an intake names or creates (本人): the input a client sends, the duplicate check at
intake (normalised kana, kanji name or phone, and a birth date that does not contradict), and the
creation of a new person record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext as _

from referral_engine.accounts.models import District, User
from referral_engine.audit.history import save_with_history
from referral_engine.cases import normalize
from referral_engine.cases.choices import PersonFlag, Sex
from referral_engine.cases.inputs import clean_birth_date, clean_choice, clean_code, clean_text
from referral_engine.cases.models import Person
from referral_engine.errors import InvalidInput


@dataclass(frozen=True)
class PersonInput:
    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    birth_date: date | None
    sex: str
    address: str
    district: District | None
    phone: str
    flags: list[str]


def person_input(data: dict[str, Any]) -> PersonInput:
    if not isinstance(data, dict):
        raise InvalidInput(
            _("本人の情報が正しくありません。"), fields={"person": [_("オブジェクトで指定してください。")]}
        )
    district = None
    if data.get("district"):
        district = District.objects.filter(code=clean_code(data["district"])).first()
        if district is None:
            raise InvalidInput(
                _("地区が見つかりません。"),
                fields={"district": [_("「%(v)s」という地区はありません。") % {"v": data["district"]}]},
            )
    flags = data.get("flags") or []
    if not isinstance(flags, list) or any(f not in PersonFlag.values for f in flags):
        raise InvalidInput(_("特記事項が正しくありません。"), fields={"flags": [_("選択肢にない値があります。")]})
    return PersonInput(
        family_name=clean_text(data.get("family_name"), field="family_name", required=True, max_length=50),
        given_name=clean_text(data.get("given_name"), field="given_name", max_length=50),
        family_name_kana=normalize.to_katakana(
            clean_text(data.get("family_name_kana"), field="family_name_kana", max_length=100)
        ),
        given_name_kana=normalize.to_katakana(
            clean_text(data.get("given_name_kana"), field="given_name_kana", max_length=100)
        ),
        birth_date=clean_birth_date(data.get("birth_date")),
        sex=clean_choice(data.get("sex") or "", Sex, field="sex", default=""),
        address=clean_text(data.get("address"), field="address", max_length=200),
        district=district,
        phone=clean_text(data.get("phone"), field="phone", max_length=30),
        flags=sorted(set(flags)),
    )


def person_duplicate_candidates(person: PersonInput, *, limit: int = 10) -> list[Person]:
    """Same normalised kana, kanji name or phone, and a birth date that does not contradict.
    A different birth date is not a match. Staff decide; nothing is merged."""
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
    return list(Person.objects.filter(query).select_related("district").order_by("id")[:limit])


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


def _person_create(data: PersonInput, *, actor: User) -> Person:
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
