"""Forms for CRS and ICANS episodes and for a death: the coordinator enters the findings (never a
grade) and safety.services.crs_icans computes the ASTCT grade; a death links one of the
participant's adverse events (safety.services.sae.death_record). As dashboard/safety_forms.py: the
service decides, its refusal lands under the field it names and nothing is saved.

The choice keys are safety.grading's own tables (a key the grading does not know fails at import,
not in front of a coordinator); the labels here say what the coordinator observed.
"""

from django import forms

from dashboard.safety_forms import SiteTimeForm
from safety import grading
from safety.models import AdverseEvent, EventKind
from safety.services import crs_icans, sae
from schedule.forms.base import YES_NO, date_field, time_field

HYPOTENSION_LABELS = {
    "none": "None",
    "fluids": "Fluids only (no vasopressor)",
    "one_vasopressor": "One vasopressor (with or without vasopressin)",
    "multiple_vasopressors": "Several vasopressors (vasopressin not counted)",
}
OXYGEN_LABELS = {
    "none": "None",
    "low_flow": "Low flow: nasal cannula ≤ 6 L/min, or blow-by",
    "high_flow": "High flow: nasal cannula > 6 L/min, facemask, non-rebreather or Venturi mask",
    "positive_pressure": "Positive pressure: CPAP, BiPAP, intubation or mechanical ventilation",
}
CONSCIOUSNESS_LABELS = {
    "awake": "Awake, or awakens spontaneously",
    "awakens_to_voice": "Awakens to voice",
    "awakens_to_touch": "Awakens only to touch",
    "unarousable": "Unarousable, or needs vigorous or repeated touch to arouse (stupor, coma)",
}
SEIZURE_LABELS = {
    "none": "None",
    "resolved_rapidly": "A seizure (focal or generalised) that resolved rapidly, or non-convulsive "
    "seizures on EEG that resolved with intervention",
    "prolonged": "A prolonged seizure (> 5 min), or repeated seizures without return to baseline",
}
CEREBRAL_EDEMA_LABELS = {
    "none": "None",
    "focal": "Focal or local edema on neuroimaging",
    "diffuse": "Diffuse edema on neuroimaging",
}


def _same_keys(*pairs) -> None:
    """The forms offer exactly what the grading knows: checked at import, so a key added to or
    renamed in safety.grading fails every test run, never a coordinator's form."""
    for labels, table in pairs:
        if list(labels) != list(table):
            raise RuntimeError(f"Form choices {list(labels)} differ from grading {list(table)}.")


_same_keys(
    (HYPOTENSION_LABELS, grading.HYPOTENSION),
    (OXYGEN_LABELS, grading.OXYGEN),
    (CONSCIOUSNESS_LABELS, grading.CONSCIOUSNESS),
    (SEIZURE_LABELS, grading.SEIZURE),
    (CEREBRAL_EDEMA_LABELS, grading.CEREBRAL_EDEMA),
)

CANNOT_ASSESS = "cannot"
ICE_CHOICES = [("", "—")] + [(str(n), str(n)) for n in range(10, -1, -1)]
ICE_CHOICES.append((CANNOT_ASSESS, "Cannot be assessed (unarousable)"))


def choice(label: str, labels: dict[str, str], **kwargs) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label,
        choices=list(labels.items()),
        widget=forms.RadioSelect,
        error_messages={"required": "Choose one (“None” when absent)."},
        **kwargs,
    )


def yes_no(label: str, **kwargs) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        choices=YES_NO,
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        error_messages={"required": "Answer yes or no."},
        **kwargs,
    )


def _ice(value: str) -> int | None:
    return None if value == CANNOT_ASSESS else int(value)


class FindingsForm(SiteTimeForm):
    """The findings of one CRS or ICANS assessment, and when it was made (site time). Without
    `event` the assessment may open a new episode; with it, it re-assesses that open episode."""

    kind = ""  # EventKind.CRS or ICANS
    short = ""  # "CRS", "ICANS": how the messages name it
    assess = None  # the service: crs_icans.crs_assess or icans_assess
    prominent: tuple[str, ...] = ()  # fields the page sets apart: asked before anything else

    assessed_on = date_field("Assessed on")
    assessed_time = time_field("Time (site time)")
    aliases = {"assessed_at": "assessed_on"}

    def __init__(self, *args, participant, user, event: AdverseEvent | None = None, **kwargs):
        self.participant, self.event = participant, event
        super().__init__(*args, site=participant.site, user=user, **kwargs)
        # The assessment time last: the findings come first.
        self.order_fields([n for n in self.fields if n not in ("assessed_on", "assessed_time")])

    @property
    def title(self) -> str:
        return f"Re-assess {self.short}" if self.event else f"Record {self.short} findings"

    def findings(self, data) -> dict:
        raise NotImplementedError

    def call(self, data):
        return type(self).assess(
            self.participant,
            **self.findings(data),
            assessed_at=self.instant("assessed_on", "assessed_time"),
            by=self.user,
            event=self.event,
        )


