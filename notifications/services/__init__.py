"""Reminders, overdue safety flags and the email outbox, as plain functions.

One module per subject; this package re-exports the public actions, so callers write
`services.overdue_scan(...)`. The modules import each other in one direction only (emails <-
outbox, deviation_digest <- reminders, safety_alerts, safety_events, enrollment_report <-
delivery), and none imports notifications.tasks: the outbox asks for the send task by its
registered name.

    emails.py             templates of each kind, the links in them (reverse() + SITE_URL), and
                          the Message-ID
    outbox.py             creating a row once per dedup key, enqueueing its send task after
                          commit, the admin's resend
    delivery.py           claiming, re-validating, sending a row; retry with back-off, FAILED;
                          the every-minute delivery of due rows
    reminders.py          the hourly visit-reminder scan (digest or one email per item) and what a
                          reminder says when sent
    deviation_digest.py   deviation drafts older than 5 business days, listed in the daily digest
                          by reminders.py
    safety_alerts.py      the overdue scan: overdue flags, escalation, missed-safety alerts, who
                          is told; and what a safety alert says when sent
    safety_events.py      the every-minute safety-event scan: CRS/ICANS and grade >= 3 gradings,
                          alerting lab values, the SAE clock (12 h reminder, 24 h overdue and
                          escalation); and what those emails say when sent
    enrollment_report.py  the monthly enrollment report: queued once per study manager and month
                          for the 1st at 07:00 study time; figures (reports/) built at send,
                          pictures inline and every figure attached as CSV
    heartbeat.py          recording a periodic job's run

Delivery semantics. Every email is an OutboxEmail row first. The scans only create rows (with a
unique dedup key, so a scan run twice, or two scans at once, create each row once); delivery
claims each row with a conditional UPDATE before sending it, so two workers never send the same
row.

Delivery is at-least-once only in one narrow window: the SMTP server has accepted a message and the
worker dies before the UPDATE that marks the row sent commits. The row is then claimed again after
OUTBOX_CLAIM_TIMEOUT_SECONDS and sent a second time; the Message-ID header is the same both times
(<sle001-outbox-ID@...>), so a mail client can tell the duplicate. Everywhere else it is exactly once.

Nothing here hooks the schedule's services. A visit done, missed, moved (re-anchored) or closed by a
withdrawal is noticed because every row is re-validated against the stored visit/assessment when
it is sent (and on every reminder scan): a row whose subject no longer matches what it was created
for is cancelled with the reason.
"""

from notifications.services.delivery import (
    DeliveryResult,
    outbox_claim,
    outbox_deliver_due,
    outbox_send,
)
from notifications.services.emails import admin_url, participant_url, render_email
from notifications.services.enrollment_report import enrollment_report_queue
from notifications.services.heartbeat import heartbeat_record
from notifications.services.outbox import (
    enqueue_send,
    outbox_add,
    outbox_add_many,
    outbox_resend,
)
from notifications.services.reminders import ReminderScanResult, reminders_scan
from notifications.services.safety_alerts import OverdueScanResult, overdue_scan
from notifications.services.safety_events import SafetyEventScanResult, safety_events_scan

__all__ = [
    "DeliveryResult",
    "OverdueScanResult",
    "ReminderScanResult",
    "SafetyEventScanResult",
    "admin_url",
    "enqueue_send",
    "enrollment_report_queue",
    "heartbeat_record",
    "outbox_add",
    "outbox_add_many",
    "outbox_claim",
    "outbox_deliver_due",
    "outbox_resend",
    "outbox_send",
    "overdue_scan",
    "participant_url",
    "reminders_scan",
    "render_email",
    "safety_events_scan",
]
