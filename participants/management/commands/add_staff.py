"""manage.py add_staff: add a staff login with its role and sites, or update one."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from participants.models import StaffRole
from participants.roles import ROLES
from participants.staff import set_password_link, staff_add

# The service's error keys, as this command's options.
OPTION_OF_FIELD = {"username": "USERNAME", "email": "--email", "role": "--role", "sites": "--site"}


def _refusal(error: ValidationError) -> str:
    lines = [
        f"  {OPTION_OF_FIELD.get(field, field)}: {message}"
        for field, messages in error.message_dict.items()
        for message in messages
    ]
    return "\n".join(["Staff not added:", *lines])


class Command(BaseCommand):
    help = (
        "Add a staff login (or update the one with that username): active, staff, in its role's "
        "group, with its sites. A new login gets a one-time password, printed once."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", required=True, help="Where reminders and safety alerts go.")
        parser.add_argument("--role", required=True, help=", ".join(StaffRole.values))
        parser.add_argument(
            "--site",
            action="append",
            default=[],
            dest="sites",
            metavar="CODE",
            help="A site the coordinator or investigator works at; repeat for several. "
            "Study managers and medical monitors see every site and take none.",
        )
        parser.add_argument(
            "--no-password",
            action="store_true",
            help="Give a new login no password, and print a link where its owner sets one.",
        )

    def handle(self, *args, username, email, role, sites, no_password, **options):
        existed = get_user_model().objects.filter(username=username).exists()
        try:
            user, one_time = staff_add(
                username=username, email=email, role=role, sites=sites, no_password=no_password
            )
        except ValidationError as e:
            raise CommandError(_refusal(e)) from None
        profile = user.staff_profile
        where = ", ".join(s.code for s in profile.sites.all()) or "every site"
        group = ROLES[profile.role].group
        self.stdout.write(
            f"{'Updated' if existed else 'Added'} {user.username}: "
            f"{profile.get_role_display()} at {where} (group “{group}”)."
        )
        self._password_note(user, existed, one_time)

    def _password_note(self, user, existed: bool, one_time: str | None) -> None:
        if existed:
            self.stdout.write("Password unchanged.")
        elif one_time is not None:
            self.stdout.write(f"One-time password (shown only now): {one_time}")
            self.stdout.write(
                f"Log in at {settings.SITE_URL}{reverse('login')} and change it at once: "
                f"{settings.SITE_URL}{reverse('password_change')}"
            )
        else:
            days = settings.PASSWORD_RESET_TIMEOUT // 86400
            self.stdout.write(
                f"No password yet. Send {user.username} this link to choose one (works once, "
                f"for {days} days): {set_password_link(user)}"
            )
