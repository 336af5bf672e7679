"""The first infusion (D0) and the infusions after it: planning D0, the pre-dose gate, spacing and
the CRS/ICANS hold, the end of treatment (last infusion given or missed, or stopped early).
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from participants import access
from participants.models import Participant, Status
from participants.services import dates, treatment
from schedule.models import (
    Anchor,
    AssessmentStatus,
    Visit,
    VisitKind,
    VisitStatus,
)
from schedule.services.layout import close_open_visits, definitions, lay_out, mark_done
from schedule.services.reanchoring import reanchor

# First infusion planned 14-21 days after leukapheresis [PUBLIC]; later than this is unusual.
APHERESIS_TO_INFUSION_WARN_DAYS = 28


APHERESIS_TO_INFUSION_MIN_DAYS = 14


@transaction.atomic
def first_infusion_plan(
    participant: Participant, *, planned_on: dt.date, by, reason: str = ""
) -> list[str]:
    """Set or move the planned first-infusion date (D0) and lay out or move the D0 visits.

    Returns warnings a coordinator should see (the plan is saved).
    """
    access.require_recorder(by, participant.site)
    participant = (
        Participant.objects.select_for_update().select_related("site").get(pk=participant.pk)
    )
    if participant.status not in (
        Status.ENROLLED,
        Status.APHERESIS_DONE,
        Status.MANUFACTURING_FAILED,
    ):
        raise ValidationError(
            f"{participant.label} is {participant.get_status_display().lower()}: the first "
            "infusion can be planned only after enrollment and before it is given."
        )
    dates.check_first_infusion_date(participant, planned_on)
    schedule = participant.schedule
    if schedule.infusion_anchor is None:
        # After a manufacturing failure the voided D0 visits stay on record; the new plan's
        # visits are the next occurrence.
        previous = participant.visits.filter(definition__anchor=Anchor.FIRST_INFUSION).aggregate(
            n=Max("occurrence")
        )["n"]
        lay_out(
            participant,
            definitions(schedule.protocol, Anchor.FIRST_INFUSION),
            planned_on,
            occurrence=(previous or 0) + 1,
        )
        schedule.infusion_anchor = planned_on
        schedule.save()
    elif schedule.infusion_anchor != planned_on:
        if not reason.strip():
            raise ValidationError({"reason": "Give the reason the first infusion moves."})
        reanchor(participant, schedule, planned_on, reason=reason, by=by)
    return _infusion_plan_warnings(participant, planned_on)


def _infusion_plan_warnings(participant: Participant, d0: dt.date) -> list[str]:
    apheresis = participant.aphereses.order_by("-collected_on").first()
    if apheresis is None:
        return []
    warning = apheresis_gap_warning(apheresis.collected_on, d0, "the leukapheresis")
    return [warning] if warning else []


def apheresis_gap_warning(collected_on: dt.date, d0: dt.date, what: str) -> str:
    """A warning when D0 is not 14-28 days after the leukapheresis, or "" (pure)."""
    gap = (d0 - collected_on).days
    if APHERESIS_TO_INFUSION_MIN_DAYS <= gap <= APHERESIS_TO_INFUSION_WARN_DAYS:
        return ""
    return (
        f"The first infusion is {gap} days after {what} ({collected_on:%d %b %Y}); the protocol "
        f"plans {APHERESIS_TO_INFUSION_MIN_DAYS}-21 days for manufacturing."
    )


def check_pre_dose(visit: Visit, given_at: dt.datetime) -> None:
    """Pre-dose safety items that are missing or abnormal block recording an infusion."""
    problems = []
    infusion_day = given_at.astimezone(visit.participant.site.tz).date()
    for a in visit.assessments.select_related("definition").filter(definition__pre_dose=True):
        code = a.definition.code
        if a.status == AssessmentStatus.NOT_APPLICABLE:
            continue  # only items the protocol allows to be not applicable get here
        if a.status == AssessmentStatus.MISSED:
            problems.append(f"{code} not done ({a.reason})")
        elif a.status != AssessmentStatus.DONE:
            problems.append(f"{code} not recorded")
        elif a.is_abnormal:
            problems.append(f"{code} abnormal ({a.result or 'no value'})")
        elif a.completed_at > given_at:
            problems.append(f"{code} recorded after the infusion time")
        elif a.definition.max_age_hours and given_at - a.completed_at > dt.timedelta(
            hours=a.definition.max_age_hours
        ):
            problems.append(f"{code} older than {a.definition.max_age_hours} h")
        elif (
            not a.definition.max_age_hours
            and a.completed_at.astimezone(visit.participant.site.tz).date() != infusion_day
        ):
            problems.append(f"{code} not done on the infusion day")
    if problems:
        raise ValidationError(
            f"{visit} cannot be recorded as given. Pre-dose safety items: "
            + "; ".join(problems)
            + "."
        )


@transaction.atomic
def treatment_start(
    participant: Participant, *, infused_at: dt.datetime, dose: str, lot: str, by, reason: str = ""
) -> Visit:
    """The first infusion is given: D0 is set (re-anchoring if it moved), INF1 is done."""
    access.require_recorder(by, participant.site)
    participant = (
        Participant.objects.select_for_update().select_related("site").get(pk=participant.pk)
    )
    if timezone.is_naive(infused_at):
        raise ValidationError({"infused_at": "Give the infusion time with its time zone."})
    d0 = infused_at.astimezone(participant.site.tz).date()
    schedule = participant.schedule
    if schedule.infusion_anchor is None:
        raise ValidationError(
            "Plan the first infusion first, then record the pre-dose results on INF1."
        )
    if schedule.infusion_anchor != d0 and participant.status == Status.APHERESIS_DONE:
        dates.check_first_infusion_date(participant, d0)
        reanchor(
            participant,
            schedule,
            d0,
            reason=reason
            or f"First infusion given on {d0:%d %b %Y}, planned {schedule.infusion_anchor:%d %b %Y}.",
            by=by,
        )
    treatment.status_start_treatment(participant, infused_at=infused_at, dose=dose, lot=lot, by=by)
    inf1 = (
        participant.visits.select_related("definition")
        .filter(definition__kind=VisitKind.FIRST_INFUSION, status=VisitStatus.SCHEDULED)
        .first()
    )
    if inf1 is None:
        raise ValidationError("INF1 is not open for recording.")
    check_pre_dose(inf1, infused_at)
    return mark_done(inf1, actual_date=d0, by=by, started_at=infused_at, dose=dose, lot=lot)


def infusion_record(visit: Visit, *, actual_date, started_at, dose, lot, by) -> Visit:
    participant = Participant.objects.select_for_update().get(pk=visit.participant_id)
    if participant.status != Status.IN_TREATMENT:
        raise ValidationError(
            f"{participant.label} is {participant.get_status_display().lower()}: infusions are "
            "recorded only during treatment."
        )
    if started_at is None:
        raise ValidationError({"started_at": "Enter the time the infusion started."})
    if started_at > timezone.now():
        raise ValidationError({"started_at": "The infusion start time is in the future."})
    if not dose.strip() or not lot.strip():
        raise ValidationError("Enter the dose and the lot number of the infusion.")
    earlier = participant.visits.filter(
        definition__kind__in=(VisitKind.FIRST_INFUSION, VisitKind.INFUSION),
        definition__order__lt=visit.definition.order,
    ).select_related("definition")
    still_open = earlier.open().order_by("definition__order").first()
    if still_open is not None:
        raise ValidationError(
            f"Record {still_open.definition.code} (given or missed) before {visit.definition.code}."
        )
    # A missed infusion does not count: spacing is from the last infusion actually given.
    previous = earlier.filter(status=VisitStatus.DONE).order_by("-definition__order").first()
    gap = visit.definition.min_days_after_previous
    if gap and (actual_date - previous.actual_date).days < gap:
        raise ValidationError(
            {
                "actual_date": f"{visit.definition.code} must be at least {gap} days after "
                f"{previous.definition.code} ({previous.actual_date:%d %b %Y})."
            }
        )
    _check_infusion_hold(previous, visit)
    check_pre_dose(visit, started_at)
    visit = mark_done(
        visit, actual_date=actual_date, by=by, started_at=started_at, dose=dose, lot=lot
    )
    participant.infusions_received += 1
    participant.save(update_fields=["infusions_received"])
    end_treatment_after_last_infusion(participant, visit, on=actual_date, by=by)
    return visit


def _check_infusion_hold(previous: Visit, visit: Visit) -> None:
    """CRS/ICANS after the previous infusion holds this one until it has resolved (a normal
    result recorded again), or while it has not been assessed at all."""
    holding = previous.assessments.select_related("definition").filter(
        definition__holds_next_infusion=True
    )
    for a in holding:
        if a.status == AssessmentStatus.PENDING:
            raise ValidationError(
                f"Hold {visit.definition.code}: {a.definition.code} after "
                f"{previous.definition.code} has not been recorded."
            )
        if a.status == AssessmentStatus.DONE and a.is_abnormal:
            raise ValidationError(
                f"Hold {visit.definition.code}: {a.definition.code} after "
                f"{previous.definition.code} is abnormal ({a.result}). Record it again as "
                "normal (grade 1 or less) once resolved."
            )


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
        participant, on=on, by=by, reason=reason, planned_infusions=planned
    )


def planned_infusions(participant: Participant) -> int:
    """Infusions in the participant's protocol version (6 in version 1)."""
    return participant.schedule.protocol.visits.filter(
        kind__in=(VisitKind.FIRST_INFUSION, VisitKind.INFUSION)
    ).count()


@transaction.atomic
def treatment_stop_early(participant: Participant, *, on: dt.date, reason: str, by) -> Participant:
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
                "on": f"{last_given.code} was given on {last_given.actual_date:%d %b %Y}: treatment "
                "cannot have stopped before it."
            }
        )
    participant = treatment.status_end_treatment(
        participant, on=on, reason=reason, by=by, planned_infusions=planned_infusions(participant)
    )
    close_open_visits(
        participant,
        "Treatment stopped early.",
        on=on,
        definition__kind__in=(VisitKind.FIRST_INFUSION, VisitKind.INFUSION),
    )
    return participant
