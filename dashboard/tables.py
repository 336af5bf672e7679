"""django-tables2 tables of the dashboard. Each one is shown on a page and downloads as CSV/XLSX
(?_export=csv|xlsx); action columns are left out of the download."""

import datetime as dt

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from dashboard.selectors import CLOSING_SOON_DAYS, phase_progress, study_day
from schedule.models import AssessmentStatus, Visit, VisitStatus

DATE = "%d %b %Y"
# Dates and ids read badly when broken over lines.
NOWRAP = {"td": {"class": "nowrap"}}


def fmt_date(day: dt.date | None) -> str:
    return day.strftime(DATE) if day else ""


def fmt_window(start: dt.date | None, end: dt.date | None) -> str:
    if not start:
        return ""
    if start == end:
        return fmt_date(start)
    if start.year == end.year:
        return f"{start:%d %b} – {end:{DATE}}"
    return f"{fmt_date(start)} – {fmt_date(end)}"


def fmt_local(moment: dt.datetime, tz) -> str:
    """A due time in the site's time zone. Midnight is the close of the previous day's window."""
    local = moment.astimezone(tz)
    if local.time() == dt.time(0):
        return f"end of {fmt_date(local.date() - dt.timedelta(days=1))}"
    return local.strftime(f"{DATE} %H:%M")


def days_text(days: int | None) -> str:
    if days is None:
        return ""
    if days < 0:
        return f"closed {-days} d ago"
    if days == 0:
        return "closes today"
    return f"{days} d"


def days_left_html(days: int | None):
    """Days to the window end, red once closed and amber when it closes within CLOSING_SOON_DAYS
    (the same horizon as the worklist's "Windows closing" list)."""
    cls = ""
    if days is not None:
        cls = "late" if days < 0 else ("soon" if days <= CLOSING_SOON_DAYS else "")
    return format_html('<span class="{}">{}</span>', cls, days_text(days))


def _with_next(url: str, next_url: str | None) -> str:
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def _next_visit_code(record) -> str:
    if record.next_visit_code is None:
        return ""
    return Visit.code_of(record.next_visit_code, record.next_visit_occurrence)


def _participant_link(participant) -> str:
    return format_html(
        '<a href="{}">{}</a>',
        reverse("dashboard:participant", args=[participant.pk]),
        participant.label,
    )


class BaseTable(tables.Table):
    class Meta:
        attrs = {"class": "data"}
        template_name = "django_tables2/table.html"
        orderable = False
        empty_text = "Nothing here."


# --- Participants ------------------------------------------------------------------------------


class ParticipantTable(BaseTable):
    label = tables.Column(
        "Study id",
        accessor="screening_number",
        order_by=("study_id", "screening_number"),
        attrs=NOWRAP,
    )
    site = tables.Column("Site", accessor="site__code", order_by=("site__code",))
    status = tables.Column("Status")
    progress = tables.Column(
        "Phase and progress", accessor="phase", order_by=("phase", "consent_at")
    )
    next_visit = tables.Column("Next visit", accessor="next_visit_code", order_by=("next_target",))
    window = tables.Column(
        "Window", accessor="next_window_start", order_by=("next_window_start",), attrs=NOWRAP
    )
    days_left = tables.Column(
        "Days to window end", accessor="next_window_end", order_by=("next_window_end",)
    )
    open_safety = tables.Column("Open safety items", attrs={"td": {"class": "num"}})
    overdue_safety = tables.Column("Overdue safety items", attrs={"td": {"class": "num"}})

    class Meta(BaseTable.Meta):
        orderable = True
        empty_text = "No participants match."

    def render_label(self, record):
        return _participant_link(record)

    def value_label(self, record):
        return record.label

    def render_status(self, record):
        return format_html(
            '<span class="status status-{}">{}</span>', record.status, record.get_status_display()
        )

    def value_status(self, record):
        return record.get_status_display()

    def _progress(self, record):
        return phase_progress(record, record.site_today)

    def render_progress(self, record):
        p = self._progress(record)
        bar = format_html_join(
            "",
            '<span class="seg seg-{}" title="{}"><span style="width:{}%"></span></span>',
            (
                (name, title, round(fill * 100))
                for name, title, fill in (
                    ("screening", "Screening, 8 weeks", p.screening),
                    ("treatment", f"Treatment, {p.infusions} infusions", p.treatment),
                    ("follow_up", "Follow-up, 12 months", p.follow_up),
                )
            ),
        )
        return format_html('<span class="progress">{}</span> {}', bar, p.text)

    def value_progress(self, record):
        return self._progress(record).text

    def render_next_visit(self, record):
        return format_html(
            "{} <small>{}</small>", _next_visit_code(record), fmt_date(record.next_target)
        )

    def value_next_visit(self, record):
        return f"{_next_visit_code(record)} {fmt_date(record.next_target)}"

    def render_window(self, record):
        return fmt_window(record.next_window_start, record.next_window_end)

    def value_window(self, record):
        return self.render_window(record)

    def _days_left(self, record):
        if record.next_window_end is None:
            return None
        return (record.next_window_end - record.site_today).days

    def render_days_left(self, record):
        return days_left_html(self._days_left(record))

    def value_days_left(self, record):
        return self._days_left(record)

    def render_overdue_safety(self, value):
        if value:
            return format_html('<span class="late">{} overdue</span>', value)
        return "0"

    def value_overdue_safety(self, value):
        return value


