"""The grant rules as a public answer (`grants.grants_desired_for`, what the load generator writes in
bulk): the same rows `case_grants_sync` leaves after the services ran, computed without a query."""

from __future__ import annotations

REFERRALS = [
    {"to_department": "health_promotion", "basis": "internal_use", "reason": "保健師の訪問をお願いします。"},
    {"to_department": "longevity_support", "basis": "internal_use", "reason": "介護認定の相談"},
]


def _rows(owners_by_object) -> set[tuple]:
    return {(obj, owner, code) for obj, owners in owners_by_object for owner, codes in owners.items() for code in codes}


def test_the_desired_grants_are_the_rows_the_services_leave(open_case, users, fresh, django_assert_num_queries):
    from referral_engine.access import grants
    from referral_engine.access.models import (
        CaseGroupObjectPermission,
        CaseUserObjectPermission,
        ReferralGroupObjectPermission,
        ReferralUserObjectPermission,
    )
    from referral_engine.cases.models import Case
    from referral_engine.cases.services.referrals import referral_transition

    opened = open_case("worker_welfare", referrals=REFERRALS)
    to_health = opened.referrals.get(to_department__code="health_promotion")
    referral_transition(referral_id=to_health.pk, name="accept", actor=fresh(users["worker_health"]))

    case = Case.objects.select_related("lead_department", "intake_department").get(pk=opened.pk)
    referrals = list(case.referrals.select_related("from_department", "to_department").order_by("pk"))
    with django_assert_num_queries(0):
        desired = grants.grants_desired_for(case, referrals)

    def written(model, owner: str, **where) -> set[tuple]:
        return set(model.objects.filter(**where).values_list("content_object_id", owner, "permission__codename"))

    assert _rows([(case.pk, desired.case_groups)]) == written(
        CaseGroupObjectPermission, "group_id", content_object=case
    )
    assert _rows([(case.pk, desired.case_users)]) == written(CaseUserObjectPermission, "user_id", content_object=case)
    assert _rows((r.pk, groups) for r, (groups, _users) in zip(referrals, desired.referrals)) == written(
        ReferralGroupObjectPermission, "group_id", content_object__case=case
    )
    assert _rows((r.pk, users_) for r, (_groups, users_) in zip(referrals, desired.referrals)) == written(
        ReferralUserObjectPermission, "user_id", content_object__case=case
    )
    # The accepted department works the case; the one still asked sees it limited.
    health, longevity = (r.to_department.group_id for r in referrals)
    assert desired.case_groups[health] == {"view_case_full", "work_case"}
    assert desired.case_groups[longevity] == {"view_case_limited"}


def test_permission_ids_are_the_ones_the_grants_carry(open_case):
    """The generator writes rows with `access.permissions.permission_id`: the ids grants write."""
    from referral_engine.access import permissions
    from referral_engine.access.models import CaseGroupObjectPermission

    case = open_case()
    rows = list(CaseGroupObjectPermission.objects.filter(content_object=case).select_related("permission"))
    assert rows
    for row in rows:
        assert permissions.permission_id("case", row.permission.codename) == row.permission_id
