"""Every transition of the case machine, allowed and refused from every state, with its evidence."""

import pytest

from referral_engine.cases.choices import CaseState
from referral_engine.cases.models import Case, CaseEvent
from referral_engine.cases.services.case_state import case_transition
from referral_engine.errors import Forbidden, IllegalTransition, InvalidInput

# (transition, from-states where it is allowed, target)
MACHINE = {
    "start_assessment": ({"received"}, "assessing"),
    "start_support": ({"assessing"}, "in_support"),
    "start_monitoring": ({"in_support"}, "monitoring"),
    "hold": ({"assessing", "in_support", "monitoring"}, "on_hold"),
    "resume": ({"on_hold"}, None),  # back to where it was held from
    "close": ({"received", "assessing", "in_support", "monitoring", "on_hold"}, "closed"),
    "reopen": ({"closed"}, "assessing"),
}
PATH_TO = {
    "received": [],
    "assessing": ["start_assessment"],
    "in_support": ["start_assessment", "start_support"],
    "monitoring": ["start_assessment", "start_support", "start_monitoring"],
    "on_hold": ["start_assessment", "start_support", "hold"],
    "closed": ["close"],
}
ARGS = {"hold": {"reason": "本人の希望で一時中断"}, "close": {"closure_reason": "resolved"}}


def _drive(case, actor, names):
    for name in names:
        case = case_transition(case_id=case.pk, name=name, actor=actor, **ARGS.get(name, {}))
    return case


@pytest.mark.parametrize("start", list(PATH_TO))
@pytest.mark.parametrize("name", list(MACHINE))
def test_case_transition_matrix(open_case, users, fresh, start, name):
    worker = fresh(users["worker_welfare"])
    case = _drive(open_case("worker_welfare"), worker, PATH_TO[start])
    assert case.state == start
    allowed_from, target = MACHINE[name]
    events_before = CaseEvent.objects.filter(case=case).count()
    followups_before = CaseEvent.objects.filter(case=case, kind="followup").count()
    history_before = case.history.count()

    if start in allowed_from:
        case = case_transition(case_id=case.pk, name=name, actor=fresh(worker), **ARGS.get(name, {}))
        expected = target or "in_support"  # resumed to the state it was held from
        assert Case.objects.get(pk=case.pk).state == expected
        event = CaseEvent.objects.filter(case=case, kind="case_transition").latest("id")
        assert (event.kind, event.name, event.from_state, event.to_state) == ("case_transition", name, start, expected)
        assert event.actor == worker
        # start_monitoring also sets the review follow-up (issue 18): its own `followup` event.
        review = 1 if name == "start_monitoring" else 0
        assert CaseEvent.objects.filter(case=case).count() == events_before + 1 + review
        assert CaseEvent.objects.filter(case=case, kind="followup").count() == followups_before + review
        assert case.history.count() == history_before + 1
        latest = case.history.latest("history_id")
        assert latest.history_user == worker and latest.history_change_reason.startswith(name)
    else:
        with pytest.raises(IllegalTransition) as info:
            case_transition(case_id=case.pk, name=name, actor=fresh(worker), **ARGS.get(name, {}))
        assert name not in info.value.allowed
        assert Case.objects.get(pk=case.pk).state == start
        assert CaseEvent.objects.filter(case=case).count() == events_before
        assert case.history.count() == history_before


def test_close_requires_a_valid_reason(open_case, users, fresh):
    case = open_case("worker_welfare")
    with pytest.raises(InvalidInput) as info:
        case_transition(case_id=case.pk, name="close", actor=fresh(users["worker_welfare"]))
    assert "closure_reason" in info.value.fields
    assert Case.objects.get(pk=case.pk).state == CaseState.RECEIVED


def test_close_refused_while_a_referral_is_open(open_case, users, fresh):
    case = open_case(
        "worker_welfare",
        referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問依頼"}],
    )
    with pytest.raises(IllegalTransition) as info:
        case_transition(case_id=case.pk, name="close", actor=fresh(users["worker_welfare"]), closure_reason="resolved")
    assert "close" not in info.value.allowed


