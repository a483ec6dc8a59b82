"""Session authentication into the API asks for the same verified session as the web (issue 11 §1):
a user with a confirmed TOTP device who has given only the password reaches no endpoint with the
session cookie, neither through TwoFactorMiddleware nor, should that be bypassed, through DRF's
authentication (`VerifiedSessionAuthentication`). Confirming a device revokes a password-only token."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as global_apps
from django.conf import settings
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from referral_engine.accounts.models import ApiToken
from referral_engine.accounts.tokens import api_token_issue

PASSWORD = "tsukumi-demo"
API_GETS = ["/api/v1/cases/", "/api/v1/referrals/", "/api/v1/escalations/", "/api/v1/dashboard/"]


def code_for(device: TOTPDevice, *, drift: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift):06d}"


@pytest.fixture
def chief(users):
    user = users["chief_health"]
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def device(chief) -> TOTPDevice:
    return TOTPDevice.objects.create(user=chief, name="authenticator", confirmed=True)


def password_only_session(user) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


@pytest.mark.django_db
def test_a_password_only_session_reaches_no_api_endpoint(device):
    client = password_only_session(device.user)
    for url in API_GETS:
        response = client.get(url)
        assert response.status_code == 403, url
        assert response.json()["error"] == "two_factor_required"


@pytest.mark.django_db
def test_the_verified_session_reaches_the_api(device):
    client = password_only_session(device.user)
    response = client.post("/accounts/2fa/verify/", {"code": code_for(device), "next": "/dashboard/"})
    assert response.status_code == 302
    for url in API_GETS:
        assert client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_drf_refuses_the_unverified_session_even_without_the_middleware(device, settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith("TwoFactorMiddleware")]
    client = password_only_session(device.user)
    for url in API_GETS:
        response = client.get(url)
        assert response.status_code in (401, 403), url
        assert response.json()["error"] == "not_authenticated"
    client.post("/accounts/2fa/verify/", {"code": code_for(device)})
    assert client.get("/api/v1/dashboard/").status_code == 200


@pytest.mark.django_db
def test_required_roles_without_a_device_are_refused_too(chief, settings):
    settings.REQUIRE_2FA_FOR_ROLES = ["supervisor"]
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith("TwoFactorMiddleware")]
    client = password_only_session(chief)
    assert client.get("/api/v1/dashboard/").status_code in (401, 403)


@pytest.mark.django_db
def test_sessions_of_users_without_a_device_are_unchanged(users):
    client = Client()
    client.force_login(users["worker_health"])
    assert client.get("/api/v1/cases/").status_code == 200


def test_the_api_authenticates_sessions_with_the_verified_class():
    classes = settings.REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]
    assert "referral_engine.api.auth.VerifiedSessionAuthentication" in classes
    assert "rest_framework.authentication.SessionAuthentication" not in classes


@pytest.mark.django_db
def test_confirming_a_device_revokes_the_password_only_token(chief):
    token, key = api_token_issue(user=chief)
    client = Client()
    client.force_login(chief)
    client.get("/accounts/2fa/setup/")
    device = TOTPDevice.objects.get(user=chief, confirmed=False)
    response = client.post("/accounts/2fa/setup/", {"code": code_for(device)})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_reason == ApiToken.Revoked.SECOND_FACTOR
    unauthorised = Client().get("/api/v1/cases/", HTTP_AUTHORIZATION=f"Token {key}")
    assert unauthorised.status_code == 401


@pytest.mark.django_db
def test_the_migration_revokes_tokens_of_users_with_a_device_only(users, device):
    kept = Token.objects.create(user=users["worker_health"])
    revoked = Token.objects.create(user=device.user)
    migration = importlib.import_module("referral_engine.api.migrations.0001_revoke_password_only_tokens")
    migration.revoke_password_only_tokens(global_apps, None)
    assert Token.objects.filter(pk=kept.pk).exists()
    assert not Token.objects.filter(pk=revoked.pk).exists()
