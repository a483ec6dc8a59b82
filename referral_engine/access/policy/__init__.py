"""Every access decision, in one package (DESIGN §5, CONVENTIONS 4). Callers use the names below:
`from referral_engine.access import policy; policy.can_view_case(user, case)`.

- `principals` — who the user is right now (roles, departments, the staff-move dates), cached per user;
- `object_permissions` — the guardian rows a user holds on one case or referral (and their prefetch);
- `decisions` — the per-object answers (`can_view_case`, `can_work_case`, …), django-fsm's
  `permission=` callables among them;
- `person_upkeep` — reassessment, merging persons, the desk's slip triage, households (issue 17);
- `reach` — the same reading answers as querysets filters (`cases_reach`, `referrals_reach`,
  `escalations_reach`, …) that the selectors compose;
- `persons` — need-to-know at the person (DESIGN §11.1): what of a person a user sees through the
  cases they reach (`person_view`, `case_person_flags`), a case's own consents and person history,
  who may edit a person.

Grants and revocations (the rows these read) are written only by `referral_engine.access.grants`.
`cases.models` imports this package for its django-fsm `permission=` callables, so the package sits
below it (docs/architecture.md): at import time it reads only the organisation (`accounts.models`,
`accounts.roles`), the permission-id cache and `cases.choices`. The guardian tables
(`access.models`, foreign keys to Case and Referral) and the case models are imported inside the
functions that query them: the one place the layering waits for call time
(tests/test_import_layers.py lists each).
"""

from referral_engine.access.policy.decisions import (
    ViewLevel,
    can_acknowledge_escalation,
    can_add_activity,
    can_add_followup,
    can_assign,
    can_audit,
    can_cancel,
    can_close_case,
    can_complete_followup,
    can_edit_stage_record,
    can_list_cases,
    can_manage_consent,
    can_manage_master_data,
    can_open_case,
    can_read_api_docs,
    can_reassign,
    can_refer,
    can_release_assignments,
    can_repair_records,
    can_respond,
    can_search_persons,
    can_see_debug_pages,
    can_see_followup_notes,
    can_see_sensitive,
    can_submit_slip,
    can_view_case,
    can_view_dashboard,
    can_view_history,
    can_view_inbox,
    can_view_referral,
    can_view_reports,
    can_work_case,
    can_work_referral,
    case_view_level,
    stage_is_final,
)
from referral_engine.access.policy.disasters import (
    can_open_disaster,
    can_update_safety_check,
    can_view_disaster,
    disaster_district_reach,
)
from referral_engine.access.policy.object_permissions import (
    case_perms,
    cases_perms_prefetch,
    referral_perms,
    referrals_perms_prefetch,
)
from referral_engine.access.policy.person_upkeep import (
    can_manage_household,
    can_merge_persons,
    can_reassess,
    can_triage_slips,
    can_view_household,
    sees_a_case_of,
    sees_a_full_case_of,
)
from referral_engine.access.policy.persons import (
    IDENTITY_FIELDS,
    PersonView,
    can_edit_person,
    can_see_person,
    case_consents_q,
    case_person_flags,
    case_person_sees_field,
    person_history_since,
    person_view,
)
from referral_engine.access.policy.principals import MEMBERSHIP_SCOPED_ROLES, NOBODY, Principal, forget, principal
from referral_engine.access.policy.reach import (
    DashboardScope,
    ReportScope,
    cases_full_reach,
    cases_reach,
    dashboard_reach,
    escalations_reach,
    in_progress_reach,
    inbox_reach,
    referrals_reach,
    report_scope,
)

__all__ = [
    "IDENTITY_FIELDS",
    "MEMBERSHIP_SCOPED_ROLES",
    "NOBODY",
    "DashboardScope",
    "PersonView",
    "Principal",
    "ReportScope",
    "ViewLevel",
    "can_acknowledge_escalation",
    "can_open_disaster",
    "can_update_safety_check",
    "can_view_disaster",
    "disaster_district_reach",
    "can_add_activity",
    "can_add_followup",
    "can_assign",
    "can_audit",
    "can_cancel",
    "can_close_case",
    "can_edit_person",
    "can_complete_followup",
    "can_edit_stage_record",
    "can_list_cases",
    "can_manage_consent",
    "can_manage_master_data",
    "can_open_case",
    "can_read_api_docs",
    "can_see_debug_pages",
    "can_reassign",
    "can_refer",
    "can_release_assignments",
    "can_repair_records",
    "can_respond",
    "can_search_persons",
    "can_see_person",
    "can_see_followup_notes",
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
    "case_consents_q",
    "case_perms",
    "case_person_flags",
    "case_person_sees_field",
    "case_view_level",
    "cases_full_reach",
    "cases_perms_prefetch",
    "cases_reach",
    "dashboard_reach",
    "escalations_reach",
    # issue 17 items 4–7 (person_upkeep)
    "can_manage_household",
    "can_merge_persons",
    "can_reassess",
    "can_triage_slips",
    "can_view_household",
    "sees_a_case_of",
    "sees_a_full_case_of",
    "forget",
    "in_progress_reach",
    "inbox_reach",
    "person_history_since",
    "person_view",
    "principal",
    "referral_perms",
    "referrals_perms_prefetch",
    "referrals_reach",
    "report_scope",
    "stage_is_final",
]
