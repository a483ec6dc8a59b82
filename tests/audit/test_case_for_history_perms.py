"""`audit.selectors.case_for_history` reads the reader's permissions on the case in its own statement
(on PostgreSQL hand-written SQL, `policy.case_perms_sql`; elsewhere `case_perms_columns`), a second
spelling of the reach rule `Principal.group_reach`. Both must answer what the policy reads on its own,
a staff mover's membership-scoped group included, or the history would open to the wrong reader."""

from referral_engine.access import policy
from referral_engine.access.policy.principals import principal
from referral_engine.accounts.models import Department
from referral_engine.accounts.services import membership_move
from referral_engine.audit.selectors import case_for_history
from referral_engine.cases.services.referrals import referral_transition
from referral_engine.errors import NotFound

HEALTH = {"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問依頼"}
LONGEVITY = {**HEALTH, "to_department": "longevity_support"}
USERS = ["worker_welfare", "desk_welfare", "chief_welfare", "worker_health", "worker_longevity", "auditor", "admin"]


def test_the_history_reads_each_users_permissions_as_the_policy_does(users, open_case, fresh):
    handoff = open_case("worker_welfare", referrals=[HEALTH])
    referral_transition(referral_id=handoff.referrals.get().pk, name="accept", actor=fresh(users["worker_health"]))
    old_longevity = open_case("worker_longevity")
    mover = fresh(users["worker_health"])
    membership_move(user=mover, to_department=Department.objects.get(code="longevity_support"), actor=users["admin"])
    new_handoff = open_case("worker_welfare", referrals=[LONGEVITY])
    assert principal(fresh(mover)).group_since  # a membership-scoped group: the reach with a start
    opened = 0
    for username in USERS:
        for case in (handoff, old_longevity, new_handoff):
            expected = policy.case_perms(fresh(users[username]), case)  # the policy's own read
            may = policy.can_view_history(fresh(users[username]), case)
            user = fresh(users[username])
            try:
                read = case_for_history(user=user, case_id=case.pk)
            except NotFound:
                assert not may, (username, case.pk)
                continue
            opened += 1
            assert may, (username, case.pk)
            assert policy.case_perms(user, read) == expected, (username, case.pk)
            assert read.person.pk == case.person_id and read.person_first_case_id is not None
    assert opened  # some reader did read a history
