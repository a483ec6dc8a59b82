"""The per-object answers: may this user see this case, at which level; may they work it, refer from
it, respond to this referral… django-fsm transitions take the writing ones as `permission=` callables:
`(instance, user) -> bool`.

Decisions read the guardian rows written by `referral_engine.access.grants` (per-object reach of
departments and assigned users) and the user's roles (auditor, desk supervisor). The queryset form of
the reading answers is in `reach.py`, and must agree with them (tests/access/test_reach.py).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from referral_engine.access.policy.object_permissions import case_perms, referral_perms
from referral_engine.access.policy.principals import principal
from referral_engine.cases.choices import OPEN_REFERRAL_STATES, WatchState
from referral_engine.workflow import registry as workflow_registry

if TYPE_CHECKING:
    from referral_engine.cases.models import Case, Referral, WatchRequest


class ViewLevel(enum.IntEnum):
    NONE = 0
    LIMITED = 1  # a department whose referral is only requested: summary and referral reason
    FULL = 2  # lead and departments that took the work on
    AUDIT = 3  # auditors: read everything, change nothing


# --- Reading ------------------------------------------------------------------------------------


def case_view_level(user: Any, case: Case) -> ViewLevel:
    p = principal(user)
    if p.is_auditor:
        return ViewLevel.AUDIT
    if p.is_desk_supervisor:
        return ViewLevel.FULL
    if not p.is_staff_member:
        return ViewLevel.NONE
    perms = case_perms(user, case)
    if "view_case_full" in perms:
        return ViewLevel.FULL
    if "view_case_limited" in perms:
        return ViewLevel.LIMITED
    return ViewLevel.NONE


def can_view_case(user: Any, case: Case) -> bool:
    return case_view_level(user, case) > ViewLevel.NONE


def can_see_sensitive(user: Any, case: Case) -> bool:
    return case_view_level(user, case) >= ViewLevel.FULL


def can_view_referral(user: Any, referral: Referral) -> bool:
    p = principal(user)
    if p.reaches_every_case:
        return True
    if not p.is_staff_member:
        return False
    return "view_referral" in referral_perms(user, referral) or can_view_case(user, referral.case)


def can_view_history(user: Any, case: Case) -> bool:
    """Field-level history: auditors, and those who see the whole case."""
    return case_view_level(user, case) >= ViewLevel.FULL


def can_audit(user: Any) -> bool:
    return principal(user).is_auditor


def can_list_cases(user: Any) -> bool:
    """The lists of cases, referrals and escalations (web and API) are for the desk's staff and
    auditors: a connector or the admin gets a 403 there rather than an empty list."""
    p = principal(user)
    return p.is_staff_member or p.is_auditor


def can_view_inbox(user: Any) -> bool:
    """A department's inbox and work in progress: its staff (front desk, caseworkers, supervisors)."""
    return principal(user).is_staff_member


def can_view_dashboard(user: Any) -> bool:
    p = principal(user)
    return p.is_supervisor or p.is_auditor


def can_open_case(user: Any) -> bool:
    """Every counter receives (DESIGN §2): front desk, caseworkers and supervisors, at their window."""
    return principal(user).is_staff_member


def can_submit_slip(user: Any) -> bool:
    p = principal(user)
    return p.is_connector and bool(p.district_ids)


def can_search_persons(user: Any) -> bool:
    return principal(user).is_staff_member


# --- Writing ------------------------------------------------------------------------------------


def can_work_case(case: Case, user: Any) -> bool:
    """Notes, case transitions, new referrals: staff whose department holds `work_case`."""
    p = principal(user)
    if p.is_auditor or not p.is_staff_member:
        return False
    if p.is_desk_supervisor:
        return True
    return "work_case" in case_perms(user, case)


def can_refer(user: Any, case: Case) -> bool:
    return can_work_case(case, user)


def can_add_activity(user: Any, case: Case) -> bool:
    return can_work_case(case, user)


def can_manage_consent(user: Any, case: Case) -> bool:
    return can_work_case(case, user)


def can_close_case(case: Case, user: Any) -> bool:
    """Closing and reopening belong to the lead department's workers (and the desk supervisor)."""
    p = principal(user)
    if not can_work_case(case, user) or not p.can_work:
        return False
    return p.is_desk_supervisor or case.lead_department_id in p.department_ids


