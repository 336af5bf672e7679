"""How the outbox asks a worker to send a row: by the send task's registered name (the services
never import notifications.tasks), after commit, and losing nothing when the broker is down."""

import ast
import datetime as dt
from pathlib import Path

import pytest
from celery import current_app
from kombu.exceptions import OperationalError

from notifications import services, tasks
from notifications.models import OutboxEmail, OutboxKind, OutboxStatus
from notifications.services import outbox
from tests.support import REPORT_DUE, UTC

pytestmark = pytest.mark.usefixtures("memory_broker")

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SERVICES = Path(services.__file__).parent


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_no_services_module_imports_the_tasks_module():
    modules = sorted(SERVICES.glob("*.py"))
    assert len(modules) >= 7
    for path in modules:
        assert "notifications.tasks" not in imported_modules(path), path.name


def test_the_outbox_enqueues_the_registered_send_task():
    # The name messages already queued (before a deploy) carry: it must not change.
    assert outbox.SEND_OUTBOX_EMAIL_TASK == "notifications.tasks.send_outbox_email"
    assert tasks.send_outbox_email.name == outbox.SEND_OUTBOX_EMAIL_TASK
    registered = current_app.tasks[outbox.SEND_OUTBOX_EMAIL_TASK]
    assert registered is tasks.send_outbox_email._get_current_object()


def add_row(user, key: str, send_after: dt.datetime):
    return services.outbox_add(
        dedup_key=key,
        recipient=user,
        kind=OutboxKind.ENROLLMENT_REPORT,
        send_after=send_after,
        now=NOW,
        context={"month": "2026-02-01"},
    )


def test_a_due_row_is_enqueued_after_commit_and_a_later_one_is_not(
    manager, monkeypatch, django_capture_on_commit_callbacks
):
    enqueued = []
    task = current_app.tasks[outbox.SEND_OUTBOX_EMAIL_TASK]
    monkeypatch.setattr(task, "delay", lambda pk: enqueued.append(pk))

    with django_capture_on_commit_callbacks(execute=True):
        due, created = add_row(manager, "test:due", NOW)
        add_row(manager, "test:later", NOW + dt.timedelta(hours=1))
        assert created and enqueued == []  # a worker must not look for an uncommitted row
    assert enqueued == [due.pk]

    with django_capture_on_commit_callbacks(execute=True):
        _, created = add_row(manager, "test:due", NOW)  # exists: nothing new to enqueue
    assert not created and enqueued == [due.pk]


def test_a_broker_outage_loses_nothing_and_fails_nothing(
    manager, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    def broker_down(pk):
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    task = current_app.tasks[outbox.SEND_OUTBOX_EMAIL_TASK]
    monkeypatch.setattr(task, "delay", broker_down)

    with django_capture_on_commit_callbacks(execute=True):
        row, created = add_row(manager, "test:due", NOW)

    assert created
    row.refresh_from_db()
    assert row.status == OutboxStatus.PENDING and row.claimed_at is None
    assert "not enqueued" in caplog.text and "deliver_outbox will send it" in caplog.text


def test_eager_celery_still_sends_at_commit(
    manager, mailoutbox, django_capture_on_commit_callbacks
):
    eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert services.enrollment_report_queue(now=REPORT_DUE) == 1
    finally:
        current_app.conf.task_always_eager = eager
    assert [m.to for m in mailoutbox] == [[manager.email]]
    assert OutboxEmail.objects.get().status == OutboxStatus.SENT
