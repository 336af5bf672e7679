"""Shared fixtures: sites, staff and participants built through the real services; brokers, a
real SMTP server and a real Celery worker. Helpers (no fixtures) are in tests/support.py."""

import datetime as dt
import os
import shutil

import pytest

# Playwright's event loop spans the whole session; Django's async-safety check would refuse ORM
# calls made from the test body while it runs.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from participants.models import Site, StaffRole  # noqa: E402
from schedule import services  # noqa: E402
from schedule.models import ProtocolVersion  # noqa: E402
from schedule.protocols.v1 import PROTOCOL  # noqa: E402
from tests.support import (  # noqa: E402
    NOTIFY_REDIS_URL,
    SMTPCollector,
    _database_url_for_subprocess,
    consent,
    make_user,
    require_service,
    use_celery_broker,
)


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing():
    """MD5 instead of PBKDF2 for every test: hashing a password costs ~0.3 s otherwise, and the
    suite creates hundreds of users. Production settings are untouched."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache: ids are reused after a rolled-back test on SQLite,
    so a cache key made of ids (the enrollment report's) could otherwise meet another test's."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True, scope="session")
def sessions_outlast_time_travel():
    """Django's default sessions (14 days, saved when changed) instead of the 30-minute idle
    timeout (SESSION_IDLE_MINUTES, saved on every request): tests move the clock on by hours or
    days between two requests of one logged-in client, and count each page's queries without the
    session's save. tests/sle001/test_security_settings.py tests the timeout with both set back."""
    from django.conf import settings

    settings.SESSION_COOKIE_AGE = 14 * 24 * 3600
    settings.SESSION_SAVE_EVERY_REQUEST = False


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


@pytest.fixture
def make_consented(protocol, site, coordinator):
    def make(day: dt.date, **extra):
        return consent(extra.pop("site", site), coordinator, day, **extra)

    return make


# --- Notifications: brokers, a real SMTP server and a real Celery worker -----------------------
# (used by tests/notifications/)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite the test database is a FILE, not Django's usual in-memory one, so that a Celery
    worker subprocess (tests/notifications/test_worker.py) can share it with the tests. On
    PostgreSQL each run gets databases of its own."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    test = db.setdefault("TEST", {})
    if db["ENGINE"].endswith("sqlite3"):
        test["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")
    else:
        # A name of this run's own (the xdist worker suffix kept): two runs at once on one
        # server (a developer's and CI's) would otherwise drop each other's test_sle001_gw0.
        run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")[:8] or str(os.getpid())
        test["NAME"] = f"{test.get('NAME') or 'test_' + db['NAME']}_{run}"


@pytest.fixture
def memory_broker():
    """Tasks enqueued by the code under test go to an in-process broker, not var/celery/."""
    old = use_celery_broker("memory://")
    yield
    use_celery_broker(old)


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
