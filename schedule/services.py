"""The schedule side of the study: laying out visits, recording them, and the status changes that
move the schedule (consent, first infusion, withdrawal, completion...).

Plain functions, each one transaction. Refusals raise ValidationError in the coordinator's words;
nothing is saved when one is raised. participants.services holds the status rules; the functions
here call them and then move the visits, so a caller needs only this module.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from participants import services as participant_services
from participants.models import Participant, Status
from schedule.models import (
    Anchor,
    Assessment,
    AssessmentCondition,
    AssessmentDefinition,
    AssessmentStatus,
    ParticipantSchedule,
    Period,
    ProtocolVersion,
    Reanchor,
    Visit,
    VisitDefinition,
    VisitKind,
    VisitStatus,
)
from schedule.protocols.loader import create_protocol
from schedule.windows import window_closes_at, window_for

# First infusion planned 14-21 days after leukapheresis [PUBLIC]; later than this is unusual.
APHERESIS_TO_INFUSION_WARN_DAYS = 28
APHERESIS_TO_INFUSION_MIN_DAYS = 14


# --- The protocol ------------------------------------------------------------------------------


def protocol_current() -> ProtocolVersion:
    protocol = ProtocolVersion.objects.filter(is_active=True).order_by("-version").first()
    if protocol is None:
        raise ValidationError("No active protocol version: load one (manage.py load_protocol).")
    return protocol


@transaction.atomic
def protocol_load(data: dict) -> ProtocolVersion:
    """Create a protocol version from its data (schedule/protocols/v1.py is the model)."""
    if ProtocolVersion.objects.filter(version=data["version"]).exists():
        raise ValidationError(f"Protocol version {data['version']} already exists.")
    protocol = create_protocol(data, ProtocolVersion, VisitDefinition, AssessmentDefinition)
    problems = protocol_problems(protocol)
    if problems:
        raise ValidationError(problems)
    return protocol


def protocol_as_data(protocol: ProtocolVersion) -> dict:
    """The inverse of protocol_load: a version as plain data (for amendments and export)."""
    visits = []
    for d in protocol.visits.prefetch_related("assessments").order_by("order"):
        visits.append(
            {
                "code": d.code,
                "name": d.name,
                "period": d.period,
                "kind": d.kind,
                "anchor": d.anchor,
                "offset": d.target_offset,
                "before": d.window_before,
                "after": d.window_after,
                "min_days_after_previous": d.min_days_after_previous,
                "missable": d.missable,
                "assessments": [
                    [
                        a.code,
                        a.name,
                        a.is_safety,
                        {
                            k: v
                            for k, v in {
                                "pre_dose": a.pre_dose,
                                "max_age_hours": a.max_age_hours,
                                "due_hours_after_start": a.due_hours_after_start,
                                "condition": a.condition,
                                "can_be_not_applicable": a.can_be_not_applicable,
                                "holds_next_infusion": a.holds_next_infusion,
                            }.items()
                            if v
                        },
                    ]
                    for a in d.assessments.all()
                ],
            }
        )
    return {
        "version": protocol.version,
        "name": protocol.name,
        "notes": protocol.notes,
        "visits": visits,
    }


@transaction.atomic
def protocol_copy_as_amendment(protocol: ProtocolVersion, *, name: str) -> ProtocolVersion:
    """A new version, a copy of `protocol`, to be edited into the amendment. It is created
    inactive: new participants get it only once the study manager makes it active."""
    data = protocol_as_data(protocol)
    latest = ProtocolVersion.objects.select_for_update().order_by("-version").first()
    data["version"] = latest.version + 1
    data["name"] = name
    data["is_active"] = False
    return protocol_load(data)


def protocol_problems(protocol: ProtocolVersion) -> list[str]:
    """Problems in a protocol's definitions: overlapping windows or visits out of order among
    visits that share an anchor (the only ones whose relative dates the protocol fixes)."""
    problems = []
    by_anchor: dict[str, list[VisitDefinition]] = {}
    definitions = list(protocol.visits.order_by("order"))
    for d in definitions:
        if d.anchor in (Anchor.CONSENT, Anchor.FIRST_INFUSION):
            by_anchor.setdefault(d.anchor, []).append(d)
    origin = dt.date(2000, 1, 1)  # any date: same-anchor windows move together
    for same_anchor in by_anchor.values():
        for earlier, later in zip(same_anchor, same_anchor[1:], strict=False):
            w1 = window_for(
                origin, earlier.target_offset, earlier.window_before, earlier.window_after
            )
            w2 = window_for(origin, later.target_offset, later.window_before, later.window_after)
            if w2.target <= w1.target:
                problems.append(
                    f"{later.code} is listed after {earlier.code} but its target is not later."
                )
            elif w1.overlaps(w2):
                problems.append(f"The windows of {earlier.code} and {later.code} overlap.")
    # The services look these visits up one by one, so each must exist exactly once.
    for what, field, value in (
        ("leukapheresis visit (kind apheresis)", "kind", VisitKind.APHERESIS),
        ("first-infusion visit (kind first_infusion)", "kind", VisitKind.FIRST_INFUSION),
        ("unscheduled visit (kind unscheduled)", "kind", VisitKind.UNSCHEDULED),
        ("early-termination visit (anchor withdrawal)", "anchor", Anchor.WITHDRAWAL),
    ):
        found = sum(1 for d in definitions if getattr(d, field) == value)
        if found != 1:
            problems.append(f"The protocol needs exactly one {what}; it has {found}.")
    return problems


# --- Laying out a schedule ---------------------------------------------------------------------


def _assessment_due_at(definition: AssessmentDefinition, visit: Visit, tz) -> dt.datetime:
    """When an assessment becomes overdue (PROTOCOL.md "Overdue rule").

    Infusion-day post-dose items are due hours after the infusion started; everything else when
    its visit's window closes (end of the last window day in the site's time zone).
    """
    if definition.due_hours_after_start and visit.started_at:
        return visit.started_at + dt.timedelta(hours=definition.due_hours_after_start)
    return window_closes_at(visit.window_end, tz)


def _lay_out(
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
                definition=d,
                occurrence=occurrence,
                target_date=w.target,
                window_start=w.start,
                window_end=w.end,
                reason=reason,
            )
        )
    # The *_with_history helpers keep the audit trail that a plain bulk_create would skip.
    visits = bulk_create_with_history(visits, Visit, default_change_reason=reason or "laid out")
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
                    definition=a,
                    is_safety=a.is_safety,
                    due_at=_assessment_due_at(a, visit, tz),
                )
            )
    bulk_create_with_history(assessments, Assessment, default_change_reason="laid out")
    return visits


def _definitions(protocol: ProtocolVersion, anchor: str) -> list[VisitDefinition]:
    return list(
        protocol.visits.filter(anchor=anchor).prefetch_related("assessments").order_by("order")
    )


def _definition(protocol: ProtocolVersion, kind: str) -> VisitDefinition:
    return protocol.visits.prefetch_related("assessments").get(kind=kind)


@transaction.atomic
def participant_consent(*, site, by, **consent) -> Participant:
    """A person consents: the screening starts and the screening-period visits are laid out."""
    participant = participant_services.participant_register(site=site, by=by, **consent)
    protocol = protocol_current()
    ParticipantSchedule.objects.create(
        participant=participant, protocol=protocol, consent_anchor=participant.consent_date
    )
    _lay_out(participant, _definitions(protocol, Anchor.CONSENT), participant.consent_date)
    return participant


def participant_rescreen(old: Participant, *, by, **consent) -> Participant:
    """A failed screening is tried again: a new screening linked to the old one."""
    return participant_consent(site=old.site, by=by, rescreen_of=old, **consent)


def _close_open_visits(
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
        participant.visits.filter(status=VisitStatus.SCHEDULED, **filters)
        .exclude(pk__in=exclude_ids)
        .select_related("definition")
    )
    missed = [v for v in visits if on is not None and v.window_end < on]
    closed = [v for v in visits if v not in missed]
    for group, visit_status, assessment_status, why in (
        (missed, VisitStatus.MISSED, AssessmentStatus.MISSED, f"Window closed before: {reason}"),
        (closed, VisitStatus.NOT_APPLICABLE, AssessmentStatus.NOT_APPLICABLE, reason),
    ):
        _set_assessment_status(
            Assessment.objects.filter(visit__in=group, status=AssessmentStatus.PENDING),
            assessment_status,
            why,
        )
        for visit in group:
            visit.status, visit.reason = visit_status, why
        bulk_update_with_history(group, Visit, ["status", "reason"], default_change_reason=why)
    return len(visits)


def _set_assessment_status(assessments, status: str, reason: str) -> None:
    rows = list(assessments)
    for a in rows:
        a.status = status
    bulk_update_with_history(rows, Assessment, ["status"], default_change_reason=reason)


# --- First infusion (D0) -----------------------------------------------------------------------


@transaction.atomic
def first_infusion_plan(
    participant: Participant, *, planned_on: dt.date, by, reason: str = ""
) -> list[str]:
    """Set or move the planned first-infusion date (D0) and lay out or move the D0 visits.

    Returns warnings a coordinator should see (the plan is saved).
    """
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
    participant_services.check_first_infusion_date(participant, planned_on)
    schedule = participant.schedule
    if schedule.infusion_anchor is None:
        # After a manufacturing failure the voided D0 visits stay on record; the new plan's
        # visits are the next occurrence.
        previous = participant.visits.filter(definition__anchor=Anchor.FIRST_INFUSION).aggregate(
            n=Max("occurrence")
        )["n"]
        _lay_out(
            participant,
            _definitions(schedule.protocol, Anchor.FIRST_INFUSION),
            planned_on,
            occurrence=(previous or 0) + 1,
        )
        schedule.infusion_anchor = planned_on
        schedule.save()
    elif schedule.infusion_anchor != planned_on:
        if not reason.strip():
            raise ValidationError({"reason": "Give the reason the first infusion moves."})
        _reanchor(participant, schedule, planned_on, reason=reason, by=by)
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


def _reanchor(
    participant: Participant, schedule: ParticipantSchedule, new_anchor: dt.date, *, reason, by
) -> Reanchor:
    """Move every D0-anchored visit not yet done; keep the ones done; record that it happened."""
    tz = participant.site.tz
    moved = list(
        participant.visits.filter(
            definition__anchor=Anchor.FIRST_INFUSION, status=VisitStatus.SCHEDULED
        )
        .select_related("definition")
        .prefetch_related("assessments__definition")
    )
    now = timezone.now()
    for visit in moved:
        d = visit.definition
        w = window_for(new_anchor, d.target_offset, d.window_before, d.window_after)
        visit.target_date, visit.window_start, visit.window_end = w.target, w.start, w.end
        for a in visit.assessments.all():
            if a.status != AssessmentStatus.PENDING:
                continue
            a.due_at = _assessment_due_at(a.definition, visit, tz)
            if a.due_at > now:
                # Moved later: no longer overdue, so it may be flagged again when it is.
                a.overdue_flagged_at = a.escalated_at = None
            a.save(update_fields=["due_at", "overdue_flagged_at", "escalated_at"])
    bulk_update_with_history(
        moved,
        Visit,
        ["target_date", "window_start", "window_end"],
        default_change_reason=f"re-anchored: {reason}",
    )
    record = Reanchor.objects.create(
        participant=participant,
        old_anchor=schedule.infusion_anchor,
        new_anchor=new_anchor,
        visits_moved=len(moved),
        reason=reason,
        changed_by=by,
        changed_at=now,
    )
    schedule.infusion_anchor = new_anchor
    schedule.save()
    return record


def _check_pre_dose(visit: Visit, given_at: dt.datetime) -> None:
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
        participant_services.check_first_infusion_date(participant, d0)
        _reanchor(
            participant,
            schedule,
            d0,
            reason=reason
            or f"First infusion given on {d0:%d %b %Y}, planned {schedule.infusion_anchor:%d %b %Y}.",
            by=by,
        )
    participant_services.participant_start_treatment(
        participant, infused_at=infused_at, dose=dose, lot=lot, by=by
    )
    inf1 = (
        participant.visits.select_related("definition")
        .filter(definition__kind=VisitKind.FIRST_INFUSION, status=VisitStatus.SCHEDULED)
        .first()
    )
    if inf1 is None:
        raise ValidationError("INF1 is not open for recording.")
    _check_pre_dose(inf1, infused_at)
    return _mark_done(inf1, actual_date=d0, by=by, started_at=infused_at, dose=dose, lot=lot)


# --- Recording visits --------------------------------------------------------------------------


def _mark_done(
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
    visit.in_window = visit.window_start <= actual_date <= visit.window_end
    visit.dose, visit.lot = dose, lot
    visit.recorded_by = by
    visit.recorded_at = timezone.now()
    visit.save()
    if started_at:
        for a in visit.assessments.select_related("definition").filter(
            status=AssessmentStatus.PENDING, definition__due_hours_after_start__isnull=False
        ):
            a.due_at = _assessment_due_at(a.definition, visit, tz)
            a.save(update_fields=["due_at"])
    return visit


def _check_visit_open(visit: Visit, actual_date: dt.date) -> None:
    if visit.status != VisitStatus.SCHEDULED:
        raise ValidationError(f"{visit} is already {visit.get_status_display().lower()}.")
    participant = visit.participant
    if actual_date > participant_services.site_today(participant.site):
        raise ValidationError({"actual_date": f"{actual_date:%d %b %Y} is in the future."})
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
) -> Visit:
    """Record a visit as done on `actual_date`. What else that means depends on the visit:
    leukapheresis records the collection, INF1 starts treatment, INF2-6 are infusions, M12
    completes the participant."""
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
    if kind == VisitKind.APHERESIS:
        if adequate_collection is None:
            raise ValidationError(
                {"adequate_collection": "Say whether the collection was adequate."}
            )
        participant_services.participant_record_apheresis(
            participant,
            collected_on=actual_date,
            adequate_collection=adequate_collection,
            product_id=product_id,
            by=by,
        )
        return _mark_done(visit, actual_date=actual_date, by=by, started_at=started_at)
    if kind == VisitKind.FIRST_INFUSION:
        if started_at is None:
            raise ValidationError({"started_at": "Enter the time the infusion started."})
        return treatment_start(participant, infused_at=started_at, dose=dose, lot=lot, by=by)
    if kind == VisitKind.INFUSION:
        return _record_infusion(
            visit, actual_date=actual_date, started_at=started_at, dose=dose, lot=lot, by=by
        )
    if participant.status in (Status.SCREEN_FAILED, Status.DIED, Status.COMPLETED):
        raise ValidationError(f"{participant.label} is {participant.get_status_display().lower()}.")
    if visit.definition.anchor == Anchor.FIRST_INFUSION:
        _check_after_first_infusion(visit, participant, actual_date)
    if kind == VisitKind.COMPLETION:
        _check_nothing_open_before(visit, participant)
    completes = kind == VisitKind.COMPLETION and participant.status != Status.WITHDRAWN
    if completes and participant.status != Status.IN_FOLLOW_UP:
        raise ValidationError(
            f"{visit.definition.code} completes the study, but {participant.label} is "
            f"{participant.get_status_display().lower()}: end treatment first."
        )
    visit = _mark_done(visit, actual_date=actual_date, by=by, started_at=started_at)
    if completes:
        # (A withdrawn participant in safety follow-up has the visit, but stays withdrawn.)
        participant_services.participant_complete(participant, on=actual_date, by=by)
        _close_open_visits(participant, "Participant completed the study.", on=actual_date)
    return visit


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
            {"actual_date": f"{visit} cannot be before the first infusion ({d0:%d %b %Y})."}
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


def _record_infusion(visit: Visit, *, actual_date, started_at, dose, lot, by) -> Visit:
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
    still_open = earlier.filter(status=VisitStatus.SCHEDULED).order_by("definition__order").first()
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
    _check_pre_dose(visit, started_at)
    visit = _mark_done(
        visit, actual_date=actual_date, by=by, started_at=started_at, dose=dose, lot=lot
    )
    participant.infusions_received += 1
    participant.save(update_fields=["infusions_received"])
    _end_treatment_after_last_infusion(participant, visit, on=actual_date, by=by)
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


def _end_treatment_after_last_infusion(participant: Participant, visit: Visit, *, on, by) -> None:
    """Treatment ends with the last infusion of the schedule, given or missed."""
    later_open = participant.visits.filter(
        definition__kind=VisitKind.INFUSION,
        definition__order__gt=visit.definition.order,
        status=VisitStatus.SCHEDULED,
    ).exists()
    if later_open:
        return
    planned = _planned_infusions(participant)
    missed = participant.visits.filter(
        definition__kind=VisitKind.INFUSION, status=VisitStatus.MISSED
    ).select_related("definition")
    reason = (
        ""
        if participant.infusions_received >= planned
        else f"{participant.infusions_received} of {planned} infusions given; missed: "
        + ", ".join(v.code for v in missed)
    )
    participant_services.participant_end_treatment(
        participant, on=on, by=by, reason=reason, planned_infusions=planned
    )


def _planned_infusions(participant: Participant) -> int:
    """Infusions in the participant's protocol version (6 in version 1)."""
    return participant.schedule.protocol.visits.filter(
        kind__in=(VisitKind.FIRST_INFUSION, VisitKind.INFUSION)
    ).count()


