"""Protocol deviations (issue 9): drafted by the tracker in the same transaction as their cause
(an out-of-window or missed visit, an overdue or missed safety assessment, a pre-dose override),
once per cause (`cause_key`). Imported by schedule.models, so `schedule.models.Deviation` is the
name to use; kept apart to keep models.py short. Drafting: schedule/services/deviations.py.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from participants.models import Participant
from participants.signatures import SignedRecord


class DeviationCategory(models.TextChoices):
    VISIT_OUT_OF_WINDOW = "visit_out_of_window", "Visit out of window"
    VISIT_MISSED = "visit_missed", "Visit missed"
    SAFETY_OVERDUE = "safety_overdue", "Safety assessment overdue"
    SAFETY_MISSED = "safety_missed", "Safety assessment not done"
    GATE_OVERRIDDEN = "gate_overridden", "Pre-dose gate overridden"
    CONSENT_ELIGIBILITY = "consent_eligibility", "Consent or eligibility"
    OTHER = "other", "Other"


class DeviationImportance(models.TextChoices):
    """FDA draft guidance (Dec 2024): important when it may affect a participant's safety or
    the reliability of the data."""

    IMPORTANT = "important", "Important"
    NOT_IMPORTANT = "not_important", "Not important"


class DeviationStatus(models.TextChoices):
    DRAFT = "draft", "Draft (by the tracker)"
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"
    WITHDRAWN = "withdrawn", "Withdrawn"


class DeviationQuerySet(models.QuerySet):
    """The deviation predicates the worklist, the deviations page and the digest share."""

    def drafts(self):
        return self.filter(status=DeviationStatus.DRAFT)

    def to_describe(self):
        """Drafts waiting for the site's description (deviation_to_describe_idx serves it)."""
        return self.drafts().filter(description="")


class Deviation(SignedRecord):
    """Signed (SignedRecord's fields, meaning "deviation reviewed") when an investigator closes
    an important one."""

    SITE_PATH = "site"  # how participants.access reaches the site

    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="deviations"
    )
    # The participant's site, copied when the deviation is drafted (from its visit), as visits
    # and assessments carry it: a coordinator's drafts to describe are counted and listed by
    # index (deviation_site_to_describe_idx) instead of every site's drafts joined to their
    # participants to keep their own (40 ms for 22k drafts at 50k participants).
    site = models.ForeignKey(
        "participants.Site", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    category = models.CharField(max_length=24, choices=DeviationCategory.choices)
    importance = models.CharField(max_length=16, choices=DeviationImportance.choices)
    importance_reason = models.CharField(max_length=200)
    # The cause: at most one of these, per category. cause_key names it even if the row goes.
    visit = models.ForeignKey(
        "schedule.Visit", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    assessment = models.ForeignKey(
        "schedule.Assessment", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    pre_dose_override = models.ForeignKey(
        "schedule.PreDoseOverride",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    cause_key = models.CharField(
        max_length=80, help_text='Drafted once per cause, e.g. "visit-missed:42".'
    )
    occurred_on = models.DateField()
    identified_at = models.DateTimeField()
    description = models.TextField(blank=True)
    corrective_action = models.TextField(blank=True)
    preventive_action = models.TextField(blank=True)
    reported_to_irb_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=DeviationStatus.choices, default=DeviationStatus.DRAFT
    )
    withdrawn_reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: drafted by the tracker.",
    )
    history = HistoricalRecords()

    objects = DeviationQuerySet.as_manager()

    class Meta:
        ordering = ["participant", "occurred_on", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["cause_key"], name="deviation_once_per_cause")
        ]
        indexes = [
            # Serves "drafts waiting for a description" (the coordinators' to-do list).
            models.Index(
                fields=["identified_at"],
                name="deviation_to_describe_idx",
                condition=Q(status="draft", description=""),
            ),
            # The same for one site at a time (a coordinator's worklist and deviations page).
            models.Index(
                fields=["site", "identified_at"],
                name="deviation_site_describe_idx",
                condition=Q(status="draft", description=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant.label} {self.get_category_display().lower()} ({self.cause_key})"

    @property
    def reference(self) -> str:
        """How the site names it: "DEV-42"."""
        return f"DEV-{self.pk}"