def test_hold_and_resume_record_time_on_hold(open_case, users, fresh, time_machine=None):
    from datetime import timedelta
    from unittest import mock

    from django.utils import timezone

    worker = users["worker_welfare"]
    case = _drive(open_case("worker_welfare"), fresh(worker), ["start_assessment"])
    t0 = timezone.now()
    with mock.patch("django.utils.timezone.now", return_value=t0):
        case_transition(case_id=case.pk, name="hold", actor=fresh(worker), reason="本人の希望")
    with mock.patch("django.utils.timezone.now", return_value=t0 + timedelta(hours=5)):
        case = case_transition(case_id=case.pk, name="resume", actor=fresh(worker))
    assert case.state == CaseState.ASSESSING
    assert case.on_hold_seconds == 5 * 3600
    assert case.hold_started_at is None


def test_front_desk_cannot_close_and_outsiders_cannot_see(open_case, users, fresh):
    from referral_engine.errors import NotFound

    case = open_case("desk_welfare")
    with pytest.raises(Forbidden):
        case_transition(case_id=case.pk, name="close", actor=fresh(users["desk_welfare"]), closure_reason="resolved")
    with pytest.raises(NotFound):
        case_transition(case_id=case.pk, name="start_assessment", actor=fresh(users["worker_shakyo"]))
    with pytest.raises(Forbidden):
        case_transition(case_id=case.pk, name="start_assessment", actor=fresh(users["auditor"]))


def test_closing_and_reopening_belong_to_the_lead_department(open_case, users, fresh):
    """`work_case` alone does not close or reopen (policy.can_close_case): a worker of a department
    that works the case but does not lead it is refused; the lead department's worker and the desk
    supervisor may."""
    from referral_engine.access import policy
    from referral_engine.cases.services.case_state import case_available_transitions, case_lead_change

    # Given: opened at health (its intake department keeps work_case), then led by longevity_support.
    case = open_case("worker_health")
    case_lead_change(case_id=case.pk, actor=fresh(users["chief_health"]), lead_department="longevity_support")
    outsider_lead = fresh(users["worker_health"])
    assert policy.can_work_case(Case.objects.get(pk=case.pk), outsider_lead)
    case = _drive(case, outsider_lead, ["start_assessment"])  # works the case, as work_case allows

    # When / then: the intake department's worker may neither close nor reopen.
    assert "close" not in case_available_transitions(case, fresh(outsider_lead))
    with pytest.raises(Forbidden):
        case_transition(case_id=case.pk, name="close", actor=fresh(outsider_lead), closure_reason="resolved")
    assert Case.objects.get(pk=case.pk).state == CaseState.ASSESSING

    lead_worker = users["worker_longevity"]
    case = case_transition(case_id=case.pk, name="close", actor=fresh(lead_worker), closure_reason="resolved")
    assert case.state == CaseState.CLOSED
    closed = CaseEvent.objects.filter(case=case).latest("id")
    assert (closed.name, closed.actor) == ("close", lead_worker)

    with pytest.raises(Forbidden):
        case_transition(case_id=case.pk, name="reopen", actor=fresh(outsider_lead))
    assert Case.objects.get(pk=case.pk).state == CaseState.CLOSED

    case = case_transition(case_id=case.pk, name="reopen", actor=fresh(users["chief_welfare"]))  # the desk supervisor
    assert case.state == CaseState.ASSESSING
    case = case_transition(
        case_id=case.pk, name="close", actor=fresh(users["chief_welfare"]), closure_reason="resolved"
    )
    case = case_transition(case_id=case.pk, name="reopen", actor=fresh(lead_worker))
    assert case.state == CaseState.ASSESSING
    assert list(CaseEvent.objects.filter(case=case, kind="case_transition").values_list("name", "actor__username")) == [
        ("start_assessment", "worker_health"),
        ("close", "worker_longevity"),
        ("reopen", "chief_welfare"),
        ("close", "chief_welfare"),
        ("reopen", "worker_longevity"),
    ]
