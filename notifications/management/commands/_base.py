import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone


class NowCommand(BaseCommand):
    """A command that runs a notification job as of `--now` (default: the current time)."""

    def add_arguments(self, parser):
        parser.add_argument(
            "--now",
            help="Run as of this instant, ISO-8601 with a UTC offset, e.g. 2026-03-08T13:00:00Z.",
        )
        parser.add_argument(
            "--no-send", action="store_true", help="Only create/cancel outbox rows; send nothing."
        )

    def parse_now(self, raw: str | None) -> dt.datetime:
        if raw is None:
            return timezone.now()
        try:
            value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise CommandError(f"--now {raw!r} is not an ISO-8601 date and time.") from None
        if timezone.is_naive(value):
            raise CommandError(f"--now {raw!r} needs a UTC offset, e.g. {raw}Z or {raw}+01:00.")
        return value
