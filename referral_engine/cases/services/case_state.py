"""The case's own state (DESIGN §3.1): its transitions (`start_assessment` … `close`, `reopen`), its
lead (主担当), and releasing the cases and referrals of a worker who leaves a department."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed, has_transition_perm

from referral_engine.access import grants, policy
from referral_engine.accounts.models import Department, User
from referral_engine.accounts.roles import Role
from referral_engine.audit.history import save_with_history
from referral_engine.cases import events
from referral_engine.cases.choices import ClosureReason, ReferralState
from referral_engine.cases.inputs import (
    FollowUpInputs,
    TransitionInputs,
    clean_choice,
    clean_followup_date,
    require_reason,
)
from referral_engine.cases.models import Case, Referral
from referral_engine.cases.services.changes import case_touch, changed_fields, gap_clear, snapshot
from referral_engine.cases.services.departments import department_by_code, department_members
from referral_engine.cases.services.followups import _followup_write
from referral_engine.cases.services.guards import access_case_for_write, checks, unchecked
from referral_engine.errors import Forbidden, IllegalTransition, InvalidInput
from referral_engine.notifications.services import notifications_queue

CASE_TRANSITIONS = ("start_assessment", "start_support", "start_monitoring", "hold", "resume", "close", "reopen")


@unchecked("an answer, not a write: the FSM lists only the transitions whose policy rule lets the user run them")
def case_available_transitions(case: Case, user: User) -> list[str]:
    return [t.name for t in case.get_available_user_state_transitions(user)]


@checks(policy.can_view_case, has_transition_perm)
@transaction.atomic
def case_transition(
    *, case_id: int, name: str, actor: User, reason: str = "", closure_reason: str = "", review_on: Any = None
) -> Case:
    """Run a case transition; its permission is the transition's own (`policy.can_work_case`, and
    `policy.can_close_case` for close and reopen). `start_monitoring` sets the review as a follow-up
    on `review_on` (default: in 90 days), held by the lead worker (else the actor)."""
    case = access_case_for_write(case_id, actor)
    reason = TransitionInputs.reason.clean(reason)
    if review_on not in (None, "") and name != "start_monitoring":
        raise InvalidInput(
            _("見直し日はモニタリング開始のときだけ指定できます。"),
            fields={"review_on": [_("モニタリング開始のときだけ指定できます。")]},
        )
    method = getattr(case, name, None) if name in CASE_TRANSITIONS else None
    if method is None or not can_proceed(method):
        raise IllegalTransition(
            _("「%(n)s」は現在の状態（%(s)s）ではできません。") % {"n": name, "s": case.get_state_display()},
            allowed=case_available_transitions(case, actor),
        )
    if not has_transition_perm(method, actor):
        raise Forbidden(_("この操作の権限がありません。"))
    require_reason(name, reason)
    now = timezone.now()
    review_day = None
    if name == "start_monitoring":
        review_day = (
            clean_followup_date(review_on, field="review_on")
            if review_on not in (None, "")
            else timezone.localdate() + timedelta(days=FollowUpInputs.monitoring_review_days)
        )
    if name == "close":
        closure_reason = clean_choice(closure_reason, ClosureReason, field="closure_reason")
        open_referrals = case.referrals.filter(state__in=[ReferralState.REQUESTED, ReferralState.ACCEPTED]).count()
        if open_referrals:
            raise IllegalTransition(
                _("進行中のつなぎが%(n)d件あります。完了・取消してから終結してください。") % {"n": open_referrals},
                allowed=[n for n in case_available_transitions(case, actor) if n != "close"],
            )
    before = snapshot(case)
    before_state = case.state
    method(at=now, closure_reason=closure_reason, reason=reason)
    changed = changed_fields(case, before) + case_touch(case, now)
    save_with_history(
        case,
        actor=actor,
        reason=f"{name}: {reason}".strip(": "),
        update_fields=changed,
        changed=case.state != before_state or case.last_touched_at != before["last_touched_at"],
    )
    events.case_transition(
        case=case, actor=actor, name=name, from_state=before_state, reason=reason, closure_reason=closure_reason
    )
    if review_day is not None:
        reviewer = case.lead_worker if case.lead_worker and policy.can_work_case(case, case.lead_worker) else actor
        _followup_write(case=case, actor=actor, assignee=reviewer, due_on=review_day, note=_("モニタリングの見直し"))
    # No timers_object_resolved(case=...) here: `case_touch` above already brought the case's clocks
    # in line with its new state (stall clock restarted, paused or stopped; all clocks stopped on close).
    return case


@checks(policy.can_view_case, policy.can_reassign)
@transaction.atomic
def case_lead_change(
    *, case_id: int, actor: User, lead_department: str | None = None, lead_worker_id: int | None = None
) -> Case:
    case = access_case_for_write(case_id, actor)
    if not policy.can_reassign(actor, case):
        raise Forbidden(_("主担当を変更できるのは係長・班長です。"))
    before = snapshot(case)
    department = (
        department_by_code(lead_department, field="lead_department") if lead_department else case.lead_department
    )
    worker = None
    if lead_worker_id:
        worker = next(
            (
                u
                for u in department_members(department.pk, (Role.CASEWORKER, Role.SUPERVISOR))
                if u.pk == int(lead_worker_id)
            ),
            None,
        )
        if worker is None:
            raise InvalidInput(
                _("担当者が見つかりません。"), fields={"lead_worker_id": [_("主担当部署の職員を選んでください。")]}
            )
    case.lead_department = department
    case.lead_worker = worker
    changed = changed_fields(case, before)
    if not changed:
        return case
    save_with_history(
        case, actor=actor, reason="lead_changed", update_fields=changed + case_touch(case, timezone.now())
    )
    events.lead_changed(case=case, actor=actor, department=department, worker=worker)
    grants.case_grants_sync(case=case, renew=[department])
    if worker is not None:
        gap_clear(case, actor=actor, how="lead", department=department)
    return case


@checks(policy.can_release_assignments)
@transaction.atomic
def assignments_release(*, user: User, department: Department, actor: User, reason: str) -> dict[str, int]:
    """異動・退職: the user stops being lead worker of the department's cases and assigned worker of
    its referrals, so their per-user grants go with the case, not with the person. Each change is a
    history row and a timeline event; the department's supervisors are told what needs a new worker.
    Called when a membership ends (`accounts.services.membership_end`): by the admin, or the system."""
    if not policy.can_release_assignments(actor):
        raise Forbidden(_("担当を外せるのは管理者です。"))
    cases = list(Case.objects.select_for_update().filter(lead_worker=user, lead_department=department).order_by("pk"))
    for case in cases:
        case.lead_worker = None
        save_with_history(case, actor=actor, reason=f"lead_released: {reason}", update_fields=["lead_worker"])
        events.lead_changed(case=case, actor=actor, department=department, worker=None, released=user, reason=reason)
        grants.case_grants_sync(case=case)
    referrals = list(
        Referral.objects.select_for_update()
        .select_related("case")
        .filter(assigned_worker=user, to_department=department)
        .order_by("pk")
    )
    for referral in referrals:
        referral.assigned_worker = None
        save_with_history(referral, actor=actor, reason=f"assign_released: {reason}", update_fields=["assigned_worker"])
        grants.case_grants_sync(case=referral.case)
    released = {"cases": len(cases), "referrals": len(referrals)}
    if cases or referrals:
        notifications_queue(
            recipients=department_members(department.pk, (Role.SUPERVISOR,)),
            kind="assignments_released",
            title=_("%(u)s さんの担当が外れました（主担当 %(c)d 件・つなぎ %(r)d 件）")
            % {"u": user.display_name or user.username, "c": len(cases), "r": len(referrals)},
            body=reason,
        )
    return released
