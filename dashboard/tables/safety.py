"""Adverse-event tables: the study-wide listing, the worklist's SAE clocks and grade > 2 follow-up,
and a participant's events. Clock states come from safety.selectors (sae_clock, irb_clock): this
module only words them ("report to sponsor due in 5 h 12 min", "overdue by 2 h", "reported 3 h
late")."""

import datetime as dt

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from dashboard.safety_forms import available_actions
from dashboard.tables.base import NOWRAP, BaseTable, fmt_date, participant_link
from safety import selectors
from safety.clocks import ClockState
from safety.models import Seriousness

CRITERIA_LABELS = dict(Seriousness.choices)


def fmt_duration(span: dt.timedelta) -> str:
    """Whole minutes, as a coordinator reads a countdown: "5 h 12 min", "2 h", "1 d 3 h"."""
    minutes = max(int(span.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    # Beyond a day the minutes are noise.
    if (minutes and not days) or not parts:
        parts.append(f"{minutes} min")
    return " ".join(parts)


def sponsor_clock_text(clock: ClockState | None) -> str:
    if clock is None:
        return ""
    if clock.overdue:
        return f"overdue by {fmt_duration(clock.late_by)}"
    if clock.remaining is not None:
        return f"report to sponsor due in {fmt_duration(clock.remaining)}"
    if clock.late_by:
        return f"reported {fmt_duration(clock.late_by)} late"
    return "reported on time"


def irb_clock_text(clock: ClockState | None) -> str:
    if clock is None:
        return ""
    if clock.overdue:
        return f"IRB report overdue by {fmt_duration(clock.late_by)}"
    if clock.remaining is not None:
        return f"IRB report due in {fmt_duration(clock.remaining)}"
    if clock.late_by:
        return f"reported to the IRB {fmt_duration(clock.late_by)} late"
    return "reported to the IRB on time"


def clock_html(text: str, clock: ClockState | None):
    """Red once overdue or reported late, amber within the 12-hour reminder."""
    if clock is None:
        return ""
    late = clock.overdue or clock.late_by is not None
    cls = "late" if late else ("soon" if clock.reminder_due else "")
    return format_html('<span class="clock {}">{}</span>', cls, text)


def fmt_moment(moment: dt.datetime | None, tz) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else ""


def iso(value) -> str:
    return value.isoformat() if value else ""


def criteria_text(event) -> str:
    return ", ".join(CRITERIA_LABELS.get(c, c) for c in event.seriousness_criteria)


def expected_text(event) -> str:
    return {None: "not assessed", True: "expected", False: "unexpected"}[event.expected]


def event_link(event) -> str:
    """The event's reference, to its row on the participant page."""
    url = reverse("dashboard:participant", args=[event.participant_id])
    return format_html('<a href="{}#ae-{}">{}</a>', url, event.pk, event.reference)


def action_url(event, action: str) -> str:
    return reverse("dashboard:ae_action", args=[event.pk, action])


class DayColumn(tables.Column):
    """A calendar date as the dashboard shows it, ISO in downloads."""

    def render(self, value):
        return fmt_date(value)

    def value(self, value):
        return iso(value)


class AdverseEventTable(BaseTable):
    """The study-wide listing: sortable, paginated by the view, downloadable filtered."""

    reference = tables.Column(
        "Reference",
        accessor="number",
        order_by=("participant__site__code", "participant__screening_number", "number"),
        attrs=NOWRAP,
    )
    site = tables.Column("Site", accessor="participant__site__code")
    term = tables.Column("Term")
    ctcae_term = tables.Column("CTCAE term")
    kind = tables.Column("Kind")
    onset = DayColumn("Onset", accessor="onset_date", attrs=NOWRAP)
    grade = tables.Column("Grade", attrs={"td": {"class": "num"}})
    serious = tables.Column("Serious")
    criteria = tables.Column(
        "Seriousness criteria", accessor="seriousness_criteria", orderable=False
    )
    related_to_product = tables.Column("Related to product")
    related_to_leukapheresis = tables.Column("Related to leukapheresis")
    expected = tables.Column("Expected", empty_values=())
    outcome = tables.Column("Outcome")
    resolved = DayColumn("Resolved", accessor="resolved_on", attrs=NOWRAP)
    sponsor_due = tables.Column("SAE due to sponsor", accessor="sponsor_report_due_at")
    sponsor_reported = tables.Column(
        "Reported to sponsor", accessor="sponsor_reported_at", empty_values=()
    )
    irb_due = DayColumn("IRB due", accessor="irb_report_due_on", attrs=NOWRAP)
    irb_reported = tables.Column("Reported to IRB", accessor="irb_reported_at", empty_values=())

    class Meta(BaseTable.Meta):
        orderable = True
        empty_text = "No adverse events match."

    def __init__(self, *args, now: dt.datetime, **kwargs):
        self.now = now
        super().__init__(*args, **kwargs)

    def render_reference(self, record):
        return event_link(record)

    def value_reference(self, record):
        return record.reference

    def render_ctcae_term(self, value):
        return format_html("<small>{}</small>", value)

    def render_serious(self, value):
        return format_html('<span class="late">{}</span>', "serious") if value else "no"

    def value_serious(self, value):
        return "yes" if value else "no"

    def render_criteria(self, record):
        return criteria_text(record)

    def value_criteria(self, record):
        return criteria_text(record)

    def render_expected(self, record):
        return expected_text(record)

    def value_expected(self, record):
        return expected_text(record)

    def render_sponsor_due(self, record):
        return fmt_moment(record.sponsor_report_due_at, record.participant.site.tz)

    def value_sponsor_due(self, record):
        return iso(record.sponsor_report_due_at)

    def render_sponsor_reported(self, record):
        clock = selectors.sae_clock(record, self.now)
        when = fmt_moment(record.sponsor_reported_at, record.participant.site.tz)
        return format_html("{} {}", when, clock_html(sponsor_clock_text(clock), clock))

    def value_sponsor_reported(self, record):
        # The download keeps the instant and how late it was, each readable on its own.
        clock = selectors.sae_clock(record, self.now)
        return f"{iso(record.sponsor_reported_at)} {sponsor_clock_text(clock)}".strip()

    def render_irb_reported(self, record):
        clock = selectors.irb_clock(record, self.now)
        when = fmt_moment(record.irb_reported_at, record.participant.site.tz)
        return format_html("{} {}", when, clock_html(irb_clock_text(clock), clock))

    def value_irb_reported(self, record):
        clock = selectors.irb_clock(record, self.now)
        return f"{iso(record.irb_reported_at)} {irb_clock_text(clock)}".strip()


class _EventRowsTable(BaseTable):
    """The worklist's and participant page's event tables: an action column that read-only
    users do not see."""

    class Meta(BaseTable.Meta):
        pass

    def __init__(self, *args, can_record=True, **kwargs):
        super().__init__(*args, **kwargs)
        # Read-only users (monitors, managers) get no buttons.
        if not can_record:
            self.columns.hide("action")


class SaeClockTable(_EventRowsTable):
    """Worklist: serious events not yet reported to the sponsor, soonest due first."""

    # Meta is not inherited by a table without one: repeat it, or the styling and order rules go.
    class Meta(_EventRowsTable.Meta):
        pass

    participant = tables.Column(
        "Participant", accessor="event__participant__screening_number", attrs=NOWRAP
    )
    site = tables.Column("Site", accessor="event__participant__site__code")
    reference = tables.Column("Event", accessor="event__number", attrs=NOWRAP)
    term = tables.Column("Term", accessor="event__term")
    grade = tables.Column("Grade", accessor="event__grade", attrs={"td": {"class": "num"}})
    due = tables.Column("Due to sponsor (site time)", accessor="event__sponsor_report_due_at")
    clock = tables.Column("Clock", accessor="sponsor", empty_values=())
    irb = tables.Column("IRB", accessor="irb", empty_values=())
    action = tables.Column("", accessor="event__pk", exclude_from_export=True)

    def render_participant(self, record):
        return participant_link(record.event.participant)

    def value_participant(self, record):
        return record.event.participant.label

    def render_reference(self, record):
        return event_link(record.event)

    def value_reference(self, record):
        return record.event.reference

    def render_due(self, record):
        event = record.event
        return fmt_moment(event.sponsor_report_due_at, event.participant.site.tz)

    def value_due(self, record):
        return iso(record.event.sponsor_report_due_at)

    def render_clock(self, record):
        return clock_html(sponsor_clock_text(record.sponsor), record.sponsor)

    def value_clock(self, record):
        return sponsor_clock_text(record.sponsor)

    def render_irb(self, record):
        return clock_html(irb_clock_text(record.irb), record.irb)

    def value_irb(self, record):
        return irb_clock_text(record.irb)

    def render_action(self, record):
        url = action_url(record.event, "report-sponsor")
        return format_html('<a class="button" href="{}">Report to sponsor</a>', url)


class FollowUpTable(_EventRowsTable):
    """Worklist: unresolved events above grade 2, followed until grade 2 or less."""

    # Meta is not inherited by a table without one: repeat it, or the styling and order rules go.
    class Meta(_EventRowsTable.Meta):
        pass

    participant = tables.Column("Participant", accessor="participant__screening_number")
    site = tables.Column("Site", accessor="participant__site__code")
    reference = tables.Column("Event", accessor="number", attrs=NOWRAP)
    term = tables.Column("Term")
    grade = tables.Column("Grade", attrs={"td": {"class": "num"}})
    onset = DayColumn("Onset", accessor="onset_date", attrs=NOWRAP)
    serious = tables.Column("Serious")
    action = tables.Column("", accessor="pk", exclude_from_export=True)

    def render_participant(self, record):
        return participant_link(record.participant)

    def value_participant(self, record):
        return record.participant.label

    def render_reference(self, record):
        return event_link(record)

    def value_reference(self, record):
        return record.reference

    def render_serious(self, value):
        return "serious" if value else "no"

    def render_action(self, record):
        return format_html(
            '<a class="button" href="{}">Re-grade</a> '
            '<a class="button secondary" href="{}">Resolve</a>',
            action_url(record, "regrade"),
            action_url(record, "resolve"),
        )


class ParticipantEventTable(_EventRowsTable):
    """A participant's events on their page; rows carry `latest_reasons` (the view's read)."""

    reference = tables.Column("Event", accessor="number", attrs=NOWRAP)
    term = tables.Column("Term")
    grade = tables.Column("Grade", attrs={"td": {"class": "num"}})
    serious = tables.Column("Serious")
    clock = tables.Column("SAE clock", accessor="sponsor_report_due_at", empty_values=())
    onset = DayColumn("Onset", accessor="onset_date", attrs=NOWRAP)
    resolved = tables.Column("Resolved", accessor="resolved_on", empty_values=())
    action = tables.Column("", accessor="pk", exclude_from_export=True)

    class Meta(_EventRowsTable.Meta):
        row_attrs = {"id": lambda record: f"ae-{record.pk}"}
        empty_text = "No adverse events recorded."

    def __init__(self, *args, now: dt.datetime, **kwargs):
        self.now = now
        super().__init__(*args, **kwargs)

    def value_reference(self, record):
        return record.reference

    def render_reference(self, record):
        return record.reference

    def render_term(self, record):
        if not record.ctcae_term:
            return record.term
        return format_html("{} <small>{}</small>", record.term, record.ctcae_term)

    def _reasons(self, record) -> str:
        return "; ".join(getattr(record, "latest_reasons", None) or [])

    def render_grade(self, record):
        # The reasons of the latest grading on hover: why the event has this grade.
        return format_html(
            '<span class="grade" title="{}">{}</span>', self._reasons(record), record.grade
        )

    def value_grade(self, record):
        return record.grade

    def render_serious(self, record):
        if not record.serious:
            return "no"
        return format_html(
            '<span class="late">serious</span> <small>{}</small>', criteria_text(record)
        )

    def value_serious(self, record):
        return criteria_text(record) if record.serious else "no"

    def _clocks(self, record):
        sponsor, irb = selectors.sae_clock(record, self.now), selectors.irb_clock(record, self.now)
        return (sponsor_clock_text(sponsor), sponsor), (irb_clock_text(irb), irb)

    def render_clock(self, record):
        parts = [clock_html(text, clock) for text, clock in self._clocks(record) if clock]
        return format_html_join(" · ", "{}", ((part,) for part in parts))

    def value_clock(self, record):
        return "; ".join(text for text, clock in self._clocks(record) if clock)

    def render_resolved(self, record):
        if record.resolved_on is None:
            return "open"
        return format_html(
            "{} <small>{}</small>", fmt_date(record.resolved_on), record.get_outcome_display()
        )

    def value_resolved(self, record):
        return iso(record.resolved_on)

    def render_action(self, record):
        return format_html_join(
            " ",
            '<a class="button secondary" href="{}">{}</a>',
            ((action_url(record, slug), title) for slug, title in available_actions(record)),
        )
