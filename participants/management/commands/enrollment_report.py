import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from participants.reports import enrollment_report


class Command(BaseCommand):
    help = "Print the enrollment report for a month (default: the current month)."

    def add_arguments(self, parser):
        parser.add_argument("--month", help="YYYY-MM")

    def handle(self, *args, month=None, **options):
        try:
            day = dt.datetime.strptime(month, "%Y-%m").date() if month else timezone.now().date()
        except ValueError:
            raise CommandError(f"--month {month!r} is not a month like 2026-11.") from None
        report = enrollment_report(day)
        self.stdout.write(f"SLE-001 enrollment report, {report.month:%B %Y}")
        header = f"{'site':6} {'consented':>9} {'enrolled':>8} {'failed':>6} {'total':>6} {'target':>6} {'%':>4}"
        self.stdout.write(header)
        for row in [*report.sites, report.totals]:
            self.stdout.write(
                f"{row.code:6} {row.consented_in_month:9} {row.enrolled_in_month:8} "
                f"{row.screen_failed_in_month:6} {row.enrolled_total:6} {row.target:6} "
                f"{row.percent_of_target:4}"
            )
