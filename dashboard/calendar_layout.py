"""The calendar's weeks (/calendar/): the visits calendar_selectors.calendar_page picked, laid out
as weeks of bars. An open visit is a bar over its window (the part inside the week) with its
target marked; a done visit sits on the day it happened, a missed one on its target. A target on a
weekend or on a holiday of the visit's site is flagged. Each visit is named once: a window running
over two weeks continues as an unlabelled bar. Days and bars are built here as HTML rather than
by template look-ups (a month shows a few hundred bars)."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.dateformat import format as date_format
from django.utils.html import escape
from django.utils.safestring import mark_safe

from dashboard.tables.base import url_of
from participants.models import Site
from schedule.models import Visit, VisitStatus

ISO = "%Y-%m-%d"


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
