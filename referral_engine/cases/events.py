"""The case timeline (CaseEvent rows, DESIGN §6), written here and nowhere else (CONVENTIONS 11,
Saleor's `order/events.py`): one function per kind of event, named for what happened.

Each function writes its row in the caller's transaction and returns it; the ones the sweep writes
in bulk take `commit=False` and return the row unsaved, for `events_save(rows)` (one INSERT).
The rows hold only facts a limited viewer may see (who, when, which state, which department):
never an activity's body or a person's details. An actor that is not a signed-in user (None, an
anonymous request) is recorded as no one; the system user is recorded as itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from referral_engine.accounts.models import Department, User
from referral_engine.bound_queries import bound_insert
from referral_engine.cases.choices import EventKind
from referral_engine.cases.models import Activity, Case, CaseEvent, Consent, Referral, WatchReport, WatchRequest
from referral_engine.timers import calendar

__all__ = [
    "activity_added",
    "case_opened",
    "case_transition",
    "consent_recorded",
    "consent_withdrawn",
    "escalation_acknowledged",
    "escalation_fired",
    "escalation_resolved",
    "events_save",
    "followup_created",
    "followup_done",
    "gap_cleared",
    "gap_flagged",
    "lead_changed",
    "record_repaired",
    "person_merged",
    "case_reassessed",
    "slip_triaged",
    "referral_assigned",
    "referral_requested",
    "referral_transition",
    "stage_record_changed",
    "stage_transition",
    "watch_closed",
    "watch_reported",
    "watch_requested",
]


def _row(*, actor: User | None, **fields: Any) -> CaseEvent:
    return CaseEvent(actor=actor if getattr(actor, "is_authenticated", False) else None, **fields)


def _save(event: CaseEvent, commit: bool) -> CaseEvent:
    if commit:
        bound_insert(event)
    return event


def events_save(events: Iterable[CaseEvent]) -> list[CaseEvent]:
    """Insert rows built with `commit=False`, in one statement."""
    return CaseEvent.objects.bulk_create(list(events))


# --- Case ---------------------------------------------------------------------------------------


def case_opened(*, case: Case, actor: User, department: Department) -> CaseEvent:
    return _save(
        _row(
            case=case,
            kind=EventKind.CASE_OPENED,
            name="open",
            to_state=case.state,
            actor=actor,
            department=department,
            data={"channel": case.channel, "risk": case.risk},
        ),
        True,
    )


def case_transition(
    *, case: Case, actor: User, name: str, from_state: str, reason: str = "", closure_reason: str = ""
) -> CaseEvent:
    return _save(
        _row(
            case=case,
            kind=EventKind.CASE_TRANSITION,
            name=name,
            from_state=from_state,
            to_state=case.state,
            actor=actor,
            reason=reason,
            data={"closure_reason": closure_reason} if closure_reason else {},
        ),
        True,
    )


def lead_changed(
    *,
    case: Case,
    actor: User | None,
    department: Department,
    worker: User | None,
    released: User | None = None,
    reason: str = "",
) -> CaseEvent:
    """The case's lead (主担当) is now `department` and `worker`; `released`: the worker who left
    the department (異動・退職), whose place went with the membership."""
    data: dict[str, Any] = {"department": department.code, "worker": worker.username if worker else None}
    if released is not None:
        data["released"] = released.username
    return _save(
        _row(
            case=case,
            kind=EventKind.LEAD_CHANGED,
            name="lead",
            actor=actor,
            department=department,
            reason=reason,
            data=data,
        ),
        True,
    )


# --- Referrals ----------------------------------------------------------------------------------


def referral_requested(*, referral: Referral, actor: User) -> list[CaseEvent]:
    """The request and the disclosure it is (DESIGN §4): two rows, one INSERT."""
    source, target = referral.from_department, referral.to_department
    return events_save(
        [
            _row(
                case=referral.case,
                referral=referral,
                kind=EventKind.REFERRAL_REQUESTED,
                name="request",
                to_state=referral.state,
                actor=actor,
                department=source,
                reason=referral.reason,
                data={"to": target.code, "from": source.code, "basis": referral.basis, "urgent": referral.urgent},
            ),
            _row(
                case=referral.case,
                referral=referral,
                kind=EventKind.DISCLOSURE,
                name=referral.basis,
                actor=actor,
                department=source,
                reason=referral.justification,
                data={"to": target.code, "basis": referral.basis, "consent_id": referral.consent_id},
            ),
        ]
    )


def referral_transition(
    *, case: Case, referral: Referral, actor: User, name: str, from_state: str, reason: str = ""
) -> CaseEvent:
    """A handoff transition: accept, decline, return, cancel, complete."""
    return _save(
        _row(
            case=case,
            referral=referral,
            kind=EventKind.REFERRAL_TRANSITION,
            name=name,
            from_state=from_state,
            to_state=referral.state,
            actor=actor,
            department=referral.to_department,
            reason=reason,
            data={"to": referral.to_department.code, "stage": referral.stage},
        ),
        True,
    )


def stage_transition(
    *, case: Case, referral: Referral, actor: User, name: str, from_stage: str, reason: str = ""
) -> CaseEvent:
    """A transition of the receiving department's own workflow."""
    return _save(
        _row(
            case=case,
            referral=referral,
            kind=EventKind.STAGE_TRANSITION,
            name=name,
            from_state=from_stage,
            to_state=referral.stage,
            actor=actor,
            department=referral.to_department,
            reason=reason,
            data={"to": referral.to_department.code, "stage": referral.stage},
        ),
        True,
    )


