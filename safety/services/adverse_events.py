"""Adverse events: record, re-grade, seriousness, resolution, pregnancy and death, and the SAE
reporting clocks (site to sponsor within 24 hours of awareness, to the IRB in business days).

Each action is one transaction that first asks participants.access whether `by` records at the
participant's site. A refusal is a ValidationError keyed by the argument at fault, raised before
anything is written. An event's grade is its latest Grading row: a new grade adds a row, so every
grading stays with who, when and why. Each save of the event carries a `_change_reason`, so its
history (simple-history) says what was done and why the clock started when it did.
"""

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from participants import access
from participants.models import Participant
from participants.services.dates import site_today
from safety import clocks
from safety.ctcae import TERM_NAMES
from safety.models import (
    ActionTaken,
    AdverseEvent,
    EventKind,
    Grading,
    Outcome,
    Relatedness,
    Seriousness,
)
from schedule import services as schedule_services

FATAL_GRADE = 5
TERM_MAX = 200
CHANGE_REASON_MAX = 100  # simple-history's history_change_reason column
PREGNANCY_TERM = "Pregnancy, puerperium and perinatal conditions - Other"
_CHOICES = {
    "kind": EventKind,
    "related_to_product": Relatedness,
    "related_to_leukapheresis": Relatedness,
    "action_taken": ActionTaken,
    "outcome": Outcome,
}


# --- Small checks, each returning {field: message} ---------------------------------------------


def _raise(problems: dict[str, str]) -> None:
    if problems:
        raise ValidationError(problems)


def _shown(moment: dt.datetime, site) -> str:
    return f"{moment.astimezone(site.tz):%d %b %Y %H:%M} site time"


def _instant_problem(value, label: str, site, now, not_before=None, before_is="") -> str:
    """An aware date and time, not in the future nor before `not_before`; "" when fine."""
    if not isinstance(value, dt.datetime):
        return f"{label}: give a date and a time."
    if value.utcoffset() is None:
        # A time without its zone is no instant: the clocks would be off by the site's offset.
        return f"{label} has no time zone; give it in the site's time zone."
    if value > now:
        return f"{label} ({_shown(value, site)}) is in the future."
    if not_before is not None and value < not_before:
        return f"{label} is before {before_is} ({_shown(not_before, site)})."
    return ""


def _day_start(day: dt.date, site) -> dt.datetime:
    """The instant a local date starts at the site: "not before that date" as an instant."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=site.tz)


def _is_date(value) -> bool:
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def _date_problem(value, label: str, site, earliest: dt.date, earliest_is: str) -> str:
    """A calendar date not after the site's today and not before `earliest`; "" when fine."""
    if not _is_date(value):
        return f"{label}: give a date."
    if value > site_today(site):
        return f"{value:%d %b %Y} is in the future."
    if value < earliest:
        return f"{value:%d %b %Y} is before {earliest_is} ({earliest:%d %b %Y})."
    return ""


def _grade_problem(grade) -> str:
    if isinstance(grade, bool) or not isinstance(grade, int) or not 1 <= grade <= FATAL_GRADE:
        return "The grade must be a whole number from 1 to 5 (CTCAE v5)."
    return ""


def _criteria(serious, criteria) -> tuple[list[str], dict[str, str]]:
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


def _fatal_problems(grade, outcome, criteria) -> dict[str, str]:
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