class CrsForm(FindingsForm):
    kind, short = EventKind.CRS, "CRS"
    assess = staticmethod(crs_icans.crs_assess)
    prominent = ("temperature_c", "antipyretic_or_anticytokine")
    explanation = (
        "Enter what you observe; the tracker computes the ASTCT grade (Lee 2019) and says why. "
        "Grade 2 or more holds the next infusion until a re-assessment at grade 1 or less."
    )

    temperature_c = forms.DecimalField(
        label="Highest temperature (°C)",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 6}),
        error_messages={
            "required": "Enter the temperature in °C, e.g. 38.3.",
            "invalid": "Enter the temperature as a number of degrees Celsius, e.g. 38.3.",
        },
    )
    antipyretic_or_anticytokine = yes_no(
        "Antipyretic or anti-cytokine therapy given (tocilizumab, steroids)?",
        help_text="Yes if any was given since the symptoms started: a fever masked by treatment "
        "still counts, so a normal temperature then never lowers the grade.",
    )
    hypotension = choice("Hypotension: what does it need?", HYPOTENSION_LABELS)
    oxygen = choice("Oxygen needed", OXYGEN_LABELS)

    def findings(self, data) -> dict:
        names = ("temperature_c", "antipyretic_or_anticytokine", "hypotension", "oxygen")
        return {name: data[name] for name in names}


class IcansForm(FindingsForm):
    kind, short = EventKind.ICANS, "ICANS"
    assess = staticmethod(crs_icans.icans_assess)
    explanation = (
        "Enter the ICE score and the neurological findings; the tracker computes the ASTCT grade "
        "(adults, Lee 2019) and says why. Grade 2 or more holds the next infusion until a "
        "re-assessment at grade 1 or less."
    )

    ice_score = forms.TypedChoiceField(
        label="ICE score (0–10)",
        choices=ICE_CHOICES,
        coerce=_ice,
        help_text="“Cannot be assessed” only when the participant is unarousable.",
        error_messages={"required": "Choose the ICE score, or “cannot be assessed”."},
    )
    consciousness = choice("Level of consciousness", CONSCIOUSNESS_LABELS)
    seizure = choice("Seizure", SEIZURE_LABELS)
    motor_weakness = yes_no("Deep focal motor weakness (hemiparesis or paraparesis)?")
    cerebral_edema = choice("Raised intracranial pressure / cerebral edema", CEREBRAL_EDEMA_LABELS)

    def findings(self, data) -> dict:
        names = ("ice_score", "consciousness", "seizure", "motor_weakness", "cerebral_edema")
        return {name: data[name] for name in names}


FINDINGS_FORMS: dict[str, type[FindingsForm]] = {
    EventKind.CRS: CrsForm,
    EventKind.ICANS: IcansForm,
}


class EpisodeResolveForm(SiteTimeForm):
    """A CRS or ICANS episode resolved (recovered): its infusion hold, if open, is released."""

    title = "Resolve"
    done = "resolved; its infusion hold, if any, is released"
    explanation = "The episode ends as recovered and any hold it put on the next infusion ends."
    on = date_field("Resolved on")

    def __init__(self, *args, event, user, **kwargs):
        self.event = event
        super().__init__(*args, site=event.participant.site, user=user, **kwargs)

    @classmethod
    def available(cls, event) -> bool:
        return event.resolved_on is None

    def call(self, data):
        return crs_icans.episode_resolve(self.event, on=data["on"], by=self.user)


class EventChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, event) -> str:
        serious = ", serious" if event.serious else ""
        return f"{event.reference}: {event.term} (grade {event.grade}{serious})"


class DeathForm(SiteTimeForm):
    """The participant died: link the adverse event that reports it (safety.services.sae)."""

    title = "Record death"
    explanation = (
        "The linked event becomes grade 5, fatal and serious (its SAE clock starts from when the "
        "site became aware, if it was not serious yet) and the participant's status becomes died, "
        "together or not at all."
    )

    event = EventChoiceField(
        label="The serious adverse event of the death",
        queryset=AdverseEvent.objects.none(),
        empty_label="—",
        error_messages={"required": "Choose the adverse event that reports the death."},
    )
    cause = forms.CharField(
        label="Cause of death (or “unknown”)",
        max_length=200,
        widget=forms.TextInput(attrs={"class": "wide"}),
        error_messages={"required": "Give the cause of death (or “unknown”)."},
    )
    on = date_field("Date of death")
    aware_on = date_field("Site became aware on")
    aware_time = time_field("Time (site time)")

    aliases = {"aware_at": "aware_on", "sae_reference": "event"}

    def __init__(self, *args, participant, events, user, **kwargs):
        self.participant = participant
        super().__init__(*args, site=participant.site, user=user, **kwargs)
        self.fields["event"].queryset = events

    def call(self, data):
        return sae.death_record(
            self.participant,
            on=data["on"],
            cause=data["cause"],
            event=data["event"],
            aware_at=self.instant("aware_on", "aware_time"),
            by=self.user,
        )
