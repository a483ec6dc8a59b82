"""The follow-up clock (rule `followup`, issue 18): an open follow-up (予定) whose day has passed
escalates — L1 to its assignee when the day is over, L2 to the supervisors of the assignee's
department two office days later (the rule's `office_days`), no L3.

One clock per follow-up (`Timer` with `object_key="followup:<id>"`, target `followup`), kept in
step by `timers_followup_changed`, which the follow-up services call in the transaction of each
change. The clock starts at midnight (office time zone) after the follow-up's day; the sweep fires
its levels through the one firing path (`timers.firing`), `followups_address` naming each L1's
assignee.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from referral_engine.cases.choices import CaseState, FollowUpState
from referral_engine.cases.models import FollowUp
from referral_engine.timers import calendar
from referral_engine.timers.models import Timer
from referral_engine.timers.policies import FOLLOWUP, Target, rules_for
from referral_engine.timers.services import ClockSpec, _sync_clocks

KEY_PREFIX = "followup:"


def followup_key(followup_id: int) -> str:
    return f"{KEY_PREFIX}{followup_id}"


def followup_overdue_at(due_on: date) -> datetime:
    """The moment a follow-up is past its day: midnight after it, in the office's time zone."""
    return datetime.combine(due_on + timedelta(days=1), time.min, tzinfo=calendar.office_tz())


def timers_followup_changed(*, followup: FollowUp, actor: Any = None, now: datetime | None = None) -> None:
    """Start, restart (a new day) or stop (done, case closed, rule switched off) the follow-up's
    clock. Call with the follow-up saved, in the writer's transaction."""
    specs = []
    if followup.state == FollowUpState.OPEN and followup.case.state != CaseState.CLOSED:
        rule = rules_for([FOLLOWUP]).get(FOLLOWUP)
        if rule is not None:
            specs = [ClockSpec(rule, followup.department_id, followup_overdue_at(followup.due_on))]
    _sync_clocks(
        object_key=followup_key(followup.pk),
        target_filter=(Target.FOLLOWUP,),
        case=followup.case,
        referral=None,
        specs=specs,
        now=now or timezone.now(),
        actor=actor,
        reason=f"followup {followup.state} {followup.due_on.isoformat()}",
    )


def followups_address(firings: Iterable[Any]) -> None:
    """A follow-up's L1 is its assignee's reminder: name them as the firing's recipients (one query
    for the batch, none when no follow-up fires). L2 is left to `firing.escalation_recipients`
    (the supervisors of the assignee's department)."""
    ones = [f for f in firings if f.target == Target.FOLLOWUP and f.level == 1]
    if not ones:
        return
    ids = {int(f.object_key.removeprefix(KEY_PREFIX)) for f in ones}
    holders = {followup_key(f.pk): f.assignee for f in FollowUp.objects.select_related("assignee").filter(pk__in=ids)}
    for firing in ones:
        holder = holders.get(firing.object_key)
        firing.recipients = [holder] if holder is not None else []


def timers_followup_resync(*, timer: Timer, system: Any, now: datetime) -> None:
    """The sweep found the clock's rule switched off: bring it in step (it stops)."""
    followup = FollowUp.objects.select_related("case").filter(pk=int(timer.object_key.removeprefix(KEY_PREFIX))).first()
    if followup is not None:
        timers_followup_changed(followup=followup, actor=system, now=now)
