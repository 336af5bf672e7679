import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from participants import identifiers
from participants.models import Participant

# Re-exported ("X as X"): callers import the choices and CLOSING_SOON_DAYS from schedule.models.
from schedule.choices import Anchor as Anchor
from schedule.choices import AssessmentCondition as AssessmentCondition
from schedule.choices import AssessmentStatus as AssessmentStatus
from schedule.choices import Period as Period
from schedule.choices import VisitKind as VisitKind
from schedule.choices import VisitStatus as VisitStatus
from schedule.querysets import CLOSING_SOON_DAYS as CLOSING_SOON_DAYS
from schedule.querysets import AssessmentQuerySet, VisitQuerySet


class ProtocolVersion(models.Model):
    """One version of the schedule of assessments. Amendments are new versions."""

    version = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=200)
    effective_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    is_active = models.BooleanField(
        default=True, help_text="New participants are scheduled under the highest active version."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["version"]

    def __str__(self) -> str:
        return f"v{self.version}: {self.name}"


class VisitDefinition(models.Model):
    protocol = models.ForeignKey(ProtocolVersion, on_delete=models.CASCADE, related_name="visits")
    order = models.PositiveSmallIntegerField()
    code = models.CharField(max_length=12)
    name = models.CharField(max_length=100)
    period = models.CharField(max_length=12, choices=Period.choices)
    kind = models.CharField(max_length=16, choices=VisitKind.choices, default=VisitKind.STANDARD)
    anchor = models.CharField(max_length=16, choices=Anchor.choices)
    target_offset = models.IntegerField(help_text="Days after the anchor date.")
    window_before = models.PositiveSmallIntegerField(default=0)
    window_after = models.PositiveSmallIntegerField(default=0)
    min_days_after_previous = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="For infusions: days required since the previous one."
    )
    missable = models.BooleanField(
        default=True, help_text="Whether a coordinator may record this visit as missed."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["protocol", "order"]
        constraints = [
            models.UniqueConstraint(fields=["protocol", "code"], name="visitdef_code_per_protocol")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class AssessmentDefinition(models.Model):
    visit = models.ForeignKey(VisitDefinition, on_delete=models.CASCADE, related_name="assessments")
    order = models.PositiveSmallIntegerField()
    code = models.CharField(max_length=12)
    name = models.CharField(max_length=100)
    is_safety = models.BooleanField()
    pre_dose = models.BooleanField(
        default=False, help_text="Must be done and normal before the infusion is given."
    )
    max_age_hours = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Pre-dose result must be at most this old."
    )
    due_hours_after_start = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Due this many hours after the visit started."
    )
    condition = models.CharField(
        max_length=30, choices=AssessmentCondition.choices, blank=True, default=""
    )
    can_be_not_applicable = models.BooleanField(
        default=False,
        help_text="May be recorded as not applicable (e.g. a pregnancy test for a man); a "
        "pre-dose item that is not applicable does not block the infusion.",
    )
    holds_next_infusion = models.BooleanField(
        default=False,
        help_text="An abnormal or missing result holds the next infusion (CRS/ICANS).",
    )
    lab_values = models.BooleanField(
        default=False,
        help_text="Entered as lab values with units (CBC, IgG): the grade and the abnormal flag "
        "are computed from the values, never typed.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["visit", "order"]
        constraints = [
            models.UniqueConstraint(fields=["visit", "code"], name="assessdef_code_per_visit")
        ]

    def __str__(self) -> str:
        return f"{self.code}{' (S)' if self.is_safety else ''}"


class ParticipantSchedule(models.Model):
    """Which protocol version a participant is scheduled under, and the anchors in use."""

    SITE_PATH = "participant__site"  # how participants.access reaches the site

    participant = models.OneToOneField(
        Participant, on_delete=models.CASCADE, related_name="schedule"
    )
    protocol = models.ForeignKey(ProtocolVersion, on_delete=models.PROTECT, related_name="+")
    consent_anchor = models.DateField(help_text="C0: consent date in the site's time zone.")
    infusion_anchor = models.DateField(
        null=True, blank=True, help_text="D0: first-infusion date (planned until it is given)."
    )
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"{self.participant} on protocol v{self.protocol.version}"


class Reanchor(models.Model):
    """A record that the first-infusion date moved and the visits not yet done moved with it."""

    SITE_PATH = "participant__site"  # how participants.access reaches the site

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="reanchors")
    old_anchor = models.DateField()
    new_anchor = models.DateField()
    visits_moved = models.PositiveSmallIntegerField()
    reason = models.TextField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["participant", "changed_at"]

    def __str__(self) -> str:
        return f"{self.participant}: D0 {self.old_anchor} → {self.new_anchor}"