def can_reassign(user: Any, case: Case) -> bool:
    p = principal(user)
    if p.is_desk_supervisor:
        return True
    return case.lead_department_id in p.supervisor_department_ids and can_work_case(case, user)


def can_respond(referral: Referral, user: Any) -> bool:
    """Accept or decline: caseworkers and supervisors of the receiving department."""
    p = principal(user)
    if not p.can_work or p.is_auditor:
        return False
    return referral.to_department_id in p.department_ids and "respond_referral" in referral_perms(user, referral)


def can_cancel(referral: Referral, user: Any) -> bool:
    """Cancel: the requesting side (its department's staff, or the requester)."""
    p = principal(user)
    if not p.is_staff_member or p.is_auditor:
        return False
    if referral.requested_by_id == p.user_id:
        return True
    return referral.from_department_id in p.department_ids and can_work_case(referral.case, user)


def can_work_referral(referral: Referral, user: Any) -> bool:
    """Stages, return and complete: the receiving department once it has taken the work on."""
    p = principal(user)
    if not p.can_work or p.is_auditor:
        return False
    return "work_referral" in referral_perms(user, referral)


def can_assign(user: Any, referral: Referral, worker: Any = None) -> bool:
    """Name the worker who takes a referral on, while it is open: the receiving department's
    supervisors (and the desk supervisor) name anyone; a caseworker of the receiving department takes
    an unassigned referral for themselves ("assign to me", `worker` is the user)."""
    p = principal(user)
    if referral.state not in OPEN_REFERRAL_STATES:
        return False
    if p.is_desk_supervisor or referral.to_department_id in p.supervisor_department_ids:
        return True
    takes_it_themselves = worker is not None and getattr(worker, "pk", None) == p.user_id
    return (
        takes_it_themselves
        and p.can_work
        and not p.is_auditor
        and referral.to_department_id in p.department_ids
        and referral.assigned_worker_id in (None, p.user_id)
    )


def can_add_followup(user: Any, case: Case) -> bool:
    """Set a follow-up (予定) on a case: those who work it."""
    return can_work_case(case, user)


def can_complete_followup(user: Any, followup: Any) -> bool:
    """Mark a follow-up done: its assignee while they still work the case, or anyone who works it."""
    return can_work_case(followup.case, user)


def can_see_followup_notes(user: Any, followup: Any) -> bool:
    """A follow-up's notes are free text about the person: its assignee and creator, and those who see
    the whole case (a limited viewer sees the day and who holds it)."""
    p = principal(user)
    if p.user_id is not None and p.user_id in (followup.assignee_id, followup.created_by_id):
        return True
    return can_see_sensitive(user, followup.case)


def can_edit_stage_record(referral: Referral, user: Any) -> bool:
    return can_work_referral(referral, user)


def stage_is_final(referral: Referral) -> bool:
    """`complete` is allowed only at one of the department workflow's final stages."""
    workflow = workflow_registry.get(referral.to_department.code)
    return workflow is not None and workflow.is_final(referral.stage)


def can_acknowledge_escalation(user: Any, escalation: Any) -> bool:
    p = principal(user)
    if not p.is_supervisor:
        return False
    if p.is_desk_supervisor:
        return True
    return bool({escalation.department_id} & p.supervisor_department_ids)


def can_manage_master_data(user: Any) -> bool:
    return bool(getattr(user, "is_superuser", False)) or principal(user).is_admin


def can_read_api_docs(user: Any) -> bool:
    """The UI links the API's docs for the city's staff, auditors and the admin (not connectors)."""
    p = principal(user)
    return p.is_staff_member or p.is_auditor or can_manage_master_data(user)


def can_edit_preferences(user: Any, owner: Any) -> bool:
    """Mail and date settings are one's own: every signed-in, active user changes theirs, nobody
    else's (an admin included: a colleague's mail is theirs to turn off)."""
    return bool(
        getattr(user, "is_authenticated", False) and user.is_active and owner is not None and user.pk == owner.pk
    )


def can_read_help(user: Any) -> bool:
    """The help page (L1/L2/L3, はざま, follow-ups) is for every signed-in role."""
    return bool(getattr(user, "is_authenticated", False))


