"""Putting rows in the outbox: create one (once per dedup key), ask a worker to send it, or put
rows back in the queue (the admin's resend).

The worker is asked by task NAME through the Celery app's registry (notifications/apps.py imports
the tasks module at start-up, so the task is registered in every process), never by importing
notifications.tasks: tasks import these services, and this package imports nothing of tasks.
"""

import datetime as dt
import logging
import time

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from notifications.models import OutboxEmail, OutboxStatus

log = logging.getLogger(__name__)

# The name notifications.tasks.send_outbox_email is registered under (it is declared with it).
SEND_OUTBOX_EMAIL_TASK = "notifications.tasks.send_outbox_email"


# Per process: the broker URL -> time.monotonic() until which nothing is sent to it (a time-out).
_broker_resting_until: dict[str, float] = {}


def enqueue_send(pk: int) -> None:
    """Ask a worker to send one row now. A broker outage loses nothing: the row stays pending in
    the database and the every-minute deliver_outbox job sends it.

    Called on commit in requests too (the admin's resend), so it must fail fast: one attempt,
    never retried here (CELERY_TASK_PUBLISH_RETRY = False), bounded by the broker time-outs
    (BROKER_TIMEOUT_SECONDS). After an attempt that timed out (a hung broker, not a refusal, which
    costs nothing), this process leaves the broker alone for BROKER_BACKOFF_SECONDS, so a request
    or a scan with many rows pays the time-out once, not once per row.
    """
    broker = current_app.conf.broker_url or ""
    if time.monotonic() < _broker_resting_until.get(broker, 0.0):
        log.warning(
            "Outbox row %s not enqueued (broker timed out lately); deliver_outbox will send it.", pk
        )
        return
    started = time.monotonic()
    try:
        # .delay() on the registered task, as before: honours CELERY_TASK_ALWAYS_EAGER and the
        # task's own options, which app.send_task would not.
        current_app.tasks[SEND_OUTBOX_EMAIL_TASK].delay(pk)
    except Exception as exc:  # kombu raises several types when the broker is unreachable
        if time.monotonic() - started >= settings.BROKER_TIMEOUT_SECONDS / 2:
            _broker_resting_until[broker] = time.monotonic() + settings.BROKER_BACKOFF_SECONDS
        log.warning("Outbox row %s not enqueued (%s); deliver_outbox will send it.", pk, exc)


def outbox_add(
    *,
    dedup_key: str,
    recipient,
    kind: str,
    send_after: dt.datetime,
    now: dt.datetime,
    subject: str = "",
    participant_id: int | None = None,
    visit_id: int | None = None,
    assessment_id: int | None = None,
    about_date: dt.date | None = None,
    context: dict | None = None,
) -> tuple[OutboxEmail, bool]:
    """Create the row for `dedup_key` unless it exists. Returns (row, created)."""
    row, created = OutboxEmail.objects.get_or_create(
        dedup_key=dedup_key,
        defaults={
            "recipient": recipient,
            "to_email": recipient.email,
            "kind": kind,
            "subject": subject[:250],
            "send_after": send_after,
            "participant_id": participant_id,
            "visit_id": visit_id,
            "assessment_id": assessment_id,
            "about_date": about_date,
            "context": context or {},
        },
    )
    if created and send_after <= now:
        # After commit: a worker must not look for a row that is not committed yet.
        transaction.on_commit(lambda: enqueue_send(row.pk))
    return row, created


def outbox_resend(rows: QuerySet[OutboxEmail], *, now: dt.datetime | None = None) -> int:
    """Put rows back in the queue (the admin's resend action): pending, due now, attempts reset."""
    now = now or timezone.now()
    ids = list(rows.values_list("pk", flat=True))
    count = OutboxEmail.objects.filter(pk__in=ids).update(
        status=OutboxStatus.PENDING,
        send_after=now,
        claimed_at=None,
        claim_token=None,
        attempts=0,
        last_error="",
        cancelled_reason="",
        failed_at=None,
    )
    for pk in ids:
        transaction.on_commit(lambda pk=pk: enqueue_send(pk))
    return count


# How many dedup keys one existence check reads (SQLite limits the parameters of a query).
_KEYS_PER_QUERY = 500


def outbox_add_many(rows: list[OutboxEmail], *, now: dt.datetime) -> int:
    """outbox_add for many rows at once: the rows whose dedup key is new are created in bulk
    (conflicts on the key ignored, so a row made meanwhile stays as it is), and those due now
    are sent to a worker after commit. Returns how many were created. A few queries per call,
    not two per row."""
    wanted = {row.dedup_key: row for row in rows}
    keys = list(wanted)
    existing = set()
    for start in range(0, len(keys), _KEYS_PER_QUERY):
        chunk = keys[start : start + _KEYS_PER_QUERY]
        existing |= set(
            OutboxEmail.objects.filter(dedup_key__in=chunk).values_list("dedup_key", flat=True)
        )
    new = [row for key, row in wanted.items() if key not in existing]
    for row in new:
        row.to_email = row.recipient.email
        row.subject = row.subject[:250]
    OutboxEmail.objects.bulk_create(new, ignore_conflicts=True, batch_size=_KEYS_PER_QUERY)
    due = [row.dedup_key for row in new if row.send_after <= now]
    pks = []
    for start in range(0, len(due), _KEYS_PER_QUERY):
        chunk = due[start : start + _KEYS_PER_QUERY]
        pks += OutboxEmail.objects.filter(dedup_key__in=chunk).values_list("pk", flat=True)
    if pks:
        # After commit: a worker must not look for a row that is not committed yet.
        transaction.on_commit(lambda: [enqueue_send(pk) for pk in pks])
    return len(new)
