"""Forms for adverse events: record one, and one form per action on an event (re-grade, serious or
not, resolve, report to the sponsor or the IRB). Like schedule/forms/: they collect input and call
a safety service; the service decides, and its refusal lands under the field it names (nothing is
saved, each service is one transaction). Dates and times are entered in the site's time zone.
"""

import datetime as dt

from django import forms
from django.utils import timezone

from participants.services.dates import site_today
from safety.ctcae import term_choices
from safety.models import ActionTaken, EventKind, Outcome, Relatedness, Seriousness
from safety.services import adverse_events, sae
from safety.services.checks import FATAL_GRADE, TERM_MAX
from schedule.forms.base import YES_NO, ServiceForm, at, date_field, text_area, time_field

GRADES = [
    (1, "1 – Mild"),
    (2, "2 – Moderate"),
    (3, "3 – Severe or medically significant"),
    (4, "4 – Life-threatening"),
    (5, "5 – Death related to the event"),
]
EXPECTED = [("", "Not assessed yet"), ("yes", "Expected"), ("no", "Unexpected")]
# At resolution the event has recovered one way or another; a fatal end is recorded with the death.
RESOLVED_OUTCOMES = [
    (value, label)
    for value, label in Outcome.choices
    if value not in (Outcome.NOT_RECOVERED, Outcome.FATAL)
]


def grade_field(label: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        choices=[("", "—")] + GRADES,
        coerce=int,
        error_messages={"required": "Choose the CTCAE grade."},
    )


def criteria_field() -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label="Seriousness criteria (ICH E2A)",
        choices=Seriousness.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )


class SiteTimeForm(ServiceForm):
    """A form whose dates and times are the site's wall clock; today and now as the defaults."""

    title = ""
    explanation = ""
    done = ""  # the message after saving reads "<reference> <done>."

    def __init__(self, *args, site, user, **kwargs):
        self.site, self.user, self.tz = site, user, site.tz
        now = timezone.now().astimezone(self.tz).time().replace(second=0, microsecond=0)
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if isinstance(field, forms.DateField) and field.required:
                self.initial.setdefault(name, site_today(site))
            elif isinstance(field, forms.TimeField) and field.required:
                self.initial.setdefault(name, now)

    def instant(self, day_field: str, time_field_name: str) -> dt.datetime | None:
        day, time = self.cleaned_data.get(day_field), self.cleaned_data.get(time_field_name)
        return at(day, time, self.tz, time_field_name) if day and time else None

    def call(self, data):
        raise NotImplementedError

    def perform(self):
        """The service's result, or None when it refused (its messages are on the form)."""
        return self.save_with(lambda: self.call(self.cleaned_data))


class AdverseEventForm(SiteTimeForm):
    """Record an adverse event (safety.services.adverse_events.ae_record)."""

    title = "Record an adverse event"
    done = "recorded"
    explanation = (
        "A serious event starts the SAE clock from when the site became aware of it: the "
        "sponsor is due 24 hours later, the IRB after the site's business days."
    )

    ctcae_term = forms.ChoiceField(label="CTCAE v5 term", choices=term_choices, required=False)
    term = forms.CharField(
        label="Description (the investigator's words)",
        max_length=TERM_MAX,
        widget=forms.TextInput(attrs={"class": "wide"}),
        error_messages={"required": "Describe the event as the investigator does."},
    )
    onset_date = date_field("Onset date")
    grade = grade_field("Grade (CTCAE v5)")
    serious = forms.BooleanField(label="Serious (SAE)", required=False)
    seriousness_criteria = criteria_field()
    related_to_product = forms.ChoiceField(
        label="Related to the product (Descartes-08)", choices=Relatedness.choices
    )
    related_to_leukapheresis = forms.ChoiceField(
        label="Related to the leukapheresis", choices=Relatedness.choices
    )
    expected = forms.TypedChoiceField(
        label="Expected",
        choices=EXPECTED,
        coerce=lambda value: value == "yes",
        empty_value=None,
        required=False,
    )
    action_taken = forms.ChoiceField(label="Action taken", choices=ActionTaken.choices)
    outcome = forms.ChoiceField(label="Outcome", choices=Outcome.choices)
    aware_on = date_field("Site aware on")
    aware_time = time_field("Time (site time)")

    aliases = {"aware_at": "aware_on"}

    def __init__(self, *args, participant, user, **kwargs):
        self.participant = participant
        super().__init__(*args, site=participant.site, user=user, **kwargs)
        self.fields["onset_date"].error_messages["required"] = "Give the onset date."

    def call(self, data):
        values = {
            name: data[name]
            for name in (
                "term",
                "ctcae_term",
                "onset_date",
                "grade",
                "serious",
                "seriousness_criteria",
                "related_to_product",
                "related_to_leukapheresis",
                "expected",
                "action_taken",
                "outcome",
            )
        }
        return adverse_events.ae_record(
            self.participant,
            **values,
            kind=EventKind.AE,
            aware_at=self.instant("aware_on", "aware_time"),
            by=self.user,
        )


