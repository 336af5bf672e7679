"""Leaving the study or being lost: withdrawal, loss to follow-up and reinstatement, death."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction

from participants.models import (
    Participant,
    Status,
)
from participants.reasons import WithdrawalReason, check_reason_code
from participants.services.dates import check_clinical_date, site_today
from participants.services.status import apply_transition, check_allowed, locked

MIN_CONTACT_ATTEMPTS_BEFORE_LOST = 3


@transaction.atomic
def status_withdraw(
    participant: Participant,
    *,
    on: dt.date,
    reason: str,
    reason_code: str,
    safety_follow_up_continues: bool,
    by,
) -> tuple[Participant, str]:
    """Withdrawal from the study. Returns the participant and the status withdrawn from."""
    participant = locked(participant)
    check_allowed(participant, "withdraw")
    check_clinical_date(participant, on, "on")
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason for withdrawal."})
    check_reason_code(reason_code, WithdrawalReason, "withdrawal")
    withdrawn_from = participant.status
    participant.off_study_on = on
    participant.safety_follow_up_continues = safety_follow_up_continues
    apply_transition(
        participant,
        "withdraw",
        effective_on=on,
        by=by,
        reason=reason,
        details={
            "safety_follow_up_continues": safety_follow_up_continues,
            "withdrawn_from": withdrawn_from,
            "reason_code": reason_code,
        },
    )
    return participant, withdrawn_from


@transaction.atomic
def status_lose_to_follow_up(
    participant: Participant,
    *,
    last_contact_on: dt.date,
    contact_attempts: list[dt.date],
    by,
    reason: str = "",
) -> Participant:
    participant = locked(participant)
    check_allowed(participant, "lose_to_follow_up")
    check_clinical_date(participant, last_contact_on, "last_contact_on")
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
    return apply_transition(
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
def status_reinstate(participant: Participant, *, on: dt.date, by, reason: str = ""):
    """Contact is back: return to the status held before being lost to follow-up."""
    participant = locked(participant)
    check_allowed(participant, "reinstate")
    check_clinical_date(participant, on, "on")
    lost = participant.status_changes.filter(to_status=Status.LOST_TO_FOLLOW_UP).last()
    return apply_transition(
        participant,
        "reinstate",
        effective_on=on,
        by=by,
        reason=reason,
        target=lost.from_status,
    )


@transaction.atomic
def status_die(
    participant: Participant, *, on: dt.date, cause: str, sae_reference: str, by
) -> Participant:
    participant = locked(participant)
    check_allowed(participant, "die")
    check_clinical_date(participant, on, "on")
    if not cause.strip():
        raise ValidationError({"cause": "Give the cause of death (or “unknown”)."})
    if not sae_reference.strip():
        raise ValidationError({"sae_reference": "Link the serious adverse event report (its id)."})
    participant.off_study_on = on
    return apply_transition(
        participant,
        "die",
        effective_on=on,
        by=by,
        reason=cause,
        details={"sae_reference": sae_reference},
    )
