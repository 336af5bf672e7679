"""The worklist's tables: open visits, overdue safety assessments one row per visit (and one
row per item for the downloads and the full list). Links and time zones are worked out once per
table, not per row."""

import django_tables2 as tables
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from dashboard.selectors import study_day
from dashboard.tables.base import (
    NOWRAP,
    BaseTable,
    days_left_html,
    fmt_date,
    fmt_local,
    fmt_window,
    not_open_yet_html,
    participant_link,
    url_of,
    with_next,
)


class _SiteZones:
    """One ZoneInfo per site for the whole table, not one per row."""

    def __init__(self):
        self._zones = {}

    def of(self, site):
        if site.pk not in self._zones:
            self._zones[site.pk] = site.tz
        return self._zones[site.pk]


def _late_text(hours: int) -> str:
    return f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h"


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
        return participant_link(record.participant)

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
        # "Coming up" lists visits whose window may not have opened: nothing to record yet.
        if note := not_open_yet_html(record, self.today_by_site.get(record.participant.site_id)):
            return note
        url = with_next(url_of("dashboard:visit_done", record.pk), self.next_url)
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
        self.zones = _SiteZones()
        super().__init__(*args, **kwargs)
        if not can_record:
            self.columns.hide("action")

    def render_participant(self, record):
        return participant_link(record.visit.participant)

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
        return fmt_local(record.due_at, self.zones.of(record.visit.participant.site))

    def value_due(self, record):
        return record.due_at.isoformat()

    def _late_hours(self, record):
        return int((self.now - record.due_at).total_seconds() // 3600)

    def render_late(self, record):
        return format_html('<span class="late">{}</span>', _late_text(self._late_hours(record)))

    def value_late(self, record):
        return self._late_hours(record)

    def render_action(self, record):
        url = with_next(url_of("dashboard:assessment_record", record.pk), self.next_url)
        return format_html('<a class="button" href="{}">Record {}</a>', url, record.definition.code)


class OverdueVisitTable(BaseTable):
    """Overdue safety items, one row per visit (schedule.listings.OverdueVisit) listing its
    items, each one click from its recording form."""

    class Meta(BaseTable.Meta):
        pass

    participant = tables.Column("Participant", accessor="visit", attrs=NOWRAP)
    site = tables.Column("Site", accessor="visit")
    visit = tables.Column("Visit", accessor="visit")
    items = tables.Column("Overdue safety assessments", accessor="items")
    due = tables.Column("Was due", accessor="first_due")
    late = tables.Column("Overdue by", accessor="first_due")

    def __init__(self, *args, next_url=None, can_record=True, **kwargs):
        self.next_url = next_url
        self.can_record = can_record
        self.now = timezone.now()
        self.zones = _SiteZones()
        super().__init__(*args, **kwargs)

    def render_participant(self, record):
        return participant_link(record.visit.participant)

    def render_site(self, record):
        return record.visit.participant.site.code

    def render_visit(self, record):
        return record.visit.code

    def render_items(self, record):
        if not self.can_record:
            return format_html_join(
                ", ",
                "<strong>{}</strong> {}",
                ((a.definition.code, a.definition.name) for a in record.items),
            )
        return format_html_join(
            " ",
            '<a class="button" href="{}" title="{}">Record {}</a>',
            (
                (
                    with_next(url_of("dashboard:assessment_record", a.pk), self.next_url),
                    a.definition.name,
                    a.definition.code,
                )
                for a in record.items
            ),
        )

    def render_due(self, record):
        return fmt_local(record.first_due, self.zones.of(record.visit.participant.site))

    def render_late(self, record):
        hours = int((self.now - record.first_due).total_seconds() // 3600)
        return format_html('<span class="late">{}</span>', _late_text(hours))
