"""The project's URLs plus views that fail on purpose, for the error-page tests."""

from django.db import OperationalError
from django.urls import include, path


def boom(request):
    raise RuntimeError("secret internals")


def database_gone(request):
    raise OperationalError("terminating connection due to administrator command")


urlpatterns = [
    path("boom/", boom),
    path("api/v1/boom-db/", database_gone),
    path("boom-db/", database_gone),
    path("", include("referral_engine.urls")),
]
