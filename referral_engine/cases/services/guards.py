"""The checks every public service makes before it writes.

Each public function of a use-case module (`intake`, `persons`, `referrals`, `case_state`,
`records`, `slips`) declares the policy rules it checks with `@checks(...)`, checks them first
(Zulip's `access_*`), and then calls the unchecked internal writers of the package (`_*_write`,
Zulip's `do_*`), which no module outside the package imports. No public function takes a keyword
that skips a check: a system actor (the slip intake at the desk, the sweep) is a principal with its
own rules in `referral_engine.access.policy`. A public function that writes nothing on anyone's
behalf (an answer the FSM's permission callables already filter, a formatter) says why with
`@unchecked(...)`. tests/cases/test_service_checks.py holds every public function to this.

The `access_*` helpers load and lock the row, and answer "not found" alike for a row that does not
exist and one the actor may not see (DESIGN §5: 404, never a hint that it exists).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.utils.translation import gettext as _

from referral_engine.access import policy
from referral_engine.accounts.models import User
from referral_engine.cases import locks
from referral_engine.cases.models import Case, FollowUp, Person, Referral, WatchRequest
from referral_engine.errors import NotFound

F = TypeVar("F", bound=Callable[..., Any])


def checks(*rules: Callable[..., bool]) -> Callable[[F], F]:
    """Declare the policy rules a public service checks before it writes, in the order it checks
    them. The declaration is what the tests hold the service to: each rule is called in its body
    (directly or through an `access_*` helper), and an actor it refuses gets a 403 or a 404."""

    def declare(function: F) -> F:
        function.policy_rules = rules
        return function

    return declare


def unchecked(why: str) -> Callable[[F], F]:
    """A public function of a use-case module that needs no check of its own: say why."""

    def declare(function: F) -> F:
        function.unchecked_because = why
        return function

    return declare


def access_case_for_write(case_id: Any, actor: User) -> Case:
    """The case, locked, if the actor may see it (`policy.can_view_case`). The actor's permissions
    on the case are read in the locking statement (`policy.case_perms_bound_columns`)."""
    try:
        case = locks.case_for_update(int(case_id), policy.case_perms_bound_columns(actor))
    except (Case.DoesNotExist, TypeError, ValueError):
        raise NotFound(_("ケースが見つかりません。")) from None
    policy.case_perms_from_columns(actor, case)
    if not policy.can_view_case(actor, case):
        raise NotFound(_("ケースが見つかりません。"))
    return case


def access_referral_for_write(referral_id: Any, actor: User) -> Referral:
    """The referral, locked, if the actor may see it (`policy.can_view_referral`)."""
    try:
        referral = locks.referral_for_update(int(referral_id))
    except (Referral.DoesNotExist, TypeError, ValueError):
        raise NotFound(_("つなぎが見つかりません。")) from None
    if not policy.can_view_referral(actor, referral):
        raise NotFound(_("つなぎが見つかりません。"))
    return referral


def access_person_for_write(person_id: Any, actor: User) -> Person:
    """The person, locked, if the actor reaches a case of theirs (`policy.can_see_person`); else the
    same NotFound as a person that does not exist."""
    try:
        person = locks.person_for_update(int(person_id))
    except (Person.DoesNotExist, TypeError, ValueError):
        raise NotFound(_("本人が見つかりません。")) from None
    if not policy.can_see_person(actor, person):
        raise NotFound(_("本人が見つかりません。"))
    return person


def _case_id_of(model: type, object_id: Any, *, missing: str) -> int:
    """The case of a row that hangs on a case (a follow-up, a watch request), read unlocked so the
    guard can lock the case first (the services' lock order); a bad or unknown id is `missing`."""
    try:
        case_id = model.objects.filter(pk=int(object_id)).values_list("case_id", flat=True).first()
    except (TypeError, ValueError, OverflowError):
        case_id = None
    if case_id is None:
        raise NotFound(missing)
    return case_id


def access_followup_for_write(followup_id: Any, actor: User) -> FollowUp:
    """The follow-up, its case locked first (the services' lock order), if the actor may see the case."""
    case = locks.case_for_update(_case_id_of(FollowUp, followup_id, missing=_("予定が見つかりません。")))
    if not policy.can_view_case(actor, case):
        raise NotFound(_("予定が見つかりません。"))
    followup = FollowUp.objects.select_for_update().select_related("assignee").get(pk=int(followup_id))
    followup.case = case
    return followup


def access_watch_request_for_write(watch_request_id: Any, actor: User) -> WatchRequest:
    """The request, locked after its case (the case services' lock order), if the actor may see it
    (`policy.can_view_watch_request`): missing, another district's, closed or past `until` are
    alike a 404 for a connector."""
    locks.case_for_update(_case_id_of(WatchRequest, watch_request_id, missing=_("見守り依頼が見つかりません。")))
    watch = (
        WatchRequest.objects.select_for_update(of=("self",))
        .select_related("case", "case__person", "district", "department", "requested_by")
        .get(pk=int(watch_request_id))
    )
    if not policy.can_view_watch_request(actor, watch):
        raise NotFound(_("見守り依頼が見つかりません。"))
    return watch
