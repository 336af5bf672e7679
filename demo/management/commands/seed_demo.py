"""manage.py seed_demo: demo sites, logins and ~30 participants dated around today."""

import logging

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from demo.seed import demo_seed
from demo.sites import DEMO_PASSWORD


class Command(BaseCommand):
    help = (
        "Create demo sites S01 (New York), S02 (Berlin), S03 (Sydney), staff logins and about 30 "
        "participants in every status, dated around today. Safe to run again: logins get the "
        "password again and, the same day, nothing else changes. Demo participants made on an "
        "earlier day (or with --refresh) are removed and built again around today."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            default=DEMO_PASSWORD,
            help=f"Password for every demo login (default: {DEMO_PASSWORD}).",
        )
        parser.add_argument(
            "--refresh",
            action="store_true",
            help="Rebuild the demo participants around today even if they were made today.",
        )

    def handle(self, *args, **options):
        password = options.get("password") or DEMO_PASSWORD
        # The logins are listed once, below: not also as add_staff's "Staff ... added" log lines.
        staff_log = logging.getLogger("participants.staff")
        level = staff_log.level
        staff_log.setLevel(logging.WARNING)
        try:
            summary = demo_seed(password=password, refresh=options.get("refresh", False))
        except ValidationError as e:
            raise CommandError("Demo data not created: " + " ".join(e.messages)) from None
        finally:
            staff_log.setLevel(level)
        if summary.participants_removed:
            self.stdout.write(
                f"Removed {summary.participants_removed} demo participants made on an earlier "
                "day (or --refresh): the demo is rebuilt around today."
            )
        if summary.participants_created:
            self.stdout.write(f"Created {summary.participants_created} participants.")
        else:
            self.stdout.write("The demo sites already have participants; none added.")
        self.stdout.write("\nParticipants by status:")
        for status, count in summary.status_counts.items():
            self.stdout.write(f"  {status:<22} {count:>3}")
        self.stdout.write(
            f"\nOpen visits due today: {summary.due_today}; windows closing within 3 days: "
            f"{summary.closing_soon}; overdue safety assessments: {summary.overdue_safety}."
        )
        self.stdout.write(f"\nLogins (password: {password}):")
        for username, role, sites in summary.logins:
            self.stdout.write(f"  {username:<18} {role:<24} {sites}")