def can_see_debug_pages(user: Any) -> bool:
    """With DEBUG on, Django's technical 404 page (the URL list) only for the admin: everyone else
    gets the app's own page, as in production (issue 16 §7)."""
    return bool(getattr(user, "is_authenticated", False)) and can_manage_master_data(user)


# --- Fiscal-year reports (issue 21) ---------------------------------------------------------------


def _active_superuser(user: Any) -> bool:
    return bool(getattr(user, "is_active", False) and getattr(user, "is_superuser", False))


def can_view_reports(user: Any) -> bool:
    """Supervisors (their departments' figures), auditors and admins (everything). Caseworkers, front
    desk and connectors: no."""
    p = principal(user)
    return p.is_supervisor or p.is_auditor or p.is_admin or _active_superuser(user)


# --- Watching over with the district (見守り依頼, issue 19) ------------------------------------------


def watch_is_live(watch: WatchRequest) -> bool:
    """Open and not past its `until` (a day in Japan): what a connector may still see and report on."""
    return watch.state == WatchState.OPEN and watch.until >= timezone.localdate()


def can_request_watch(user: Any, case: Case) -> bool:
    """Ask a district to watch over the person: staff who see the whole case (auditors change nothing)."""
    p = principal(user)
    if p.is_auditor or not p.is_staff_member:
        return False
    return case_view_level(user, case) == ViewLevel.FULL


def can_list_watch_requests(user: Any) -> bool:
    """The list of a district's watch requests is the connectors' (staff find them on the case)."""
    p = principal(user)
    return p.is_connector and bool(p.district_ids)


def can_view_watch_request(user: Any, watch: WatchRequest) -> bool:
    """A connector of its district while it is live; staff who may see its case."""
    p = principal(user)
    if p.is_connector:
        return watch.district_id in p.district_ids and watch_is_live(watch)
    return can_view_case(user, watch.case)


def can_report_watch(user: Any, watch: WatchRequest) -> bool:
    """Report a visit: the connectors of the request's district, while it is live."""
    p = principal(user)
    return p.is_connector and watch.district_id in p.district_ids and watch_is_live(watch)


def can_close_watch(user: Any, watch: WatchRequest) -> bool:
    """Close a request: whoever works the case, and the requester while still on the staff."""
    p = principal(user)
    if p.is_auditor or not p.is_staff_member:
        return False
    return watch.requested_by_id == p.user_id or can_work_case(watch.case, user)


# --- Individual evacuation plans (個別避難計画, issue 19) ---------------------------------------------

# The body that keeps the plans (DESIGN §1: 総務課 防災・コミュニティ班).
EVACUATION_PLAN_DEPARTMENT = "disaster_prevention"


def can_view_evacuation_plans(user: Any) -> bool:
    """The list and the printable plans: disaster_prevention's staff, the desk supervisor, auditors.
    (Connectors during a disaster: the disaster issue's.)"""
    p = principal(user)
    if p.is_auditor or p.is_desk_supervisor:
        return True
    return p.is_staff_member and EVACUATION_PLAN_DEPARTMENT in p.department_codes


# --- System actors ------------------------------------------------------------------------------


def can_run_community_reminders(user: Any) -> bool:
    """The silent-watch and plan-review reminders are sent by the system principal (beat, a command)."""
    return principal(user).is_system


def can_release_assignments(user: Any) -> bool:
    """A leaver's lead-worker and assigned-worker places go when their membership ends (異動・退職):
    a change of master data, made by the admin or by the system principal."""
    return can_manage_master_data(user) or principal(user).is_system


def can_repair_records(user: Any) -> bool:
    """An audited correction of stored values no client may send any more (a date outside the years,
    issue 16): the admin or the system principal (`manage.py repair_out_of_range_dates`)."""
    return can_manage_master_data(user) or principal(user).is_system


def supervises_referral(user: Any, referral: Any) -> bool:
    """A supervisor of the receiving department (or the desk supervisor): accepting a referral leaves
    its assignment to them, to share the work out (DESIGN §11.3)."""
    p = principal(user)
    return referral.to_department_id in p.supervisor_department_ids or p.is_desk_supervisor
