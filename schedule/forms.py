"""Forms for what a coordinator records: each form checks its fields and calls one service.

Services raise ValidationError in the coordinator's words; `run_service` puts those messages next
to the field they name (or at the top of the form) so nothing is saved and the user sees why.
"""

import datetime as dt

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from participants.eligibility import INCLUSION, criteria
from participants.models import Participant, Site, StaffRole, Status
from schedule import services
from schedule.models import Assessment, Visit, VisitKind

DATE = forms.DateInput(attrs={"type": "date"})
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
YES_NO = [("", "—"), ("yes", "Yes"), ("no", "No")]


def at_site(site: Site, day: dt.date, time: dt.time | None) -> dt.datetime:
    """A date and time entered by a coordinator, in the site's own time zone."""
    return dt.datetime.combine(day, time or dt.time(12), tzinfo=site.tz)


def run_service(form: forms.Form, call) -> object | None:
    """Run `call()`; on ValidationError attach its messages to the form and return None."""
    try:
        return call()
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for field, errors in exc.error_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form.add_error(None, exc.messages)
        return None


class ServiceForm(forms.Form):
    """A form whose `apply(obj, user)` calls a service; subclasses define `call`."""

    title = ""

    def apply(self, obj, user):
        if not self.is_valid():
            return None
        return run_service(self, lambda: self.call(obj, user))

    def call(self, obj, user):  # pragma: no cover - each subclass defines it
        raise NotImplementedError


class ConsentForm(ServiceForm):
    title = "Register consent (start screening)"
    site = forms.ModelChoiceField(queryset=Site.objects.none())
    consent_date = forms.DateField(widget=DATE)
    consent_time = forms.TimeField(widget=TIME, help_text="Site local time.")
    consent_form_version = forms.CharField(max_length=40)
    age_at_consent = forms.IntegerField(min_value=18, max_value=120)
    screening_number = forms.CharField(
        max_length=20, required=False, help_text="Leave blank to number automatically."
    )
    rescreen_of = forms.ModelChoiceField(
        queryset=Participant.objects.none(),
        required=False,
        help_text="For a re-screen: the earlier failed screening of the same person.",
    )

    def __init__(self, *args, sites=None, **kwargs):
        super().__init__(*args, **kwargs)
        sites = sites if sites is not None else Site.objects.all()
        self.fields["site"].queryset = sites
        self.fields["rescreen_of"].queryset = Participant.objects.filter(
            site__in=sites, status=Status.SCREEN_FAILED, rescreen_allowed=True
        )

    def call(self, obj, user):
        d = self.cleaned_data
        return services.participant_consent(
            site=d["site"],
            by=user,
            consent_at=at_site(d["site"], d["consent_date"], d["consent_time"]),
            consent_form_version=d["consent_form_version"],
            age_at_consent=d["age_at_consent"],
            screening_number=d["screening_number"],
            rescreen_of=d["rescreen_of"],
        )

    def add_error(self, field, error):
        # The service names the combined consent_at; show it on the date the user typed.
        super().add_error("consent_date" if field == "consent_at" else field, error)


class ScreenFailForm(ServiceForm):
    title = "Record screen failure"
    on = forms.DateField(widget=DATE, label="Date")
    failed_criteria = forms.MultipleChoiceField(
        choices=[(c.code, f"{c.code}: {c.text}") for c in criteria()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    rescreen_allowed = forms.BooleanField(required=False)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def call(self, participant, user):
        return services.participant_screen_fail(participant, by=user, **self.cleaned_data)


class EnrollForm(ServiceForm):
    """The eligibility checklist: every criterion answered, signed off by an investigator."""

    title = "Confirm eligibility and enroll"
    assessed_on = forms.DateField(widget=DATE, label="Eligibility confirmed on")
    signed_off_by = forms.ModelChoiceField(queryset=get_user_model().objects.none())

    def __init__(self, *args, participant=None, **kwargs):
        super().__init__(*args, **kwargs)
        for c in criteria():
            label = "Met" if c.kind == INCLUSION else "Applies"
            self.fields[f"criterion_{c.code}"] = forms.ChoiceField(
                label=f"{c.code} ({c.kind}): {c.text} — {label}?",
                choices=YES_NO,
                error_messages={"required": f"Answer criterion {c.code}."},
            )
        investigators = get_user_model().objects.filter(staff_profile__role=StaffRole.INVESTIGATOR)
        if participant is not None:
            investigators = investigators.filter(staff_profile__sites=participant.site_id)
        self.fields["signed_off_by"].queryset = investigators

    def call(self, participant, user):
        d = self.cleaned_data
        answers = {c.code: d[f"criterion_{c.code}"] == "yes" for c in criteria()}
        return services.participant_enroll(
            participant,
            answers=answers,
            assessed_on=d["assessed_on"],
            signed_off_by=d["signed_off_by"],
            by=user,
        )


class PlanFirstInfusionForm(ServiceForm):
    title = "Plan or move the first infusion (D0)"
    planned_on = forms.DateField(widget=DATE, label="First infusion planned on")
    reason = forms.CharField(required=False, help_text="Required when moving a planned date.")

    def call(self, participant, user):
        return services.first_infusion_plan(participant, by=user, **self.cleaned_data)

    def add_error(self, field, error):
        super().add_error("planned_on" if field == "first_infusion_on" else field, error)


class ManufacturingFailForm(ServiceForm):
    title = "Record manufacturing failure"
    on = forms.DateField(widget=DATE, label="Date")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))

    def call(self, participant, user):
        return services.participant_manufacturing_fail(participant, by=user, **self.cleaned_data)


