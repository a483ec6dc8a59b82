"""津久見市社会福祉協議会 (an external body): agree the support with the person (生活福祉資金,
日常生活自立支援事業, サロン・居場所), support their participation (参加支援), then hand them to the
district council's watching-over (地区社協の見守り)."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django_fsm import transition

from referral_engine.access import policy
from referral_engine.cases.inputs import InRangeDateField
from referral_engine.cases.models import Referral
from referral_engine.workflow import Stage, StageRecordForm, StageTimer, Workflow, labels, register

SUPPORT_AGREEMENT = "support_agreement"
PARTICIPATION_SUPPORT = "participation_support"
COMMUNITY_WATCH = "community_watch"
SUPPORT_ENDED = "support_ended"


class ShakyoReferral(Referral):
    class Meta:
        proxy = True
        app_label = "workflows"
        verbose_name = _("社会福祉協議会のつなぎ")
        verbose_name_plural = _("社会福祉協議会のつなぎ")
        default_permissions = ()

    @transition(
        field="stage",
        source=SUPPORT_AGREEMENT,
        target=PARTICIPATION_SUPPORT,
        permission=policy.can_work_referral,
        custom=labels("支援内容に合意した", "Support agreed"),
    )
    def agree_support(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass

    @transition(
        field="stage",
        source=PARTICIPATION_SUPPORT,
        target=COMMUNITY_WATCH,
        permission=policy.can_work_referral,
        custom=labels("地区社協の見守りへつなぐ", "Hand over to the district council's watching-over"),
    )
    def hand_to_community_watch(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass

    @transition(
        field="stage",
        source=[SUPPORT_AGREEMENT, PARTICIPATION_SUPPORT],
        target=SUPPORT_ENDED,
        permission=policy.can_work_referral,
        custom=labels("支援を終了する", "End support"),
    )
    def end_support(self, *, at=None, actor=None, reason="", **kwargs) -> None:
        pass


class SupportAgreedForm(StageRecordForm):
    SUPPORTS = [
        ("livelihood_fund", _("生活福祉資金")),
        ("daily_life_support", _("日常生活自立支援事業")),
        ("salon", _("サロン・居場所への参加")),
    ]

    support_agreed = forms.MultipleChoiceField(
        label=_("合意した支援"), choices=SUPPORTS, widget=forms.CheckboxSelectMultiple, required=False
    )
    agreed_on = InRangeDateField(label=_("合意日"), required=False)
    handed_to = forms.CharField(label=_("見守りの引継ぎ先（地区社協・民生委員など）"), max_length=200, required=False)
    # Entering `community_watch` makes the watch request from these (with the person's consent naming
    # their district), or asks the case's lead for one (docs/community.md).
    watch_what_to_watch = forms.CharField(
        label=_("地区に見守ってほしいこと（つなぎ役に伝わります）"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    watch_until = forms.DateField(label=_("見守りの期限"), required=False)
    notes = forms.CharField(label=_("備考"), widget=forms.Textarea(attrs={"rows": 4}), required=False)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("agreed_on") and not cleaned.get("support_agreed"):
            self.add_error("support_agreed", _("合意日を入力するときは合意した支援を選んでください。"))
        return cleaned


register(
    Workflow(
        department_code="shakyo",
        title_ja="社会福祉協議会：参加支援と地域の見守り",
        title_en="Council of Social Welfare: participation support and community watching-over",
        model=ShakyoReferral,
        stages=(
            Stage(SUPPORT_AGREEMENT, "支援内容の合意", "Agreeing the support"),
            Stage(PARTICIPATION_SUPPORT, "参加支援", "Participation support"),
            Stage(COMMUNITY_WATCH, "地区の見守りへ引継ぎ", "Handed to the district's watching-over"),
            Stage(SUPPORT_ENDED, "支援終了", "Support ended"),
        ),
        initial_stage=SUPPORT_AGREEMENT,
        final_stages=frozenset({COMMUNITY_WATCH, SUPPORT_ENDED}),
        timers=(
            StageTimer(
                code="support_agreement",
                stage=SUPPORT_AGREEMENT,
                label_ja="支援内容の合意（受理から10開庁日以内）",
                label_en="Support agreed within 10 office days of acceptance",
                office_days=10,
            ),
        ),
        record_form=SupportAgreedForm,
        record_stages=frozenset({SUPPORT_AGREEMENT, PARTICIPATION_SUPPORT, COMMUNITY_WATCH}),
        watch_handover_stages=frozenset({COMMUNITY_WATCH}),
    )
)
