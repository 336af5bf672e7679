"""Clinical dates of a participant: "today" at the site, and the date rules every caller shares
(consent at most 59 days before the first infusion, never in the future, never before consent).
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.utils import timezone

from participants.models import (
    Participant,
    Site,
)

MAX_CONSENT_TO_FIRST_INFUSION_DAYS = 59  # registry time frame "Day -59 to Day 50"


def site_today(site: Site) -> dt.date:
    return timezone.now().astimezone(site.tz).date()


def check_clinical_date(participant: Participant, day: dt.date, field: str) -> None:
    if day > site_today(participant.site):
        raise ValidationError({field: f"{day:%d %b %Y} is in the future."})
    if day < participant.consent_date:
        raise ValidationError(
            {field: f"{day:%d %b %Y} is before consent ({participant.consent_date:%d %b %Y})."}
        )


def consent_to_first_infusion_problem(consent_on: dt.date, first_infusion_on: dt.date) -> str:
    """What is wrong with this pair of anchor dates under PROTOCOL.md, or "" (pure)."""
    days = (first_infusion_on - consent_on).days
    if days <= 0:
        # Leukapheresis and manufacturing lie between them: never the same day.
        return (
            f"The first infusion ({first_infusion_on:%d %b %Y}) must come after the consent "
            f"date ({consent_on:%d %b %Y})."
        )
    if days > MAX_CONSENT_TO_FIRST_INFUSION_DAYS:
        return (
            f"Consent ({consent_on:%d %b %Y}) would be {days} days before the first infusion; "
            f"the protocol allows at most {MAX_CONSENT_TO_FIRST_INFUSION_DAYS}. "
            "Re-consent is needed."
        )
    return ""


def check_first_infusion_date(participant: Participant, first_infusion_on: dt.date) -> None:
    """Rules on D0 that hold whether it is planned or given (PROTOCOL.md)."""
    problem = consent_to_first_infusion_problem(participant.consent_date, first_infusion_on)
    if problem:
        raise ValidationError({"first_infusion_on": problem})
    apheresis = participant.aphereses.order_by("-collected_on").first()
    if apheresis and first_infusion_on <= apheresis.collected_on:
        raise ValidationError(
            {"first_infusion_on": "The first infusion must come after the leukapheresis."}
        )
