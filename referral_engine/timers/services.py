"""Deadlines of cases and referrals. Called by the case services after every change.

PLACEHOLDER until the timers issue: calendar-day deadlines, no office-day calendar yet."""

from datetime import timedelta

from django.utils import timezone

from referral_engine.cases.choices import CaseState, ReferralState, Risk

STALL_DAYS = {Risk.URGENT: 1, Risk.HIGH: 3, Risk.NORMAL: 14, Risk.LOW: 14}


def timers_referral_changed(*, referral, actor=None) -> list[str]:
    """Set or clear the referral's deadlines; returns the changed field names (caller saves)."""
    changed = []
    if referral.state == ReferralState.REQUESTED and referral.due_at is None:
        referral.due_at = (referral.created_at or timezone.now()) + (
            timedelta(hours=4) if referral.urgent else timedelta(days=2)
        )
        changed.append("due_at")
    return changed


def timers_case_changed(*, case, actor=None) -> list[str]:
    """Recompute the stall deadline from last touch (hold excluded); caller saves."""
    if case.state in (CaseState.CLOSED, CaseState.ON_HOLD):
        due = None
    else:
        due = case.last_touched_at + timedelta(days=STALL_DAYS[case.risk])
    if due != case.stall_due_at:
        case.stall_due_at = due
        return ["stall_due_at"]
    return []


def timers_object_resolved(*, case=None, referral=None, actor=None) -> None:
    """Resolve open escalations whose condition has cleared (placeholder: nothing to do yet)."""
