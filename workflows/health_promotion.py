"""健康推進課: a public-health nurse (保健師) visits the person at home, then follows up or connects
them to a medical or mental-health specialist (医療機関・精神保健福祉センター等)."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import transition

from referral_engine.access import policy
from referral_engine.cases.inputs import InRangeDateField
from referral_engine.cases.models import Referral
from referral_engine.workflow import Stage, StageRecordForm, StageTimer, Workflow, labels, register

VISIT_ARRANGING = "visit_arranging"
HOME_VISITED = "home_visited"
ONGOING_SUPPORT = "ongoing_support"
SPECIALIST_CONNECTED = "specialist_connected"
SUPPORT_ENDED = "support_ended"


class HealthPromotionReferral(Referral):
    class Meta:
        proxy = True
        app_label = "workflows"
        verbose_name = _("健康推進課のつなぎ")
        verbose_name_plural = _("健康推進課のつなぎ")
        default_permissions = ()

    @transition(
        field="stage",
        source=VISIT_ARRANGING,
        target=HOME_VISITED,
        permission=policy.can_work_referral,
        custom=labels("家庭訪問を実施した", "Home visit made"),
    )
    def record_home_visit(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass

    @transition(
        field="stage",
        source=HOME_VISITED,
        target=ONGOING_SUPPORT,
        permission=policy.can_work_referral,
        custom=labels("継続支援を始める", "Start follow-up support"),
    )
    def start_follow_up(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass

    @transition(
        field="stage",
        source=[HOME_VISITED, ONGOING_SUPPORT],
        target=SPECIALIST_CONNECTED,
        permission=policy.can_work_referral,
        custom=labels("専門機関へつなぐ（医療・精神保健）", "Connect to a medical / mental-health specialist"),
    )
    def connect_to_specialist(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass

    @transition(
        field="stage",
        # From visit_arranging too: the person moved away or refused the visit.
        source=[VISIT_ARRANGING, HOME_VISITED, ONGOING_SUPPORT],
        target=SUPPORT_ENDED,
        permission=policy.can_work_referral,
        custom=labels("支援を終了する", "End support"),
    )
    def end_support(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass


class HomeVisitRecordForm(StageRecordForm):
    OUTCOMES = [
        ("met", _("本人と面会できた")),
        ("family_only", _("家族のみと面会した")),
        ("absent", _("不在")),
        ("refused", _("面会を断られた")),
    ]

    planned_date = InRangeDateField(label=_("訪問予定日"), required=False)
    visit_date = InRangeDateField(label=_("訪問日"), required=False)
    visited_by = forms.CharField(label=_("訪問者（保健師）"), max_length=100, required=False)
    outcome = forms.ChoiceField(label=_("訪問の結果"), choices=[("", "---------"), *OUTCOMES], required=False)
    findings = forms.CharField(label=_("所見・今後の方針"), widget=forms.Textarea(attrs={"rows": 4}), required=False)

    def clean_visit_date(self):
        value = self.cleaned_data.get("visit_date")
        if value and value > timezone.localdate():
            raise forms.ValidationError(_("訪問日に未来の日付は入力できません。訪問予定日に入力してください。"))
        return value

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("outcome") and not cleaned.get("visit_date"):
            self.add_error("visit_date", _("訪問の結果を記録するときは訪問日を入力してください。"))
        return cleaned


register(
    Workflow(
        department_code="health_promotion",
        title_ja="健康推進課：保健師の家庭訪問",
        title_en="Health Promotion: public-health nurse home visit",
        model=HealthPromotionReferral,
        stages=(
            Stage(VISIT_ARRANGING, "訪問調整", "Arranging a home visit"),
            Stage(HOME_VISITED, "家庭訪問済み", "Home visit made"),
            Stage(ONGOING_SUPPORT, "継続支援", "Follow-up support"),
            Stage(SPECIALIST_CONNECTED, "専門機関へつないだ", "Connected to a specialist"),
            Stage(SUPPORT_ENDED, "支援終了", "Support ended"),
        ),
        initial_stage=VISIT_ARRANGING,
        final_stages=frozenset({SPECIALIST_CONNECTED, SUPPORT_ENDED}),
        timers=(
            StageTimer(
                code="home_visit",
                stage=VISIT_ARRANGING,
                label_ja="保健師の家庭訪問（受理から5開庁日以内）",
                label_en="Nurse's home visit within 5 office days of acceptance",
                office_days=5,
            ),
        ),
        record_form=HomeVisitRecordForm,
        record_stages=frozenset({VISIT_ARRANGING, HOME_VISITED, ONGOING_SUPPORT}),
    )
)
