"""Individual evacuation plans that live on (個別避難計画, DESIGN §11.5, issue 19).

A plan is made from a disaster_prevention referral's stage record when the referral reaches one of
its workflow's `evacuation_plan_stages` (`plan_made`), and kept in step when the record is edited
there. It outlives the referral: completing the referral stops the referral's clocks, never the plan.
Its review date (the record's, else a year after the plan was made) drives the `plan_review`
reminder to disaster_prevention a month before; the plan marks its person `evacuation_support`
(避難行動要支援者). The record's field names the plan reads: `supporters`, `evacuation_destination`,
`review_date` (docs/community.md).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from referral_engine.access import policy
from referral_engine.accounts.models import Department, User
from referral_engine.accounts.roles import Role
from referral_engine.audit.history import save_with_history
from referral_engine.cases.choices import PersonFlag
from referral_engine.cases.models import Case, EvacuationPlan, Referral, StageRecord
from referral_engine.cases.services.departments import department_members
from referral_engine.cases.services.guards import checks
from referral_engine.errors import Forbidden
from referral_engine.notifications.services import notifications_queue
from referral_engine.timers import calendar

REVIEW_NOTICE_DAYS = 30  # "a month before"
DEFAULT_REVIEW_DAYS = 365  # a plan is reviewed every year (毎年度の更新) unless it says otherwise
NOTICE_HOUR = time(9, 0)


def _review_remind_at(review_date: date) -> datetime:
    day = review_date - timedelta(days=REVIEW_NOTICE_DAYS)
    return datetime.combine(day, NOTICE_HOUR, tzinfo=calendar.office_tz())


def _record_date(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _evacuation_plan_sync(*, referral: Referral, case: Case, actor: User) -> EvacuationPlan | None:
    """Make or update the plan of a referral at a plan stage, from its record (called by the referral
    and record services after their checks, in their transaction)."""
    record = StageRecord.objects.filter(referral=referral).first()
    data = (record.data if record is not None else {}) or {}
    person = case.person
    now = timezone.now()
    plan = EvacuationPlan.objects.select_for_update().filter(referral=referral).first()
    created = plan is None
    if created:
        plan = EvacuationPlan(person=person, referral=referral, made_at=now)
    review_date = _record_date(data.get("review_date")) or (
        plan.review_date or timezone.localdate(now) + timedelta(days=DEFAULT_REVIEW_DAYS)
    )
    values = {
        "district_id": person.district_id,
        "supporters": list(data.get("supporters") or []),
        "destination": str(data.get("evacuation_destination") or "")[:200],
        "review_date": review_date,
        "is_active": True,
    }
    changed = [k.removesuffix("_id") for k, v in values.items() if getattr(plan, k) != v]
    for key, value in values.items():
        setattr(plan, key, value)
    if created or "review_date" in changed:
        plan.review_remind_at = _review_remind_at(review_date)
        changed.append("review_remind_at")
    if created:
        save_with_history(plan, actor=actor, reason="evacuation_plan: made")
    elif changed:
        save_with_history(plan, actor=actor, reason="evacuation_plan: record", update_fields=changed)
    if PersonFlag.EVACUATION_SUPPORT not in (person.flags or []):
        person.flags = sorted({*(person.flags or []), PersonFlag.EVACUATION_SUPPORT})
        save_with_history(person, actor=actor, reason="evacuation_plan: 避難行動要支援者", update_fields=["flags"])
    return plan


@checks(policy.can_run_community_reminders)
def evacuation_plan_reminders_send(*, actor: User, now: datetime | None = None, batch: int = 200) -> int:
    """`plan_review`: a month before a plan's review date, tell disaster_prevention (its supervisors
    and the worker of the referral that made it), whatever became of that referral. Once per review
    date: a new date (the record edited) starts again. Returns how many plans were due."""
    if not policy.can_run_community_reminders(actor):
        raise Forbidden(_("この処理はシステムだけが実行できます。"))
    now = now or timezone.now()
    department = Department.objects.filter(code=policy.EVACUATION_PLAN_DEPARTMENT).first()
    supervisors = department_members(department.pk, (Role.SUPERVISOR,)) if department else []
    sent = 0
    with transaction.atomic():
        due = list(
            EvacuationPlan.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(is_active=True, review_remind_at__lte=now)
            .select_related("referral", "referral__case", "referral__assigned_worker", "district")
            .order_by("review_remind_at", "id")[:batch]
        )
        for plan in due:
            worker = plan.referral.assigned_worker
            notifications_queue(
                recipients=[*supervisors, *([worker] if worker is not None else [])],
                kind="plan_review",
                title=_("個別避難計画の見直し期日が近づいています: %(n)s（見直し期日 %(d)s）")
                % {"n": plan.referral.case.number, "d": plan.review_date.isoformat() if plan.review_date else "-"},
                case_id=plan.referral.case_id,
                referral_id=plan.referral_id,
            )
            plan.review_remind_at = None
            save_with_history(plan, actor=actor, reason="plan_review: reminded", update_fields=["review_remind_at"])
            sent += 1
    return sent
