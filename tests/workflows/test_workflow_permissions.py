"""Role × stage transition, table-driven, for every workflow: the policy decides through
`django_fsm.has_transition_perm`, exactly as the transition service asks it."""

import pytest
from django_fsm import can_proceed, has_transition_perm

from referral_engine.accounts.roles import Role
from referral_engine.cases.choices import ReferralState
from referral_engine.workflow import as_workflow
from referral_engine.workflow import registry as workflow_registry

WORKFLOWS = list(workflow_registry.all_workflows())
BODIES = ["social_welfare", "health_promotion", "longevity_support", "disaster_prevention", "shakyo"]

# who: (role, whose department) → may they move the receiving department's stages?
ROLE_TABLE = [
    ("caseworker of the receiving department", Role.CASEWORKER, "to", True),
    ("supervisor of the receiving department", Role.SUPERVISOR, "to", True),
    ("front desk of the receiving department", Role.FRONT_DESK, "to", False),
    ("caseworker of the requesting department", Role.CASEWORKER, "from", False),
    ("caseworker of another department", Role.CASEWORKER, "other", False),
    ("supervisor of another department", Role.SUPERVISOR, "other", False),
    ("auditor", Role.AUDITOR, None, False),
    ("connector", Role.CONNECTOR, None, False),
]


def _requesting(to_code):
    return "health_promotion" if to_code == "social_welfare" else "social_welfare"


def _department(where, to_code):
    from_code = _requesting(to_code)
    return {
        "to": to_code,
        "from": from_code,
        "other": next(c for c in BODIES if c not in {to_code, from_code}),
        None: None,
    }[where]


def _people(make_user, to_code):
    """Staff made before the referral: a caseworker who joins later reaches it only when an event
    renews the department's grant (the staff-move rule, docs/permissions.md)."""
    return {
        label: (make_user(role, _department(where, to_code)), allowed) for label, role, where, allowed in ROLE_TABLE
    }


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.department_code)
def test_role_by_stage_transition(workflow, make_referral, make_user):
    people = _people(make_user, workflow.department_code)
    referral = make_referral(workflow.department_code, from_code=_requesting(workflow.department_code))
    checked = 0
    with as_workflow(referral, workflow) as proxy:
        for t in workflow.transitions():
            proxy.stage = t.source
            for label, (user, allowed) in people.items():
                assert has_transition_perm(getattr(proxy, t.name), user) is allowed, (
                    f"{t.name} from {t.source}: {label}"
                )
                checked += 1
    assert checked == len(workflow.transitions()) * len(ROLE_TABLE)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.department_code)
def test_a_transition_from_another_stage_is_refused_even_to_the_receiving_caseworker(
    workflow, make_referral, make_user
):
    worker = make_user(Role.CASEWORKER, workflow.department_code)
    referral = make_referral(workflow.department_code)
    with as_workflow(referral, workflow) as proxy:
        for info in workflow.transition_infos():
            for stage in set(workflow.stage_codes) - set(info.sources):
                proxy.stage = stage
                assert not can_proceed(getattr(proxy, info.name))
                assert not has_transition_perm(getattr(proxy, info.name), worker)


@pytest.mark.parametrize("state", [ReferralState.REQUESTED, ReferralState.DECLINED, ReferralState.RETURNED])
@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.department_code)
def test_stages_cannot_move_unless_the_department_has_taken_the_work_on(workflow, state, make_referral, make_user):
    worker = make_user(Role.CASEWORKER, workflow.department_code)
    referral = make_referral(workflow.department_code, state=state)
    with as_workflow(referral, workflow) as proxy:
        for t in workflow.transitions():
            proxy.stage = t.source
            assert not has_transition_perm(getattr(proxy, t.name), worker), t.name


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.department_code)
def test_complete_is_refused_until_the_stage_is_final(workflow, make_referral, make_user):
    worker = make_user(Role.CASEWORKER, workflow.department_code)
    referral = make_referral(workflow.department_code)
    assert referral.stage == workflow.initial_stage
    assert not can_proceed(referral.complete)
    for code in workflow.stage_codes:
        referral.stage = code
        final = workflow.is_final(code)
        assert can_proceed(referral.complete) is final, code
        assert has_transition_perm(referral.complete, worker) is final, code
