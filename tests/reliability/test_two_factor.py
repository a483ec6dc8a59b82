"""Optional TOTP two-factor login (django-otp) for supervisors, auditors and admins (issue 11 §4)."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

PASSWORD = "tsukumi-demo"


def code_for(device: TOTPDevice, *, offset: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset):06d}"


def _password_login(client: Client, user) -> None:
    user.set_password(PASSWORD)
    user.save()
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]


@pytest.fixture
def chief(users):
    return users["chief_health"]


def _setup_device(client: Client, user) -> TOTPDevice:
    response = client.get("/accounts/2fa/setup/")
    assert response.status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post("/accounts/2fa/setup/", {"code": code_for(device), "next": "/dashboard/"})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    device.refresh_from_db()
    assert device.confirmed
    return device


@pytest.mark.django_db
def test_setup_shows_an_inline_svg_qr_and_the_secret(client, chief):
    client.force_login(chief)
    response = client.get("/accounts/2fa/setup/")
    body = response.content.decode()
    assert response.status_code == 200
    assert re.search(r"<svg[^>]*role=\"img\"", body) and "<path" in body
    assert "<img" not in body.split('class="qr"')[1].split("</div>")[0]  # inline, no external image
    device = TOTPDevice.objects.get(user=chief)
    import base64

    assert base64.b32encode(device.bin_key).decode() in body
    assert "style=" not in body.split('class="qr"')[1].split("</div>")[0]  # CSP: no inline styles
    # Reloading keeps the same secret (the app was perhaps already scanned).
    client.get("/accounts/2fa/setup/")
    assert TOTPDevice.objects.filter(user=chief).count() == 1


@pytest.mark.django_db
def test_a_wrong_code_does_not_confirm(client, chief):
    client.force_login(chief)
    client.get("/accounts/2fa/setup/")
    response = client.post("/accounts/2fa/setup/", {"code": "000000"})
    device = TOTPDevice.objects.get(user=chief)
    if code_for(device) == "000000":  # one in a million
        pytest.skip("the wrong code happened to be right")
    assert response.status_code == 400 and not device.confirmed


@pytest.mark.django_db
def test_after_setup_every_login_asks_for_the_code(chief):
    client = Client()
    _password_login(client, chief)
    device = _setup_device(client, chief)
    client.post("/accounts/logout/")

    client = Client()
    _password_login(client, chief)
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/verify/?next=")
    # Nothing else opens before the code: pages redirect, the API (session) refuses.
    assert client.get("/cases/").status_code == 302
    api = client.get("/api/v1/cases/")
    assert api.status_code == 403 and api.json()["error"] == "two_factor_required"

    wrong = client.post("/accounts/2fa/verify/", {"code": "12345", "next": "/dashboard/"})
    assert wrong.status_code == 400

    time.sleep(1.2)  # django-otp throttles: after one failure the next try waits a second
    device.refresh_from_db()
    good = client.post("/accounts/2fa/verify/", {"code": code_for(device, offset=1), "next": "/dashboard/"})
    assert good.status_code == 302 and good["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200


@pytest.mark.django_db
def test_users_without_a_device_are_not_asked_by_default(client, chief, users):
    for user in (chief, users["worker_health"], users["auditor"]):
        client.force_login(user)
        assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_required_roles_must_set_up_first(client, users, settings):
    settings.REQUIRE_2FA_FOR_ROLES = ["supervisor", "auditor"]
    client.force_login(users["chief_health"])
    response = client.get("/inbox/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/2fa/setup/?next=")
    client.force_login(users["auditor"])
    assert client.get("/audit/").status_code == 302
    # Other roles are not affected.
    client.force_login(users["worker_health"])
    assert client.get("/inbox/").status_code == 200


@pytest.mark.django_db
def test_setup_is_offered_only_to_supervisors_auditors_and_admins(client, users):
    for username, status in (("worker_health", 403), ("desk_welfare", 403), ("minsei_aoe", 403), ("admin", 200)):
        client.force_login(users[username])
        assert client.get("/accounts/2fa/setup/").status_code == status, username


@pytest.mark.django_db
def test_next_cannot_send_the_user_elsewhere(client, chief):
    client.force_login(chief)
    client.get("/accounts/2fa/setup/")
    device = TOTPDevice.objects.get(user=chief)
    response = client.post("/accounts/2fa/setup/", {"code": code_for(device), "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/"


@pytest.mark.django_db
def test_verify_is_throttled_after_failures(chief):
    client = Client()
    _password_login(client, chief)
    device = _setup_device(client, chief)
    client = Client()
    _password_login(client, chief)
    for _ in range(3):
        client.post("/accounts/2fa/verify/", {"code": "999999"})
    device.refresh_from_db()
    assert device.throttling_failure_count >= 1  # tries while throttled are refused without counting
    # While throttled, even the right code is refused.
    response = client.post("/accounts/2fa/verify/", {"code": code_for(device, offset=1)})
    assert response.status_code == 400
