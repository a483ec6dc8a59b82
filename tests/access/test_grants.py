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


def test_an_intakes_grants_are_written_once_as_the_sync_would_leave_them(open_case, users, fresh):
    """Issue 23: an intake writes its case's and referrals' rows in one pass (`case_grants_create`,
    no read): reconciling them afterwards (`case_grants_sync`) must find nothing to add, drop or renew."""
    from referral_engine.access import grants
    from referral_engine.access.models import (
        CaseGroupObjectPermission,
        CaseUserObjectPermission,
        ReferralGroupObjectPermission,
        ReferralUserObjectPermission,
    )
    from referral_engine.cases.models import Case

    def rows(case) -> set[tuple]:
        found = set()
        for model, owner in (
            (CaseGroupObjectPermission, "group_id"),
            (CaseUserObjectPermission, "user_id"),
        ):
            found |= {
                (model.__name__, *r)
                for r in model.objects.filter(content_object=case).values_list("pk", owner, "permission_id")
            }
        for model, owner in (
            (ReferralGroupObjectPermission, "group_id"),
            (ReferralUserObjectPermission, "user_id"),
        ):
            found |= {
                (model.__name__, *r)
                for r in model.objects.filter(content_object__case=case).values_list(
                    "pk", "content_object_id", owner, "permission_id"
                )
            }
        return found

    for actor, referrals in (("worker_welfare", REFERRALS), ("desk_welfare", REFERRALS[:1]), ("worker_welfare", [])):
        opened = open_case(actor, referrals=referrals)
        written = rows(opened)
        assert written, "the intake wrote no grant"
        stamps = set(
            CaseGroupObjectPermission.objects.filter(content_object=opened).values_list("granted_at", flat=True)
        )
        assert len(stamps) == 1  # one moment for the whole intake
        case = Case.objects.select_related("lead_department", "intake_department").get(pk=opened.pk)
        grants.case_grants_sync(case=case)
        assert rows(opened) == written
        assert (
            set(CaseGroupObjectPermission.objects.filter(content_object=opened).values_list("granted_at", flat=True))
            == stamps
        )
