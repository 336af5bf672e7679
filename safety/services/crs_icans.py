"""CRS and ICANS episodes graded from findings (ASTCT 2019, safety.grading): the coordinator enters
what was observed and never types the grade.

An episode is an AdverseEvent of kind CRS or ICANS. Every assessment adds a Grading row with the
findings and the reasons for its grade (earlier rows stay) and sets the event's grade. Grade >= 2
holds the next infusion (an InfusionHold named by the event's reference, through
schedule.services.holds) until a re-assessment at grade 1 or less or the episode's resolution
(PROTOCOL.md: "hold the next infusion until <= grade 1" [ASSUMPTION]).

Grade >= 3 is not made serious here: whether an event is an SAE (ICH E2A criteria) is the
investigator's decision, recorded with adverse_events.ae_update_seriousness, which starts the
24-hour clock. The medical monitor is alerted of every grading by the safety-event scan
(notifications), whatever the grade.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from participants import access
from participants.models import Participant
from safety.grading import Grade, GradingError, crs_grade, icans_grade
from safety.models import AdverseEvent, EventKind, Grading, Outcome, Relatedness
from safety.services import adverse_events
from safety.services.checks import last_assessed_at, next_event_number
from schedule.services import holds

HOLD_FROM_GRADE = 2  # PROTOCOL.md: hold the next infusion until <= grade 1

_TERMS = {
    EventKind.CRS: ("Cytokine release syndrome", "Cytokine release syndrome"),
    # CTCAE v5 has no ICANS term (it predates the ASTCT consensus): the CTCAE term stays empty.
    EventKind.ICANS: ("Immune effector cell-associated neurotoxicity syndrome", ""),
}
_SHORT = {EventKind.CRS: "CRS", EventKind.ICANS: "ICANS"}


@dataclass(frozen=True)
class Assessed:
    """What an assessment gave: the episode (None when grade 0 opened none) and its grade."""

    event: AdverseEvent | None
    grade: Grade


def crs_assess(
    participant: Participant,
    *,
    temperature_c,
    antipyretic_or_anticytokine=False,
    hypotension,
    oxygen,
    assessed_at: dt.datetime,
    by,
    event: AdverseEvent | None = None,
) -> Assessed:
    """Grade CRS from the findings at `assessed_at`. Without `event`, grade >= 1 opens a new
    episode; with it, the assessment re-grades that episode. Grade >= 3 is not made serious."""
    findings = {
        "temperature_c": temperature_c,
        "antipyretic_or_anticytokine": antipyretic_or_anticytokine,
        "hypotension": hypotension,
        "oxygen": oxygen,
    }
    return _assess(EventKind.CRS, crs_grade, participant, findings, assessed_at, by, event)


def icans_assess(
    participant: Participant,
    *,
    ice_score,
    consciousness,
    seizure="none",
    motor_weakness=False,
    cerebral_edema="none",
    assessed_at: dt.datetime,
    by,
    event: AdverseEvent | None = None,
) -> Assessed:
    """Grade ICANS from the ICE score and neurological findings (`ice_score=None` only when the
    participant is unarousable). As crs_assess otherwise; grade >= 3 is not made serious."""
    findings = {
        "ice_score": ice_score,
        "consciousness": consciousness,
        "seizure": seizure,
        "motor_weakness": motor_weakness,
        "cerebral_edema": cerebral_edema,
    }
    return _assess(EventKind.ICANS, icans_grade, participant, findings, assessed_at, by, event)


@transaction.atomic
def episode_resolve(event: AdverseEvent, *, on: dt.date, by) -> AdverseEvent:
    """The CRS or ICANS episode resolved on `on` (recovered): its hold, if open, is released."""
    if event.kind not in _TERMS:
        raise ValidationError({"event": f"{event.reference} is not a CRS or ICANS episode."})
    # ae_resolve checks who records, the date (not in the future, not before the onset) and that
    # the event is not already resolved.
    event = adverse_events.ae_resolve(event, on=on, outcome=Outcome.RECOVERED, by=by)
    holds.hold_release(
        event.participant, source=event.reference, reason=f"resolved on {on:%Y-%m-%d}", by=by
    )
    return event


# --- One assessment -------------------------------------------------------------------------------


@transaction.atomic
def _assess(kind, grade_of, participant, findings, assessed_at, by, event) -> Assessed:
    access.require_recorder(by, participant.site)
    grade = _graded(grade_of, findings)
    # The participant's row first, always: it orders two recorders numbering new events, and
    # re-assessments take the locks in the same order (no deadlock).
    participant = (
        Participant.objects.select_for_update(of=("self",))
        .select_related("site")
        .get(pk=participant.pk)
    )
    now = timezone.now()
    if event is not None:
        event = _episode_of(participant, event, kind)
    _check_assessed_at(participant, event, assessed_at, now)
    if event is None:
        if grade.grade == 0:
            return Assessed(None, grade)  # nothing to record: the form says "no CRS: ..."
        event = _new_episode(participant, kind, grade, assessed_at, by, now)
    else:
        _regrade(event, kind, grade)
    Grading.objects.create(
        event=event,
        grade=grade.grade,
        assessed_at=assessed_at,
        findings={k: _jsonable(v) for k, v in findings.items()},
        reasons=list(grade.reasons),
        recorded_by=by,
        recorded_at=now,
    )
    _hold_or_release(event, kind, grade.grade, by)
    return Assessed(event, grade)


def _graded(grade_of, findings: dict) -> Grade:
    try:
        return grade_of(**findings)
    except GradingError as error:
        raise ValidationError({error.field: error.message}) from None


def _episode_of(participant: Participant, event: AdverseEvent, kind: str) -> AdverseEvent:
    """The event to re-grade, locked: this participant's open episode of this kind."""
    event = AdverseEvent.objects.select_for_update(of=("self",)).get(pk=event.pk)
    if event.participant_id != participant.pk or event.kind != kind:
        raise ValidationError(
            {"event": f"{event.reference} is not a {_SHORT[kind]} episode of {participant.label}."}
        )
    if event.resolved_on is not None:
        raise ValidationError(
            {
                "event": f"{event.reference} resolved on {event.resolved_on:%Y-%m-%d}; a new "
                f"{_SHORT[kind]} is a new episode."
            }
        )
    event.participant = participant  # the locked row, with its site
    return event


