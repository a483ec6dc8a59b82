"""API tokens end when they should (issue 16 §2): on a password change whatever makes it (the admin,
the password page, `changepassword`, a shell — the model's hook, plus a fingerprint check for
changes that skip the model), on the API's logout and on the web logout of the session that issued
them, when the user or an admin revokes them, and when they expire; a refresh exchanges a live token
for a new one. Keys are stored hashed, and each request for a token issues a new one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from referral_engine.accounts.models import ApiToken, User
from referral_engine.accounts.tokens import api_token_issue
from tests.api.conftest import PASSWORD
from tests.api.test_errors import assert_error_shape

TOKEN_URL = "/api/v1/auth/token/"
REFRESH_URL = "/api/v1/auth/token/refresh/"
LOGOUT_URL = "/api/v1/auth/logout/"
PROBE = "/api/v1/cases/"
NEW_PASSWORD = "a-much-Longer-passphrase-42"


def with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def works(key: str) -> bool:
    status = with_token(key).get(PROBE).status_code
    assert status in (200, 401), status
    return status == 200


def obtain(username: str = "worker_welfare", password: str = PASSWORD) -> str:
    response = APIClient().post(TOKEN_URL, {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def reason_of(key: str) -> str:
    return ApiToken.objects.get(prefix=key[:8]).revoked_reason


@pytest.fixture
def worker(api_users) -> User:
    return api_users["worker_welfare"]


# --- Issue and storage --------------------------------------------------------------------------


def test_keys_are_stored_hashed_and_each_request_issues_a_new_one(worker):
    first, second = obtain(), obtain()
    assert first != second and works(first) and works(second)
    assert ApiToken.objects.filter(user=worker).count() == 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert first not in stored and second not in stored


def test_a_token_of_a_deactivated_user_no_longer_works(worker):
    key = obtain()
    worker.is_active = False
    worker.save(update_fields=["is_active"])
    assert not works(key)


# --- Password changes ---------------------------------------------------------------------------


def test_an_admin_password_reset_revokes_the_tokens(api_users, worker):
    key, other = obtain(), obtain("worker_health")
    admin = Client()
    admin.force_login(api_users["admin"])
    response = admin.post(
        f"/admin/accounts/user/{worker.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content[:2000]
    assert not works(key) and reason_of(key) == ApiToken.Revoked.PASSWORD_CHANGED
    assert works(other)  # another user's token is untouched
    assert works(obtain(password=NEW_PASSWORD))  # and a new one is got with the new password


def test_the_self_service_page_changes_the_password_and_revokes_the_tokens(worker):
    key = obtain()
    web = Client()
    web.force_login(worker)
    page = web.get("/accounts/password/")
    assert page.status_code == 200 and 'name="new_password1"' in page.content.decode()
    response = web.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert not works(key) and reason_of(key) == ApiToken.Revoked.PASSWORD_CHANGED
    assert web.get("/accounts/tokens/").status_code == 200  # this session stays logged in
    worker.refresh_from_db()
    assert worker.check_password(NEW_PASSWORD)


@pytest.mark.parametrize(
    "new, field",
    [("short", "new_password2"), ("password123", "new_password2"), ("worker_welfare", "new_password2")],
    ids=["too short", "common", "like the username"],
)
def test_the_password_page_applies_djangos_validators(worker, new, field):
    key = obtain()
    web = Client()
    web.force_login(worker)
    response = web.post("/accounts/password/", {"old_password": PASSWORD, "new_password1": new, "new_password2": new})
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    worker.refresh_from_db()
    assert worker.check_password(PASSWORD) and works(key)


def test_a_wrong_old_password_is_a_field_error(worker):
    web = Client()
    web.force_login(worker)
    body = {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    response = web.post("/accounts/password/", body)
    assert response.status_code == 400 and "old_password" in response.context["form"].errors


def test_changepassword_command_revokes_the_tokens(worker, monkeypatch):
    from django.contrib.auth.management.commands import changepassword

    key = obtain()
    monkeypatch.setattr(changepassword.Command, "_get_pass", lambda self, prompt="Password: ": NEW_PASSWORD)
    call_command("changepassword", "worker_welfare")
    assert not works(key) and reason_of(key) == ApiToken.Revoked.PASSWORD_CHANGED


def test_a_shell_set_password_and_save_revokes_the_tokens(worker):
    key = obtain()
    user = User.objects.get(pk=worker.pk)
    user.set_password(NEW_PASSWORD)
    user.save()
    assert not works(key) and reason_of(key) == ApiToken.Revoked.PASSWORD_CHANGED


def test_a_shell_assigning_a_hash_revokes_the_tokens(worker):
    key = obtain()
    user = User.objects.get(pk=worker.pk)
    user.password = make_password(NEW_PASSWORD)
    user.save(update_fields=["password"])
    assert not works(key) and reason_of(key) == ApiToken.Revoked.PASSWORD_CHANGED


def test_an_update_that_skips_the_model_is_caught_by_the_fingerprint(worker):
    key = obtain()
    User.objects.filter(pk=worker.pk).update(password=make_password(NEW_PASSWORD))
    assert not works(key) and reason_of(key) == ApiToken.Revoked.PASSWORD_CHANGED


def test_other_saves_of_the_user_keep_the_tokens(worker):
    key = obtain()
    user = User.objects.get(pk=worker.pk)
    user.display_name = "福祉 太郎"
    user.save()
    assert works(key)


def test_a_rehash_of_the_same_password_at_login_keeps_the_tokens(worker, settings):
    # Given a password stored with an older hasher and a token issued for it
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    worker.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    worker.save(update_fields=["password"])
    _token, key = api_token_issue(user=worker)
    # when the next login re-hashes it with the preferred hasher
    obtain()
    worker.refresh_from_db()
    assert worker.password.startswith("md5$")
    # then the password is the same and so the token still works
    assert works(key)


# --- Logout, revoke, expiry, refresh ----------------------------------------------------------


def test_the_api_logout_revokes_the_presented_token_only(worker):
    key, other = obtain(), obtain()
    assert with_token(key).post(LOGOUT_URL).status_code == 204
    assert not works(key) and reason_of(key) == ApiToken.Revoked.LOGOUT
    assert works(other)
    assert_error_shape(with_token(key).post(LOGOUT_URL), 401, "authentication_failed")


def test_the_api_logout_with_a_session_is_a_400(worker):
    client = APIClient()
    client.force_login(worker)
    assert_error_shape(client.post(LOGOUT_URL), 400, "invalid")


def test_a_token_issued_on_the_web_ends_with_that_sessions_logout(worker):
    api_key = obtain()
    web = Client()
    web.force_login(worker)
    page = web.post("/accounts/tokens/new/")
    assert page.status_code == 200
    web_key = page.context["new_key"]
    assert web_key in page.content.decode() and works(web_key)
    assert web.post("/accounts/logout/").status_code == 302
    assert not works(web_key) and reason_of(web_key) == ApiToken.Revoked.LOGOUT
    assert works(api_key)  # a token got at the API belongs to no web session


def test_the_user_lists_and_revokes_their_own_tokens(api_users, worker):
    key = obtain()
    theirs = obtain("worker_health")
    web = Client()
    web.force_login(worker)
    page = web.get("/accounts/tokens/").content.decode()
    assert key[:8] in page and key not in page and theirs[:8] not in page
    token = ApiToken.objects.get(prefix=key[:8])
    other = ApiToken.objects.get(prefix=theirs[:8])
    # Another user's token id changes nothing.
    assert web.post(f"/accounts/tokens/{other.pk}/revoke/").status_code == 302
    assert works(theirs)
    assert web.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 302
    assert not works(key) and reason_of(key) == ApiToken.Revoked.USER
    assert "取消" in web.get("/accounts/tokens/").content.decode()


def test_an_admin_revokes_a_users_tokens_from_the_user_list(api_users, worker):
    key, other = obtain(), obtain("worker_health")
    admin = Client()
    admin.force_login(api_users["admin"])
    response = admin.post(
        "/admin/accounts/user/", {"action": "revoke_api_tokens", "_selected_action": [worker.pk], "index": 0}
    )
    assert response.status_code == 302
    assert not works(key) and reason_of(key) == ApiToken.Revoked.ADMIN
    assert works(other)


def test_an_admin_revokes_one_token_from_the_token_list(api_users, worker):
    key, kept = obtain(), obtain()
    admin = Client()
    admin.force_login(api_users["admin"])
    assert admin.get("/admin/accounts/apitoken/").status_code == 200
    token = ApiToken.objects.get(prefix=key[:8])
    response = admin.post("/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk], "index": 0})
    assert response.status_code == 302
    assert not works(key) and reason_of(key) == ApiToken.Revoked.ADMIN
    assert works(kept)


def test_tokens_expire_after_api_token_days(worker, settings):
    settings.API_TOKEN_DAYS = 3
    key = obtain()
    token = ApiToken.objects.get(prefix=key[:8])
    assert timedelta(days=3) - timedelta(minutes=1) < token.expires_at - timezone.now() <= timedelta(days=3)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert not works(key)
    assert_error_shape(with_token(key).get(PROBE), 401, "authentication_failed")


def test_a_refresh_gives_a_new_token_and_ends_the_old(worker):
    key = obtain()
    old = ApiToken.objects.get(prefix=key[:8])
    ApiToken.objects.filter(pk=old.pk).update(expires_at=timezone.now() + timedelta(hours=1))
    response = with_token(key).post(REFRESH_URL)
    assert response.status_code == 200
    new = response.json()["token"]
    assert new != key and works(new) and not works(key)
    assert reason_of(key) == ApiToken.Revoked.REFRESHED
    assert ApiToken.objects.get(prefix=new[:8]).expires_at > timezone.now() + timedelta(days=29)
    # The old key cannot be refreshed again, and an expired one cannot be refreshed at all.
    assert_error_shape(with_token(key).post(REFRESH_URL), 401, "authentication_failed")
    ApiToken.objects.filter(prefix=new[:8]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error_shape(with_token(new).post(REFRESH_URL), 401, "authentication_failed")


def test_a_refresh_with_a_session_is_a_400(worker):
    client = APIClient()
    client.force_login(worker)
    assert_error_shape(client.post(REFRESH_URL), 400, "invalid")


@pytest.mark.parametrize("header", ["Token", "Token a b", "Token " + "x" * 200, "Token ü"], ids=str)
def test_malformed_token_headers_are_401(api_users, header):
    response = APIClient().get(PROBE, HTTP_AUTHORIZATION=header)
    assert_error_shape(response, 401, "authentication_failed")


def test_the_issued_token_service_key_authenticates(worker):
    _token, key = api_token_issue(user=worker)
    assert works(key)


def test_last_use_is_recorded_at_most_every_five_minutes(worker):
    key = obtain()
    works(key)
    token = ApiToken.objects.get(prefix=key[:8])
    assert token.last_used_at is None  # a fresh token's first requests write nothing
    ApiToken.objects.filter(pk=token.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    works(key)
    token.refresh_from_db()
    assert token.last_used_at is not None
    first = token.last_used_at
    works(key)
    token.refresh_from_db()
    assert token.last_used_at == first
