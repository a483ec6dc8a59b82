"""DESIGN §4: every basis × every receiving body × consent present / absent / withdrawn."""

import pytest
from django.utils import timezone

from referral_engine.cases.models import Consent, Referral
from referral_engine.cases.services.records import consent_record, consent_withdraw
from referral_engine.cases.services.referrals import referral_create
from referral_engine.errors import InvalidInput

BASES = ["consent", "internal_use", "support_meeting", "vital_interest", "disaster", "legal_duty"]
TARGETS = ["health_promotion", "longevity_support", "disaster_prevention", "shakyo"]
CONSENT = ["present", "absent", "withdrawn"]


def expected_ok(basis: str, target: str, consent: str, justified: bool) -> bool:
    external = target == "shakyo"
    if basis == "internal_use":
        return not external
    if basis == "consent":
        return consent == "present"
    return justified  # support_meeting / vital_interest / disaster / legal_duty need a written justification


@pytest.mark.parametrize("justified", [True, False])
@pytest.mark.parametrize("consent_state", CONSENT)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("basis", BASES)
def test_basis_matrix(open_case, users, fresh, basis, target, consent_state, justified):
    worker = users["worker_welfare"]
    case = open_case("worker_welfare")
    if consent_state != "absent":
        consent = consent_record(
            case_id=case.pk, actor=fresh(worker), recipients=[target], purposes="見守りと支援のため", method="written"
        )
        if consent_state == "withdrawn":
            consent_withdraw(consent_id=consent.pk, actor=fresh(worker))
    before = Referral.objects.count()
    call = {
        "case_id": case.pk,
        "actor": fresh(worker),
        "to_department": target,
        "basis": basis,
        "reason": "支援の依頼",
        "justification": "支援会議で合意（議事録あり）" if justified else "",
    }
    if expected_ok(basis, target, consent_state, justified):
        referral = referral_create(**call)
        assert referral.basis == basis
        if basis == "consent":
            assert referral.consent is not None and referral.consent.is_active
        assert referral.events.filter(kind="disclosure", name=basis).exists()
    else:
        with pytest.raises(InvalidInput) as info:
            referral_create(**call)
        assert info.value.fields, "the refusal names the field"
        assert str(info.value.message)
        assert Referral.objects.count() == before  # nothing saved


def test_from_shakyo_to_the_city_needs_consent_covering_the_city_section(users, fresh, org):
    from referral_engine.cases.services.intake import case_open

    shakyo = fresh(users["worker_shakyo"])
    case = case_open(
        actor=shakyo,
        summary="サロンに来なくなった",
        person={"family_name": "保戸", "given_name": "次郎", "family_name_kana": "ホト", "given_name_kana": "ジロウ"},
        confirm_new_person=True,
    )
    with pytest.raises(InvalidInput):
        referral_create(
            case_id=case.pk, actor=fresh(shakyo), to_department="health_promotion", basis="internal_use", reason="x"
        )
    consent_record(
        case_id=case.pk, actor=fresh(shakyo), recipients=["health_promotion"], purposes="健康相談", method="oral"
    )
    referral = referral_create(
        case_id=case.pk, actor=fresh(shakyo), to_department="health_promotion", basis="consent", reason="健康相談"
    )
    assert referral.from_department.code == "shakyo"


def test_withdrawn_consent_keeps_existing_disclosures(open_case, users, fresh):
    worker = users["worker_welfare"]
    case = open_case("worker_welfare")
    consent = consent_record(
        case_id=case.pk, actor=fresh(worker), recipients=["shakyo"], purposes="サロン参加", method="written"
    )
    referral = referral_create(
        case_id=case.pk, actor=fresh(worker), to_department="shakyo", basis="consent", reason="サロン"
    )
    consent_withdraw(consent_id=consent.pk, actor=fresh(worker), note="本人より撤回")
    referral.refresh_from_db()
    assert referral.consent_id == consent.pk
    assert Consent.objects.get(pk=consent.pk).withdrawn_at <= timezone.now()


def test_intake_with_a_refused_referral_saves_nothing(users, fresh, org):
    from referral_engine.cases.models import Case, Person
    from referral_engine.cases.services.intake import case_open

    counts = (Case.objects.count(), Person.objects.count(), Referral.objects.count())
    with pytest.raises(InvalidInput) as info:
        case_open(
            actor=fresh(users["desk_welfare"]),
            summary="相談",
            person={"family_name": "青江", "given_name": "三郎"},
            confirm_new_person=True,
            referrals=[
                {"to_department": "health_promotion", "basis": "internal_use", "reason": "ok"},
                {"to_department": "shakyo", "basis": "internal_use", "reason": "not allowed"},
            ],
        )
    assert any(key.startswith("referrals[1]") for key in info.value.fields)
    assert (Case.objects.count(), Person.objects.count(), Referral.objects.count()) == counts