@transaction.atomic
def visit_mark_missed(visit: Visit, *, reason: str, by) -> Visit:
    """A coordinator confirms a visit did not happen."""
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
    today = participant_services.site_today(visit.participant.site)
    if today < visit.window_start:
        raise ValidationError(
            f"{visit}'s window opens on {visit.window_start:%d %b %Y}; it cannot be missed yet."
        )
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
    _set_assessment_status(
        visit.assessments.filter(status=AssessmentStatus.PENDING),
        AssessmentStatus.MISSED,
        "visit missed",
    )
    if infusion:
        participant = Participant.objects.select_for_update().get(pk=visit.participant_id)
        _end_treatment_after_last_infusion(participant, visit, on=today, by=by)
    return visit


@transaction.atomic
def unscheduled_visit_add(participant: Participant, *, on: dt.date, reason: str, by) -> Visit:
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
    if on < participant.consent_date:
        raise ValidationError({"on": "The visit date is before consent."})
    definition = _definition(participant.schedule.protocol, VisitKind.UNSCHEDULED)
    occurrence = participant.visits.filter(definition=definition).count() + 1
    [visit] = _lay_out(participant, [definition], on, occurrence=occurrence, reason=reason)
    return visit


@transaction.atomic
def assessment_record(
    assessment: Assessment,
    *,
    result: str,
    is_abnormal: bool,
    completed_at: dt.datetime,
    by,
) -> Assessment:
    """Record an assessment's result. The overdue flag is kept, so how late it was stays known."""
    assessment = (
        Assessment.objects.select_for_update()
        .select_related("visit__participant__site", "definition")
        .get(pk=assessment.pk)
    )
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
    if not result.strip():
        raise ValidationError({"result": "Enter the result (a value, or “normal”)."})
    assessment.status = AssessmentStatus.DONE
    assessment.result = result.strip()
    assessment.is_abnormal = is_abnormal
    assessment.completed_at = completed_at
    assessment.recorded_by = by
    assessment.save()
    return assessment


