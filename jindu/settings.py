"""Jindu settings, read from the environment with safe defaults for the embedded mode.

Environment variables (all optional):

- ``JINDU_VAR_DIR``: directory for the embedded database, generated keys and uploads
  (default ``<repo>/var``).
- ``DATABASE_URL``: database (default SQLite in WAL mode at ``$JINDU_VAR_DIR/jindu.sqlite3``).
- ``REDIS_URL``: when set, background jobs run on RQ workers instead of the database worker.
- ``JINDU_SECRET_KEY``, ``JINDU_FIELD_KEY``, ``JINDU_INDEX_KEY``: secrets. When unset they are
  generated once into ``$JINDU_VAR_DIR/secrets.json`` (never committed).
- ``JINDU_DEBUG`` (``0``/``1``), ``JINDU_ALLOWED_HOSTS`` (comma separated),
  ``JINDU_DEMO`` (``1`` marks the instance as a demo and allows the demo logins).
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from jindu.env import env_bool
from jindu.secrets import load_or_create_secrets

BASE_DIR = Path(__file__).resolve().parent.parent


VAR_DIR = Path(os.environ.get("JINDU_VAR_DIR", BASE_DIR / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

_secrets = load_or_create_secrets(VAR_DIR / "secrets.json")
SECRET_KEY = os.environ.get("JINDU_SECRET_KEY") or _secrets["secret_key"]
# Keys for personal-data protection (see jindu.core.crypto): one encrypts, one derives the
# keyed blind index used for exact look-up. Rotating either requires a re-encryption job.
JINDU_FIELD_KEY = os.environ.get("JINDU_FIELD_KEY") or _secrets["field_key"]
JINDU_INDEX_KEY = os.environ.get("JINDU_INDEX_KEY") or _secrets["index_key"]

DEBUG = env_bool("JINDU_DEBUG", False)
JINDU_DEMO = env_bool("JINDU_DEMO", False)
ALLOWED_HOSTS = [h for h in os.environ.get("JINDU_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [
    o for o in os.environ.get("JINDU_CSRF_TRUSTED_ORIGINS", "").split(",") if o
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_tables2",
    "django_htmx",
    "simple_history",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "jindu.core",
    "jindu.geo",
    "jindu.org",
    "jindu.accounts",
    "jindu.substances",
    "jindu.persons",
    "jindu.enforcement",
    "jindu.inspections",
    "jindu.workforce",
    "jindu.precursors",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "jindu.core.middleware.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "jindu.core.middleware.AuditContextMiddleware",
    "jindu.core.middleware.DatabaseBusyMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

from jindu.csp_settings import CONTENT_SECURITY_POLICY, CSP_MIDDLEWARE  # noqa: E402,F401
from jindu.otp_settings import (  # noqa: E402,F401
    JINDU_ENFORCE_OTP,
    OTP_APPS,
    OTP_MIDDLEWARE,
    OTP_TOTP_ISSUER,
    OTP_TOTP_THROTTLE_FACTOR,
)

MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, CSP_MIDDLEWARE)
INSTALLED_APPS += OTP_APPS
_auth = MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware")
MIDDLEWARE[_auth + 1:_auth + 1] = OTP_MIDDLEWARE
CSRF_FAILURE_VIEW = "jindu.core.views.pages.csrf_failure"

ROOT_URLCONF = "jindu.urls"
WSGI_APPLICATION = "jindu.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "jindu" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "jindu.core.context_processors.jindu",
            ],
        },
    }
]

_default_db = f"sqlite:///{VAR_DIR / 'jindu.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL") or _default_db, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers proceed during a write; IMMEDIATE takes the write lock at the start
        # of a transaction so two writers queue instead of failing mid-transaction.
        # mmap keeps large tables' pages in the OS cache (see `python -m jindu.bench scope`).
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
            "PRAGMA mmap_size=268435456; PRAGMA cache_size=-65536;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "jindu.accounts.backends.RoleBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# django-axes: lock the username+IP pair after repeated failures.
AXES_FAILURE_LIMIT = int(os.environ.get("JINDU_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.5  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "jindu" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "jindu" / "static"]  # vendored assets (no CDN on intranets)
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise serves finders in embedded mode; collectstatic fills it in production
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"  # never served directly: downloads go through scoped, logged views
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 3600
SESSION_COOKIE_SECURE = env_bool("JINDU_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "jindu.accounts.authentication.TokenAuthentication",
    ],
    "EXCEPTION_HANDLER": "jindu.core.api.exception_handler",
    "DEFAULT_PERMISSION_CLASSES": ["jindu.core.api.ScopedPermission"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "jindu.core.api.SafeSearchFilter",
        "jindu.core.api.SafeOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "jindu.core.api.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Jindu API",
    "DESCRIPTION": "禁毒综合治理平台 API。所有数据按当前用户的管辖范围过滤。",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Background jobs (Django tasks API). The database worker is the default; with REDIS_URL
# the same tasks are queued on RQ and run by `manage.py rqworker`.
# JINDU_JOBS_QUEUE separates instances that share one Redis.
JINDU_JOBS_QUEUE = os.environ.get("JINDU_JOBS_QUEUE", "default")
_queues = sorted({"default", JINDU_JOBS_QUEUE})
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    INSTALLED_APPS.append("django_rq")
    # django-tasks-rq looks results up through the "default" entry, so keep it.
    RQ_QUEUES = {q: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600} for q in _queues}
    RQ = {"JOB_CLASS": "django_tasks_rq.backend.Job"}
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": _queues}}
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": _queues}}

DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5.html"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("JINDU_LOG_LEVEL", "WARNING")},
    # 403/404 answers are routine (scope refusals); server errors are still logged.
    "loggers": {"django.request": {"level": "ERROR", "propagate": True}},
}

# Imports and exports larger than these row counts run as background jobs.
JINDU_IMPORT_BACKGROUND_ROWS = int(os.environ.get("JINDU_IMPORT_BACKGROUND_ROWS", "2000"))
JINDU_EXPORT_BACKGROUND_ROWS = int(os.environ.get("JINDU_EXPORT_BACKGROUND_ROWS", "2000"))
JINDU_IMPORT_MAX_BYTES = int(os.environ.get("JINDU_IMPORT_MAX_BYTES", str(20 * 1024 * 1024)))

# Domain settings --------------------------------------------------------------------
# The demo city loaded by `make run`; nothing else depends on it.
JINDU_DEMO_CITY = os.environ.get("JINDU_DEMO_CITY", "460100")

# Drug-control social worker staffing (jindu.workforce.staffing): one worker per 30 current
# drug users plus one per 40 people abstinent three years (the seed's Qiongshan model);
# "rounding" is "ceil" (default: ceiling of the sum) or "half_up".
JINDU_WORKFORCE = {"users_per_worker": 30, "abstinent_per_worker": 40, "rounding": "ceil"}
