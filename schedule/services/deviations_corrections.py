"""Correcting a recorded visit's date, the cause of an out-of-window deviation.

A date corrected into the window withdraws the out-of-window draft with the reason
(deviations.deviation_withdraw_if_resolved); a date corrected out of it drafts one (or puts the
withdrawn one back to draft); a date moved within "out of window" updates the draft's dates.
Everything in the correction's transaction.

An infusion's or a leukapheresis's date comes with its own record (the start time, D0, the
collection), so those are not corrected here.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction

from participants import access
from participants.audit import AUDIT_REASON_MAX, audit_reason
from participants.services import dates
from schedule.models import DeviationStatus, Visit, VisitKind, VisitStatus
from schedule.services.deviations import (
    deviation_draft_for_out_of_window,
    deviation_withdraw_if_resolved,
    visit_window,
)

NOT_CORRECTED_HERE = (VisitKind.FIRST_INFUSION, VisitKind.INFUSION, VisitKind.APHERESIS)


def _check_new_date(visit: Visit, actual_date: dt.date, reason: str) -> None:
    if visit.status != VisitStatus.DONE or visit.actual_date is None:
        raise ValidationError(f"{visit} is not recorded as done: it has no date to correct.")
    if visit.definition.kind in NOT_CORRECTED_HERE:
        raise ValidationError(
            f"{visit.code}'s date comes with its infusion or collection record; it cannot be "
            "corrected here."
        )
    participant = visit.participant
    dates.check_plausible_date(actual_date, "actual_date", participant.site)
    if actual_date == visit.actual_date:
        raise ValidationError({"actual_date": f"{actual_date:%Y-%m-%d} is the date recorded."})
    if actual_date > dates.site_today(participant.site):
        raise ValidationError({"actual_date": f"{actual_date:%Y-%m-%d} is in the future."})
    if actual_date < participant.consent_date:
        raise ValidationError({"actual_date": "The visit date is before consent."})
    d0 = participant.first_infusion_date
    if visit.definition.anchor == "first_infusion" and d0 and actual_date < d0:
        raise ValidationError(
            {"actual_date": f"{visit} cannot be before the first infusion ({d0:%Y-%m-%d})."}
        )
    if not reason:
        raise ValidationError(
            {"reason": "Give the reason for the correction (kept in its history)."}
        )
    if len(reason) > AUDIT_REASON_MAX:
        raise ValidationError(
            {"reason": f"Keep the reason to {AUDIT_REASON_MAX} characters (this is {len(reason)})."}
        )


def _redraft(visit: Visit, reason: str) -> None:
    """The date is (still) out of the window: draft, or bring back and re-date the draft."""
    deviation = deviation_draft_for_out_of_window(visit)
    if deviation.status not in (DeviationStatus.DRAFT, DeviationStatus.WITHDRAWN):
        return  # open or closed: the site's record; the correction is in the visit's history
    window = visit_window(visit)
    deviation.status = DeviationStatus.DRAFT
    deviation.withdrawn_reason = ""
    deviation.occurred_on = visit.actual_date
    deviation.importance_reason = (
        f"{visit.code} done on {visit.actual_date:%Y-%m-%d}, outside its window "
        f"({window.start:%Y-%m-%d} to {window.end:%Y-%m-%d}); no safety item missing."
    )
    deviation._change_reason = audit_reason(f"Visit date corrected: {reason}")
    deviation.save()


@transaction.atomic
def visit_date_correct(visit: Visit, *, actual_date: dt.date, reason: str, by) -> Visit:
    """Correct the date of a visit recorded done, with the reason (kept in its history)."""
    access.require_recorder(by, visit.participant.site)
    visit = (
        Visit.objects.select_for_update()
        .select_related("definition", "participant__site")
        .get(pk=visit.pk)
    )
    reason = (reason or "").strip()
    _check_new_date(visit, actual_date, reason)
    before = visit.actual_date
    visit.actual_date = actual_date
    visit.in_window = visit_window(visit).contains(actual_date)
    visit._change_reason = audit_reason(f"Date corrected from {before:%Y-%m-%d}: {reason}")
    visit._history_user = by
    visit.save()
    if visit.in_window:
        deviation_withdraw_if_resolved(visit)
    else:
        _redraft(visit, reason)
    return visit