class PregnancyForm(SiteTimeForm):
    """Record a pregnancy in a participant (safety.services.sae.pregnancy_record): reported like
    an SAE, so the same 24-hour clock starts from when the site became aware."""

    title = "Record a pregnancy"
    done = "recorded (pregnancy: the SAE clock runs)"
    explanation = (
        "A pregnancy is reported like a serious adverse event: the sponsor is due 24 hours after "
        "the site became aware, the IRB after the site's business days."
    )

    onset_date = date_field("Estimated date of conception (or of the positive test)")
    aware_on = date_field("Site aware on")
    aware_time = time_field("Time (site time)")

    aliases = {"aware_at": "aware_on"}

    def __init__(self, *args, participant, user, **kwargs):
        self.participant = participant
        super().__init__(*args, site=participant.site, user=user, **kwargs)

    def call(self, data):
        return sae.pregnancy_record(
            self.participant,
            onset_date=data["onset_date"],
            aware_at=self.instant("aware_on", "aware_time"),
            by=self.user,
        )


class EventForm(SiteTimeForm):
    """One action on an existing event. Subclasses set `title`, `available()` and `call()`."""

    def __init__(self, *args, event, user, **kwargs):
        self.event = event
        super().__init__(*args, site=event.participant.site, user=user, **kwargs)

    @classmethod
    def available(cls, event) -> bool:
        raise NotImplementedError


def _open_and_not_fatal(event) -> bool:
    return event.resolved_on is None and event.grade != FATAL_GRADE


class RegradeForm(EventForm):
    title = "Re-grade"
    done = "re-graded"
    explanation = "A new grading is added; every earlier grading stays with who, when and why."
    grade = grade_field("New grade (CTCAE v5)")
    assessed_on = date_field("Assessed on")
    assessed_time = time_field("Time (site time)")
    reason = text_area("Why the grade changed", required=False)

    aliases = {"assessed_at": "assessed_on"}

    @classmethod
    def available(cls, event) -> bool:
        return _open_and_not_fatal(event)

    def call(self, data):
        return adverse_events.ae_regrade(
            self.event,
            grade=data["grade"],
            assessed_at=self.instant("assessed_on", "assessed_time"),
            reason=data["reason"],
            by=self.user,
        )


class SeriousnessForm(EventForm):
    title = "Serious or not"
    done = "seriousness updated"
    explanation = (
        "An event that becomes serious starts its SAE clock from when the site learned it is "
        "serious (now, unless you give the time). One that is no longer serious leaves the clock."
    )
    serious = forms.TypedChoiceField(
        label="Serious (SAE)", choices=YES_NO, coerce=lambda value: value == "yes"
    )
    seriousness_criteria = criteria_field()
    aware_on = date_field("Site learned it is serious on (if it becomes serious)", required=False)
    aware_time = time_field("Time (site time)", required=False)

    aliases = {"aware_at": "aware_on"}

    def __init__(self, *args, event, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "serious": "yes" if event.serious else "no",
                "seriousness_criteria": event.seriousness_criteria,
            },
        )
        super().__init__(*args, event=event, **kwargs)

    @classmethod
    def available(cls, event) -> bool:
        return event.grade != FATAL_GRADE

    def clean(self):
        cleaned = super().clean()
        # Half an instant is no instant: both, or neither (the service then takes now).
        if bool(cleaned.get("aware_on")) != bool(cleaned.get("aware_time")):
            self.add_error("aware_time", "Give both the date and the time, or leave both empty.")
        return cleaned

    def call(self, data):
        return adverse_events.ae_update_seriousness(
            self.event,
            serious=data["serious"],
            seriousness_criteria=data["seriousness_criteria"],
            aware_at=self.instant("aware_on", "aware_time"),
            by=self.user,
        )


class ResolveForm(EventForm):
    title = "Resolve"
    done = "resolved"
    explanation = "The event ends: it leaves the follow-up list. A death is recorded as a status."
    on = date_field("Resolved on")
    outcome = forms.ChoiceField(label="Outcome", choices=RESOLVED_OUTCOMES)

    @classmethod
    def available(cls, event) -> bool:
        return _open_and_not_fatal(event)

    def call(self, data):
        return adverse_events.ae_resolve(
            self.event, on=data["on"], outcome=data["outcome"], by=self.user
        )


class ReportForm(EventForm):
    """When the SAE report was sent; the clock keeps how late it was."""

    reported_on = date_field("Reported on")
    reported_time = time_field("Time (site time)")
    aliases = {"at": "reported_on"}
    field = ""  # the event's field this report fills

    @classmethod
    def available(cls, event) -> bool:
        return event.serious and getattr(event, cls.field) is None


class SponsorReportForm(ReportForm):
    title = "Report to sponsor"
    done = "reported to the sponsor"
    explanation = "The SAE report to the sponsor, due 24 hours after the site became aware."
    field = "sponsor_reported_at"

    def call(self, data):
        at_ = self.instant("reported_on", "reported_time")
        return sae.sae_report_to_sponsor(self.event, at=at_, by=self.user)


class IrbReportForm(ReportForm):
    title = "Report to IRB"
    done = "reported to the IRB"
    explanation = "The SAE report to the IRB, due by the end of its business-day deadline."
    field = "irb_reported_at"

    def call(self, data):
        at_ = self.instant("reported_on", "reported_time")
        return sae.sae_report_to_irb(self.event, at=at_, by=self.user)


# The per-event pages (dashboard:ae_action), in the order the participant page offers them.
EVENT_FORMS: dict[str, type[EventForm]] = {
    "regrade": RegradeForm,
    "seriousness": SeriousnessForm,
    "resolve": ResolveForm,
    "report-sponsor": SponsorReportForm,
    "report-irb": IrbReportForm,
}


def available_actions(event) -> list[tuple[str, str]]:
    """(slug, title) of the actions that can do something now; the services refuse the rest."""
    return [(slug, form.title) for slug, form in EVENT_FORMS.items() if form.available(event)]
