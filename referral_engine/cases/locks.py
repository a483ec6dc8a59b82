"""Row locks, in one place (Saleor's lock_objects): every state change loads its row through here
inside `transaction.atomic()`, so concurrent accepts serialise and the loser re-reads the new state.
(On SQLite select_for_update is a no-op; IMMEDIATE transactions serialise writers instead.)"""

from typing import Any

from django.db.models import OuterRef, Subquery

from referral_engine.bound_queries import bound_get, key_in_range
from referral_engine.cases.models import Case, HouseholdMember, Person, Referral


def case_for_update(case_id: int, columns: Any = None) -> Case:
    """The case locked (its row only), with what the services and the case's response read of it
    in the same statement: its person with their district, its departments and lead worker, and
    whether the person belongs to a household (most do not: then the response need not ask).
    `columns`: more to read with it, a `policy.BoundColumns` (`case_perms_bound_columns`) or None.

    Issue 23: building and compiling this statement cost more CPU than the rest of a transition's
    policy, so it is compiled once per shape (`columns.shape`) and connection (`bound_queries`)."""
    shape = columns.shape if columns is not None else None
    values = (int(case_id), *(columns.values if columns is not None else ()))
    if key_in_range(Case, values[0], for_update=True):
        case = bound_get(
            Case, lambda *v: _case_for_update_query(v[0], columns, v[1:]), values, shape=shape, for_update=True
        )
    else:  # an id out of the column's range: the ORM answers as for any id it cannot find
        case = _case_for_update_query(values[0], columns, values[1:]).get()
    if case.person_household_id is None:
        person_household_none(case.person)
    return case


def _case_for_update_query(case_id: Any, columns: Any, column_values: tuple[Any, ...]) -> Any:
    return (
        Case.objects.select_for_update(of=("self",))
        .select_related("person__district", "intake_department", "lead_department", "lead_worker")
        .annotate(
            person_household_id=Subquery(
                HouseholdMember.objects.filter(person_id=OuterRef("person_id")).values("household_id")[:1]
            ),
            **(columns.build(*column_values) if columns is not None else {}),
        )
        .filter(pk=case_id)
        .order_by()
    )


def person_household_none(person: Person) -> None:
    """Mark a person known to belong to no household (as if their memberships had been prefetched):
    `selectors.person_household_for` answers None without a query."""
    empty = HouseholdMember.objects.none()
    empty._result_cache, empty._prefetch_done = [], True  # as a prefetch leaves it: iterating runs nothing
    person._prefetched_objects_cache = {
        **getattr(person, "_prefetched_objects_cache", {}),
        "household_memberships": empty,
    }


def referral_for_update(referral_id: int) -> Referral:
    return (
        Referral.objects.select_for_update(of=("self",))
        .select_related("case", "from_department", "to_department", "requested_by")
        .get(pk=referral_id)
    )


def person_for_update(person_id: int) -> Person:
    return Person.objects.select_for_update(of=("self",)).select_related("district").get(pk=person_id)
