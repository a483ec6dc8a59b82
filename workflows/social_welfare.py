"""社会福祉課（地域共生推進班）, the coordinator of the desk: multi-agency coordination (多機関協働,
重層的支援体制整備事業). The case is put to a support meeting (支援会議, 社会福祉法第106条の6), the
agencies agree their roles (役割分担), the plan runs (プラン実行) and is reviewed (評価)."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django_fsm import transition

from referral_engine.access import policy
from referral_engine.cases.inputs import InRangeDateField
from referral_engine.cases.models import Referral
from referral_engine.workflow import Stage, StageRecordForm, StageTimer, Workflow, labels, register

COORDINATION = "coordination"
SUPPORT_MEETING = "support_meeting"
ROLES_AGREED = "roles_agreed"
PLAN_IN_EFFECT = "plan_in_effect"
EVALUATION = "evaluation"
COORDINATION_ENDED = "coordination_ended"


class SocialWelfareReferral(Referral):
    class Meta:
        proxy = True
        app_label = "workflows"
        verbose_name = _("社会福祉課のつなぎ")
        verbose_name_plural = _("社会福祉課のつなぎ")
        default_permissions = ()

    @transition(
        field="stage",
        source=COORDINATION,
        target=SUPPORT_MEETING,
        permission=policy.can_work_referral,
        custom=labels("支援会議に諮る", "Put to a support meeting"),
    )
    def put_to_support_meeting(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass

    @transition(
        field="stage",
        source=SUPPORT_MEETING,
        target=ROLES_AGREED,
        permission=policy.can_work_referral,
        custom=labels("役割分担を決めた", "Roles agreed"),
    )
    def agree_roles(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass

    @transition(
        field="stage",
        source=ROLES_AGREED,
        target=PLAN_IN_EFFECT,
        permission=policy.can_work_referral,
        custom=labels("プランを実行する", "Put the plan into effect"),
    )
    def start_plan(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass

    @transition(
        field="stage",
        source=PLAN_IN_EFFECT,
        target=EVALUATION,
        permission=policy.can_work_referral,
        custom=labels("プランを評価する", "Review the plan"),
    )
    def evaluate_plan(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass

    @transition(
        field="stage",
        source=EVALUATION,
        target=SUPPORT_MEETING,
        permission=policy.can_work_referral,
        custom=labels("支援会議で再検討する", "Back to the support meeting"),
    )
    def replan(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass

    @transition(
        field="stage",
        # From coordination too: one agency can take it on alone, no meeting needed.
        source=[COORDINATION, EVALUATION],
        target=COORDINATION_ENDED,
        permission=policy.can_work_referral,
        custom=labels("多機関協働を終結する", "End the coordination"),
    )
    def end_coordination(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass


class SupportMeetingRecordForm(StageRecordForm):
    meeting_date = InRangeDateField(label=_("支援会議の開催日"), required=False)
    participants = forms.CharField(
        label=_("参加機関"), widget=forms.Textarea(attrs={"rows": 2}), max_length=1000, required=False
    )
    roles_agreed = forms.CharField(
        label=_("役割分担（1行に1機関：機関 / 役割）"),
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "健康推進課 / 保健師による月1回の訪問"}),
        max_length=4000,
        required=False,
    )
    next_review_date = InRangeDateField(label=_("次回の評価予定日"), required=False)

    def clean(self):
        cleaned = super().clean()
        meeting, review = cleaned.get("meeting_date"), cleaned.get("next_review_date")
        if meeting and review and review < meeting:
            self.add_error("next_review_date", _("評価予定日は支援会議の開催日より後にしてください。"))
        return cleaned


register(
    Workflow(
        department_code="social_welfare",
        title_ja="社会福祉課：多機関協働と支援会議",
        title_en="Social Welfare: multi-agency coordination and support meeting",
        model=SocialWelfareReferral,
        stages=(
            Stage(COORDINATION, "多機関協働の調整", "Multi-agency coordination"),
            Stage(SUPPORT_MEETING, "支援会議", "Support meeting"),
            Stage(ROLES_AGREED, "役割分担", "Roles agreed"),
            Stage(PLAN_IN_EFFECT, "プラン実行", "Plan in effect"),
            Stage(EVALUATION, "評価", "Review"),
            Stage(COORDINATION_ENDED, "終結", "Coordination ended"),
        ),
        initial_stage=COORDINATION,
        final_stages=frozenset({COORDINATION_ENDED}),
        timers=(
            StageTimer(
                code="support_meeting",
                stage=SUPPORT_MEETING,
                label_ja="支援会議の開催（付議から15開庁日以内）",
                label_en="Support meeting held within 15 office days",
                office_days=15,
            ),
            StageTimer(
                code="plan_review",
                stage=PLAN_IN_EFFECT,
                label_ja="プランの評価（実行から3か月）",
                label_en="Plan reviewed within 3 months",
                hours=90 * 24,
            ),
        ),
        record_form=SupportMeetingRecordForm,
        record_stages=frozenset({COORDINATION, SUPPORT_MEETING, ROLES_AGREED, PLAN_IN_EFFECT, EVALUATION}),
    )
)
