"""Clinical dates of a participant: "today" at the site, and the date rules every caller shares
(a plausible date at all, consent at most 59 days before the first infusion, never in the future,
never before consent).
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.utils import timezone

from participants.models import (
    Participant,
    Site,
)

MAX_CONSENT_TO_FIRST_INFUSION_DAYS = 59  # registry time frame "Day -59 to Day 50"
# No clinical date of the trial lies before this day, nor more than PLAUSIBLE_YEARS_AHEAD years
# after the site's today: anything else is a typing slip (2999 for 2026), and a year 9999 would
# overflow the window arithmetic.
EARLIEST_CLINICAL_DATE = dt.date(2020, 1, 1)
PLAUSIBLE_YEARS_AHEAD = 2
# The time zone whose calendar is furthest ahead (Kiribati): its today is no site's yesterday.
FURTHEST_AHEAD = dt.timezone(dt.timedelta(hours=14))


def site_today(site: Site) -> dt.date:
    return timezone.now().astimezone(site.tz).date()


def latest_plausible_date(site: Site | None = None) -> dt.date:
    """PLAUSIBLE_YEARS_AHEAD years after the site's today (without a site: the latest today on
    Earth, so a form that does not know the site yet is never stricter than the service)."""
    today = site_today(site) if site else timezone.now().astimezone(FURTHEST_AHEAD).date()
    try:
        return today.replace(year=today.year + PLAUSIBLE_YEARS_AHEAD)
    except ValueError:  # 29 February
        return today.replace(year=today.year + PLAUSIBLE_YEARS_AHEAD, day=28)


def plausible_date_problem(day: dt.date, site: Site | None = None) -> str:
    """What is wrong with `day` as a clinical date of this trial, or "" (the one rule)."""
    latest = latest_plausible_date(site)
    if EARLIEST_CLINICAL_DATE <= day <= latest:
        return ""
    return f"Enter a date between {_day(EARLIEST_CLINICAL_DATE)} and {_day(latest)}."


def _day(day: dt.date) -> str:
    return day.isoformat()  # "2020-01-01", as the date inputs take it


def check_plausible_date(day: dt.date, field: str, site: Site | None = None) -> None:
    problem = plausible_date_problem(day, site)
    if problem:
        raise ValidationError({field: problem})


class PlausibleDate:
    """The same rule as a form field's validator (schedule.forms.date_field). A form that knows
    its site binds it (ServiceForm), so the form and the service name the same last date."""

    def __init__(self, site: Site | None = None):
        self.site = site

    def __call__(self, day: dt.date) -> None:
        problem = plausible_date_problem(day, self.site)
        if problem:
            raise ValidationError(problem, code="implausible_date")


validate_plausible_date = PlausibleDate()


def check_clinical_date(participant: Participant, day: dt.date, field: str) -> None:
    check_plausible_date(day, field, participant.site)
    if day > site_today(participant.site):
        raise ValidationError({field: f"{day:%Y-%m-%d} is in the future."})
    if day < participant.consent_date:
        raise ValidationError(
            {field: f"{day:%Y-%m-%d} is before consent ({participant.consent_date:%Y-%m-%d})."}
        )


def consent_to_first_infusion_problem(consent_on: dt.date, first_infusion_on: dt.date) -> str:
    """What is wrong with this pair of anchor dates under PROTOCOL.md, or "" (pure)."""
    days = (first_infusion_on - consent_on).days
    if days <= 0:
        # Leukapheresis and manufacturing lie between them: never the same day.
        return (
            f"The first infusion ({first_infusion_on:%Y-%m-%d}) must come after the consent "
            f"date ({consent_on:%Y-%m-%d})."
        )
    if days > MAX_CONSENT_TO_FIRST_INFUSION_DAYS:
        return (
            f"Consent ({consent_on:%Y-%m-%d}) would be {days} days before the first infusion; "
            f"the protocol allows at most {MAX_CONSENT_TO_FIRST_INFUSION_DAYS}. "
            "Re-consent is needed."
        )
    return ""


def check_first_infusion_date(participant: Participant, first_infusion_on: dt.date) -> None:
    """Rules on D0 that hold whether it is planned or given (PROTOCOL.md)."""
    check_plausible_date(first_infusion_on, "first_infusion_on", participant.site)
    problem = consent_to_first_infusion_problem(participant.consent_date, first_infusion_on)
    if problem:
        raise ValidationError({"first_infusion_on": problem})
    apheresis = participant.aphereses.order_by("-collected_on").first()
    if apheresis and first_infusion_on <= apheresis.collected_on:
        raise ValidationError(
            {"first_infusion_on": "The first infusion must come after the leukapheresis."}
        )