# --- Worklist ----------------------------------------------------------------------------------


class VisitTable(BaseTable):
    """Open visits with a one-click link to record each."""

    # Meta is not inherited by a table without one: repeat it, or the styling and order rules go.
    class Meta(BaseTable.Meta):
        pass

    participant = tables.Column(
        "Participant", accessor="participant__screening_number", attrs=NOWRAP
    )
    site = tables.Column("Site", accessor="participant__site__code")
    visit = tables.Column("Visit", accessor="definition__code")
    target = tables.Column("Target", accessor="target_date", attrs=NOWRAP)
    window = tables.Column("Window", accessor="window_start", attrs=NOWRAP)
    days_left = tables.Column("Days to window end", accessor="window_end")
    action = tables.Column("", accessor="pk", exclude_from_export=True)

    def __init__(self, *args, today_by_site=None, next_url=None, can_record=True, **kwargs):
        self.today_by_site = today_by_site or {}
        self.next_url = next_url
        super().__init__(*args, **kwargs)
        if not can_record:
            self.columns.hide("action")

    def render_participant(self, record):
        return _participant_link(record.participant)

    def value_participant(self, record):
        return record.participant.label

    def render_visit(self, record):
        d0 = (
            record.participant.schedule.infusion_anchor
            if hasattr(record.participant, "schedule")
            else None
        )
        day = (
            study_day(d0, record.target_date)
            if record.definition.anchor == "first_infusion"
            else ""
        )
        return format_html(
            "<strong>{}</strong> {} <small>{}</small>",
            record.code,
            record.definition.name,
            day,
        )

    def value_visit(self, record):
        return record.code

    def render_target(self, record):
        return fmt_date(record.target_date)

    def value_target(self, record):
        return record.target_date.isoformat()

    def render_window(self, record):
        return fmt_window(record.window_start, record.window_end)

    def value_window(self, record):
        return f"{record.window_start.isoformat()} – {record.window_end.isoformat()}"

    def _days_left(self, record):
        today = self.today_by_site.get(record.participant.site_id)
        return (record.window_end - today).days if today else None

    def render_days_left(self, record):
        return days_left_html(self._days_left(record))

    def value_days_left(self, record):
        return self._days_left(record)

    def render_action(self, record):
        url = _with_next(reverse("dashboard:visit_done", args=[record.pk]), self.next_url)
        return format_html('<a class="button" href="{}">Record {}</a>', url, record.code)


