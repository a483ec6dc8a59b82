"""The forms of watching over with the district (見守り依頼): the staff's request on the case page and
the connector's few-tap report. Shapes only; `cases.services.watch` decides the rest."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from referral_engine.accounts.models import District
from referral_engine.cases.choices import Basis, WatchOutcome
from referral_engine.cases.inputs import WatchInputs
from referral_engine.web.forms import BLANK, DomainErrorsMixin, RadioList

# The bases a watch request may rest on (internal_use never reaches volunteers: docs/community.md).
WATCH_BASES = [Basis.CONSENT, Basis.SUPPORT_MEETING, Basis.VITAL_INTEREST, Basis.DISASTER]


class WatchRequestForm(DomainErrorsMixin, forms.Form):
    district = forms.ChoiceField(label=_("見守りをお願いする地区"))
    what_to_watch = forms.CharField(
        label=_("見守ってほしいこと"),
        max_length=WatchInputs.what_to_watch.max_length,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("つなぎ役の方に伝わる内容です。相談の内容や病名は書かないでください。"),
    )
    until = forms.DateField(label=_("見守りの期限"), widget=forms.DateInput(attrs={"type": "date"}))
    basis = forms.ChoiceField(
        label=_("情報提供の根拠"), choices=[(b.value, b.label) for b in WATCH_BASES], widget=RadioList
    )
    justification = forms.CharField(
        label=_("根拠の説明（同意以外のとき必須）"),
        max_length=WatchInputs.justification.max_length,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(
        self, *args: Any, person_district: str = "", districts: list[District] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if districts is None:
            districts = list(District.objects.filter(is_active=True).order_by("pk"))
        self.fields["district"].choices = BLANK + [(d.code, d.name) for d in districts if d.is_active]
        self.fields["district"].initial = person_district
        self.fields["until"].initial = timezone.localdate() + timedelta(days=90)


class WatchCloseForm(forms.Form):
    reason = forms.CharField(label=_("終了の理由（任意）"), max_length=WatchInputs.reason.max_length, required=False)


class WatchReportForm(DomainErrorsMixin, forms.Form):
    outcome = forms.ChoiceField(label=_("訪問の結果"), choices=WatchOutcome.choices, widget=RadioList)
    note = forms.CharField(
        label=_("ひとこと（任意）"),
        max_length=WatchInputs.note.max_length,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    visited_on = forms.DateField(label=_("訪問日"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["visited_on"].initial = timezone.localdate()
