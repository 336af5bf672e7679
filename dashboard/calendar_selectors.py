"""Reads of the visit calendar (/calendar/): which visits of the range shown a week or month
shows, and how many each day has (laid out as weeks by calendar_layout.py); the day view's and
the download's whole list (calendar_visits).

Bounded whatever the number of participants: each visit sits on one day of the range (done: the
day it happened; missed: its target; open: its target, or the range's first or last day when the
target lies outside), and a day shows its first PER_DAY[view] visits (by site code, then
participant) with how many more there are ("+K more", a link to the day's list). The counts per
day and site come from the partial indexes on (site, date) (visit_site_done_actual_idx,
visit_site_missed_target_idx, visit_site_open_target_idx, visit_open_target_idx for open windows
whose target lies outside the range); then only the visits of each day's first sites are ranked,
and the shown ones read with their related rows.
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import (
    Case,
    Count,
    DateField,
    F,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.functions import Greatest, Least, RowNumber

from participants import access
from participants.models import Site
from schedule.listings import date_of, widest_window
from schedule.models import Visit, VisitStatus

ISO = "%Y-%m-%d"
RELATED = ("participant__site", "definition")
ORDER = ("target_date", "participant__site__code", "participant__screening_number", "pk")
# What a month or week bar shows of a visit (Bar.html, _title, target_flags, _segments).
BAR_FIELDS = (
    "participant__study_id",
    "participant__screening_number",
    "participant__site__code",
    "participant__site__holidays",
    "definition__code",
    "occurrence",
    "status",
    "target_date",
    "actual_date",
    "window_start",
    "window_end",
)


def calendar_visits(user, start: dt.date, end: dt.date, sites: list[Site]) -> QuerySet:
    """Visits of `sites` (the one chosen, or all the user's) to show between start and end
    inclusive: done ones on the day they happened, missed ones on their target, open ones whose
    window overlaps the range. Visits no longer applicable are left out. The sites are named in
    the query (within what access.visible allows), so one site's visits are read by the
    visit_site_* indexes rather than every site's visits of the range."""
    visits = access.visible(user, Visit).filter(
        Q(status=VisitStatus.DONE, actual_date__range=(start, end))
        | Q(status=VisitStatus.MISSED, target_date__range=(start, end))
        | Q(status=VisitStatus.SCHEDULED, window_start__lte=end, window_end__gte=start),
        site__in=[s.pk for s in sites],
    )
    return visits.select_related(*RELATED).order_by(*ORDER)


# How many visits a day shows at most; the rest are counted ("+K more") and listed on the day view.
PER_DAY = {"week": 20, "month": 6}


def _day_of(start: dt.date, end: dt.date):
    """The one day of the range a visit sits on: done, the day it happened; otherwise its target,
    or the range's first or last day for an open window whose target lies outside."""
    day = Case(
        When(status=VisitStatus.DONE, then=F("actual_date")),
        default=F("target_date"),
        output_field=DateField(),
    )
    return Greatest(Least(day, Value(end)), Value(start), output_field=DateField())


@dataclass(frozen=True)
class Range:
    """The days shown, with the widest window of any visit (schedule.listings.widest_window),
    which bounds how far outside them an open window's target can lie. Its visits are those of
    calendar_visits (an open window overlapping the range), found by their dates' indexes:
    tests/dashboard/test_calendar_days.py holds the two to the same visits."""

    start: dt.date
    end: dt.date
    before: int
    after: int

    def between(self, first: dt.date, last: dt.date) -> Q:
        """The visits that sit on a day from `first` to `last` (_day_of): done that day, missed
        or open with their target that day and, on the range's first (last) day, open windows
        whose target lies before (after) the range. Each branch is served by a partial index
        on its date."""
        on = Q(status=VisitStatus.DONE, actual_date__range=(first, last))
        on |= Q(status=VisitStatus.MISSED, target_date__range=(first, last))
        on |= Q(status=VisitStatus.SCHEDULED, target_date__range=(first, last))
        if first == self.start:
            on |= self.open_before()
        if last == self.end:
            on |= self.open_after()
        return on

    def open_before(self) -> Q:
        """Open windows over the range's first day whose target lies before the range."""
        earliest = self.start - dt.timedelta(days=self.after)
        return Q(
            status=VisitStatus.SCHEDULED,
            target_date__range=(earliest, self.start - dt.timedelta(days=1)),
            window_end__gte=self.start,
        )

    def open_after(self) -> Q:
        """Open windows over the range's last day whose target lies after the range."""
        latest = self.end + dt.timedelta(days=self.before)
        return Q(
            status=VisitStatus.SCHEDULED,
            target_date__range=(self.end + dt.timedelta(days=1), latest),
            window_start__lte=self.end,
        )


def _counts(visible: QuerySet, span: Range) -> dict[tuple[dt.date, int], int]:
    """(day, site id) -> how many visits sit there, grouped by date and site from the partial
    indexes on (site, date) in one query; only the open windows over the range's first and last
    days whose targets lie outside are read from their rows."""
    days = (span.start, span.end)
    # One part per partial index (a status each): `status IN (...)` would match none of them.
    parts = [
        visible.filter(status=VisitStatus.DONE, actual_date__range=days).annotate(
            day=F("actual_date")
        ),
        visible.filter(status=VisitStatus.MISSED, target_date__range=days).annotate(
            day=F("target_date")
        ),
        visible.filter(status=VisitStatus.SCHEDULED, target_date__range=days).annotate(
            day=F("target_date")
        ),
        visible.filter(span.open_before()).annotate(day=Value(span.start, DateField())),
        visible.filter(span.open_after()).annotate(day=Value(span.end, DateField())),
    ]
    grouped = [
        part.order_by()
        .values("day", "site_id")
        .annotate(n=Count("*"))
        .values_list("day", "site_id", "n")
        for part in parts
    ]
    counts: dict[tuple[dt.date, int], int] = {}
    for day, site_id, n in grouped[0].union(*grouped[1:], all=True):
        key = (date_of(day), site_id)
        counts[key] = counts.get(key, 0) + n
    return counts


def _takes(counts: dict, sites: list[Site], per_day: int) -> dict[tuple[dt.date, int], int]:
    """(day, site id) -> how many of the site's visits that day are shown: a crowded day shows
    the shown sites by code, each with its visits in the order their participants joined the
    tracker, until `per_day`."""
    by_code = sorted(sites, key=lambda site: site.code)
    takes = {}
    for day in sorted({day for day, _ in counts}):
        left = per_day
        for site in by_code:
            n = min(counts.get((day, site.pk), 0), left)
            if n:
                takes[(day, site.pk)] = n
                left -= n
    return takes


def _first_ids(visible: QuerySet, span: Range, takes: dict, per_day: int) -> list[int]:
    """The ids of the visits `takes` asks for. Each site's visits are read from the first to the
    last day it has visits shown (not every site's visits of the range: at 50k participants a
    study manager's month is filled by the first site alone), ranked per day and site by
    participant, narrow (no related row)."""
    days_of: dict[int, list[dt.date]] = {}
    for day, site in takes:
        days_of.setdefault(site, []).append(day)
    wanted = Q()
    for site, days in days_of.items():
        wanted |= Q(site=site) & span.between(min(days), max(days))
    day = _day_of(span.start, span.end)
    by_participant = [F("participant_id"), F("pk")]
    ranked = (
        visible.filter(wanted)
        .order_by()
        .annotate(
            day=day,
            rank=Window(RowNumber(), partition_by=[day, F("site_id")], order_by=by_participant),
        )
        .filter(rank__lte=per_day)
        .values_list("pk", "day", "site_id", "rank")
    )
    return [pk for pk, d, site, rank in ranked if rank <= takes.get((date_of(d), site), 0)]


@dataclass
class CalendarPage:
    visits: list[Visit]  # the visits shown, at most `per_day` a day
    on_day: dict[dt.date, int]  # how many visits each day of the range has (shown or not)

    @property
    def total(self) -> int:
        return sum(self.on_day.values())

    def more(self, day: dt.date, per_day: int) -> int:
        return max(self.on_day.get(day, 0) - per_day, 0)


def calendar_page(
    user, start: dt.date, end: dt.date, per_day: int, sites: list[Site]
) -> CalendarPage:
    """The visits of the range a calendar shows, at most `per_day` a day (the first by site code,
    then participant: _takes), and how many each day has.

    Four queries, none of which sorts the range's visits: the widest window; the counts per day
    and site (from the indexes); the ids of the visits shown (only the visits of each day's
    first sites are ranked); those visits with what a bar shows. Ranking and counting every
    visit of the range in one pass sorted 41k rows for a study manager's month at 50k
    participants (92 of the page's 177 ms)."""
    span = Range(start, end, *widest_window())
    visible = access.visible(user, Visit).filter(site__in=[s.pk for s in sites])
    counts = _counts(visible, span)
    takes = _takes(counts, sites, per_day)
    ids = _first_ids(visible, span, takes, per_day) if takes else []
    on_day: dict[dt.date, int] = {}
    for (day, _), n in counts.items():
        on_day[day] = on_day.get(day, 0) + n
    # Those visits with their related rows, read by id (not by the range's filters again), with
    # only what a bar shows: decoding every column of four tables for each visit was most of
    # the read (a coordinator's month at 10k: 6 ms for 210 visits, 1.6 of them in PostgreSQL).
    visits = list(
        Visit.objects.filter(pk__in=ids).select_related(*RELATED).only(*BAR_FIELDS).order_by(*ORDER)
    )
    return CalendarPage(visits, on_day)