class OverdueSafetyTable(BaseTable):
    # Meta is not inherited by a table without one: repeat it, or the styling and order rules go.
    class Meta(BaseTable.Meta):
        pass

    participant = tables.Column(
        "Participant", accessor="visit__participant__screening_number", attrs=NOWRAP
    )
    site = tables.Column("Site", accessor="visit__participant__site__code")
    visit = tables.Column("Visit", accessor="visit__definition__code")
    assessment = tables.Column("Safety assessment", accessor="definition__code")
    due = tables.Column("Was due", accessor="due_at")
    late = tables.Column("Overdue by", accessor="due_at", empty_values=())
    action = tables.Column("", accessor="pk", exclude_from_export=True)

    def __init__(self, *args, next_url=None, can_record=True, **kwargs):
        self.next_url = next_url
        self.now = timezone.now()
        super().__init__(*args, **kwargs)
        if not can_record:
            self.columns.hide("action")

    def render_participant(self, record):
        return _participant_link(record.visit.participant)

    def value_participant(self, record):
        return record.visit.participant.label

    def render_visit(self, record):
        return record.visit.code

    def value_visit(self, record):
        return record.visit.code

    def render_assessment(self, record):
        return format_html("<strong>{}</strong> {}", record.definition.code, record.definition.name)

    def value_assessment(self, record):
        return record.definition.code

    def render_due(self, record):
        return fmt_local(record.due_at, record.visit.participant.site.tz)

    def value_due(self, record):
        return record.due_at.isoformat()

    def _late_hours(self, record):
        return int((self.now - record.due_at).total_seconds() // 3600)

    def render_late(self, record):
        hours = self._late_hours(record)
        text = f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h"
        return format_html('<span class="late">{}</span>', text)

    def value_late(self, record):
        return self._late_hours(record)

    def render_action(self, record):
        url = _with_next(reverse("dashboard:assessment_record", args=[record.pk]), self.next_url)
        return format_html('<a class="button" href="{}">Record {}</a>', url, record.definition.code)


# --- Participant page ----------------------------------------------------------------------------


class TimelineTable(BaseTable):
    visit = tables.Column("Visit", accessor="definition__code")
    day = tables.Column("Study day", accessor="target_date", empty_values=())
    target = tables.Column("Target", accessor="target_date", attrs=NOWRAP)
    window = tables.Column("Window", accessor="window_start", attrs=NOWRAP)
    actual = tables.Column("Actual date", accessor="actual_date")
    status = tables.Column("Status")
    in_window = tables.Column("In window", empty_values=())
    assessments = tables.Column("Assessments", accessor="pk", empty_values=())
    action = tables.Column("", accessor="pk", exclude_from_export=True)

    class Meta(BaseTable.Meta):
        row_attrs = {
            "class": lambda table, record: " ".join(
                c
                for c in (
                    f"visit-{record.status}",
                    "overdue" if table.is_overdue(record) else "",
                )
                if c
            ),
            "id": lambda record: f"visit-{record.pk}",
        }

    def __init__(
        self, *args, today=None, d0=None, now=None, next_url=None, can_record=True, **kwargs
    ):
        self.today, self.d0 = today, d0
        self.now = now or timezone.now()
        self.next_url = next_url
        # Read-only users (monitors, managers) get no buttons and no links to the record forms.
        self.can_record = can_record
        super().__init__(*args, **kwargs)
        if not can_record:
            self.columns.hide("action")

    def is_overdue(self, record):
        return bool(self.today) and record.window_closed(self.today)

    def render_visit(self, record):
        return format_html("<strong>{}</strong> {}", record.code, record.definition.name)

    def value_visit(self, record):
        return record.code

    def render_day(self, record):
        return study_day(self.d0, record.actual_date or record.target_date) or "—"

    def value_day(self, record):
        return study_day(self.d0, record.actual_date or record.target_date)

    def render_target(self, record):
        return fmt_date(record.target_date)

    def value_target(self, record):
        return record.target_date.isoformat()

    def render_window(self, record):
        return fmt_window(record.window_start, record.window_end)

    def value_window(self, record):
        return f"{record.window_start.isoformat()} – {record.window_end.isoformat()}"

    def render_actual(self, record):
        return fmt_date(record.actual_date)

    def value_actual(self, record):
        return record.actual_date.isoformat() if record.actual_date else ""

    def render_status(self, record):
        if self.is_overdue(record):
            return format_html(
                '<span class="status status-overdue">Overdue</span> <small>window closed {}</small>',
                fmt_date(record.window_end),
            )
        text = record.get_status_display()
        if record.reason and record.status != VisitStatus.SCHEDULED:
            return format_html(
                '<span class="status status-{}">{}</span> <small>{}</small>',
                record.status,
                text,
                record.reason,
            )
        return format_html('<span class="status status-{}">{}</span>', record.status, text)

    def value_status(self, record):
        return "Overdue" if self.is_overdue(record) else record.get_status_display()

    def render_in_window(self, record):
        if record.in_window is None:
            return "—"
        if record.in_window:
            return "in window"
        return format_html('<span class="late">out of window</span>')

    def value_in_window(self, record):
        return {None: "", True: "yes", False: "no"}[record.in_window]

    def render_assessments(self, record):
        items = []
        for a in record.assessments.all():
            state = "overdue" if a.is_overdue(self.now) else a.status
            label = f"{a.definition.code}{' (S)' if a.is_safety else ''}"
            title = f"{a.definition.name}: {a.get_status_display()}"
            if a.status == AssessmentStatus.DONE:
                title += f" — {a.result}{' (abnormal)' if a.is_abnormal else ''}"
            elif a.reason:
                title += f" — {a.reason}"
            if self.can_record and a.status in (AssessmentStatus.PENDING, AssessmentStatus.DONE):
                url = _with_next(reverse("dashboard:assessment_record", args=[a.pk]), self.next_url)
                items.append(
                    format_html(
                        '<a class="chip chip-{}" href="{}" title="{}">{}</a>',
                        state,
                        url,
                        title,
                        label,
                    )
                )
            else:
                items.append(
                    format_html(
                        '<span class="chip chip-{}" title="{}">{}</span>', state, title, label
                    )
                )
        return format_html(
            '<span class="chips">{}</span>', format_html_join("", "{}", ((i,) for i in items))
        )

    def value_assessments(self, record):
        return "; ".join(
            f"{a.definition.code}: {a.get_status_display()}"
            + (f" ({a.result or a.reason})" if a.result or a.reason else "")
            for a in record.assessments.all()
        )

    def render_action(self, record):
        if record.status != VisitStatus.SCHEDULED:
            return ""
        links = [
            format_html(
                '<a class="button" href="{}">Record done</a>',
                _with_next(reverse("dashboard:visit_done", args=[record.pk]), self.next_url),
            )
        ]
        if record.definition.missable and self.today and record.window_start <= self.today:
            links.append(
                format_html(
                    '<a class="button secondary" href="{}">Missed</a>',
                    _with_next(reverse("dashboard:visit_missed", args=[record.pk]), self.next_url),
                )
            )
        return format_html_join(" ", "{}", ((link,) for link in links))


class HistoryTable(BaseTable):
    # Meta is not inherited by a table without one: repeat it, or the styling and order rules go.
    class Meta(BaseTable.Meta):
        pass

    effective_on = tables.Column("Date")
    from_status = tables.Column("From")
    to_status = tables.Column("To")
    reason = tables.Column("Reason")
    changed_by = tables.Column("Recorded by", accessor="changed_by__username", default="")
    changed_at = tables.Column("Recorded at")

    def render_effective_on(self, value):
        return fmt_date(value)

    def value_effective_on(self, value):
        return value.isoformat()

    def render_from_status(self, record):
        return record.get_from_status_display() or "—"

    def value_from_status(self, record):
        return record.get_from_status_display()

    def render_to_status(self, record):
        return record.get_to_status_display()

    def value_to_status(self, record):
        return record.get_to_status_display()

    def render_changed_at(self, value):
        return timezone.localtime(value).strftime(f"{DATE} %H:%M UTC")

    def value_changed_at(self, value):
        return value.isoformat()


# --- Calendar ----------------------------------------------------------------------------------


class CalendarTable(BaseTable):
    # Meta is not inherited by a table without one: repeat it, or the styling and order rules go.
    class Meta(BaseTable.Meta):
        pass

    day = tables.Column("Date", accessor="target_date", empty_values=())
    site = tables.Column("Site", accessor="participant__site__code")
    participant = tables.Column(
        "Participant", accessor="participant__screening_number", attrs=NOWRAP
    )
    visit = tables.Column("Visit", accessor="definition__code")
    status = tables.Column("Status")
    window = tables.Column("Window", accessor="window_start")

    def render_day(self, record):
        return fmt_date(record.actual_date or record.target_date)

    def value_day(self, record):
        return (record.actual_date or record.target_date).isoformat()

    def render_visit(self, record):
        return record.code

    def value_visit(self, record):
        return record.code

    def render_participant(self, record):
        return _participant_link(record.participant)

    def value_participant(self, record):
        return record.participant.label

    def render_status(self, record):
        return record.get_status_display()

    def render_window(self, record):
        return fmt_window(record.window_start, record.window_end)

    def value_window(self, record):
        return f"{record.window_start.isoformat()} – {record.window_end.isoformat()}"
