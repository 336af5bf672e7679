"""Shared checks and steps of the adverse-event services: field problems in the coordinator's
words, the row lock, a new grading, starting the SAE clocks.
"""

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db.models import Max

from participants.audit import audit_reason
from participants.services.dates import site_today
from safety import clocks
from safety.models import (
    ActionTaken,
    AdverseEvent,
    EventKind,
    Grading,
    Outcome,
    Relatedness,
    Seriousness,
)

FATAL_GRADE = 5


TERM_MAX = 200


CHOICES = {
    "kind": EventKind,
    "related_to_product": Relatedness,
    "related_to_leukapheresis": Relatedness,
    "action_taken": ActionTaken,
    "outcome": Outcome,
}


def raise_problems(problems: dict[str, str]) -> None:
    if problems:
        raise ValidationError(problems)


def shown(moment: dt.datetime, site) -> str:
    return f"{moment.astimezone(site.tz):%Y-%m-%d %H:%M} site time"


def instant_problem(value, label: str, site, now, not_before=None, before_is="") -> str:
    """An aware date and time, not in the future nor before `not_before`; "" when fine."""
    if not isinstance(value, dt.datetime):
        return f"{label}: give a date and a time."
    if value.utcoffset() is None:
        # A time without its zone is no instant: the clocks would be off by the site's offset.
        return f"{label} has no time zone; give it in the site's time zone."
    if value > now:
        return f"{label} ({shown(value, site)}) is in the future."
    if not_before is not None and value < not_before:
        return f"{label} is before {before_is} ({shown(not_before, site)})."
    return ""


def day_start(day: dt.date, site) -> dt.datetime:
    """The instant a local date starts at the site: "not before that date" as an instant."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=site.tz)


def is_date(value) -> bool:
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def date_problem(value, label: str, site, earliest: dt.date, earliest_is: str) -> str:
    """A calendar date not after the site's today and not before `earliest`; "" when fine."""
    if not is_date(value):
        return f"{label}: give a date."
    if value > site_today(site):
        return f"{value:%Y-%m-%d} is in the future."
    if value < earliest:
        return f"{value:%Y-%m-%d} is before {earliest_is} ({earliest:%Y-%m-%d})."
    return ""


def grade_problem(grade) -> str:
    if isinstance(grade, bool) or not isinstance(grade, int) or not 1 <= grade <= FATAL_GRADE:
        return "The grade must be a whole number from 1 to 5 (CTCAE v5)."
    return ""


def criteria_problems(serious, criteria) -> tuple[list[str], dict[str, str]]:
    """The criteria in the order ICH E2A lists them, without repeats, and any problem."""
    if not isinstance(serious, bool):
        return [], {"serious": "Say whether the event is serious (yes or no)."}
    if isinstance(criteria, str) or not isinstance(criteria, Iterable):
        return [], {"seriousness_criteria": "Give the seriousness criteria as a list."}
    criteria = list(criteria)
    unknown = [c for c in criteria if c not in Seriousness.values]
    if unknown:
        known = ", ".join(Seriousness.labels)
        return [], {"seriousness_criteria": f"Unknown criterion {unknown[0]!r}; use: {known}."}
    chosen = [c for c in Seriousness.values if c in criteria]
    if serious and not chosen:
        return [], {"seriousness_criteria": "Tick at least one criterion that makes it serious."}
    if chosen and not serious:
        return [], {"serious": "Criteria of seriousness are ticked: mark the event serious."}
    return chosen, {}


def fatal_problems(grade, outcome, criteria) -> dict[str, str]:
    """Grade 5, a fatal outcome and "results in death" go together (CTCAE: grade 5 is death)."""
    death = Seriousness.DEATH in criteria
    if grade == FATAL_GRADE:
        problems = {}
        if outcome != Outcome.FATAL:
            problems["outcome"] = "Grade 5 is death: the outcome must be fatal."
        if not death:
            problems["seriousness_criteria"] = "Grade 5 is death: tick “results in death”."
        return problems
    if outcome == Outcome.FATAL or death:
        return {"grade": "A fatal outcome or “results in death” is grade 5 (CTCAE)."}
    return {}


def change_reason(text: str) -> str:
    """The audit trail's bounded summary (participants.audit, the one place that cuts it)."""
    return audit_reason(text)


def locked_event(event: AdverseEvent) -> AdverseEvent:
    """Re-read the event under a lock of its own row (not the site's), so two changes queue."""
    return (
        AdverseEvent.objects.select_for_update(of=("self",))
        .select_related("participant__site")
        .get(pk=event.pk)
    )


def add_grading(event, grade, *, assessed_at, reasons, by, now) -> Grading:
    return Grading.objects.create(
        event=event,
        grade=grade,
        assessed_at=assessed_at,
        reasons=reasons,
        recorded_by=by,
        recorded_at=now,
    )


def start_clocks(event: AdverseEvent, aware_at: dt.datetime) -> None:
    """The sponsor (24 h) and IRB (business days) clocks from the site's awareness of an SAE."""
    site = event.participant.site
    try:
        event.sponsor_report_due_at = clocks.sponsor_report_due(aware_at)
        event.irb_report_due_on = clocks.irb_report_due(
            aware_at,
            tz=site.tz,
            business_days=site.irb_report_business_days,
            holidays=site.holiday_dates,
        )
    except clocks.ClockError as error:
        raise ValidationError({error.field: error.message}) from None
    # A new clock asks for a new report (an event serious again after being downgraded); the
    # earlier report stays in the event's history.
    event.sponsor_reported_at = event.irb_reported_at = None


def next_event_number(participant) -> int:
    """Events are numbered 1, 2... per participant (the "AE2" of a reference): the one rule for
    AEs and CRS/ICANS episodes alike. Callers hold the participant's row lock."""
    last = participant.adverse_events.aggregate(last=Max("number"))["last"]
    return (last or 0) + 1


def last_assessed_at(event):
    """When the event was last graded: an earlier assessment may not come after it, since the
    event's grade is its latest grading."""
    return event.gradings.aggregate(last=Max("assessed_at"))["last"]