def stage_record_changed(*, case: Case, referral: Referral, actor: User, fields: list[str]) -> CaseEvent:
    """The department's structured record changed: the names of the fields, never their values."""
    return _save(
        _row(
            case=case,
            referral=referral,
            kind=EventKind.STAGE_DATA,
            name="record",
            actor=actor,
            department=referral.to_department,
            data={"fields": fields},
        ),
        True,
    )


# --- Watching over with the district (見守り依頼) -------------------------------------------------------


def watch_requested(*, watch: WatchRequest, actor: User) -> list[CaseEvent]:
    """The request and the disclosure to the district's connectors it is (DESIGN §4, §11.4): two rows.
    What to watch for stays on the request (full viewers), never in the timeline."""
    return events_save(
        [
            _row(
                case=watch.case,
                kind=EventKind.WATCH_REQUESTED,
                name="request",
                to_state=watch.state,
                actor=actor,
                department=watch.department,
                data={
                    "watch_request_id": watch.pk,
                    "district": watch.district.code,
                    "until": watch.until.isoformat(),
                    "basis": watch.basis,
                },
            ),
            _row(
                case=watch.case,
                kind=EventKind.DISCLOSURE,
                name=watch.basis,
                actor=actor,
                department=watch.department,
                reason=watch.justification,
                data={
                    "to": f"district:{watch.district.code}",
                    "basis": watch.basis,
                    "consent_id": watch.consent_id,
                    "watch_request_id": watch.pk,
                },
            ),
        ]
    )


def watch_reported(*, report: WatchReport, actor: User) -> CaseEvent:
    """A connector's visit: the outcome and the day, never the note (it stays on the report)."""
    watch = report.watch_request
    return _save(
        _row(
            case=watch.case,
            kind=EventKind.WATCH_REPORT,
            name=report.outcome,
            actor=actor,
            data={
                "watch_request_id": watch.pk,
                "report_id": report.pk,
                "district": watch.district.code,
                "visited_on": report.visited_on.isoformat(),
                "outcome": report.outcome,
            },
        ),
        True,
    )


def watch_closed(*, watch: WatchRequest, actor: User, reason: str = "") -> CaseEvent:
    return _save(
        _row(
            case=watch.case,
            kind=EventKind.WATCH_CLOSED,
            name="close",
            from_state="open",
            to_state=watch.state,
            actor=actor,
            department=watch.department,
            reason=reason,
            data={"watch_request_id": watch.pk, "district": watch.district.code},
        ),
        True,
    )


# --- Records ------------------------------------------------------------------------------------


def activity_added(*, activity: Activity, actor: User) -> CaseEvent:
    """Names the record, never its body: limited viewers see the timeline."""
    return _save(
        _row(
            case=activity.case,
            kind=EventKind.ACTIVITY,
            name=activity.kind,
            actor=actor,
            department=activity.department,
            data={"activity_id": activity.pk, "sensitive": activity.sensitive},
        ),
        True,
    )


def record_repaired(
    *, case: Case, actor: User, object_type: str, object_id: int, fields: dict[str, str], reason: str
) -> CaseEvent:
    """A stored date outside the years was corrected (manage.py repair_out_of_range_dates): which
    record, which fields and the value as PostgreSQL held it (a date names no one)."""
    return _save(
        _row(
            case=case,
            kind=EventKind.RECORD_REPAIRED,
            actor=actor,
            reason=reason,
            data={"object_type": object_type, "object_id": object_id, "stored": fields},
        ),
        True,
    )


def consent_recorded(*, consent: Consent, actor: User) -> CaseEvent:
    return _save(
        _row(
            case=consent.case,
            kind=EventKind.CONSENT,
            name="record",
            actor=actor,
            data={"consent_id": consent.pk, "recipients": consent.recipients, "method": consent.method},
        ),
        True,
    )


def consent_withdrawn(*, consent: Consent, actor: User) -> CaseEvent:
    return _save(
        _row(case=consent.case, kind=EventKind.CONSENT, name="withdraw", actor=actor, data={"consent_id": consent.pk}),
        True,
    )


# --- Escalations (timers) -----------------------------------------------------------------------


def escalation_fired(*, escalation: Any, actor: User, rule_name: str, commit: bool = True) -> CaseEvent:
    """One level of a deadline fired (`escalation` is a timers.Escalation with its id)."""
    due_local = timezone.localtime(escalation.due_at, calendar.office_tz())
    return _save(
        _row(
            case=escalation.case,
            referral=escalation.referral,
            kind=EventKind.ESCALATION,
            name=f"L{escalation.level}",
            actor=actor,
            department_id=escalation.department_id,
            reason=f"{rule_name}（期限 {due_local:%Y-%m-%d %H:%M}）",
            data={
                "escalation_id": escalation.pk,
                "rule": escalation.rule,
                "level": escalation.level,
                "cycle": escalation.cycle,
                "due_at": escalation.due_at.isoformat(),
            },
        ),
        commit,
    )


