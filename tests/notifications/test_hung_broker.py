"""A hung broker (a socket that accepts connections and never answers, as a hung Redis does) never
takes the web down: /healthz, a recording form, a job's enqueues and the admin's resend all answer
within a few times the configured time-outs, the rows wait in the outbox, and once the broker is
back every email is delivered once (real Redis, a real Celery worker, aiosmtpd).

And the window in which a killed worker resends an email: the row is marked sent as soon as the
SMTP server has accepted the message, before the session's QUIT.

A request that hangs fails the test through a thread's join time-out (`answered`), never through
a measured duration."""

import datetime as dt
import socket
import threading
import types

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from notifications import services, tasks
from notifications.models import OutboxEmail, OutboxStatus
from notifications.services import outbox
from notifications.views import BROKER_PROBE_SECONDS
from schedule.models import VisitStatus
from tests.notifications.test_worker import outbox_keys, overdue_participants, wait_for_sent
from tests.support import REPORT_DUE, SMTPCollector, consent, use_celery_broker, visit

pytestmark = pytest.mark.integration

# "A few times the configured time-out": a call that waits on the hung broker without a time-out
# (30-60 s before this was fixed) fails the test; one that gives up in time passes easily.
SLACK = 4


@pytest.fixture
def hung_broker():
    """A listening TCP socket whose connections are accepted and never answered: its redis://
    URL, and the connections it accepted (so a test can see the code really went there)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.1)
    accepted, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield types.SimpleNamespace(
        url=f"redis://127.0.0.1:{server.getsockname()[1]}/0", accepted=accepted
    )
    stop.set()
    thread.join(5)
    for conn in accepted:
        conn.close()
    server.close()


def answered(call, limit: float):
    """Run `call` in a thread and return its result; fail if it is still waiting after `limit`
    seconds (it hangs on the broker)."""
    outcome = {}

    def run():
        try:
            outcome["result"] = call()
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc
        finally:
            connections.close_all()  # this thread's own; else the test database cannot be dropped

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        pytest.fail(f"still waiting after {limit} s: hung on the broker")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def test_a_hung_broker_leaves_the_web_answering_and_the_emails_wait_for_it(
    protocol,
    site,
    coordinator,
    investigator,
    client,
    healthz,
    celery_worker_process,
    smtp_server,
    redis_broker,
    hung_broker,
):
    worker = celery_worker_process()  # on the real Redis: only this process's broker hangs
    overdue_participants(site, coordinator, 1)
    today = timezone.now().astimezone(site.tz).date()
    recorded = consent(site, coordinator, today - dt.timedelta(days=1), screening_number="SCR-900")
    scr = visit(recorded, "SCR")
    enqueue_limit = SLACK * settings.BROKER_TIMEOUT_SECONDS

    use_celery_broker(hung_broker.url)
    try:
        health = answered(healthz, SLACK * BROKER_PROBE_SECONDS)
        client.force_login(coordinator)
        done = answered(
            lambda: client.post(
                reverse("dashboard:visit_done", args=[scr.pk]), {"actual_date": today.isoformat()}
            ),
            enqueue_limit,
        )
        # The overdue job: its enqueues on commit time out once, the other rows skip the broker.
        scan = answered(services.overdue_scan, enqueue_limit)
        # The admin's resend enqueues from a request: one time-out, not one per row.
        outbox._broker_resting_until.clear()
        # The administrator (role groups are flushed between transactional tests).
        client.force_login(get_user_model().objects.create_superuser("root", "root@example.org"))
        rows = list(OutboxEmail.objects.values_list("pk", flat=True))
        resent = answered(
            lambda: client.post(
                reverse("admin:notifications_outboxemail_changelist"),
                {"action": "resend", "_selected_action": rows},
            ),
            enqueue_limit,
        )
    finally:
        use_celery_broker(redis_broker)
        outbox._broker_resting_until.clear()

    assert hung_broker.accepted  # the probe and the enqueues did reach the hung broker
    assert health.status_code == 503 and health.json()["broker"]["ok"] is False
    assert done.status_code == 302
    scr.refresh_from_db()
    assert scr.status == VisitStatus.DONE
    assert scan.emails == 2 and len(rows) == 2  # the coordinator and the investigator
    assert resent.status_code == 302
    assert smtp_server.handler.messages == []
    assert set(OutboxEmail.objects.values_list("status", flat=True)) == {OutboxStatus.PENDING}

    assert healthz().json()["broker"]["ok"] is True  # the broker is back
    tasks.deliver_outbox.delay()  # beat's next every-minute run

    wait_for_sent(smtp_server, 2, log_path=worker.log_path)
    keys = outbox_keys(smtp_server)
    assert len(keys) == 2 and len(set(keys)) == 2
    assert set(OutboxEmail.objects.values_list("status", flat=True)) == {OutboxStatus.SENT}


class QuitHangs(SMTPCollector):
    """Accepts every message, then holds the session's QUIT until `finish_quit()`."""

    def __init__(self):
        super().__init__()
        self.quitting = threading.Event()
        self._quit_may_end = threading.Event()

    async def handle_QUIT(self, server, session, envelope):
        import asyncio

        self.quitting.set()
        while not self._quit_may_end.is_set():
            await asyncio.sleep(0.05)
        return "221 Bye"

    def finish_quit(self):
        self._quit_may_end.set()


@pytest.fixture
def smtp_quit_hangs(settings):
    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = QuitHangs()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    yield handler
    handler.finish_quit()
    controller.stop()


def test_a_row_is_marked_sent_once_the_server_accepted_it_before_the_session_ends(
    transactional_db, manager, memory_broker, smtp_quit_hangs
):
    services.enrollment_report_queue(now=REPORT_DUE)
    row = OutboxEmail.objects.get()
    sending = {}

    def send():
        try:
            sending["outcome"] = services.outbox_send(row.pk)
        finally:
            connections.close_all()

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    try:
        assert smtp_quit_hangs.quitting.wait(30), "the worker never said QUIT"
        # The server has the message and the session is still open: already marked sent, so
        # a worker killed now does not send it again.
        assert len(smtp_quit_hangs.messages) == 1
        row.refresh_from_db()
        assert row.status == OutboxStatus.SENT and row.sent_at is not None
    finally:
        smtp_quit_hangs.finish_quit()
        thread.join(30)
    assert sending["outcome"] == "sent"


class QuitFails(SMTPCollector):
    async def handle_QUIT(self, server, session, envelope):
        server.transport.close()  # hangs up instead of "221 Bye"
        return "221 Bye"


def test_a_server_that_hangs_up_at_quit_does_not_make_an_accepted_email_a_failure(
    db, manager, memory_broker, settings
):
    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = QuitFails()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    try:
        services.enrollment_report_queue(now=REPORT_DUE)
        row = OutboxEmail.objects.get()
        outcome = services.outbox_send(row.pk)
    finally:
        controller.stop()
    row.refresh_from_db()
    assert outcome == "sent" and row.status == OutboxStatus.SENT and row.attempts == 1
    assert len(handler.messages) == 1
