"""Token and session authentication (DESIGN §8.1), django-axes lockout on the token endpoint, CSRF on
session writes."""

from __future__ import annotations

from django.conf import settings
from rest_framework.test import APIClient

from tests.api.conftest import PASSWORD
from tests.api.test_errors import assert_error_shape

TOKEN_URL = "/api/v1/auth/token/"


def test_token_for_good_credentials_then_token_auth(api_users):
    client = APIClient()
    response = client.post(TOKEN_URL, {"username": "worker_welfare", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert set(response.json()) == {"token", "expires_at"}
    # A new token for every request (issue 16): never the same key twice.
    again = client.post(TOKEN_URL, {"username": "worker_welfare", "password": PASSWORD}, format="json")
    assert again.json()["token"] != token
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/cases/").status_code == 200


def test_wrong_credentials_are_a_400_in_the_error_shape(api_users):
    client = APIClient()
    response = client.post(TOKEN_URL, {"username": "worker_welfare", "password": "wrong"}, format="json")
    body = assert_error_shape(response, 400, "invalid")
    assert "non_field_errors" in body["fields"]
    unknown = client.post(TOKEN_URL, {"username": "nobody", "password": "wrong"}, format="json")
    # An unknown user answers exactly like a wrong password.
    assert unknown.json() == body
    assert_error_shape(client.post(TOKEN_URL, {"username": "x"}, format="json"), 400, "invalid")


def test_the_system_user_gets_no_token(api_users):
    from referral_engine.accounts.system import system_user

    user = system_user()
    user.set_password("system-password")
    user.save()
    response = APIClient().post(TOKEN_URL, {"username": user.username, "password": "system-password"}, format="json")
    assert_error_shape(response, 400, "invalid")


def test_lockout_after_repeated_failures_is_a_429_json(api_users):
    client = APIClient()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(TOKEN_URL, {"username": "chief_health", "password": "wrong"}, format="json")
        assert response.status_code == 400
    response = client.post(TOKEN_URL, {"username": "chief_health", "password": "wrong"}, format="json")
    # The attempt that reaches the limit is already refused as a lockout.
    assert response.status_code in (400, 429)
    locked = client.post(TOKEN_URL, {"username": "chief_health", "password": PASSWORD}, format="json")
    assert_error_shape(locked, 429, "locked_out")
    # Another user from the same address is not locked out (username + address).
    other = client.post(TOKEN_URL, {"username": "chief_shakyo", "password": PASSWORD}, format="json")
    assert other.status_code == 200


def test_session_auth_reads_and_csrf_protected_writes(world, api_users):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(api_users["worker_welfare"])
    assert client.get(f"/api/v1/cases/{world.case.pk}/").status_code == 200
    url = f"/api/v1/cases/{world.case.pk}/activities/"
    refused = client.post(url, {"kind": "note", "body": "session"}, format="json")
    body = assert_error_shape(refused, 403, "forbidden")
    assert "CSRF" in body["message"]
    token = "a1" * 16  # a CSRF secret: the cookie and the header must match
    client.cookies[settings.CSRF_COOKIE_NAME] = token
    accepted = client.post(url, {"kind": "note", "body": "session"}, format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201


def test_token_requests_need_no_csrf(world, client_for):
    client = client_for("worker_welfare")
    client.handler.enforce_csrf_checks = True
    response = client.post(f"/api/v1/cases/{world.case.pk}/activities/", {"kind": "note", "body": "x"}, format="json")
    assert response.status_code == 201
