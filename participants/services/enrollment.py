"""Screening to product: screen failure, enrollment (the investigator's sign-off), the
leukapheresis and a manufacturing failure.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction

from participants import eligibility
from participants.identifiers import check_identifier, product_id_validator
from participants.models import (
    Apheresis,
    Participant,
    Site,
    StaffRole,
)
from participants.services.consent import next_number
from participants.services.dates import check_clinical_date
from participants.services.eligibility import checked_answers, eligibility_sign
from participants.services.status import apply_transition, check_allowed, locked
from participants.signatures import SignatureMeaning, signature_take


@transaction.atomic
def status_screen_fail(
    participant: Participant,
    *,
    on: dt.date,
    failed_criteria: list[str],
    rescreen_allowed: bool,
    by,
    reason: str = "",
) -> Participant:
    participant = locked(participant)
    check_allowed(participant, "screen_fail")
    check_clinical_date(participant, on, "on")
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
    return apply_transition(
        participant,
        "screen_fail",
        effective_on=on,
        by=by,
        reason=reason,
        details={"failed_criteria": failed_criteria, "rescreen_allowed": rescreen_allowed},
    )


@transaction.atomic
def status_enroll(
    participant: Participant,
    *,
    answers: dict[str, bool],
    assessed_on: dt.date,
    signed_off_by,
    by,
    password: str,
    criteria_version: str = eligibility.CURRENT_CRITERIA_VERSION,
    now: dt.datetime | None = None,
) -> Participant:
    """The investigator signs the eligibility checklist with their password (a signature,
    participants.signatures: "eligibility confirmed"): → ENROLLED, a study id is assigned.
    A wrong password is refused under "password" and nothing is saved."""
    participant = locked(participant)
    check_allowed(participant, "enroll")
    check_clinical_date(participant, assessed_on, "assessed_on")
    answers = checked_answers(answers, criteria_version)
    _check_signer(participant, signed_off_by, by)
    signature = signature_take(
        signed_off_by, password, SignatureMeaning.ELIGIBILITY_CONFIRMED, now=now
    )
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
    eligibility_sign(
        participant,
        values={
            "criteria_version": criteria_version,
            "answers": answers,
            "assessed_on": assessed_on,
        },
        signature=signature,
    )
    site = Site.objects.select_for_update().get(pk=participant.site_id)
    participant.study_id = next_number(site, "study_id", f"{site.code}-")
    participant.enrolled_on = assessed_on
    return apply_transition(
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


def _check_signer(participant: Participant, signed_off_by, by) -> None:
    if signed_off_by != by:
        # An electronic signature is the investigator's own act (21 CFR 11): it cannot be
        # entered on their behalf by whoever is logged in.
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


@transaction.atomic
def apheresis_record(
    participant: Participant,
    *,
    collected_on: dt.date,
    adequate_collection: bool,
    product_id: str,
    by,
) -> Apheresis:
    participant = locked(participant)
    check_allowed(participant, "apheresis")
    check_clinical_date(participant, collected_on, "collected_on")
    if participant.enrolled_on and collected_on < participant.enrolled_on:
        raise ValidationError(
            {
                "collected_on": "Leukapheresis is only done after eligibility is confirmed "
                f"(enrolled {participant.enrolled_on:%Y-%m-%d})."
            }
        )
    product_id = product_id.strip()
    if not product_id:
        raise ValidationError({"product_id": "Enter the product (chain-of-identity) id."})
    check_identifier(product_id, product_id_validator, "product_id")
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
    apply_transition(
        participant,
        "apheresis",
        effective_on=collected_on,
        by=by,
        details={"product_id": product_id, "adequate_collection": adequate_collection},
    )
    return apheresis


@transaction.atomic
def status_manufacturing_fail(
    participant: Participant, *, on: dt.date, reason: str, by
) -> Participant:
    participant = locked(participant)
    check_allowed(participant, "manufacturing_fail")
    check_clinical_date(participant, on, "on")
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason manufacturing failed."})
    apheresis = participant.aphereses.order_by("-collected_on").first()
    if on < apheresis.collected_on:
        raise ValidationError({"on": "Manufacturing cannot fail before the cells were collected."})
    apheresis.manufacturing_failed_on = on
    apheresis.manufacturing_failure_reason = reason
    apheresis.save()
    return apply_transition(
        participant,
        "manufacturing_fail",
        effective_on=on,
        by=by,
        reason=reason,
        details={"product_id": apheresis.product_id},
    )
