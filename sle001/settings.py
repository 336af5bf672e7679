"""Settings for the SLE-001 tracker, read from the environment (see sle001/env.py).

With no environment at all this is the embedded quick start: SQLite in var/, Celery's filesystem
broker in var/celery/, emails written to var/mail/. Production sets DATABASE_URL,
CELERY_BROKER_URL, EMAIL_BACKEND=smtp, SECRET_KEY, ALLOWED_HOSTS and DEBUG=false; DEBUG=false also
turns on HTTPS only (redirect, HSTS, secure cookies; README "Production").
"""

import datetime as dt
from pathlib import Path

from csp.constants import NONE, SELF
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
# The quick start serves on PORT (scripts/run.sh): links in emails and feeds follow it unless
# SITE_URL says where the tracker really is.
PORT = env_int("PORT", 8000, minimum=1)
SITE_URL = env_url("SITE_URL", f"http://127.0.0.1:{PORT}", ("http", "https")).rstrip("/")

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
    "axes",
    "csp",
    "participants",
    "schedule",
    "safety",
    "reports",
    "demo",
    "dashboard",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last (django-axes): turns a locked-out log-in attempt into the lockout page.
    "axes.middleware.AxesMiddleware",
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
elif DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # No JIT compilation: the app's reads are short, and a plan whose row estimate is far off
    # (pending items are mostly due in the future, which the statistics cannot know) crosses
    # jit_above_cost and spends 0.4-0.8 s compiling a query that runs in 20 ms.
    # No parallel workers either: the same far-off estimates (118k rows where there are none)
    # make the overdue scan's candidate read start two workers, 15-20 ms for a query that reads
    # nothing in 0.5 ms alone; on a 2-core server the workers take the web's cores anyway.
    # random_page_cost 1.1 (the default 4 is for spinning disks): a study's tables fit in memory
    # and on SSD, and at 4 the planner hashed all 10k participants to join them to 25-100 visits
    # picked by id (4-9 ms) where an index look-up per visit takes 0.5 ms.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = (
        options.get("options", "")
        + " -c jit=off -c max_parallel_workers_per_gather=0 -c random_page_cost=1.1"
    ).strip()

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
# Timestamps are stored in UTC; each site's calendar dates use the site's own time zone.
TIME_ZONE = env_time_zone("TIME_ZONE", "UTC")
# The study's own clock (the sponsor's office): the monthly enrollment report is emailed on the 1st
# at 07:00 there. An IANA name; each site's dates still follow the site's own zone.
STUDY_TIME_ZONE = env_time_zone("STUDY_TIME_ZONE", "America/New_York")
# Participants the whole trial aims to enroll (the report's total against target).
STUDY_ENROLLMENT_TARGET = env_int("STUDY_ENROLLMENT_TARGET", 30, minimum=1)
USE_I18N = True
USE_TZ = True
# Dates YYYY-MM-DD (as the date inputs take them) and times with their zone: sle001/formats/en.
FORMAT_MODULE_PATH = ["sle001.formats"]

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

# --- Log-in lockout (django-axes), on the dashboard's and the admin's log-in pages ---------------
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out log-in before the password is checked, the right one included.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failures are counted per username AND address: after LOGIN_FAILURE_LIMIT the pair is locked out
# for LOGIN_LOCKOUT_MINUTES from its last attempt (an attempt while locked out restarts the wait).
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 30, minimum=1)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = dt.timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # a log-in before the limit starts the count again
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # one row per failed log-in, marked when it locked out
AXES_LOCKOUT_CALLABLE = "sle001.lockout.lockout_response"  # the page, in the tracker's layout
AXES_CLIENT_STR_CALLABLE = "sle001.lockout.client_str"  # axes' log lines: username and IP only

# --- Sessions, HTTPS and security headers ----------------------------------------------------------
# Idle timeout in every mode: each request moves the expiry on; the cookie ends with the browser.
SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 30, minimum=1)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# No Referer to other sites: the calendar feed's URL is a secret.
SECURE_REFERRER_POLICY = "same-origin"
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and overwrites the client's):
# request.is_secure() and absolute URLs (the calendar feed) then say https.
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HTTPS only when DEBUG=false; the quick start and the tests keep plain http. Read in every mode
# so that a bad value is refused there too.
_ssl_redirect = env_bool("SECURE_SSL_REDIRECT", True)
_hsts_seconds = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = _ssl_redirect and not DEBUG
# The load balancer probes /healthz over plain http inside the network; anyone gets only ok/not.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = 0 if DEBUG else _hsts_seconds
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not DEBUG
# HSTS for subdomains and preloading commit hosts beyond this one (preloading for months, and
# hard to undo): off unless the deployment opts in, so check --deploy is told it was decided.
SILENCED_SYSTEM_CHECKS = [
    *([] if SECURE_HSTS_INCLUDE_SUBDOMAINS else ["security.W005"]),
    *([] if SECURE_HSTS_PRELOAD else ["security.W021"]),
]
# Content-Security-Policy (django-csp), in every mode so a page that needs more shows up in
# development and tests. No inline script or style anywhere (the admin needs 'self' only); Django's
# DEBUG error pages are exempt (django-csp skips 404/500 when DEBUG).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],  # data: for the empty favicon (base.html)
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

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
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
# A broker that accepts connections and never answers (a hung Redis) must not hang a request or a
# job: every connect and every read on the broker's socket gives up after BROKER_TIMEOUT_SECONDS,
# and kombu stops retrying a connection after as long (CELERY_BROKER_CONNECTION_TIMEOUT bounds its
# retries in all). Above Redis' BRPOP wait (1 s), so an idle worker's reads never time out.
BROKER_TIMEOUT_SECONDS = env_int("BROKER_TIMEOUT_SECONDS", 2, minimum=2)
CELERY_BROKER_CONNECTION_TIMEOUT = BROKER_TIMEOUT_SECONDS
# Redis' options; the filesystem and memory transports ignore them.
CELERY_BROKER_TRANSPORT_OPTIONS |= {
    "socket_timeout": BROKER_TIMEOUT_SECONDS,
    "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
}
# After an enqueue failed, this process sends nothing to the broker for this long: the rows wait
# in the outbox for deliver_outbox, and a request never pays the time-out twice in a row
# (notifications/services/outbox.py).
BROKER_BACKOFF_SECONDS = env_int("BROKER_BACKOFF_SECONDS", 30, minimum=0)
# One attempt per publish, never a retry loop: a web request must not wait on the broker, and
# nothing needs it (the outbox's rows wait for deliver_outbox; a beat tick missed runs next tick).
CELERY_TASK_PUBLISH_RETRY = False
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
    # Hourly; queues last month's report for the study managers once (dedup key per month and
    # manager), held until the 1st at 07:00 in STUDY_TIME_ZONE, when deliver-outbox sends it.
    "enrollment-report": {
        "task": "notifications.tasks.queue_enrollment_report",
        "schedule": 3600.0,
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
# /healthz tells anyone only ok or not; the details go to logged-in staff and to a monitor sending
# "Authorization: Bearer <HEALTHZ_TOKEN>". Unset: no token is accepted.
HEALTHZ_TOKEN = env_str("HEALTHZ_TOKEN", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Failed log-ins and lockouts are warnings; axes' INFO lines repeat on every log-in.
    "loggers": {"axes": {"level": "WARNING"}},
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
