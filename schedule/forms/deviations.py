"""A deviation's forms (describe/edit, open, close, withdraw) and correcting a recorded visit's
date. Each calls one service of schedule/services/deviations_follow_up.py or
deviations_corrections.py; the services decide, refusals show under their field.

DEVIATION_FORMS: the action slug of /deviations/<id>/<slug>/ -> its form, each with `title`,
`button` and `available(deviation)`.
"""

from django import forms

from participants.signatures import PASSWORD_FIELD, SignatureFormPart, SignatureMeaning
from schedule import services
from schedule.forms.base import ServiceForm, at, date_field, text_area, time_field
from schedule.models import Deviation, DeviationImportance, DeviationStatus
from schedule.services.deviations_follow_up import IMPORTANCE_REASON_MAX, REASON_MAX

CHANGEABLE = (DeviationStatus.DRAFT, DeviationStatus.OPEN)


def reason_field(label: str, **kwargs):
    return forms.CharField(label=label, max_length=REASON_MAX, **kwargs)


class DeviationForm(ServiceForm):
    title = ""
    button = "Save"
    done = "saved"  # what the page says after it: "DEV-42 opened."
    statuses: tuple = CHANGEABLE

    def __init__(self, *args, deviation: Deviation, user, **kwargs):
        self.deviation, self.user = deviation, user
        self.site = deviation.participant.site
        super().__init__(*args, **kwargs)

    @classmethod
    def available(cls, deviation: Deviation) -> bool:
        return deviation.status in cls.statuses


class DeviationEditForm(DeviationForm):
    """Describe the tracker's draft, or change an open deviation (with the reason for change)."""

    title = "Describe and follow up"
    button = "Save"
    aliases = {"reported_to_irb_at": "reported_to_irb_on"}

    description = text_area("What happened, and why", required=False)
    importance = forms.ChoiceField(
        label="Importance", choices=DeviationImportance.choices, widget=forms.RadioSelect
    )
    importance_reason = text_area(
        "Why it is (or is not) important", max_length=IMPORTANCE_REASON_MAX
    )
    corrective_action = text_area("Corrective action", required=False)
    preventive_action = text_area("Preventive action", required=False)
    reported_to_irb_on = date_field("Reported to the IRB on", required=False)
    reported_to_irb_time = time_field("at (site time)", required=False)
    reason = reason_field(
        "Reason for the change (kept in the history)",
        required=False,
        help_text="Needed once the deviation is open; not when describing the tracker's draft.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        d = self.deviation
        reported = d.reported_to_irb_at.astimezone(self.site.tz) if d.reported_to_irb_at else None
        self.initial = {
            "description": d.description,
            "importance": d.importance,
            "importance_reason": d.importance_reason,
            "corrective_action": d.corrective_action,
            "preventive_action": d.preventive_action,
            "reported_to_irb_on": reported.date() if reported else None,
            "reported_to_irb_time": reported.time().replace(second=0) if reported else None,
            **self.initial,
        }
        if d.status == DeviationStatus.DRAFT:
            del self.fields["reason"]

    def clean(self):
        data = super().clean()
        day, time = data.get("reported_to_irb_on"), data.get("reported_to_irb_time")
        if day and time is None and "reported_to_irb_time" not in self.errors:
            self.add_error("reported_to_irb_time", "Enter the time it was reported.")
        if time and day is None and "reported_to_irb_on" not in self.errors:
            self.add_error("reported_to_irb_on", "Enter the date it was reported.")
        return data

    def perform(self):
        return self.save_with(self._edit)

    def _edit(self):
        data = self.cleaned_data
        day, time = data["reported_to_irb_on"], data["reported_to_irb_time"]
        reported = at(day, time, self.site.tz, "reported_to_irb_time") if day else None
        return services.deviation_edit(
            self.deviation,
            by=self.user,
            reason=data.get("reason", ""),
            description=data["description"],
            importance=data["importance"],
            importance_reason=data["importance_reason"],
            corrective_action=data["corrective_action"],
            preventive_action=data["preventive_action"],
            reported_to_irb_at=reported,
        )


class DeviationOpenForm(DeviationForm):
    title = "Open"
    button = "Open the deviation"
    done = "opened"
    statuses = (DeviationStatus.DRAFT,)

    def perform(self):
        return self.save_with(lambda: services.deviation_open(self.deviation, by=self.user))


class DeviationCloseForm(SignatureFormPart, DeviationForm):
    """Closing an important deviation is an investigator's signature ("deviation reviewed"):
    the password is asked only then."""

    title = "Close"
    button = "Close the deviation"
    done = "closed"
    statuses = (DeviationStatus.OPEN,)
    signature_meaning = SignatureMeaning.DEVIATION_REVIEWED
    field_order = ["corrective_action", PASSWORD_FIELD]

    corrective_action = text_area("Corrective action taken")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.setdefault("corrective_action", self.deviation.corrective_action)
        if self.deviation.importance != DeviationImportance.IMPORTANT:
            del self.fields[PASSWORD_FIELD]
        else:
            self.button = "Sign and close the deviation"

    def perform(self):
        return self.save_with(
            lambda: services.deviation_close(
                self.deviation,
                by=self.user,
                corrective_action=self.cleaned_data["corrective_action"],
                password=self.cleaned_data.get(PASSWORD_FIELD, ""),
            )
        )


class DeviationWithdrawForm(DeviationForm):
    title = "Withdraw"
    button = "Withdraw: not a deviation"
    done = "withdrawn"

    reason = forms.CharField(label="Why it is not a deviation", max_length=IMPORTANCE_REASON_MAX)

    def perform(self):
        return self.save_with(
            lambda: services.deviation_withdraw(
                self.deviation, by=self.user, reason=self.cleaned_data["reason"]
            )
        )


DEVIATION_FORMS: dict[str, type[DeviationForm]] = {
    "edit": DeviationEditForm,
    "open": DeviationOpenForm,
    "close": DeviationCloseForm,
    "withdraw": DeviationWithdrawForm,
}


class VisitDateCorrectForm(ServiceForm):
    """Correct the date of a visit recorded done: into its window withdraws its out-of-window
    deviation; out of it drafts one."""

    actual_date = date_field("Corrected date of the visit")
    reason = reason_field("Reason for the correction (kept in the history)")

    def __init__(self, *args, visit, user, **kwargs):
        self.visit, self.user = visit, user
        self.site = visit.participant.site
        kwargs.setdefault("initial", {"actual_date": visit.actual_date})
        super().__init__(*args, **kwargs)

    def perform(self):
        data = self.cleaned_data
        return self.save_with(
            lambda: services.visit_date_correct(
                self.visit, actual_date=data["actual_date"], reason=data["reason"], by=self.user
            )
        )
