"""Settings shared by every environment; everything that differs comes from the environment."""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

from referral_engine.observability.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="insecure-dev-key-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_fsm",
    "guardian",
    "simple_history",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "referral_engine.workflow",
    "referral_engine.accounts",
    "referral_engine.cases",
    "referral_engine.access",
    "referral_engine.audit",
    "referral_engine.timers",
    "referral_engine.notifications",
    "referral_engine.reports",
    "referral_engine.disasters",
    "referral_engine.web",
    "referral_engine.api",
    "referral_engine.security",
    "referral_engine.observability",
    "workflows",
]

MIDDLEWARE = [
    # Outermost: the request id, the request's log line and its latency, whatever the layers below answer.
    "referral_engine.observability.middleware.RequestObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "referral_engine.security.middleware.DatabaseUnavailableMiddleware",
    "referral_engine.security.middleware.RequestTooLargeMiddleware",
    "referral_engine.api.middleware.RequestBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # The user's date style for every date shown (web/date_style.py; no query: the user row is loaded).
    "referral_engine.web.date_style.DateStyleMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "referral_engine.web.middleware.ContentSecurityPolicyMiddleware",
    "referral_engine.web.middleware.LoginRequiredEverywhereMiddleware",
    "referral_engine.web.middleware.PlainErrorPagesMiddleware",
    "referral_engine.web.middleware.QueryStringCharactersMiddleware",
    "referral_engine.audit.middleware.DeniedAccessLogMiddleware",
    "referral_engine.security.middleware.TwoFactorMiddleware",
    "axes.middleware.AxesMiddleware",
    # Read-your-writes when a replica serves some pages (referral_engine/replica.py); nothing without one.
    "referral_engine.replica.PrimaryPinMiddleware",
]

ROOT_URLCONF = "referral_engine.urls"
WSGI_APPLICATION = "referral_engine.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "referral_engine.web.context_processors.navigation",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
# No DATABASE_URL: SQLite under var/. The web server, the worker and beat all write, so SQLite
# runs in WAL mode with IMMEDIATE transactions (LIBRARIES.md) or writers meet "database is locked".
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Issue 23 (docs/benchmarks.md "The request cycle"): psycopg 3's connection pool, per process,
    # for threaded workers (DATABASE_POOL=true; then persistent connections are the pool's, so
    # CONN_MAX_AGE is 0).
    if env.bool("DATABASE_POOL", default=False):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=4),
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
        }
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    # Parameters bound by the server, so that the hot paths' statements can be prepared
    # (referral_engine/prepared.py: only inside `prepared_statements()`, never a list's). Off behind a
    # transaction-pooling pgbouncer (DATABASE_PREPARED_STATEMENTS=false): Django's client-side binding.
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
        # psycopg prepares nothing while the threshold is None (Django's default), even when asked;
        # the cursor asks explicitly each time (yes inside, no outside), so the number itself is unused.
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 2**31 - 1
# PostgreSQL compiles a query with LLVM (JIT) once its estimated cost passes jit_above_cost (100,000).
# At a million cases the estimates of list and count queries with the reach's EXISTS pass it, and the
# compiling costs more than the query: 0.6 s of JIT for a count that ran in 1 s, 0.3 s on the inbox
# (docs/benchmarks.md, "Issue 23, second round"). An OLTP app's queries are short: off for the app's
# connections unless DATABASE_JIT=true (then the server's setting applies).
JIT_OFF = "-c jit=off"


def _jit_off(database: dict) -> None:
    if database["ENGINE"] != "django.db.backends.sqlite3" and not env.bool("DATABASE_JIT", default=False):
        options = database.setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} {JIT_OFF}".strip()


