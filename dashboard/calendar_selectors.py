"""Reads of the visit calendar (/calendar/): the visits of the range shown, laid out as weeks of
bars. An open visit is a bar over its window (the part inside the week) with its target marked; a
done visit sits on the day it happened, a missed one on its target. A target on a weekend or on a
holiday of the visit's site is flagged. Each visit is named once: a window running over two weeks
continues as an unlabelled bar.

One query for the visits (participants.access scoped; done visits found by visit_done_actual_date_idx,
open ones by their window end), whatever the number of participants.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from participants import access
from participants.models import Site
from schedule.models import Visit, VisitStatus

ISO = "%Y-%m-%d"


def calendar_visits(user, start: dt.date, end: dt.date, site: Site | None = None) -> QuerySet:
    """Visits to show between start and end inclusive: done ones on the day they happened,
    missed ones on their target, open ones whose window overlaps the range. Visits no longer
    applicable are left out."""
    visits = access.visible(user, Visit).filter(
        Q(status=VisitStatus.DONE, actual_date__range=(start, end))
        | Q(status=VisitStatus.MISSED, target_date__range=(start, end))
        | Q(status=VisitStatus.SCHEDULED, window_start__lte=end, window_end__gte=start)
    )
    if site is not None:
        visits = visits.filter(participant__site=site)
    return visits.select_related("participant__site", "definition").order_by(
        "target_date", "participant__site__code", "participant__screening_number", "pk"
    )


def target_flags(visit: Visit) -> list[str]:
    """Why an open visit's target date needs a second look: a weekend, a holiday of its site."""
    flags = []
    if visit.target_date.weekday() >= 5:
        flags.append(f"target on a {visit.target_date:%A}")
    if visit.target_date.isoformat() in (visit.participant.site.holidays or []):
        flags.append(f"target on a {visit.participant.site.code} holiday")
    return flags


@dataclass
class Day:
    day: dt.date
    in_month: bool
    is_today: bool
    weekend: bool
    holidays: list[str]  # codes of the shown sites with a holiday that day


@dataclass
class Bar:
    visit: Visit
    kind: str  # window, done, missed
    first: int  # first column, 1 (Monday) to 7
    span: int
    labelled: bool  # False: the continuation of a window named in another week
    target_here: bool
    flags: list[str]
    title: str


@dataclass
class Week:
    days: list[Day]
    bars: list[Bar] = field(default_factory=list)


def _title(visit: Visit, flags: list[str]) -> str:
    if visit.status == VisitStatus.DONE:
        text = f"done {visit.actual_date:{ISO}}"
    else:
        text = f"target {visit.target_date:%a} {visit.target_date:{ISO}}"
    text += f"; window {visit.window_start:{ISO}} to {visit.window_end:{ISO}}"
    return "; ".join([text, visit.get_status_display(), *flags])


def _segments(visit: Visit, weeks: list[list[dt.date]]):
    """(week index, first day, last day) of the visit in each shown week it touches."""
    if visit.status == VisitStatus.SCHEDULED:
        first, last = visit.window_start, visit.window_end
    else:
        first = last = visit.actual_date if visit.status == VisitStatus.DONE else visit.target_date
    for i, days in enumerate(weeks):
        lo, hi = max(first, days[0]), min(last, days[-1])
        if lo <= hi:
            yield i, lo, hi


def calendar_weeks(
    visits: list[Visit],
    start: dt.date,
    end: dt.date,
    *,
    month: int | None,
    today: dt.date,
    sites: list[Site],
) -> list[Week]:
    dates = [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]
    holidays: dict[str, list[str]] = {}
    for s in sites:
        for day in s.holidays or []:
            holidays.setdefault(day, []).append(s.code)
    spans = [dates[i : i + 7] for i in range(0, len(dates), 7)]
    weeks = [
        Week(
            [
                Day(
                    d,
                    month is None or d.month == month,
                    d == today,
                    d.weekday() >= 5,
                    holidays.get(d.isoformat(), []),
                )
                for d in days
            ]
        )
        for days in spans
    ]
    for visit in visits:
        kind = {VisitStatus.DONE: "done", VisitStatus.MISSED: "missed"}.get(visit.status, "window")
        flags = target_flags(visit) if kind == "window" else []
        segments = list(_segments(visit, spans))
        if not segments:
            continue
        named = next((i for i, lo, hi in segments if lo <= visit.target_date <= hi), segments[0][0])
        for i, lo, hi in segments:
            weeks[i].bars.append(
                Bar(
                    visit=visit,
                    kind=kind,
                    first=lo.weekday() + 1,
                    span=(hi - lo).days + 1,
                    labelled=i == named,
                    target_here=kind == "window" and lo <= visit.target_date <= hi,
                    flags=flags,
                    title=_title(visit, flags),
                )
            )
    return weeks
