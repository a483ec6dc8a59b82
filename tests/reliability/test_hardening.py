"""Hardening (issue 11 §4): lockout, password hashing, idle sessions, the admin, headers, the app's own
error pages, a calm 503 when the database is gone, and 413 for oversized form posts."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import OperationalError
from django.test import Client
from django.utils import timezone

PASSWORD = "tsukumi-demo"


def _login(client: Client, username: str, password: str, ip: str):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# --- django-axes ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_five_failures_lock_that_username_from_that_address_only(users):
    from referral_engine.accounts.models import User

    for name in ("worker_health", "worker_welfare"):
        user = User.objects.get(username=name)
        user.set_password(PASSWORD)
        user.save()
    attacker = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = _login(attacker, "worker_health", "wrong-password", "10.0.0.1")
        assert not _logged_in(attacker)
    assert settings.AXES_FAILURE_LIMIT == 5

    # The right password no longer opens worker_health from that address…
    locked = _login(Client(), "worker_health", PASSWORD, "10.0.0.1")
    assert locked.status_code == 429
    assert "Traceback" not in locked.content.decode()

    # …but a colleague at the same address still gets in,
    colleague = Client()
    response = _login(colleague, "worker_welfare", PASSWORD, "10.0.0.1")
    assert response.status_code == 302 and _logged_in(colleague)

    # and worker_health from their own desk too: a stranger cannot lock a staff member out.
    owner = Client()
    response = _login(owner, "worker_health", PASSWORD, "10.0.0.2")
    assert response.status_code == 302 and _logged_in(owner)


# --- Passwords and sessions -----------------------------------------------------------------------


def test_argon2_is_the_first_hasher_outside_tests():
    base = importlib.import_module("referral_engine.settings.base")
    assert base.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    from django.contrib.auth.hashers import Argon2PasswordHasher

    encoded = Argon2PasswordHasher().encode("tsukumi-demo", Argon2PasswordHasher().salt())
    assert encoded.startswith("argon2$argon2id$")


def test_idle_timeout_is_thirty_minutes_and_renewed_by_every_request():
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True


@pytest.mark.django_db
def test_a_request_renews_the_session_and_an_idle_one_expires(client, users):
    client.force_login(users["worker_health"])
    key = client.session.session_key

    # 29 minutes idle: still valid, and the request pushes the expiry 30 minutes ahead again.
    Session.objects.filter(pk=key).update(expire_date=timezone.now() + timedelta(minutes=1))
    assert client.get("/").status_code == 200
    renewed = Session.objects.get(pk=key).expire_date
    assert renewed > timezone.now() + timedelta(minutes=29)

    # 30 minutes idle: the session is gone and the next page asks for the login again.
    Session.objects.filter(pk=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/inbox/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# --- The admin ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["chief_welfare", "auditor", "worker_health", "desk_welfare", "minsei_aoe"])
def test_the_admin_is_closed_to_everybody_but_admins(client, users, username):
    client.force_login(users[username])
    for path in ("/admin/", "/admin/cases/case/", "/admin/accounts/user/"):
        response = client.get(path)
        assert response.status_code in (302, 403), (username, path, response.status_code)
        if response.status_code == 302:
            assert "/login/" in response["Location"]


@pytest.mark.django_db
def test_the_admin_opens_for_the_admin(client, users):
    client.force_login(users["admin"])
    assert client.get("/admin/").status_code == 200


# --- Headers and error pages ----------------------------------------------------------------------


@pytest.mark.django_db
def test_pages_carry_frame_and_content_policies(client, users):
    client.force_login(users["worker_health"])
    response = client.get("/")
    assert response["X-Frame-Options"] == "DENY"
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_404_is_the_apps_own_page(client, users):
    client.force_login(users["worker_health"])
    response = client.get("/no/such/page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert "見つかりません" in body and "Traceback" not in body and "URLconf" not in body


@pytest.mark.django_db
def test_500_is_the_apps_own_page_without_a_traceback(users, settings):
    settings.ROOT_URLCONF = "tests.reliability.boom_urls"
    client = Client(raise_request_exception=False)
    client.force_login(users["worker_health"])
    response = client.get("/boom/")
    body = response.content.decode()
    assert response.status_code == 500
    assert "システムエラー" in body and "secret internals" not in body and "Traceback" not in body


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "is_json"), [("/boom-db/", False), ("/api/v1/boom-db/", True)])
def test_a_connection_cut_mid_request_is_a_503(users, settings, path, is_json):
    settings.ROOT_URLCONF = "tests.reliability.boom_urls"
    client = Client(raise_request_exception=False)
    client.force_login(users["worker_health"])
    response = client.get(path)
    assert response.status_code == 503 and response["Retry-After"]
    assert ("application/json" in response["Content-Type"]) is is_json
    assert "administrator command" not in response.content.decode()


# --- The database goes away -----------------------------------------------------------------------


@pytest.fixture
def database_down(monkeypatch):
    """Every new query fails as it does while PostgreSQL restarts."""
    from django.db.backends.utils import CursorWrapper

    def refuse(*args, **kwargs):
        raise OperationalError("connection to server at 127.0.0.1 port 5432 failed: Connection refused")

    def down():
        monkeypatch.setattr(CursorWrapper, "execute", refuse)
        monkeypatch.setattr(CursorWrapper, "executemany", refuse)

    return down


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/cases/new/", "/inbox/", "/accounts/login/"])
def test_pages_answer_503_with_retry_after_when_the_database_is_down(users, database_down, path):
    client = Client(raise_request_exception=False)
    client.force_login(users["desk_welfare"])
    database_down()
    response = client.get(path)
    body = response.content.decode()
    assert response.status_code == 503
    assert response["Retry-After"] == str(settings.DATABASE_UNAVAILABLE_RETRY_AFTER)
    assert "ただいま一時的にご利用いただけません" in body
    assert "Traceback" not in body and "OperationalError" not in body and "5432" not in body


@pytest.mark.django_db
def test_a_form_post_while_the_database_is_down_is_a_503(users, database_down):
    client = Client(raise_request_exception=False)
    client.force_login(users["desk_welfare"])
    token = client.get("/cases/new/").cookies.get("csrftoken")
    database_down()
    response = client.post("/cases/new/", {"summary": "相談", "csrfmiddlewaretoken": token.value if token else ""})
    assert response.status_code == 503 and "Retry-After" in response


@pytest.mark.django_db
def test_the_api_answers_503_json_when_the_database_is_down(database_down):
    client = Client(raise_request_exception=False)
    database_down()
    response = client.get("/api/v1/cases/", HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    assert response.status_code == 503
    assert response["Retry-After"] == str(settings.DATABASE_UNAVAILABLE_RETRY_AFTER)
    payload = response.json()
    assert payload["error"] == "service_unavailable" and payload["fields"] == {}
    assert "OperationalError" not in response.content.decode()


@pytest.mark.django_db
def test_other_500s_stay_500s(users, monkeypatch):
    """Only a database failure becomes a 503: a bug stays a visible 500 (without a traceback)."""
    from referral_engine.security.middleware import _is_database_unavailable

    assert not _is_database_unavailable(RuntimeError("x"))
    try:
        try:
            raise OperationalError("gone")
        except OperationalError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert _is_database_unavailable(outer)


# --- Oversized form posts -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/cases/new/", "/cases/1/activities/", "/accounts/login/"])
def test_an_oversized_form_post_is_a_413(client, users, path):
    from referral_engine.cases.models import Case

    client.force_login(users["desk_welfare"])
    before = Case.objects.count()
    body = "summary=" + "あ" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 3 + 10)
    response = client.post(path, data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert "大きすぎます" in response.content.decode()
    assert Case.objects.count() == before


@pytest.mark.django_db
def test_an_oversized_api_body_is_a_413_in_the_error_shape(client):
    body = '{"summary": "' + "a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + '"}'
    response = client.post("/api/v1/cases/", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


@pytest.mark.django_db
def test_a_form_post_just_under_the_limit_is_not_refused_for_its_size(client, users):
    client.force_login(users["desk_welfare"])
    body = "summary=" + "a" * 1000
    response = client.post("/cases/new/", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code != 413


@pytest.mark.postgres
def test_a_connection_terminated_by_postgresql_is_a_503(transactional_db, users):
    """The real thing on PostgreSQL: the server ends the web's connection (as a restart does);
    the next request fails cleanly with 503 + Retry-After and the one after it works again."""
    import psycopg
    from django.db import connection

    client = Client(raise_request_exception=False)
    client.force_login(users["desk_welfare"])
    assert client.get("/").status_code == 200
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    response = client.get("/inbox/")
    assert response.status_code == 503
    assert response["Retry-After"] == str(settings.DATABASE_UNAVAILABLE_RETRY_AFTER)
    assert "terminating connection" not in response.content.decode()
    connection.close()  # what Django does at the end of a real request with a broken connection
    assert client.get("/inbox/").status_code == 200
