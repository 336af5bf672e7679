"""The monthly enrollment report email for the study managers: queued once per manager per
month, its counts built at send time (counts only, no participant ids)."""

import datetime as dt

from django.utils import timezone

from notifications import selectors
from notifications.models import OutboxEmail, OutboxKind
from notifications.services.emails import participant_list_url
from notifications.services.outbox import outbox_add
from participants.models import Status
from participants.reports import enrollment_report


def enrollment_report_queue(*, now: dt.datetime | None = None) -> int:
    """Queue last month's enrollment report for every study manager; returns rows created.

    Run daily: the first run on or after the 1st queues it, later runs find the row and add
    nothing, so a beat that was down on the 1st still sends the report when it is back.
    """
    now = now or timezone.now()
    month = (now.date().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    created = 0
    for manager in selectors.study_managers():
        _, new = outbox_add(
            dedup_key=f"enrollment-report:{month:%Y-%m}:{manager.pk}",
            recipient=manager,
            kind=OutboxKind.ENROLLMENT_REPORT,
            send_after=now,
            now=now,
            subject=f"SLE-001 enrollment report, {month:%B %Y}",
            about_date=month,
            context={"month": month.isoformat()},
        )
        created += new
    return created


def enrollment_report_context(row: OutboxEmail) -> tuple[str | None, dict]:
    """The report's template context, built at send time: the counts are the latest, and carry
    no participant ids at all. Never cancelled: (None, context)."""
    report = enrollment_report(dt.date.fromisoformat(row.context["month"]))
    totals = report.totals
    return None, {
        "report": report,
        "totals": totals,
        "rows": [*report.sites, totals],
        "status_counts": [
            (label, totals.by_status.get(value, 0)) for value, label in Status.choices
        ],
        "url": participant_list_url(),
    }
