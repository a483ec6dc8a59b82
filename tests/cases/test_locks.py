"""The case lock statement (`cases.locks.case_for_update`), compiled once per principal shape and
connection and bound per call (issue 23): every user, case and group value of a call reaches the SQL,
so the permissions it reads are the ones the policy reads on its own."""

import pytest
from django.db import transaction

from referral_engine.access import policy
from referral_engine.cases import locks
from referral_engine.cases.models import Case
from referral_engine.cases.services.case_state import case_transition
from referral_engine.errors import NotFound

USERS = ["worker_welfare", "desk_welfare", "chief_welfare", "worker_health", "worker_longevity", "auditor", "admin"]


def _locked(user, case_id):
    with transaction.atomic():
        case = locks.case_for_update(case_id, policy.case_perms_bound_columns(user))
    policy.case_perms_from_columns(user, case)
    return case


def test_the_locked_case_reads_each_users_permissions_and_rows(users, fresh, staff_move_cases):
    cases = staff_move_cases
    for username in [*USERS, "worker_health"]:
        for case in cases:
            user = fresh(users[username])
            locked = _locked(user, case.pk)
            expected = policy.case_perms(fresh(users[username]), case)  # the policy's own read
            assert policy.case_perms(user, locked) == expected, (username, case.pk)
            row = Case.objects.select_related("person__district", "lead_worker").get(pk=case.pk)
            assert (locked.pk, locked.state, locked.lead_worker, locked.person.district) == (
                row.pk,
                row.state,
                row.lead_worker,
                row.person.district,
            )
            assert locked.person_household_id is None


@pytest.mark.parametrize("case_id", [0, -5, 2**40, 10**30, "x", None])
def test_a_missing_or_bad_case_id_is_not_found(users, open_case, fresh, case_id):
    open_case("worker_welfare")
    # Through a service that loads its case with `access_case_for_write` (the guards are the services' own).
    with pytest.raises(NotFound):
        case_transition(case_id=case_id, name="start_assessment", actor=fresh(users["worker_welfare"]), reason="x")
