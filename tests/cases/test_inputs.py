"""Input limits are declared once (cases/inputs.py) and the model, the web form, the API serializer
and the service all hold to the same one (issue 15, item 7)."""

from __future__ import annotations

import pytest

from referral_engine.api import community as community_api
from referral_engine.api import serializers as s
from referral_engine.cases import models
from referral_engine.cases.inputs import (
    ActivityInputs,
    ConsentInputs,
    IntakeInputs,
    PersonInputs,
    ReferralInputs,
    SlipInputs,
    TextInput,
    TransitionInputs,
    WatchInputs,
    person_input,
)
from referral_engine.errors import InvalidInput
from referral_engine.web import community_forms, forms

PERSON = [
    PersonInputs.family_name,
    PersonInputs.given_name,
    PersonInputs.family_name_kana,
    PersonInputs.given_name_kana,
    PersonInputs.address,
    PersonInputs.phone,
]
SLIP = [SlipInputs.name, SlipInputs.name_kana, SlipInputs.address_note, SlipInputs.concern]

# (spec, where it is read: a model, form or serializer class and the name of its field)
READERS: list[tuple[TextInput, type, str]] = [
    *[(spec, models.Person, spec.field) for spec in PERSON],
    *[(spec, forms.IntakeForm, spec.field) for spec in PERSON],
    *[(spec, s.PersonInputSerializer, spec.field) for spec in PERSON],
    (IntakeInputs.summary, forms.IntakeForm, "summary"),
    (IntakeInputs.summary, s.CaseOpenSerializer, "summary"),
    (IntakeInputs.idempotency_key, forms.IntakeForm, "idempotency_key"),
    (IntakeInputs.idempotency_key, models.IntakeToken, "key"),
    (ActivityInputs.body, forms.ActivityForm, "body"),
    (ActivityInputs.body, s.ActivityCreateSerializer, "body"),
    (ActivityInputs.body, forms.IntakeForm, "first_note"),
    (ActivityInputs.body, s.CaseOpenSerializer, "first_note"),
    (ReferralInputs.reason, forms.ReferralCreateForm, "reason"),
    (ReferralInputs.reason, s.ReferralCreateSerializer, "reason"),
    (ReferralInputs.reason, s.ReferralSpecSerializer, "reason"),
    (ReferralInputs.justification, forms.ReferralCreateForm, "justification"),
    (ReferralInputs.justification, s.ReferralCreateSerializer, "justification"),
    (ReferralInputs.justification, s.ReferralSpecSerializer, "justification"),
    (TransitionInputs.reason, forms.CaseTransitionForm, "reason"),
    (TransitionInputs.reason, s.CaseTransitionSerializer, "reason"),
    (TransitionInputs.reason, s.ReferralTransitionSerializer, "reason"),
    (ConsentInputs.purposes, forms.ConsentForm, "purposes"),
    (ConsentInputs.purposes, forms.IntakeForm, "consent_purposes"),
    (ConsentInputs.purposes, s.ConsentInputSerializer, "purposes"),
    (ConsentInputs.note, forms.ConsentForm, "note"),
    (ConsentInputs.note, forms.ConsentWithdrawForm, "note"),
    (ConsentInputs.note, s.ConsentInputSerializer, "note"),
    (ConsentInputs.note, s.ConsentWithdrawSerializer, "note"),
    *[(spec, forms.SlipForm, spec.field) for spec in SLIP],
    *[(spec, s.SlipCreateSerializer, spec.field) for spec in SLIP],
    *[(spec, models.CommunitySlip, spec.field) for spec in SLIP if spec is not SlipInputs.concern],
    # 見守り依頼 (issue 19)
    (WatchInputs.what_to_watch, models.WatchRequest, "what_to_watch"),
    (WatchInputs.what_to_watch, community_forms.WatchRequestForm, "what_to_watch"),
    (WatchInputs.what_to_watch, community_api.WatchRequestCreateSerializer, "what_to_watch"),
    (WatchInputs.justification, community_forms.WatchRequestForm, "justification"),
    (WatchInputs.justification, community_api.WatchRequestCreateSerializer, "justification"),
    (WatchInputs.note, models.WatchReport, "note"),
    (WatchInputs.note, community_forms.WatchReportForm, "note"),
    (WatchInputs.note, community_api.WatchReportCreateSerializer, "note"),
    (WatchInputs.reason, community_forms.WatchCloseForm, "reason"),
    (WatchInputs.reason, community_api.WatchCloseSerializer, "reason"),
]


def _max_length(owner: type, name: str) -> int | None:
    if hasattr(owner, "_meta"):
        return owner._meta.get_field(name).max_length
    if hasattr(owner, "base_fields"):
        return owner.base_fields[name].max_length
    return owner().fields[name].max_length


@pytest.mark.parametrize("spec,owner,name", READERS, ids=[f"{owner.__name__}.{name}" for _spec, owner, name in READERS])
def test_every_reader_holds_the_declared_limit(spec, owner, name):
    assert _max_length(owner, name) == spec.max_length


@pytest.mark.django_db
@pytest.mark.parametrize("spec", PERSON, ids=[spec.field for spec in PERSON])
def test_a_person_field_one_over_its_limit_is_refused_by_form_serializer_and_service(spec):
    at_limit = {"family_name": "津久見", spec.field: "ア" * spec.max_length}
    over = {**at_limit, spec.field: "ア" * (spec.max_length + 1)}

    assert getattr(person_input(at_limit), spec.field) == "ア" * spec.max_length
    with pytest.raises(InvalidInput) as refused:
        person_input(over)
    assert spec.field in refused.value.fields

    serializer = s.PersonInputSerializer(data=over)
    assert not serializer.is_valid() and spec.field in serializer.errors

    form = forms.IntakeForm(data={**over, "summary": "相談", "channel": "counter", "risk": "normal"})
    assert not form.is_valid() and spec.field in form.errors


def test_a_required_text_is_required_and_cleaned():
    with pytest.raises(InvalidInput) as refused:
        ActivityInputs.body.clean(" \x00\n ")
    assert refused.value.fields == {"body": ["この項目は必須です。"]}
    assert ActivityInputs.body.clean(" 電話\x07で確認 ") == "電話で確認"
    assert ConsentInputs.note.clean(None) == ""
