"""What every service form shares: date/time/text fields, ServiceForm and its error display.

`date_field` is the one place forms get a date: a real calendar date (DATE_INVALID otherwise) in
the trial's plausible range (participants.services.dates, the rule the services apply too).
`text_area` holds at most TEXT_MAX characters unless told less (its column's length).
"""

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError

from participants.audit import AUDIT_REASON_MAX
from participants.services.dates import PlausibleDate, validate_plausible_date
from schedule.windows import local_time_problem

DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%Y-%m-%d"]
TIME_FORMATS = ["%H:%M", "%H:%M:%S"]
YES_NO = [("yes", "Yes"), ("no", "No")]
DATE_INVALID = "Enter a real calendar date, e.g. 2026-03-10"
# A free text kept in a TextField (reasons, notes): long enough for any reason, bounded all the same.
TEXT_MAX = 2000


def date_field(label, **kwargs):
    return forms.DateField(
        label=label,
        input_formats=DATE_FORMATS,
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
        validators=[validate_plausible_date, *kwargs.pop("validators", [])],
        error_messages={"invalid": DATE_INVALID, **kwargs.pop("error_messages", {})},
        **kwargs,
    )


def time_field(label, **kwargs):
    return forms.TimeField(
        label=label,
        input_formats=TIME_FORMATS,
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
        **kwargs,
    )


def text_area(label, **kwargs):
    kwargs.setdefault("max_length", TEXT_MAX)
    return forms.CharField(label=label, widget=forms.Textarea(attrs={"rows": 2}), **kwargs)


def reason_for_change_field():
    """The reason asked when recorded data changes (participants.audit.reason_for_change): short
    enough to be kept whole in the history row."""
    return forms.CharField(
        label="Reason for the change",
        max_length=AUDIT_REASON_MAX,
        required=False,
        help_text=f"Needed when a recorded value changes; kept in the history "
        f"(at most {AUDIT_REASON_MAX} characters).",
    )


def add_service_error(form: forms.Form, error: ValidationError, aliases: dict[str, str]) -> None:
    """Show a service's refusal on the form: next to the field it names, else at the top."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            field = aliases.get(name, name)
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


class ServiceForm(forms.Form):
    """A form whose `perform()` calls one service. `aliases` maps the service's field names to
    this form's (the services speak of "infused_at", the form asks for a time)."""

    aliases: dict[str, str] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        site = self.dates_site()
        if site is not None:
            for field in self.fields.values():
                field.validators = [
                    PlausibleDate(site) if isinstance(v, PlausibleDate) else v
                    for v in field.validators
                ]

    def dates_site(self):
        """The site whose today bounds this form's dates (None: the latest today anywhere)."""
        return getattr(self, "site", None)

    def save_with(self, call):
        """Run `call()`; on refusal put its message on the form and return None."""
        try:
            return call()
        except ValidationError as error:
            add_service_error(self, error, self.aliases)
            return None


def at(day: dt.date, time: dt.time, tz, field: str | None = None) -> dt.datetime:
    """The instant a site-local date and time name. A time that does not exist or happens twice
    (a daylight-saving change) is refused, under `field`: call it inside `save_with`."""
    problem = local_time_problem(day, time, tz)
    if problem:
        raise ValidationError({field: problem} if field else problem)
    return dt.datetime.combine(day, time).replace(tzinfo=tz)
