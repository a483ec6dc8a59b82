"""`audit.selectors.case_for_history` reads the reader's permissions on the case in its own statement
(`policy.case_perms_bound_columns`, compiled once per principal shape by `bound_queries`), a second
spelling of the reach rule `Principal.group_reach`. Both must answer what the policy reads on its own,
a staff mover's membership-scoped group included, or the history would open to the wrong reader."""

from referral_engine.access import policy
from referral_engine.audit.selectors import case_for_history
from referral_engine.errors import NotFound

USERS = ["worker_welfare", "desk_welfare", "chief_welfare", "worker_health", "worker_longevity", "auditor", "admin"]


def test_the_history_reads_each_users_permissions_as_the_policy_does(users, fresh, staff_move_cases):
    opened = 0
    for username in USERS:
        for case in staff_move_cases:
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
