"""One screening's path through the study, read from its status history as of a day.

The history (participants.StatusChange) is the only source: a row's `effective_on` is the clinical
date in the participant's site time zone (a consent signed at 22:00 in New York on 31 January is a
January consent even though it is 1 February in UTC), so "as of the month's last day" is simply
`effective_on <= last day` whatever the site's zone. Rows dated later are never read, which is why
a past month's figures never change when later events are recorded.

A reinstatement after loss to follow-up writes a row back *to* the status held before (e.g.
enrolled); it is not a second enrollment, so milestones skip rows that come from lost to follow-up
(withdrawal and death from lost to follow-up are real events and count).
"""

import datetime as dt
from dataclasses import dataclass, field

from participants.models import Status
from participants.reasons import TreatmentStopReason, WithdrawalReason, reason_label

LEAVING = (Status.WITHDRAWN, Status.DIED)


@dataclass(frozen=True)
class HistoryRow:
    """One StatusChange row as the selector reads it (no identifiers beyond internal ids)."""

    participant_id: int
    site_id: int
    rescreen_of_id: int | None
    from_status: str
    to_status: str
    effective_on: dt.date
    details: dict = field(default_factory=dict)


@dataclass
class Timeline:
    """What one screening had reached by the day the history was read to."""

    participant_id: int
    site_id: int
    rescreen_of_id: int | None
    consented_on: dt.date | None = None
    screen_failed_on: dt.date | None = None
    failed_criteria: list[str] = field(default_factory=list)
    enrolled_on: dt.date | None = None
    leukapheresis_on: list[dt.date] = field(default_factory=list)
    manufacturing_failed_on: list[dt.date] = field(default_factory=list)
    treated_on: dt.date | None = None
    treatment_ended_on: dt.date | None = None
    stopped_early: bool = False
    stop_reason: str = ""  # a coded category's label (participants.reasons), never free text
    completed_on: dt.date | None = None
    withdrawn_on: dt.date | None = None
    withdrawal_reason: str = ""  # likewise
    lost_on: list[dt.date] = field(default_factory=list)
    reinstated_on: list[dt.date] = field(default_factory=list)
    died_on: dt.date | None = None
    status: str = ""  # the status held on the day read to

    @property
    def is_rescreen(self) -> bool:
        return self.rescreen_of_id is not None

    @property
    def first_leukapheresis_on(self) -> dt.date | None:
        return self.leukapheresis_on[0] if self.leukapheresis_on else None

    @property
    def product_leukapheresis_on(self) -> dt.date | None:
        """The collection whose cells were infused: the last one before the first infusion."""
        if self.treated_on is None:
            return None
        before = [day for day in self.leukapheresis_on if day <= self.treated_on]
        return before[-1] if before else None


# Statuses whose row only dates a milestone: reached once, or possibly several times.
DATED_ONCE = {
    Status.ENROLLED: "enrolled_on",
    Status.IN_TREATMENT: "treated_on",
    Status.COMPLETED: "completed_on",
    Status.DIED: "died_on",
}
DATED_EACH_TIME = {
    Status.APHERESIS_DONE: "leukapheresis_on",
    Status.MANUFACTURING_FAILED: "manufacturing_failed_on",
    Status.LOST_TO_FOLLOW_UP: "lost_on",
}


def _apply(timeline: Timeline, row: HistoryRow) -> None:
    timeline.status = row.to_status
    day, to = row.effective_on, row.to_status
    if row.from_status == Status.LOST_TO_FOLLOW_UP and to not in LEAVING:
        timeline.reinstated_on.append(day)
    elif to == Status.SCREENING and not row.from_status:
        timeline.consented_on = day
    elif to in DATED_ONCE:
        setattr(timeline, DATED_ONCE[to], day)
    elif to in DATED_EACH_TIME:
        getattr(timeline, DATED_EACH_TIME[to]).append(day)
    elif to == Status.SCREEN_FAILED:
        timeline.screen_failed_on = day
        timeline.failed_criteria = list(row.details.get("failed_criteria") or [])
    elif to == Status.IN_FOLLOW_UP:
        timeline.treatment_ended_on = day
        timeline.stopped_early = bool(row.details.get("stopped_early"))
        timeline.stop_reason = reason_label(row.details.get("reason_code"), TreatmentStopReason)
    elif to == Status.WITHDRAWN:
        timeline.withdrawn_on = day
        timeline.withdrawal_reason = reason_label(row.details.get("reason_code"), WithdrawalReason)


def timelines(rows, *, through: dt.date) -> list[Timeline]:
    """Each screening's timeline from `rows` (in the order they were recorded), reading only the
    rows dated on or before `through`."""
    by_participant: dict[int, Timeline] = {}
    for row in rows:
        if row.effective_on > through:
            continue
        timeline = by_participant.get(row.participant_id)
        if timeline is None:
            timeline = by_participant[row.participant_id] = Timeline(
                row.participant_id, row.site_id, row.rescreen_of_id
            )
        _apply(timeline, row)
    return [t for t in by_participant.values() if t.consented_on is not None]


def person_of(found: list[Timeline]) -> dict[int, int]:
    """participant id -> the id of the person's first screening (re-screens follow rescreen_of;
    a failed screening always has history before its re-screen's, so it is in `found`)."""
    parent = {t.participant_id: t.rescreen_of_id for t in found}
    root = {}
    for pid in parent:
        first = pid
        while parent.get(first) is not None:
            first = parent[first]
        root[pid] = first
    return root
