"""Need-to-know at the person (DESIGN §11.1, issue 17): what of a person a user may see, decided here
once for the web, the API, the prints and the history alike.

A case gives its readers the person's **identity** (what it takes to contact them: name, kana,
birth date, address, phone, district) and the **ordinary flags** (独居, 避難行動要支援者…). The rest of
the person's record — the **sensitive flags** (要配慮), sex, the consents, activities and history of
other cases, the other cases themselves — comes only from reach to a case that *held* it:

- the person's first case recorded the person: it holds the whole record;
- a case opened later for an existing person holds what changed on the person from its opening on
  (its `since`), and nothing that was already there: opening a case (`person_id` at intake) is not
  a way into the person's past;
- a user sees a sensitive flag or the sex if one of the cases they see **fully** holds it (the union
  over their cases); auditors and the desk supervisor see everything from their role.

A case's consents are its own (`case_consents_q`), and its history shows the person's changes from
its `since` on (`person_history_since`). Limited viewers of a case see no sensitive value through it,
whatever else they reach (`case_person_flags`).

The case models are imported inside the functions (the policy loads before them: `__init__.py`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import BooleanField, ExpressionWrapper, Q

from referral_engine.access.policy.decisions import ViewLevel, case_view_level
from referral_engine.access.policy.principals import PERSON_VIEW_CACHE, principal, user_cache
from referral_engine.access.policy.reach import cases_full_reach, cases_reach
from referral_engine.cases.choices import SENSITIVE_FLAGS, CaseState

if TYPE_CHECKING:
    from referral_engine.cases.models import Case, Person

# What any reader of a case of the person may see: the identity needed to contact them.
IDENTITY_FIELDS = (
    "family_name",
    "given_name",
    "family_name_kana",
    "given_name_kana",
    "birth_date",
    "address",
    "phone",
    "district",
)
# Fields of the person's record beyond contact identity: shown only from a case that held them.
RECORD_FIELDS = ("sex",)


@dataclass(frozen=True)
class PersonView:
    """What one user may see of one person, over every case of the person they reach."""

    person_id: int | None
    everything: bool = False  # auditors, the desk supervisor, a full view of the case that recorded the person
    sensitive_flags: frozenset[str] = frozenset()  # the 要配慮 flags they may see (when not `everything`)
    record_fields: frozenset[str] = frozenset()  # RECORD_FIELDS they may see (when not `everything`)

    def sees_flag(self, flag: str) -> bool:
        return flag not in SENSITIVE_FLAGS or self.everything or flag in self.sensitive_flags

    def sees_field(self, name: str) -> bool:
        return name in IDENTITY_FIELDS or self.everything or name in self.record_fields

    def flags(self, flags: Any) -> list[str]:
        return [f for f in (flags or []) if self.sees_flag(f)]


NOTHING_OF = PersonView(person_id=None)


def _cases_of(person_id: int) -> list[tuple[int, dt.datetime]]:
    from referral_engine.cases.models import Case

    return list(Case.objects.filter(person_id=person_id).order_by("created_at", "id").values_list("id", "created_at"))


def _snapshot_before(rows: list[Any], moment: dt.datetime) -> Any | None:
    """The person's history row in force just before `moment` (rows oldest first)."""
    found = None
    for row in rows:
        if row.history_date < moment:
            found = row
        else:
            break
    return found


