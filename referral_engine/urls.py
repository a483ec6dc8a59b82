from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from referral_engine.observability.views import metrics_view
from referral_engine.web import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/2fa/", include("referral_engine.security.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", include("referral_engine.api.urls")),
    path("audit/", include("referral_engine.audit.urls")),
    path("reports/", include("referral_engine.reports.urls")),
    path("disaster/", include("referral_engine.disasters.urls")),
    path("", include("referral_engine.web.urls")),
]
