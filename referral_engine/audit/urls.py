from django.urls import path

from referral_engine.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.index, name="index"),
    path("access-log/", views.access_log, name="access_log"),
    path("access-log/export.csv", views.access_log_export, name="access_log_export"),
    path("denied/", views.denied, name="denied"),
    path("denied/export.csv", views.denied_export, name="denied_export"),
    path("cases/", views.case_lookup, name="case_lookup"),
    path("cases/<int:case_id>/", views.case_history, name="case_history"),
    path("cases/<int:case_id>/export.csv", views.case_history_export, name="case_history_export"),
    path("searches/", views.search_volume, name="search_volume"),
    path("searches/export.csv", views.search_volume_export, name="search_volume_export"),
    path("users/", views.user_list, name="user_list"),
    path("users/<int:user_id>/", views.user_activity, name="user_activity"),
    path("users/<int:user_id>/access.csv", views.user_access_export, name="user_access_export"),
    path("users/<int:user_id>/changes.csv", views.user_changes_export, name="user_changes_export"),
]
