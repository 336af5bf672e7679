"""Deviation tables: the deviations page (and its downloads), a participant's deviations, and the
worklist's drafts waiting for a description."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django_tables2.rows import BoundRow

from dashboard.tables.base import NOWRAP, BaseTable, fmt_date, participant_link


def deviation_link(deviation) -> str:
    url = reverse("dashboard:deviation", args=[deviation.pk])
    return format_html('<a href="{}">{}</a>', url, deviation.reference)


def _moment(value, deviation) -> str:
    if value is None:
        return ""
    return value.astimezone(deviation.participant.site.tz).strftime("%Y-%m-%d %H:%M")


def cause_text(deviation) -> str:
    """What caused it, in the site's words: the visit, and the assessment when there is one."""
    parts = []
    if deviation.visit_id:
        parts.append(deviation.visit.code)
    if deviation.assessment_id:
        parts.append(deviation.assessment.definition.code)
    if deviation.pre_dose_override_id:
        parts.append("pre-dose override")
    return " ".join(parts) or ("recorded by the site" if deviation.created_by_id else "")


class _DeviationRows(BaseTable):
    class Meta(BaseTable.Meta):
        empty_text = "No deviations."

    reference = tables.Column("Deviation", accessor="pk", attrs=NOWRAP)
    category = tables.Column("Category")
    cause = tables.Column("Cause", accessor="pk", empty_values=(), orderable=False)
    occurred = tables.Column("Occurred", accessor="occurred_on", attrs=NOWRAP)
    importance = tables.Column("Importance")
    status = tables.Column("Status")

    def render_reference(self, record):
        return deviation_link(record)

    def value_reference(self, record):
        return record.reference

    def render_cause(self, record):
        return cause_text(record)

    def value_cause(self, record):
        return cause_text(record)

    def render_occurred(self, value):
        return fmt_date(value)

    def value_occurred(self, value):
        return value.isoformat()

    def render_importance(self, record):
        text = record.get_importance_display()
        if record.importance == "important":
            return format_html(
                '<span class="late" title="{}">{}</span>', record.importance_reason, text
            )
        return format_html('<span title="{}">{}</span>', record.importance_reason, text)


class DeviationTable(_DeviationRows):
    """The deviations page: every field a deviation log holds, downloadable filtered."""

    class Meta(_DeviationRows.Meta):
        orderable = True
        empty_text = "No deviations match."
        sequence = (
            "reference",
            "participant",
            "site",
            "category",
            "cause",
            "occurred",
            "identified",
            "importance",
            "importance_reason",
            "status",
            "description",
            "corrective_action",
            "preventive_action",
            "reported_to_irb",
            "withdrawn_reason",
        )

    participant = tables.Column(
        "Participant", accessor="participant__screening_number", attrs=NOWRAP
    )
    site = tables.Column("Site", accessor="participant__site__code")
    identified = tables.Column("Identified (site time)", accessor="identified_at", attrs=NOWRAP)
    importance_reason = tables.Column("Why (not) important", visible=False)
    description = tables.Column("Description", orderable=False)
    corrective_action = tables.Column("Corrective action", visible=False)
    preventive_action = tables.Column("Preventive action", visible=False)
    reported_to_irb = tables.Column(
        "Reported to the IRB", accessor="reported_to_irb_at", attrs=NOWRAP
    )
    withdrawn_reason = tables.Column("Why withdrawn", visible=False)

    # For dashboard/views/_common.stream_table: the download's columns (hidden ones included),
    # one row at a time, with the values (value_*) the page's cells are rendered from.
    def _exported(self) -> list[str]:
        return [c.name for c in self.columns.iterall() if not c.column.exclude_from_export]

    def export_header(self) -> list[str]:
        return [str(self.columns[name].header) for name in self._exported()]

    def export_row(self, record) -> list:
        row = BoundRow(record, table=self)
        return [row.get_cell_value(name) for name in self._exported()]

    def render_participant(self, record):
        return participant_link(record.participant)

    def value_participant(self, record):
        return record.participant.label

    def render_identified(self, record):
        return _moment(record.identified_at, record)

    def value_identified(self, record):
        return record.identified_at.isoformat()

    def render_description(self, value):
        return value if len(value) <= 80 else value[:79] + "…"

    def value_description(self, value):
        return value

    def render_reported_to_irb(self, record):
        return _moment(record.reported_to_irb_at, record)

    def value_reported_to_irb(self, record):
        return record.reported_to_irb_at.isoformat() if record.reported_to_irb_at else ""


class ParticipantDeviationTable(_DeviationRows):
    """A participant's deviations on their page."""

    class Meta(_DeviationRows.Meta):
        empty_text = "No deviations."


class DraftDeviationTable(_DeviationRows):
    """Worklist: the tracker's drafts waiting for the site's description, oldest first."""

    class Meta(_DeviationRows.Meta):
        sequence = ("reference", "participant", "site", "category", "cause", "occurred", "...")

    participant = tables.Column(
        "Participant", accessor="participant__screening_number", attrs=NOWRAP
    )
    site = tables.Column("Site", accessor="participant__site__code")
    action = tables.Column("", accessor="pk", exclude_from_export=True)

    def __init__(self, *args, can_record=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.columns.hide("status")
        if not can_record:
            self.columns.hide("action")

    def render_participant(self, record):
        return participant_link(record.participant)

    def value_participant(self, record):
        return record.participant.label

    def render_action(self, record):
        url = reverse("dashboard:deviation", args=[record.pk])
        return format_html('<a class="button" href="{}">Describe</a>', url)
