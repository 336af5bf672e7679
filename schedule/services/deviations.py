"""Protocol deviations drafted by the tracker: one function per cause, each called by the service
that records the cause, inside its transaction. Each drafts once per cause (get-or-create on
`cause_key`, unique in the database): called twice, or by two scans at once, it returns the
draft already there and never raises. The overdue scan drafts a batch at a time
(deviation_drafts_for_overdue: the keys already there read at once, the rest inserted in bulk).

Importance (FDA draft guidance, Dec 2024): important when a safety item is missing (a missed
visit with safety assessments, a safety assessment overdue or not done) or a safety check was
overridden; otherwise not important. The reason is written on the draft either way.

A cause that goes away withdraws its draft (deviation_withdraw_if_resolved): a visit date
corrected into its window (visit_date_correct, schedule/services/deviations_corrections.py).

Whether a date lies in a visit's window is `visit_window(visit).contains(day)` (schedule.windows);
`out_of_window_warning` words it for the coordinator before a visit is recorded.
"""

import datetime as dt

from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from participants.audit import audit_reason
from schedule.models import (
    Assessment,
    AssessmentStatus,
    Deviation,
    DeviationCategory,
    DeviationImportance,
    DeviationStatus,
    PreDoseOverride,
    Visit,
    VisitStatus,
)
from schedule.windows import Window

SAFETY_CHECK_OVERRIDDEN = "a safety check was overridden"


def _draft_fields(
    *,
    participant_id: int,
    site_id: int,
    category: str,
    important: bool,
    reason: str,
    occurred_on: dt.date,
    now: dt.datetime | None = None,
    **cause,
) -> dict:
    """A new draft's fields (all but its cause_key)."""
    importance = DeviationImportance.IMPORTANT if important else DeviationImportance.NOT_IMPORTANT
    return {
        "participant_id": participant_id,
        "site_id": site_id,
        "category": category,
        "importance": importance,
        "importance_reason": reason[:200],
        "occurred_on": occurred_on,
        "identified_at": now or timezone.now(),
        **cause,
    }


def _draft(cause_key: str, **draft) -> Deviation:
    deviation, _ = Deviation.objects.get_or_create(
        cause_key=cause_key, defaults=_draft_fields(**draft)
    )
    return deviation


def _local_date(moment: dt.datetime, visit: Visit) -> dt.date:
    return moment.astimezone(visit.participant.site.tz).date()


def visit_window(visit: Visit) -> Window:
    """The visit's stored window, for schedule.windows' one inclusive-at-both-ends test."""
    return Window(target=visit.target_date, start=visit.window_start, end=visit.window_end)


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def out_of_window_warning(visit: Visit, day: dt.date) -> str:
    """What the coordinator confirms before recording `visit` on `day` outside its window ("this
    date is 2 days after the window closed; a deviation will be drafted"); "" in the window."""
    window = visit_window(visit)
    if window.contains(day):
        return ""
    if day > window.end:
        where = f"{_days((day - window.end).days)} after the window closed ({window.end:%Y-%m-%d})"
    else:
        where = (
            f"{_days((window.start - day).days)} before the window opened ({window.start:%Y-%m-%d})"
        )
    return f"This date is {where}; a deviation will be drafted."


def deviation_draft_for_out_of_window(visit: Visit) -> Deviation | None:
    """A visit recorded done outside its window (`in_window is False`); nothing otherwise."""
    if visit.status != VisitStatus.DONE or visit.in_window is not False:
        return None
    return _draft(
        f"visit-out-of-window:{visit.pk}",
        participant_id=visit.participant_id,
        site_id=visit.site_id,
        category=DeviationCategory.VISIT_OUT_OF_WINDOW,
        important=False,
        reason=f"{visit.code} done on {visit.actual_date:%Y-%m-%d}, outside its window "
        f"({visit.window_start:%Y-%m-%d} to {visit.window_end:%Y-%m-%d}); no safety item missing.",
        occurred_on=visit.actual_date,
        visit=visit,
    )


