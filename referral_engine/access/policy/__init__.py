"""Every access decision, in one package (DESIGN §5, CONVENTIONS 4). Callers use the names below:
`from referral_engine.access import policy; policy.can_view_case(user, case)`.

- `principals` — who the user is right now (roles, departments, the staff-move dates), cached per user;
- `object_permissions` — the guardian rows a user holds on one case or referral (and their prefetch);
- `decisions` — the per-object answers (`can_view_case`, `can_work_case`, …), django-fsm's
  `permission=` callables among them;
- `reach` — the same reading answers as querysets filters (`cases_reach`, `referrals_reach`,
  `escalations_reach`, …) that the selectors compose.

Grants and revocations (the rows these read) are written only by `referral_engine.access.grants`.
`cases.models` imports this package for its django-fsm `permission=` callables, so the package sits
below it (docs/architecture.md): at import time it reads only the organisation (`accounts.models`,
`accounts.roles`), the permission-id cache and `cases.choices`. The guardian tables
(`access.models`, foreign keys to Case and Referral) and the case models are imported inside the
functions that query them: the one place the layering waits for call time
(tests/test_import_layers.py lists each).
"""

from referral_engine.access.policy.decisions import (
    EVACUATION_PLAN_DEPARTMENT,
    ViewLevel,
    can_acknowledge_escalation,
    can_add_activity,
    can_assign,
    can_audit,
    can_cancel,
    can_close_case,
    can_close_watch,
    can_edit_stage_record,
    can_list_cases,
    can_list_watch_requests,
    can_manage_consent,
    can_manage_master_data,
    can_open_case,
    can_reassign,
    can_refer,
    can_release_assignments,
    can_report_watch,
    can_request_watch,
    can_respond,
    can_run_community_reminders,
    can_search_persons,
    can_see_sensitive,
    can_submit_slip,
    can_view_case,
    can_view_dashboard,
    can_view_evacuation_plans,
    can_view_history,
    can_view_inbox,
    can_view_referral,
    can_view_reports,
    can_view_watch_request,
    can_work_case,
    can_work_referral,
    case_view_level,
    stage_is_final,
    watch_is_live,
)
from referral_engine.access.policy.object_permissions import (
    case_perms,
    cases_perms_prefetch,
    referral_perms,
    referrals_perms_prefetch,
)
from referral_engine.access.policy.principals import MEMBERSHIP_SCOPED_ROLES, NOBODY, Principal, forget, principal
from referral_engine.access.policy.reach import (
    DashboardScope,
    ReportScope,
    cases_reach,
    dashboard_reach,
    escalations_reach,
    in_progress_reach,
    inbox_reach,
    referrals_reach,
    report_scope,
    watch_requests_reach,
)

__all__ = [
    "MEMBERSHIP_SCOPED_ROLES",
    "NOBODY",
    "DashboardScope",
    "Principal",
    "ReportScope",
    "ViewLevel",
    "can_acknowledge_escalation",
    "can_add_activity",
    "can_assign",
    "can_audit",
    "can_cancel",
    "can_close_case",
    "can_edit_stage_record",
    "can_list_cases",
    "can_manage_consent",
    "can_manage_master_data",
    "can_open_case",
    "can_reassign",
    "can_refer",
    "can_release_assignments",
    "can_respond",
    "can_search_persons",
    "can_see_sensitive",
    "can_submit_slip",
    "can_view_case",
    "can_view_dashboard",
    "can_view_history",
    "can_view_inbox",
    "can_view_referral",
    "can_view_reports",
    "can_work_case",
    "can_work_referral",
    "case_perms",
    "case_view_level",
    "cases_perms_prefetch",
    "cases_reach",
    "dashboard_reach",
    "escalations_reach",
    "forget",
    "in_progress_reach",
    "inbox_reach",
    "principal",
    "referral_perms",
    "referrals_perms_prefetch",
    "referrals_reach",
    "report_scope",
    "stage_is_final",
    # 見守り依頼 and 個別避難計画 (issue 19)
    "EVACUATION_PLAN_DEPARTMENT",
    "can_view_evacuation_plans",
    "can_close_watch",
    "can_list_watch_requests",
    "can_report_watch",
    "can_request_watch",
    "can_run_community_reminders",
    "can_view_watch_request",
    "watch_is_live",
    "watch_requests_reach",
]
