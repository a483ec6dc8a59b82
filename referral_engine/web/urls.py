"""The web pages (DESIGN §8.2: `/`, `/cases/new/`, `/cases/<id>/`, `/inbox/`, `/dashboard/`, `/slips/`
are contracts) and the POST endpoints their forms send to."""

from django.urls import path

from referral_engine.web.views import cases, community, dashboard, home, inbox, intake, notifications, slips

urlpatterns = [
    path("", home.home, name="home"),
    path("cases/", cases.case_list, name="case_list"),
    path("cases/new/", intake.case_new, name="case_new"),
    path("cases/<int:case_id>/", cases.case_detail, name="case_detail"),
    path("cases/<int:case_id>/print/", cases.case_print, name="case_print"),
    path("cases/<int:case_id>/transition/", cases.case_transition_post, name="case_transition"),
    path("cases/<int:case_id>/activities/", cases.case_activity_add, name="case_activity_add"),
    path("cases/<int:case_id>/referrals/", cases.case_referral_add, name="case_referral_add"),
    path("cases/<int:case_id>/consents/", cases.case_consent_add, name="case_consent_add"),
    path("cases/<int:case_id>/lead/", cases.case_lead_change_post, name="case_lead_change"),
    path("consents/<int:consent_id>/withdraw/", cases.consent_withdraw_post, name="consent_withdraw"),
    path("referrals/<int:referral_id>/transition/", cases.referral_transition_post, name="referral_transition"),
    path("referrals/<int:referral_id>/record/", cases.referral_record, name="referral_record"),
    path("referrals/<int:referral_id>/assign/", cases.referral_assign_post, name="referral_assign"),
    path("persons/search/", intake.person_search, name="person_search"),
    path("inbox/", inbox.inbox, name="inbox"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("escalations/<int:escalation_id>/acknowledge/", dashboard.escalation_ack, name="escalation_ack"),
    path("slips/", slips.slips, name="slips"),
    path("cases/<int:case_id>/watch-requests/", community.case_watch_add, name="case_watch_add"),
    path("watch/<int:watch_id>/", community.watch_detail, name="watch_detail"),
    path("watch/<int:watch_id>/close/", community.watch_close_post, name="watch_close"),
    path("evacuation-plans/", community.evacuation_plans, name="evacuation_plans"),
    path("evacuation-plans/<int:plan_id>/print/", community.evacuation_plan_print, name="evacuation_plan_print"),
    path("notifications/", notifications.notification_list, name="notifications"),
    path("notifications/read/", notifications.notification_read, name="notification_read"),
]