def _field_problems(v: dict) -> dict[str, str]:
    """Choices, term and grade of a new event."""
    problems = {
        field: f"Choose one of: {', '.join(choices.labels)}."
        for field, choices in _CHOICES.items()
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
    if problem := _grade_problem(v["grade"]):
        problems["grade"] = problem
    return problems


def _record_problems(participant: Participant, v: dict, now) -> tuple[list[str], dict]:
    site = participant.site
    criteria, problems = _criteria(v["serious"], v["seriousness_criteria"])
    problems |= _field_problems(v)
    onset = _date_problem(v["onset_date"], "The onset", site, participant.consent_date, "consent")
    if onset:
        problems["onset_date"] = onset
    # Awareness is compared with the onset as a local date: not before that day began at the site.
    onset_start = None if onset else _day_start(v["onset_date"], site)
    label = "The time of awareness"
    if aware := _instant_problem(v["aware_at"], label, site, now, onset_start, "the onset"):
        problems["aware_at"] = aware
    if not problems:
        problems = _fatal_problems(v["grade"], v["outcome"], criteria)
    return criteria, problems


# --- Rows ----------------------------------------------------------------------------------------


def _change_reason(text: str) -> str:
    return text if len(text) <= CHANGE_REASON_MAX else text[: CHANGE_REASON_MAX - 1] + "…"


def _locked_event(event: AdverseEvent) -> AdverseEvent:
    """Re-read the event under a lock of its own row (not the site's), so two changes queue."""
    return (
        AdverseEvent.objects.select_for_update(of=("self",))
        .select_related("participant__site")
        .get(pk=event.pk)
    )


def _add_grading(event, grade, *, assessed_at, reasons, by, now) -> Grading:
    return Grading.objects.create(
        event=event,
        grade=grade,
        assessed_at=assessed_at,
        reasons=reasons,
        recorded_by=by,
        recorded_at=now,
    )


def _start_clocks(event: AdverseEvent, aware_at: dt.datetime) -> None:
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


# --- Recording -----------------------------------------------------------------------------------


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
    _raise(problems)
    event = _new_event(participant, values, criteria, by, now)
    if serious:
        _start_clocks(event, aware_at)
    event._change_reason = f"recorded: grade {grade}" + (", serious" if serious else "")
    event.save()
    reason = f"grade {grade} as assessed by the investigator"
    _add_grading(event, grade, assessed_at=aware_at, reasons=[reason], by=by, now=now)
    return event


def _new_event(participant, values: dict, criteria: list[str], by, now) -> AdverseEvent:
    last = participant.adverse_events.aggregate(last=Max("number"))["last"] or 0
    fields = {**values, "term": values["term"].strip(), "seriousness_criteria": criteria}
    return AdverseEvent(
        participant=participant, number=last + 1, recorded_by=by, recorded_at=now, **fields
    )


@transaction.atomic
def pregnancy_record(
    participant: Participant, *, aware_at: dt.datetime, onset_date: dt.date, by
) -> AdverseEvent:
    """A pregnancy is reported like an SAE (PROTOCOL.md): serious as an important medical event,
    grade 1, so the same 24-hour clock starts from `aware_at`."""
    access.require_recorder(by, participant.site)
    return ae_record(
        participant,
        kind=EventKind.PREGNANCY,
        term="Pregnancy",
        ctcae_term=PREGNANCY_TERM,
        onset_date=onset_date,
        grade=1,
        serious=True,
        seriousness_criteria=[Seriousness.IMPORTANT_MEDICAL_EVENT],
        related_to_product=Relatedness.NOT_RELATED,
        related_to_leukapheresis=Relatedness.NOT_RELATED,
        action_taken=ActionTaken.NONE,
        outcome=Outcome.NOT_RECOVERED,
        aware_at=aware_at,
        by=by,
    )


# --- Re-grading, seriousness, resolution ---------------------------------------------------------


def _regrade_grade_problem(event: AdverseEvent, grade) -> str:
    if event.resolved_on is not None:
        return f"This event resolved on {event.resolved_on:%d %b %Y}; it is no longer graded."
    problem = _grade_problem(grade)
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
    previous = event.gradings.aggregate(last=Max("assessed_at"))["last"]
    label, before = "The assessment time", "the previous grading"
    if problem := _instant_problem(assessed_at, label, site, now, previous, before):
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
    event = _locked_event(event)
    now = timezone.now()
    _raise(_regrade_problems(event, grade, assessed_at, reason, now))
    previous, reason = event.grade, reason.strip()
    reasons = [f"grade {grade}: {reason}", f"re-graded from {previous} by {by.get_username()}"]
    _add_grading(event, grade, assessed_at=assessed_at, reasons=reasons, by=by, now=now)
    event.grade = grade
    event._change_reason = _change_reason(f"re-graded {previous} → {grade}: {reason}")
    event.save()
    return event


def _seriousness_problems(event, serious, seriousness_criteria, aware_at, now):
    criteria, problems = _criteria(serious, seriousness_criteria)
    if problems:
        return criteria, problems
    if fatal := _fatal_problems(event.grade, event.outcome, criteria):
        return criteria, {"seriousness_criteria": next(iter(fatal.values()))}
    if serious and not event.serious:
        site, label = event.participant.site, "The time of awareness"
        # Not serious before the site knew of the event at all (aware_at is after the onset).
        before = "the site knew of the event"
        if problem := _instant_problem(aware_at, label, site, now, event.aware_at, before):
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
    event = _locked_event(event)
    now = timezone.now()
    if serious is True and not event.serious and aware_at is None:
        aware_at = now
    criteria, problems = _seriousness_problems(event, serious, seriousness_criteria, aware_at, now)
    _raise(problems)
    reason = f"seriousness criteria now {', '.join(criteria)}"
    if serious and not event.serious:
        _start_clocks(event, aware_at)
        reason = f"became serious ({', '.join(criteria)}); SAE clock from {aware_at.isoformat()}"
    elif not serious and event.serious:
        # Unreported clocks stop; a report already made keeps its due time, so lateness stays.
        if event.sponsor_reported_at is None:
            event.sponsor_report_due_at = None
        if event.irb_reported_at is None:
            event.irb_report_due_on = None
        reason = "no longer serious"
    event.serious, event.seriousness_criteria = serious, criteria
    event._change_reason = _change_reason(reason)
    event.save()
    return event


@transaction.atomic
def ae_resolve(event: AdverseEvent, *, on: dt.date, outcome: str, by) -> AdverseEvent:
    """The event resolved on `on` with `outcome` (a fatal one is recorded with the death)."""
    access.require_recorder(by, event.participant.site)
    event = _locked_event(event)
    site = event.participant.site
    problems = {}
    if event.resolved_on is not None:
        problems["on"] = f"The event already resolved on {event.resolved_on:%d %b %Y}."
    elif problem := _date_problem(on, "The resolution", site, event.onset_date, "the onset"):
        problems["on"] = problem
    if outcome not in Outcome.values or outcome == Outcome.NOT_RECOVERED:
        problems["outcome"] = "Choose the outcome at resolution (not “not recovered”)."
    elif outcome == Outcome.FATAL and event.grade != FATAL_GRADE:
        problems["outcome"] = (
            "A fatal outcome is grade 5: record the death, which links this event."
        )
    elif event.grade == FATAL_GRADE and outcome != Outcome.FATAL:
        problems["outcome"] = "This event is grade 5 (death): its outcome is fatal."
    _raise(problems)
    event.resolved_on, event.outcome = on, outcome
    event._change_reason = f"resolved on {on.isoformat()}: {outcome}"
    event.save()
    return event


# --- Reporting and the clocks --------------------------------------------------------------------


def _report(event: AdverseEvent, at: dt.datetime, by, field: str, to: str) -> AdverseEvent:
    access.require_recorder(by, event.participant.site)
    event = _locked_event(event)
    site = event.participant.site
    if not event.serious:
        _raise({"at": "Only a serious adverse event is reported on the SAE clock."})
    if getattr(event, field) is not None:
        _raise({"at": f"Already reported to the {to} at {_shown(getattr(event, field), site)}."})
    # The clock started when the site knew the event was serious: aware_at, or later.
    start = event.sponsor_report_due_at - clocks.SPONSOR_REPORT_WINDOW
    label, before = "The time of reporting", "the site became aware"
    if problem := _instant_problem(at, label, site, timezone.now(), start, before):
        _raise({"at": problem})
    setattr(event, field, at)
    event._change_reason = f"reported to the {to} at {at.isoformat()}"
    event.save()
    return event


@transaction.atomic
def sae_report_to_sponsor(event: AdverseEvent, *, at: dt.datetime, by) -> AdverseEvent:
    """Stops the 24-hour clock; how late it was stays derivable (selectors.sae_clock: late_by)."""
    return _report(event, at, by, "sponsor_reported_at", "sponsor")


@transaction.atomic
def sae_report_to_irb(event: AdverseEvent, *, at: dt.datetime, by) -> AdverseEvent:
    """Stops the IRB clock (due by the end of `irb_report_due_on`, site time)."""
    return _report(event, at, by, "irb_reported_at", "IRB")


# --- Death ---------------------------------------------------------------------------------------


def _death_problems(event, on, aware_at, now) -> dict[str, str]:
    site = event.participant.site
    if event.resolved_on is not None and event.outcome != Outcome.FATAL:
        return {
            "event": f"{event.reference} resolved on {event.resolved_on:%d %b %Y}; link the "
            "event that led to the death, or record it first."
        }
    onset_of = f"the onset of {event.reference}"
    if problem := _date_problem(on, "The date of death", site, event.onset_date, onset_of):
        return {"on": problem}
    if event.serious:
        return {}  # its clock already runs from when it became serious
    label, death = "The time of awareness", _day_start(on, site)
    if problem := _instant_problem(aware_at, label, site, now, death, "the date of death"):
        return {"aware_at": problem}
    return {}


def _make_fatal(event: AdverseEvent, on: dt.date, aware_at, by, now) -> None:
    if event.grade != FATAL_GRADE:
        reasons = ["grade 5: death", f"death on {on.isoformat()} recorded by {by.get_username()}"]
        _add_grading(event, FATAL_GRADE, assessed_at=now, reasons=reasons, by=by, now=now)
    reason = f"fatal: death on {on.isoformat()}"
    if not event.serious:
        _start_clocks(event, aware_at)
        event.serious = True
        reason += f"; SAE clock from {aware_at.isoformat()}"
    criteria = {*event.seriousness_criteria, Seriousness.DEATH}
    event.seriousness_criteria = [c for c in Seriousness.values if c in criteria]
    # The event ends with the death: it leaves the follow-up list (resolved_on is its end date).
    event.grade, event.outcome, event.resolved_on = FATAL_GRADE, Outcome.FATAL, on
    event._change_reason = _change_reason(reason)
    event.save()


@transaction.atomic
def death_record(
    participant: Participant,
    *,
    on: dt.date,
    cause: str,
    event: AdverseEvent,
    by,
    aware_at: dt.datetime | None = None,
) -> AdverseEvent:
    """The participant died: the SAE that reports it becomes grade 5, fatal and serious (its
    clock starts from `aware_at`, default now, if it was not serious), and the participant's
    status becomes DIED with the event's reference, in one transaction."""
    access.require_recorder(by, participant.site)
    if not isinstance(event, AdverseEvent) or event.participant_id != participant.pk:
        _raise({"event": "Link one of this participant's adverse events: the SAE of the death."})
    event = _locked_event(event)
    now = timezone.now()
    aware_at = now if aware_at is None else aware_at
    _raise(_death_problems(event, on, aware_at, now))
    _make_fatal(event, on, aware_at, by, now)
    schedule_services.participant_die(
        participant, on=on, cause=cause, sae_reference=event.reference, by=by
    )
    return event
