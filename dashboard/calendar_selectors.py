"""Reads of the visit calendar (/calendar/): the visits of the range shown, laid out as weeks of
bars. An open visit is a bar over its window (the part inside the week) with its target marked; a
done visit sits on the day it happened, a missed one on its target. A target on a weekend or on a
holiday of the visit's site is flagged. Each visit is named once: a window running over two weeks
continues as an unlabelled bar.

Bounded whatever the number of participants: each visit sits on one day of the range (done: the
day it happened; missed: its target; open: its target, or the range's first or last day when the
target lies outside), and a day shows its first PER_DAY[view] visits (by site and participant)
with how many more there are ("+K more", a link to the day's list). One query picks the visits
shown and gives each day's count (a row number and a count per day, taken in one pass over the
range's visits before the cap), a second reads those visits with their related rows; the
range's visits are found by partial indexes: visit_done_actual_date_idx,
visit_missed_target_idx, visit_open_window_span_idx.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import (
    Case,
    Count,
    DateField,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.functions import Greatest, Least, RowNumber
from django.utils.dateformat import format as date_format
from django.utils.html import escape
from django.utils.safestring import mark_safe

from dashboard.tables.base import url_of
from participants import access
from participants.models import Site
from schedule.listings import date_of
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


def _order_in_day(sites: list[Site]) -> list:
    """Which visits of a crowded day come first: the shown sites by code, then participants in
    the order they joined the tracker, read from the visit row alone. Ranking by screening
    number joined every participant of the study to the month's visits (most of a month's time
    at 10k participants, and growing with the study); the visits shown are then listed by site
    and screening number (ORDER) all the same."""
    by_code = sorted(sites, key=lambda site: site.code)
    site_order = Case(
        *[When(site_id=site.pk, then=Value(n)) for n, site in enumerate(by_code)],
        default=Value(len(by_code)),
        output_field=IntegerField(),
    )
    return [site_order, F("participant_id"), F("pk")]


def _day_of(start: dt.date, end: dt.date):
    """The one day of the range a visit sits on: done, the day it happened; otherwise its target,
    or the range's first or last day for an open window whose target lies outside."""
    day = Case(
        When(status=VisitStatus.DONE, then=F("actual_date")),
        default=F("target_date"),
        output_field=DateField(),
    )
    return Greatest(Least(day, Value(end)), Value(start), output_field=DateField())


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
    """The visits of the range a calendar shows, at most `per_day` a day (the first by site and
    participant: _order_in_day), and how many each day has: two queries."""
    day = _day_of(start, end)
    every = calendar_visits(user, start, end, sites)
    # The first visits of each day with the day's count, ranked and counted in one pass over
    # narrow rows (no related row read): a second read of the range to count its days cost as
    # much again (35k visits in a study manager's month at 50k participants).
    first = (
        every.select_related(None)
        .order_by()
        .annotate(
            day=day,
            rank=Window(RowNumber(), partition_by=[day], order_by=_order_in_day(sites)),
            on_day=Window(Count("pk"), partition_by=[day]),
        )
        .filter(rank__lte=per_day)
        .values_list("pk", "day", "on_day")
    )
    on_day, ids = {}, []
    for pk, visit_day, count in first:
        ids.append(pk)
        on_day[date_of(visit_day)] = count
    # Those visits with their related rows, read by id (not by the range's filters again), with
    # only what a bar shows: decoding every column of four tables for each visit was most of
    # the read (a coordinator's month at 10k: 6 ms for 210 visits, 1.6 of them in PostgreSQL).
    visits = list(
        Visit.objects.filter(pk__in=ids)
        .select_related(*RELATED)
        .only(*BAR_FIELDS)
        .order_by(*ORDER)
        .annotate(day=day)
    )
    return CalendarPage(visits, on_day)


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
    more: int = 0  # visits of the day not shown (over the day's cap)


MARKS = {"done": "✓ ", "missed": "✗ "}
STATUS_LABELS = dict(VisitStatus.choices)


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

    @property
    def html(self) -> str:
        """The bar, built here rather than by the template: a month shows a few hundred bars, and
        a dozen template look-ups and a URL reversal each made the page's main cost. Every text
        is escaped (names and titles once each; the classes and link are the code's own)."""
        v = self.visit
        name = escape(f"{v.participant.label} {v.code}")
        title = escape(self.title)
        css = f"cal-bar bar-{self.kind} col-{self.first} span-{self.span}"
        target = "◆ " if self.target_here else ""
        if not self.labelled:
            return mark_safe(
                f'<span class="{css} continued" title="{name}: {title}" aria-hidden="true">'
                f"{target}{name} (continued)</span>"
            )
        mark = MARKS.get(self.kind, target)
        flag = '<span class="flag" aria-hidden="true">⚑</span> ' if self.flags else ""
        href = escape(url_of("dashboard:participant", v.participant_id) + f"#visit-{v.pk}")
        flagged = " flagged" if self.flags else ""
        return mark_safe(
            f'<a class="{css}{flagged}" href="{href}" title="{title}">{mark}{flag}{name}'
            f'<span class="visually-hidden">: {title}</span></a>'
        )


def _day_html(day: Day, column: int, day_href) -> str:
    """A day's cell of the grid (its date, today, holidays, "+K more" linking to the day's
    list): built here, like the bars, rather than by a dozen template look-ups per day."""
    css = f"cal-day col-{column}"
    css += " other-month" * (not day.in_month) + " today" * day.is_today
    css += " weekend" * day.weekend + " holiday" * bool(day.holidays)
    iso = day.day.isoformat()
    html = (
        f'<div class="{css}">\n      <span class="daynum">{date_format(day.day, "D")} {iso}</span>'
    )
    if day.is_today:
        html += " <strong>today</strong>"
    if day.holidays:
        html += (
            f'\n      <span class="holiday-name">{escape(", ".join(day.holidays))} holiday</span>'
        )
    if day.more:
        html += (
            f'\n      <a class="cal-more" href="{escape(day_href(day.day))}" '
            f'title="Every visit of {iso}">+{day.more} more</a>'
        )
    return html + "\n    </div>"


@dataclass
class Week:
    days: list[Day]
    day_href: Callable[[dt.date], str]  # the link of a day's whole list (the view makes it)
    bars: list[Bar] = field(default_factory=list)

    @property
    def html(self) -> str:
        """The week's row: its days, then its bars."""
        days = "\n    ".join(_day_html(d, n, self.day_href) for n, d in enumerate(self.days, 1))
        bars = "\n    ".join(bar.html for bar in self.bars)
        return mark_safe(f'<div class="cal-week">\n    {days}\n    {bars}\n  </div>')


def _title(visit: Visit, flags: list[str]) -> str:
    if visit.status == VisitStatus.DONE:
        text = f"done {visit.actual_date:{ISO}}"
    else:
        text = f"target {visit.target_date:%a} {visit.target_date:{ISO}}"
    text += f"; window {visit.window_start:{ISO}} to {visit.window_end:{ISO}}"
    return "; ".join([text, STATUS_LABELS[visit.status], *flags])


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
    day_href: Callable[[dt.date], str],
    more: dict[dt.date, int] | None = None,
) -> list[Week]:
    """`visits` laid out as weeks of bars; `more`: how many visits each day leaves out;
    `day_href`: the link to a day's whole list."""
    more = more or {}
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
                    more.get(d, 0),
                )
                for d in days
            ],
            day_href=day_href,
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
        title = _title(visit, flags)  # once per visit, not per week it spans
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
                    title=title,
                )
            )
    return weeks
