import datetime as dt
import functools
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

from participants import identifiers
from participants.signatures import SignedRecord


def validate_time_zone(value: str) -> None:
    """A site's zone is an IANA Area/City name (e.g. Europe/Berlin). "localtime" would make the
    site follow the server's clock, and names like UTC or EST have no place's daylight saving."""
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            f"“{value}” is not a time zone name. Use an IANA name such as Europe/Berlin."
        )
    if "/" not in value or value.split("/")[0] in ("Etc", "SystemV"):
        raise ValidationError(
            f"“{value}” is not a place's time zone: use the site's Area/City name, e.g. "
            "America/New_York, so that its daylight-saving changes are followed."
        )


def validate_holidays(value) -> None:
    if not isinstance(value, list):
        raise ValidationError('Give a list of dates, e.g. ["2026-12-25", "2027-01-01"].')
    for day in value:
        try:
            dt.date.fromisoformat(day)
        except (TypeError, ValueError):
            raise ValidationError(
                f"“{day}” is not a date. Write each holiday as YYYY-MM-DD, e.g. 2026-12-25."
            ) from None


@functools.cache
def zone(name: str) -> zoneinfo.ZoneInfo:
    """The ZoneInfo of an IANA name, made once per process. zoneinfo keeps only the last 8 zones
    strongly (the rest weakly), so with more zones than that in use a site's zone was read from
    disk again for almost every row of a page or a scan. At most the ~600 IANA names."""
    return zoneinfo.ZoneInfo(name)


class Site(models.Model):
    SITE_PATH = "pk"  # how participants.access reaches the site

    code = models.CharField(
        max_length=8,
        unique=True,
        validators=[RegexValidator(r"^[A-Z0-9]+$", "Use capital letters and digits, e.g. S01.")],
    )
    name = models.CharField(max_length=200)
    time_zone = models.CharField(
        max_length=64,
        validators=[validate_time_zone],
        help_text="IANA time zone, e.g. America/New_York. Visit dates and 08:00 reminders use it.",
    )
    enrollment_target = models.PositiveIntegerField(default=10)
    irb_report_business_days = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1)],
        help_text="The IRB's deadline for an SAE report, in business days after awareness.",
    )
    holidays = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_holidays],
        help_text='Site holidays skipped by business-day clocks: ISO dates, e.g. ["2026-12-25"].',
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def holiday_dates(self) -> list[dt.date]:
        return [dt.date.fromisoformat(day) for day in self.holidays]

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zone(self.time_zone)


class StaffRole(models.TextChoices):
    COORDINATOR = "coordinator", "Research coordinator"
    INVESTIGATOR = "investigator", "Investigator"
    MEDICAL_MONITOR = "medical_monitor", "Medical monitor"
    STUDY_MANAGER = "study_manager", "Study manager"


class ReminderMode(models.TextChoices):
    DIGEST = "digest", "One daily digest"
    PER_ITEM = "per_item", "One email per item"


