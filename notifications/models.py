"""The email outbox and the periodic jobs' heartbeats.

Every email is an OutboxEmail row before it is sent (healthchecks' sendalerts and Zulip's
ScheduledEmail are the models). A row is sent by whoever *claims* it first with a conditional
UPDATE (see services.outbox_claim), so two workers or two beat processes never send it twice.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class OutboxKind(models.TextChoices):
    VISIT_DUE = "visit_due", "Visit reminder (target date)"
    WINDOW_CLOSES = "window_closes", "Visit reminder (window closes tomorrow)"
    REMINDER_DIGEST = "reminder_digest", "Daily reminder digest"
    SAFETY_OVERDUE = "safety_overdue", "Overdue safety assessment"
    SAFETY_ESCALATION = "safety_escalation", "Overdue safety assessment escalated"
    SAFETY_MISSED = "safety_missed", "Safety assessment missed (important deviation)"
    ENROLLMENT_REPORT = "enrollment_report", "Monthly enrollment report"
    SAFETY_EVENT = "safety_event", "Safety event graded (CRS/ICANS, grade 3+ AE)"
    SAFETY_EVENT_LAB = "safety_event_lab", "Alerting safety lab value"
    SAE_CLOCK_REMINDER = "sae_clock_reminder", "SAE report due in 12 hours"
    SAE_CLOCK_OVERDUE = "sae_clock_overdue", "SAE report overdue (24 hours)"
    SAE_CLOCK_ESCALATION = "sae_clock_escalation", "SAE report overdue, escalated"


REMINDER_KINDS = (OutboxKind.VISIT_DUE, OutboxKind.WINDOW_CLOSES, OutboxKind.REMINDER_DIGEST)
SAE_CLOCK_KINDS = (
    OutboxKind.SAE_CLOCK_REMINDER,
    OutboxKind.SAE_CLOCK_OVERDUE,
    OutboxKind.SAE_CLOCK_ESCALATION,
)
# The safety-event scan's kinds (notifications/services/safety_events.py).
SAFETY_EVENT_KINDS = (OutboxKind.SAFETY_EVENT, OutboxKind.SAFETY_EVENT_LAB, *SAE_CLOCK_KINDS)
# Every kind whose failure is a safety alert that reached nobody (banner, /healthz).
SAFETY_KINDS = (
    OutboxKind.SAFETY_OVERDUE,
    OutboxKind.SAFETY_ESCALATION,
    OutboxKind.SAFETY_MISSED,
    *SAFETY_EVENT_KINDS,
)


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up retrying)"
    CANCELLED = "cancelled", "Cancelled"


class OutboxEmail(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="outbox_emails",
    )
    to_email = models.EmailField()
    kind = models.CharField(max_length=20, choices=OutboxKind.choices)
    subject = models.CharField(max_length=250, blank=True)
    # What the email is about. SET_NULL keeps the record of a sent email if its subject goes away.
    participant = models.ForeignKey(
        "participants.Participant",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    visit = models.ForeignKey(
        "schedule.Visit", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    assessment = models.ForeignKey(
        "schedule.Assessment", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    about_date = models.DateField(
        null=True, blank=True, help_text="The visit date or window end a reminder is about."
    )
    # The items the email is about (digest items, the assessments of an overdue visit), as ids
    # and dates so each can be re-validated at send time.
    context = models.JSONField(default=dict, blank=True)
    dedup_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(
        max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    send_after = models.DateTimeField(help_text="Not sent before this instant (UTC).")
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    cancelled_reason = models.CharField(max_length=250, blank=True)
    body_text = models.TextField(blank=True, help_text="As sent.")
    body_html = models.TextField(blank=True, help_text="As sent.")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(
        null=True, blank=True, help_text="When retrying was given up (status failed)."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "outbox email"
        indexes = [
            # Serves the every-minute delivery scan: pending rows that are due, oldest first.
            models.Index(
                fields=["send_after"],
                name="outbox_pending_due_idx",
                condition=Q(status="pending"),
            ),
            models.Index(fields=["visit", "kind"], name="outbox_visit_kind_idx"),
            # Serves the "safety emails failed in the last 7 days" count (banner, /healthz).
            models.Index(
                fields=["failed_at"],
                name="outbox_failed_idx",
                condition=Q(status="failed"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.to_email} ({self.status})"


class MissedSafetyAlert(models.Model):
    """A safety assessment recorded as missed (visit missed, closed as missed, or not done) that
    the site has been emailed about, so each is alerted once. Kept here, not on the schedule's
    Assessment: the alert is the notifications app's business."""

    assessment = models.OneToOneField(
        "schedule.Assessment", on_delete=models.CASCADE, related_name="+"
    )
    alerted_at = models.DateTimeField()

    class Meta:
        verbose_name = "missed safety alert"

    def __str__(self) -> str:
        return f"assessment {self.assessment_id} alerted {self.alerted_at:%Y-%m-%d %H:%M}"


class JobHeartbeat(models.Model):
    """When each periodic job last ran, so a stopped beat or worker is noticed (banner, /healthz)."""

    name = models.CharField(max_length=60, unique=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_summary = models.CharField(max_length=250, blank=True)
    # What the job's last run could not do that staff must see, as counts, e.g.
    # {"nobody_to_alert": 2} (flag_overdue) or {"safety_emails_failed": 1} (deliver_outbox).
    # Stored by the job so the staff banner costs no query beyond reading the heartbeats.
    problems = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} (last finished {self.last_finished_at})"