_jit_off(DATABASES["default"])
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Two roles on PostgreSQL (docs/operations.md "Database roles"): DATABASE_URL is the application's role
# (no superuser, owns nothing); DATABASE_OWNER_URL, used only by `manage.py migrate` (and the tests, to
# create and empty their database), the owner's. Its database name is ignored: the same database.
DATABASE_OWNER_URL = env.str("DATABASE_OWNER_URL", default="")
DATABASE_OWNER = env.db_url_config(DATABASE_OWNER_URL) if DATABASE_OWNER_URL else None
# The role post_migrate grants to: DATABASE_URL's user, when the owner is someone else.
DATABASE_APP_ROLE = (
    DATABASES["default"].get("USER", "")
    if DATABASE_OWNER and DATABASE_OWNER.get("USER") != DATABASES["default"].get("USER")
    else ""
)
# A PostgreSQL streaming replica (docs/scaling.md "Reads that leave the primary"): with DATABASE_REPLICA_URL
# set, the report, the dashboard, the auditor's pages and the CSV exports read from it
# (referral_engine/replica.py); every write, and every other read, stays on the primary. A browser that
# wrote reads from the primary for REPLICA_PIN_SECONDS after (its own writes, whatever the replica's lag).
# REPLICA_READS=False keeps the alias but sends nothing there. Without the URL nothing changes.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
REPLICA_READS = env.bool("REPLICA_READS", default=True)
REPLICA_PIN_SECONDS = env.int("REPLICA_PIN_SECONDS", default=15)
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = env.db_url_config(DATABASE_REPLICA_URL)
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"].get("CONN_MAX_AGE", 0)
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["replica"]["ATOMIC_REQUESTS"] = False
    # An unreachable replica is skipped (the primary answers): do not wait long to find out.
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
    _jit_off(DATABASES["replica"])
    for key in ("server_side_binding", "prepare_threshold"):  # the primary's way of sending statements
        if key in DATABASES["default"].get("OPTIONS", {}):
            DATABASES["replica"]["OPTIONS"][key] = DATABASES["default"]["OPTIONS"][key]
    DATABASE_ROUTERS = ["referral_engine.replica.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth ---------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_URL_PATH = "/accounts/login/"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_SECONDS", default=30 * 60)
SESSION_SAVE_EVERY_REQUEST = True  # the 30-minute timeout is an *idle* timeout
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True
SIMPLE_HISTORY_REVERT_DISABLED = True
GUARDIAN_MONKEY_PATCH_USER = False
ANONYMOUS_USER_NAME = None

# A JSON body nested deeper than this is a 400 (referral_engine.api.parsing).
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=32)
# API tokens expire this many days after they are issued (POST /api/v1/auth/token/refresh/ renews).
API_TOKEN_DAYS = env.int("API_TOKEN_DAYS", default=30)

AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_COOLOFF_TIME = timedelta(minutes=30)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# Two-factor login (referral_engine.security): optional for these roles; REQUIRE_2FA_FOR_ROLES forces it.
TWO_FACTOR_ROLES = ["supervisor", "auditor", "admin"]
REQUIRE_2FA_FOR_ROLES = env.list("REQUIRE_2FA_FOR_ROLES", default=[])
OTP_TOTP_ISSUER = "津久見市 相談窓口"
# The admin never shows a user's TOTP secret or QR code (the second factor is the user's alone); its
# config/qrcode pages answer 403 — they answered 500 for an unknown device id (issue 16 §4).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
DATABASE_UNAVAILABLE_RETRY_AFTER = env.int("DATABASE_UNAVAILABLE_RETRY_AFTER", default=10)

# --- I18N ---------------------------------------------------------------------------------------
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("日本語")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

# --- Static -------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Mail ---------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="referral-engine@city.tsukumi.example")
# The address staff open the engine at: notification mail links to `SITE_URL` + the page's path
# (the mail carries no names or free text, only the kind, the case number and this link).
SITE_URL = env("SITE_URL", default="http://localhost:8000").rstrip("/")

