"""Real parts: a `celery -A sle001 worker` process on the real Redis (db 5 by default,
NOTIFY_REDIS_URL), sending through a real SMTP server (aiosmtpd) that counts what arrives.

The worker must see the test database, so these tests commit (transactional_db) and the worker
gets the test database as its DATABASE_URL: on PostgreSQL the suite's test_<name> database, on
SQLite the test database FILE that tests/conftest.py sets up instead of the in-memory one.
Without Redis these tests skip, or fail under REQUIRE_SERVICES=1.
"""

import datetime as dt
import time

import pytest
from django.utils import timezone

from notifications import services, tasks
from notifications.models import OutboxEmail, OutboxStatus
from tests.support import consent, use_celery_broker

pytestmark = pytest.mark.integration


def wait_for(predicate, timeout=60.0, what="condition", log_path=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    log = log_path.read_text()[-3000:] if log_path else ""
    raise AssertionError(f"timed out waiting for {what}\n{log}")


def wait_for_sent(smtp_server, count: int, log_path=None) -> None:
    """Wait until the SMTP server holds `count` emails and `count` outbox rows say sent: the server
    has a message as soon as it answers DATA, the worker marks its row a moment later."""
    wait_for(
        lambda: (
            len(smtp_server.handler.messages) >= count
            and OutboxEmail.objects.filter(status=OutboxStatus.SENT).count() >= count
        ),
        what=f"{count} emails sent and marked sent",
        log_path=log_path,
    )


def overdue_participants(site, coordinator, count: int) -> None:
    """`count` participants whose screening safety items are overdue now (real time)."""
    consented = timezone.now().astimezone(site.tz).date() - dt.timedelta(days=30)
    for n in range(count):
        consent(site, coordinator, consented, screening_number=f"SCR-{n:03d}")


def outbox_keys(smtp_server) -> list[str]:
    return [m["X-SLE001-Outbox"] for m in smtp_server.handler.messages]


def test_worker_on_redis_delivers_each_email_once_to_the_smtp_server(
    protocol, site, coordinator, investigator, celery_worker_process, smtp_server
):
    worker = celery_worker_process()
    overdue_participants(site, coordinator, 2)

    result = services.overdue_scan()  # enqueues one send task per row, on commit, to Redis

    assert result.emails == 4  # 2 participants x (coordinator + investigator)
    wait_for_sent(smtp_server, 4, log_path=worker.log_path)
    # A second scan and a delivery run find nothing more to send.
    services.overdue_scan()
    tasks.deliver_outbox.delay()
    time.sleep(1.5)
    keys = outbox_keys(smtp_server)
    assert len(keys) == 4 and len(set(keys)) == 4
    assert {m["To"] for m in smtp_server.handler.messages} == {
        coordinator.email,
        investigator.email,
    }
    assert OutboxEmail.objects.filter(status=OutboxStatus.SENT).count() == 4
    assert all(m.is_multipart() for m in smtp_server.handler.messages)  # text + HTML


def test_broker_down_when_a_reminder_falls_due_loses_nothing(
    protocol, site, coordinator, celery_worker_process, smtp_server, settings, redis_broker
):
    settings.REMINDER_HOUR = 0  # so the reminder is already due, whatever the real time of day
    worker = celery_worker_process()
    today = timezone.now().astimezone(site.tz).date()
    consent(site, coordinator, today - dt.timedelta(days=27))  # APH target is tomorrow

    use_celery_broker("redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        result = services.reminders_scan()  # the enqueue on commit fails and is logged
        with pytest.raises(Exception, match="(?i)connect|refused"):
            tasks.deliver_outbox.delay()  # beat's tick cannot reach the broker either
    finally:
        use_celery_broker(redis_broker)

    assert result.created == 1
    time.sleep(1.0)
    assert smtp_server.handler.messages == []
    row = OutboxEmail.objects.get()
    assert row.status == OutboxStatus.PENDING and row.claimed_at is None

    tasks.deliver_outbox.delay()  # the broker is back: the next every-minute run sends it

    wait_for_sent(smtp_server, 1, log_path=worker.log_path)
    row.refresh_from_db()
    assert row.status == OutboxStatus.SENT
    assert "APH" in smtp_server.handler.messages[0]["Subject"]


def test_worker_killed_mid_batch_every_email_sent_none_twice(
    protocol, site, coordinator, investigator, celery_worker_process, smtp_server, redis_broker
):
    overdue_participants(site, coordinator, 3)
    use_celery_broker("memory://")  # create the rows without enqueueing: one batch sends them
    try:
        services.overdue_scan()
    finally:
        use_celery_broker(redis_broker)
    assert OutboxEmail.objects.filter(status=OutboxStatus.PENDING).count() == 6

    smtp_server.handler.block_after = 2  # the 3rd email hangs in its SMTP conversation
    first = celery_worker_process(OUTBOX_CLAIM_TIMEOUT_SECONDS=3)
    tasks.deliver_outbox.delay()
    wait_for(
        smtp_server.handler.blocked.is_set, what="the 3rd email in flight", log_path=first.log_path
    )
    celery_worker_process.kill(first)  # SIGKILL: no clean-up of any kind

    assert len(smtp_server.handler.messages) == 2
    rows = OutboxEmail.objects.all()
    assert sum(r.status == OutboxStatus.SENT for r in rows) == 2
    in_flight = [r for r in rows if r.status == OutboxStatus.PENDING and r.claimed_at]
    assert len(in_flight) == 1  # the dead worker holds only the row it was sending
    smtp_server.handler.release()

    second = celery_worker_process(OUTBOX_CLAIM_TIMEOUT_SECONDS=3)
    tasks.deliver_outbox.delay()  # the unclaimed rows go at once
    # At least 5: on a loaded machine the second worker may start after the dead worker's claim
    # went stale and send the retaken row in the same batch.
    wait_for(
        lambda: len(smtp_server.handler.messages) >= 5, what="5 emails", log_path=second.log_path
    )
    time.sleep(3.2)  # the dead worker's claim becomes stale
    tasks.deliver_outbox.delay()
    wait_for(
        lambda: len(smtp_server.handler.messages) == 6, what="6 emails", log_path=second.log_path
    )
    tasks.deliver_outbox.delay()
    time.sleep(1.0)

    keys = outbox_keys(smtp_server)
    assert len(keys) == 6 and len(set(keys)) == 6
    assert OutboxEmail.objects.filter(status=OutboxStatus.SENT).count() == 6
    retaken = OutboxEmail.objects.get(pk=in_flight[0].pk)
    assert retaken.attempts == 2
