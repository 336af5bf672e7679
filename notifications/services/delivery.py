"""Sending outbox rows: claim one (never two workers for one row), re-validate it against the
stored visit/assessment, render and send it, and retry with back-off or give up (FAILED) when
SMTP or the row's own data fails. Delivery semantics: see the package docstring."""

import datetime as dt
import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from notifications import selectors
from notifications.models import (
    REMINDER_KINDS,
    SAFETY_EVENT_KINDS,
    OutboxEmail,
    OutboxKind,
    OutboxStatus,
)
from notifications.services.emails import TEMPLATE_OF_KIND, message_id, render_email
from notifications.services.enrollment_report import enrollment_report_context
from notifications.services.reminders import reminder_context
from notifications.services.safety_alerts import safety_context
from notifications.services.safety_events import safety_event_context

log = logging.getLogger(__name__)

# Minutes to wait before the n-th retry of a failed SMTP send (the last value repeats).
RETRY_BACKOFF_MINUTES = [1, 5, 15, 60, 240]


@dataclass
class DeliveryResult:
    counts: Counter = field(default_factory=Counter)
    safety_failed: int = 0  # safety emails FAILED in the last 7 days and not resent

    def problems(self) -> dict:
        return {"safety_emails_failed": self.safety_failed}

    def __str__(self) -> str:
        if not self.counts:
            return "no email due"
        return ", ".join(f"{n} {what}" for what, n in sorted(self.counts.items()))


def outbox_claim(pk: int, *, now: dt.datetime) -> uuid.UUID | None:
    """Claim one due row for sending. Returns the claim token, or None if someone else holds it.

    One conditional UPDATE: of two workers racing for the row exactly one changes it (PostgreSQL
    re-checks the WHERE clause on the locked row; SQLite runs one writer at a time). A claim older
    than OUTBOX_CLAIM_TIMEOUT_SECONDS belongs to a dead worker and may be taken over.
    """
    token = uuid.uuid4()
    claimed = (
        selectors.outbox_claimable(now)
        .filter(pk=pk)
        .update(claimed_at=now, claim_token=token, attempts=F("attempts") + 1)
    )
    return token if claimed else None


def outbox_send(pk: int, *, now: dt.datetime | None = None) -> str:
    """Claim, re-validate and send one row. Returns what happened: sent, cancelled, retry,
    failed, or skipped (not due, not pending, or claimed by another worker)."""
    now = now or timezone.now()
    token = outbox_claim(pk, now=now)
    if token is None:
        return "skipped"
    row = OutboxEmail.objects.select_related("recipient").get(pk=pk)
    try:
        # A savepoint, so a database error here leaves an enclosing transaction usable.
        with transaction.atomic():
            problem, email = _prepare(row, now)
    except Exception as exc:  # a bug or bad data in this row: retried, then FAILED, and shown
        log.exception("Outbox row %s (%s) could not be prepared for sending.", pk, row.kind)
        return _retry_or_fail(row, token, exc, now)
    if problem:
        _finish(
            pk,
            token,
            status=OutboxStatus.CANCELLED,
            cancelled_reason=problem[:250],
            claimed_at=None,
        )
        return "cancelled"
    return _deliver(row, token, email, now)