def _check_assessed_at(participant, event, assessed_at, now) -> None:
    if not isinstance(assessed_at, dt.datetime) or timezone.is_naive(assessed_at):
        raise ValidationError(
            {"assessed_at": "Give the time of the assessment with the site's time zone."}
        )
    if assessed_at > now:
        raise ValidationError({"assessed_at": "The assessment time is in the future."})
    if assessed_at < participant.consent_at:
        raise ValidationError({"assessed_at": "The assessment time is before consent."})
    # As adverse_events.ae_regrade: the event's grade is its latest grading, so a later entry of
    # an earlier assessment would put an old grade (and hold) in place of the current one.
    if event is None:
        return
    previous = last_assessed_at(event)
    if previous and assessed_at < previous:
        raise ValidationError(
            {"assessed_at": f"{event.reference} was last assessed after this time."}
        )


def _new_episode(participant, kind, grade: Grade, assessed_at, by, now) -> AdverseEvent:
    term, ctcae_term = _TERMS[kind]
    # Under the participant's row lock taken by the caller.
    event = AdverseEvent(
        participant=participant,
        number=next_event_number(participant),
        kind=kind,
        term=term,
        ctcae_term=ctcae_term,
        onset_date=assessed_at.astimezone(participant.site.tz).date(),
        grade=grade.grade,
        related_to_product=Relatedness.POSSIBLE,
        aware_at=assessed_at,
        recorded_by=by,
        recorded_at=now,
    )
    event._change_reason = f"{_SHORT[kind]} graded {grade.grade} from findings (ASTCT)"
    event.save()
    return event


def _regrade(event: AdverseEvent, kind: str, grade: Grade) -> None:
    # An AdverseEvent's grade is 1-5: a re-assessment at grade 0 keeps its Grading (and releases
    # the hold) but the episode stays open at its last grade until the investigator resolves it
    # with its date (episode_resolve).
    if grade.grade == 0 or grade.grade == event.grade:
        return
    previous, event.grade = event.grade, grade.grade
    event._change_reason = f"{_SHORT[kind]} re-graded {previous} → {grade.grade} from findings"
    event.save()


def _hold_or_release(event: AdverseEvent, kind: str, grade: int, by) -> None:
    participant, source = event.participant, event.reference
    if grade >= HOLD_FROM_GRADE:
        reason = f"{_SHORT[kind]} grade {grade}"
        holds.hold_open(participant, source=source, reason=reason, by=by)
    else:
        reason = f"resolved to grade {grade}"
        holds.hold_release(participant, source=source, reason=reason, by=by)


def _jsonable(value):
    """Findings as entered, for the JSON column (a Decimal temperature as its text)."""
    return str(value) if isinstance(value, Decimal) else value