class StopTreatmentForm(ServiceForm):
    title = "Stop treatment early (stays in follow-up)"
    on = forms.DateField(widget=DATE, label="Date")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))

    def call(self, participant, user):
        return services.treatment_stop_early(participant, by=user, **self.cleaned_data)


class WithdrawForm(ServiceForm):
    title = "Withdraw from the study"
    on = forms.DateField(widget=DATE, label="Date")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    safety_follow_up_continues = forms.BooleanField(required=False)

    def call(self, participant, user):
        return services.participant_withdraw(participant, by=user, **self.cleaned_data)


class LostToFollowUpForm(ServiceForm):
    title = "Record lost to follow-up"
    last_contact_on = forms.DateField(widget=DATE)
    attempt_1 = forms.DateField(widget=DATE, label="Contact attempt 1")
    attempt_2 = forms.DateField(widget=DATE, label="Contact attempt 2")
    attempt_3 = forms.DateField(widget=DATE, label="Contact attempt 3")
    attempt_4 = forms.DateField(widget=DATE, label="Contact attempt 4", required=False)
    reason = forms.CharField(required=False)

    def call(self, participant, user):
        d = self.cleaned_data
        attempts = [d[f"attempt_{n}"] for n in range(1, 5) if d.get(f"attempt_{n}")]
        return services.participant_lose_to_follow_up(
            participant,
            last_contact_on=d["last_contact_on"],
            contact_attempts=attempts,
            reason=d["reason"],
            by=user,
        )

    def add_error(self, field, error):
        super().add_error("attempt_1" if field == "contact_attempts" else field, error)


class ReinstateForm(ServiceForm):
    title = "Reinstate (contact re-established)"
    on = forms.DateField(widget=DATE, label="Date")
    reason = forms.CharField(required=False)

    def call(self, participant, user):
        return services.participant_reinstate(participant, by=user, **self.cleaned_data)


class DeathForm(ServiceForm):
    title = "Record death"
    on = forms.DateField(widget=DATE, label="Date of death")
    cause = forms.CharField()
    sae_reference = forms.CharField(label="Linked SAE id")

    def call(self, participant, user):
        return services.participant_die(participant, by=user, **self.cleaned_data)


class UnscheduledVisitForm(ServiceForm):
    title = "Add an unscheduled visit"
    on = forms.DateField(widget=DATE, label="Visit date")
    reason = forms.CharField()

    def call(self, participant, user):
        return services.unscheduled_visit_add(participant, by=user, **self.cleaned_data)