def outbox_deliver_due(*, now: dt.datetime | None = None, limit: int = 500) -> DeliveryResult:
    """Send every due pending row (the every-minute job, and what the commands run).

    Rows are claimed one at a time, so a worker that dies holds at most the row it was sending;
    the rest are sent by the next run, and that row once its claim is stale. An unexpected error
    on one row is logged and the loop goes on: one bad row never holds up the others (outbox_send
    itself retries, then fails, a row it cannot prepare).
    """
    result = DeliveryResult()
    start = now or timezone.now()
    ids = list(
        selectors.outbox_claimable(start)
        .order_by("send_after", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        try:
            outcome = outbox_send(pk, now=now)
        except Exception:  # e.g. a database error while claiming: the row is tried next run
            log.exception("Outbox row %s: unexpected error; going on with the next row.", pk)
            outcome = "error"
        result.counts[outcome] += 1
    result.safety_failed = selectors.safety_emails_failed(start).count()
    return result


def _prepare(row: OutboxEmail, now: dt.datetime) -> tuple[str | None, tuple | None]:
    """(why the row is cancelled, None) or (None, (subject, text, html)) to send."""
    problem, context = _revalidate(row, now)
    if problem:
        return problem, None
    # Files the kind attaches (the enrollment report's inline pictures and CSV), else none.
    return None, (*render_email(TEMPLATE_OF_KIND[row.kind], context), context.get("attachments"))


def _revalidate(row: OutboxEmail, now: dt.datetime) -> tuple[str | None, dict]:
    """Re-validate a row at send time: (why it is cancelled, {}) or (None, template context)."""
    if row.recipient is None or not row.recipient.is_active:
        return "the recipient's account is gone or inactive", {}
    if row.kind in REMINDER_KINDS:
        return reminder_context(row, now)
    if row.kind == OutboxKind.ENROLLMENT_REPORT:
        return enrollment_report_context(row)
    if row.kind in SAFETY_EVENT_KINDS:
        return safety_event_context(row, now)
    return safety_context(row, now)


def _deliver(row: OutboxEmail, token: uuid.UUID, email: tuple, now: dt.datetime) -> str:
    """Send the row on a connection of its own and mark it sent as soon as the SMTP server has
    accepted the message (its reply to DATA), before the session is closed (QUIT): a worker
    killed in between sends it again (same Message-ID), so that window is kept to one UPDATE."""
    subject, text, html, attachments = email
    connection = get_connection()
    message = EmailMultiAlternatives(
        subject,
        text,
        settings.DEFAULT_FROM_EMAIL,
        [row.to_email],
        headers={"Message-ID": message_id(row.pk), "X-SLE001-Outbox": row.dedup_key},
        connection=connection,
    )
    message.attach_alternative(html, "text/html")
    if attachments:
        # Pictures the HTML shows by cid: belong with it in multipart/related.
        message.mixed_subtype = "related"
        for part in attachments:
            message.attach(part)
    try:
        # Opened here, so send_messages leaves it open: QUIT comes after the row is marked.
        connection.open()
        connection.send_messages([message])
    except Exception as exc:  # SMTP and socket errors of every kind: retried, and shown
        _close_quietly(connection, row.pk)
        return _retry_or_fail(row, token, exc, now)
    # The at-least-once window (package docstring): the server has the message, this UPDATE
    # has not committed yet.
    _finish(
        row.pk,
        token,
        status=OutboxStatus.SENT,
        sent_at=timezone.now(),
        subject=subject[:250],
        body_text=text,
        body_html=html,
        last_error="",
    )
    _close_quietly(connection, row.pk)
    return "sent"


def _close_quietly(connection, pk: int) -> None:
    """QUIT and close. The message is accepted (or the send failed) already: a server that
    drops the session at QUIT changes nothing about the row."""
    try:
        connection.close()
    except Exception as exc:  # e.g. SMTPServerDisconnected at QUIT
        log.warning("Outbox row %s: closing the SMTP session failed (%s).", pk, exc)


def _finish(pk: int, token: uuid.UUID, **fields) -> bool:
    done = OutboxEmail.objects.filter(pk=pk, claim_token=token).update(**fields)
    if not done:
        log.warning("Outbox row %s: claim lost before finishing (worker too slow?).", pk)
    return bool(done)


def _retry_or_fail(row: OutboxEmail, token: uuid.UUID, exc: Exception, now: dt.datetime) -> str:
    """After a failed attempt: release the claim with a back-off, or give up (FAILED, shown on
    the staff banner and /healthz for safety kinds) after OUTBOX_MAX_ATTEMPTS claims."""
    pk = row.pk
    error = f"{type(exc).__name__}: {exc}"[:2000]
    if row.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        _finish(
            pk,
            token,
            status=OutboxStatus.FAILED,
            last_error=error,
            failed_at=now,
            claimed_at=None,
        )
        log.error("Outbox row %s failed for good after %s attempts: %s", pk, row.attempts, error)
        return "failed"
    wait = RETRY_BACKOFF_MINUTES[min(row.attempts, len(RETRY_BACKOFF_MINUTES)) - 1]
    _finish(
        pk,
        token,
        last_error=error,
        send_after=now + dt.timedelta(minutes=wait),
        claimed_at=None,
        claim_token=None,
    )
    log.warning(
        "Outbox row %s not sent (attempt %s), retry in %s min: %s", pk, row.attempts, wait, error
    )
    return "retry"
