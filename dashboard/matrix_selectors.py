"""Reads of the subject matrix (/matrix/): participants × visits, one cell per visit with its
state. The state is schedule.selectors.with_state (the one place it is decided); this module only
arranges the cells. Every read starts from participants.access, so only the user's sites appear.

A page makes a fixed number of queries: the participants of the page, the column headings and the
visits of those participants (states annotated in the same query).
"""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Min, QuerySet
from django.urls import reverse

from participants import access
from participants.models import Participant, Site
from schedule.models import Visit, VisitDefinition, VisitStatus
from schedule.visit_states import VisitState, with_state
from schedule.windows import study_day_label, study_day_offset

PAGE_SIZE = 25
# Participants read at a time for a download: a bounded number of rows in memory, however many.
EXPORT_BATCH = 200
ISO = "%Y-%m-%d"
# A mark beside each cell's colour, so a state never rests on colour alone.
GLYPH = {
    VisitState.OVERDUE_SAFETY: "‼",
    VisitState.WINDOW_CLOSED: "⊘",
    VisitState.DUE_TODAY: "●",
    VisitState.CLOSING_SOON: "!",
    VisitState.WINDOW_OPEN: "○",
    VisitState.NOT_YET_DUE: "·",
    VisitState.DONE_IN_WINDOW: "✓",
    VisitState.DONE_OUT_OF_WINDOW: "✓!",
    VisitState.MISSED: "✗",
    VisitState.NOT_APPLICABLE: "–",
}
LEGEND = [(state, state.label, GLYPH[state]) for state in VisitState]


@dataclass(frozen=True)
class Cell:
    visit: Visit
    state: str
    label: str  # the state in words
    glyph: str
    title: str  # study day, date and window, shown on hover
    url: str


@dataclass
class Row:
    participant: Participant
    cells: list[list[Cell]] = field(default_factory=list)  # one list per column (repeats)


def matrix_participants(user) -> QuerySet[Participant]:
    return (
        access.visible(user, Participant)
        .select_related("site", "schedule")
        .order_by("site__code", "screening_number")
    )


def columns() -> list[str]:
    """Visit codes in protocol order (every protocol version's, a code once): the same columns
    on every page and in the download."""
    rows = (
        VisitDefinition.objects.values("code")
        .annotate(first=Min("order"))
        .order_by("first", "code")
    )
    return [r["code"] for r in rows]


def _title(visit: Visit, d0: dt.date | None, label: str) -> str:
    day = visit.actual_date if visit.status == VisitStatus.DONE else visit.target_date
    parts = [visit.code]
    if d0 is not None:
        parts.append(study_day_label(study_day_offset(d0, day), settings.STUDY_DAY_LABEL))
    done = visit.status == VisitStatus.DONE
    parts.append(f"{'done' if done else 'target'} {day:{ISO}}")
    parts.append(f"window {visit.window_start:{ISO}} to {visit.window_end:{ISO}}")
    parts.append(label)
    return " · ".join(parts)


def _cell(visit: Visit, d0: dt.date | None) -> Cell:
    label = VisitState(visit.state).label
    return Cell(
        visit=visit,
        state=visit.state,
        label=label,
        glyph=GLYPH[visit.state],
        title=_title(visit, d0, label),
        url=reverse("dashboard:participant", args=[visit.participant_id]) + f"#visit-{visit.pk}",
    )


def matrix_rows(
    user,
    participants: list[Participant],
    codes: list[str],
    today_by_site: dict[int, dt.date],
    now: dt.datetime,
) -> list[Row]:
    """One row per participant, one cell list per column of `codes`: one query for the visits."""
    visits = with_state(
        access.visible(user, Visit)
        .filter(participant__in=[p.pk for p in participants])
        .select_related("definition"),
        today_by_site,
        now,
    ).order_by("target_date", "definition__order", "occurrence")
    position = {code: i for i, code in enumerate(codes)}
    rows = {p.pk: Row(p, [[] for _ in codes]) for p in participants}
    for visit in visits:
        column = position.get(visit.definition.code)
        if column is None:
            continue
        row = rows[visit.participant_id]
        schedule = getattr(row.participant, "schedule", None)
        row.cells[column].append(_cell(visit, schedule.infusion_anchor if schedule else None))
    return list(rows.values())


def export_rows(
    user,
    participants: QuerySet[Participant],
    codes: list[str],
    today_by_site: dict[int, dt.date],
    now: dt.datetime,
) -> Iterator[list]:
    """The download: a heading row, then one row per participant (state of each visit in words,
    repeats joined), read EXPORT_BATCH participants at a time."""
    yield ["Participant", "Site", "Status", *codes]
    ids = list(participants.values_list("pk", flat=True))
    for start in range(0, len(ids), EXPORT_BATCH):
        batch = list(participants.filter(pk__in=ids[start : start + EXPORT_BATCH]))
        for row in matrix_rows(user, batch, codes, today_by_site, now):
            p = row.participant
            yield [
                p.label,
                p.site.code,
                p.get_status_display(),
                *[_in_words(cell) for cell in row.cells],
            ]


def _in_words(cells: list[Cell]) -> str:
    if len(cells) == 1:
        return cells[0].label
    return "; ".join(f"{c.visit.code}: {c.label}" for c in cells)


def sites_today(sites: list[tuple[Site, dt.date]]) -> dict[int, dt.date]:
    return {s.pk: today for s, today in sites}
