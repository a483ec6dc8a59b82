"""Adding a body is one module and one registration (issue 4, item 7): a throwaway 子育て支援
(child_rearing) workflow, declared here exactly as a module in workflows/ would declare it, drives a
referral through accept → its stages → complete with the one transition service."""

import pytest
from django import forms
from django_fsm import transition

from referral_engine.access import policy
from referral_engine.accounts.roles import Role
from referral_engine.accounts.services import department_ensure
from referral_engine.cases.choices import EventKind, ReferralState
from referral_engine.cases.models import CaseEvent, Referral, StageRecord
from referral_engine.cases.services.intake import case_open
from referral_engine.cases.services.records import stage_record_update
from referral_engine.cases.services.referrals import referral_available_transitions, referral_transition
from referral_engine.errors import Forbidden, IllegalTransition, NotFound
from referral_engine.workflow import Stage, StageRecordForm, StageTimer, Workflow, labels


def child_rearing_module(throwaway_models):
    """What workflows/child_rearing.py would hold (minus the register call, done by the fixture)."""

    @transition(
        field="stage",
        source="interview",
        target="support_planning",
        permission=policy.can_work_referral,
        custom=labels("面談を行った", "Interview held"),
    )
    def hold_interview(self, *, at=None, actor=None, reason="", **kwargs):
        pass

    @transition(
        field="stage",
        source="support_planning",
        target="supported",
        permission=policy.can_work_referral,
        custom=labels("支援につないだ", "Support arranged"),
    )
    def arrange_support(self, *, at=None, actor=None, reason="", **kwargs):
        pass

    class InterviewForm(StageRecordForm):
        interview_date = forms.DateField(label="面談日", required=False)
        childcare_service = forms.CharField(label="利用する子育て支援サービス", required=False)

    model = throwaway_models(
        "ChildRearingReferral", {"hold_interview": hold_interview, "arrange_support": arrange_support}
    )
    return Workflow(
        department_code="child_rearing",
        title_ja="子育て支援課：面談と支援",
        title_en="Child-rearing Support: interview and support",
        model=model,
        stages=(
            Stage("interview", "面談", "Interview"),
            Stage("support_planning", "支援の検討", "Planning the support"),
            Stage("supported", "支援につないだ", "Support arranged"),
        ),
        initial_stage="interview",
        final_stages={"supported"},
        timers=(
            StageTimer(
                "interview", "interview", "面談（5開庁日以内）", "Interview within 5 office days", office_days=5
            ),
        ),
        record_form=InterviewForm,
        record_stages={"interview", "support_planning"},
    )


@pytest.fixture
def child_rearing(departments, throwaway_models, registered):
    department_ensure(code="child_rearing", name_ja="子育て支援課", name_en="Child-rearing Support", kind="city")
    return registered(child_rearing_module(throwaway_models))


def test_a_new_body_is_one_module_and_one_registration(child_rearing, make_user, reread):
    from referral_engine.workflow import checks

    assert checks.workflow_errors(child_rearing) == []
    requester = make_user(Role.CASEWORKER, "social_welfare")
    worker = make_user(Role.CASEWORKER, "child_rearing")
    outsider = make_user(Role.CASEWORKER, "health_promotion")

    # Given a case referred to the new body at intake
    case = case_open(
        actor=reread(requester),
        summary="育児の不安が強く、相談できる人がいない。",
        needs=["family", "isolation"],
        person={"family_name": "保戸島", "given_name": "母子", "family_name_kana": "ホトジマ", "district": "aoe"},
        confirm_new_person=True,
        referrals=[{"to_department": "child_rearing", "basis": "internal_use", "reason": "育児の相談"}],
    )
    referral = case.referrals.get()

    # When it is accepted, the workflow starts at its initial stage
    referral = referral_transition(referral_id=referral.pk, name="accept", actor=reread(worker))
    assert (referral.state, referral.stage) == (ReferralState.ACCEPTED, "interview")
    assert type(referral) is Referral  # saved through the concrete model
    assert "hold_interview" in referral_available_transitions(referral, reread(worker))
    assert "hold_interview" not in referral_available_transitions(referral, reread(outsider))

    # Complete is refused until the stage is final; the requester sees the referral but may not move
    # the receiving body's stages (403), and a department outside the case does not see it at all (404)
    with pytest.raises(IllegalTransition):
        referral_transition(referral_id=referral.pk, name="complete", actor=reread(worker))
    with pytest.raises(Forbidden):
        referral_transition(referral_id=referral.pk, name="hold_interview", actor=reread(requester))
    with pytest.raises(NotFound):
        referral_transition(referral_id=referral.pk, name="hold_interview", actor=reread(outsider))

    # The structured record is validated by the workflow's form and historied
    stage_record_update(referral_id=referral.pk, actor=reread(worker), data={"interview_date": "2026-06-01"})

    # Then the stages, and complete at the final one
    referral_transition(referral_id=referral.pk, name="hold_interview", actor=reread(worker), reason="母と面談")
    with pytest.raises(IllegalTransition):
        referral_transition(referral_id=referral.pk, name="hold_interview", actor=reread(worker))
    referral_transition(referral_id=referral.pk, name="arrange_support", actor=reread(worker))
    referral = referral_transition(referral_id=referral.pk, name="complete", actor=reread(worker))
    assert (referral.state, referral.stage) == (ReferralState.COMPLETED, "supported")

    # Evidence: history rows of the concrete model, by the worker, with the transition as reason
    history = list(Referral.history.filter(id=referral.pk).order_by("history_date", "history_id"))
    assert [(h.state, h.stage) for h in history][-4:] == [
        ("accepted", "interview"),
        ("accepted", "support_planning"),
        ("accepted", "supported"),
        ("completed", "supported"),
    ]
    assert [h.history_change_reason for h in history][-3:] == [
        "hold_interview: 母と面談",
        "arrange_support",
        "complete",
    ]
    assert {h.history_user_id for h in history[-4:]} == {worker.pk}

    # and the timeline: one event per stage transition, besides the handoff events
    stage_events = CaseEvent.objects.filter(case=case, kind=EventKind.STAGE_TRANSITION).order_by("id")
    assert [(e.name, e.from_state, e.to_state, e.actor_id) for e in stage_events] == [
        ("hold_interview", "interview", "support_planning", worker.pk),
        ("arrange_support", "support_planning", "supported", worker.pk),
    ]
    assert stage_events[0].reason == "母と面談"
    handoff = CaseEvent.objects.filter(case=case, kind=EventKind.REFERRAL_TRANSITION).values_list("name", flat=True)
    assert list(handoff.order_by("id")) == ["accept", "complete"]

    record = StageRecord.objects.get(referral=referral)
    assert record.data["interview_date"] == "2026-06-01"
    latest = record.history.order_by("-history_date", "-history_id").first()
    assert latest.data == {"interview_date": "2026-06-01"}  # a partial update stores only what was sent
    assert latest.history_user_id == worker.pk