class Visit(models.Model):
    SITE_PATH = "site"  # how participants.access reaches the site

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="visits")
    # Copied from the participant (who never changes site) when the visit is laid out, so a
    # coordinator's worklist and calendar read their own sites' visits by index (the visit_site_*
    # indexes) instead of every site's visits of the dates joined to the participants.
    site = models.ForeignKey(
        "participants.Site", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    definition = models.ForeignKey(VisitDefinition, on_delete=models.PROTECT, related_name="+")
    occurrence = models.PositiveSmallIntegerField(
        default=1, help_text="2 for a repeat leukapheresis, n for the n-th unscheduled visit."
    )
    status = models.CharField(
        max_length=16, choices=VisitStatus.choices, default=VisitStatus.SCHEDULED
    )
    target_date = models.DateField()
    window_start = models.DateField()
    window_end = models.DateField()
    actual_date = models.DateField(null=True, blank=True)
    started_at = models.DateTimeField(
        null=True, blank=True, help_text="When the visit (e.g. the infusion) started, if known."
    )
    in_window = models.BooleanField(null=True, blank=True)
    dose = models.CharField(
        max_length=60,
        blank=True,
        help_text="Infusions only.",
        validators=[identifiers.dose_validator],
    )
    lot = models.CharField(
        max_length=60,
        blank=True,
        help_text="Infusions only.",
        validators=[identifiers.lot_validator],
    )
    reason = models.TextField(blank=True, help_text="Why missed, unscheduled or not applicable.")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()
    objects = VisitQuerySet.as_manager()

    class Meta:
        ordering = ["participant", "target_date", "definition__order", "occurrence"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "definition", "occurrence"],
                name="visit_once_per_occurrence",
            )
        ]
        indexes = [
            # Serves the reminder scan ("target in 7 days / 1 day") and the worklist's "due today";
            # with the window and site, the calendar counts the open windows over its first and
            # last days whose targets lie outside from the index alone.
            models.Index(
                fields=["target_date", "window_start", "window_end", "site"],
                name="visit_open_target_idx",
                condition=Q(status="scheduled"),
            ),
            # Serves the "window closes tomorrow" reminder scan and the worklist's closing windows.
            models.Index(
                fields=["window_end"],
                name="visit_open_window_end_idx",
                condition=Q(status="scheduled"),
            ),
            # Serves the calendar's done visits, shown on the day they happened.
            models.Index(
                fields=["actual_date"],
                name="visit_done_actual_date_idx",
                condition=Q(status="done"),
            ),
            # Serves the calendar's missed visits, shown on their target date.
            models.Index(
                fields=["target_date"],
                name="visit_missed_target_idx",
                condition=Q(status="missed"),
            ),
            # Serves the calendar's open windows overlapping the range shown (window_start up to
            # the range's end, window_end checked in the index).
            models.Index(
                fields=["window_start", "window_end"],
                name="visit_open_window_span_idx",
                condition=Q(status="scheduled"),
            ),
            # The same reads for one site at a time (a coordinator's worklist and calendar).
            models.Index(
                fields=["site", "target_date"],
                name="visit_site_open_target_idx",
                condition=Q(status="scheduled"),
            ),
            models.Index(
                fields=["site", "window_end"],
                name="visit_site_open_end_idx",
                condition=Q(status="scheduled"),
            ),
            models.Index(
                fields=["site", "window_start", "window_end"],
                name="visit_site_open_span_idx",
                condition=Q(status="scheduled"),
            ),
            models.Index(
                fields=["site", "actual_date"],
                name="visit_site_done_actual_idx",
                condition=Q(status="done"),
            ),
            models.Index(
                fields=["site", "target_date"],
                name="visit_site_missed_target_idx",
                condition=Q(status="missed"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant.label} {self.code}"

    def window_closed(self, today: dt.date) -> bool:
        """Open, and its window closed before `today` (the row version of VisitQuerySet's)."""
        return self.status == VisitStatus.SCHEDULED and self.window_end < today

    def window_opened(self, today: dt.date) -> bool:
        return self.window_start <= today

    @staticmethod
    def code_of(definition_code: str, occurrence: int) -> str:
        """The visit code as shown everywhere: "APH #2" for a repeat, "UNS #3" for the third
        (for rows read as values, e.g. an annotated next visit)."""
        return f"{definition_code} #{occurrence}" if occurrence > 1 else definition_code

    @property
    def code(self) -> str:
        return Visit.code_of(self.definition.code, self.occurrence)


class Assessment(models.Model):
    SITE_PATH = "visit__participant__site"  # how participants.access reaches the site

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="assessments")
    definition = models.ForeignKey(AssessmentDefinition, on_delete=models.PROTECT, related_name="+")
    # Copied from the definition so the overdue scan's partial index can filter on it.
    is_safety = models.BooleanField()
    # Copied from the participant (who never changes site) when the visit is laid out, so the
    # worklist's overdue items are scoped to a coordinator's sites by an index
    # (assess_site_pending_safety_idx) instead of after grouping every site's items.
    site = models.ForeignKey(
        "participants.Site", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    status = models.CharField(
        max_length=16, choices=AssessmentStatus.choices, default=AssessmentStatus.PENDING
    )
    due_at = models.DateTimeField(help_text="Overdue after this instant with no result.")
    completed_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=200, blank=True)
    is_abnormal = models.BooleanField(null=True, blank=True)
    reason = models.CharField(
        max_length=200, blank=True, help_text="Why it was not done or is not applicable."
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    missed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When it was recorded missed (its visit missed or closed, or not done).",
    )
    overdue_flagged_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()
    objects = AssessmentQuerySet.as_manager()

    class Meta:
        ordering = ["visit", "definition__order"]
        indexes = [
            # Serves the 15-minute overdue safety scan: pending safety items not yet flagged,
            # by due time. Flagging sets overdue_flagged_at, which takes the row out of the index.
            models.Index(
                fields=["due_at"],
                name="assess_overdue_scan_idx",
                condition=Q(status="pending", is_safety=True, overdue_flagged_at__isnull=True),
            ),
            # Serves the worklist's overdue safety items and the participants list's "overdue only":
            # every safety item still pending, by due time (flagged or not). The visit is in the
            # index so the worklist groups the items by visit from the index alone (93k items
            # at 50k participants: the rows' pages cost 53 of the grouping's 93 ms).
            models.Index(
                fields=["due_at", "visit"],
                name="assess_pending_safety_due_idx",
                condition=Q(status="pending", is_safety=True),
            ),
            # Serves a coordinator's worklist: their sites' safety items still pending, by due
            # time (listings.overdue_by_visit), the visit in the index for the same reason.
            models.Index(
                fields=["site", "due_at", "visit"],
                name="assess_site_pending_safety_idx",
                condition=Q(status="pending", is_safety=True),
            ),
            # Serves the missed-safety alert scan: safety items recorded missed lately (the scan
            # reads missed_at on the row itself, never the audit history).
            models.Index(
                fields=["missed_at"],
                name="assess_missed_alert_scan_idx",
                condition=Q(status="missed", is_safety=True),
            ),
            # Serves the 48-hour escalation scan over items flagged but still without a result.
            models.Index(
                fields=["overdue_flagged_at"],
                name="assess_escalation_scan_idx",
                condition=Q(status="pending", escalated_at__isnull=True)
                & Q(overdue_flagged_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.visit} {self.definition.code}"

    def is_overdue(self, now: dt.datetime) -> bool:
        """The row version of AssessmentQuerySet.overdue: keep the two in step."""
        return self.status == AssessmentStatus.PENDING and self.is_safety and self.due_at <= now

    @property
    def late_by(self):
        """How late the result came (None when on time or not yet recorded)."""
        if self.completed_at and self.completed_at > self.due_at:
            return self.completed_at - self.due_at
        return None


# Infusion holds and pre-dose overrides, and protocol deviations, live in their own modules (keeps
# this one short); import them from here.
from schedule.deviation_models import (  # noqa: E402, F401
    Deviation,
    DeviationCategory,
    DeviationImportance,
    DeviationStatus,
)
from schedule.infusion_models import InfusionHold, PreDoseOverride  # noqa: E402, F401