# --- Celery -------------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
else:
    # Embedded broker: kombu's filesystem transport, shared by the web process, worker and beat.
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "data_folder_processed": str(_broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A Redis outage of any length: the worker keeps retrying (Celery's default gives up after 100 tries,
# then the worker exits) and reconnects by itself (docs/reliability.md "Redis stopped").
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# A task still running when the connection is lost finishes (a sweep's batch, a mail in flight): its
# acknowledgement is lost and the broker redelivers it after the visibility timeout, which finds
# nothing left to do. Cancelling it instead would kill it mid-transaction, every outage.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Celery's default scheduler plus a heartbeat for /metrics (referral_engine.observability.heartbeat).
CELERY_BEAT_SCHEDULER = "referral_engine.observability.heartbeat:HeartbeatScheduler"
# Workers and beat log through LOGGING below (referral_engine/celery.py), not Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "sweep-timers": {"task": "timers.sweep", "schedule": 60.0},
    "deliver-notifications": {"task": "notifications.deliver_pending", "schedule": 30.0},
    "report-exports-cleanup": {"task": "reports.exports_cleanup", "schedule": 3600.0},
    # Watch requests without a report, evacuation plans due for review (docs/community.md).
    "community-reminders": {"task": "cases.community_reminders", "schedule": 900.0},
    # The daily digest of users who chose it (docs/timers.md "Mail preference"); CELERY_TIMEZONE is Tokyo.
    "notification-digests": {"task": "notifications.send_digests", "schedule": crontab(hour=7, minute=30)},
}

# --- REST framework -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "referral_engine.api.auth.ApiTokenAuthentication",  # first: unauthenticated is a 401
        # CSRF enforced for session writes; a session that owes its second factor does not authenticate.
        "referral_engine.api.auth.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["referral_engine.api.parsing.DepthLimitedJSONParser"],
    "DEFAULT_METADATA_CLASS": "referral_engine.api.parsing.ApiMetadata",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "referral_engine.api.pagination.ApiPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "referral_engine.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["referral_engine.api.throttling.WriteRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"writes": env("API_WRITE_THROTTLE", default="600/minute")},
}
# Person searches per user (web and API together, counted from the access log; 429 beyond it):
# DESIGN §11.1. "<n>/second|minute|hour|day".
PERSON_SEARCH_THROTTLE = env("PERSON_SEARCH_THROTTLE", default="30/minute")
# How long a search hit's proof (`choice`) lets its user open a case for that person, in seconds
# (issue 17: person ids alone open nothing; cases/services/person_choice.py).
PERSON_CHOICE_MAX_AGE = env.int("PERSON_CHOICE_MAX_AGE", default=3600)
SPECTACULAR_SETTINGS = {
    "TITLE": "Tsukumi referral engine API",
    "DESCRIPTION": "まるごと受け止める相談窓口 — cases, referrals, escalations. See docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "referral_engine.api.schema.error_responses_hook",
    ],
    # Ids in paths: at most 18 digits (referral_engine.api.urls.IdConverter).
    "PATH_CONVERTER_OVERRIDES": {
        "api_id": {"type": "integer", "minimum": 0, "maximum": 999_999_999_999_999_999},
        "api_name": {"type": "string", "pattern": "^[A-Za-z0-9_]{1,50}$"},
    },
    "ENUM_NAME_OVERRIDES": {
        "CaseStateEnum": "referral_engine.cases.choices.CaseState",
        "ReferralStateEnum": "referral_engine.cases.choices.ReferralState",
        "EscalationStateEnum": ["open", "acknowledged", "resolved"],
        "DisasterKindEnum": "referral_engine.disasters.models.DisasterKind",
        "ActivityKindEnum": "referral_engine.cases.choices.ActivityKind",
        "SafetyCheckStatusEnum": "referral_engine.disasters.models.CheckStatus",
        "FollowUpStateEnum": "referral_engine.cases.choices.FollowUpState",
        "WatchStateEnum": "referral_engine.cases.choices.WatchState",
        "WatchOutcomeEnum": "referral_engine.cases.choices.WatchOutcome",
        "SlipUrgencyEnum": "referral_engine.cases.choices.SlipUrgency",
        "SlipStatusEnum": "referral_engine.cases.choices.SlipStatus",
    },
}

DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_BODY_BYTES", default=1024 * 1024)

