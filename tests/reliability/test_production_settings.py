"""The production settings, loaded in a subprocess with a strong SECRET_KEY (issue 11 §4): secure
cookies, HSTS, CSP, X-Frame-Options DENY, no DEBUG, Argon2 first, the idle timeout, and
`check --deploy` clean. A weak or missing key is refused at start-up. The development-only load
generator (bench.loadgen) is neither installed nor loaded (issue 15)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, django
django.setup()
from django.conf import settings as s
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
out = {name: getattr(s, name, None) for name in (
    "DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_SSL_REDIRECT", "SECURE_CONTENT_TYPE_NOSNIFF", "X_FRAME_OPTIONS",
    "SESSION_COOKIE_AGE", "SESSION_SAVE_EVERY_REQUEST", "AXES_FAILURE_LIMIT", "REQUIRE_2FA_FOR_ROLES",
)}
out["FIRST_HASHER"] = s.PASSWORD_HASHERS[0]
out["ALLOWED_HOSTS"] = s.ALLOWED_HOSTS
# A request over HTTPS (as behind the proxy): the headers the browser sees.
c = Client(raise_request_exception=False)
r = c.get("/accounts/login/", secure=True, HTTP_HOST="127.0.0.1")
out["login_status"] = r.status_code
out["headers"] = {k: r.headers.get(k) for k in (
    "Strict-Transport-Security", "Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options",
    "Referrer-Policy", "Cross-Origin-Opener-Policy")}
out["csrf_cookie_secure"] = bool(r.cookies["csrftoken"]["secure"]) if "csrftoken" in r.cookies else None
r = c.get("/accounts/login/", HTTP_HOST="127.0.0.1")
out["plain_http_status"] = r.status_code
out["plain_http_location"] = r.headers.get("Location")
r = c.get("/no/such/page/", secure=True, HTTP_HOST="127.0.0.1")
out["anonymous_404_status"] = r.status_code
import sys
from django.core.management import get_commands
out["INSTALLED_APPS"] = list(s.INSTALLED_APPS)
out["commands"] = sorted(get_commands())
out["bench_modules"] = sorted(m for m in sys.modules if m == "bench" or m.startswith("bench."))
print("PROBE" + json.dumps(out))
"""


# Set by the browser tests for Playwright's sync API in the same session; production never has it.
LEAKY = ("DJANGO_ALLOW_ASYNC_UNSAFE",)


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("DEBUG", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", *LEAKY)
        },
        "DJANGO_SETTINGS_MODULE": "referral_engine.settings.production",
        "ALLOWED_HOSTS": "127.0.0.1",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def production():
    result = _run(PROBE, SECRET_KEY=secrets.token_urlsafe(48), DEBUG="True")
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("PROBE"))
    return json.loads(line[len("PROBE") :])


def test_debug_is_off_even_when_the_environment_asks_for_it(production):
    assert production["DEBUG"] is False


def test_cookies_are_secure_and_http_only(production):
    assert production["SESSION_COOKIE_SECURE"] is True
    assert production["CSRF_COOKIE_SECURE"] is True
    assert production["SESSION_COOKIE_HTTPONLY"] is True
    assert production["csrf_cookie_secure"] is True


def test_hsts_and_https_redirect(production):
    assert production["SECURE_HSTS_SECONDS"] >= 31536000
    assert production["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert production["SECURE_SSL_REDIRECT"] is True
    assert production["headers"]["Strict-Transport-Security"].startswith("max-age=31536000")
    assert production["plain_http_status"] == 301
    assert production["plain_http_location"].startswith("https://")


def test_csp_frame_and_sniffing_headers(production):
    headers = production["headers"]
    assert headers["X-Frame-Options"] == "DENY" and production["X_FRAME_OPTIONS"] == "DENY"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_login_hashing_and_sessions(production):
    assert production["FIRST_HASHER"] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert production["SESSION_COOKIE_AGE"] == 1800 and production["SESSION_SAVE_EVERY_REQUEST"] is True
    assert production["AXES_FAILURE_LIMIT"] == 5
    assert production["REQUIRE_2FA_FOR_ROLES"] == []
    assert production["login_status"] == 200
    assert production["anonymous_404_status"] == 302  # even a missing page asks for a login first


def test_the_load_generator_is_neither_installed_nor_loaded(production):
    assert [app for app in production["INSTALLED_APPS"] if app.split(".")[0] == "bench"] == []
    assert "generate_load" not in production["commands"]
    assert "migrate" in production["commands"]  # the command list itself was read
    assert production["bench_modules"] == []


def test_check_deploy_is_clean():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if k not in LEAKY},
            "DJANGO_SETTINGS_MODULE": "referral_engine.settings.production",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "ALLOWED_HOSTS": "referral.city.tsukumi.example",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("key", ["", "insecure-dev-key-change-me", "short-but-random-Zq81"])
def test_a_weak_secret_key_is_refused(key):
    result = _run("import django; django.setup()", SECRET_KEY=key)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_a_short_metrics_token_is_refused_and_a_long_one_accepted():
    short = _run("import django; django.setup()", SECRET_KEY=secrets.token_urlsafe(48), METRICS_TOKEN="guessable")
    assert short.returncode != 0 and "METRICS_TOKEN" in short.stderr
    strong = _run("import django; django.setup()", SECRET_KEY=secrets.token_urlsafe(48), METRICS_TOKEN="m" * 40)
    assert strong.returncode == 0, strong.stderr[-2000:]
