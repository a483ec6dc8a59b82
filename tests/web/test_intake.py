"""Intake in one screen: a new person with referrals, the double-submit token, errors next to the
fields with nothing lost, the duplicate warning, and the search-as-you-type endpoint."""

from __future__ import annotations

import re

import pytest

from referral_engine.audit.models import AccessLog
from referral_engine.cases.models import Case, CaseEvent, Consent, IntakeToken, Person
from referral_engine.cases.services.person_choice import person_choice_person_id

pytestmark = pytest.mark.django_db


def intake_post(**overrides):
    data = {
        "idempotency_key": "key-0001",
        "family_name": "保戸島",
        "given_name": "三郎",
        "family_name_kana": "ほとじま",
        "given_name_kana": "さぶろう",
        "birth_date": "1940-02-29",
        "district": "hoto",
        "address": "津久見市保戸島1",
        "phone": "0972-11-2233",
        "channel": "counter",
        "summary": "最近外出していない。",
        "needs": ["isolation", "health"],
        "risk": "normal",
        "refer_health_promotion": "on",
        "basis_health_promotion": "internal_use",
        "reason_health_promotion": "保健師の訪問をお願いします。",
        "refer_longevity_support": "on",
        "basis_longevity_support": "internal_use",
        "reason_longevity_support": "",
        "first_note": "本人は話し好き。",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_the_form_carries_a_fresh_token_and_a_row_per_receiving_body(as_user):
    page = as_user("desk_welfare").get("/cases/new/").content.decode()
    assert 'name="idempotency_key"' in page
    for code in ("health_promotion", "longevity_support", "disaster_prevention", "shakyo"):
        assert f'name="refer_{code}"' in page
    assert 'name="refer_social_welfare"' not in page  # never to your own window


def test_intake_opens_the_case_with_its_referrals_note_and_timeline(as_user):
    response = as_user("desk_welfare").post("/cases/new/", intake_post())
    case = Case.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/cases/{case.pk}/"
    assert case.person.family_name_kana == "ホトジマ"  # hiragana typed, katakana stored
    assert case.needs == ["isolation", "health"]
    referrals = {r.to_department.code: r for r in case.referrals.all()}
    assert set(referrals) == {"health_promotion", "longevity_support"}
    assert referrals["longevity_support"].reason == "最近外出していない。"  # blank reason → the summary
    assert case.activities.get().body == "本人は話し好き。"
    kinds = list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True))
    assert kinds.count("referral_requested") == 2 and "case_opened" in kinds


def test_submitting_twice_with_the_same_token_makes_one_case(as_user):
    client = as_user("desk_welfare")
    first = client.post("/cases/new/", intake_post())
    second = client.post("/cases/new/", intake_post())
    assert Case.objects.count() == 1
    assert Person.objects.count() == 1
    assert IntakeToken.objects.count() == 1
    assert first["Location"] == second["Location"]


def test_a_new_token_is_a_new_intake(as_user):
    client = as_user("desk_welfare")
    client.post("/cases/new/", intake_post())
    response = client.post("/cases/new/", intake_post(idempotency_key="key-0002", confirm_new_person="1"))
    assert response.status_code == 302
    assert Case.objects.count() == 2


