"""Adverse events: record, re-grade, seriousness and resolution (reporting, pregnancy and
death are in sae.py).

Each action is one transaction that first asks participants.access whether `by` records at the
participant's site. A refusal is a ValidationError keyed by the argument at fault, raised before
anything is written. An event's grade is its latest Grading row: a new grade adds a row, so every
grading stays with who, when and why. Each save of the event carries a `_change_reason`, so its
history (simple-history) says what was done and why the clock started when it did.
"""

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from participants import access
from participants.models import Participant
from safety.ctcae import TERM_NAMES
from safety.models import (
    AdverseEvent,
    EventKind,
    Outcome,
)
from safety.services.checks import (
    CHOICES,
    FATAL_GRADE,
    TERM_MAX,
    add_grading,
    change_reason,
    criteria_problems,
    date_problem,
    day_start,
    fatal_problems,
    grade_problem,
    instant_problem,
    last_assessed_at,
    locked_event,
    next_event_number,
    raise_problems,
    start_clocks,
)


def _field_problems(v: dict) -> dict[str, str]:
    """Choices, term and grade of a new event."""
    problems = {
        field: f"Choose one of: {', '.join(choices.labels)}."
        for field, choices in CHOICES.items()
        if v[field] not in choices.values
    }
    if v["expected"] not in (None, True, False):
        problems["expected"] = "Say whether it is expected: yes, no, or not assessed yet."
    term = v["term"].strip() if isinstance(v["term"], str) else ""
    if not term:
        problems["term"] = "Describe the event as the investigator does."
    elif len(term) > TERM_MAX:
        problems["term"] = f"Keep the description to {TERM_MAX} characters."
    if v["ctcae_term"] and v["ctcae_term"] not in TERM_NAMES:
        problems["ctcae_term"] = "Choose a CTCAE v5 term from the list, or leave it empty."
    if problem := grade_problem(v["grade"]):
        problems["grade"] = problem
    return problems


def _record_problems(participant: Participant, v: dict, now) -> tuple[list[str], dict]:
    site = participant.site
    criteria, problems = criteria_problems(v["serious"], v["seriousness_criteria"])
    problems |= _field_problems(v)
    onset = date_problem(v["onset_date"], "The onset", site, participant.consent_date, "consent")
    if onset:
        problems["onset_date"] = onset
    # Awareness is compared with the onset as a local date: not before that day began at the site.
    onset_start = None if onset else day_start(v["onset_date"], site)
    label = "The time of awareness"
    if aware := instant_problem(v["aware_at"], label, site, now, onset_start, "the onset"):
        problems["aware_at"] = aware
    if not problems:
        problems = fatal_problems(v["grade"], v["outcome"], criteria)
    return criteria, problems


@transaction.atomic
def ae_record(
    participant: Participant,
    *,
    term: str,
    ctcae_term: str = "",
    onset_date: dt.date,
    grade: int,
    serious: bool = False,
    seriousness_criteria: Iterable[str] = (),
    related_to_product: str,
    related_to_leukapheresis: str,
    expected: bool | None = None,
    action_taken: str,
    outcome: str,
    aware_at: dt.datetime,
    by,
    kind: str = EventKind.AE,
) -> AdverseEvent:
    """Record an adverse event (numbered 1, 2... per participant) with its first grading; a
    serious one starts the sponsor and IRB clocks from `aware_at`."""
    access.require_recorder(by, participant.site)
    # The arguments by name (no other local exists yet): checked, then stored as given.
    values = {k: v for k, v in locals().items() if k not in ("participant", "by")}
    # The participant's row lock makes two recorders at once take numbers one after the other.
    participant = (
        Participant.objects.select_for_update(of=("self",))
        .select_related("site")
        .get(pk=participant.pk)
    )
    now = timezone.now()
    criteria, problems = _record_problems(participant, values, now)
    raise_problems(problems)
    event = _new_event(participant, values, criteria, by, now)
    if serious:
        start_clocks(event, aware_at)
    event._change_reason = f"recorded: grade {grade}" + (", serious" if serious else "")
    event.save()
    reason = f"grade {grade} as assessed by the investigator"
    add_grading(event, grade, assessed_at=aware_at, reasons=[reason], by=by, now=now)
    return event


def _new_event(participant, values: dict, criteria: list[str], by, now) -> AdverseEvent:
    fields = {**values, "term": values["term"].strip(), "seriousness_criteria": criteria}
    number = next_event_number(participant)
    return AdverseEvent(
        participant=participant, number=number, recorded_by=by, recorded_at=now, **fields
    )


def _regrade_grade_problem(event: AdverseEvent, grade) -> str:
    if event.resolved_on is not None:
        return f"This event resolved on {event.resolved_on:%Y-%m-%d}; it is no longer graded."
    problem = grade_problem(grade)
    if problem:
        return problem
    if event.grade == FATAL_GRADE:
        return "A fatal event (grade 5) is not re-graded."
    if grade == FATAL_GRADE:
        return "Grade 5 is death: record the death, which links this event."
    if grade == event.grade:
        return f"The event is already grade {grade}."
    return ""


