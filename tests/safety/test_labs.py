"""Safety lab values with units: graded on entry, stored one row per test, and the assessment's
abnormal flag (which the pre-dose gate reads) computed from them, never typed."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from safety.forms import LabValuesForm
from safety.grading import LAB_UNITS, lab_grade
from safety.models import LabResult
from safety.services.labs import (
    LAB_PANELS,
    blocks_infusion,
    lab_results_record,
    lab_summary,
    result_summary,
)
from schedule import services
from schedule.models import AssessmentStatus
from schedule.protocols.v1 import PROTOCOL
from tests.support import APHERESIS_ON, CONSENT_ON, D0, Journey, coordinator_at, record_pre_dose

NORMAL_CBC = {
    "ANC": ("3.1", "10^9/L"),
    "LYMPH": ("1.4", "10^9/L"),
    "PLT": ("180", "10^9/L"),
    "HGB": ("12.5", "g/dL"),
    "WBC": ("6.0", "10^9/L"),
}


def cbc_with(**changes) -> dict:
    return {**NORMAL_CBC, **changes}


@pytest.fixture
def journey(protocol, site, coordinator, investigator):
    return Journey(site, coordinator, investigator)


def screening(journey, code: str):
    return journey.visit("SCR").assessments.select_related("definition").get(definition__code=code)


@pytest.fixture
def cbc(journey):
    return screening(journey, "CBC")


def record(journey, assessment, values, *, by=None, hour=15, reason="Lab report corrected"):
    """Enter the values (the reason is asked, and kept, only when recorded values change)."""
    with journey.on(CONSENT_ON):
        return lab_results_record(
            assessment,
            values=values,
            completed_at=journey.at(CONSENT_ON, hour),
            by=by or journey.by,
            reason=reason,
        )


def stored(assessment) -> dict[str, LabResult]:
    return {row.code: row for row in LabResult.objects.filter(assessment=assessment)}


def refusal(journey, assessment, values, **kwargs) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as refused:
        record(journey, assessment, values, **kwargs)
    return refused.value.message_dict


# --- Panels and units ----------------------------------------------------------------------------


def test_the_panels_are_keyed_by_the_protocols_assessment_codes():
    codes = {item[0] for visit in PROTOCOL["visits"] for item in visit["assessments"] if item[0]}
    assert set(LAB_PANELS) <= codes


def test_a_cbc_in_either_unit_gives_the_same_grades_and_canonical_values(journey, cbc):
    record(journey, cbc, cbc_with(ANC=("0.9", "10^9/L"), PLT=("40", "10^9/L")))
    first = {code: (r.value, r.unit, r.grade, r.alert) for code, r in stored(cbc).items()}

    other_units = {
        "ANC": ("900", "/mm3"),
        "LYMPH": ("1400", "/mm3"),
        "PLT": ("40000", "/mm3"),
        "HGB": ("125", "g/L"),
        "WBC": ("6000", "/mm3"),
    }
    record(journey, cbc, other_units)
    again = stored(cbc)

    assert {code: (r.value, r.unit, r.grade, r.alert) for code, r in again.items()} == first
    assert first["ANC"] == (Decimal("0.9"), "10^9/L", 3, True)
    assert first["PLT"] == (Decimal("40"), "10^9/L", 3, True)
    assert (again["PLT"].entered_value, again["PLT"].entered_unit) == (Decimal(40000), "/mm3")
    assert (again["HGB"].entered_value, again["HGB"].entered_unit) == (Decimal(125), "g/L")


@pytest.mark.parametrize("entered", [("350", "mg/dL"), ("3.5", "g/L")], ids=["mg/dL", "g/L"])
def test_an_igg_in_either_unit_is_stored_in_mg_per_dl_and_alerts_at_400_or_less(journey, entered):
    igg = screening(journey, "IGG")
    record(journey, igg, {"IGG": entered})

    row = stored(igg)["IGG"]
    assert (row.value, row.unit, row.grade, row.alert) == (Decimal(350), "mg/dL", 0, True)
    igg.refresh_from_db()
    assert igg.result == "IGG 350 mg/dL (alert)"
    assert igg.is_abnormal is True


# --- Refusals ------------------------------------------------------------------------------------


# fmt: off
@pytest.mark.parametrize(("values", "field", "words"), [
    pytest.param(cbc_with(ANC=("-1", "10^9/L")), "ANC_value", "cannot be negative", id="negative"),
    pytest.param(cbc_with(ANC=("1.2", "g/dL")), "ANC_unit", "not a unit for an absolute neutrophil",
                 id="wrong unit for the test"),
    pytest.param(cbc_with(PLT=("180000", "10^9/L")), "PLT_value", "choose /mm3 as the unit",
                 id="count 1000x too large"),
    pytest.param(cbc_with(ANC=("1.2", "")), "ANC_unit", "Choose the unit", id="no unit"),
    pytest.param(cbc_with(HGB=("abc", "g/dL")), "HGB_value", "as a number", id="not a number"),
    pytest.param(cbc_with(ANC=("1500.55", "/mm3")), "ANC_value", "decimal places",
                 id="more decimals than kept"),
    pytest.param({k: v for k, v in NORMAL_CBC.items() if k != "LYMPH"}, "LYMPH_value",
                 "Enter the lymphocyte count", id="missing code"),
    pytest.param(cbc_with(IGG=("800", "mg/dL")), "__all__", "Not part of the CBC panel",
                 id="code of another panel"),
])
# fmt: on
def test_a_refused_value_lands_on_its_field_and_nothing_is_saved(
    journey, cbc, values, field, words
):
    errors = refusal(journey, cbc, values)

    assert list(errors) == [field]
    assert words in " ".join(errors[field])
    assert not LabResult.objects.exists()
    cbc.refresh_from_db()
    assert (cbc.status, cbc.result, cbc.is_abnormal) == (AssessmentStatus.PENDING, "", None)


def test_every_refused_value_is_named_at_once(journey, cbc):
    values = cbc_with(ANC=("-1", "10^9/L"), HGB=("12", "mmol/L"))
    del values["WBC"]

    errors = refusal(journey, cbc, values)

    assert sorted(errors) == ["ANC_value", "HGB_unit", "WBC_value"]
    assert not LabResult.objects.exists()


def test_an_assessment_that_is_not_a_lab_panel_is_refused(journey):
    vitals = screening(journey, "VS")

    with pytest.raises(ValidationError) as refused:
        record(journey, vitals, NORMAL_CBC)

    assert "not a lab panel" in refused.value.messages[0]
    assert not LabResult.objects.exists()


def test_a_result_time_in_the_future_is_refused_after_valid_values_and_nothing_is_saved(
    journey, cbc
):
    errors = refusal(journey, cbc, NORMAL_CBC, hour=23)

    assert "future" in errors["completed_at"][0]
    assert not LabResult.objects.exists()


def test_a_recorder_of_another_site_is_refused(journey, cbc, site2):
    with pytest.raises(PermissionDenied):
        record(journey, cbc, NORMAL_CBC, by=coordinator_at(site2))
    assert not LabResult.objects.exists()


# --- The assessment recorded from the values -----------------------------------------------------


def test_recording_a_cbc_records_the_assessment_with_a_readable_summary(journey, cbc):
    values = {
        "ANC": ("1.2", "10^9/L"),
        "LYMPH": ("400", "/mm3"),
        "PLT": ("180", "10^9/L"),
        "HGB": ("125", "g/L"),
        "WBC": ("4.1", "10^9/L"),
    }
    recorded = record(journey, cbc, values)

    assert recorded.status == AssessmentStatus.DONE
    assert (
        recorded.result == "ANC 1.2 ×10^9/L (G2); LYMPH 0.4 (G3); PLT 180; HGB 12.5 g/dL; WBC 4.1"
    )
    assert recorded.completed_at == journey.at(CONSENT_ON, 15)
    assert recorded.is_abnormal is False  # grade 2 neutropenia and lymphopenia do not block
    assert [r.code for r in lab_summary(recorded)] == list(LAB_PANELS["CBC"])


def canonical(code: str, value: str) -> tuple[str, str]:
    return (value, LAB_UNITS[code][0])


# fmt: off
@pytest.mark.parametrize(("code", "value", "abnormal"), [
    ("ANC", "0.9", True),     # grade 3
    ("ANC", "1.0", False),    # grade 2
    ("PLT", "49", True),      # grade 3
    ("HGB", "7.9", True),     # grade 3
    ("LYMPH", "0.1", False),  # grade 4, alone
    ("WBC", "0.9", False),    # grade 4, alone
])
# fmt: on
def test_the_assessment_is_abnormal_exactly_when_a_value_blocks_an_infusion(
    journey, cbc, code, value, abnormal
):
    recorded = record(journey, cbc, cbc_with(**{code: canonical(code, value)}))

    assert recorded.is_abnormal is abnormal
    cbc.refresh_from_db()
    assert cbc.is_abnormal is abnormal


# fmt: off
@pytest.mark.parametrize(("code", "value", "blocks"), [
    ("ANC", "0.99", True), ("ANC", "1.0", False),
    ("PLT", "49", True), ("PLT", "50", False),
    ("HGB", "7.9", True), ("HGB", "8.0", False),
    ("LYMPH", "0.1", False), ("WBC", "0.5", False),
    ("IGG", "400", True), ("IGG", "401", False),
])
# fmt: on
def test_which_values_block_an_infusion(code, value, blocks):
    assert blocks_infusion(lab_grade(code, *canonical(code, value))) is blocks


def test_the_summary_stays_within_the_result_column():
    labs = [lab_grade(code, "0.1234", "10^9/L") for code in ("ANC", "LYMPH", "WBC")] * 10

    assert len(result_summary(labs)) == 200


# --- Re-entry ------------------------------------------------------------------------------------


def test_re_recording_replaces_the_values_and_keeps_their_history(journey, cbc):
    record(journey, cbc, NORMAL_CBC)
    record(journey, cbc, cbc_with(ANC=("0.9", "10^9/L")), hour=16)

    rows = stored(cbc)
    assert sorted(rows) == sorted(LAB_PANELS["CBC"])
    assert LabResult.objects.filter(assessment=cbc).count() == 5
    assert (rows["ANC"].value, rows["ANC"].grade) == (Decimal("0.9"), 3)
    history = rows["ANC"].history.order_by("history_date")
    assert [h.value for h in history] == [Decimal("3.1"), Decimal("0.9")]
    cbc.refresh_from_db()
    assert cbc.is_abnormal is True
    assert cbc.completed_at == journey.at(CONSENT_ON, 16)


def _mark_alerted(assessment, code: str) -> dt.datetime:
    """What the lab alert scan does once it has made the alert's emails."""
    moment = dt.datetime(2026, 1, 5, 21, tzinfo=dt.UTC)
    LabResult.objects.filter(assessment=assessment, code=code).update(alerted_at=moment)
    return moment


