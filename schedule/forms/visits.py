"""Recording a visit as done (with its infusion or collection details) or missed."""

from django import forms

from participants import identifiers
from participants.services.dates import site_today
from schedule import services
from schedule.forms.base import YES_NO, ServiceForm, at, date_field, text_area, time_field
from schedule.models import VisitKind
from schedule.services.deviations import out_of_window_warning

CONFIRM = "confirm_out_of_window"


def _is_investigator(user) -> bool:
    profile = getattr(user, "staff_profile", None)
    return profile is not None and profile.role == "investigator"


class VisitDoneForm(ServiceForm):
    actual_date = date_field("Date of the visit")
    started_time = time_field("Time the infusion started (site time)", required=False)
    dose = forms.CharField(
        label="Dose",
        max_length=identifiers.DOSE_MAX,
        required=False,
        validators=[identifiers.dose_validator],
    )
    lot = forms.CharField(
        label="Lot number",
        max_length=identifiers.LOT_MAX,
        required=False,
        validators=[identifiers.lot_validator],
    )
    product_id = forms.CharField(
        label="Product (chain-of-identity) id",
        max_length=identifiers.PRODUCT_ID_MAX,
        required=False,
        validators=[identifiers.product_id_validator],
    )
    adequate_collection = forms.ChoiceField(
        label="Adequate collection?", choices=YES_NO, widget=forms.RadioSelect, required=False
    )
    override_reason = text_area(
        "Give it over the pre-dose gate: your reason (investigators only, leave empty otherwise)",
        required=False,
        max_length=2000,
        help_text="Only when the tracker refuses the infusion and you, the investigator of the "
        "site, decide to give it anyway. Kept with the infusion and counted as a deviation.",
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
        if not (infusion and _is_investigator(user)):
            # The service refuses anyone else's override; the field is not offered to them.
            del self.fields["override_reason"]
        if kind == VisitKind.APHERESIS:
            self.fields["product_id"].required = True
            self.fields["adequate_collection"].required = True
        else:
            del self.fields["product_id"], self.fields["adequate_collection"]

    def dates_site(self):
        return self.visit.participant.site

    def clean(self):
        """A date outside the window is recorded only once the coordinator confirms it, having
        read how far outside it is and that a deviation will be drafted."""
        data = super().clean()
        day = data.get("actual_date")
        warning = out_of_window_warning(self.visit, day) if day else ""
        if warning:
            # The question joins the form only now, so an in-window visit never shows it.
            confirm = self.fields[CONFIRM] = forms.BooleanField(
                label="Record it on this date, outside its window", required=False
            )
            ticked = confirm.widget.value_from_datadict(
                self.data, self.files, self.add_prefix(CONFIRM)
            )
            if not confirm.clean(ticked):
                self.add_error(CONFIRM, warning)
        return data

    def perform(self):
        return self.save_with(self._record)

    def _record(self):
        data = self.cleaned_data
        extra = {}
        if "started_time" in data:
            extra = {
                "started_at": at(
                    data["actual_date"], data["started_time"], self.tz, "started_time"
                ),
                "dose": data["dose"],
                "lot": data["lot"],
            }
        if data.get("override_reason", "").strip():
            extra["override_reason"] = data["override_reason"]
        if "product_id" in data:
            extra = {
                "product_id": data["product_id"],
                "adequate_collection": data["adequate_collection"] == "yes",
            }
        return services.visit_record_done(
            self.visit, actual_date=data["actual_date"], by=self.user, **extra
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