def _regrade_problems(event, grade, assessed_at, reason, now) -> dict[str, str]:
    site = event.participant.site
    problems = {}
    if problem := _regrade_grade_problem(event, grade):
        problems["grade"] = problem
    previous = last_assessed_at(event)
    label, before = "The assessment time", "the previous grading"
    if problem := instant_problem(assessed_at, label, site, now, previous, before):
        problems["assessed_at"] = problem
    if not isinstance(reason, str) or not reason.strip():
        problems["reason"] = "Say why the grade changed."
    return problems


@transaction.atomic
def ae_regrade(
    event: AdverseEvent, *, grade: int, assessed_at: dt.datetime, reason: str, by
) -> AdverseEvent:
    """A new grade: a new Grading row (the earlier ones stay) and the event's current grade."""
    access.require_recorder(by, event.participant.site)
    event = locked_event(event)
    now = timezone.now()
    raise_problems(_regrade_problems(event, grade, assessed_at, reason, now))
    previous, reason = event.grade, reason.strip()
    reasons = [f"grade {grade}: {reason}", f"re-graded from {previous} by {by.get_username()}"]
    add_grading(event, grade, assessed_at=assessed_at, reasons=reasons, by=by, now=now)
    event.grade = grade
    event._change_reason = change_reason(f"re-graded {previous} → {grade}: {reason}")
    event.save()
    return event


def _seriousness_problems(event, serious, seriousness_criteria, aware_at, now):
    criteria, problems = criteria_problems(serious, seriousness_criteria)
    if problems:
        return criteria, problems
    if fatal := fatal_problems(event.grade, event.outcome, criteria):
        return criteria, {"seriousness_criteria": next(iter(fatal.values()))}
    if serious and not event.serious:
        site, label = event.participant.site, "The time of awareness"
        # Not serious before the site knew of the event at all (aware_at is after the onset).
        before = "the site knew of the event"
        if problem := instant_problem(aware_at, label, site, now, event.aware_at, before):
            problems["aware_at"] = problem
    elif aware_at is not None:
        problems["aware_at"] = "A time of awareness is only given when the event becomes serious."
    elif serious == event.serious and criteria == event.seriousness_criteria:
        problems["seriousness_criteria"] = "Nothing changed."
    return criteria, problems


@transaction.atomic
def ae_update_seriousness(
    event: AdverseEvent,
    *,
    serious: bool,
    seriousness_criteria: Iterable[str],
    aware_at: dt.datetime | None = None,
    by,
) -> AdverseEvent:
    """Change whether an event is serious, or its criteria. An event that becomes serious starts
    its clocks from `aware_at`: when the site learned it is serious (default: now)."""
    access.require_recorder(by, event.participant.site)
    event = locked_event(event)
    now = timezone.now()
    if serious is True and not event.serious and aware_at is None:
        aware_at = now
    criteria, problems = _seriousness_problems(event, serious, seriousness_criteria, aware_at, now)
    raise_problems(problems)
    reason = f"seriousness criteria now {', '.join(criteria)}"
    if serious and not event.serious:
        start_clocks(event, aware_at)
        reason = f"became serious ({', '.join(criteria)}); SAE clock from {aware_at.isoformat()}"
    elif not serious and event.serious:
        # Unreported clocks stop; a report already made keeps its due time, so lateness stays.
        if event.sponsor_reported_at is None:
            event.sponsor_report_due_at = None
        if event.irb_reported_at is None:
            event.irb_report_due_on = None
        reason = "no longer serious"
    event.serious, event.seriousness_criteria = serious, criteria
    event._change_reason = change_reason(reason)
    event.save()
    return event


@transaction.atomic
def ae_resolve(event: AdverseEvent, *, on: dt.date, outcome: str, by) -> AdverseEvent:
    """The event resolved on `on` with `outcome` (a fatal one is recorded with the death)."""
    access.require_recorder(by, event.participant.site)
    event = locked_event(event)
    site = event.participant.site
    problems = {}
    if event.resolved_on is not None:
        problems["on"] = f"The event already resolved on {event.resolved_on:%Y-%m-%d}."
    elif problem := date_problem(on, "The resolution", site, event.onset_date, "the onset"):
        problems["on"] = problem
    if outcome not in Outcome.values or outcome == Outcome.NOT_RECOVERED:
        problems["outcome"] = "Choose the outcome at resolution (not “not recovered”)."
    elif outcome == Outcome.FATAL and event.grade != FATAL_GRADE:
        problems["outcome"] = (
            "A fatal outcome is grade 5: record the death, which links this event."
        )
    elif event.grade == FATAL_GRADE and outcome != Outcome.FATAL:
        problems["outcome"] = "This event is grade 5 (death): its outcome is fatal."
    raise_problems(problems)
    event.resolved_on, event.outcome = on, outcome
    event._change_reason = f"resolved on {on.isoformat()}: {outcome}"
    event.save()
    return event
