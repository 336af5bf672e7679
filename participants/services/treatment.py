"""Treatment and completion: the first infusion starts treatment, the last (or a stop) ends it,
Month 12 completes the study.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from participants.identifiers import check_infusion_product
from participants.models import (
    Participant,
)
from participants.reasons import TreatmentStopReason, check_reason_code
from participants.services.dates import check_clinical_date, check_first_infusion_date
from participants.services.status import apply_transition, check_allowed, locked


@transaction.atomic
def status_start_treatment(
    participant: Participant, *, infused_at: dt.datetime, dose: str, lot: str, by
) -> Participant:
    """The first infusion is given: → IN_TREATMENT, sets D0."""
    participant = locked(participant)
    check_allowed(participant, "start_treatment")
    if timezone.is_naive(infused_at):
        raise ValidationError({"infused_at": "Give the infusion time with its time zone."})
    if infused_at > timezone.now():
        raise ValidationError({"infused_at": "The infusion time is in the future."})
    if not dose.strip() or not lot.strip():
        raise ValidationError("Enter the dose and the lot number of the infusion.")
    check_infusion_product(dose, lot)
    check_first_infusion_date(participant, infused_at.astimezone(participant.site.tz).date())
    participant.first_infusion_at = infused_at
    participant.first_infusion_dose = dose.strip()
    participant.first_infusion_lot = lot.strip()
    participant.infusions_received = 1
    return apply_transition(
        participant,
        "start_treatment",
        effective_on=participant.first_infusion_date,
        by=by,
        details={"first_infusion_at": infused_at.isoformat(), "dose": dose, "lot": lot},
    )


@transaction.atomic
def status_end_treatment(
    participant: Participant,
    *,
    on: dt.date,
    by,
    planned_infusions: int,
    reason: str = "",
    reason_code: str = "",
) -> Participant:
    """Treatment ends, after the last planned infusion or stopped early. Not a withdrawal."""
    participant = locked(participant)
    check_allowed(participant, "end_treatment")
    check_clinical_date(participant, on, "on")
    if participant.first_infusion_date and on < participant.first_infusion_date:
        raise ValidationError({"on": "Treatment cannot end before the first infusion."})
    stopped_early = participant.infusions_received < planned_infusions
    if stopped_early and not reason.strip():
        raise ValidationError(
            {"reason": "Treatment stopped before the 6th infusion: give the reason."}
        )
    if stopped_early:
        check_reason_code(reason_code, TreatmentStopReason, "stopping treatment")
    return apply_transition(
        participant,
        "end_treatment",
        effective_on=on,
        by=by,
        reason=reason,
        details={
            "infusions_received": participant.infusions_received,
            "stopped_early": stopped_early,
            **({"reason_code": reason_code} if stopped_early else {}),
        },
    )


@transaction.atomic
def status_complete(participant: Participant, *, on: dt.date, by) -> Participant:
    participant = locked(participant)
    check_allowed(participant, "complete")
    check_clinical_date(participant, on, "on")
    participant.off_study_on = on
    return apply_transition(participant, "complete", effective_on=on, by=by)
