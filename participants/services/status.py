"""The core of every status change: lock the row, check the transition table, write the history."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.utils import timezone

from participants.models import (
    PHASE_OF_STATUS,
    Participant,
    Status,
    StatusChange,
)
from participants.transitions import TRANSITIONS


def locked(participant: Participant) -> Participant:
    """Re-read the participant under a row lock, so two coordinators cannot both change it."""
    return Participant.objects.select_for_update().select_related("site").get(pk=participant.pk)


def check_allowed(participant: Participant, name: str) -> None:
    transition = TRANSITIONS[name]
    if participant.status not in transition.sources:
        allowed_from = ", ".join(sorted(Status(s).label for s in transition.sources))
        raise ValidationError(
            f"{participant.label} is {participant.get_status_display().lower()}; "
            f"“{name.replace('_', ' ')}” is only possible from: {allowed_from}."
        )


def apply_transition(
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
