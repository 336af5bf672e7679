"""Status changes of a participant: one function per transition of participants.transitions.

Each function checks its rule, records what the transition records, writes a StatusChange row and
runs in one transaction, so a refused change leaves nothing half-saved. Refusals raise
django.core.exceptions.ValidationError with messages in the coordinator's words, keyed by form
field where one field is at fault.

Changes that also move the visit schedule (consent, first infusion, withdrawal, completion...) are
called through schedule.services, which wraps these.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from participants import eligibility
from participants.models import (
    PHASE_OF_STATUS,
    Apheresis,
    Eligibility,
    Participant,
    Site,
    StaffRole,
    Status,
    StatusChange,
)
from participants.transitions import TRANSITIONS

MAX_CONSENT_TO_FIRST_INFUSION_DAYS = 59  # registry time frame "Day -59 to Day 50"
MIN_CONTACT_ATTEMPTS_BEFORE_LOST = 3


def site_today(site: Site) -> dt.date:
    return timezone.now().astimezone(site.tz).date()


def _locked(participant: Participant) -> Participant:
    """Re-read the participant under a row lock, so two coordinators cannot both change it."""
    return Participant.objects.select_for_update().select_related("site").get(pk=participant.pk)


def _check_allowed(participant: Participant, name: str) -> None:
    transition = TRANSITIONS[name]
    if participant.status not in transition.sources:
        allowed_from = ", ".join(sorted(Status(s).label for s in transition.sources))
        raise ValidationError(
            f"{participant.label} is {participant.get_status_display().lower()}; "
            f"“{name.replace('_', ' ')}” is only possible from: {allowed_from}."
        )


def _check_clinical_date(participant: Participant, day: dt.date, field: str) -> None:
    if day > site_today(participant.site):
        raise ValidationError({field: f"{day:%d %b %Y} is in the future."})
    if day < participant.consent_date:
        raise ValidationError(
            {field: f"{day:%d %b %Y} is before consent ({participant.consent_date:%d %b %Y})."}
        )


def _apply(
    participant: Participant,
    name: str,
    *,
    effective_on: dt.date,
    by,
    reason: str = "",
    details: dict | None = None,
    target: str | None = None,
) -> Participant:
    """Move `participant` along transition `name` and write its history row."""
    old = participant.status
    new = target or TRANSITIONS[name].target
    participant.status = new
    participant.phase = PHASE_OF_STATUS[new]
    participant.save()
    StatusChange.objects.create(
        participant=participant,
        from_status=old,
        to_status=new,
        effective_on=effective_on,
        reason=reason,
        details=details or {},
        changed_by=by,
        changed_at=timezone.now(),
    )
    return participant


def _next_number(site: Site, field: str, prefix: str) -> str:
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
    if consent_at > timezone.now():
        raise ValidationError({"consent_at": "The consent date and time is in the future."})
    if age_at_consent is None or age_at_consent < 18:
        raise ValidationError({"age_at_consent": "Participants must be 18 or older at consent."})
    if not consent_form_version.strip():
        raise ValidationError({"consent_form_version": "Enter the consent form version signed."})
    if rescreen_of is not None:
        # Locked so two coordinators re-screening the same person at once get a clear refusal.
        rescreen_of = _locked(rescreen_of)
        _check_rescreen(rescreen_of, site, consent_at)
    site = Site.objects.select_for_update().get(pk=site.pk)
    screening_number = screening_number.strip() or _next_number(
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


@transaction.atomic
def participant_screen_fail(
    participant: Participant,
    *,
    on: dt.date,
    failed_criteria: list[str],
    rescreen_allowed: bool,
    by,
    reason: str = "",
) -> Participant:
    participant = _locked(participant)
    _check_allowed(participant, "screen_fail")
    _check_clinical_date(participant, on, "on")
    known = {c.code for c in eligibility.criteria()}
    unknown = [code for code in failed_criteria if code not in known]
    if unknown:
        raise ValidationError({"failed_criteria": f"Unknown criteria: {', '.join(unknown)}."})
    if not failed_criteria and not reason.strip():
        raise ValidationError(
            {"failed_criteria": "Name the criteria that were not met, or give a reason."}
        )
    participant.rescreen_allowed = rescreen_allowed
    participant.off_study_on = on
    return _apply(
        participant,
        "screen_fail",
        effective_on=on,
        by=by,
        reason=reason,
        details={"failed_criteria": failed_criteria, "rescreen_allowed": rescreen_allowed},
    )


@transaction.atomic
def participant_enroll(
    participant: Participant,
    *,
    answers: dict[str, bool],
    assessed_on: dt.date,
    signed_off_by,
    by,
    criteria_version: str = eligibility.CURRENT_CRITERIA_VERSION,
) -> Participant:
    """The investigator signs off eligibility: → ENROLLED, a study id is assigned."""
    participant = _locked(participant)
    _check_allowed(participant, "enroll")
    _check_clinical_date(participant, assessed_on, "assessed_on")
    if criteria_version not in eligibility.CRITERIA_VERSIONS:
        raise ValidationError({"criteria_version": f"Unknown criteria version {criteria_version}."})
    missing = eligibility.unanswered(answers, criteria_version)
    if missing:
        raise ValidationError(
            "Every criterion must be answered. Not answered: "
            + "; ".join(f"{c.code} ({c.text})" for c in missing)
            + "."
        )
    failed = eligibility.failing(answers, criteria_version)
    if failed:
        raise ValidationError(
            "Not eligible, enrollment refused: "
            + "; ".join(
                f"{c.code} {'not met' if c.kind == eligibility.INCLUSION else 'applies'} ({c.text})"
                for c in failed
            )
            + ". Record a screen failure instead."
        )
    if signed_off_by != by:
        # An electronic sign-off is the investigator's own act (21 CFR 11): it cannot be entered
        # on their behalf by whoever is logged in.
        raise ValidationError(
            {
                "signed_off_by": f"Eligibility is signed off by the investigator in person: "
                f"{signed_off_by.get_username()} must log in and record it."
            }
        )
    profile = getattr(signed_off_by, "staff_profile", None)
    if profile is None or profile.role != StaffRole.INVESTIGATOR:
        raise ValidationError(
            {"signed_off_by": "Eligibility must be signed off by an investigator."}
        )
    # Only an investigator of the participant's own site is delegated to judge eligibility there.
    if not profile.sites.filter(pk=participant.site_id).exists():
        raise ValidationError(
            {
                "signed_off_by": f"Eligibility must be signed off by an investigator of "
                f"{participant.site.code}; {signed_off_by.get_username()} is not one."
            }
        )
    Eligibility.objects.update_or_create(
        participant=participant,
        defaults={
            "criteria_version": criteria_version,
            "answers": answers,
            "assessed_on": assessed_on,
            "signed_off_by": signed_off_by,
            "signed_off_at": timezone.now(),
        },
    )
    site = Site.objects.select_for_update().get(pk=participant.site_id)
    participant.study_id = _next_number(site, "study_id", f"{site.code}-")
    participant.enrolled_on = assessed_on
    return _apply(
        participant,
        "enroll",
        effective_on=assessed_on,
        by=by,
        details={
            "criteria_version": criteria_version,
            "signed_off_by": signed_off_by.get_username(),
            "study_id": participant.study_id,
        },
    )


@transaction.atomic
def participant_record_apheresis(
    participant: Participant,
    *,
    collected_on: dt.date,
    adequate_collection: bool,
    product_id: str,
    by,
) -> Apheresis:
    participant = _locked(participant)
    _check_allowed(participant, "apheresis")
    _check_clinical_date(participant, collected_on, "collected_on")
    if participant.enrolled_on and collected_on < participant.enrolled_on:
        raise ValidationError(
            {
                "collected_on": "Leukapheresis is only done after eligibility is confirmed "
                f"(enrolled {participant.enrolled_on:%d %b %Y})."
            }
        )
    product_id = product_id.strip()
    if not product_id:
        raise ValidationError({"product_id": "Enter the product (chain-of-identity) id."})
    if Apheresis.objects.filter(product_id=product_id).exists():
        raise ValidationError({"product_id": f"Product id {product_id} is already recorded."})
    previous = participant.aphereses.order_by("-collected_on").first()
    if previous and collected_on <= previous.collected_on:
        raise ValidationError(
            {"collected_on": "A repeat leukapheresis must come after the previous one."}
        )
    apheresis = Apheresis.objects.create(
        participant=participant,
        collected_on=collected_on,
        adequate_collection=adequate_collection,
        product_id=product_id,
    )
    _apply(
        participant,
        "apheresis",
        effective_on=collected_on,
        by=by,
        details={"product_id": product_id, "adequate_collection": adequate_collection},
    )
    return apheresis


@transaction.atomic
def participant_manufacturing_fail(
    participant: Participant, *, on: dt.date, reason: str, by
) -> Participant:
    participant = _locked(participant)
    _check_allowed(participant, "manufacturing_fail")
    _check_clinical_date(participant, on, "on")
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason manufacturing failed."})
    apheresis = participant.aphereses.order_by("-collected_on").first()
    if on < apheresis.collected_on:
        raise ValidationError({"on": "Manufacturing cannot fail before the cells were collected."})
    apheresis.manufacturing_failed_on = on
    apheresis.manufacturing_failure_reason = reason
    apheresis.save()
    return _apply(
        participant,
        "manufacturing_fail",
        effective_on=on,
        by=by,
        reason=reason,
        details={"product_id": apheresis.product_id},
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


@transaction.atomic
def participant_start_treatment(
    participant: Participant, *, infused_at: dt.datetime, dose: str, lot: str, by
) -> Participant:
    """The first infusion is given: → IN_TREATMENT, sets D0."""
    participant = _locked(participant)
    _check_allowed(participant, "start_treatment")
    if timezone.is_naive(infused_at):
        raise ValidationError({"infused_at": "Give the infusion time with its time zone."})
    if infused_at > timezone.now():
        raise ValidationError({"infused_at": "The infusion time is in the future."})
    if not dose.strip() or not lot.strip():
        raise ValidationError("Enter the dose and the lot number of the infusion.")
    check_first_infusion_date(participant, infused_at.astimezone(participant.site.tz).date())
    participant.first_infusion_at = infused_at
    participant.first_infusion_dose = dose.strip()
    participant.first_infusion_lot = lot.strip()
    participant.infusions_received = 1
    return _apply(
        participant,
        "start_treatment",
        effective_on=participant.first_infusion_date,
        by=by,
        details={"first_infusion_at": infused_at.isoformat(), "dose": dose, "lot": lot},
    )


@transaction.atomic
def participant_end_treatment(
    participant: Participant, *, on: dt.date, by, planned_infusions: int, reason: str = ""
) -> Participant:
    """Treatment ends, after the last planned infusion or stopped early. Not a withdrawal."""
    participant = _locked(participant)
    _check_allowed(participant, "end_treatment")
    _check_clinical_date(participant, on, "on")
    if participant.first_infusion_date and on < participant.first_infusion_date:
        raise ValidationError({"on": "Treatment cannot end before the first infusion."})
    stopped_early = participant.infusions_received < planned_infusions
    if stopped_early and not reason.strip():
        raise ValidationError(
            {"reason": "Treatment stopped before the 6th infusion: give the reason."}
        )
    return _apply(
        participant,
        "end_treatment",
        effective_on=on,
        by=by,
        reason=reason,
        details={
            "infusions_received": participant.infusions_received,
            "stopped_early": stopped_early,
        },
    )


@transaction.atomic
def participant_complete(participant: Participant, *, on: dt.date, by) -> Participant:
    participant = _locked(participant)
    _check_allowed(participant, "complete")
    _check_clinical_date(participant, on, "on")
    participant.off_study_on = on
    return _apply(participant, "complete", effective_on=on, by=by)


@transaction.atomic
def participant_withdraw(
    participant: Participant,
    *,
    on: dt.date,
    reason: str,
    safety_follow_up_continues: bool,
    by,
) -> tuple[Participant, str]:
    """Withdrawal from the study. Returns the participant and the status withdrawn from."""
    participant = _locked(participant)
    _check_allowed(participant, "withdraw")
    _check_clinical_date(participant, on, "on")
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason for withdrawal."})
    withdrawn_from = participant.status
    participant.off_study_on = on
    participant.safety_follow_up_continues = safety_follow_up_continues
    _apply(
        participant,
        "withdraw",
        effective_on=on,
        by=by,
        reason=reason,
        details={
            "safety_follow_up_continues": safety_follow_up_continues,
            "withdrawn_from": withdrawn_from,
        },
    )
    return participant, withdrawn_from


@transaction.atomic
def participant_lose_to_follow_up(
    participant: Participant,
    *,
    last_contact_on: dt.date,
    contact_attempts: list[dt.date],
    by,
    reason: str = "",
) -> Participant:
    participant = _locked(participant)
    _check_allowed(participant, "lose_to_follow_up")
    _check_clinical_date(participant, last_contact_on, "last_contact_on")
    attempts = sorted(set(contact_attempts))
    if len(attempts) < MIN_CONTACT_ATTEMPTS_BEFORE_LOST:
        raise ValidationError(
            {
                "contact_attempts": f"Document at least {MIN_CONTACT_ATTEMPTS_BEFORE_LOST} contact "
                f"attempts on different dates ({len(attempts)} given)."
            }
        )
    if any(a <= last_contact_on or a > site_today(participant.site) for a in attempts):
        raise ValidationError(
            {
                "contact_attempts": "Contact attempts must fall after the last contact and not in "
                "the future."
            }
        )
    return _apply(
        participant,
        "lose_to_follow_up",
        effective_on=attempts[-1],
        by=by,
        reason=reason,
        details={
            "last_contact_on": last_contact_on.isoformat(),
            "contact_attempts": [a.isoformat() for a in attempts],
        },
    )


@transaction.atomic
def participant_reinstate(participant: Participant, *, on: dt.date, by, reason: str = ""):
    """Contact is back: return to the status held before being lost to follow-up."""
    participant = _locked(participant)
    _check_allowed(participant, "reinstate")
    _check_clinical_date(participant, on, "on")
    lost = participant.status_changes.filter(to_status=Status.LOST_TO_FOLLOW_UP).last()
    return _apply(
        participant,
        "reinstate",
        effective_on=on,
        by=by,
        reason=reason,
        target=lost.from_status,
    )


@transaction.atomic
def participant_die(
    participant: Participant, *, on: dt.date, cause: str, sae_reference: str, by
) -> Participant:
    participant = _locked(participant)
    _check_allowed(participant, "die")
    _check_clinical_date(participant, on, "on")
    if not cause.strip():
        raise ValidationError({"cause": "Give the cause of death (or “unknown”)."})
    if not sae_reference.strip():
        raise ValidationError({"sae_reference": "Link the serious adverse event report (its id)."})
    participant.off_study_on = on
    return _apply(
        participant,
        "die",
        effective_on=on,
        by=by,
        reason=cause,
        details={"sae_reference": sae_reference},
    )
