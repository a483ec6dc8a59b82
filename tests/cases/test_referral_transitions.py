"""The handoff machine: every transition from every state, with history, timeline and feedback."""

import pytest

from referral_engine.cases.choices import ReferralState
from referral_engine.cases.models import CaseEvent, Referral
from referral_engine.cases.services.referrals import referral_available_transitions, referral_transition
from referral_engine.errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from referral_engine.notifications.models import Notification

HANDOFF = {
    "accept": ({"requested"}, "accepted", "worker_health"),
    "decline": ({"requested"}, "declined", "worker_health"),
    "cancel": ({"requested"}, "cancelled", "worker_welfare"),
    "return": ({"accepted"}, "returned", "worker_health"),
}
PATH_TO = {
    "requested": [],
    "accepted": [("accept", "worker_health")],
    "declined": [("decline", "worker_health")],
    "cancelled": [("cancel", "worker_welfare")],
    "returned": [("accept", "worker_health"), ("return", "worker_health")],
}


@pytest.fixture
def referral(open_case):
    case = open_case(
        "worker_welfare",
        referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "家庭訪問の依頼"}],
    )
    return case.referrals.get()


def _run(referral_id, name, user, fresh):
    return referral_transition(referral_id=referral_id, name=name, actor=fresh(user), reason="理由あり")


@pytest.mark.parametrize("start", list(PATH_TO))
@pytest.mark.parametrize("name", list(HANDOFF))
def test_handoff_matrix(referral, users, fresh, start, name):
    for step, who in PATH_TO[start]:
        _run(referral.pk, step, users[who], fresh)
    referral.refresh_from_db()
    assert referral.state == start
    allowed_from, target, who = HANDOFF[name]
    events = CaseEvent.objects.filter(referral=referral).count()
    history = referral.history.count()
    if start in allowed_from:
        _run(referral.pk, name, users[who], fresh)
        referral.refresh_from_db()
        assert referral.state == target
        event = CaseEvent.objects.filter(referral=referral).latest("id")
        assert (event.kind, event.name, event.from_state, event.to_state) == (
            "referral_transition",
            name,
            start,
            target,
        )
        assert event.actor == users[who]
        assert CaseEvent.objects.filter(referral=referral).count() == events + 1
        assert referral.history.count() == history + 1
        assert referral.history.latest("history_id").history_user == users[who]
    else:
        with pytest.raises((IllegalTransition, NotFound)):
            _run(referral.pk, name, users[who], fresh)
        referral.refresh_from_db()
        assert referral.state == start
        assert referral.history.count() == history


def test_complete_needs_a_final_stage(referral, users, fresh):
    from referral_engine.workflow import registry as workflow_registry

    _run(referral.pk, "accept", users["worker_health"], fresh)
    with pytest.raises(IllegalTransition) as info:
        _run(referral.pk, "complete", users["worker_health"], fresh)
    assert "complete" not in info.value.allowed
    workflow = workflow_registry.get("health_promotion")
    if workflow is None:
        pytest.fail("the health_promotion workflow is not registered")
    referral.refresh_from_db()
    assert referral.stage == workflow.initial_stage


def test_decline_and_return_need_a_reason(referral, users, fresh):
    with pytest.raises(InvalidInput) as info:
        referral_transition(referral_id=referral.pk, name="decline", actor=fresh(users["worker_health"]))
    assert "reason" in info.value.fields
    assert Referral.objects.get(pk=referral.pk).state == ReferralState.REQUESTED


def test_only_the_receiving_department_responds(referral, users, fresh):
    with pytest.raises(Forbidden):  # the requesting side sees it but may not accept its own request
        _run(referral.pk, "accept", users["worker_welfare"], fresh)
    with pytest.raises(NotFound):  # an uninvolved department does not see it at all
        _run(referral.pk, "accept", users["worker_shakyo"], fresh)
    with pytest.raises(Forbidden):  # front desk of the receiving side does not accept
        _run(referral.pk, "accept", users["desk_health"], fresh)
    with pytest.raises(Forbidden):
        _run(referral.pk, "accept", users["auditor"], fresh)


def test_available_transitions_follow_role(referral, users, fresh):
    assert set(referral_available_transitions(referral, fresh(users["worker_health"]))) == {"accept", "decline"}
    assert referral_available_transitions(referral, fresh(users["worker_welfare"])) == ["cancel"]
    assert referral_available_transitions(referral, fresh(users["auditor"])) == []


def test_decline_notifies_the_requester_and_the_lead(open_case, users, fresh):
    case = open_case(
        "desk_welfare",
        referrals=[{"to_department": "longevity_support", "basis": "internal_use", "reason": "介護の確認"}],
    )
    referral = case.referrals.get()
    referral_transition(
        referral_id=referral.pk, name="decline", actor=fresh(users["worker_longevity"]), reason="対象外"
    )
    notes = Notification.objects.filter(referral_id=referral.pk, kind="referral_decline")
    recipients = set(notes.values_list("recipient__username", flat=True))
    # requester (desk_welfare); the case has no lead worker, so the lead department's supervisor
    assert recipients == {"desk_welfare", "chief_welfare"}
    assert all("対象外" in n.body for n in notes)
    event = CaseEvent.objects.filter(case=case, name="decline").get()
    assert event.reason == "対象外"


def test_permission_is_checked_before_the_missing_reason(referral, users, fresh):
    with pytest.raises(Forbidden):
        referral_transition(referral_id=referral.pk, name="decline", actor=fresh(users["auditor"]))
