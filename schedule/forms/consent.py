"""Registering a consent: a new screening."""

from django import forms

from participants import identifiers
from participants.models import Participant, Site, Status
from schedule import services
from schedule.forms.base import ServiceForm, at, date_field, time_field


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
        max_length=identifiers.SCREENING_NUMBER_MAX,
        required=False,
        validators=[identifiers.screening_number_validator],
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
        self.user, self.sites = user, sites
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites
        self.fields["rescreen_of"].queryset = Participant.objects.filter(
            site__in=sites, status=Status.SCREEN_FAILED, rescreen_allowed=True
        )

    def dates_site(self):
        """The user's one site; with several, the service bounds the date at the chosen one."""
        sites = list(self.sites[:2])
        return sites[0] if len(sites) == 1 else None

    def perform(self):
        data = self.cleaned_data
        site = data["site"]
        return self.save_with(
            lambda: services.participant_consent(
                site=site,
                by=self.user,
                consent_at=at(data["consent_on"], data["consent_time"], site.tz, "consent_time"),
                consent_form_version=data["consent_form_version"],
                age_at_consent=data["age_at_consent"],
                screening_number=data["screening_number"],
                rescreen_of=data["rescreen_of"],
            )
        )
