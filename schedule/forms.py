"""Forms for what coordinators record, shared by the dashboard and the admin. They collect input
and call the services; the services decide. A service's ValidationError is shown next to the field it names (or at the top of the
form), and since each service runs in one transaction nothing is saved when it refuses.
"""

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError

from participants import eligibility
from participants.models import Participant, Site, Status
from participants.selectors import investigators_of
from participants.services.dates import site_today
from participants.transitions import is_allowed
from schedule import services
from schedule.models import VisitKind

DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d %b %Y"]
TIME_FORMATS = ["%H:%M", "%H:%M:%S"]
YES_NO = [("yes", "Yes"), ("no", "No")]


def date_field(label, **kwargs):
    return forms.DateField(
        label=label,
        input_formats=DATE_FORMATS,
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
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
    return forms.CharField(label=label, widget=forms.Textarea(attrs={"rows": 2}), **kwargs)


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

    def save_with(self, call):
        """Run `call()`; on refusal put its message on the form and return None."""
        try:
            return call()
        except ValidationError as error:
            add_service_error(self, error, self.aliases)
            return None


def _at(day: dt.date, time: dt.time, tz) -> dt.datetime:
    return dt.datetime.combine(day, time).replace(tzinfo=tz)


# --- Visits and assessments ------------------------------------------------------------------------


class VisitDoneForm(ServiceForm):
    actual_date = date_field("Date of the visit")
    started_time = time_field("Time the infusion started (site time)", required=False)
    dose = forms.CharField(label="Dose", max_length=60, required=False)
    lot = forms.CharField(label="Lot number", max_length=60, required=False)
    product_id = forms.CharField(
        label="Product (chain-of-identity) id", max_length=60, required=False
    )
    adequate_collection = forms.ChoiceField(
        label="Adequate collection?", choices=YES_NO, widget=forms.RadioSelect, required=False
    )

    aliases = {
        "started_at": "started_time",
        "infused_at": "started_time",
        "collected_on": "actual_date",
        "first_infusion_on": "actual_date",
    }

    def __init__(self, *args, visit, user, **kwargs):
        self.visit, self.user = visit, user
        self.tz = visit.participant.site.tz
        kwargs.setdefault("initial", {"actual_date": site_today(visit.participant.site)})
        super().__init__(*args, **kwargs)
        kind = visit.definition.kind
        infusion = kind in (VisitKind.FIRST_INFUSION, VisitKind.INFUSION)
        if infusion:
            for name in ("started_time", "dose", "lot"):
                self.fields[name].required = True
        else:
            for name in ("started_time", "dose", "lot"):
                del self.fields[name]
        if kind == VisitKind.APHERESIS:
            self.fields["product_id"].required = True
            self.fields["adequate_collection"].required = True
        else:
            del self.fields["product_id"], self.fields["adequate_collection"]

    def perform(self):
        data = self.cleaned_data
        extra = {}
        if "started_time" in data:
            extra = {
                "started_at": _at(data["actual_date"], data["started_time"], self.tz),
                "dose": data["dose"],
                "lot": data["lot"],
            }
        if "product_id" in data:
            extra = {
                "product_id": data["product_id"],
                "adequate_collection": data["adequate_collection"] == "yes",
            }
        return self.save_with(
            lambda: services.visit_record_done(
                self.visit, actual_date=data["actual_date"], by=self.user, **extra
            )
        )


class VisitMissedForm(ServiceForm):
    reason = text_area("Why was the visit missed?")

    def __init__(self, *args, visit, user, **kwargs):
        self.visit, self.user = visit, user
        super().__init__(*args, **kwargs)

    def perform(self):
        return self.save_with(
            lambda: services.visit_mark_missed(
                self.visit, reason=self.cleaned_data["reason"], by=self.user
            )
        )


class AssessmentForm(ServiceForm):
    result = forms.CharField(
        label="Result", max_length=200, help_text="A value, or “normal”.", required=True
    )
    is_abnormal = forms.BooleanField(label="Abnormal", required=False)
    completed_on = date_field("Date of the result")
    completed_time = time_field("Time (site time)")

    aliases = {"completed_at": "completed_on"}

    def __init__(self, *args, assessment, user, **kwargs):
        self.assessment, self.user = assessment, user
        site = assessment.visit.participant.site
        self.tz = site.tz
        initial = {"completed_on": site_today(site)}
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

    def perform(self):
        data = self.cleaned_data
        return self.save_with(
            lambda: services.assessment_record(
                self.assessment,
                result=data["result"],
                is_abnormal=data["is_abnormal"],
                completed_at=_at(data["completed_on"], data["completed_time"], self.tz),
                by=self.user,
            )
        )


# --- Status changes ------------------------------------------------------------------------------


class ActionForm(ServiceForm):
    """One status change of a participant. Subclasses set `title`, `available()` and `call()`."""

    title = ""
    explanation = ""

    def __init__(self, *args, participant: Participant, user, **kwargs):
        self.participant, self.user = participant, user
        self.today = site_today(participant.site)
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if isinstance(field, forms.DateField) and name not in self.initial:
                self.initial.setdefault(name, self.today)

    @classmethod
    def available(cls, participant: Participant) -> bool:
        raise NotImplementedError

    def call(self, data):
        raise NotImplementedError

    def perform(self):
        """The service's result (a list of warnings for some), or None when refused."""
        result = self.save_with(lambda: self.call(self.cleaned_data) or [])
        return result


class PlanInfusionForm(ActionForm):
    title = "Plan or move the first infusion (D0)"
    explanation = "Lays out the infusion and follow-up visits from D0; moving D0 moves every visit not yet done."
    planned_on = date_field("Planned first-infusion date")
    reason = text_area("Reason (required when D0 moves)", required=False)
    aliases = {"first_infusion_on": "planned_on"}

    @classmethod
    def available(cls, participant):
        return participant.status in (
            Status.ENROLLED,
            Status.APHERESIS_DONE,
            Status.MANUFACTURING_FAILED,
        )

    def call(self, data):
        return services.first_infusion_plan(
            self.participant, planned_on=data["planned_on"], reason=data["reason"], by=self.user
        )


class EnrollForm(ActionForm):
    title = "Enroll (eligibility sign-off)"
    explanation = (
        "The investigator signs off in person, logged in as themselves: every criterion "
        "answered; a study id is assigned."
    )
    assessed_on = date_field("Eligibility assessed on")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for c in eligibility.criteria():
            choices = (
                [("yes", "Met"), ("no", "Not met")]
                if c.kind == eligibility.INCLUSION
                else [("yes", "Applies"), ("no", "Does not apply")]
            )
            self.fields[f"crit_{c.code}"] = forms.ChoiceField(
                label=f"{c.code}: {c.text}",
                choices=choices,
                widget=forms.RadioSelect,
                error_messages={"required": "Answer this criterion."},
            )

    def clean(self):
        cleaned = super().clean()
        if not investigators_of(self.participant.site).filter(pk=self.user.pk).exists():
            raise forms.ValidationError(
                f"Only an investigator of {self.participant.site.code} signs off eligibility: "
                f"ask the investigator to log in and enroll {self.participant.label}."
            )
        return cleaned

    @classmethod
    def available(cls, participant):
        return is_allowed("enroll", participant.status)

    def call(self, data):
        answers = {c.code: data[f"crit_{c.code}"] == "yes" for c in eligibility.criteria()}
        services.participant_enroll(
            self.participant,
            answers=answers,
            assessed_on=data["assessed_on"],
            signed_off_by=self.user,
            by=self.user,
        )


class ScreenFailForm(ActionForm):
    title = "Screen failure"
    on = date_field("Date")
    failed_criteria = forms.MultipleChoiceField(
        label="Criteria not met",
        choices=[(c.code, f"{c.code}: {c.text}") for c in eligibility.criteria()],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    rescreen_allowed = forms.BooleanField(label="Re-screen allowed", required=False)
    reason = text_area("Reason", required=False)

    @classmethod
    def available(cls, participant):
        return is_allowed("screen_fail", participant.status)

    def call(self, data):
        services.participant_screen_fail(
            self.participant,
            on=data["on"],
            failed_criteria=data["failed_criteria"],
            rescreen_allowed=data["rescreen_allowed"],
            reason=data["reason"],
            by=self.user,
        )


class ManufacturingFailForm(ActionForm):
    title = "Manufacturing failed"
    explanation = "A repeat leukapheresis visit is laid out."
    on = date_field("Date")
    reason = text_area("Reason")

    @classmethod
    def available(cls, participant):
        return is_allowed("manufacturing_fail", participant.status)

    def call(self, data):
        services.participant_manufacturing_fail(
            self.participant, on=data["on"], reason=data["reason"], by=self.user
        )


class StopTreatmentForm(ActionForm):
    title = "Stop treatment early"
    explanation = "The participant stays in the study and moves to follow-up; remaining infusions are cancelled."
    on = date_field("Date treatment stopped")
    reason = text_area("Reason")

    @classmethod
    def available(cls, participant):
        return is_allowed("end_treatment", participant.status)

    def call(self, data):
        services.treatment_stop_early(
            self.participant, on=data["on"], reason=data["reason"], by=self.user
        )


class WithdrawForm(ActionForm):
    title = "Withdraw from the study"
    explanation = "Future visits are cancelled and an early-termination visit is laid out."
    on = date_field("Date of withdrawal")
    reason = text_area("Reason")
    safety_follow_up_continues = forms.ChoiceField(
        label="Does safety follow-up continue?", choices=YES_NO, widget=forms.RadioSelect
    )

    @classmethod
    def available(cls, participant):
        return is_allowed("withdraw", participant.status)

    def call(self, data):
        services.participant_withdraw(
            self.participant,
            on=data["on"],
            reason=data["reason"],
            safety_follow_up_continues=data["safety_follow_up_continues"] == "yes",
            by=self.user,
        )


class LostToFollowUpForm(ActionForm):
    title = "Lost to follow-up"
    explanation = "At least three documented contact attempts after the last contact."
    last_contact_on = date_field("Last contact")
    attempt_1 = date_field("Contact attempt 1")
    attempt_2 = date_field("Contact attempt 2")
    attempt_3 = date_field("Contact attempt 3")
    attempt_4 = date_field("Contact attempt 4", required=False)
    reason = text_area("Notes", required=False)
    aliases = {"contact_attempts": "attempt_1"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("attempt_1", "attempt_2", "attempt_3", "attempt_4", "last_contact_on"):
            self.initial.pop(name, None)

    @classmethod
    def available(cls, participant):
        return is_allowed("lose_to_follow_up", participant.status)

    def call(self, data):
        attempts = [data[f"attempt_{n}"] for n in range(1, 5) if data.get(f"attempt_{n}")]
        services.participant_lose_to_follow_up(
            self.participant,
            last_contact_on=data["last_contact_on"],
            contact_attempts=attempts,
            reason=data["reason"],
            by=self.user,
        )


class ReinstateForm(ActionForm):
    title = "Reinstate (contact re-established)"
    on = date_field("Date of contact")
    reason = text_area("Notes", required=False)

    @classmethod
    def available(cls, participant):
        return is_allowed("reinstate", participant.status)

    def call(self, data):
        services.participant_reinstate(
            self.participant, on=data["on"], reason=data["reason"], by=self.user
        )


class DeathForm(ActionForm):
    title = "Record death"
    on = date_field("Date of death")
    cause = forms.CharField(label="Cause (or “unknown”)", max_length=200)
    sae_reference = forms.CharField(label="SAE report id", max_length=60)

    @classmethod
    def available(cls, participant):
        return is_allowed("die", participant.status)

    def call(self, data):
        services.participant_die(
            self.participant,
            on=data["on"],
            cause=data["cause"],
            sae_reference=data["sae_reference"],
            by=self.user,
        )


class UnscheduledVisitForm(ActionForm):
    title = "Add an unscheduled visit"
    explanation = "Vital signs and adverse events, on the day of the event."
    on = date_field("Visit date")
    reason = text_area("Reason")

    @classmethod
    def available(cls, participant):
        return participant.status not in (Status.SCREEN_FAILED, Status.COMPLETED, Status.DIED)

    def call(self, data):
        services.unscheduled_visit_add(
            self.participant, on=data["on"], reason=data["reason"], by=self.user
        )


class ConsentForm(ServiceForm):
    """Register a consent: a new screening starts and its visits are laid out."""

    title = "Register consent (start screening)"
    site = forms.ModelChoiceField(label="Site", queryset=Site.objects.none())
    consent_on = date_field("Consent signed on")
    consent_time = time_field("Time (site time)")
    consent_form_version = forms.CharField(label="Consent form version", max_length=40)
    age_at_consent = forms.IntegerField(
        label="Age at consent",
        min_value=18,
        max_value=120,
        error_messages={"min_value": "Participants must be 18 or older at consent."},
    )
    screening_number = forms.CharField(
        label="Screening number",
        max_length=20,
        required=False,
        help_text="Leave blank to number automatically.",
    )
    rescreen_of = forms.ModelChoiceField(
        label="Re-screen of",
        queryset=Participant.objects.none(),
        required=False,
        help_text="For a re-screen: the earlier failed screening of the same person.",
    )
    aliases = {"consent_at": "consent_on"}

    def __init__(self, *args, sites, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites
        self.fields["rescreen_of"].queryset = Participant.objects.filter(
            site__in=sites, status=Status.SCREEN_FAILED, rescreen_allowed=True
        )

    def perform(self):
        data = self.cleaned_data
        site = data["site"]
        return self.save_with(
            lambda: services.participant_consent(
                site=site,
                by=self.user,
                consent_at=_at(data["consent_on"], data["consent_time"], site.tz),
                consent_form_version=data["consent_form_version"],
                age_at_consent=data["age_at_consent"],
                screening_number=data["screening_number"],
                rescreen_of=data["rescreen_of"],
            )
        )


# The status changes offered on the participant page, in the order shown. Leukapheresis, the first
# infusion and completion are recorded through their visits instead.
ACTIONS: dict[str, type[ActionForm]] = {
    "plan-infusion": PlanInfusionForm,
    "enroll": EnrollForm,
    "screen-fail": ScreenFailForm,
    "manufacturing-fail": ManufacturingFailForm,
    "stop-treatment": StopTreatmentForm,
    "withdraw": WithdrawForm,
    "lost": LostToFollowUpForm,
    "reinstate": ReinstateForm,
    "death": DeathForm,
    "unscheduled-visit": UnscheduledVisitForm,
}


def actions_available(participant: Participant) -> list[tuple[str, type[ActionForm]]]:
    return [(slug, form) for slug, form in ACTIONS.items() if form.available(participant)]
