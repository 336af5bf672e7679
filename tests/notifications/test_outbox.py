"""The outbox: claiming (never twice), concurrent scans, SMTP failures retried with back-off and
visible, stale claims of dead workers taken over, and the admin's list and resend action."""

import datetime as dt
import threading
from collections import Counter

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications import services
from notifications.models import OutboxEmail, OutboxKind, OutboxStatus
from notifications.services import delivery
from participants.models import StaffRole
from schedule.models import Assessment
from tests.support import UTC, consent, local, make_user

pytestmark = pytest.mark.usefixtures("memory_broker")

CONSENTED = dt.date(2026, 4, 6)


class RefusingBackend(BaseEmailBackend):
    """An SMTP server that refuses everything."""

    def send_messages(self, messages):
        raise ConnectionRefusedError(111, "Connection refused")


def overdue_rows(site, coordinator, count=1):
    """`count` participants whose SCR safety items are overdue; returns when they are."""
    due = None
    for n in range(count):
        with time_machine.travel(local(CONSENTED, 12, site.time_zone), tick=False):
            p = consent(site, coordinator, CONSENTED, screening_number=f"SCR-{n:03d}")
        due = p.visits.get(definition__code="SCR").assessments.filter(is_safety=True)[0].due_at
    return due


@pytest.fixture
def one_row(protocol, site, coordinator):
    due = overdue_rows(site, coordinator)
    at = due + dt.timedelta(minutes=1)
    services.overdue_scan(now=at)
    return OutboxEmail.objects.get(), at


def test_a_claimed_row_cannot_be_claimed_again_until_the_claim_is_stale(one_row, settings):
    row, at = one_row
    settings.OUTBOX_CLAIM_TIMEOUT_SECONDS = 600
    token = services.outbox_claim(row.pk, now=at)
    assert token is not None
    assert services.outbox_claim(row.pk, now=at + dt.timedelta(minutes=9)) is None
    # The first worker died: after the timeout another may take the row over.
    assert services.outbox_claim(row.pk, now=at + dt.timedelta(minutes=11)) not in (None, token)
    row.refresh_from_db()
    assert row.attempts == 2


def test_a_row_is_not_sent_before_send_after(one_row, mailoutbox):
    row, at = one_row
    OutboxEmail.objects.filter(pk=row.pk).update(send_after=at + dt.timedelta(hours=1))
    assert services.outbox_send(row.pk, now=at) == "skipped"
    assert mailoutbox == []


def test_running_delivery_twice_sends_nothing_new(one_row, mailoutbox):
    row, at = one_row
    assert str(services.outbox_deliver_due(now=at)) == "1 sent"
    assert str(services.outbox_deliver_due(now=at)) == "no email due"
    assert services.outbox_send(row.pk, now=at) == "skipped"
    assert len(mailoutbox) == 1
    row.refresh_from_db()
    assert row.status == OutboxStatus.SENT and row.sent_at is not None
    assert row.body_text and row.body_html and row.subject == mailoutbox[0].subject
    assert mailoutbox[0].extra_headers["Message-ID"].startswith(f"<sle001-outbox-{row.pk}@")


def test_smtp_failure_is_retried_with_back_off_then_marked_failed_and_visible(
    one_row, settings, mailoutbox
):
    row, at = one_row
    settings.EMAIL_BACKEND = "tests.notifications.test_outbox.RefusingBackend"
    settings.OUTBOX_MAX_ATTEMPTS = 3

    assert services.outbox_send(row.pk, now=at) == "retry"
    row.refresh_from_db()
    assert row.status == OutboxStatus.PENDING and row.attempts == 1
    assert row.send_after == at + dt.timedelta(minutes=1)
    assert row.claimed_at is None and "Connection refused" in row.last_error
    assert services.outbox_send(row.pk, now=at + dt.timedelta(seconds=30)) == "skipped"

    assert services.outbox_send(row.pk, now=at + dt.timedelta(minutes=1)) == "retry"
    row.refresh_from_db()
    assert row.send_after == at + dt.timedelta(minutes=6)  # then 5 minutes
    assert services.outbox_send(row.pk, now=at + dt.timedelta(minutes=6)) == "failed"
    row.refresh_from_db()
    assert row.status == OutboxStatus.FAILED and row.attempts == 3

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    services.outbox_resend(OutboxEmail.objects.filter(pk=row.pk), now=at + dt.timedelta(hours=1))
    assert services.outbox_send(row.pk, now=at + dt.timedelta(hours=1)) == "sent"
    assert len(mailoutbox) == 1


