"""長寿支援課（地域包括支援センター）: a fact-finding visit (実態把握訪問), then either support with
the care-need certification application (要介護認定申請支援) or care prevention (介護予防・日常生活支援
総合事業, 通いの場), then service coordination with a care manager (サービス調整)."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django_fsm import transition

from referral_engine.access import policy
from referral_engine.cases.inputs import InRangeDateField
from referral_engine.cases.models import Referral
from referral_engine.workflow import Stage, StageRecordForm, StageTimer, Workflow, labels, register

FACT_FINDING = "fact_finding"
CERTIFICATION_SUPPORT = "certification_support"
CARE_PREVENTION = "care_prevention"
SERVICE_COORDINATION = "service_coordination"
SERVICES_STARTED = "services_started"
SUPPORT_ENDED = "support_ended"


class LongevitySupportReferral(Referral):
    class Meta:
        proxy = True
        app_label = "workflows"
        verbose_name = _("長寿支援課のつなぎ")
        verbose_name_plural = _("長寿支援課のつなぎ")
        default_permissions = ()

    @transition(
        field="stage",
        source=FACT_FINDING,
        target=CERTIFICATION_SUPPORT,
        permission=policy.can_work_referral,
        custom=labels("要介護認定の申請を支援する", "Support the care-need certification application"),
    )
    def support_certification_application(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass

    @transition(
        field="stage",
        # From certification_support too: the result was 非該当 or 要支援.
        source=[FACT_FINDING, CERTIFICATION_SUPPORT],
        target=CARE_PREVENTION,
        permission=policy.can_work_referral,
        custom=labels("介護予防につなぐ", "Refer to care prevention"),
    )
    def refer_to_care_prevention(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass

    @transition(
        field="stage",
        source=[CERTIFICATION_SUPPORT, CARE_PREVENTION],
        target=SERVICE_COORDINATION,
        permission=policy.can_work_referral,
        custom=labels("サービスを調整する", "Coordinate services"),
    )
    def coordinate_services(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass

    @transition(
        field="stage",
        source=SERVICE_COORDINATION,
        target=SERVICES_STARTED,
        permission=policy.can_work_referral,
        custom=labels("サービスの利用が始まった", "Services started"),
    )
    def start_services(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass

    @transition(
        field="stage",
        source=[FACT_FINDING, CARE_PREVENTION],
        target=SUPPORT_ENDED,
        permission=policy.can_work_referral,
        custom=labels("支援を終了する", "End support"),
    )
    def end_support(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass


class CareCertificationRecordForm(StageRecordForm):
    CARE_LEVELS = [
        ("pending", _("審査中")),
        ("not_applicable", _("非該当（自立）")),
        ("program_eligible", _("事業対象者")),
        ("support_1", _("要支援1")),
        ("support_2", _("要支援2")),
        ("care_1", _("要介護1")),
        ("care_2", _("要介護2")),
        ("care_3", _("要介護3")),
        ("care_4", _("要介護4")),
        ("care_5", _("要介護5")),
    ]
    # 事業対象者 is decided by the basic checklist (基本チェックリスト), not by a certification.
    NEEDS_APPLICATION = {code for code, _label in CARE_LEVELS} - {"program_eligible"}

    fact_finding_date = InRangeDateField(label=_("実態把握訪問日"), required=False)
    certification_applied_on = InRangeDateField(label=_("要介護認定の申請日"), required=False)
    care_level = forms.ChoiceField(
        label=_("認定結果（要介護度）"), choices=[("", "---------"), *CARE_LEVELS], required=False
    )
    certified_on = InRangeDateField(label=_("認定日"), required=False)
    notes = forms.CharField(label=_("実態把握の内容・備考"), widget=forms.Textarea(attrs={"rows": 4}), required=False)

    def clean(self):
        cleaned = super().clean()
        applied, level, certified = (
            cleaned.get("certification_applied_on"),
            cleaned.get("care_level"),
            cleaned.get("certified_on"),
        )
        if level in self.NEEDS_APPLICATION and not applied:
            self.add_error("certification_applied_on", _("認定結果を記録するときは申請日を入力してください。"))
        if applied and certified and certified < applied:
            self.add_error("certified_on", _("認定日は申請日より後の日付にしてください。"))
        return cleaned


register(
    Workflow(
        department_code="longevity_support",
        title_ja="長寿支援課：実態把握と介護・介護予防へのつなぎ",
        title_en="Longevity Support: fact-finding, care certification and prevention",
        model=LongevitySupportReferral,
        stages=(
            Stage(FACT_FINDING, "実態把握訪問", "Fact-finding visit"),
            Stage(CERTIFICATION_SUPPORT, "要介護認定申請支援", "Care-need certification support"),
            Stage(CARE_PREVENTION, "介護予防", "Care prevention programme"),
            Stage(SERVICE_COORDINATION, "サービス調整", "Service coordination"),
            Stage(SERVICES_STARTED, "サービス利用開始", "Services in use"),
            Stage(SUPPORT_ENDED, "支援終了", "Support ended"),
        ),
        initial_stage=FACT_FINDING,
        final_stages=frozenset({SERVICES_STARTED, SUPPORT_ENDED}),
        timers=(
            StageTimer(
                code="fact_finding_visit",
                stage=FACT_FINDING,
                label_ja="実態把握訪問（受理から5開庁日以内）",
                label_en="Fact-finding visit within 5 office days of acceptance",
                office_days=5,
            ),
            StageTimer(
                code="certification_result",
                stage=CERTIFICATION_SUPPORT,
                # 介護保険法第27条: the decision is due within 30 days of the application.
                label_ja="要介護認定の結果（申請支援から30日）",
                label_en="Certification result within 30 days",
                hours=30 * 24,
            ),
        ),
        record_form=CareCertificationRecordForm,
        record_stages=frozenset({FACT_FINDING, CERTIFICATION_SUPPORT, CARE_PREVENTION, SERVICE_COORDINATION}),
    )
)
