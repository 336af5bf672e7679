"""Shared fixtures: sites, staff and participants built through the real services."""

import datetime as dt
import os
import shutil
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model

# Playwright's event loop spans the whole session; Django's async-safety check would refuse ORM
# calls made from the test body while it runs.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from participants.eligibility import criteria  # noqa: E402
from participants.models import Site, StaffProfile, StaffRole  # noqa: E402
from schedule import services  # noqa: E402
from schedule.models import AssessmentStatus, ProtocolVersion  # noqa: E402
from schedule.protocols.v1 import PROTOCOL  # noqa: E402

UTC = dt.UTC


def require_service(what: str) -> None:
    """A test that needs `what` fails when REQUIRE_SERVICES=1 (CI), and skips otherwise."""
    message = f"{what} is not available"
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} and REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    executable = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(executable):
        require_service(f"Chromium ({executable})")
    return {
        **browser_type_launch_args,
        "executable_path": executable,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture
def protocol(db):
    """Protocol v1. The migration loads it, but transactional tests flush tables between tests."""
    existing = ProtocolVersion.objects.filter(version=PROTOCOL["version"]).first()
    return existing or services.protocol_load(PROTOCOL)


def make_user(username: str, role: str, sites=(), **extra):
    user = get_user_model().objects.create_user(
        username=username, password="pw-for-tests-only", email=f"{username}@example.org", **extra
    )
    profile = StaffProfile.objects.create(user=user, role=role)
    profile.sites.set(sites)
    return user


@pytest.fixture
def site(db):
    return Site.objects.create(
        code="S01", name="New York site", time_zone="America/New_York", enrollment_target=10
    )


@pytest.fixture
def site2(db):
    return Site.objects.create(
        code="S02", name="Berlin site", time_zone="Europe/Berlin", enrollment_target=10
    )


@pytest.fixture
def coordinator(site):
    return make_user("coord", StaffRole.COORDINATOR, [site], is_staff=True)


@pytest.fixture
def investigator(site):
    return make_user("invest", StaffRole.INVESTIGATOR, [site], is_staff=True)


@pytest.fixture
def manager(db):
    return make_user("manager", StaffRole.STUDY_MANAGER, is_staff=True)


def all_met() -> dict[str, bool]:
    """Eligibility answers for someone who meets every inclusion and no exclusion criterion."""
    return {c.code: c.kind == "inclusion" for c in criteria()}


def local(day: dt.date, hour: int, tz: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=ZoneInfo(tz))


def consent(site, by, day: dt.date, *, hour=10, **extra):
    return services.participant_consent(
        site=site,
        by=by,
        consent_at=local(day, hour, site.time_zone),
        consent_form_version=extra.pop("consent_form_version", "ICF v2.0"),
        age_at_consent=extra.pop("age_at_consent", 42),
        **extra,
    )


def record_pre_dose(visit, at: dt.datetime, by, abnormal: str = ""):
    """Record every pre-dose safety item of an infusion visit as normal (or one as abnormal)."""
    # Done ones too: a postponed infusion needs its same-day items recorded again.
    for a in visit.assessments.filter(
        definition__pre_dose=True, status__in=(AssessmentStatus.PENDING, AssessmentStatus.DONE)
    ):
        services.assessment_record(
            a,
            result="abnormal" if a.definition.code == abnormal else "normal",
            is_abnormal=a.definition.code == abnormal,
            completed_at=at,
            by=by,
        )


@pytest.fixture
def make_consented(protocol, site, coordinator):
    def make(day: dt.date, **extra):
        return consent(extra.pop("site", site), coordinator, day, **extra)

    return make


# --- Notifications: brokers, a real SMTP server and a real Celery worker -----------------------
# (appended by the notifications app; used by tests/test_notifications_*.py)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite the test database is a FILE, not Django's usual in-memory one, so that a Celery
    worker subprocess (tests/test_notifications_worker.py) can share it with the tests."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")


