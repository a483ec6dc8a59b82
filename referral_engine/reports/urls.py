from django.urls import path

from referral_engine.reports import views

app_name = "reports"

urlpatterns = [
    path("", views.report_index, name="index"),
    path("<int:year>/", views.report_year, name="year"),
    path("<int:year>/print/", views.report_print, name="print"),
    path("<int:year>/report.csv", views.report_csv, name="csv"),
    path("<int:year>/exports/", views.report_export_start, name="export_start"),
    path("exports/<int:export_id>/", views.report_export_status, name="export_status"),
    path("exports/<int:export_id>/download/", views.report_export_download, name="export_download"),
]
