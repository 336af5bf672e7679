"""The schedule's states and kinds as TextChoices (re-exported by schedule.models)."""

from django.db import models


class Anchor(models.TextChoices):
    CONSENT = "consent", "Consent (C0)"
    FIRST_INFUSION = "first_infusion", "First infusion (D0)"
    WITHDRAWAL = "withdrawal", "Withdrawal date"
    EVENT = "event", "Event (unscheduled)"


class Period(models.TextChoices):
    SCREENING = "screening", "Screening"
    TREATMENT = "treatment", "Treatment"
    FOLLOW_UP = "follow_up", "Follow-up"
    UNSCHEDULED = "unscheduled", "Unscheduled"
    TERMINATION = "termination", "Early termination"


class VisitKind(models.TextChoices):
    """What recording the visit as done also means for the participant."""

    STANDARD = "standard", "Standard visit"
    APHERESIS = "apheresis", "Leukapheresis (records collection and product id)"
    FIRST_INFUSION = "first_infusion", "First infusion (sets D0, starts treatment)"
    INFUSION = "infusion", "Infusion"
    COMPLETION = "completion", "Completion visit (completes the participant)"
    UNSCHEDULED = "unscheduled", "Unscheduled"


class AssessmentCondition(models.TextChoices):
    ALWAYS = "", "Always"
    WITHDRAWN_IN_TREATMENT = "withdrawn_in_treatment", "Only if withdrawn during treatment"


class VisitStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    DONE = "done", "Done"
    MISSED = "missed", "Missed"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class AssessmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    MISSED = "missed", "Missed (visit missed)"
    NOT_APPLICABLE = "not_applicable", "Not applicable"
