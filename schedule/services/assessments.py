"""Recording an assessment: its result, or not done / not applicable with the reason."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from participants import access
from participants.audit import changed_fields, reason_for_change
from schedule.models import (
    Assessment,
    AssessmentStatus,
)
from schedule.services.deviations import deviation_draft_for_missed_safety


@transaction.atomic
def assessment_record(
    assessment: Assessment,
    *,
    result: str,
    is_abnormal: bool,
    completed_at: dt.datetime,
    by,
    reason: str = "",
) -> Assessment:
    """Record an assessment's result. The overdue flag is kept, so how late it was stays known.

    Changing a recorded result (its value, abnormal flag or time) needs `reason`, kept in the
    history; recording the same result again changes nothing and writes no history row.

    Lab-value assessments (CBC, IgG) are refused here: their values are entered with units and
    their abnormal flag computed (safety.services.labs, which calls assessment_record_computed).
    """
    access.require_recorder(by, assessment.visit.participant.site)
    assessment = _locked(assessment)
    if assessment.definition.lab_values:
        raise ValidationError(
            {
                "result": f"{assessment.definition.code} is entered as lab values with their "
                "units (on its page in the dashboard): the grade and “abnormal” are computed."
            }
        )
    return _record(assessment, result, is_abnormal, completed_at, by, reason)


@transaction.atomic
def assessment_record_computed(
    assessment: Assessment,
    *,
    result: str,
    is_abnormal: bool,
    completed_at: dt.datetime,
    by,
    reason: str = "",
) -> Assessment:
    """Record a lab-value assessment whose summary and abnormal flag were computed from the
    values by the caller (safety.services.labs.lab_results_record, the only caller)."""
    access.require_recorder(by, assessment.visit.participant.site)
    assessment = _locked(assessment)
    if not assessment.definition.lab_values:
        raise ValidationError(f"{assessment.definition.code} is not entered as lab values.")
    return _record(assessment, result, is_abnormal, completed_at, by, reason)


def post_dose_problem(assessment: Assessment, completed_at: dt.datetime | None = None) -> str:
    """Why a post-dose item (due hours after the infusion started) cannot take a result, or "":
    its infusion has not been given yet, or the result time is before the infusion started."""
    if not assessment.definition.due_hours_after_start:
        return ""
    visit = assessment.visit
    if visit.started_at is None:
        return (
            f"{assessment.definition.code} is checked after the infusion: record "
            f"{visit.definition.code} as given (with the time it started) first."
        )
    if completed_at is not None and completed_at < visit.started_at:
        started = visit.started_at.astimezone(visit.participant.site.tz)
        return (
            f"The result time is before {visit.definition.code} started "
            f"({started:%Y-%m-%d %H:%M} site time)."
        )
    return ""


def _locked(assessment: Assessment) -> Assessment:
    return (
        Assessment.objects.select_for_update()
        .select_related("visit__participant__site", "definition")
        .get(pk=assessment.pk)
    )


def _record(assessment: Assessment, result: str, is_abnormal: bool, completed_at, by, reason):
    if assessment.status not in (AssessmentStatus.PENDING, AssessmentStatus.DONE):
        raise ValidationError(
            f"{assessment} is {assessment.get_status_display().lower()}; it takes no result."
        )
    if timezone.is_naive(completed_at):
        raise ValidationError({"completed_at": "Give the time with its time zone."})
    if completed_at > timezone.now():
        raise ValidationError({"completed_at": "The result time is in the future."})
    if completed_at < assessment.visit.participant.consent_at:
        raise ValidationError({"completed_at": "The result time is before consent."})
    if problem := post_dose_problem(assessment, completed_at):
        raise ValidationError({"completed_at": problem})
    if not result.strip():
        raise ValidationError({"result": "Enter the result (a value, or “normal”)."})
    values = {"result": result.strip(), "is_abnormal": is_abnormal, "completed_at": completed_at}
    if assessment.status == AssessmentStatus.DONE:
        if not changed_fields(assessment, values):
            return assessment  # the same result again: nothing changes, no history row
        assessment._change_reason = reason_for_change(reason, "a recorded result")
    assessment.status = AssessmentStatus.DONE
    for name, value in values.items():
        setattr(assessment, name, value)
    assessment.recorded_by = by
    assessment.save()
    return assessment


@transaction.atomic
def assessment_not_done(assessment: Assessment, *, reason: str, not_applicable: bool, by):
    """An assessment that was not done (a deviation, e.g. a haemolysed sample), or that does not
    apply to this participant (only where the protocol allows, e.g. a pregnancy test for a man).

    Not done leaves it visible as missed; a pre-dose item not done still blocks the infusion.
    """
    access.require_recorder(by, assessment.visit.participant.site)
    assessment = (
        Assessment.objects.select_for_update()
        .select_related("visit__participant__site", "definition")
        .get(pk=assessment.pk)
    )
    if assessment.status != AssessmentStatus.PENDING:
        raise ValidationError(
            f"{assessment} is {assessment.get_status_display().lower()}; only a pending "
            "assessment can be recorded as not done."
        )
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason."})
    if not_applicable and not assessment.definition.can_be_not_applicable:
        raise ValidationError(
            {
                "not_applicable": f"The protocol does not allow {assessment.definition.code} to "
                "be not applicable. Record it as not done, with the reason."
            }
        )
    assessment.status = (
        AssessmentStatus.NOT_APPLICABLE if not_applicable else AssessmentStatus.MISSED
    )
    assessment.reason = reason.strip()[:200]
    if assessment.status == AssessmentStatus.MISSED:
        assessment.missed_at = timezone.now()
    assessment.recorded_by = by
    assessment.save()
    deviation_draft_for_missed_safety(assessment)
    return assessment
