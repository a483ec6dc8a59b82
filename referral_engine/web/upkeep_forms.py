"""Forms of keeping persons and cases right (issue 17): reassessment, merging persons, the desk's
slip triage, households. Shapes only; the services decide (`DomainErrorsMixin` puts their field
errors back)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from referral_engine.cases.choices import HouseholdRelation, Need, Risk
from referral_engine.cases.inputs import IntakeInputs, UpkeepInputs
from referral_engine.web.forms import CheckboxList, DomainErrorsMixin, RadioList


class ReassessForm(DomainErrorsMixin, forms.Form):
    risk = forms.ChoiceField(label=_("緊急度"), choices=Risk.choices, widget=RadioList)
    needs = forms.MultipleChoiceField(label=_("相談分野"), choices=Need.choices, required=False, widget=CheckboxList)
    summary = forms.CharField(
        label=_("主訴・相談の内容"),
        max_length=IntakeInputs.summary.max_length,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    reason = forms.CharField(
        label=_("見直しの理由"),
        max_length=UpkeepInputs.reason.max_length,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("何があって見直したか（履歴に残ります）"),
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "reassess-%s")
        super().__init__(*args, **kwargs)


class MergeForm(DomainErrorsMixin, forms.Form):
    into = forms.IntegerField(label=_("統合先の本人"), min_value=1)
    reason = forms.CharField(label=_("統合の理由"), max_length=UpkeepInputs.reason.max_length)
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class SlipLinkForm(DomainErrorsMixin, forms.Form):
    person_id = forms.IntegerField(label=_("登録済みの本人"), min_value=1)


class HouseholdMemberForm(DomainErrorsMixin, forms.Form):
    person_id = forms.IntegerField(label=_("世帯員（本人番号）"), min_value=1)
    relation = forms.ChoiceField(label=_("続柄"), choices=HouseholdRelation.choices)
    without_work = forms.BooleanField(label=_("就労していない"), required=False)
    reason = forms.CharField(label=_("理由"), max_length=UpkeepInputs.reason.max_length)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "household-%s")
        super().__init__(*args, **kwargs)


class HouseholdRemoveForm(DomainErrorsMixin, forms.Form):
    person_id = forms.IntegerField(min_value=1)
    reason = forms.CharField(label=_("理由"), max_length=UpkeepInputs.reason.max_length)