class StaffProfile(models.Model):
    """A user's role in the study and the sites they work for.

    Study managers and medical monitors see every site; coordinators and investigators only theirs.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    role = models.CharField(max_length=20, choices=StaffRole.choices)
    sites = models.ManyToManyField(Site, blank=True, related_name="staff")
    reminder_mode = models.CharField(
        max_length=10, choices=ReminderMode.choices, default=ReminderMode.DIGEST
    )
    # Days before a visit's target date this person is reminded (e.g. [7, 1]); empty: the study's
    # REMINDER_DAYS_BEFORE. Chosen on "My notifications" (participants.staff.notifications_set).
    reminder_days = models.JSONField(default=list, blank=True)
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"

    @property
    def sees_all_sites(self) -> bool:
        return self.role in (StaffRole.STUDY_MANAGER, StaffRole.MEDICAL_MONITOR)


class Status(models.TextChoices):
    SCREENING = "screening", "Screening"
    SCREEN_FAILED = "screen_failed", "Screen failed"
    ENROLLED = "enrolled", "Enrolled"
    APHERESIS_DONE = "apheresis_done", "Leukapheresis done"
    MANUFACTURING_FAILED = "manufacturing_failed", "Manufacturing failed"
    IN_TREATMENT = "in_treatment", "In treatment"
    IN_FOLLOW_UP = "in_follow_up", "In follow-up"
    COMPLETED = "completed", "Completed"
    WITHDRAWN = "withdrawn", "Withdrawn"
    LOST_TO_FOLLOW_UP = "lost_to_follow_up", "Lost to follow-up"
    DIED = "died", "Died"


class Phase(models.TextChoices):
    SCREENING = "screening", "Screening"
    TREATMENT = "treatment", "Treatment"
    FOLLOW_UP = "follow_up", "Follow-up"
    OFF_STUDY = "off_study", "Off study"


PHASE_OF_STATUS = {
    Status.SCREENING: Phase.SCREENING,
    Status.ENROLLED: Phase.SCREENING,
    Status.APHERESIS_DONE: Phase.SCREENING,
    Status.MANUFACTURING_FAILED: Phase.SCREENING,
    Status.IN_TREATMENT: Phase.TREATMENT,
    Status.IN_FOLLOW_UP: Phase.FOLLOW_UP,
    Status.LOST_TO_FOLLOW_UP: Phase.FOLLOW_UP,
    Status.SCREEN_FAILED: Phase.OFF_STUDY,
    Status.COMPLETED: Phase.OFF_STUDY,
    Status.WITHDRAWN: Phase.OFF_STUDY,
    Status.DIED: Phase.OFF_STUDY,
}


class Participant(models.Model):
    """One screening of one person. Holds study ids only: never names or other identifiers.

    `status` changes only through participants.services (each change writes a StatusChange).
    """

    SITE_PATH = "site"  # how participants.access reaches the site

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="participants")
    screening_number = models.CharField(
        max_length=20, unique=True, validators=[identifiers.screening_number_validator]
    )
    study_id = models.CharField(max_length=20, unique=True, null=True, blank=True)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.SCREENING)
    # Phase is derived from status but stored, because lists filter and group by it.
    phase = models.CharField(max_length=12, choices=Phase.choices, default=Phase.SCREENING)
    consent_at = models.DateTimeField(help_text="Date and time the consent form was signed.")
    consent_form_version = models.CharField(max_length=40)
    age_at_consent = models.PositiveSmallIntegerField(validators=[MinValueValidator(18)])
    rescreen_of = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rescreened_as",
        help_text="The earlier, failed screening of the same person.",
    )
    enrolled_on = models.DateField(null=True, blank=True)
    first_infusion_at = models.DateTimeField(null=True, blank=True)
    first_infusion_dose = models.CharField(
        max_length=60, blank=True, validators=[identifiers.dose_validator]
    )
    first_infusion_lot = models.CharField(
        max_length=60, blank=True, validators=[identifiers.lot_validator]
    )
    infusions_received = models.PositiveSmallIntegerField(default=0)
    off_study_on = models.DateField(null=True, blank=True)
    safety_follow_up_continues = models.BooleanField(null=True, blank=True)
    rescreen_allowed = models.BooleanField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["site__code", "screening_number"]
        indexes = [models.Index(fields=["site", "status"], name="participant_site_status_idx")]

    def __str__(self) -> str:
        return self.study_id or self.screening_number

    @staticmethod
    def label_of(study_id: str | None, screening_number: str) -> str:
        """The identifier shown everywhere: study id once enrolled, else screening number (for
        rows read as values, e.g. the reminder scan's)."""
        return study_id or screening_number

    @property
    def label(self) -> str:
        return Participant.label_of(self.study_id, self.screening_number)

    @property
    def consent_date(self):
        return self.consent_at.astimezone(self.site.tz).date()

    @property
    def first_infusion_date(self):
        if self.first_infusion_at is None:
            return None
        return self.first_infusion_at.astimezone(self.site.tz).date()


class Eligibility(SignedRecord):
    """The eligibility checklist of one screening, answered criterion by criterion: a draft
    (prepared by a coordinator or the investigator) until the investigator signs it
    (participants.signatures: printed name, time, meaning "eligibility confirmed")."""

    SITE_PATH = "participant__site"  # how participants.access reaches the site

    participant = models.OneToOneField(
        Participant, on_delete=models.CASCADE, related_name="eligibility"
    )
    criteria_version = models.CharField(max_length=10)
    answers = models.JSONField(help_text="Criterion code → true/false, see eligibility.py.")
    assessed_on = models.DateField()
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    prepared_at = models.DateTimeField(null=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "eligibility checklists"
        verbose_name = "eligibility checklist"

    def __str__(self) -> str:
        return f"Eligibility of {self.participant} (criteria v{self.criteria_version})"


class Apheresis(models.Model):
    """One leukapheresis: several when manufacturing failed and cells were collected again."""

    SITE_PATH = "participant__site"  # how participants.access reaches the site

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="aphereses")
    collected_on = models.DateField()
    adequate_collection = models.BooleanField()
    product_id = models.CharField(
        max_length=60,
        help_text="Chain-of-identity id of the collected cells.",
        validators=[identifiers.product_id_validator],
    )
    manufacturing_failed_on = models.DateField(null=True, blank=True)
    manufacturing_failure_reason = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "leukapheresis"
        verbose_name_plural = "leukaphereses"
        ordering = ["participant", "collected_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["product_id"], name="apheresis_product_id_unique")
        ]

    def __str__(self) -> str:
        return f"{self.participant} leukapheresis {self.collected_on} ({self.product_id})"


class StatusChange(models.Model):
    """The history of a participant's status: one row per transition, written by the services."""

    SITE_PATH = "participant__site"  # how participants.access reaches the site

    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="status_changes"
    )
    from_status = models.CharField(max_length=24, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=24, choices=Status.choices)
    effective_on = models.DateField(help_text="The clinical date of the change.")
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["participant", "changed_at", "id"]

    def __str__(self) -> str:
        return f"{self.participant}: {self.from_status or '—'} → {self.to_status}"
