"""Top-level pytest plumbing: skip tests whose infrastructure is absent, with a reason that says what to set.

Fixtures live in tests/fixtures.py (and tests/factories.py), not here. `.ci/run` provides PostgreSQL, Redis
and Chromium and fails if anything was skipped, so a skip here is only ever a local convenience.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")

# Shared fixtures, once someone has written them (a plugin must be declared in this top-level conftest).
pytest_plugins = ["tests.fixtures"] if importlib.util.find_spec("tests.fixtures") else []


def _database_vendor() -> str:
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    return "postgresql" if "postgresql" in engine else engine.rsplit(".", 1)[-1]


def _redis_url() -> str:
    from django.conf import settings

    # The settings read .env too, so ask them first; the environment is the fallback.
    return getattr(settings, "REDIS_URL", "") or os.environ.get("REDIS_URL", "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    vendor = _database_vendor()
    reasons = {
        "postgres": None
        if vendor == "postgresql"
        else f"needs PostgreSQL: the default database is {vendor}; set DATABASE_URL=postgres://...",
        "redis": None if _redis_url() else "needs Redis and a real Celery worker: set REDIS_URL=redis://...",
        "browser": None if CHROMIUM.exists() else f"needs Chromium at {CHROMIUM} (apt-get install chromium)",
    }
    for item in items:
        for marker, reason in reasons.items():
            if reason and item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=reason))
