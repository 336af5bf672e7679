"""Safety events: adverse events (with CRS and ICANS as events of special interest), every
(re-)grading with who and why, the SAE reporting clock, and safety lab values with units.

Grades are computed where the protocol gives rules (CRS/ICANS from findings, labs from values:
safety/grading.py); the reasons are stored beside each grade so the coordinator sees why. Rows
change only through safety.services; the admin shows them read-only.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from participants.models import Participant
from schedule.models import Assessment


class EventKind(models.TextChoices):
    AE = "ae", "Adverse event"
    CRS = "crs", "Cytokine release syndrome (CRS)"
    ICANS = "icans", "ICANS (neurotoxicity)"
    PREGNANCY = "pregnancy", "Pregnancy"


class Relatedness(models.TextChoices):
    NOT_RELATED = "not_related", "Not related"
    UNLIKELY = "unlikely", "Unlikely"
    POSSIBLE = "possible", "Possible"
    PROBABLE = "probable", "Probable"
    DEFINITE = "definite", "Definite"


class ActionTaken(models.TextChoices):
    NONE = "none", "None"
    INFUSION_DELAYED = "infusion_delayed", "Infusion delayed"
    INFUSION_INTERRUPTED = "infusion_interrupted", "Infusion interrupted"
    TREATMENT_STOPPED = "treatment_stopped", "Treatment stopped"
    NOT_APPLICABLE = "not_applicable", "Not applicable (after treatment)"
    OTHER = "other", "Other"


class Outcome(models.TextChoices):
    NOT_RECOVERED = "not_recovered", "Not recovered / not resolved"
    RECOVERING = "recovering", "Recovering / resolving"
    RECOVERED = "recovered", "Recovered / resolved"
    RECOVERED_WITH_SEQUELAE = "recovered_with_sequelae", "Recovered with sequelae"
    FATAL = "fatal", "Fatal"
    UNKNOWN = "unknown", "Unknown"


class Seriousness(models.TextChoices):
    """ICH E2A seriousness criteria."""

    DEATH = "death", "Results in death"
    LIFE_THREATENING = "life_threatening", "Life-threatening"
    HOSPITALISATION = "hospitalisation", "Hospitalisation or its prolongation"
    DISABILITY = "disability", "Persistent or significant disability"
    CONGENITAL_ANOMALY = "congenital_anomaly", "Congenital anomaly / birth defect"
    IMPORTANT_MEDICAL_EVENT = "important_medical_event", "Important medical event"


class AdverseEventQuerySet(models.QuerySet):
    def open(self):
        """Not yet resolved."""
        return self.filter(resolved_on__isnull=True)

    def needs_follow_up(self):
        """Above grade 2 and unresolved: stays on the worklist until it resolves to grade 2 or
        less (lymphopenia and alopecia excepted, as in the trial registry)."""
        return self.open().filter(grade__gt=2).exclude(ctcae_term__in=FOLLOW_UP_EXCEPTIONS)

    def sae_unreported(self):
        """Serious events not yet reported to the sponsor: their 24-hour clock is running."""
        return self.filter(serious=True, sponsor_reported_at__isnull=True)


# The registry follows AEs until grade 2 or less "except lymphopenia and alopecia".
FOLLOW_UP_EXCEPTIONS = ("Lymphocyte count decreased", "Alopecia")


class AdverseEvent(models.Model):
    SITE_PATH = "participant__site"  # how participants.access reaches the site

    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="adverse_events"
    )
    number = models.PositiveSmallIntegerField(help_text="1, 2, 3... per participant.")
    kind = models.CharField(max_length=12, choices=EventKind.choices, default=EventKind.AE)
    term = models.CharField(max_length=200, help_text="As the investigator describes it.")
    ctcae_term = models.CharField(
        max_length=120, blank=True, help_text="CTCAE v5 term (safety/ctcae.py)."
    )
    onset_date = models.DateField()
    resolved_on = models.DateField(null=True, blank=True)
    grade = models.PositiveSmallIntegerField(help_text="Current grade: the latest grading.")
    serious = models.BooleanField(default=False)
    seriousness_criteria = models.JSONField(default=list, blank=True)
    related_to_product = models.CharField(
        max_length=12, choices=Relatedness.choices, default=Relatedness.NOT_RELATED
    )
    related_to_leukapheresis = models.CharField(
        max_length=12, choices=Relatedness.choices, default=Relatedness.NOT_RELATED
    )
    expected = models.BooleanField(null=True, blank=True)
    action_taken = models.CharField(
        max_length=24, choices=ActionTaken.choices, default=ActionTaken.NONE
    )
    outcome = models.CharField(
        max_length=24, choices=Outcome.choices, default=Outcome.NOT_RECOVERED
    )
    aware_at = models.DateTimeField(help_text="When the site became aware of the event.")
    # The SAE clock, stored so the scans read an indexed column (healthchecks' alert_after).
    sponsor_report_due_at = models.DateTimeField(null=True, blank=True)
    sponsor_reported_at = models.DateTimeField(null=True, blank=True)
    irb_report_due_on = models.DateField(null=True, blank=True)
    irb_reported_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()
    history = HistoricalRecords()
    objects = AdverseEventQuerySet.as_manager()

    class Meta:
        ordering = ["participant", "number"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "number"], name="ae_number_per_person"),
            models.CheckConstraint(condition=Q(grade__gte=1, grade__lte=5), name="ae_grade_1_5"),
        ]
        indexes = [
            # Serves the SAE clock scan (12-hour reminder, 24-hour overdue): serious events not
            # yet reported to the sponsor, by due time.
            models.Index(
                fields=["sponsor_report_due_at"],
                name="ae_sae_clock_scan_idx",
                condition=Q(serious=True, sponsor_reported_at__isnull=True),
            ),
            # Serves the worklist's "AEs above grade 2 until resolved".
            models.Index(
                fields=["participant"],
                name="ae_open_above_g2_idx",
                condition=Q(resolved_on__isnull=True, grade__gt=2),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant.label} AE {self.number}: {self.term}"

    @property
    def reference(self) -> str:
        """How the event is named in emails, exports and the death record (no identifiers)."""
        return f"{self.participant.label}-AE{self.number}"


class Grading(models.Model):
    """One grading of an event: the first, and every re-grading, never overwritten."""

    SITE_PATH = "event__participant__site"

    event = models.ForeignKey(AdverseEvent, on_delete=models.CASCADE, related_name="gradings")
    grade = models.PositiveSmallIntegerField()
    assessed_at = models.DateTimeField(help_text="When the findings were assessed.")
    findings = models.JSONField(default=dict, blank=True, help_text="CRS/ICANS findings.")
    reasons = models.JSONField(default=list, blank=True, help_text="Why this grade.")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()
    # Set by the safety-event alert scan when it has created this grading's emails.
    alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["event", "assessed_at", "pk"]
        indexes = [
            # Serves the safety-event alert scan: gradings not yet alerted on.
            models.Index(
                fields=["recorded_at"],
                name="grading_alert_scan_idx",
                condition=Q(alerted_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event.reference} grade {self.grade}"


class LabResult(models.Model):
    """A safety lab value (CBC component or IgG), as entered and in its canonical unit, with the
    CTCAE v5 grade computed from it (safety.grading.lab_grade)."""

    SITE_PATH = "assessment__visit__participant__site"

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="lab_results")
    code = models.CharField(max_length=8)
    entered_value = models.DecimalField(max_digits=12, decimal_places=4)
    entered_unit = models.CharField(max_length=12)
    value = models.DecimalField(max_digits=12, decimal_places=4)
    unit = models.CharField(max_length=12)
    grade = models.PositiveSmallIntegerField()
    reasons = models.JSONField(default=list, blank=True)
    alert = models.BooleanField(default=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()
    alerted_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["assessment", "code"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "code"], name="lab_once_per_assessment")
        ]
        indexes = [
            # Serves the lab alert scan: alerting values not yet alerted on.
            models.Index(
                fields=["recorded_at"],
                name="lab_alert_scan_idx",
                condition=Q(alert=True, alerted_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.assessment} {self.code} {self.value} {self.unit}"
