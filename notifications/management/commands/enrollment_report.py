"""`enrollment_report`: print a month's enrollment figures, or email them to the study managers."""

from django.core.management.base import CommandError

from notifications import services
from notifications.management.commands._base import NowCommand
from notifications.services.enrollment_report import report_due
from reports import tabular
from reports.figures import month_of
from reports.selectors import enrollment_figures

FORMATS = {"text": tabular.as_text, "csv": tabular.as_csv, "json": tabular.as_json}


class Command(NowCommand):
    help = (
        "Print the enrollment report of a month (default: last month in the study's time zone) "
        "as text, CSV or JSON (keys in the README), or --send it to the study managers (once a "
        "month; --force sends it again)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--month", help="YYYY-MM (default: last month)")
        parser.add_argument("--format", choices=sorted(FORMATS), default="text")
        parser.add_argument(
            "--send",
            action="store_true",
            help="Email it to every study manager, once per month (then send due emails).",
        )
        parser.add_argument(
            "--force", action="store_true", help="With --send: send again even if already sent."
        )
        parser.add_argument(
            "--now",
            help="Run as of this instant, ISO-8601 with a UTC offset, e.g. 2026-03-01T12:00:00Z.",
        )

    def handle(self, *args, month=None, format="text", send=False, force=False, now=None, **opts):
        now = self.parse_now(now)
        if force and not send:
            raise CommandError("--force only goes with --send.")
        if month is None:
            first = report_due(now)[0]
        else:
            try:
                first = month_of(month)
            except ValueError:
                raise CommandError(f"--month {month!r} is not a month like 2026-11.") from None
        if not send:
            self.stdout.write(FORMATS[format](enrollment_figures(first)))
            return
        created = services.enrollment_report_queue(
            now=now, month=first if month else None, force=force
        )
        if created:
            self.stdout.write(f"Enrollment report for {first:%Y-%m}: {created} email(s) queued.")
        else:
            self.stdout.write(
                f"Enrollment report for {first:%Y-%m} was already queued for every study "
                "manager; nothing new (--force sends it again)."
            )
        self.stdout.write(f"Outbox: {services.outbox_deliver_due(now=now)}.")