def person_view(user: Any, person: Person) -> PersonView:
    """What `user` may see of `person` (cached on the user object per person)."""
    p = principal(user)
    if p.reaches_every_case:
        return PersonView(person_id=person.pk, everything=True)
    if not p.is_staff_member:
        return PersonView(person_id=person.pk)
    cache = user_cache(user, PERSON_VIEW_CACHE)
    if person.pk in cache:
        return cache[person.pk]
    from referral_engine.cases.models import Case

    # One query: the person's cases, oldest first, each with whether the user sees it whole.
    rows = list(
        Case.objects.filter(person_id=person.pk)
        .annotate(whole=ExpressionWrapper(cases_full_reach(user), output_field=BooleanField()))
        .order_by("created_at", "id")
        .values_list("id", "created_at", "whole")
    )
    cases = [(case_id, opened) for case_id, opened, _whole in rows]
    reached = {case_id for case_id, _opened, whole in rows if whole}
    if not reached:
        view = PersonView(person_id=person.pk)
    elif cases and cases[0][0] in reached:
        view = PersonView(person_id=person.pk, everything=True)
    else:
        history = list(person.history.order_by("history_date", "history_id"))
        current = set(person.flags or []) & SENSITIVE_FLAGS
        sensitive: set[str] = set()
        fields: set[str] = set()
        for case_id, opened in cases:
            if case_id not in reached:
                continue
            before = _snapshot_before(history, opened)
            held_before = set(before.flags or []) if before is not None else set()
            sensitive |= current - held_before
            for name in RECORD_FIELDS:
                if before is None or getattr(before, name) != getattr(person, name):
                    fields.add(name)
        view = PersonView(person_id=person.pk, sensitive_flags=frozenset(sensitive), record_fields=frozenset(fields))
    cache[person.pk] = view
    return view


def case_person_flags(user: Any, case: Case) -> list[str]:
    """The flags shown through this case: the ordinary ones to any reader; the sensitive ones only
    to a full viewer of this case, and only those a case they fully see held (`person_view`)."""
    flags = list(case.person.flags or [])
    if not set(flags) & SENSITIVE_FLAGS:
        return flags  # nothing to hold back: no query
    if case_view_level(user, case) < ViewLevel.FULL:
        return [f for f in flags if f not in SENSITIVE_FLAGS]
    return person_view(user, case.person).flags(flags)


def case_person_sees_field(user: Any, case: Case, name: str) -> bool:
    """A field of the person shown through this case (`RECORD_FIELDS` as the sensitive flags)."""
    if name in IDENTITY_FIELDS or getattr(case.person, name) in (None, ""):
        return True  # identity, or nothing recorded to hold back: no query
    if case_view_level(user, case) < ViewLevel.FULL:
        return False
    return person_view(user, case.person).sees_field(name)


def person_history_since(case: Case) -> dt.datetime | None:
    """From when a case's history shows its person's changes: from the opening of a case opened for
    an existing person; everything for the person's first case (it recorded the person)."""
    # `person_first_case_id`: the person's first case read with the case (`PERSON_FIRST_CASE_ID`).
    first = getattr(case, "person_first_case_id", None)
    if first is None:
        cases = _cases_of(case.person_id)
        first = cases[0][0] if cases else None
    if first is None or first == case.pk:
        return None
    return case.created_at


def person_first_case_id() -> Any:
    """An annotation for a Case queryset, `person_first_case_id`: the id of its person's first case
    (the order of `_cases_of`), so that `person_history_since` needs no read of its own."""
    from django.db.models import OuterRef, Subquery

    from referral_engine.cases.models import Case

    return Subquery(Case.objects.filter(person_id=OuterRef("person_id")).order_by("created_at", "id").values("id")[:1])


def case_consents_q(case: Case) -> Q:
    """A case's consents are its own: those recorded on it (never the person's other cases')."""
    return Q(case_id=case.pk)


def can_edit_person(user: Any, person: Person) -> bool:
    """Identity fields and flags: staff with a full view of an open case of the person (the desk
    supervisor reaches every case). Auditors change nothing; connectors and the admin: no."""
    p = principal(user)
    if p.is_auditor or not p.is_staff_member:
        return False
    from referral_engine.cases.models import Case

    return (
        Case.objects.filter(person_id=person.pk).exclude(state=CaseState.CLOSED).filter(cases_full_reach(user)).exists()
    )


def can_see_person(user: Any, person: Person) -> bool:
    """The person exists for this user: they reach (at any level) a case of the person. Else a 404."""
    from referral_engine.cases.models import Case

    return Case.objects.filter(person_id=person.pk).filter(cases_reach(user)).exists()