def test_a_corrected_value_that_still_alerts_is_not_alerted_twice(journey, cbc):
    record(journey, cbc, cbc_with(ANC=("0.4", "10^9/L")))
    alerted = _mark_alerted(cbc, "ANC")

    record(journey, cbc, cbc_with(ANC=("400", "/mm3")))  # the same value, in the other unit
    assert stored(cbc)["ANC"].alerted_at == alerted
    record(journey, cbc, cbc_with(ANC=("0.45", "10^9/L")))  # a typo corrected
    assert stored(cbc)["ANC"].alerted_at == alerted


def test_a_value_that_starts_to_alert_on_re_entry_is_alerted_even_if_it_alerted_before(
    journey, cbc
):
    record(journey, cbc, cbc_with(PLT=("20", "10^9/L")))
    _mark_alerted(cbc, "PLT")
    record(journey, cbc, NORMAL_CBC)
    assert stored(cbc)["PLT"].alert is False

    record(journey, cbc, cbc_with(PLT=("20", "10^9/L")))

    row = stored(cbc)["PLT"]
    assert (row.alert, row.alerted_at) == (True, None)


# --- The pre-dose gate reads the computed value --------------------------------------------------


def test_the_pre_dose_gate_refuses_an_infusion_at_anc_0_8_and_allows_it_at_anc_1_6(
    protocol, site, coordinator, investigator
):
    j = Journey(site, coordinator, investigator)
    j.screening_visit()
    j.enroll()
    j.plan(D0)
    j.apheresis(APHERESIS_ON)
    inf1 = j.visit("INF1")
    pre_dose_cbc = inf1.assessments.get(definition__code="CBC")
    started = j.at(D0, 9)
    pre_dose_at = started - dt.timedelta(minutes=30)

    def pre_dose_cbc_with(anc: str):
        with time_machine.travel(pre_dose_at, tick=False):
            lab_results_record(
                pre_dose_cbc,
                values=cbc_with(ANC=(anc, "10^9/L")),
                completed_at=pre_dose_at,
                by=coordinator,
                reason="Repeated before the infusion",
            )

    def give_inf1():
        with time_machine.travel(started + dt.timedelta(hours=3), tick=False):
            given = {"started_at": started, "dose": "1e6 cells/kg", "lot": "L-1"}
            return services.visit_record_done(inf1, actual_date=D0, by=coordinator, **given)

    with time_machine.travel(pre_dose_at, tick=False):
        record_pre_dose(inf1, pre_dose_at, coordinator)  # every other item normal
    pre_dose_cbc_with("0.8")

    with pytest.raises(ValidationError) as refused:
        give_inf1()
    assert "CBC abnormal (ANC 0.8 ×10^9/L (G3, alert)" in str(refused.value)
    assert j.status() == "apheresis_done"

    pre_dose_cbc_with("1.6")
    give_inf1()

    assert j.status() == "in_treatment"
    pre_dose_cbc.refresh_from_db()
    assert pre_dose_cbc.result.startswith("ANC 1.6 ×10^9/L (G1)")


