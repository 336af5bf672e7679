"""Recording an assessment's result."""

from django import forms

from participants.services.dates import site_today
from schedule import services
from schedule.forms.base import ServiceForm, at, date_field, reason_for_change_field, time_field
from schedule.models import AssessmentStatus


class AssessmentForm(ServiceForm):
    result = forms.CharField(
        label="Result", max_length=200, help_text="A value, or “normal”.", required=True
    )
    is_abnormal = forms.BooleanField(label="Abnormal", required=False)
    completed_on = date_field("Date of the result")
    completed_time = time_field("Time (site time)")

    # The services' "result time" refusals (future, before consent, before the infusion) go
    # under the time field, where the coordinator fixes them.
    aliases = {"completed_at": "completed_time"}

    def __init__(self, *args, assessment, user, **kwargs):
        self.assessment, self.user = assessment, user
        site = assessment.visit.participant.site
        self.tz = site.tz
        # Recorded late, a result belongs to the day of its visit, not to today.
        visit_day = assessment.visit.actual_date
        initial = {"completed_on": visit_day or site_today(site)}
        if assessment.completed_at:
            local = assessment.completed_at.astimezone(self.tz)
            initial = {
                "result": assessment.result,
                "is_abnormal": assessment.is_abnormal,
                "completed_on": local.date(),
                "completed_time": local.time().replace(second=0, microsecond=0),
            }
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.fields["result"].error_messages["required"] = (
            "Enter the result (a value, or “normal”)."
        )
        if assessment.status == AssessmentStatus.DONE:
            self.fields["reason"] = reason_for_change_field()

    def dates_site(self):
        return self.assessment.visit.participant.site

    def perform(self):
        data = self.cleaned_data
        return self.save_with(
            lambda: services.assessment_record(
                self.assessment,
                result=data["result"],
                is_abnormal=data["is_abnormal"],
                completed_at=at(
                    data["completed_on"], data["completed_time"], self.tz, "completed_time"
                ),
                by=self.user,
                reason=data.get("reason", ""),
            )
        )
