"""The form of "My notifications": one's own reminder emails (participants.staff decides)."""

from django import forms
from django.core.exceptions import ValidationError

from participants.models import ReminderMode
from participants.staff import notifications_set, reminder_day_choices, reminder_days_of


class NotificationSettingsForm(forms.Form):
    reminder_mode = forms.ChoiceField(
        label="Visit reminders come as",
        choices=ReminderMode.choices,
        widget=forms.RadioSelect,
        help_text="The daily digest goes out at 08:00 site time, one per site you cover.",
    )
    reminder_days = forms.TypedMultipleChoiceField(
        label="Remind me this many days before a visit's target date",
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text="A reminder also comes when a visit's window closes tomorrow.",
        error_messages={"required": "Choose at least one day."},
    )

    def __init__(self, *args, user, **kwargs):
        self.user = user
        profile = user.staff_profile
        kwargs.setdefault(
            "initial",
            {"reminder_mode": profile.reminder_mode, "reminder_days": reminder_days_of(profile)},
        )
        super().__init__(*args, **kwargs)
        self.fields["reminder_days"].choices = [
            (n, f"{n} day{'s' if n != 1 else ''} before") for n in reminder_day_choices()
        ]

    def save(self):
        """The profile saved, or None with the service's refusal on the form."""
        try:
            return notifications_set(
                self.user,
                reminder_mode=self.cleaned_data["reminder_mode"],
                reminder_days=self.cleaned_data["reminder_days"],
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
            return None
