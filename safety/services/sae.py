"""Serious adverse events: reporting to the sponsor (24 hours from awareness) and the IRB (business
days), a pregnancy and a death, which start the same clock.
"""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from participants import access
from participants.models import Participant
from safety import clocks
from safety.models import (
    ActionTaken,
    AdverseEvent,
    EventKind,
    Outcome,
    Relatedness,
    Seriousness,
)
from safety.services.adverse_events import ae_record
from safety.services.checks import (
    FATAL_GRADE,
    add_grading,
    change_reason,
    date_problem,
    day_start,
    instant_problem,
    locked_event,
    raise_problems,
    shown,
    start_clocks,
)
from schedule import services as schedule_services

PREGNANCY_TERM = "Pregnancy, puerperium and perinatal conditions - Other"


def _report(event: AdverseEvent, at: dt.datetime, by, field: str, to: str) -> AdverseEvent:
    access.require_recorder(by, event.participant.site)
    event = locked_event(event)
    site = event.participant.site
    if not event.serious:
        raise_problems({"at": "Only a serious adverse event is reported on the SAE clock."})
    if getattr(event, field) is not None:
        raise_problems(
            {"at": f"Already reported to the {to} at {shown(getattr(event, field), site)}."}
        )
    # The clock started when the site knew the event was serious: aware_at, or later.
    start = event.sponsor_report_due_at - clocks.SPONSOR_REPORT_WINDOW
    label, before = "The time of reporting", "the site became aware"
    if problem := instant_problem(at, label, site, timezone.now(), start, before):
        raise_problems({"at": problem})
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


def _death_problems(event, on, aware_at, now) -> dict[str, str]:
    site = event.participant.site
    if event.resolved_on is not None and event.outcome != Outcome.FATAL:
        return {
            "event": f"{event.reference} resolved on {event.resolved_on:%Y-%m-%d}; link the "
            "event that led to the death, or record it first."
        }
    onset_of = f"the onset of {event.reference}"
    if problem := date_problem(on, "The date of death", site, event.onset_date, onset_of):
        return {"on": problem}
    if event.serious:
        return {}  # its clock already runs from when it became serious
    label, death = "The time of awareness", day_start(on, site)
    if problem := instant_problem(aware_at, label, site, now, death, "the date of death"):
        return {"aware_at": problem}
    return {}


def _make_fatal(event: AdverseEvent, on: dt.date, aware_at, by, now) -> None:
    if event.grade != FATAL_GRADE:
        reasons = ["grade 5: death", f"death on {on.isoformat()} recorded by {by.get_username()}"]
        add_grading(event, FATAL_GRADE, assessed_at=now, reasons=reasons, by=by, now=now)
    reason = f"fatal: death on {on.isoformat()}"
    if not event.serious:
        start_clocks(event, aware_at)
        event.serious = True
        reason += f"; SAE clock from {aware_at.isoformat()}"
    criteria = {*event.seriousness_criteria, Seriousness.DEATH}
    event.seriousness_criteria = [c for c in Seriousness.values if c in criteria]
    # The event ends with the death: it leaves the follow-up list (resolved_on is its end date).
    event.grade, event.outcome, event.resolved_on = FATAL_GRADE, Outcome.FATAL, on
    event._change_reason = change_reason(reason)
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
        raise_problems(
            {"event": "Link one of this participant's adverse events: the SAE of the death."}
        )
    event = locked_event(event)
    now = timezone.now()
    aware_at = now if aware_at is None else aware_at
    raise_problems(_death_problems(event, on, aware_at, now))
    _make_fatal(event, on, aware_at, by, now)
    schedule_services.participant_die(
        participant, on=on, cause=cause, sae_reference=event.reference, by=by
    )
    return event
