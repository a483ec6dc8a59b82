"""Tests: SQLite and an eager Celery by default; DATABASE_URL / REDIS_URL switch on the real ones."""

import os
import tempfile

from .base import *  # noqa: F403
from .base import DATABASES, INSTALLED_APPS, REDIS_URL

DEBUG = False
# The load generator (bench/loadgen) is tested here; like local.py, unlike production.
INSTALLED_APPS = [*INSTALLED_APPS, "bench.loadgen"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["NAME"] = ":memory:"
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE"}
DATABASES["default"]["CONN_MAX_AGE"] = 0
# With DATABASE_REPLICA_URL (CI: a real streaming replica, .ci/run), `replica` is a test mirror: no test
# database is made there, its connection opens the replica's copy of the primary's test database. The
# tests read from the primary as before (their rows sit in a transaction the replica never sees);
# tests/test_replica.py turns REPLICA_READS on and proves the pages read the replica.
if "replica" in DATABASES:
    DATABASES["replica"]["CONN_MAX_AGE"] = 0
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
REPLICA_READS = False
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