def test_an_inactive_recipient_is_not_emailed(one_row, coordinator, mailoutbox):
    row, at = one_row
    coordinator.is_active = False
    coordinator.save()
    assert services.outbox_send(row.pk, now=at) == "cancelled"
    row.refresh_from_db()
    assert "inactive" in row.cancelled_reason and mailoutbox == []


@pytest.mark.django_db(transaction=True)
def test_two_scans_at_the_same_time_send_each_email_once(protocol, site, coordinator):
    make_user("coord-b", StaffRole.COORDINATOR, [site])
    due = overdue_rows(site, coordinator, count=4)
    at = due + dt.timedelta(minutes=1)
    mail.outbox = []
    barrier = threading.Barrier(2)
    errors = []

    def scan_and_send():
        try:
            barrier.wait(timeout=10)
            services.overdue_scan(now=at)
            services.outbox_deliver_due(now=at)
        except Exception as exc:  # reported below; a thread's exception is otherwise lost
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=scan_and_send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    # 4 participants x 2 coordinators, each exactly once.
    keys = [m.extra_headers["X-SLE001-Outbox"] for m in mail.outbox]
    assert len(keys) == 8 and len(set(keys)) == 8
    assert OutboxEmail.objects.filter(status=OutboxStatus.SENT).count() == 8
    # Every flagged assessment is named in exactly one email per recipient: two scans never
    # split one visit's items between them (the second scan's would be named in no email).
    flagged = list(
        Assessment.objects.filter(overdue_flagged_at__isnull=False).select_related(
            "definition", "visit__participant"
        )
    )
    assert len(flagged) == Assessment.objects.filter(is_safety=True, due_at__lte=at).count()
    named = Counter()
    for message in mail.outbox:
        label = message.subject.split()[3]  # "SLE-001 OVERDUE safety: <label> SCR (...)"
        for line in message.body.splitlines():
            if line.startswith("- "):
                named[(message.to[0], label, line[2:].split()[0])] += 1
    recipients = {m.to[0] for m in mail.outbox}
    expected = {
        (to, a.visit.participant.label, a.definition.code) for a in flagged for to in recipients
    }
    assert set(named) == expected
    assert set(named.values()) == {1}


@pytest.mark.django_db(transaction=True)
def test_two_reminder_scans_at_the_same_time_make_one_digest(protocol, site, coordinator):
    target = dt.date(2026, 6, 15)
    for n in range(3):
        consented = target - dt.timedelta(days=28)
        with time_machine.travel(local(consented, 12, site.time_zone), tick=False):
            consent(site, coordinator, consented, screening_number=f"SCR-{n:03d}")
    at = local(target - dt.timedelta(days=7), 8, site.time_zone)
    mail.outbox = []
    barrier = threading.Barrier(2)
    errors = []

    def scan_and_send():
        try:
            barrier.wait(timeout=10)
            services.reminders_scan(now=at)
            services.outbox_deliver_due(now=at)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=scan_and_send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    assert len(mail.outbox) == 1
    assert "3 items" in mail.outbox[0].subject


def test_admin_lists_the_outbox_with_filters_and_resends(one_row, admin_client, mailoutbox):
    row, at = one_row
    OutboxEmail.objects.filter(pk=row.pk).update(
        status=OutboxStatus.FAILED, last_error="SMTPServerDisconnected: gone", attempts=5
    )
    page = admin_client.get("/admin/notifications/outboxemail/?status__exact=failed")
    assert page.status_code == 200
    assert "SMTPServerDisconnected" in page.content.decode()
    assert (
        admin_client.get("/admin/notifications/outboxemail/?status__exact=sent")
        .context["cl"]
        .result_count
        == 0
    )

    with time_machine.travel(at + dt.timedelta(hours=1), tick=False):
        response = admin_client.post(
            "/admin/notifications/outboxemail/",
            {"action": "resend", "_selected_action": [row.pk]},
            follow=True,
        )
        assert "queued again" in response.content.decode()
        services.outbox_deliver_due()
    row.refresh_from_db()
    assert row.status == OutboxStatus.SENT and row.attempts == 1
    assert len(mailoutbox) == 1


