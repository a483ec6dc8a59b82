"""Forms parse and check the shape of what a page sends; the services decide everything else and
their InvalidInput field errors are put back next to the fields (`add_domain_errors`)."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from referral_engine.accounts.models import DateStyle, Department, District, MailPreference, User
from referral_engine.accounts.roles import Role
from referral_engine.cases.choices import (
    SENSITIVE_FLAGS,
    ActivityKind,
    Basis,
    Channel,
    ClosureReason,
    ConsentMethod,
    Need,
    PersonFlag,
    Risk,
    Sex,
    SlipUrgency,
)
from referral_engine.cases.inputs import (
    ActivityInputs,
    ConsentInputs,
    FollowUpInputs,
    InRangeDateField,
    InRangeDateTimeField,
    IntakeInputs,
    PersonEditInputs,
    PersonInputs,
    ReferralInputs,
    SlipInputs,
    TransitionInputs,
)
from referral_engine.cases.services.case_state import CASE_TRANSITIONS

BLANK = [("", "---------")]
GENERIC_INVALID = _("入力内容を確認してください。")  # already the error summary's heading

# A row's key is a 64-bit integer: an id past it is a field error, not a database's overflow (SQLite
# refused 2**64 with an OverflowError: a 500 that test_hostile_forms found).
MAX_ID = 2**63 - 1


class CheckboxList(forms.CheckboxSelectMultiple):
    """Checkboxes laid out as a wrapping grid of large targets (CSS class `choice-grid`)."""

    def __init__(self, attrs=None):
        super().__init__(attrs={"class": "choice-grid", **(attrs or {})})


class RadioList(forms.RadioSelect):
    def __init__(self, attrs=None):
        super().__init__(attrs={"class": "choice-grid", **(attrs or {})})


def department_choices(exclude_ids: frozenset[int] | set[int] = frozenset()) -> list[tuple[str, str]]:
    return [
        (d.code, d.name_ja) for d in Department.objects.filter(is_active=True).order_by("id") if d.pk not in exclude_ids
    ]


class DomainErrorsMixin:
    """Place a service's InvalidInput `fields` on the form: known names next to their field,
    the rest at the top. `field_map` renames service names to form names."""

    field_map: dict[str, str] = {}

    def add_domain_errors(self, exc: Any, extra_map: dict[str, str] | None = None) -> None:
        mapping = {**self.field_map, **(extra_map or {})}
        seen = set()
        for key, messages in (getattr(exc, "fields", None) or {}).items():
            name = mapping.get(key, key)
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
                seen.add(str(message))
        # The service's message explains the rule (e.g. why 庁内利用 cannot reach the shakyo): keep it
        # at the top unless it only repeats a field's message.
        if str(exc.message) not in seen and str(exc.message) != str(GENERIC_INVALID):
            self.add_error(None, exc.message)


# --- Intake -------------------------------------------------------------------------------------


class IntakeForm(DomainErrorsMixin, forms.Form):
    """Intake in one screen: the person (found or new), the concern, consent, referrals, a note.

    Referral fields are made per receiving body (`refer_<code>`, `basis_<code>`, `reason_<code>`,
    `justification_<code>`): five bodies fit on one screen and need no script to add rows."""

    field_map = {
        "body": "first_note",
        "recipients": "consent_recipients",
        "purposes": "consent_purposes",
        "method": "consent_method",
        "note": "first_note",
        "kind": "first_note",
    }

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=IntakeInputs.idempotency_key.max_length)
    person_id = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1, max_value=MAX_ID)

    # Required: a person found by the search, or a family name (checked in clean()).
    family_name = forms.CharField(
        label=_("氏"),
        max_length=PersonInputs.family_name.max_length,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    given_name = forms.CharField(
        label=_("名"),
        max_length=PersonInputs.given_name.max_length,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    family_name_kana = forms.CharField(
        label=_("氏（フリガナ）"),
        max_length=PersonInputs.family_name_kana.max_length,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    given_name_kana = forms.CharField(
        label=_("名（フリガナ）"),
        max_length=PersonInputs.given_name_kana.max_length,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    birth_date = InRangeDateField(
        label=_("生年月日"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("西暦で入力（和暦は下に表示）"),
    )
    sex = forms.ChoiceField(label=_("性別"), choices=BLANK + list(Sex.choices), required=False)
    district = forms.ChoiceField(label=_("地区"), required=False)
    address = forms.CharField(label=_("住所"), max_length=PersonInputs.address.max_length, required=False)
    phone = forms.CharField(
        label=_("電話番号"),
        max_length=PersonInputs.phone.max_length,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    flags = forms.MultipleChoiceField(
        label=_("特記事項"), choices=PersonFlag.choices, required=False, widget=CheckboxList
    )

    channel = forms.ChoiceField(label=_("受付の経路"), choices=Channel.choices, initial=Channel.COUNTER)
    summary = forms.CharField(
        label=_("主訴・相談の内容"),
        max_length=IntakeInputs.summary.max_length,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    needs = forms.MultipleChoiceField(label=_("相談分野"), choices=Need.choices, required=False, widget=CheckboxList)
    risk = forms.ChoiceField(label=_("緊急度"), choices=Risk.choices, initial=Risk.NORMAL, widget=RadioList)

    consent_given = forms.BooleanField(label=_("本人から情報提供の同意を得た"), required=False)
    consent_recipients = forms.MultipleChoiceField(label=_("同意した提供先"), required=False, widget=CheckboxList)
    consent_purposes = forms.CharField(
        label=_("利用目的"),
        max_length=ConsentInputs.purposes.max_length,
        required=False,
        widget=forms.TextInput(),
        initial=_("相談への対応と支援のため、関係部署・団体で情報を共有すること"),
    )
    consent_method = forms.ChoiceField(
        label=_("同意の方法"),
        choices=ConsentMethod.choices,
        required=False,
        initial=ConsentMethod.ORAL,
        widget=RadioList,
    )

    first_note = forms.CharField(
        label=_("最初の記録"),
        max_length=ActivityInputs.body.max_length,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("受付時の様子など。要配慮の内容は受付後に支援記録で「要配慮」として記録してください。"),
    )

    def __init__(self, *args: Any, window_ids: frozenset[int] = frozenset(), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound and not self.initial.get("idempotency_key"):
            self.initial["idempotency_key"] = uuid.uuid4().hex
        self.fields["district"].choices = BLANK + [
            (d.code, d.name) for d in District.objects.filter(is_active=True).order_by("id")
        ]
        departments = list(Department.objects.filter(is_active=True).order_by("id"))
        self.fields["consent_recipients"].choices = [(d.code, d.name_ja) for d in departments]
        self.receiving = [d for d in departments if d.pk not in window_ids]
        for d in self.receiving:
            self.fields[f"refer_{d.code}"] = forms.BooleanField(label=d.name_ja, required=False)
            self.fields[f"basis_{d.code}"] = forms.ChoiceField(
                label=_("提供の根拠"),
                choices=BLANK + list(Basis.choices),
                required=False,
                initial=Basis.CONSENT if d.is_external else Basis.INTERNAL_USE,
            )
            self.fields[f"reason_{d.code}"] = forms.CharField(
                label=_("依頼の理由"),
                max_length=ReferralInputs.reason.max_length,
                required=False,
                widget=forms.Textarea(attrs={"rows": 2}),
                help_text=_("空欄なら主訴をそのまま使います。"),
            )
            self.fields[f"justification_{d.code}"] = forms.CharField(
                label=_("根拠の説明"),
                max_length=ReferralInputs.justification.max_length,
                required=False,
                widget=forms.Textarea(attrs={"rows": 2}),
                help_text=_("支援会議・生命身体の保護・災害・法令を根拠にするときは必須です。"),
            )
            for name in ("basis", "reason", "justification"):
                # The error summary names the body: "津久見市社会福祉協議会: 提供の根拠".
                bound = self.fields[f"{name}_{d.code}"]
                bound.error_label = f"{d.name_ja}: {bound.label}"

    def referral_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "department": d,
                "refer": self[f"refer_{d.code}"],
                "basis": self[f"basis_{d.code}"],
                "reason": self[f"reason_{d.code}"],
                "justification": self[f"justification_{d.code}"],
            }
            for d in self.receiving
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("person_id") and not cleaned.get("family_name"):
            self.add_error("family_name", _("本人を検索して選ぶか、氏を入力してください。"))
        if cleaned.get("consent_given"):
            if not cleaned.get("consent_recipients"):
                self.add_error("consent_recipients", _("同意した提供先を選んでください。"))
            if not cleaned.get("consent_purposes"):
                self.add_error("consent_purposes", _("利用目的を入力してください。"))
            if not cleaned.get("consent_method"):
                self.add_error("consent_method", _("同意の方法を選んでください。"))
        for d in self.receiving:
            if cleaned.get(f"refer_{d.code}") and not cleaned.get(f"basis_{d.code}"):
                self.add_error(f"basis_{d.code}", _("提供の根拠を選んでください。"))
        return cleaned

    def person_payload(self) -> dict[str, Any]:
        c = self.cleaned_data
        return {
            "family_name": c["family_name"],
            "given_name": c["given_name"],
            "family_name_kana": c["family_name_kana"],
            "given_name_kana": c["given_name_kana"],
            "birth_date": c["birth_date"].isoformat() if c.get("birth_date") else None,
            "sex": c["sex"],
            "district": c["district"] or None,
            "address": c["address"],
            "phone": c["phone"],
            "flags": list(c["flags"]),
        }

    def consent_payload(self) -> dict[str, Any] | None:
        c = self.cleaned_data
        if not c.get("consent_given"):
            return None
        return {
            "recipients": list(c["consent_recipients"]),
            "purposes": c["consent_purposes"],
            "method": c["consent_method"],
        }

    def referral_payloads(self) -> tuple[list[dict[str, Any]], list[str]]:
        """The referral specs in order, and the department code of each (to place errors)."""
        c = self.cleaned_data
        specs, codes = [], []
        for d in self.receiving:
            if c.get(f"refer_{d.code}"):
                specs.append(
                    {
                        "to_department": d.code,
                        "basis": c[f"basis_{d.code}"],
                        "reason": c[f"reason_{d.code}"],
                        "justification": c[f"justification_{d.code}"],
                    }
                )
                codes.append(d.code)
        return specs, codes

    def referral_error_map(self, codes: list[str]) -> dict[str, str]:
        mapping = {}
        for index, code in enumerate(codes):
            for key, name in (
                ("to_department", "refer"),
                ("basis", "basis"),
                ("consent_id", "basis"),
                ("reason", "reason"),
                ("justification", "justification"),
            ):
                mapping[f"referrals[{index}].{key}"] = f"{name}_{code}"
        return mapping


# --- Case page ----------------------------------------------------------------------------------


class CaseTransitionForm(forms.Form):
    # A name no button sends is bad input (a field error, 400), not a move the state forbids (409).
    name = forms.ChoiceField(choices=[(n, n) for n in CASE_TRANSITIONS])
    reason = forms.CharField(
        label=_("理由"),
        max_length=TransitionInputs.reason.max_length,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    closure_reason = forms.ChoiceField(
        label=_("終結の理由"), choices=BLANK + list(ClosureReason.choices), required=False
    )
    review_on = forms.DateField(label=_("見直し日"), required=False)


class ActivityForm(DomainErrorsMixin, forms.Form):
    kind = forms.ChoiceField(label=_("種別"), choices=ActivityKind.choices, initial=ActivityKind.NOTE, widget=RadioList)
    body = forms.CharField(
        label=_("内容"), max_length=ActivityInputs.body.max_length, widget=forms.Textarea(attrs={"rows": 4})
    )
    sensitive = forms.BooleanField(
        label=_("要配慮個人情報を含む（受理した部署だけが読めます）"),
        required=False,
    )
    occurred_at = InRangeDateTimeField(
        label=_("日時"),
        required=False,
        help_text=_("空欄なら今の日時で記録します。"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )


class ReferralCreateForm(DomainErrorsMixin, forms.Form):
    to_department = forms.ChoiceField(label=_("つなぎ先"))
    basis = forms.ChoiceField(label=_("提供の根拠"), choices=BLANK + list(Basis.choices))
    reason = forms.CharField(
        label=_("依頼の理由"), max_length=ReferralInputs.reason.max_length, widget=forms.Textarea(attrs={"rows": 3})
    )
    justification = forms.CharField(
        label=_("根拠の説明"),
        max_length=ReferralInputs.justification.max_length,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("支援会議・生命身体の保護・災害・法令を根拠にするときは必須です。"),
    )
    urgent = forms.BooleanField(label=_("緊急（4時間以内の受理を求める）"), required=False)
    field_map = {"consent_id": "basis"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to_department"].choices = BLANK + department_choices()


class ConsentForm(DomainErrorsMixin, forms.Form):
    recipients = forms.MultipleChoiceField(label=_("同意した提供先"), widget=CheckboxList)
    purposes = forms.CharField(
        label=_("利用目的"),
        max_length=ConsentInputs.purposes.max_length,
        initial=_("相談への対応と支援のため、関係部署・団体で情報を共有すること"),
    )
    method = forms.ChoiceField(
        label=_("同意の方法"), choices=ConsentMethod.choices, widget=RadioList, initial=ConsentMethod.WRITTEN
    )
    note = forms.CharField(label=_("備考"), max_length=ConsentInputs.note.max_length, required=False)

    def __init__(self, *args: Any, districts: list[District] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A district council's connectors as recipients (見守り依頼): `district:<code>`. The case page
        # passes the districts it has loaded already.
        if districts is None:
            districts = list(District.objects.filter(is_active=True).order_by("pk"))
        self.fields["recipients"].choices = department_choices() + [
            (f"district:{d.code}", _("%(d)s（地区社協の見守り）") % {"d": d.name}) for d in districts if d.is_active
        ]


class PersonEditForm(DomainErrorsMixin, forms.Form):
    """The person's identity fields and flags, from the case page (DESIGN §11.2). The flags are the
    ones the editor sees; sensitive ones they do not see are kept by the service."""

    family_name = forms.CharField(label=_("氏"), max_length=PersonInputs.family_name.max_length)
    given_name = forms.CharField(label=_("名"), max_length=PersonInputs.given_name.max_length, required=False)
    family_name_kana = forms.CharField(
        label=_("氏（フリガナ）"), max_length=PersonInputs.family_name_kana.max_length, required=False
    )
    given_name_kana = forms.CharField(
        label=_("名（フリガナ）"), max_length=PersonInputs.given_name_kana.max_length, required=False
    )
    birth_date = forms.DateField(
        label=_("生年月日"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    sex = forms.ChoiceField(label=_("性別"), choices=BLANK + list(Sex.choices), required=False)
    district = forms.ChoiceField(label=_("地区"), required=False)
    address = forms.CharField(label=_("住所"), max_length=PersonInputs.address.max_length, required=False)
    phone = forms.CharField(label=_("電話番号"), max_length=PersonInputs.phone.max_length, required=False)
    flags = forms.MultipleChoiceField(label=_("特記事項"), required=False, widget=CheckboxList)
    reason = forms.CharField(
        label=_("変更の理由"),
        max_length=PersonEditInputs.reason.max_length,
        help_text=_("履歴に残ります。例: 本人から転居の連絡があった"),
    )

    def __init__(self, *args: Any, show_sex: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["district"].choices = BLANK + [
            (d.code, d.name) for d in District.objects.filter(is_active=True).order_by("id")
        ]
        self.fields["flags"].choices = [
            (code, f"{label}（{_('要配慮')}）" if code in SENSITIVE_FLAGS else label)
            for code, label in PersonFlag.choices
        ]
        if not show_sex:
            # The sex recorded by a case this editor does not see is not shown, so not offered either.
            del self.fields["sex"]

    def changes(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("reason")
        data["birth_date"] = data["birth_date"].isoformat() if data.get("birth_date") else None
        data["flags"] = list(data.get("flags") or [])
        return data


class FollowUpForm(DomainErrorsMixin, forms.Form):
    """A follow-up (予定) on the case page: the day, what to do, who (default: me)."""

    due_on = forms.DateField(label=_("予定日"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    note = forms.CharField(
        label=_("予定の内容"),
        max_length=FollowUpInputs.note.max_length,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    assignee_id = forms.TypedChoiceField(label=_("担当者"), coerce=int, empty_value=None, required=False)
    field_map = {"assignee": "assignee_id"}

    def __init__(self, *args: Any, workers: list[Any] = (), **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "followup")  # the case page holds other forms with a `note`
        super().__init__(*args, **kwargs)
        self.fields["assignee_id"].choices = [("", _("自分"))] + [(u.pk, u.label) for u in workers]


class FollowUpDoneForm(DomainErrorsMixin, forms.Form):
    note = forms.CharField(
        label=_("結果（何をしたか）"),
        max_length=FollowUpInputs.done_note.max_length,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ConsentWithdrawForm(forms.Form):
    note = forms.CharField(label=_("撤回の記録（任意）"), max_length=ConsentInputs.note.max_length, required=False)


class LeadChangeForm(DomainErrorsMixin, forms.Form):
    lead_department = forms.ChoiceField(label=_("主担当の部署"))
    lead_worker_id = forms.TypedChoiceField(label=_("主担当の職員"), coerce=int, empty_value=None, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lead_department"].choices = department_choices()
        workers = (
            User.objects.filter(
                memberships__role__in=[Role.CASEWORKER, Role.SUPERVISOR],
                memberships__ended_at__isnull=True,
                memberships__department__isnull=False,
                is_active=True,
            )
            .values_list("pk", "display_name", "username", "memberships__department__name_ja")
            .order_by("memberships__department_id", "username")
            .distinct()
        )
        self.fields["lead_worker_id"].choices = [("", _("（部署で受け持つ）"))] + [
            (pk, f"{display or username}（{department}）") for pk, display, username, department in workers
        ]


class ReferralAssignForm(forms.Form):
    """The supervisor's assignment: each worker with their open load (issue 18), so the work is spread
    by what people already hold. `workers`: from `selectors.department_workers_with_load`."""

    worker_id = forms.TypedChoiceField(label=_("担当者"), coerce=int, empty_value=None, required=False)

    def __init__(self, *args: Any, workers: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["worker_id"].choices = [("", _("（未割当）"))] + [
            (
                u.pk,
                _("%(name)s（担当中のつなぎ %(r)d 件・主担当 %(c)d 件）")
                % {"name": u.label, "r": u.open_referrals, "c": u.led_cases},
            )
            for u in workers
        ]


class EscalationAcknowledgeForm(DomainErrorsMixin, forms.Form):
    note = forms.CharField(label=_("確認メモ（今後の対応）"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


# --- Connector ----------------------------------------------------------------------------------


class SlipForm(DomainErrorsMixin, forms.Form):
    name = forms.CharField(
        label=_("お名前（わかれば）"),
        max_length=SlipInputs.name.max_length,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    name_kana = forms.CharField(
        label=_("フリガナ（わかれば）"),
        max_length=SlipInputs.name_kana.max_length,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    district = forms.ChoiceField(label=_("地区"), required=False)
    address_note = forms.CharField(
        label=_("住所や目印"),
        max_length=SlipInputs.address_note.max_length,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    concern = forms.CharField(
        label=_("気づいたこと"),
        max_length=SlipInputs.concern.max_length,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("例：新聞がたまっている、最近姿を見ない、困っている様子だった"),
    )
    urgency = forms.ChoiceField(
        label=_("急ぎですか"), choices=SlipUrgency.choices, initial=SlipUrgency.NORMAL, widget=RadioList
    )
    person_agreed_to_contact = forms.BooleanField(label=_("ご本人が市からの連絡を了承している"), required=False)

    def __init__(self, *args: Any, district_ids: frozenset[int] = frozenset(), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        districts = list(District.objects.filter(pk__in=district_ids).order_by("pk"))
        self.fields["district"].choices = [(d.code, d.name) for d in districts]
        if len(districts) <= 1:
            self.fields["district"].widget = forms.HiddenInput()
            if districts:
                self.fields["district"].initial = districts[0].code


class NotificationReadForm(forms.Form):
    notification_id = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)


class PreferencesForm(DomainErrorsMixin, forms.Form):
    """The user's own settings (/accounts/settings/): notification mail and the date style."""

    mail_preference = forms.ChoiceField(
        label=_("通知メールの受け取り方"),
        choices=MailPreference.choices,
        widget=RadioList,
        help_text=_("通知は設定にかかわらず画面の「通知」に表示されます。メールには氏名や内容を載せません。"),
    )
    date_style = forms.ChoiceField(
        label=_("日付の表示"),
        choices=DateStyle.choices,
        widget=RadioList,
        help_text=_("すべての画面の日付に使います。"),
    )
