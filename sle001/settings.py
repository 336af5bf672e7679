"""Settings for the SLE-001 tracker, read from the environment (see sle001/env.py).

With no environment at all this is the embedded quick start: SQLite in var/, Celery's filesystem
broker in var/celery/, emails written to var/mail/. Production sets DATABASE_URL,
CELERY_BROKER_URL, EMAIL_BACKEND=smtp, SECRET_KEY, ALLOWED_HOSTS and DEBUG=false.
"""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from sle001.env import (
    env_bool,
    env_choice,
    env_database,
    env_int,
    env_int_list,
    env_list,
    env_str,
    env_time_zone,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", True)
_DEV_SECRET = "dev-only-insecure-secret-key-change-me-for-any-real-deployment"
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET)
if not DEBUG and SECRET_KEY == _DEV_SECRET:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=false.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000", ("http", "https")).rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "simple_history",
    "django_tables2",
    "django_filters",
    "participants",
    "schedule",
    "safety",
    "demo",
    "dashboard",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "sle001.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "notifications.context_processors.heartbeat",
            ],
        },
    },
]

WSGI_APPLICATION = "sle001.wsgi.application"

DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # SQLite waits for a lock instead of failing at once when the worker and web write together.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # Take the write lock when a transaction begins: two deferred transactions that both read and
    # then write (two scans, worker + web) would otherwise fail with "database is locked".
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    DATABASES["default"]["CONN_MAX_AGE"] = 0

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
# Timestamps are stored in UTC; each site's calendar dates use the site's own time zone.
TIME_ZONE = env_time_zone("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

# --- Email -------------------------------------------------------------------------------------
_EMAIL_BACKENDS = {
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
}
EMAIL_BACKEND = _EMAIL_BACKENDS[env_choice("EMAIL_BACKEND", "file", tuple(_EMAIL_BACKENDS))]
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "SLE-001 tracker <tracker@sle001.invalid>")

# --- Celery ------------------------------------------------------------------------------------
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL", "filesystem://", ("filesystem", "redis", "rediss", "memory")
)
_CELERY_FS_DIR = VAR_DIR / "celery"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_CELERY_FS_DIR / "queue"),
        "data_folder_out": str(_CELERY_FS_DIR / "queue"),
        "processed_folder": str(_CELERY_FS_DIR / "processed"),
        "store_processed": False,
        # Broadcast/remote-control messages; without it kombu writes ./control in the cwd.
        "control_folder": str(_CELERY_FS_DIR / "control"),
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True  # a task whose worker dies is delivered again, not lost
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Every periodic job (notifications/tasks.py). Each records a heartbeat (notifications.JobHeartbeat).
CELERY_BEAT_SCHEDULE = {
    # Only creates outbox rows; each row's send_after holds it until 08:00 site time.
    "scan-reminders": {"task": "notifications.tasks.scan_reminders", "schedule": 3600.0},
    "flag-overdue": {"task": "notifications.tasks.flag_overdue", "schedule": 900.0},
    # CRS/ICANS and grade >= 3 gradings, alerting labs, the SAE clock: "immediately" is a minute.
    "scan-safety-events": {"task": "notifications.tasks.scan_safety_events", "schedule": 60.0},
    # Sends every due pending row, so nothing is lost when an enqueue failed (broker down).
    "deliver-outbox": {"task": "notifications.tasks.deliver_outbox", "schedule": 60.0},
    # Daily; queues last month's report for the study managers once (dedup key per month).
    "enrollment-report": {
        "task": "notifications.tasks.queue_enrollment_report",
        "schedule": 86400.0,
    },
}

# --- The study ---------------------------------------------------------------------------------
# How study days are labelled on screens: "day0" counts the first infusion as Day 0 (the sponsor's
# registry convention); "cdisc" counts it as Day 1 and has no Day 0.
STUDY_DAY_LABEL = env_choice("STUDY_DAY_LABEL", "day0", ("day0", "cdisc"))
# Days before a visit's target date on which coordinators are reminded.
REMINDER_DAYS_BEFORE = env_int_list("REMINDER_DAYS_BEFORE", [7, 1])
# Local hour (site time zone) at which reminder emails go out.
REMINDER_HOUR = env_int("REMINDER_HOUR", 8, minimum=0)
if REMINDER_HOUR > 23:
    raise ImproperlyConfigured(f"REMINDER_HOUR={REMINDER_HOUR} must be between 0 and 23.")

# --- Notifications (notifications/) ------------------------------------------------------------
# Send attempts before a row is marked failed (retries back off: 1, 5, 15, 60 minutes...).
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 5, minimum=1)
# A claim older than this is taken to belong to a dead worker and the row may be claimed again.
OUTBOX_CLAIM_TIMEOUT_SECONDS = env_int("OUTBOX_CLAIM_TIMEOUT_SECONDS", 600, minimum=1)
# Hours after an overdue safety flag with still no result before the study manager is emailed.
OVERDUE_ESCALATION_HOURS = env_int("OVERDUE_ESCALATION_HOURS", 48, minimum=1)
# Staff see a red banner and /healthz answers 503 when a periodic job has not run for this long.
HEARTBEAT_STALE_MINUTES = env_int("HEARTBEAT_STALE_MINUTES", 30, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

for _folder in (
    VAR_DIR,
    VAR_DIR / "mail",
    STATIC_ROOT,
    _CELERY_FS_DIR / "queue",
    _CELERY_FS_DIR / "processed",
    _CELERY_FS_DIR / "control",
):
    _folder.mkdir(parents=True, exist_ok=True)
