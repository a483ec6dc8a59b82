"""Row locks, in one place (Saleor's lock_objects): every state change loads its row through here
inside `transaction.atomic()`, so concurrent accepts serialise and the loser re-reads the new state.
(On SQLite select_for_update is a no-op; IMMEDIATE transactions serialise writers instead.)"""

from referral_engine.cases.models import Case, Person, Referral


def case_for_update(case_id: int) -> Case:
    return (
        Case.objects.select_for_update(of=("self",))
        .select_related("person", "intake_department", "lead_department", "lead_worker")
        .get(pk=case_id)
    )


def referral_for_update(referral_id: int) -> Referral:
    return (
        Referral.objects.select_for_update(of=("self",))
        .select_related("case", "from_department", "to_department", "requested_by")
        .get(pk=referral_id)
    )


def person_for_update(person_id: int) -> Person:
    return Person.objects.select_for_update(of=("self",)).select_related("district").get(pk=person_id)