@transaction.atomic
def assessment_not_done(assessment: Assessment, *, reason: str, not_applicable: bool, by):
    """An assessment that was not done (a deviation, e.g. a haemolysed sample), or that does not
    apply to this participant (only where the protocol allows, e.g. a pregnancy test for a man).

    Not done leaves it visible as missed; a pre-dose item not done still blocks the infusion.
    """
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
    assessment.recorded_by = by
    assessment.save()
    return assessment


# --- Status changes that move the schedule -----------------------------------------------------


@transaction.atomic
def participant_screen_fail(participant: Participant, **kwargs) -> Participant:
    participant = participant_services.participant_screen_fail(participant, **kwargs)
    _close_open_visits(participant, "Screen failure.", on=kwargs["on"])
    return participant


@transaction.atomic
def participant_enroll(participant: Participant, **kwargs) -> Participant:
    return participant_services.participant_enroll(participant, **kwargs)


@transaction.atomic
def participant_manufacturing_fail(participant: Participant, **kwargs) -> Participant:
    """Manufacturing failed: a repeat leukapheresis visit is laid out (unless one is open)."""
    participant = participant_services.participant_manufacturing_fail(participant, **kwargs)
    # No product, no infusion: the D0 plan is void (and must not raise overdue alerts). The
    # next plan lays the D0 visits out again.
    _close_open_visits(
        participant,
        "Manufacturing failed; the first infusion is to be planned again.",
        definition__anchor=Anchor.FIRST_INFUSION,
    )
    schedule = participant.schedule
    schedule.infusion_anchor = None
    schedule.save()
    protocol = schedule.protocol
    definition = _definition(protocol, VisitKind.APHERESIS)
    if not participant.visits.filter(definition=definition, status=VisitStatus.SCHEDULED).exists():
        occurrence = participant.visits.filter(definition=definition).count() + 1
        # The repeat collection is due as soon as possible: its window opens on the failure date.
        _lay_out(
            participant,
            [definition],
            kwargs["on"] - dt.timedelta(days=definition.target_offset - definition.window_before),
            occurrence=occurrence,
            reason="Repeat leukapheresis after manufacturing failure.",
        )
    return participant