def test_coordinators_see_only_their_own_emails_in_the_admin(one_row, client, site):
    other = make_user("coord-c", StaffRole.COORDINATOR, [site], is_staff=True)
    from django.contrib.auth.models import Permission

    other.user_permissions.add(Permission.objects.get(codename="view_outboxemail"))
    client.force_login(other)
    page = client.get("/admin/notifications/outboxemail/")
    assert page.status_code == 200
    assert page.context["cl"].result_count == 0


def test_send_after_is_stored_in_utc(one_row):
    row, at = one_row
    assert row.send_after.utcoffset() == dt.timedelta(0)
    assert row.send_after == at.astimezone(UTC)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite: BEGIN IMMEDIATE serialises")
def test_on_postgresql_the_overdue_scan_takes_its_advisory_lock_first(protocol, site, coordinator):
    with time_machine.travel(local(CONSENTED, 12, site.time_zone), tick=False):
        consent(site, coordinator, CONSENTED)
    with CaptureQueriesContext(connection) as queries:
        result = services.overdue_scan(
            now=local(CONSENTED + dt.timedelta(days=60), 12, site.time_zone)
        )
    assert result.flagged
    sql = [q["sql"] for q in queries.captured_queries]
    # Only the read-only check of whether there is anything to do comes before the lock; every
    # read that decides what to flag, escalate or alert comes after it.
    [check] = [i for i, q in enumerate(sql) if "UNION ALL" in q]
    first = next(i for i, q in enumerate(sql) if "schedule_assessment" in q and i != check)
    lock = [i for i, q in enumerate(sql) if "pg_advisory_xact_lock" in q]
    assert check == 0 and lock and lock[0] < first
    assert not any("SKIP LOCKED" in q for q in sql)


def test_a_row_that_cannot_be_rendered_is_retried_then_failed_and_never_stalls_the_others(
    one_row, manager, settings, mailoutbox, monkeypatch, caplog
):
    row, at = one_row
    settings.OUTBOX_MAX_ATTEMPTS = 2
    services.enrollment_report_queue(now=at)  # a second row, due at the same time, after it
    real = services.render_email

    def broken(name, context):
        if name == "safety_overdue":
            raise KeyError("a template context that does not hold")
        return real(name, context)

    monkeypatch.setattr(delivery, "render_email", broken)

    first = services.outbox_deliver_due(now=at)

    assert first.counts == {"retry": 1, "sent": 1}
    assert [m.to[0] for m in mailoutbox] == [manager.email]
    row.refresh_from_db()
    assert row.status == OutboxStatus.PENDING and row.attempts == 1 and row.claimed_at is None
    assert row.send_after == at + dt.timedelta(minutes=1)
    assert "KeyError" in row.last_error
    assert "could not be prepared" in caplog.text

    second = services.outbox_deliver_due(now=at + dt.timedelta(minutes=1))
    assert second.counts == {"failed": 1}
    row.refresh_from_db()
    assert row.status == OutboxStatus.FAILED and row.failed_at == at + dt.timedelta(minutes=1)
    assert second.safety_failed == 1 and second.problems() == {"safety_emails_failed": 1}

    monkeypatch.setattr(delivery, "render_email", real)
    services.outbox_resend(OutboxEmail.objects.filter(pk=row.pk), now=at + dt.timedelta(hours=1))
    row.refresh_from_db()
    assert row.failed_at is None
    third = services.outbox_deliver_due(now=at + dt.timedelta(hours=1))
    assert third.counts == {"sent": 1} and third.safety_failed == 0
    assert OutboxEmail.objects.get(pk=row.pk).kind == OutboxKind.SAFETY_OVERDUE


def test_an_unexpected_error_outside_the_row_is_logged_and_the_loop_goes_on(
    protocol, site, coordinator, mailoutbox, monkeypatch, caplog
):
    due = overdue_rows(site, coordinator, count=2)
    at = due + dt.timedelta(minutes=1)
    services.overdue_scan(now=at)
    first_pk = OutboxEmail.objects.order_by("pk").first().pk
    real = services.outbox_claim

    def claim(pk, *, now):
        if pk == first_pk:
            raise RuntimeError("boom")
        return real(pk, now=now)

    monkeypatch.setattr(delivery, "outbox_claim", claim)
    result = services.outbox_deliver_due(now=at)
    assert result.counts == {"error": 1, "sent": 1}
    assert len(mailoutbox) == 1 and "going on with the next row" in caplog.text