# --- The form ------------------------------------------------------------------------------------


def form_data(values: dict, *, day=CONSENT_ON, time="15:00") -> dict:
    data = {"completed_on": day.isoformat(), "completed_time": time}
    for code, (value, unit) in values.items():
        data[f"{code}_value"], data[f"{code}_unit"] = value, unit
    return data


def test_the_form_records_the_values_at_the_sites_local_time(journey, cbc):
    form = LabValuesForm(form_data(NORMAL_CBC), assessment=cbc, user=journey.by)

    with journey.on(CONSENT_ON):
        assert form.is_valid(), form.errors
        recorded = form.perform()

    assert recorded.completed_at == journey.at(CONSENT_ON, 15)
    assert len(stored(cbc)) == 5
    assert form.fields["ANC_value"].label == "Neutrophils (ANC)"
    assert [c for c, _ in form.fields["ANC_unit"].choices] == ["10^9/L", "/mm3"]


def test_the_form_shows_a_unit_error_under_that_unit_field(journey, cbc):
    form = LabValuesForm(form_data(cbc_with(ANC=("1.2", "g/dL"))), assessment=cbc, user=journey.by)

    assert not form.is_valid()
    assert list(form.errors) == ["ANC_unit"]


# fmt: off
@pytest.mark.parametrize(("data", "field", "words"), [
    (form_data(cbc_with(PLT=("180000", "10^9/L"))), "PLT_value", "choose /mm3 as the unit"),
    (form_data(NORMAL_CBC, time="23:00"), "completed_time", "in the future"),
], ids=["a count 1000x too large", "a result time in the future"])
# fmt: on
def test_the_form_shows_the_services_refusal_under_its_field(journey, cbc, data, field, words):
    form = LabValuesForm(data, assessment=cbc, user=journey.by)

    with journey.on(CONSENT_ON):
        assert form.is_valid(), form.errors
        assert form.perform() is None

    assert list(form.errors) == [field]
    assert words in form.errors[field][0]
    assert not LabResult.objects.exists()


def test_the_form_offers_the_earlier_entry_when_values_are_re_entered(journey, cbc):
    record(journey, cbc, cbc_with(HGB=("125", "g/L")))
    cbc.refresh_from_db()

    with journey.on(CONSENT_ON):
        form = LabValuesForm(assessment=cbc, user=journey.by)

    assert (form.initial["HGB_value"], form.initial["HGB_unit"]) == ("125", "g/L")
    assert form.initial["completed_time"] == dt.time(15, 0)
