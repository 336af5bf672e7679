"""Forms for the safety records coordinators enter. Like schedule/forms.py: they collect input and
call a service; the service decides, and its refusal is shown under the field it names (or at the
top of the form). Each service runs in one transaction, so nothing is saved when it refuses.
"""

from django import forms

from participants.services.dates import site_today
from safety.grading import LAB_UNITS
from safety.services import labs
from schedule.forms import ServiceForm, date_field, time_field
from schedule.forms.base import at, reason_for_change_field
from schedule.models import AssessmentStatus

# The tests as coordinators name them (the lab report's words, the code in brackets).
LAB_LABELS = {
    "ANC": "Neutrophils (ANC)",
    "LYMPH": "Lymphocytes",
    "PLT": "Platelets",
    "HGB": "Haemoglobin",
    "WBC": "White blood cells (WBC)",
    "IGG": "Immunoglobulin G (IgG)",
}


class LabValuesForm(ServiceForm):
    """The values of one lab panel (CBC or IgG), each with its unit, and when the sample was
    resulted (site time). Fields per test: "<CODE>_value" and "<CODE>_unit"."""

    completed_on = date_field("Date of the result")
    completed_time = time_field("Time (site time)")

    aliases = {"completed_at": "completed_time"}  # "result time" refusals, as AssessmentForm

    def __init__(self, *args, assessment, user, **kwargs):
        self.assessment, self.user = assessment, user
        self.codes = labs.LAB_PANELS.get(assessment.definition.code)
        if self.codes is None:
            raise ValueError(f"{assessment} is not a lab panel.")
        site = assessment.visit.participant.site
        self.tz = site.tz
        kwargs.setdefault("initial", self._initial(site))
        super().__init__(*args, **kwargs)
        for code in self.codes:
            self.fields[f"{code}_value"] = forms.DecimalField(
                label=LAB_LABELS[code],
                max_digits=12,
                decimal_places=labs.STORED_PLACES,
                error_messages={"required": f"Enter the {LAB_LABELS[code].lower()} value."},
            )
            self.fields[f"{code}_unit"] = forms.ChoiceField(
                label=f"{LAB_LABELS[code]}: unit",
                choices=[(u, labs.UNIT_LABELS.get(u, u)) for u in LAB_UNITS[code]],
            )
        if assessment.status == AssessmentStatus.DONE:
            self.fields["reason"] = reason_for_change_field()
        # The values first, then when they were resulted (and why they change).
        self.order_fields(
            [f"{code}_{part}" for code in self.codes for part in ("value", "unit")]
            + ["completed_on", "completed_time", "reason"]
        )

    def dates_site(self):
        return self.assessment.visit.participant.site

    def _initial(self, site) -> dict:
        """Today at the site for a new entry; the earlier entry when values are re-entered."""
        initial = {f"{code}_unit": LAB_UNITS[code][0] for code in self.codes}
        # Recorded late, a result belongs to the day of its visit, not to today.
        initial["completed_on"] = self.assessment.visit.actual_date or site_today(site)
        for row in self.assessment.lab_results.all():
            initial[f"{row.code}_value"] = labs.plain(row.entered_value)
            initial[f"{row.code}_unit"] = row.entered_unit
        if self.assessment.completed_at:
            local = self.assessment.completed_at.astimezone(self.tz)
            initial["completed_on"] = local.date()
            initial["completed_time"] = local.time().replace(second=0, microsecond=0)
        return initial

    def perform(self):
        """The recorded assessment, or None when the service refused (errors on the form)."""
        data = self.cleaned_data
        values = {code: (data[f"{code}_value"], data[f"{code}_unit"]) for code in self.codes}
        # Site-local wall time, as the schedule's AssessmentForm reads it (a time a clock change
        # skips or repeats is refused under the time field).
        return self.save_with(
            lambda: labs.lab_results_record(
                self.assessment,
                values=values,
                completed_at=at(
                    data["completed_on"], data["completed_time"], self.tz, "completed_time"
                ),
                by=self.user,
                reason=data.get("reason", ""),
            )
        )