def deviation_draft_for_missed_visit(visit: Visit) -> Deviation:
    """A visit recorded missed, or closed as missed (its window closed before a status change).
    Important when safety assessments went missing with it."""
    missing = list(
        visit.assessments.filter(is_safety=True, status=AssessmentStatus.MISSED)
        .order_by("definition__order")
        .values_list("definition__code", flat=True)
    )
    if missing:
        reason = f"{visit.code} missed with its safety assessments ({', '.join(missing)})."
    else:
        reason = f"{visit.code} missed; no safety assessment missing with it."
    return _draft(
        f"visit-missed:{visit.pk}",
        participant_id=visit.participant_id,
        site_id=visit.site_id,
        category=DeviationCategory.VISIT_MISSED,
        important=bool(missing),
        reason=reason,
        occurred_on=visit.window_end,
        visit=visit,
    )


def deviation_draft_for_missed_safety(assessment: Assessment) -> Deviation | None:
    """A safety assessment recorded not done (missed). Not safety, or not missed: nothing."""
    if not assessment.is_safety or assessment.status != AssessmentStatus.MISSED:
        return None
    visit = assessment.visit
    return _draft(
        f"assessment-missed:{assessment.pk}",
        participant_id=visit.participant_id,
        site_id=visit.site_id,
        category=DeviationCategory.SAFETY_MISSED,
        important=True,
        reason=f"Safety assessment {assessment.definition.code} of {visit.code} not done.",
        occurred_on=_local_date(assessment.missed_at or timezone.now(), visit),
        visit=visit,
        assessment=assessment,
    )


def _overdue_draft(assessment: Assessment, now: dt.datetime) -> tuple[str, dict]:
    visit = assessment.visit
    return f"assessment-overdue:{assessment.pk}", {
        "participant_id": visit.participant_id,
        "site_id": visit.site_id,
        "category": DeviationCategory.SAFETY_OVERDUE,
        "important": True,
        "reason": f"Safety assessment {assessment.definition.code} of {visit.code} overdue: no "
        "result by its due time.",
        "occurred_on": _local_date(assessment.due_at, visit),
        "now": now,
        "visit": visit,
        "assessment": assessment,
    }


def deviation_drafts_for_overdue(assessments: list[Assessment], now: dt.datetime) -> int:
    """The safety assessments the overdue scan flags, a batch at a time (notifications' overdue
    scan, in the same transaction as the flags): the drafts not there yet in one INSERT, with
    their history rows in another (one get-or-create per item was most of a backlog's time).
    Only the overdue scan drafts this cause, under its lock, so no other writer can add one of
    these keys meanwhile. Returns how many were drafted."""
    drafts = dict(_overdue_draft(a, now) for a in assessments)
    there = set(
        Deviation.objects.filter(cause_key__in=list(drafts)).values_list("cause_key", flat=True)
    )
    new = [
        Deviation(cause_key=key, **_draft_fields(**draft))
        for key, draft in drafts.items()
        if key not in there
    ]
    if new:
        bulk_create_with_history(new, Deviation)
    return len(new)


def deviation_draft_for_override(override: PreDoseOverride, given_at: dt.datetime) -> Deviation:
    """An infusion given over the pre-dose gate (infusions.gate)."""
    visit = override.visit
    return _draft(
        f"pre-dose-override:{override.pk}",
        participant_id=visit.participant_id,
        site_id=visit.site_id,
        category=DeviationCategory.GATE_OVERRIDDEN,
        important=True,
        reason=SAFETY_CHECK_OVERRIDDEN,
        occurred_on=_local_date(given_at, visit),
        visit=visit,
        pre_dose_override=override,
    )


def deviation_withdraw_if_resolved(visit: Visit) -> Deviation | None:
    """The visit's date now lies in its window (corrected): its out-of-window draft, not yet
    closed, is withdrawn with the reason. Returns the withdrawn deviation, else None."""
    if visit.actual_date is None or not visit_window(visit).contains(visit.actual_date):
        return None
    deviation = (
        Deviation.objects.select_for_update()
        .filter(
            cause_key=f"visit-out-of-window:{visit.pk}",
            status__in=(DeviationStatus.DRAFT, DeviationStatus.OPEN),
        )
        .first()
    )
    if deviation is None:
        return None
    deviation.status = DeviationStatus.WITHDRAWN
    deviation.withdrawn_reason = (
        f"{visit.code}'s date corrected to {visit.actual_date:%Y-%m-%d}, within its window "
        f"({visit.window_start:%Y-%m-%d} to {visit.window_end:%Y-%m-%d})."
    )
    deviation._change_reason = audit_reason(deviation.withdrawn_reason)
    deviation.save()
    return deviation
