"""Demo data for disaster mode (issue 20 item 6): a few people on the 避難行動要支援者 register in
kawakami and aoe, as the city's register would hold them (no case needed), so that opening a disaster in
the demo shows a live board."""

from __future__ import annotations

from referral_engine.accounts.models import District
from referral_engine.accounts.system import system_user
from referral_engine.audit.history import save_with_history
from referral_engine.cases import normalize
from referral_engine.cases.choices import PersonFlag
from referral_engine.cases.models import Person

REGISTER = [
    ("kawakami", "川上", "トメ", "カワカミ", "トメ", "1936-02-11", "津久見市川上3-1"),
    ("kawakami", "宮本", "清", "ミヤモト", "キヨシ", "1941-07-30", "津久見市川上4-12"),
    ("kawakami", "松尾", "ハル", "マツオ", "ハル", "1939-12-05", "津久見市川上2-8"),
    ("aoe", "青木", "正男", "アオキ", "マサオ", "1938-04-18", "津久見市青江1-20"),
    ("aoe", "戸高", "ミツ", "トダカ", "ミツ", "1934-09-09", "津久見市青江3-3"),
    ("aoe", "小手川", "和子", "コテガワ", "カズコ", "1945-01-23", "津久見市青江2-14"),
]


def demo_register_ensure() -> int:
    """The register's demo people (once: none is made twice). Returns how many were made."""
    districts = {d.code: d for d in District.objects.filter(code__in={r[0] for r in REGISTER})}
    actor = system_user()
    made = 0
    for code, family, given, family_kana, given_kana, born, address in REGISTER:
        if code not in districts:
            continue
        key = normalize.kana_key(family_kana, given_kana)
        if Person.objects.filter(kana_key=key, birth_date=born).exists():
            continue
        person = Person(
            family_name=family,
            given_name=given,
            family_name_kana=family_kana,
            given_name_kana=given_kana,
            birth_date=born,
            address=address,
            district=districts[code],
            flags=[PersonFlag.EVACUATION_SUPPORT.value, PersonFlag.LIVES_ALONE.value],
            kana_key=key,
            name_key=normalize.name_key(family, given),
        )
        save_with_history(person, actor=actor, reason="person_create")
        made += 1
    return made
