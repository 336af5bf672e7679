"""The calendar's table (the list under the calendar, and its download)."""

import django_tables2 as tables

from dashboard.tables.base import NOWRAP, BaseTable, fmt_date, fmt_window, participant_link


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
        return participant_link(record.participant)

    def value_participant(self, record):
        return record.participant.label

    def render_status(self, record):
        return record.get_status_display()

    def render_window(self, record):
        return fmt_window(record.window_start, record.window_end)

    def value_window(self, record):
        return f"{record.window_start.isoformat()} – {record.window_end.isoformat()}"
