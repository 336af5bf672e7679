"""Read queries for the visit reminder scan (notifications/services/reminders.py): its candidate
visits, and what a reminder reads of a visit, as plain rows."""

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from django.db.models import Q

from participants.models import Participant, Status, zone
from schedule.models import Visit, VisitStatus


class ReminderCandidate(NamedTuple):
    pk: int
    site_id: int
    target_date: dt.date
    window_end: dt.date


def reminder_candidates(dates_by_site: dict[int, tuple[set, set]]) -> list[ReminderCandidate]:
    """The scheduled visits whose target date, or window end, is one of its own site's reminder
    dates: {site id: (target dates, window ends)} (each site has its own "today"). Only the
    dates: ~700 an hour at 10k participants, of which a steady-state run writes nothing (the
    rest of a visit is read, as a ReminderVisit, for a row written or re-checked).

    Served by the partial indexes visit_site_open_target_idx and visit_site_open_end_idx. Visits
    of participants lost to follow-up stay scheduled (for a reinstatement) but are not reminded.
    """
    # Sites sharing their dates (the same "today") are asked together: one branch per distinct
    # set of dates, not per site (ten branches for ten sites cost more to build and to plan
    # than the read itself).
    sites_with: dict[tuple, list[int]] = {}
    for site_id, (targets, ends) in dates_by_site.items():
        sites_with.setdefault((tuple(sorted(targets)), tuple(sorted(ends))), []).append(site_id)
    wanted = Q()
    for (targets, ends), site_ids in sorted(sites_with.items()):
        wanted |= Q(site_id__in=sorted(site_ids)) & (
            Q(target_date__in=targets) | Q(window_end__in=ends)
        )
    if not wanted:
        return []
    rows = (
        Visit.objects.open()
        .filter(wanted)
        .exclude(participant__status=Status.LOST_TO_FOLLOW_UP)
        .order_by("target_date", "pk")
        .values_list("pk", "site_id", "target_date", "window_end")
    )
    return [ReminderCandidate(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class ReminderVisit:
    """What a reminder reads of a visit (its checks, its email), read as a plain row: model
    instances with their participant, site and definition cost ten times the query."""

    pk: int
    participant_id: int
    site_id: int
    status: str
    participant_status: str
    target_date: dt.date
    window_start: dt.date
    window_end: dt.date
    label: str  # Participant.label_of: the study id, or the screening number before enrolment
    code: str  # Visit.code_of: "APH #2" for a repeat
    name: str
    site_code: str
    time_zone: str

    @property
    def tz(self):
        return zone(self.time_zone)

    @property
    def status_label(self) -> str:
        return VisitStatus(self.status).label


_REMINDER_COLUMNS = (
    "pk",
    "participant_id",
    "site_id",
    "status",
    "participant__status",
    "target_date",
    "window_start",
    "window_end",
    "participant__study_id",
    "participant__screening_number",
    "definition__code",
    "occurrence",
    "definition__name",
    "site__code",
    "site__time_zone",
)


def reminder_visits(ids) -> dict[int, ReminderVisit]:
    """{visit id: what a reminder reads of it}, any status (one query)."""
    rows = Visit.objects.filter(pk__in=set(ids)).order_by().values_list(*_REMINDER_COLUMNS)
    return {row[0]: _reminder_visit(*row) for row in rows}


def _reminder_visit(
    pk, participant_id, site_id, status, participant_status, target, start, end, study_id, screening,
    definition_code, occurrence, name, site_code, time_zone,
) -> ReminderVisit:  # fmt: skip
    return ReminderVisit(
        pk=pk,
        participant_id=participant_id,
        site_id=site_id,
        status=status,
        participant_status=participant_status,
        target_date=target,
        window_start=start,
        window_end=end,
        label=Participant.label_of(study_id, screening),
        code=Visit.code_of(definition_code, occurrence),
        name=name,
        site_code=site_code,
        time_zone=time_zone,
    )
