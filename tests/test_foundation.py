"""The foundation every other part stands on: Japanese login, login everywhere, /healthz, settings, roles."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

ROOT = Path(__file__).resolve().parent.parent

# DESIGN §2: role names are contracts.
ROLE_GROUPS = {"front_desk", "caseworker", "supervisor", "auditor", "connector", "admin"}

# DESIGN §8.2: every page but the login page needs a login (plus a path that does not exist yet:
# an anonymous visitor must not learn which paths exist).
PAGES_BEHIND_LOGIN = ["/", "/cases/new/", "/cases/1/", "/inbox/", "/dashboard/", "/audit/", "/slips/", "/admin/"]


@pytest.mark.django_db
def test_login_page_is_in_japanese(client):
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="ja"' in html
    assert "ログイン" in html


@pytest.mark.django_db
@pytest.mark.parametrize("path", [*PAGES_BEHIND_LOGIN, "/no-such-page/"])
def test_every_other_page_sends_anonymous_visitors_to_login(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.django_db
def test_healthz_answers_json_without_login(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True


def test_settings_are_japanese_and_timezone_aware():
    assert settings.LANGUAGE_CODE == "ja"
    assert settings.TIME_ZONE == "Asia/Tokyo"
    assert settings.USE_TZ is True


def test_custom_user_model_from_the_first_migration():
    assert settings.AUTH_USER_MODEL == "accounts.User"
    assert get_user_model()._meta.label == "accounts.User"


@pytest.mark.django_db
def test_role_groups_exist_after_organisation_ensure():
    from referral_engine.accounts.services import organisation_ensure

    organisation_ensure()
    organisation_ensure()  # safe to run twice

    names = set(Group.objects.filter(name__in=ROLE_GROUPS).values_list("name", flat=True))
    assert names == ROLE_GROUPS


def test_beat_schedules_the_sweep_and_the_outbox_delivery():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert {"timers.sweep", "notifications.deliver_pending"} <= tasks


def _import_production_settings(**env: str) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "referral_engine.settings.production",
        "ALLOWED_HOSTS": "127.0.0.1",
        **env,
    }
    code = "from django.conf import settings; print(settings.DEBUG)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "secret_key",
    ["", "insecure-dev-key-change-me", "short-but-not-insecure", "insecure-" + "x" * 60],
    ids=["empty", "the-dev-default", "too-short", "insecure-prefix"],
)
def test_production_settings_refuse_an_insecure_secret_key(secret_key):
    result = _import_production_settings(SECRET_KEY=secret_key)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_production_settings_load_with_a_real_secret_key():
    result = _import_production_settings(SECRET_KEY=secrets.token_urlsafe(48))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def _settings_environment_variables() -> set[str]:
    """Every name the settings read with env("X"), env.int("X"), env.db("X") ... (django-environ)."""
    pattern = re.compile(r"""\benv(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]*)["']""")
    names: set[str] = set()
    for path in (ROOT / "referral_engine" / "settings").glob("*.py"):
        names |= set(pattern.findall(path.read_text(encoding="utf-8")))
    return names


def test_every_environment_variable_is_documented():
    names = _settings_environment_variables()
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEMO_PASSWORD"} <= names  # the pattern still works

    env_example = (ROOT / ".env.example").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing_in_example = sorted(n for n in names if not re.search(rf"^#?\s*{n}=", env_example, re.MULTILINE))
    missing_in_readme = sorted(n for n in names if f"`{n}`" not in readme)

    assert not missing_in_example, f"add to .env.example: {missing_in_example}"
    assert not missing_in_readme, f"add to the README's environment table: {missing_in_readme}"


def test_only_the_grants_module_may_call_guardians_writers():
    """pyproject.toml bans guardian.shortcuts.assign_perm/remove_perm outside referral_engine/access/grants.py."""
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():
        pytest.skip("ruff is not installed in this environment")  # it is in requirements-dev.txt
    source = "from guardian.shortcuts import assign_perm, remove_perm\n\n__all__ = ['assign_perm', 'remove_perm']\n"

    def lint(filename: str) -> str:
        result = subprocess.run(
            [str(ruff), "check", "--select", "TID251", "--stdin-filename", filename, "-"],
            cwd=ROOT,
            input=source,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return result.stdout

    assert lint("referral_engine/cases/services/referrals.py").count("TID251") == 2
    assert lint("workflows/shakyo.py").count("TID251") == 2
    assert "TID251" not in lint("referral_engine/access/grants.py")
