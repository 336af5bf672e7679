"""A person signs consent: a new screening (→ SCREENING), screening number, re-screen link."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from participants.identifiers import check_identifier, screening_number_validator
from participants.models import (
    PHASE_OF_STATUS,
    Participant,
    Site,
    Status,
    StatusChange,
)
from participants.services.dates import check_plausible_date
from participants.services.status import locked


def next_number(site: Site, field: str, prefix: str) -> str:
    """Next free `prefix`NNN for the site; callers hold the site row lock."""
    taken = set(
        Participant.objects.filter(site=site, **{f"{field}__startswith": prefix}).values_list(
            field, flat=True
        )
    )
    n = 1
    while f"{prefix}{n:03d}" in taken:
        n += 1
    return f"{prefix}{n:03d}"


@transaction.atomic
def participant_register(
    *,
    site: Site,
    consent_at: dt.datetime,
    consent_form_version: str,
    age_at_consent: int,
    by,
    screening_number: str = "",
    rescreen_of: Participant | None = None,
) -> Participant:
    """A person signs consent: a new screening starts (→ SCREENING, sets C0)."""
    if timezone.is_naive(consent_at):
        raise ValidationError({"consent_at": "Give the consent time with its time zone."})
    check_plausible_date(consent_at.astimezone(site.tz).date(), "consent_at", site)
    if consent_at > timezone.now():
        raise ValidationError({"consent_at": "The consent date and time is in the future."})
    if age_at_consent is None or age_at_consent < 18:
        raise ValidationError({"age_at_consent": "Participants must be 18 or older at consent."})
    if not consent_form_version.strip():
        raise ValidationError({"consent_form_version": "Enter the consent form version signed."})
    if rescreen_of is not None:
        # Locked so two coordinators re-screening the same person at once get a clear refusal.
        rescreen_of = locked(rescreen_of)
        _check_rescreen(rescreen_of, site, consent_at)
    check_identifier(screening_number.strip(), screening_number_validator, "screening_number")
    site = Site.objects.select_for_update().get(pk=site.pk)
    screening_number = screening_number.strip() or next_number(
        site, "screening_number", f"{site.code}-S"
    )
    if Participant.objects.filter(screening_number=screening_number).exists():
        raise ValidationError(
            {"screening_number": f"Screening number {screening_number} is already in use."}
        )
    participant = Participant.objects.create(
        site=site,
        screening_number=screening_number,
        consent_at=consent_at,
        consent_form_version=consent_form_version.strip(),
        age_at_consent=age_at_consent,
        rescreen_of=rescreen_of,
        status=Status.SCREENING,
        phase=PHASE_OF_STATUS[Status.SCREENING],
    )
    StatusChange.objects.create(
        participant=participant,
        from_status="",
        to_status=Status.SCREENING,
        effective_on=participant.consent_date,
        details={
            "consent_form_version": participant.consent_form_version,
            "rescreen_of": rescreen_of.screening_number if rescreen_of else None,
        },
        changed_by=by,
        changed_at=timezone.now(),
    )
    return participant


def _check_rescreen(old: Participant, site: Site, consent_at: dt.datetime) -> None:
    if old.status != Status.SCREEN_FAILED:
        raise ValidationError(
            {
                "rescreen_of": f"{old.label} is not a failed screening; only those can be re-screened."
            }
        )
    if not old.rescreen_allowed:
        raise ValidationError({"rescreen_of": f"{old.label} was marked as not re-screenable."})
    if hasattr(old, "rescreened_as"):
        raise ValidationError(
            {"rescreen_of": f"{old.label} was already re-screened as {old.rescreened_as.label}."}
        )
    if old.site_id != site.pk:
        raise ValidationError({"rescreen_of": "A re-screen must be at the same site."})
    if consent_at <= old.consent_at:
        raise ValidationError(
            {"consent_at": "The re-screen's consent must come after the failed screening's."}
        )