def test_field_errors_are_shown_next_to_the_fields_and_nothing_typed_is_lost(as_user):
    response = as_user("desk_welfare").post(
        "/cases/new/", intake_post(family_name="", summary="", first_note="消えてはいけないメモ")
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert Case.objects.count() == 0
    assert 'class="error-summary" role="alert"' in html
    assert 'id="id_summary-errors"' in html and 'aria-invalid="true"' in html
    assert 'aria-describedby="id_summary-errors"' in html
    assert "本人を検索して選ぶか、氏を入力してください。" in html
    assert "消えてはいけないメモ" in html  # the note survives
    assert 'value="さぶろう"' in html
    assert 'value="key-0001"' in html  # the same token: a fixed resubmit is still one case


def test_a_refused_referral_is_reported_on_its_row_and_saves_nothing(as_user):
    # The shakyo is external: 庁内利用 is not a basis for it (DESIGN §4).
    response = as_user("desk_welfare").post(
        "/cases/new/",
        intake_post(refer_shakyo="on", basis_shakyo="internal_use", reason_shakyo="サロンへの参加"),
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert Case.objects.count() == 0 and Person.objects.count() == 0
    assert 'id="id_basis_shakyo-errors"' in html
    assert "津久見市社会福祉協議会: 提供の根拠" in html  # the summary names the body


def test_consent_given_at_intake_lets_the_shakyo_be_referred(as_user):
    response = as_user("desk_welfare").post(
        "/cases/new/",
        intake_post(
            consent_given="on",
            consent_recipients=["shakyo", "health_promotion"],
            consent_purposes="支援のための情報共有",
            consent_method="oral",
            refer_shakyo="on",
            basis_shakyo="consent",
            reason_shakyo="サロンへの参加",
        ),
    )
    assert response.status_code == 302
    case = Case.objects.get()
    assert Consent.objects.get(case=case).recipients == ["health_promotion", "shakyo"]
    assert case.referrals.get(to_department__code="shakyo").basis == "consent"


def test_a_possible_duplicate_is_shown_with_use_this_person_and_register_as_new(as_user, open_case):
    existing = open_case(
        "desk_health",
        person={
            "family_name": "保戸島",
            "given_name": "三郎",
            "family_name_kana": "ホトジマ",
            "given_name_kana": "サブロウ",
            "birth_date": "1940-02-29",
            "district": "hoto",
        },
    ).person
    client = as_user("desk_welfare")
    response = client.post("/cases/new/", intake_post())
    html = response.content.decode()
    assert response.status_code == 409
    assert 'class="duplicate-warning" role="alert"' in html
    # The button carries the candidate's proof, not the bare id (issue 17: ids cannot be walked).
    use = re.search(r'name="use_person" value="([^"]+)"', html).group(1)
    assert use != str(existing.pk) and person_choice_person_id(use) == existing.pk
    assert 'name="confirm_new_person" value="1"' in html
    assert "昭和15年2月29日 (1940)" in html
    assert Case.objects.count() == 1  # only the earlier one

    response = client.post("/cases/new/", intake_post(use_person=use))
    assert response.status_code == 302
    assert Person.objects.count() == 1
    assert Case.objects.filter(person=existing).count() == 2


def test_register_as_new_person_after_the_warning(as_user, open_case):
    open_case(
        "desk_health",
        person={
            "family_name": "保戸島",
            "given_name": "三郎",
            "family_name_kana": "ホトジマ",
            "given_name_kana": "サブロウ",
            "birth_date": "1940-02-29",
            "district": "hoto",
        },
    )
    client = as_user("desk_welfare")
    response = client.post("/cases/new/", intake_post(confirm_new_person="1"))
    assert response.status_code == 302
    assert Person.objects.count() == 2


def test_a_person_picked_by_search_is_used_without_retyping(as_user, open_case):
    existing = open_case("desk_health").person
    client = as_user("desk_welfare")
    (hit,) = client.get("/persons/search/", {"q": "津久見"}).json()["results"]
    data = intake_post(
        person_id=str(existing.pk),
        person_choice=hit["choice"],  # the proof the search hit carries (issue 17)
        person_label="津久見 花子",
        family_name="",
        given_name="",
    )
    response = client.post("/cases/new/", data)
    assert response.status_code == 302
    assert Case.objects.filter(person=existing).count() == 2


def test_person_search_by_kana_or_kanji_returns_json_and_is_logged(as_user, open_case):
    open_case("desk_health")
    client = as_user("desk_welfare")
    by_kana = client.get("/persons/search/", {"q": "つくみ"}).json()["results"]
    by_kanji = client.get("/persons/search/", {"q": "津久見"}).json()["results"]
    assert [r["name"] for r in by_kana] == [r["name"] for r in by_kanji] == ["津久見 花子1"]
    assert by_kana[0]["birth_date"] == "昭和19年5月3日 (1944)"
    logged = AccessLog.objects.filter(action="search", username="desk_welfare").order_by("id")
    # Kept as fingerprints, not as typed (docs/audit.md#search-terms).
    from referral_engine.audit.services import search_term_fingerprint

    assert list(logged.values_list("query", flat=True)) == [
        search_term_fingerprint("つくみ"),
        search_term_fingerprint("津久見"),
    ]


def test_person_search_is_for_staff_only(as_user):
    assert as_user("minsei_kawakami").get("/persons/search/", {"q": "ツクミ"}).status_code == 403
    assert as_user("auditor").get("/persons/search/", {"q": "ツクミ"}).status_code == 403
