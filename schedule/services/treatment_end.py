"""The end of treatment: after the last planned infusion (given or missed), or stopped early.
Not a withdrawal: the participant moves to follow-up."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction

from participants import access
from participants.models import Participant
from participants.reasons import TreatmentStopReason
from participants.services import treatment
from schedule.models import Visit, VisitKind, VisitStatus
from schedule.services.layout import close_open_visits


def end_treatment_after_last_infusion(participant: Participant, visit: Visit, *, on, by) -> None:
    """Treatment ends with the last infusion of the schedule, given or missed."""
    later_open = participant.visits.filter(
        definition__kind=VisitKind.INFUSION,
        definition__order__gt=visit.definition.order,
        status=VisitStatus.SCHEDULED,
    ).exists()
    if later_open:
        return
    planned = planned_infusions(participant)
    missed = participant.visits.filter(
        definition__kind=VisitKind.INFUSION, status=VisitStatus.MISSED
    ).select_related("definition")
    reason = (
        ""
        if participant.infusions_received >= planned
        else f"{participant.infusions_received} of {planned} infusions given; missed: "
        + ", ".join(v.code for v in missed)
    )
    treatment.status_end_treatment(
        participant,
        on=on,
        by=by,
        reason=reason,
        reason_code=TreatmentStopReason.MISSED_INFUSIONS,
        planned_infusions=planned,
    )


def planned_infusions(participant: Participant) -> int:
    """Infusions in the participant's protocol version (6 in version 1)."""
    return participant.schedule.protocol.visits.filter(
        kind__in=(VisitKind.FIRST_INFUSION, VisitKind.INFUSION)
    ).count()


@transaction.atomic
def treatment_stop_early(
    participant: Participant, *, on: dt.date, reason: str, reason_code: str, by
) -> Participant:
    """Treatment stops before the 6th infusion. The participant stays in the study (follow-up)."""
    access.require_recorder(by, participant.site)
    last_given = (
        participant.visits.filter(
            definition__kind__in=(VisitKind.FIRST_INFUSION, VisitKind.INFUSION),
            status=VisitStatus.DONE,
        )
        .order_by("-actual_date")
        .first()
    )
    if last_given and on < last_given.actual_date:
        raise ValidationError(
            {
                "on": f"{last_given.code} was given on {last_given.actual_date:%Y-%m-%d}: treatment "
                "cannot have stopped before it."
            }
        )
    participant = treatment.status_end_treatment(
        participant,
        on=on,
        reason=reason,
        reason_code=reason_code,
        by=by,
        planned_infusions=planned_infusions(participant),
    )
    close_open_visits(
        participant,
        "Treatment stopped early.",
        on=on,
        definition__kind__in=(VisitKind.FIRST_INFUSION, VisitKind.INFUSION),
    )
    return participant
