"""A participant's status changes (enroll, withdraw, ...) and ACTIONS, the ones the pages offer."""

from django import forms

from participants import eligibility
from participants.models import Eligibility, Participant, Status
from participants.reasons import TreatmentStopReason, WithdrawalReason
from participants.selectors import investigators_of
from participants.services.dates import site_today
from participants.signatures import PASSWORD_FIELD, SignatureFormPart, SignatureMeaning
from participants.transitions import is_allowed
from schedule import services
from schedule.forms.base import DATE_FORMATS, YES_NO, ServiceForm, date_field, text_area
from schedule.services.infusions import first_infusion_check
from schedule.services.lifecycle import eligibility_draft
from schedule.services.reanchoring import d0_move_preview


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

    def dates_site(self):
        return self.participant.site

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
    # The date whose move the coordinator was shown: the move is saved only when it is confirmed.
    preview_of = forms.DateField(
        widget=forms.HiddenInput, required=False, input_formats=DATE_FORMATS
    )
    aliases = {"first_infusion_on": "planned_on"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        schedule = getattr(self.participant, "schedule", None)
        self.d0 = schedule.infusion_anchor if schedule else None
        if self.d0:
            # A move starts from the D0 it moves, not from today.
            self.initial["planned_on"] = self.d0
            self.explanation = (
                f"D0 is planned on {self.d0:%Y-%m-%d}. Moving it moves every visit not yet done: "
                "you see each one's old and new dates before confirming."
            )
        self.moves = None  # [VisitMove] shown for confirmation
        self.preview_warnings: list[str] = []

    @classmethod
    def available(cls, participant):
        return participant.status in (
            Status.ENROLLED,
            Status.APHERESIS_DONE,
            Status.MANUFACTURING_FAILED,
        )

    def _moving(self, data) -> bool:
        return self.d0 is not None and data["planned_on"] != self.d0

    def perform(self):
        data = self.cleaned_data
        if self._moving(data) and data.get("preview_of") != data["planned_on"]:
            return self._preview(data)
        result = super().perform()
        if result is None and self._moving(data):
            self._preview(data)  # refused (e.g. no reason): keep the moves in view
        elif result is not None and self._moving(data):
            moved = self.participant.reanchors.order_by("-changed_at", "-pk").first()
            self.success_message = (
                f"first infusion (D0) moved from {moved.old_anchor:%Y-%m-%d} to "
                f"{moved.new_anchor:%Y-%m-%d}; {moved.visits_moved} visit"
                f"{'' if moved.visits_moved == 1 else 's'} moved"
            )
        return result

    def _preview(self, data):
        """Show which visits move where (the function the move itself uses); save nothing."""
        check = self.save_with(lambda: first_infusion_check(self.participant, data["planned_on"]))
        if check is None:
            return None
        self.moves = d0_move_preview(self.participant, data["planned_on"])
        self.preview_warnings = check.warnings
        self.data = self.data.copy()
        self.data[self.add_prefix("preview_of")] = data["planned_on"].isoformat()
        self.submit_label = f"Confirm: move D0 and {len(self.moves)} visits"
        return None

    def call(self, data):
        return services.first_infusion_plan(
            self.participant, planned_on=data["planned_on"], reason=data["reason"], by=self.user
        )


class EnrollForm(SignatureFormPart, ActionForm):
    """The eligibility checklist. The site's investigator completes it and signs it with their
    password (participants.signatures: "eligibility confirmed"); anyone else recording at the
    site keeps it as a draft for the investigator, prefilled when they open it."""

    title = "Enroll (eligibility sign-off)"
    explanation = (
        "The investigator signs in person, logged in as themselves, with their password: every "
        "criterion answered; a study id is assigned."
    )
    draft_explanation = (
        "Prepare the checklist: it is kept as a draft until an investigator of the site signs "
        "it with their password. Criteria may be left for the investigator to answer."
    )
    signature_meaning = SignatureMeaning.ELIGIBILITY_CONFIRMED
    assessed_on = date_field("Eligibility assessed on")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.signs = investigators_of(self.participant.site).filter(pk=self.user.pk).exists()
        draft = Eligibility.objects.filter(participant=self.participant).first()
        if draft is not None:
            self.initial["assessed_on"] = draft.assessed_on
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
                required=self.signs,
                error_messages={"required": "Answer this criterion."},
            )
            if draft is not None and c.code in draft.answers:
                self.initial[f"crit_{c.code}"] = "yes" if draft.answers[c.code] else "no"
        if self.signs:
            self.submit_label = "Sign and enroll"
            self.success_message = "eligibility signed (eligibility confirmed); enrolled"
        else:
            del self.fields[PASSWORD_FIELD]
            self.explanation = self.draft_explanation
            self.submit_label = "Save the draft for the investigator"
            self.success_message = "eligibility checklist kept as a draft for the investigator"
        self.order_fields(
            [f"crit_{c.code}" for c in eligibility.criteria()] + ["assessed_on", PASSWORD_FIELD]
        )

    @classmethod
    def available(cls, participant):
        return is_allowed("enroll", participant.status)

    def call(self, data):
        answers = {
            c.code: data[f"crit_{c.code}"] == "yes" if data.get(f"crit_{c.code}") else None
            for c in eligibility.criteria()
        }
        if not self.signs:
            eligibility_draft(
                self.participant, answers=answers, assessed_on=data["assessed_on"], by=self.user
            )
            return
        services.participant_enroll(
            self.participant,
            answers=answers,
            assessed_on=data["assessed_on"],
            signed_off_by=self.user,
            by=self.user,
            password=data[PASSWORD_FIELD],
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
    reason_code = forms.ChoiceField(
        label="Why (the category reports count)",
        choices=[("", "---------"), *TreatmentStopReason.choices],
    )
    reason = text_area("Details (kept on the record, never in reports)")

    @classmethod
    def available(cls, participant):
        return is_allowed("end_treatment", participant.status)

    def call(self, data):
        services.treatment_stop_early(
            self.participant,
            on=data["on"],
            reason=data["reason"],
            reason_code=data["reason_code"],
            by=self.user,
        )


class WithdrawForm(ActionForm):
    title = "Withdraw from the study"
    explanation = "Future visits are cancelled and an early-termination visit is laid out."
    on = date_field("Date of withdrawal")
    reason_code = forms.ChoiceField(
        label="Why (the category reports count)",
        choices=[("", "---------"), *WithdrawalReason.choices],
    )
    reason = text_area("Details (kept on the record, never in reports)")
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
            reason_code=data["reason_code"],
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
