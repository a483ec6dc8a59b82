"""The web pages (DESIGN §8.2: `/`, `/cases/new/`, `/cases/<id>/`, `/inbox/`, `/dashboard/`, `/slips/`
are contracts) and the POST endpoints their forms send to."""

from django.urls import path

from referral_engine.web.views import account, cases, dashboard, home, inbox, intake, notifications, slips, upkeep

urlpatterns = [
    path("", home.home, name="home"),
    path("cases/", cases.case_list, name="case_list"),
    path("cases/new/", intake.case_new, name="case_new"),
    path("cases/mine/", cases.my_cases, name="my_cases"),
    path("cases/<int:case_id>/", cases.case_detail, name="case_detail"),
    path("cases/<int:case_id>/print/", cases.case_print, name="case_print"),
    path("cases/<int:case_id>/transition/", cases.case_transition_post, name="case_transition"),
    path("cases/<int:case_id>/activities/", cases.case_activity_add, name="case_activity_add"),
    path("cases/<int:case_id>/referrals/", cases.case_referral_add, name="case_referral_add"),
    path("cases/<int:case_id>/consents/", cases.case_consent_add, name="case_consent_add"),
    path("cases/<int:case_id>/lead/", cases.case_lead_change_post, name="case_lead_change"),
    path("cases/<int:case_id>/person/", cases.case_person_edit, name="case_person_edit"),
    path("cases/<int:case_id>/reassess/", upkeep.case_reassess_post, name="case_reassess"),
    path("cases/<int:case_id>/household/", upkeep.case_household_add, name="case_household_add"),
    path("cases/<int:case_id>/household/remove/", upkeep.case_household_remove, name="case_household_remove"),
    path("cases/<int:case_id>/followups/", cases.case_followup_add, name="case_followup_add"),
    path("followups/<int:followup_id>/done/", cases.followup_done_post, name="followup_done"),
    path("work/<slug:section>/", home.work_section, name="work_section"),
    path("consents/<int:consent_id>/withdraw/", cases.consent_withdraw_post, name="consent_withdraw"),
    path("referrals/<int:referral_id>/transition/", cases.referral_transition_post, name="referral_transition"),
    path("referrals/<int:referral_id>/record/", cases.referral_record, name="referral_record"),
    path("referrals/<int:referral_id>/assign/", cases.referral_assign_post, name="referral_assign"),
    path("persons/search/", intake.person_search, name="person_search"),
    path("inbox/", inbox.inbox, name="inbox"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("escalations/<int:escalation_id>/acknowledge/", dashboard.escalation_ack, name="escalation_ack"),
    path("slips/", slips.slips, name="slips"),
    path("slips/queue/", upkeep.slip_queue, name="slip_queue"),
    path("slips/<int:slip_id>/link/", upkeep.slip_link_post, name="slip_link"),
    path("slips/<int:slip_id>/confirm-new/", upkeep.slip_confirm_new_post, name="slip_confirm_new"),
    path("persons/<int:person_id>/merge/", upkeep.person_merge_post, name="person_merge"),
    path("notifications/", notifications.notification_list, name="notifications"),
    path("notifications/read/", notifications.notification_read, name="notification_read"),
    path("accounts/password/", account.password_change, name="account_password"),
    path("accounts/tokens/", account.token_list, name="account_tokens"),
    path("accounts/tokens/new/", account.token_issue, name="account_token_issue"),
    path("accounts/tokens/<int:token_id>/revoke/", account.token_revoke, name="account_token_revoke"),
]
