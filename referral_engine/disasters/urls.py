from django.urls import path

from referral_engine.disasters import views

app_name = "disasters"

urlpatterns = [
    path("", views.disaster_index, name="index"),
    path("<int:disaster_id>/", views.disaster_board, name="board"),
    path("<int:disaster_id>/counts/", views.disaster_board_counts, name="counts"),
    path("<int:disaster_id>/districts/<slug:district>/print/", views.disaster_print, name="print"),
    path("<int:disaster_id>/unconfirmed.csv", views.disaster_unconfirmed_csv, name="unconfirmed_csv"),
    path("<int:disaster_id>/close/", views.disaster_close_post, name="close"),
    path("checks/<int:check_id>/", views.safety_check_post, name="check"),
]
