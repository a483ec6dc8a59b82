"""/api/: the v1 endpoints (DESIGN §8.1), the OpenAPI schema and its docs page (assets from
drf-spectacular-sidecar, served by the app: no CDN). Anything else under /api/ is a JSON 404."""

from django.urls import include, path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.renderers import JSONRenderer

from referral_engine.api import community, me, persons, upkeep, views, work
from referral_engine.audit.api import AccessLogListAPIView, CaseHistoryAPIView, DeniedListAPIView
from referral_engine.disasters import api as disasters
from referral_engine.reports.api import FiscalYearReportAPIView


class IdConverter:
    """A database id: at most 18 digits, so it always fits a 64-bit key (a longer number is a 404,
    not an overflow in the database driver)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


class NameConverter:
    """A transition name: letters, digits and underscores."""

    regex = "[A-Za-z0-9_]{1,50}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class ApiDocsView(SpectacularSwaggerView):
    """The docs page; its OPTIONS answer is JSON like every other route's (the page's HTML renderer
    has no template for it)."""

    def get_renderers(self):
        if getattr(self, "request", None) is not None and self.request.method == "OPTIONS":
            return [JSONRenderer()]
        return super().get_renderers()


register_converter(IdConverter, "api_id")
register_converter(NameConverter, "api_name")

v1 = [
    path("", views.ApiRootView.as_view(), name="api-root"),
    path("auth/token/", views.TokenObtainView.as_view(), name="api-token"),
    path("auth/token/refresh/", views.TokenRefreshView.as_view(), name="api-token-refresh"),
    path("auth/logout/", views.LogoutView.as_view(), name="api-logout"),
    path("persons/", persons.PersonSearchView.as_view(), name="api-persons"),
    path("persons/<api_id:id>/", persons.PersonDetailView.as_view(), name="api-person"),
    path("persons/<api_id:id>/merge/", upkeep.PersonMergeView.as_view(), name="api-person-merge"),
    path("cases/", views.CaseListView.as_view(), name="api-cases"),
    path("cases/<api_id:id>/", views.CaseDetailView.as_view(), name="api-case"),
    path("cases/<api_id:id>/transitions/", views.CaseTransitionListView.as_view(), name="api-case-transitions"),
    path(
        "cases/<api_id:id>/transitions/<api_name:name>/",
        views.CaseTransitionView.as_view(),
        name="api-case-transition",
    ),
    path("cases/<api_id:id>/referrals/", views.CaseReferralsView.as_view(), name="api-case-referrals"),
    path("cases/<api_id:id>/activities/", views.CaseActivitiesView.as_view(), name="api-case-activities"),
    path("cases/<api_id:id>/consents/", views.CaseConsentsView.as_view(), name="api-case-consents"),
    path("cases/<api_id:id>/history/", CaseHistoryAPIView.as_view(), name="api-case-history"),
    path("cases/<api_id:id>/reassess/", upkeep.CaseReassessView.as_view(), name="api-case-reassess"),
    path("consents/<api_id:id>/withdraw/", views.ConsentWithdrawView.as_view(), name="api-consent-withdraw"),
    path("households/", upkeep.HouseholdCreateView.as_view(), name="api-households"),
    path("households/<api_id:id>/", upkeep.HouseholdDetailView.as_view(), name="api-household"),
    path("referrals/", views.ReferralListView.as_view(), name="api-referrals"),
    path("referrals/<api_id:id>/", views.ReferralDetailView.as_view(), name="api-referral"),
    path(
        "referrals/<api_id:id>/transitions/",
        views.ReferralTransitionListView.as_view(),
        name="api-referral-transitions",
    ),
    path(
        "referrals/<api_id:id>/transitions/<api_name:name>/",
        views.ReferralTransitionView.as_view(),
        name="api-referral-transition",
    ),
    path("referrals/<api_id:id>/record/", views.ReferralRecordView.as_view(), name="api-referral-record"),
    path("referrals/<api_id:id>/assign/", views.ReferralAssignView.as_view(), name="api-referral-assign"),
    path("cases/<api_id:id>/followups/", work.CaseFollowUpsView.as_view(), name="api-case-followups"),
    path("followups/", work.FollowUpListView.as_view(), name="api-followups"),
    path("followups/<api_id:id>/done/", work.FollowUpDoneView.as_view(), name="api-followup-done"),
    path("me/work/", work.MyWorkView.as_view(), name="api-me-work"),
    path("me/preferences/", me.MyPreferencesView.as_view(), name="api-me-preferences"),
    path("notifications/", me.NotificationListView.as_view(), name="api-notifications"),
    path("notifications/<api_id:id>/read/", me.NotificationReadView.as_view(), name="api-notification-read"),
    path("community-slips/", views.SlipListView.as_view(), name="api-community-slips"),
    path("community-slips/<api_id:id>/link/", upkeep.SlipLinkView.as_view(), name="api-community-slip-link"),
    path(
        "community-slips/<api_id:id>/confirm-new/",
        upkeep.SlipConfirmNewView.as_view(),
        name="api-community-slip-confirm-new",
    ),
    path(
        "cases/<api_id:id>/watch-requests/",
        community.CaseWatchRequestsView.as_view(),
        name="api-case-watch-requests",
    ),
    path("watch-requests/", community.WatchRequestListView.as_view(), name="api-watch-requests"),
    path("evacuation-plans/", community.EvacuationPlanListView.as_view(), name="api-evacuation-plans"),
    path(
        "watch-requests/<api_id:id>/reports/",
        community.WatchReportCreateView.as_view(),
        name="api-watch-request-reports",
    ),
    path(
        "watch-requests/<api_id:id>/close/",
        community.WatchRequestCloseView.as_view(),
        name="api-watch-request-close",
    ),
    path("escalations/", views.EscalationListView.as_view(), name="api-escalations"),
    path(
        "escalations/<api_id:id>/acknowledge/",
        views.EscalationAcknowledgeView.as_view(),
        name="api-escalation-acknowledge",
    ),
    path("dashboard/", views.DashboardView.as_view(), name="api-dashboard"),
    path("audit/access-log/", AccessLogListAPIView.as_view(), name="api-audit-access-log"),
    path("disasters/", disasters.DisasterListView.as_view(), name="api-disasters"),
    path("disasters/<api_id:id>/", disasters.DisasterDetailView.as_view(), name="api-disaster"),
    path("disasters/<api_id:id>/board/", disasters.DisasterBoardView.as_view(), name="api-disaster-board"),
    path("disasters/<api_id:id>/checks/", disasters.DisasterChecksView.as_view(), name="api-disaster-checks"),
    path("disasters/<api_id:id>/close/", disasters.DisasterCloseView.as_view(), name="api-disaster-close"),
    path("safety-checks/<api_id:id>/", disasters.SafetyCheckView.as_view(), name="api-safety-check"),
    path("audit/denied/", DeniedListAPIView.as_view(), name="api-audit-denied"),
    path("reports/fiscal-year/<int:year>/", FiscalYearReportAPIView.as_view(), name="api-reports-fiscal-year"),
]

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("v1/", include(v1)),
    re_path(r"^.*$", views.NotFoundView.as_view(), name="api-not-found"),
]
