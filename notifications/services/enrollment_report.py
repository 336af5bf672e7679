"""The monthly enrollment report email for the study managers: queued once per manager per month
for the 1st at 07:00 in the study's time zone (settings.STUDY_TIME_ZONE), sent through the outbox
with the pictures inline and every figure as a CSV attachment. Counts only: no study ids, no
screening numbers.

Once per month, whatever runs it: the row's de-duplication key is the month and the manager, so a
job run twice, or in two processes at once (the unique key decides on PostgreSQL), creates one
row, and the outbox's claim sends it once. Sending again is explicit (`force=True`, the command's
`--force`): a new row with the next free key of that month and manager.

The figures are built when the row is sent, from the status history as of the month's last day
(reports.selectors), so a late send says the same as an early one.
"""

import datetime as dt
import zoneinfo
from email.mime.image import MIMEImage
from email.mime.text import MIMEText

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from notifications import selectors
from notifications.models import OutboxEmail, OutboxKind
from notifications.services.emails import site_url
from notifications.services.outbox import outbox_add
from reports import pictures, tabular
from reports.figures import add_months, month_of
from reports.selectors import enrollment_figures

SEND_AT = dt.time(7, 0)  # on the 1st, in the study's time zone


def report_due(now: dt.datetime) -> tuple[dt.date, dt.datetime]:
    """(the month to report, when its email is due): last month, on this month's 1st at 07:00,
    both in the study's time zone (00:30 on the 1st there may still be the 31st in UTC)."""
    zone = zoneinfo.ZoneInfo(settings.STUDY_TIME_ZONE)
    this_month = now.astimezone(zone).date().replace(day=1)
    return add_months(this_month, -1), dt.datetime.combine(this_month, SEND_AT, tzinfo=zone)


def dedup_key(month: dt.date, manager, n: int = 0) -> str:
    key = f"enrollment-report:{month:%Y-%m}:{manager.pk}"
    return key if n == 0 else f"{key}:again-{n}"


def enrollment_report_queue(
    *, now: dt.datetime | None = None, month: dt.date | None = None, force: bool = False
) -> int:
    """Queue the enrollment report of `month` (default: last month, due on this month's 1st at
    07:00 study time) for every study manager; returns the rows created.

    Run hourly: the first run of the month queues it (held until 07:00), later runs find the rows
    and add nothing, so a beat that was down on the 1st still sends it when it is back.
    `force`: one more email to each manager now, even if this month's was sent.
    """
    now = now or timezone.now()
    due_month, send_after = report_due(now)
    if month is not None or force:
        send_after = now
    month = (month or due_month).replace(day=1)
    created = 0
    for manager in selectors.study_managers():
        n = 0
        if force:
            taken = OutboxEmail.objects.filter(dedup_key__startswith=dedup_key(month, manager))
            n = taken.count()
        _, new = outbox_add(
            dedup_key=dedup_key(month, manager, n),
            recipient=manager,
            kind=OutboxKind.ENROLLMENT_REPORT,
            send_after=send_after,
            now=now,
            subject=f"SLE-001 enrollment report, {month:%B %Y}",
            about_date=month,
            context={"month": f"{month:%Y-%m}"},
        )
        created += new
    return created


def enrollment_report_page_url(month: dt.date) -> str:
    return site_url(f"{reverse('dashboard:enrollment_report')}?month={month:%Y-%m}")


def enrollment_report_attachments(report: dict) -> list:
    """The PNGs the HTML shows inline (cid:consort, cid:accrual) and the CSV of every figure."""
    parts = []
    for name, draw in (
        ("consort", pictures.consort_picture),
        ("accrual", pictures.accrual_picture),
    ):
        image = MIMEImage(draw(report, "png"), "png")
        image.add_header("Content-ID", f"<{name}>")
        image.add_header("Content-Disposition", "inline", filename=f"{name}.png")
        parts.append(image)
    figures = MIMEText(tabular.as_csv(report), "csv", "utf-8")
    figures.add_header(
        "Content-Disposition", "attachment", filename=f"enrollment-{report['month']}.csv"
    )
    parts.append(figures)
    return parts


def enrollment_report_context(row: OutboxEmail) -> tuple[str | None, dict]:
    """The email's template context and its attachments, built at send time from the history
    as of the month's end (figures carry no participant id at all). Never cancelled."""
    month = month_of(row.context["month"][:7])
    report = enrollment_figures(month)
    return None, {
        "report": report,
        "month": month,
        "total": report["total"],
        "tables": tabular.tables(report),
        "url": enrollment_report_page_url(month),
        "attachments": enrollment_report_attachments(report),
    }
