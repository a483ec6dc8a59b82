"""Follow-ups (予定, issue 18): something to do on a day — call back, visit, review the monitoring —
held by an assignee. Set on a case by those who work it, marked done with a note; the timeline
records both (the day and who holds it, never the note). An open follow-up past its day escalates
through the timers (rule `followup`: `referral_engine.timers.followups`). `start_monitoring` sets the
case's review as a follow-up (`case_state.case_transition`, through `_followup_write`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from referral_engine.access import policy
from referral_engine.accounts.models import User
from referral_engine.audit.history import save_with_history
from referral_engine.cases import events
from referral_engine.cases.choices import FollowUpState
from referral_engine.cases.inputs import FollowUpInputs, clean_followup_date
from referral_engine.cases.models import Case, FollowUp
from referral_engine.cases.services.changes import case_touch
from referral_engine.cases.services.departments import requesting_department
from referral_engine.cases.services.guards import access_case_for_write, access_followup_for_write, checks
from referral_engine.errors import Conflict, Forbidden, IllegalTransition, InvalidInput
from referral_engine.timers.followups import timers_followup_changed


def _assignee_for(case: Case, actor: User, *, assignee: Any = None, assignee_id: Any = None) -> User:
    """The assignee named by username (API) or id (web form), or the actor. They must work the case."""
    if assignee in (None, "") and assignee_id in (None, ""):
        return actor
    found = None
    try:
        if assignee_id not in (None, ""):
            found = User.objects.filter(pk=int(assignee_id), is_active=True).first()
        elif isinstance(assignee, str):
            found = User.objects.filter(username=assignee, is_active=True).first()
    except (TypeError, ValueError):
        found = None
    if found is None or not policy.can_work_case(case, found):
        raise InvalidInput(
            _("担当者が見つかりません。"),
            fields={"assignee": [_("このケースに関わっている職員を選んでください。")]},
        )
    return found


def _followup_write(*, case: Case, actor: User, assignee: User, due_on: date, note: str) -> FollowUp:
    """Write a follow-up the caller has authorised (case locked): the row, its timeline event, its clock."""
    followup = FollowUp(
        case=case,
        assignee=assignee,
        department=requesting_department(assignee, case, None),
        created_by=actor,
        due_on=due_on,
        note=note,
    )
    save_with_history(followup, actor=actor, reason="followup_created")
    events.followup_created(followup=followup, actor=actor)
    timers_followup_changed(followup=followup, actor=actor)
    return followup


@checks(policy.can_view_case, policy.can_add_followup)
@transaction.atomic
def followup_create(
    *,
    case_id: int,
    actor: User,
    due_on: Any,
    note: str = "",
    assignee: str | None = None,
    assignee_id: int | None = None,
) -> FollowUp:
    """Set a follow-up on an open case (assignee by username or id; default: the actor)."""
    case = access_case_for_write(case_id, actor)
    if not policy.can_add_followup(actor, case):
        raise Forbidden(_("このケースに予定を立てる権限がありません。"))
    if not case.is_open:
        raise Conflict(_("終結したケースには予定を立てられません。"))
    due = clean_followup_date(due_on)
    note = FollowUpInputs.note.clean(note)
    person = _assignee_for(case, actor, assignee=assignee, assignee_id=assignee_id)
    return _followup_write(case=case, actor=actor, assignee=person, due_on=due, note=note)


@checks(policy.can_view_case, policy.can_complete_followup)
@transaction.atomic
def followup_done(*, followup_id: int, actor: User, note: str) -> FollowUp:
    """Mark an open follow-up done, saying what was done: its clock stops (its escalations resolve)
    and the case counts as touched."""
    followup = access_followup_for_write(followup_id, actor)
    if not policy.can_complete_followup(actor, followup):
        raise Forbidden(_("この予定を完了にする権限がありません。"))
    if followup.state != FollowUpState.OPEN:
        raise IllegalTransition(_("この予定は完了しています。"), allowed=[])
    note = FollowUpInputs.done_note.clean(note)
    if not note:
        raise InvalidInput(_("結果を入力してください。"), fields={"note": [_("この項目は必須です。")]})
    now = timezone.now()
    followup.state = FollowUpState.DONE
    followup.done_at = now
    followup.done_by = actor
    followup.done_note = note
    save_with_history(
        followup, actor=actor, reason="followup_done", update_fields=["state", "done_at", "done_by", "done_note"]
    )
    events.followup_done(followup=followup, actor=actor)
    timers_followup_changed(followup=followup, actor=actor, now=now)
    case = followup.case
    save_with_history(case, actor=actor, reason="followup_done", update_fields=case_touch(case, now))
    return followup
