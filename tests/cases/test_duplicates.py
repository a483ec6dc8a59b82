import pytest

from referral_engine.cases import normalize
from referral_engine.cases.services.intake import case_open
from referral_engine.errors import PossibleDuplicate

BASE = {
    "family_name": "髙橋",
    "given_name": "一郎",
    "family_name_kana": "タカハシ",
    "given_name_kana": "イチロウ",
    "birth_date": "1950-01-02",
    "phone": "0972-11-2233",
}


@pytest.mark.parametrize(
    ("a", "b"),
    [("ﾀｶﾊｼ ｲﾁﾛｳ", "タカハシ　イチロウ"), ("たかはし", "タカハシ"), ("ヴィラ", "ビラ"), ("ヂ", "ジ")],
)
def test_kana_keys_meet(a, b):
    assert normalize.kana_key(a) == normalize.kana_key(b)


@pytest.mark.parametrize(
    ("a", "b"), [("髙橋", "高橋"), ("山﨑", "山崎"), ("渡邊", "渡辺"), ("渡邉", "渡辺"), ("濵田", "浜田")]
)
def test_kanji_variants_meet(a, b):
    assert normalize.name_key(a) == normalize.name_key(b)


def _open(users, fresh, **person):
    return case_open(actor=fresh(users["desk_welfare"]), summary="相談", person={**BASE, **person})


def test_half_width_kana_and_variant_kanji_are_candidates(users, fresh):
    first = _open(users, fresh)
    with pytest.raises(PossibleDuplicate) as info:
        _open(users, fresh, family_name="高橋", family_name_kana="ﾀｶﾊｼ", given_name_kana="ｲﾁﾛｳ")
    assert [c["id"] for c in info.value.candidates] == [first.person_id]
    # The minimal candidate (DESIGN §11.1): the town part of the address, never the house number or phone.
    assert set(info.value.candidates[0]) == {
        "id",
        "name",
        "kana",
        "birth_date",
        "district",
        "town",
        "open_case_at",
        "choice",
    }
    assert info.value.candidates[0]["open_case_at"] == ["social_welfare"]


def test_a_different_birth_date_is_not_a_match(users, fresh):
    _open(users, fresh)
    case = _open(users, fresh, birth_date="1950-01-03")
    assert case.person.birth_date.isoformat() == "1950-01-03"


def test_confirmed_new_person_is_never_merged(users, fresh):
    first = _open(users, fresh)
    second = case_open(actor=fresh(users["desk_welfare"]), summary="相談", person=BASE, confirm_new_person=True)
    assert second.person_id != first.person_id


def test_lone_surrogates_and_control_characters_are_dropped(users, fresh):
    case = case_open(
        actor=fresh(users["desk_welfare"]),
        summary="相談\ud800です\x00\x07\x7f",
        person={"family_name": "𠮷田", "given_name": "🙂"},
        confirm_new_person=True,
    )
    case.refresh_from_db()
    assert case.summary == "相談です"
    assert case.person.family_name == "𠮷田"