# Forms a coordinator can open from a participant, by name. `when` says in which statuses the
# action makes sense; the services still enforce the rules.
PARTICIPANT_ACTIONS = {
    "enroll": (EnrollForm, {Status.SCREENING}),
    "screen_fail": (ScreenFailForm, {Status.SCREENING}),
    "plan_first_infusion": (
        PlanFirstInfusionForm,
        {Status.ENROLLED, Status.APHERESIS_DONE, Status.MANUFACTURING_FAILED},
    ),
    "manufacturing_fail": (ManufacturingFailForm, {Status.APHERESIS_DONE}),
    "stop_treatment": (StopTreatmentForm, {Status.IN_TREATMENT}),
    "withdraw": (
        WithdrawForm,
        {
            Status.SCREENING,
            Status.ENROLLED,
            Status.APHERESIS_DONE,
            Status.MANUFACTURING_FAILED,
            Status.IN_TREATMENT,
            Status.IN_FOLLOW_UP,
            Status.LOST_TO_FOLLOW_UP,
        },
    ),
    "lose_to_follow_up": (
        LostToFollowUpForm,
        {
            Status.SCREENING,
            Status.ENROLLED,
            Status.APHERESIS_DONE,
            Status.MANUFACTURING_FAILED,
            Status.IN_TREATMENT,
            Status.IN_FOLLOW_UP,
        },
    ),
    "reinstate": (ReinstateForm, {Status.LOST_TO_FOLLOW_UP}),
    "die": (
        DeathForm,
        {
            Status.SCREENING,
            Status.ENROLLED,
            Status.APHERESIS_DONE,
            Status.MANUFACTURING_FAILED,
            Status.IN_TREATMENT,
            Status.IN_FOLLOW_UP,
            Status.LOST_TO_FOLLOW_UP,
        },
    ),
    "unscheduled_visit": (
        UnscheduledVisitForm,
        {
            Status.SCREENING,
            Status.ENROLLED,
            Status.APHERESIS_DONE,
            Status.MANUFACTURING_FAILED,
            Status.IN_TREATMENT,
            Status.IN_FOLLOW_UP,
        },
    ),
}


def actions_for(participant: Participant) -> list[tuple[str, str]]:
    """(name, title) of the participant actions that apply to the current status."""
    return [
        (name, form_class.title)
        for name, (form_class, statuses) in PARTICIPANT_ACTIONS.items()
        if participant.status in statuses
    ]


class VisitDoneForm(ServiceForm):
    """Record a visit as done; infusion and leukapheresis visits ask for what they record."""

    title = "Record visit done"
    actual_date = forms.DateField(widget=DATE, label="Visit date")
    start_time = forms.TimeField(
        widget=TIME, required=False, help_text="Infusions: the time the infusion started."
    )
    dose = forms.CharField(required=False)
    lot = forms.CharField(required=False, label="Lot number")
    product_id = forms.CharField(required=False, label="Product (chain-of-identity) id")
    adequate_collection = forms.ChoiceField(choices=YES_NO, required=False)

    FIELDS_BY_KIND = {
        VisitKind.APHERESIS: ("actual_date", "product_id", "adequate_collection"),
        VisitKind.FIRST_INFUSION: ("actual_date", "start_time", "dose", "lot"),
        VisitKind.INFUSION: ("actual_date", "start_time", "dose", "lot"),
    }

    def __init__(self, *args, visit: Visit, **kwargs):
        super().__init__(*args, **kwargs)
        self.visit = visit
        keep = self.FIELDS_BY_KIND.get(visit.definition.kind, ("actual_date",))
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]

    def call(self, visit, user):
        d = self.cleaned_data
        site = visit.participant.site
        adequate = d.get("adequate_collection")
        return services.visit_record_done(
            visit,
            actual_date=d["actual_date"],
            started_at=at_site(site, d["actual_date"], d["start_time"])
            if d.get("start_time")
            else None,
            dose=d.get("dose", ""),
            lot=d.get("lot", ""),
            product_id=d.get("product_id", ""),
            adequate_collection=None if not adequate else adequate == "yes",
            by=user,
        )

    def add_error(self, field, error):
        renamed = {
            "started_at": "start_time",
            "infused_at": "start_time",
            "collected_on": "actual_date",
            "first_infusion_on": "actual_date",
        }
        field = renamed.get(field, field)
        super().add_error(field if field in self.fields or field is None else None, error)


class VisitMissedForm(ServiceForm):
    title = "Record visit missed"
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))

    def call(self, visit, user):
        return services.visit_mark_missed(visit, by=user, **self.cleaned_data)


class AssessmentResultForm(ServiceForm):
    title = "Record result"
    result = forms.CharField(max_length=200)
    is_abnormal = forms.BooleanField(required=False, label="Abnormal")
    completed_date = forms.DateField(widget=DATE, label="Date")
    completed_time = forms.TimeField(widget=TIME, label="Time (site local)")

    def call(self, assessment: Assessment, user):
        d = self.cleaned_data
        site = assessment.visit.participant.site
        return services.assessment_record(
            assessment,
            result=d["result"],
            is_abnormal=d["is_abnormal"],
            completed_at=at_site(site, d["completed_date"], d["completed_time"]),
            by=user,
        )

    def add_error(self, field, error):
        super().add_error("completed_date" if field == "completed_at" else field, error)
