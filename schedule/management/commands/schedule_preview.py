"""manage.py schedule_preview: the visit schedule a participant with given dates would get."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from schedule.models import ProtocolVersion
from schedule.preview import protocol_preview


def parse_date(value, option: str) -> dt.date | None:
    """A YYYY-MM-DD option value; call_command may also pass a date."""
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise CommandError(f"{option}: “{value}” is not a date; use YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = (
        "Print the visits a participant consented on --consent (and first infused on "
        "--first-infusion) would get: code, name, target date, window, assessments, with safety "
        "assessments marked (S). Without --first-infusion only the consent-anchored visits are "
        "listed. Unscheduled (UNS) and early-termination (ET) visits are anchored on an event or "
        "a withdrawal and have no date in advance, so they are never listed. Exits non-zero when "
        "the dates break the protocol (first infusion not after consent, or more than 59 days "
        "after it) or the protocol has problems; clashes between screening and treatment visits "
        "are printed as warnings on stderr."
    )

    def add_arguments(self, parser):
        parser.add_argument("--consent", required=True, help="Consent date (C0), YYYY-MM-DD.")
        parser.add_argument(
            "--first-infusion", dest="first_infusion", help="First-infusion date (D0), YYYY-MM-DD."
        )
        parser.add_argument(
            "--format", dest="output_format", choices=("table", "csv"), default="table"
        )
        parser.add_argument(
            "--today",
            help="Warn when the first infusion is before this day (YYYY-MM-DD; e.g. the site's "
            "today), as planning D0 on the participant page does.",
        )
        parser.add_argument(
            "--protocol-version",
            dest="protocol_version",
            type=int,
            help="Protocol version number (default: the current one).",
        )

    def handle(self, *args, **options):
        consent_on = parse_date(options["consent"], "--consent")
        first_infusion_on = parse_date(options.get("first_infusion"), "--first-infusion")
        output_format = options.get("output_format") or "table"
        if output_format not in ("table", "csv"):
            raise CommandError(f"--format: choose table or csv, not “{output_format}”.")
        today = parse_date(options.get("today"), "--today")
        version = options.get("protocol_version")
        try:
            preview = protocol_preview(consent_on, first_infusion_on, version=version, today=today)
        except ProtocolVersion.DoesNotExist:
            known = ", ".join(
                str(v) for v in ProtocolVersion.objects.values_list("version", flat=True)
            )
            raise CommandError(
                f"--protocol-version: there is no protocol version {version} (known: {known or 'none'})."
            ) from None
        except ValidationError as e:
            raise CommandError(" ".join(e.messages)) from None
        if preview.errors:
            raise CommandError(f"Protocol v{preview.protocol_version}: " + " ".join(preview.errors))
        for warning in preview.warnings:
            self.stderr.write(self.style.WARNING(f"Warning: {warning}"))
        self.stdout.write(
            preview.as_csv() if output_format == "csv" else preview.as_table(), ending=""
        )