def use_celery_broker(url: str) -> str:
    """Point this process's Celery app at `url` (tests only); returns the previous URL."""
    from sle001.celery import app

    old = app.conf.broker_url
    app.conf.broker_url = url
    # Connections and producers made for the old broker must not be reused.
    app._pool = None
    app.amqp._producer_pool = None
    return old


@pytest.fixture
def memory_broker():
    """Tasks enqueued by the code under test go to an in-process broker, not var/celery/."""
    old = use_celery_broker("memory://")
    yield
    use_celery_broker(old)


class SMTPCollector:
    """aiosmtpd handler that keeps each message received. `block_after = n` makes the SMTP
    conversation of message n+1 hang at MAIL FROM until `release()` (to kill a worker mid-send)."""

    def __init__(self):
        import threading

        self.messages = []
        self.block_after = None
        self.blocked = threading.Event()
        self._release = threading.Event()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        import asyncio

        if self.block_after is not None and len(self.messages) >= self.block_after:
            self.blocked.set()
            while not self._release.is_set():
                await asyncio.sleep(0.05)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        import email

        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def release(self):
        self.block_after = None
        self._release.set()


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on a free local port: `.port`, `.handler.messages`."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = SMTPCollector()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    controller.handler = handler
    yield controller
    handler.release()
    controller.stop()


NOTIFY_REDIS_URL = os.environ.get("NOTIFY_REDIS_URL", "redis://127.0.0.1:6379/5")


@pytest.fixture
def redis_broker():
    """This process enqueues on the real Redis (db 5 by default), on a queue of its own: several
    test runs may share the Redis database, and one run's worker must not take another's tasks."""
    import uuid

    import redis

    from sle001.celery import app

    client = redis.Redis.from_url(NOTIFY_REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        require_service(f"Redis ({NOTIFY_REDIS_URL})")
    queue = f"notify-test-{uuid.uuid4().hex[:12]}"
    old_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue  # the router reads it at each send
    old = use_celery_broker(NOTIFY_REDIS_URL)
    yield NOTIFY_REDIS_URL
    use_celery_broker(old)
    app.conf.task_default_queue = old_queue
    client.delete(queue)
    client.close()


def _database_url_for_subprocess() -> str:
    """The test database as a DATABASE_URL, so another process opens the same one."""
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def celery_worker_process(transactional_db, redis_broker, smtp_server, tmp_path):
    """Start real `celery -A sle001 worker` processes on Redis, sending to `smtp_server` and using
    the test database. Call it (with extra env) to start one; each is SIGKILLed at teardown."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from sle001.celery import app

    queue = app.conf.task_default_queue  # this test's own queue (redis_broker)
    started = []

    def start(**extra_env):
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CELERY_", "EMAIL_", "DATABASE_", "PYTEST_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="sle001.settings",
            DATABASE_URL=_database_url_for_subprocess(),
            CELERY_BROKER_URL=redis_broker,
            EMAIL_BACKEND="smtp",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(smtp_server.port),
            VAR_DIR=str(tmp_path / "var"),
            LOG_LEVEL="WARNING",
        )
        env.update({k: str(v) for k, v in extra_env.items()})
        log_path = tmp_path / f"worker{len(started)}.log"
        log = open(log_path, "w")  # noqa: SIM115 - closed at teardown
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("celery")),
                "-A",
                "sle001",
                "worker",
                "--pool=solo",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
                "-Q",
                queue,
                "-n",
                f"notify-test-{len(started)}@%h",
            ],
            cwd=str(Path(__file__).resolve().parent.parent),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so SIGKILL reaches all of it
        )
        started.append((proc, log))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None or " ready." in log_path.read_text():
                break
            time.sleep(0.1)
        if proc.poll() is not None or " ready." not in log_path.read_text():
            raise RuntimeError(f"Celery worker did not start:\n{log_path.read_text()[-3000:]}")
        proc.log_path = log_path
        return proc

    def kill(proc):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    start.kill = kill
    yield start
    for proc, log in started:
        kill(proc)
        log.close()
