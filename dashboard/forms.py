"""Dashboard wrappers of the shared service forms (schedule/forms/): same fields and services,
messages worded for the coordinator where Django's defaults are vague."""

from django import forms

from schedule import services
from schedule.forms import ConsentForm, ServiceForm

TIME_INVALID = "Enter a time as HH:MM (for example 09:30)."


class RegisterConsentForm(ConsentForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["consent_time"].error_messages["invalid"] = TIME_INVALID
        self.fields["site"].error_messages["invalid_choice"] = (
            "Choose one of your own sites: you can register consents only there."
        )
        if self.fields["site"].queryset.count() == 1:
            self.initial.setdefault("site", self.fields["site"].queryset.first())


class AssessmentNotDoneForm(ServiceForm):
    """A pending assessment that was not done (a deviation), or does not apply to this
    participant where the protocol allows it. Calls schedule.services.assessment_not_done."""

    SUBMIT = "not_done"  # name of this form's submit button: the page holds two forms

    reason = forms.CharField(
        label="Reason",
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Give the reason it was not done or does not apply."},
    )
    not_applicable = forms.BooleanField(
        label="Not applicable (e.g. pregnancy test for a man)", required=False
    )

    def __init__(self, *args, assessment, user, **kwargs):
        self.assessment, self.user = assessment, user
        super().__init__(*args, **kwargs)
        if not assessment.definition.can_be_not_applicable:
            # Still offered so the refusal is explained, but say so before anyone ticks it.
            self.fields[
                "not_applicable"
            ].help_text = (
                f"The protocol does not allow {assessment.definition.code} to be not applicable."
            )

    def perform(self):
        data = self.cleaned_data
        return self.save_with(
            lambda: services.assessment_not_done(
                self.assessment,
                reason=data["reason"],
                not_applicable=data["not_applicable"],
                by=self.user,
            )
        )