@transaction.atomic
def treatment_stop_early(participant: Participant, *, on: dt.date, reason: str, by) -> Participant:
    """Treatment stops before the 6th infusion. The participant stays in the study (follow-up)."""
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
    participant = participant_services.participant_end_treatment(
        participant, on=on, reason=reason, by=by, planned_infusions=_planned_infusions(participant)
    )
    _close_open_visits(
        participant,
        "Treatment stopped early.",
        on=on,
        definition__kind__in=(VisitKind.FIRST_INFUSION, VisitKind.INFUSION),
    )
    return participant


@transaction.atomic
def participant_withdraw(
    participant: Participant, *, on: dt.date, reason: str, safety_follow_up_continues: bool, by
) -> Participant:
    """Withdrawal: future visits are cancelled and the early-termination visit is laid out."""
    participant, withdrawn_from = participant_services.participant_withdraw(
        participant,
        on=on,
        reason=reason,
        safety_follow_up_continues=safety_follow_up_continues,
        by=by,
    )
    kept = _safety_follow_up_visits(participant, on) if safety_follow_up_continues else []
    _close_open_visits(participant, "Participant withdrew.", on=on, exclude_ids=kept)
    _set_assessment_status(
        Assessment.objects.filter(visit__in=kept, status=AssessmentStatus.PENDING, is_safety=False),
        AssessmentStatus.NOT_APPLICABLE,
        "Withdrawn: safety follow-up only.",
    )
    if withdrawn_from == Status.LOST_TO_FOLLOW_UP:
        # Withdrawn while lost: what matters for the ET visit is where they were when lost.
        withdrawn_from = (
            participant.status_changes.filter(to_status=Status.LOST_TO_FOLLOW_UP)
            .order_by("-changed_at", "-id")
            .values_list("from_status", flat=True)
            .first()
        )
    if withdrawn_from != Status.SCREENING:
        # Someone who only consented has no study procedures to close out.
        definition = participant.schedule.protocol.visits.prefetch_related("assessments").get(
            anchor=Anchor.WITHDRAWAL
        )
        _lay_out(
            participant,
            [definition],
            on,
            withdrawn_in_treatment=withdrawn_from == Status.IN_TREATMENT,
            reason=reason,
        )
    return participant


def _safety_follow_up_visits(participant: Participant, on: dt.date) -> list[int]:
    """Visits kept, for their safety assessments only, when a withdrawn participant agreed to
    safety follow-up: the post-treatment visits whose window has not closed."""
    return list(
        participant.visits.filter(
            status=VisitStatus.SCHEDULED,
            window_end__gte=on,
            definition__period__in=(Period.TREATMENT, Period.FOLLOW_UP),
            definition__kind__in=(VisitKind.STANDARD, VisitKind.COMPLETION),
        ).values_list("pk", flat=True)
    )


@transaction.atomic
def participant_die(participant: Participant, **kwargs) -> Participant:
    participant = participant_services.participant_die(participant, **kwargs)
    _close_open_visits(participant, "Participant died.", on=kwargs["on"])
    return participant


def participant_lose_to_follow_up(participant: Participant, **kwargs) -> Participant:
    # Visits stay scheduled: a reinstated participant keeps their schedule.
    return participant_services.participant_lose_to_follow_up(participant, **kwargs)


def participant_reinstate(participant: Participant, **kwargs) -> Participant:
    return participant_services.participant_reinstate(participant, **kwargs)