def gap_flagged(*, escalation: Any, actor: User, rule_name: str, commit: bool = True) -> CaseEvent:
    """The case became はざま: an L3 escalation, or the runaround rule."""
    return _save(
        _row(
            case=escalation.case,
            referral=escalation.referral,
            kind=EventKind.GAP_FLAGGED,
            name="gap",
            actor=actor,
            reason=rule_name,
            data={"escalation_id": escalation.pk, "rule": escalation.rule},
        ),
        commit,
    )


def escalation_acknowledged(*, escalation: Any, actor: User) -> CaseEvent:
    """The supervisor's note (what happens next) is the event's reason: the case's 経過 shows it."""
    return _save(
        _row(
            case_id=escalation.case_id,
            referral_id=escalation.referral_id,
            kind=EventKind.ESCALATION,
            name="acknowledged",
            actor=actor,
            department_id=escalation.department_id,
            reason=(escalation.note or "")[:2000],
            data={"escalation_id": escalation.pk, "rule": escalation.rule, "level": escalation.level},
        ),
        True,
    )


def escalation_resolved(*, escalation: Any, actor: User, reason: str) -> CaseEvent:
    return _save(
        _row(
            case_id=escalation.case_id,
            referral_id=escalation.referral_id,
            kind=EventKind.ESCALATION,
            name="resolved",
            actor=actor,
            department_id=escalation.department_id,
            reason=reason[:2000],
            data={"escalation_id": escalation.pk, "rule": escalation.rule, "level": escalation.level},
        ),
        True,
    )


# --- The person's record and the case's assessment (issue 17) -----------------------------------


def case_reassessed(*, case: Case, actor: User, before: dict[str, Any], reason: str) -> CaseEvent:
    """Risk and needs before and after (codes only; the summary is text and stays in the history)."""
    return _save(
        _row(
            case=case,
            kind=EventKind.REASSESSED,
            name="reassess",
            from_state=before["risk"],
            to_state=case.risk,
            actor=actor,
            reason=reason,
            data={
                "risk": {"from": before["risk"], "to": case.risk},
                "needs": {"from": list(before["needs"]), "to": list(case.needs)},
                "summary_changed": before["summary"] != case.summary,
            },
        ),
        True,
    )


def person_merged(*, case: Case, actor: User, merged_id: int, into_id: int, reason: str, via: str) -> CaseEvent:
    """The case moved from person `merged_id` to `into_id` (a merge, or a slip linked at the desk).
    Ids only: never a name."""
    return _save(
        _row(
            case=case,
            kind=EventKind.PERSON_MERGED,
            name=via,
            actor=actor,
            reason=reason,
            data={"merged": merged_id, "into": into_id},
        ),
        True,
    )


def slip_triaged(*, case: Case, actor: User, outcome: str) -> CaseEvent:
    return _save(
        _row(case=case, kind=EventKind.SLIP_TRIAGED, name=outcome, actor=actor, data={"outcome": outcome}), True
    )


def gap_cleared(*, case: Case, actor: User, how: str, department: Department | None = None) -> CaseEvent:
    """はざま ended: someone took the case on (`how`: "accept" of a referral, or "lead" named)."""
    return _save(
        _row(
            case=case,
            kind=EventKind.GAP_CLEARED,
            name="gap_cleared",
            actor=actor,
            department=department,
            data={"how": how},
        ),
        True,
    )


# --- Assignment and follow-ups (issue 18) ---------------------------------------------------------


def referral_assigned(*, case: Case, referral: Referral, actor: User, worker: User | None) -> CaseEvent:
    """The worker who takes the referral on (None: the assignment was taken off)."""
    return _save(
        _row(
            case=case,
            referral=referral,
            kind=EventKind.REFERRAL_ASSIGNED,
            name="assign" if worker is not None else "unassign",
            actor=actor,
            department=referral.to_department,
            data={"to": referral.to_department.code, "worker": worker.username if worker else None},
        ),
        True,
    )


def followup_created(*, followup: Any, actor: User) -> CaseEvent:
    """A follow-up (予定) was set: its day and its assignee, never its note."""
    return _save(
        _row(
            case_id=followup.case_id,
            kind=EventKind.FOLLOWUP,
            name="followup_created",
            actor=actor,
            data={
                "followup_id": followup.pk,
                "due_on": followup.due_on.isoformat(),
                "assignee": followup.assignee.username,
            },
        ),
        True,
    )


def followup_done(*, followup: Any, actor: User) -> CaseEvent:
    return _save(
        _row(
            case_id=followup.case_id,
            kind=EventKind.FOLLOWUP,
            name="followup_done",
            actor=actor,
            data={"followup_id": followup.pk, "due_on": followup.due_on.isoformat()},
        ),
        True,
    )
