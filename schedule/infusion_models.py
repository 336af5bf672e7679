"""What stands between a participant and their next infusion: holds (a CRS or ICANS episode, any
other safety reason) and an investigator's override of the pre-dose gate. Imported by
schedule.models, so `schedule.models.InfusionHold` is the name to use; kept apart to keep
models.py short. The gate: schedule/services/infusions.py; holds: schedule/services/holds.py.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from participants.models import Participant


class InfusionHold(models.Model):
    """Something that holds the next infusion until it is released: a CRS or ICANS episode above
    grade 1 (opened and released by safety.services), or any other safety reason. The pre-dose
    gate refuses an infusion while a hold is open, unless an investigator overrides it."""

    SITE_PATH = "participant__site"

    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="infusion_holds"
    )
    source = models.CharField(max_length=60, help_text='What holds, e.g. "S01-003-AE2".')
    reason = models.CharField(max_length=200)
    opened_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.CharField(max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["participant", "opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "source"],
                condition=Q(released_at__isnull=True),
                name="one_open_hold_per_source",
            )
        ]

    def __str__(self) -> str:
        return f"{self.participant.label} hold: {self.reason}"


class PreDoseOverride(models.Model):
    """An investigator gave an infusion although the pre-dose gate refused it: the problems the
    gate listed, the written reason, who and when. A protocol deviation (important)."""

    SITE_PATH = "visit__participant__site"

    visit = models.OneToOneField(
        "schedule.Visit", on_delete=models.CASCADE, related_name="pre_dose_override"
    )
    problems = models.JSONField(default=list)
    reason = models.TextField()
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    overridden_at = models.DateTimeField()
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"{self.visit} given over the pre-dose gate"
