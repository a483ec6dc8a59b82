"""The audit API views at their contract paths (DESIGN §8.1), mounted on their own so these tests do
not depend on how referral_engine/api/urls.py wires them (it imports the same classes)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from referral_engine.audit.api import AccessLogListAPIView, CaseHistoryAPIView

urlpatterns = [
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/audit/access-log/", AccessLogListAPIView.as_view(), name="api-audit-access-log"),
    path("api/v1/cases/<int:id>/history/", CaseHistoryAPIView.as_view(), name="api-case-history"),
    path("", include("referral_engine.urls")),
]
