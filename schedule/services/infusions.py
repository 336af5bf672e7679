"""The first infusion (D0) and the infusions after it: planning D0, the pre-dose gate (pre-dose
items, open infusion holds, CRS/ICANS after the previous infusion, an investigator's override),
spacing, the end of treatment (last infusion given or missed, or stopped early).
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from participants import access
from participants.identifiers import check_infusion_product
from participants.models import Participant, StaffProfile, StaffRole, Status
from participants.services import dates, treatment
from schedule.models import (
    Anchor,
    Assessment,
    AssessmentStatus,
    PreDoseOverride,
    Visit,
    VisitKind,
    VisitStatus,
)
from schedule.services.deviations import deviation_draft_for_override
from schedule.services.first_infusion_dates import (  # the first three re-exported by the package
    APHERESIS_TO_INFUSION_MIN_DAYS,  # noqa: F401
    APHERESIS_TO_INFUSION_WARN_DAYS,  # noqa: F401
    FirstInfusionDateCheck,
    apheresis_gap_warning,  # noqa: F401
    first_infusion_date_check,
)
from schedule.services.holds import open_holds
from schedule.services.layout import definitions, lay_out, mark_done
from schedule.services.reanchoring import reanchor
from schedule.services.treatment_end import end_treatment_after_last_infusion


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
    check = first_infusion_check(participant, planned_on)
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
    return check.warnings


def first_infusion_check(participant: Participant, d0: dt.date) -> FirstInfusionDateCheck:
    """Check D0 for this participant (first_infusion_date_check, the function schedule_preview
    uses too) and refuse on an error; the warnings are returned. The leukapheresis is the one
    still to come (an open APH visit's target: a warning) or else the last one collected (an
    error when D0 is not after it)."""
    dates.check_plausible_date(d0, "first_infusion_on", participant.site)
    planned = (
        participant.visits.open()
        .filter(definition__kind=VisitKind.APHERESIS)
        .order_by("-occurrence")
        .first()
    )
    collected = participant.aphereses.order_by("-collected_on").first()
    check = first_infusion_date_check(
        participant.consent_date,
        d0,
        leukapheresis_on=planned.target_date
        if planned
        else getattr(collected, "collected_on", None),
        leukapheresis_done=planned is None and collected is not None,
        today=dates.site_today(participant.site),
    )
    if check.errors:
        raise ValidationError({"first_infusion_on": check.errors})
    return check


# --- The pre-dose gate ------------------------------------------------------------------------------
# Every reason an infusion may not be given is listed at once (pre-dose items, open holds, CRS/ICANS
# after the previous infusion), so the coordinator fixes them in one go and an investigator who
# gives it anyway overrides exactly what was shown. Order, spacing and status are not in the gate:
# nobody overrides those.

ON_HOLD = "on hold: "
OVERRIDE_HINT = "An investigator of the site may give it anyway with a written reason."


def pre_dose_problems(visit: Visit, given_at: dt.datetime) -> list[str]:
    """Every reason the pre-dose gate refuses `visit` given at `given_at` ([] when it may go)."""
    tz = visit.participant.site.tz
    items = [
        problem
        for a in visit.assessments.select_related("definition").filter(definition__pre_dose=True)
        if (problem := _pre_dose_item_problem(a, given_at, tz))
    ]
    holds = [
        f"{ON_HOLD}{hold.reason} ({hold.source}), unresolved"
        for hold in open_holds(visit.participant)
    ]
    return items + holds + _previous_infusion_holds(visit)


def _pre_dose_item_problem(a: Assessment, given_at: dt.datetime, tz) -> str:
    """Why this pre-dose item does not clear the infusion, or "" when it does."""
    code, max_age = a.definition.code, a.definition.max_age_hours
    if a.status == AssessmentStatus.NOT_APPLICABLE:
        return ""  # only items the protocol allows to be not applicable get here
    if a.status == AssessmentStatus.MISSED:
        return f"{code} not done ({a.reason})"
    if a.status != AssessmentStatus.DONE:
        return f"{code} not recorded"
    if a.is_abnormal:
        return f"{code} abnormal ({a.result or 'no value'})"
    if a.completed_at > given_at:
        return f"{code} recorded after the infusion time"
    if max_age and given_at - a.completed_at > dt.timedelta(hours=max_age):
        return f"{code} older than {max_age} h"
    # Without an age limit the item belongs to the infusion day itself (vital signs, infection).
    if not max_age and a.completed_at.astimezone(tz).date() != given_at.astimezone(tz).date():
        return f"{code} not done on the infusion day"
    return ""


def _previous_infusion_holds(visit: Visit) -> list[str]:
    """CRS/ICANS after the previous infusion given holds this one until it has resolved (a normal
    result recorded again), or while it has not been assessed at all."""
    previous = (
        visit.participant.visits.filter(
            definition__kind__in=(VisitKind.FIRST_INFUSION, VisitKind.INFUSION),
            definition__order__lt=visit.definition.order,
            status=VisitStatus.DONE,
        )
        .order_by("-definition__order")
        .first()
    )
    if previous is None:
        return []
    problems = []
    holding = previous.assessments.select_related("definition").filter(
        definition__holds_next_infusion=True
    )
    for a in holding:
        after = f"{ON_HOLD}{a.definition.code} after {previous.definition.code}"
        if a.status == AssessmentStatus.PENDING:
            problems.append(f"{after} has not been recorded")
        elif a.status == AssessmentStatus.DONE and a.is_abnormal:
            problems.append(
                f"{after} is abnormal ({a.result}), until it is recorded again as normal "
                "(grade 1 or less)"
            )
    return problems


def gate(
    visit: Visit, given_at: dt.datetime, *, override_reason: str = "", by
) -> PreDoseOverride | None:
    """The pre-dose gate of INF1 (treatment_start) and INF2-6 (infusion_record).

    No problems: the infusion may be recorded (None). Problems and no override reason: refused,
    every problem listed. Problems and a reason: only an investigator of the participant's site may
    give it anyway (not a coordinator, study manager or administrator: the decision is a
    physician's); the override is kept with the problems it overrode, in the caller's transaction.
    """
    problems = pre_dose_problems(visit, given_at)
    if not problems:
        return None
    if not override_reason:
        raise ValidationError(_refusal(visit, problems))
    site = visit.participant.site
    if not _is_investigator_of(by, site):
        raise ValidationError(
            {
                "override_reason": f"Only an investigator of site {site.code} may give "
                f"{visit.code} over the pre-dose gate. {_refusal(visit, problems, hint=False)}"
            }
        )
    if not override_reason.strip():
        raise ValidationError(
            {"override_reason": f"Write why {visit.code} is given over the pre-dose gate."}
        )
    override = PreDoseOverride.objects.create(
        visit=visit,
        problems=problems,
        reason=override_reason.strip(),
        overridden_by=by,
        overridden_at=timezone.now(),
    )
    deviation_draft_for_override(override, given_at)
    return override


def _refusal(visit: Visit, problems: list[str], *, hint: bool = True) -> str:
    """'S01-003 INF2 cannot be recorded as given. Pre-dose safety items: ...; .... On hold: ....'"""
    items = [p for p in problems if not p.startswith(ON_HOLD)]
    holds = [p.removeprefix(ON_HOLD) for p in problems if p.startswith(ON_HOLD)]
    text = f"{visit} cannot be recorded as given."
    if items:
        text += " Pre-dose safety items: " + "; ".join(items) + "."
    if holds:
        text += " On hold: " + "; ".join(holds) + "."
    return f"{text} {OVERRIDE_HINT}" if hint else text


def _is_investigator_of(user, site) -> bool:
    """An active investigator with `site` among their sites. Being a superuser is not enough."""
    if not (getattr(user, "is_authenticated", False) and user.is_active):
        return False
    try:
        profile = user.staff_profile
    except StaffProfile.DoesNotExist:
        return False
    return profile.role == StaffRole.INVESTIGATOR and profile.sites.filter(pk=site.pk).exists()


@transaction.atomic
def treatment_start(
    participant: Participant,
    *,
    infused_at: dt.datetime,
    dose: str,
    lot: str,
    by,
    reason: str = "",
    override_reason: str = "",
) -> Visit:
    """The first infusion is given: D0 is set (re-anchoring if it moved), INF1 is done.
    `override_reason`: an investigator's reason for giving it over the pre-dose gate."""
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
        first_infusion_check(participant, d0)
        reanchor(
            participant,
            schedule,
            d0,
            reason=reason
            or f"First infusion given on {d0:%Y-%m-%d}, planned {schedule.infusion_anchor:%Y-%m-%d}.",
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
    gate(inf1, infused_at, override_reason=override_reason, by=by)
    return mark_done(inf1, actual_date=d0, by=by, started_at=infused_at, dose=dose, lot=lot)


@transaction.atomic
def infusion_record(
    visit: Visit, *, actual_date, started_at, dose, lot, by, override_reason: str = ""
) -> Visit:
    """Infusion 2-6 given: in order, spaced from the last one given, through the pre-dose gate.
    The caller (visit_record_done) has checked `by` may record at the site."""
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
    check_infusion_product(dose, lot)
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
                f"{previous.definition.code} ({previous.actual_date:%Y-%m-%d})."
            }
        )
    gate(visit, started_at, override_reason=override_reason, by=by)
    visit = mark_done(
        visit, actual_date=actual_date, by=by, started_at=started_at, dose=dose, lot=lot
    )
    participant.infusions_received += 1
    participant.save(update_fields=["infusions_received"])
    end_treatment_after_last_infusion(participant, visit, on=actual_date, by=by)
    return visit
