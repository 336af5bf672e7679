"""Building emails: the templates of each kind, the links they carry, and the Message-ID.

Every link is reversed from a URL name (the dashboard's in dashboard/urls.py, the admin's) and
joined to settings.SITE_URL, so a moved page moves its links with it.
"""

from urllib.parse import urlparse

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse

from notifications.models import OutboxKind

TEMPLATE_OF_KIND = {
    OutboxKind.VISIT_DUE: "reminder",
    OutboxKind.WINDOW_CLOSES: "reminder",
    OutboxKind.REMINDER_DIGEST: "reminder_digest",
    OutboxKind.SAFETY_OVERDUE: "safety_overdue",
    OutboxKind.SAFETY_ESCALATION: "safety_escalation",
    OutboxKind.SAFETY_MISSED: "safety_missed",
    OutboxKind.ENROLLMENT_REPORT: "enrollment_report",
    OutboxKind.SAFETY_EVENT: "safety_event",
    OutboxKind.SAFETY_EVENT_LAB: "safety_event_lab",
    OutboxKind.SAE_CLOCK_REMINDER: "sae_clock_reminder",
    OutboxKind.SAE_CLOCK_OVERDUE: "sae_clock_overdue",
    OutboxKind.SAE_CLOCK_ESCALATION: "sae_clock_escalation",
}


def site_url(path: str) -> str:
    """An absolute URL for a path reversed on this site."""
    return settings.SITE_URL + path


def participant_url(participant_id: int) -> str:
    """The dashboard's participant page."""
    return site_url(reverse("dashboard:participant", args=[participant_id]))


def participant_list_url() -> str:
    """The dashboard's participant list."""
    return site_url(reverse("dashboard:participants"))


def admin_url(viewname: str, pk: int) -> str | None:
    """An admin change page, or None when the admin does not serve that model."""
    try:
        return site_url(reverse(viewname, args=[pk]))
    except NoReverseMatch:
        return None


def render_email(name: str, context: dict) -> tuple[str, str, str]:
    """(subject, text body, HTML body) from templates/emails/<name>_subject.txt/_body.txt/.html."""
    context = {
        "site_url": settings.SITE_URL,
        # Where a person chooses what they receive (the footer of the reminder emails).
        "settings_url": site_url(reverse("notifications:settings")),
        **context,
    }
    subject = render_to_string(f"emails/{name}_subject.txt", context)
    subject = " ".join(subject.split())  # a header is one line
    text = render_to_string(f"emails/{name}_body.txt", context)
    html = render_to_string(f"emails/{name}_body.html", context)
    return subject, text, html


def message_id(pk: int) -> str:
    """The Message-ID of outbox row `pk`: the same on a re-send, so the crash-window duplicate
    (see the package docstring) is recognisable."""
    domain = urlparse(settings.SITE_URL).hostname or "sle001.invalid"
    return f"<sle001-outbox-{pk}@{domain}>"
