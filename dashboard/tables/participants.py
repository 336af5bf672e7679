"""The participant list's table, with each participant's phase and next visit."""

import django_tables2 as tables
from django.template.loader import get_template
from django.utils.html import format_html

from dashboard.selectors import phase_progress
from dashboard.tables.base import (
    NOWRAP,
    BaseTable,
    days_left_html,
    fmt_date,
    fmt_window,
    participant_link,
)
from schedule.models import Visit


def _next_visit_code(record) -> str:
    if record.next_visit_code is None:
        return ""
    return Visit.code_of(record.next_visit_code, record.next_visit_occurrence)


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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._progress_template = get_template("dashboard/_progress.html")

    # The download, row by row (streamed): the columns shown, as their plain values.
    EXPORTED = (
        "label",
        "site",
        "status",
        "progress",
        "next_visit",
        "window",
        "days_left",
        "open_safety",
        "overdue_safety",
    )

    def export_header(self) -> list[str]:
        return [str(self.columns[name].header) for name in self.EXPORTED]

    def export_row(self, record) -> list:
        return [
            record.label,
            record.site.code,
            self.value_status(record),
            self.value_progress(record),
            self.value_next_visit(record),
            self.value_window(record),
            self.value_days_left(record),
            record.open_safety,
            record.overdue_safety,
        ]

    def render_label(self, record):
        return participant_link(record)

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
        return self._progress_template.render({"progress": self._progress(record)})

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