# --- Domain settings ----------------------------------------------------------------------------
OFFICE_CLOSE_TIME = env("OFFICE_CLOSE_TIME", default="17:15")
# The supervisor dashboard's per-department table and charts are recomputed at most this often per
# scope (its lists and totals are always live). 0: every request.
DASHBOARD_FIGURES_SECONDS = env.int("DASHBOARD_FIGURES_SECONDS", default=60)
DEMO_PASSWORD = env("DEMO_PASSWORD", default="tsukumi-demo")
SYSTEM_USERNAME = "system"
RETENTION_ACCESS_LOG_YEARS = env.int("RETENTION_ACCESS_LOG_YEARS", default=5)
RETENTION_CLOSED_CASE_YEARS = env.int("RETENTION_CLOSED_CASE_YEARS", default=5)
# The key of the access log's search-term fingerprints (audit.services.search_term_fingerprint). Set it
# apart from SECRET_KEY so that rotating SECRET_KEY keeps old fingerprints comparable.
ACCESS_LOG_TERM_KEY = env("ACCESS_LOG_TERM_KEY", default="") or SECRET_KEY
TIMER_SWEEP_BATCH = 500
# Every date and time a client sends (forms, API, filters) lies in these years (cases/inputs.py):
# outside them PostgreSQL may store a value the driver cannot read back (issue 16).
DATE_YEAR_MIN = env.int("DATE_YEAR_MIN", default=1900)
DATE_YEAR_MAX = env.int("DATE_YEAR_MAX", default=2100)
# Denied reads (a 404 on a case, person or referral URL) in the access log (docs/audit.md): the first N
# per user and minute are rows of their own, then one summary row per ACCESS_LOG_DENIED_SUMMARY_EVERY.
ACCESS_LOG_DENIED_PER_MINUTE = env.int("ACCESS_LOG_DENIED_PER_MINUTE", default=20)
ACCESS_LOG_DENIED_SUMMARY_EVERY = env.int("ACCESS_LOG_DENIED_SUMMARY_EVERY", default=100)

# 見守り依頼: days without a report after which the requester is reminded (docs/community.md).
WATCH_REQUEST_REMINDER_DAYS = env.int("WATCH_REQUEST_REMINDER_DAYS", default=14)
# Fiscal-year reports (docs/reports.md): in exports for publication a district cell from 1 to
# REPORT_SUPPRESS_BELOW - 1 shows "<N"; a report file made in the background can be downloaded by its
# owner for REPORT_EXPORT_HOURS, then the hourly cleanup deletes it. Files live under MEDIA_ROOT, which
# the web and worker processes must share (docker-compose.yml mounts one volume on both).
REPORT_SUPPRESS_BELOW = env.int("REPORT_SUPPRESS_BELOW", default=3)
# A report's figures are counted at most this often per scope and fiscal year (0: every request).
REPORT_FIGURES_SECONDS = env.int("REPORT_FIGURES_SECONDS", default=300)
# The safety-check board refreshes its counts this often (htmx polling; docs/disasters.md).
DISASTER_BOARD_POLL_SECONDS = env.int("DISASTER_BOARD_POLL_SECONDS", default=15)
REPORT_EXPORT_HOURS = env.int("REPORT_EXPORT_HOURS", default=24)
MEDIA_ROOT = env("MEDIA_ROOT", default=str(VAR_DIR / "media"))

# --- Operations: logs, metrics (docs/operations.md) ------------------------------------------------
# JSON lines with request id, user id, route, status and duration (task id in Celery), never a name or a
# query string; `text` is a console line for people (the `make run` default).
LOG_FORMAT = env("LOG_FORMAT", default="json")
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)
# A valid X-Request-ID from the proxy in front is kept (and returned); off: always a new one.
TRUST_REQUEST_ID_HEADER = env.bool("TRUST_REQUEST_ID_HEADER", default=True)
# /metrics: readable with `Authorization: Bearer <METRICS_TOKEN>` or from these addresses/networks.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
