"""Reads of safety events for pages, exports and scans, always scoped by participants.access (a
coordinator of one site never sees another site's events). The clinical predicates are the
AdverseEventQuerySet methods in safety/models.py, one place per rule; this module only scopes,
filters and orders them.
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import JSONField, OuterRef, QuerySet, Subquery

from participants import access
from participants.models import Site
from safety import clocks
from safety.clocks import ClockState
from safety.models import AdverseEvent, Grading

# Participant and site are read for every row (label, reference, the site's time zone).
_RELATED = ("participant__site",)


def events_visible_to(user) -> QuerySet[AdverseEvent]:
    """Every adverse event at the sites `user` sees."""
    return access.visible(user, AdverseEvent)


def open_above_grade_2(user) -> QuerySet[AdverseEvent]:
    """Unresolved events above grade 2 (lymphopenia and alopecia excepted): followed until they
    resolve to grade 2 or less."""
    return (
        events_visible_to(user)
        .needs_follow_up()
        .select_related(*_RELATED)
        .order_by("participant__site__code", "participant__screening_number", "number")
    )


def sae_clock(event: AdverseEvent, now: dt.datetime) -> ClockState | None:
    """The sponsor clock (24 hours from awareness) of a serious event at `now`; None when the
    event is not serious. `late_by` keeps how late a report was."""
    if not event.serious or event.sponsor_report_due_at is None:
        return None
    return clocks.clock_state(event.sponsor_report_due_at, now, event.sponsor_reported_at)


def irb_clock(event: AdverseEvent, now: dt.datetime) -> ClockState | None:
    """The IRB clock: due at the end of `irb_report_due_on` in the site's time zone."""
    if not event.serious or event.irb_report_due_on is None:
        return None
    due = clocks.end_of_local_day(event.irb_report_due_on, event.participant.site.tz)
    return clocks.clock_state(due, now, event.irb_reported_at)


@dataclass(frozen=True)
class SaeClock:
    event: AdverseEvent
    sponsor: ClockState
    irb: ClockState | None


def sae_clocks(user, now: dt.datetime) -> list[SaeClock]:
    """Serious events not yet reported to the sponsor, soonest due first, each with where its
    sponsor and IRB clocks stand at `now`. One query, whatever the number of events."""
    events = (
        events_visible_to(user)
        .sae_unreported()
        .select_related(*_RELATED)
        .order_by("sponsor_report_due_at", "pk")
    )
    return [SaeClock(event, sae_clock(event, now), irb_clock(event, now)) for event in events]


def ae_listing(
    user,
    *,
    site: Site | None = None,
    serious: bool | None = None,
    grade: int | None = None,
    open_only: bool = False,
) -> QuerySet[AdverseEvent]:
    """Events for a table, by participant then number. A queryset: the caller paginates it."""
    events = events_visible_to(user)
    if open_only:
        events = events.open()
    if site is not None:
        events = events.filter(participant__site=site)
    if serious is not None:
        events = events.filter(serious=serious)
    if grade is not None:
        events = events.filter(grade=grade)
    return events.select_related(*_RELATED).order_by(
        "participant__site__code", "participant__screening_number", "number"
    )


def participant_events(user, participant) -> list[AdverseEvent]:
    """The participant's events, each with the reasons of its latest grading, in one query."""
    latest = Grading.objects.filter(event=OuterRef("pk")).order_by("-assessed_at", "-pk")
    return list(
        events_visible_to(user)
        .filter(participant=participant)
        .select_related("participant__site")
        .annotate(latest_reasons=Subquery(latest.values("reasons")[:1], output_field=JSONField()))
        .order_by("number")
    )
