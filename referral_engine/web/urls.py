from django.urls import path

from referral_engine.web import views

urlpatterns = [
    path("", views.home, name="home"),
]
