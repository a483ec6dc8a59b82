"""総務課 防災・コミュニティ班: check the evacuation-support register (避難行動要支援者名簿), ask the
person's consent to an individual evacuation plan (個別避難計画, 災害対策基本法第49条の14), draft it
with the supporters, destination and route, and keep it under review."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django_fsm import transition

from referral_engine.access import policy
from referral_engine.cases.inputs import InRangeDateField
from referral_engine.cases.models import Referral
from referral_engine.workflow import Stage, StageRecordForm, StageTimer, Workflow, labels, register

REGISTER_CHECK = "register_check"
PLAN_CONSENT = "plan_consent"
PLAN_DRAFTING = "plan_drafting"
PLAN_MADE = "plan_made"
CONSENT_REFUSED = "consent_refused"
NOT_ELIGIBLE = "not_eligible"


class DisasterPreventionReferral(Referral):
    class Meta:
        proxy = True
        app_label = "workflows"
        verbose_name = _("防災・コミュニティ班のつなぎ")
        verbose_name_plural = _("防災・コミュニティ班のつなぎ")
        default_permissions = ()

    @transition(
        field="stage",
        source=REGISTER_CHECK,
        target=PLAN_CONSENT,
        permission=policy.can_work_referral,
        custom=labels("名簿への掲載を確認した", "Entry on the register confirmed"),
    )
    def confirm_register_entry(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass

    @transition(
        field="stage",
        source=REGISTER_CHECK,
        target=NOT_ELIGIBLE,
        permission=policy.can_work_referral,
        custom=labels("名簿の対象外と確認した", "Not eligible for the register"),
    )
    def mark_not_eligible(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass

    @transition(
        field="stage",
        source=PLAN_CONSENT,
        target=PLAN_DRAFTING,
        permission=policy.can_work_referral,
        custom=labels("計画作成の同意を得た", "Consent to a plan obtained"),
    )
    def record_plan_consent(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass

    @transition(
        field="stage",
        source=PLAN_CONSENT,
        target=CONSENT_REFUSED,
        permission=policy.can_work_referral,
        custom=labels("同意が得られなかった", "Consent refused"),
    )
    def record_consent_refused(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass

    @transition(
        field="stage",
        source=PLAN_DRAFTING,
        target=PLAN_MADE,
        permission=policy.can_work_referral,
        custom=labels("個別避難計画を作成した", "Individual evacuation plan made"),
    )
    def finalise_plan(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass

    @transition(
        field="stage",
        source=PLAN_MADE,
        target=PLAN_DRAFTING,
        permission=policy.can_work_referral,
        custom=labels("計画を見直す", "Revise the plan"),
    )
    def revise_plan(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass


SEPARATORS = ("／", "/")


class SupportersField(forms.CharField):
    """避難支援者: one per line, `氏名 / 続柄・関係 / 連絡先`, stored as a list of
    `{"name", "relation", "contact"}`. The API may send that list itself."""

    widget = forms.Textarea(attrs={"rows": 4, "placeholder": "津久見 太郎 / 長男 / 090-0000-0000"})
    PARTS = ("name", "relation", "contact")
    PART_MAX_LENGTH = 100

    def to_python(self, value):
        if isinstance(value, list | tuple):
            return [self._from_item(item, n) for n, item in enumerate(value, start=1)]
        text = super().to_python(value)
        return [self._from_line(line, n) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]

    def _from_line(self, line: str, n: int) -> dict[str, str]:
        for sep in SEPARATORS:
            line = line.replace(sep, "/")
        parts = [p.strip() for p in line.split("/")]
        if len(parts) != len(self.PARTS) or not all(parts):
            raise forms.ValidationError(
                _("%(n)d行目：「氏名 / 続柄・関係 / 連絡先」の形で、3つとも入力してください。"),
                code="supporter_format",
                params={"n": n},
            )
        return dict(zip(self.PARTS, parts, strict=True))

    def _from_item(self, item, n: int) -> dict[str, str]:
        if isinstance(item, str):
            return self._from_line(item, n)
        if isinstance(item, dict):
            return self._from_line(" / ".join(str(item.get(p) or "") for p in self.PARTS), n)
        raise forms.ValidationError(_("%(n)d人目の避難支援者の形式が正しくありません。"), params={"n": n})

    def validate(self, value):
        if self.required and not value:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        if len(value) > 10:
            raise forms.ValidationError(_("避難支援者は10人までです。"), code="too_many")

    def run_validators(self, value):
        for supporter in value:
            if any(len(part) > self.PART_MAX_LENGTH for part in supporter.values()):
                raise forms.ValidationError(
                    _("氏名・続柄・連絡先はそれぞれ%(max)d文字までです。"), params={"max": self.PART_MAX_LENGTH}
                )

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(" / ".join(str(s.get(p, "")) for p in self.PARTS) for s in value if isinstance(s, dict))
        return value

    def display_value(self, value) -> str:
        return "、".join(f"{s.get('name', '')}（{s.get('relation', '')}）{s.get('contact', '')}" for s in value)


class EvacuationPlanForm(StageRecordForm):
    MOBILITY = [
        ("independent", _("自力で避難できる")),
        ("walking_aid", _("杖・歩行器を使う")),
        ("wheelchair", _("車いす")),
        ("stretcher", _("寝たきり（担架・ストレッチャーが必要）")),
    ]

    supporters = SupportersField(label=_("避難支援者（1行に1人：氏名 / 続柄・関係 / 連絡先）"), required=False)
    evacuation_destination = forms.CharField(
        label=_("避難先（指定避難所・福祉避難所・親族宅など）"), max_length=200, required=False
    )
    route_notes = forms.CharField(
        label=_("避難経路・移動手段"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    medical_devices = forms.CharField(
        label=_("医療機器（在宅酸素・人工呼吸器・たん吸引など）"), max_length=200, required=False
    )
    mobility = forms.ChoiceField(label=_("移動の状況"), choices=[("", "---------"), *MOBILITY], required=False)
    other_considerations = forms.CharField(
        label=_("その他の配慮事項（服薬・食事・意思疎通など）"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )
    review_date = InRangeDateField(label=_("計画の見直し期日"), required=False)


register(
    Workflow(
        department_code="disaster_prevention",
        title_ja="防災・コミュニティ班：個別避難計画",
        title_en="Disaster Prevention: individual evacuation plan",
        model=DisasterPreventionReferral,
        stages=(
            Stage(REGISTER_CHECK, "名簿確認", "Checking the evacuation-support register"),
            Stage(PLAN_CONSENT, "計画作成の同意", "Consent to an individual plan"),
            Stage(PLAN_DRAFTING, "個別避難計画の作成", "Drafting the individual evacuation plan"),
            Stage(PLAN_MADE, "計画作成済み", "Plan made"),
            Stage(CONSENT_REFUSED, "同意が得られず", "Consent refused"),
            Stage(NOT_ELIGIBLE, "名簿の対象外", "Not eligible for the register"),
        ),
        initial_stage=REGISTER_CHECK,
        final_stages=frozenset({PLAN_MADE, CONSENT_REFUSED, NOT_ELIGIBLE}),
        timers=(
            StageTimer(
                code="register_check",
                stage=REGISTER_CHECK,
                label_ja="名簿確認（受理から5開庁日以内）",
                label_en="Register check within 5 office days of acceptance",
                office_days=5,
            ),
            StageTimer(
                code="plan_drafting",
                stage=PLAN_DRAFTING,
                label_ja="個別避難計画の作成（同意から20開庁日以内）",
                label_en="Plan drafted within 20 office days of consent",
                office_days=20,
            ),
            StageTimer(
                code="plan_review",
                stage=PLAN_MADE,
                # Reviewed every year (毎年度の更新), or on the date the plan itself sets.
                label_ja="計画の見直し（1年後または計画の見直し期日）",
                label_en="Plan review after a year, or on the plan's review date",
                hours=365 * 24,
                record_date_field="review_date",
            ),
        ),
        record_form=EvacuationPlanForm,
        record_stages=frozenset({PLAN_CONSENT, PLAN_DRAFTING, PLAN_MADE}),
        # At plan_made the record is the person's plan: it lives on after the referral (docs/community.md).
        evacuation_plan_stages=frozenset({PLAN_MADE}),
    )
)
