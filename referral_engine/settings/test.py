"""Tests: SQLite and an eager Celery by default; DATABASE_URL / REDIS_URL switch on the real ones."""

import os
import re
import tempfile


def _redis_db_per_xdist_worker() -> None:
    """Under pytest-xdist (`-n 2`, docs/decisions.md) each worker process gets a Redis database of its
    own (gw0 keeps REDIS_URL's, gw1 the one below, …), so one worker's broker queues, locks and metrics
    never meet the other's; the environment too, for the Celery workers a test starts as subprocesses."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    url = os.environ.get("REDIS_URL", "")
    match = re.fullmatch(r"(redis://[^/]+)(?:/(\d+))?", url)
    if not worker.startswith("gw") or not match:
        return
    index = int(worker[2:])
    base = int(match.group(2) or 0)
    os.environ["REDIS_URL"] = f"{match.group(1)}/{(base - index) % 16}"


_redis_db_per_xdist_worker()

from .base import *  # noqa: E402, F403
from .base import DATABASES, INSTALLED_APPS, REDIS_URL  # noqa: E402

DEBUG = False
# The load generator (bench/loadgen) is tested here; like local.py, unlike production.
INSTALLED_APPS = [*INSTALLED_APPS, "bench.loadgen"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["NAME"] = ":memory:"
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE"}
DATABASES["default"]["CONN_MAX_AGE"] = 0
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
AXES_ENABLED = True
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"writes": "10000/minute"}}  # noqa: F405

# The dashboard's aggregate figures are cached for a minute in production; tests read them live
# (tests/web/test_dashboard_figures_cache.py turns the cache on to test it).
DASHBOARD_FIGURES_SECONDS = 0

# Reports are counted on every request in tests (tests/reports/test_figures.py turns the cache on).
REPORT_FIGURES_SECONDS = 0
# Report files made by tests go to a folder of their own, never to var/media.
# (A Celery worker started by a test gets the test's folder through TEST_MEDIA_ROOT.)
MEDIA_ROOT = os.environ.get("TEST_MEDIA_ROOT") or tempfile.mkdtemp(prefix="referral-engine-test-media-")
