"""The token endpoint asks a user with a confirmed TOTP device for the code too (issue 11 §1): the
password alone no longer gets such a user a token, a wrong code is counted by django-axes like a wrong
password, and users without a device keep the old contract."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from referral_engine.accounts.models import ApiToken
from tests.api.conftest import PASSWORD
from tests.api.test_errors import assert_error_shape

TOKEN_URL = "/api/v1/auth/token/"
USERNAME = "chief_health"  # a supervisor: may enroll


def code_for(device: TOTPDevice, *, drift: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift):06d}"


def wrong_code_for(device: TOTPDevice) -> str:
    """Six digits that no step inside django-otp's tolerance accepts."""
    accepted = {code_for(device, drift=d) for d in range(-device.tolerance - 1, device.tolerance + 2)}
    return next(c for c in (f"{n:06d}" for n in range(0, 1_000_000, 111_111)) if c not in accepted)


def failures(username: str) -> int:
    return sum(a.failures_since_start for a in AccessAttempt.objects.filter(username=username))


@pytest.fixture
def device(api_users) -> TOTPDevice:
    return TOTPDevice.objects.create(user=api_users[USERNAME], name="authenticator", confirmed=True)


def post(client: APIClient, **body: object):
    return client.post(TOKEN_URL, {"username": USERNAME, "password": PASSWORD, **body}, format="json")


def test_device_and_the_right_code_get_a_token_that_works(device):
    # Given a supervisor with a confirmed device; when the password comes with the current code
    client = APIClient()
    response = post(client, otp_token=code_for(device))
    # then a token, which authenticates the API
    assert response.status_code == 200, response.json()
    token = response.json()["token"]
    (issued,) = ApiToken.objects.filter(user=device.user)
    assert issued.prefix == token[:8]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/dashboard/").status_code == 200
    # and django-otp has recorded the step: the same code cannot be replayed for another token
    device.refresh_from_db()
    assert device.last_t > -1
    replay = post(APIClient(), otp_token=code_for(device))
    assert_error_shape(replay, 400, "invalid")


@pytest.mark.parametrize("body", [{}, {"otp_token": ""}], ids=["absent", "blank"])
def test_device_and_no_code_is_a_400_naming_the_field(device, body):
    response = post(APIClient(), **body)
    payload = assert_error_shape(response, 400, "invalid")
    assert list(payload["fields"]) == ["otp_token"]
    assert payload["fields"]["otp_token"] and payload["message"] == payload["fields"]["otp_token"][0]
    assert not ApiToken.objects.filter(user=device.user).exists()
    # A missing code is not a failed login: nothing counted toward the lockout.
    assert failures(USERNAME) == 0


@pytest.mark.parametrize("shape", ["wrong", "five digits", "seven digits", "full-width", "letters"])
def test_a_wrong_code_is_refused_like_a_wrong_password_and_counted(device, shape):
    good = code_for(device)
    otp_token = {
        "wrong": wrong_code_for(device),
        "five digits": good[:5],
        "seven digits": good + "0",
        "full-width": good.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
        "letters": "abcdef",
    }[shape]
    response = post(APIClient(), otp_token=otp_token)
    payload = assert_error_shape(response, 400, "invalid")  # the status a wrong password gets
    assert list(payload["fields"]) == ["otp_token"]
    assert not ApiToken.objects.filter(user=device.user).exists()
    assert failures(USERNAME) == 1  # one failed login for axes, as a wrong password is
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # and one for django-otp's throttle


def test_wrong_codes_lock_the_user_out_like_wrong_passwords(device):
    client = APIClient()
    statuses = [post(client, otp_token=wrong_code_for(device)).status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert statuses[:-1] == [400] * (settings.AXES_FAILURE_LIMIT - 1)
    assert statuses[-1] in (400, 429)  # the attempt that reaches the limit is already a lockout
    assert failures(USERNAME) == settings.AXES_FAILURE_LIMIT
    # Locked out: even the right password and the right code get a 429 now.
    device.throttling_failure_count = 0  # (django-otp's own throttle aside)
    device.save(update_fields=["throttling_failure_count"])
    assert_error_shape(post(client, otp_token=code_for(device)), 429, "locked_out")
    assert not ApiToken.objects.filter(user=device.user).exists()


def test_wrong_passwords_and_wrong_codes_add_up(device):
    client = APIClient()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(TOKEN_URL, {"username": USERNAME, "password": "wrong"}, format="json")
    response = post(client, otp_token=wrong_code_for(device))
    assert response.status_code in (400, 429)
    assert_error_shape(post(client, otp_token=code_for(device)), 429, "locked_out")


def test_a_wrong_password_with_a_right_code_is_still_a_wrong_password(device):
    response = APIClient().post(
        TOKEN_URL, {"username": USERNAME, "password": "wrong", "otp_token": code_for(device)}, format="json"
    )
    payload = assert_error_shape(response, 400, "invalid")
    assert list(payload["fields"]) == ["non_field_errors"]  # nothing says the user has a device


def test_an_unconfirmed_device_asks_for_nothing(api_users):
    TOTPDevice.objects.create(user=api_users[USERNAME], name="authenticator", confirmed=False)
    assert post(APIClient()).status_code == 200


def test_users_without_a_device_keep_the_old_contract(api_users):
    # No code needed, and one sent anyway is ignored (it was an unknown field before).
    for body in ({}, {"otp_token": "123456"}, {"otp_token": ""}):
        response = APIClient().post(
            TOKEN_URL, {"username": "worker_welfare", "password": PASSWORD, **body}, format="json"
        )
        assert response.status_code == 200
        assert list(response.json()) == ["token", "expires_at"]
    assert failures("worker_welfare") == 0


def test_a_code_that_is_not_a_string_is_a_type_error(device):
    payload = assert_error_shape(post(APIClient(), otp_token=123456), 400, "invalid")
    assert list(payload["fields"]) == ["otp_token"]


def test_the_schema_documents_the_code(client):
    schema = client.get("/api/schema/?format=json").json()
    properties = schema["components"]["schemas"]["TokenRequestRequest"]["properties"]
    assert "otp_token" in properties and "otp_token" not in schema["components"]["schemas"]["TokenRequestRequest"].get(
        "required", []
    )
