"""Dashboard wrappers of the shared service forms (schedule/forms.py): same fields and services,
messages worded for the coordinator where Django's defaults are vague."""

from schedule.forms import ConsentForm

DATE_INVALID = "Enter a real calendar date (for example 2026-03-10)."
TIME_INVALID = "Enter a time as HH:MM (for example 09:30)."


class RegisterConsentForm(ConsentForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["consent_on"].error_messages["invalid"] = DATE_INVALID
        self.fields["consent_time"].error_messages["invalid"] = TIME_INVALID
        self.fields["site"].error_messages["invalid_choice"] = (
            "Choose one of your own sites: you can register consents only there."
        )
        if self.fields["site"].queryset.count() == 1:
            self.initial.setdefault("site", self.fields["site"].queryset.first())
