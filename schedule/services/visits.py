"""Recording visits: done (what that also means for leukapheresis, infusions, completion), missed,
and unscheduled visits.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from participants import access
from participants.models import Participant, Status
from participants.services import dates, enrollment, treatment
from schedule.models import (
    Anchor,
    AssessmentStatus,
    Visit,
    VisitKind,
    VisitStatus,
)
from schedule.services.deviations import deviation_draft_for_missed_visit
from schedule.services.infusions import infusion_record, treatment_start
from schedule.services.layout import (
    close_open_visits,
    definition_of_kind,
    lay_out,
    mark_done,
    set_assessment_status,
)
from schedule.services.treatment_end import end_treatment_after_last_infusion


def window_not_open_problem(
    visit: Visit, today: dt.date, *, action: str = "recorded as done"
) -> str:
    """Why `visit` is not to be recorded yet on the site's `today`, or "": its window has not
    opened (Visit.window_opened). INF1 is the exception: giving it on another day than planned
    moves D0 and every visit with it. Pure: the pages offer "Record done" and "Missed" only when
    it is "", visit_mark_missed refuses on it, and so does the completion visit (M12), which is
    not due before its window. Other visits may still be recorded early (out of window, a
    deviation) from their form."""
    if visit.definition.kind == VisitKind.FIRST_INFUSION or visit.window_opened(today):
        return ""
    return f"{visit}'s window opens on {visit.window_start:%Y-%m-%d}: it cannot be {action} yet."


def _check_visit_open(visit: Visit, actual_date: dt.date) -> None:
    if visit.status != VisitStatus.SCHEDULED:
        raise ValidationError(f"{visit} is already {visit.get_status_display().lower()}.")
    participant = visit.participant
    dates.check_plausible_date(actual_date, "actual_date", participant.site)
    if actual_date > dates.site_today(participant.site):
        raise ValidationError({"actual_date": f"{actual_date:%Y-%m-%d} is in the future."})
    if actual_date < participant.consent_date:
        raise ValidationError({"actual_date": "The visit date is before consent."})


@transaction.atomic
def visit_record_done(
    visit: Visit,
    *,
    actual_date: dt.date,
    by,
    started_at: dt.datetime | None = None,
    dose: str = "",
    lot: str = "",
    product_id: str = "",
    adequate_collection: bool | None = None,
    override_reason: str = "",
) -> Visit:
    """Record a visit as done on `actual_date`. What else that means depends on the visit:
    leukapheresis records the collection, INF1 starts treatment, INF2-6 are infusions, M12
    completes the participant.

    `override_reason`: an investigator gives an infusion over the pre-dose gate (infusions.gate).
    It is refused on any other visit, which has no gate: a written override must never be
    silently dropped."""
    access.require_recorder(by, visit.participant.site)
    visit = (
        Visit.objects.select_for_update()
        .select_related("definition", "participant__site")
        .get(pk=visit.pk)
    )
    _check_visit_open(visit, actual_date)
    participant = visit.participant
    kind = visit.definition.kind
    if started_at and started_at.astimezone(participant.site.tz).date() != actual_date:
        raise ValidationError({"started_at": "The start time is not on the visit date."})
    infusion = kind in (VisitKind.FIRST_INFUSION, VisitKind.INFUSION)
    if override_reason and not infusion:
        raise ValidationError(
            {"override_reason": f"{visit.code} is not an infusion: it has no pre-dose gate."}
        )
    if kind == VisitKind.APHERESIS:
        if adequate_collection is None:
            raise ValidationError(
                {"adequate_collection": "Say whether the collection was adequate."}
            )
        enrollment.apheresis_record(
            participant,
            collected_on=actual_date,
            adequate_collection=adequate_collection,
            product_id=product_id,
            by=by,
        )
        return mark_done(visit, actual_date=actual_date, by=by, started_at=started_at)
    if infusion:
        return _record_infusion(
            visit,
            actual_date=actual_date,
            started_at=started_at,
            dose=dose,
            lot=lot,
            by=by,
            override_reason=override_reason,
        )
    if participant.status in (Status.SCREEN_FAILED, Status.DIED, Status.COMPLETED):
        raise ValidationError(f"{participant.label} is {participant.get_status_display().lower()}.")
    if visit.definition.anchor == Anchor.FIRST_INFUSION:
        _check_after_first_infusion(visit, participant, actual_date)
    if kind == VisitKind.COMPLETION:
        # Before its window the completion visit is not due at all: say that, not which earlier
        # visit is still open.
        if problem := window_not_open_problem(visit, dates.site_today(participant.site)):
            raise ValidationError(problem)
        _check_nothing_open_before(visit, participant)
    completes = kind == VisitKind.COMPLETION and participant.status != Status.WITHDRAWN
    if completes and participant.status != Status.IN_FOLLOW_UP:
        raise ValidationError(
            f"{visit.definition.code} completes the study, but {participant.label} is "
            f"{participant.get_status_display().lower()}: end treatment first."
        )
    visit = mark_done(visit, actual_date=actual_date, by=by, started_at=started_at)
    if completes:
        # (A withdrawn participant in safety follow-up has the visit, but stays withdrawn.)
        treatment.status_complete(participant, on=actual_date, by=by)
        close_open_visits(participant, "Participant completed the study.", on=actual_date)
    return visit


def _record_infusion(visit: Visit, *, actual_date, started_at, dose, lot, by, override_reason):
    if visit.definition.kind == VisitKind.INFUSION:
        return infusion_record(
            visit,
            actual_date=actual_date,
            started_at=started_at,
            dose=dose,
            lot=lot,
            by=by,
            override_reason=override_reason,
        )
    if started_at is None:
        raise ValidationError({"started_at": "Enter the time the infusion started."})
    return treatment_start(
        visit.participant,
        infused_at=started_at,
        dose=dose,
        lot=lot,
        by=by,
        override_reason=override_reason,
    )


def _check_after_first_infusion(visit: Visit, participant: Participant, actual_date) -> None:
    # Visits counted from D0 (EOT, M2...) only exist clinically once D0 has happened; before,
    # their dates are a plan that may still move.
    d0 = participant.first_infusion_date
    if d0 is None:
        raise ValidationError(
            f"{visit} cannot be recorded before the first infusion has been given."
        )
    if actual_date < d0:
        raise ValidationError(
            {"actual_date": f"{visit} cannot be before the first infusion ({d0:%Y-%m-%d})."}
        )


def _check_nothing_open_before(visit: Visit, participant: Participant) -> None:
    # Completing closes the visits still open as not applicable; an earlier visit that was
    # skipped is a missed visit (a protocol deviation) and must be recorded as such first.
    still_open = (
        participant.visits.filter(
            status=VisitStatus.SCHEDULED,
            definition__anchor=Anchor.FIRST_INFUSION,
            definition__order__lt=visit.definition.order,
        )
        .select_related("definition")
        .order_by("definition__order")
        .first()
    )
    if still_open is not None:
        raise ValidationError(
            f"Record {still_open.definition.code} (done or missed) before "
            f"{visit.definition.code}, which completes the participant."
        )


@transaction.atomic
def visit_mark_missed(visit: Visit, *, reason: str, by) -> Visit:
    """A coordinator confirms a visit did not happen."""
    access.require_recorder(by, visit.participant.site)
    visit = (
        Visit.objects.select_for_update()
        .select_related("definition", "participant__site")
        .get(pk=visit.pk)
    )
    if visit.status != VisitStatus.SCHEDULED:
        raise ValidationError(f"{visit} is already {visit.get_status_display().lower()}.")
    if not visit.definition.missable:
        raise ValidationError(
            f"{visit.definition.code} cannot be recorded as missed: without it the participant "
            "cannot continue. Record a status change (screen failure or withdrawal) instead."
        )
    if (
        visit.definition.kind == VisitKind.INFUSION
        and visit.participant.status != Status.IN_TREATMENT
    ):
        raise ValidationError(
            f"{visit.definition.code} can be recorded as missed only during treatment; before the "
            "first infusion, move the plan instead."
        )
    today = dates.site_today(visit.participant.site)
    if problem := window_not_open_problem(visit, today, action="missed"):
        raise ValidationError(problem)
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason the visit was missed."})
    infusion = visit.definition.kind == VisitKind.INFUSION
    if infusion:
        open_before = visit.participant.visits.filter(
            definition__kind=VisitKind.INFUSION,
            definition__order__lt=visit.definition.order,
            status=VisitStatus.SCHEDULED,
        ).first()
        if open_before is not None:
            raise ValidationError(
                f"Record {open_before.code} (given or missed) before {visit.definition.code}."
            )
    visit.status = VisitStatus.MISSED
    visit.reason = reason
    visit.recorded_by = by
    visit.recorded_at = timezone.now()
    visit.save()
    set_assessment_status(
        visit.assessments.pending(),
        AssessmentStatus.MISSED,
        "visit missed",
    )
    deviation_draft_for_missed_visit(visit)
    if infusion:
        participant = Participant.objects.select_for_update().get(pk=visit.participant_id)
        end_treatment_after_last_infusion(participant, visit, on=today, by=by)
    return visit


@transaction.atomic
def unscheduled_visit_add(participant: Participant, *, on: dt.date, reason: str, by) -> Visit:
    access.require_recorder(by, participant.site)
    participant = (
        Participant.objects.select_for_update().select_related("site").get(pk=participant.pk)
    )
    if participant.status in (Status.SCREEN_FAILED, Status.DIED, Status.COMPLETED):
        # Such a visit could never be recorded (visit_record_done refuses) and would stay open.
        raise ValidationError(
            f"{participant.label} is {participant.get_status_display().lower()}: "
            "no unscheduled visit can be added."
        )
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason for the unscheduled visit."})
    # It may lie ahead (planned for the day of the event), but within the plausible range.
    dates.check_plausible_date(on, "on", participant.site)
    if on < participant.consent_date:
        raise ValidationError({"on": "The visit date is before consent."})
    definition = definition_of_kind(participant.schedule.protocol, VisitKind.UNSCHEDULED)
    occurrence = participant.visits.filter(definition=definition).count() + 1
    [visit] = lay_out(participant, [definition], on, occurrence=occurrence, reason=reason)
    return visit
