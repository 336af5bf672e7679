"""Laying out visits and assessments from the protocol, stamping a visit done, and closing open
visits. The lower layer of schedule.services: used by its other modules, not by callers outside.
"""

import datetime as dt

from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from participants.audit import audit_reason
from participants.models import Participant
from schedule.models import (
    Assessment,
    AssessmentCondition,
    AssessmentDefinition,
    AssessmentStatus,
    ProtocolVersion,
    Visit,
    VisitDefinition,
    VisitStatus,
)
from schedule.services.deviations import (
    deviation_draft_for_missed_visit,
    deviation_draft_for_out_of_window,
    visit_window,
)
from schedule.windows import window_closes_at, window_for


def assessment_due_at(definition: AssessmentDefinition, visit: Visit, tz) -> dt.datetime:
    """When an assessment becomes overdue (PROTOCOL.md "Overdue rule").

    Infusion-day post-dose items are due hours after the infusion started; everything else when
    its visit's window closes (end of the last window day in the site's time zone).
    """
    if definition.due_hours_after_start and visit.started_at:
        return visit.started_at + dt.timedelta(hours=definition.due_hours_after_start)
    return window_closes_at(visit.window_end, tz)


def lay_out(
    participant: Participant,
    definitions: list[VisitDefinition],
    anchor_date: dt.date,
    *,
    occurrence: int = 1,
    withdrawn_in_treatment: bool = False,
    reason: str = "",
) -> list[Visit]:
    tz = participant.site.tz
    visits = []
    for d in definitions:
        w = window_for(anchor_date, d.target_offset, d.window_before, d.window_after)
        visits.append(
            Visit(
                participant=participant,
                site_id=participant.site_id,
                definition=d,
                occurrence=occurrence,
                target_date=w.target,
                window_start=w.start,
                window_end=w.end,
                reason=reason,
            )
        )
    # The *_with_history helpers keep the audit trail that a plain bulk_create would skip.
    visits = bulk_create_with_history(
        visits, Visit, default_change_reason=audit_reason(reason) or "laid out"
    )
    assessments = []
    for visit in visits:
        for a in visit.definition.assessments.all():
            if (
                a.condition == AssessmentCondition.WITHDRAWN_IN_TREATMENT
                and not withdrawn_in_treatment
            ):
                continue
            assessments.append(
                Assessment(
                    visit=visit,
                    site_id=participant.site_id,
                    definition=a,
                    is_safety=a.is_safety,
                    due_at=assessment_due_at(a, visit, tz),
                )
            )
    bulk_create_with_history(assessments, Assessment, default_change_reason="laid out")
    return visits


def definitions(protocol: ProtocolVersion, anchor: str) -> list[VisitDefinition]:
    return list(
        protocol.visits.filter(anchor=anchor).prefetch_related("assessments").order_by("order")
    )


def definition_of_kind(protocol: ProtocolVersion, kind: str) -> VisitDefinition:
    return protocol.visits.prefetch_related("assessments").get(kind=kind)


def close_open_visits(
    participant: Participant,
    reason: str,
    *,
    on: dt.date | None = None,
    exclude_ids=(),
    **filters,
) -> int:
    """Scheduled visits become not applicable, with their pending assessments.

    A visit whose window had already closed before `on` (the date of the status change) was
    missed, not made unnecessary: it is recorded as missed so the deviation stays visible.
    """
    visits = list(
        participant.visits.open()
        .filter(**filters)
        .exclude(pk__in=exclude_ids)
        .select_related("definition")
    )
    missed = [v for v in visits if on is not None and v.window_end < on]
    closed = [v for v in visits if v not in missed]
    for group, visit_status, assessment_status, why in (
        (missed, VisitStatus.MISSED, AssessmentStatus.MISSED, f"Window closed before: {reason}"),
        (closed, VisitStatus.NOT_APPLICABLE, AssessmentStatus.NOT_APPLICABLE, reason),
    ):
        set_assessment_status(
            Assessment.objects.pending().filter(visit__in=group),
            assessment_status,
            why,
        )
        for visit in group:
            visit.status, visit.reason = visit_status, why
        bulk_update_with_history(
            group, Visit, ["status", "reason"], default_change_reason=audit_reason(why)
        )
    for visit in missed:
        deviation_draft_for_missed_visit(visit)
    return len(visits)


def set_assessment_status(assessments, status: str, reason: str) -> None:
    """Close assessments as missed or not applicable. Missed ones get missed_at, which the
    missed-safety alert scan reads."""
    rows = list(assessments)
    now = timezone.now()
    for a in rows:
        a.status = status
        if status == AssessmentStatus.MISSED:
            a.missed_at = now
    bulk_update_with_history(
        rows, Assessment, ["status", "missed_at"], default_change_reason=audit_reason(reason)
    )


def mark_done(
    visit: Visit,
    *,
    actual_date: dt.date,
    by,
    started_at: dt.datetime | None = None,
    dose: str = "",
    lot: str = "",
) -> Visit:
    tz = visit.participant.site.tz
    visit.status = VisitStatus.DONE
    visit.actual_date = actual_date
    visit.started_at = started_at
    # The same test the record form's confirm and the date correction use.
    visit.in_window = visit_window(visit).contains(actual_date)
    visit.dose, visit.lot = dose, lot
    visit.recorded_by = by
    visit.recorded_at = timezone.now()
    visit.save()
    deviation_draft_for_out_of_window(visit)
    if started_at:
        for a in visit.assessments.select_related("definition").filter(
            status=AssessmentStatus.PENDING, definition__due_hours_after_start__isnull=False
        ):
            a.due_at = assessment_due_at(a.definition, visit, tz)
            a.save(update_fields=["due_at"])
    return visit
