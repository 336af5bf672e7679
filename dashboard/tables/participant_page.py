"""The participant page's tables: the visit timeline with its assessments, the status history."""

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from dashboard.selectors import study_day
from dashboard.tables.base import (
    NOWRAP,
    BaseTable,
    fmt_date,
    fmt_window,
    not_open_yet_html,
    with_next,
)
from dashboard.templatetags.times import local_time_html
from participants.reasons import category_of
from schedule.models import AssessmentStatus, PreDoseOverride, VisitStatus


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
        override = _override(record)
        if override is not None:
            return format_html(
                '<span class="status status-{}">{}</span> <strong class="late">given over the '
                "pre-dose gate</strong> <small>by {} on {}: {} (gate: {})</small>",
                record.status,
                record.get_status_display(),
                override.overridden_by.get_username(),
                fmt_date(override.overridden_at.astimezone(record.participant.site.tz).date()),
                override.reason,
                "; ".join(override.problems),
            )
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
        override = _override(record)
        if override is not None:
            return (
                f"{record.get_status_display()}; given over the pre-dose gate by "
                f"{override.overridden_by.get_username()}: {override.reason}"
            )
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
                url = with_next(reverse("dashboard:assessment_record", args=[a.pk]), self.next_url)
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
        # Nothing to record before the window opens (INF1 excepted: it may be given early).
        if note := not_open_yet_html(record, self.today):
            return note
        links = [
            format_html(
                '<a class="button" href="{}">Record done</a>',
                with_next(reverse("dashboard:visit_done", args=[record.pk]), self.next_url),
            )
        ]
        if record.definition.missable and self.today:
            links.append(
                format_html(
                    '<a class="button secondary" href="{}">Missed</a>',
                    with_next(reverse("dashboard:visit_missed", args=[record.pk]), self.next_url),
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
    category = tables.Column("Why (category)", accessor="details", empty_values=())
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

    def render_category(self, record):
        return category_of(record.to_status, record.details)

    def value_category(self, record):
        return category_of(record.to_status, record.details)

    def render_changed_at(self, record, value):
        # In the site's zone, UTC on hover (dashboard.templatetags.times).
        return local_time_html(value, record.participant.site)

    def value_changed_at(self, value):
        return value.isoformat()


def _override(visit):
    """The visit's pre-dose override, if an investigator gave the infusion over the gate
    (select_related by the participant page, so no query per row)."""
    try:
        return visit.pre_dose_override
    except PreDoseOverride.DoesNotExist:
        return None
