"""ASTCT CRS/ICANS and CTCAE v5 lab grading: every boundary, both units, every refusal (fmt: off
keeps the tables one case a line, so they read as the grading tables they check)."""

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from safety import grading
from safety.grading import (
    LAB_NAMES,
    LAB_UNITS,
    Grade,
    GradingError,
    crs_grade,
    icans_grade,
    lab_grade,
)


def crs(temperature_c=38.5, hypotension="none", oxygen="none", treated=False):
    findings = {"hypotension": hypotension, "oxygen": oxygen}
    return crs_grade(temperature_c=temperature_c, antipyretic_or_anticytokine=treated, **findings)


def icans(**kwargs):
    return icans_grade(**{"ice_score": 10, "consciousness": "awake", **kwargs})


def refusal_of(function, *args, **kwargs) -> tuple[str, str]:
    with pytest.raises(GradingError) as refused:
        function(*args, **kwargs)
    assert isinstance(refused.value, ValueError)
    return refused.value.field, str(refused.value)


# --- CRS ------------------------------------------------------------------------------------------

NOT_CRS = "does not meet the ASTCT definition of CRS (no fever ≥ 38 °C)"
TEMPERATURE_HELP = "enter degrees Celsius, e.g. 38.3."
NOT_A_TEMPERATURE = "Enter the temperature as a number of degrees Celsius, e.g. 38.3"

# fmt: off
CRS_CASES = [
    # temperature, hypotension, oxygen, antipyretic/anti-cytokine given, grade, findings named
    (37.9, "none", "none", False, 0, [NOT_CRS]),
    (38.0, "none", "none", False, 1, ["fever 38 °C"]),
    (38.1, "none", "none", False, 1, ["fever 38.1 °C"]),
    (39.4, "fluids", "none", False, 2, ["hypotension not needing vasopressors"]),
    (39.4, "none", "low_flow", False, 2, ["low-flow oxygen"]),
    (39.4, "fluids", "low_flow", False, 2, ["hypotension not needing vasopressors", "low-flow oxygen"]),
    (39.4, "one_vasopressor", "none", False, 3, ["hypotension needing one vasopressor"]),
    (39.4, "none", "high_flow", False, 3, ["high-flow oxygen"]),
    (39.4, "one_vasopressor", "low_flow", False, 3, ["hypotension needing one vasopressor"]),
    (39.4, "fluids", "high_flow", False, 3, ["high-flow oxygen"]),
    (39.4, "multiple_vasopressors", "none", False, 4, ["hypotension needing multiple vasopressors"]),
    (39.4, "none", "positive_pressure", False, 4, ["positive-pressure ventilation"]),
    (39.4, "one_vasopressor", "positive_pressure", False, 4, ["positive-pressure ventilation"]),
    (36.8, "none", "none", True, 1, ["fever masked by antipyretic or anti-cytokine therapy"]),
    (38.6, "none", "none", True, 1, ["fever 38.6 °C"]),
    (36.8, "fluids", "none", True, 2, ["hypotension not needing vasopressors"]),
    (36.8, "one_vasopressor", "high_flow", True, 3, ["hypotension needing one vasopressor", "high-flow oxygen"]),
    (36.8, "none", "positive_pressure", True, 4, ["positive-pressure ventilation"]),
]
NOT_CRS_NOTES = [
    ("one_vasopressor", "none", "hypotension needing one vasopressor"),
    ("none", "positive_pressure", "positive-pressure ventilation"),
]
CRS_REFUSALS = [
    ({"temperature_c": 3.8}, "temperature_c", f"Temperature 3.8 °C is not plausible; {TEMPERATURE_HELP}"),
    ({"temperature_c": 29.9}, "temperature_c", f"Temperature 29.9 °C is not plausible; {TEMPERATURE_HELP}"),
    ({"temperature_c": 45.1}, "temperature_c", f"Temperature 45.1 °C is not plausible; {TEMPERATURE_HELP}"),
    ({"temperature_c": 100.4}, "temperature_c", f"Temperature 100.4 °C is not plausible (it looks like °F); {TEMPERATURE_HELP}"),
    ({"temperature_c": "hot"}, "temperature_c", f"{NOT_A_TEMPERATURE} (got 'hot')."),
    ({"temperature_c": None}, "temperature_c", f"{NOT_A_TEMPERATURE} (got None)."),
    ({"temperature_c": float("nan")}, "temperature_c", f"{NOT_A_TEMPERATURE} (got nan)."),
    ({"temperature_c": True}, "temperature_c", f"{NOT_A_TEMPERATURE} (got True)."),
    ({"hypotension": "pressors"}, "hypotension", "Hypotension must be one of: none, fluids, one_vasopressor, multiple_vasopressors (got 'pressors')."),
    ({"oxygen": "nasal"}, "oxygen", "Oxygen must be one of: none, low_flow, high_flow, positive_pressure (got 'nasal')."),
    ({"oxygen": None}, "oxygen", "Oxygen must be one of: none, low_flow, high_flow, positive_pressure (got None)."),
    ({"treated": "yes"}, "antipyretic_or_anticytokine", "Antipyretic or anti-cytokine must be yes (True) or no (False) (got 'yes')."),
]
# fmt: on


@pytest.mark.parametrize("temperature, hypotension, oxygen, treated, grade, reasons", CRS_CASES)
def test_crs_grade_is_the_worst_domain_and_names_the_findings_that_set_it(
    temperature, hypotension, oxygen, treated, grade, reasons
):
    result = crs(temperature, hypotension, oxygen, treated)
    assert result == Grade(grade, tuple(f"grade {grade}: {r}" for r in reasons))


def test_crs_summary_lists_tied_domains_after_the_grade():
    result = crs(hypotension="one_vasopressor", oxygen="high_flow")
    assert result.summary == "Grade 3: hypotension needing one vasopressor; high-flow oxygen"


@pytest.mark.parametrize("hypotension, oxygen, note", NOT_CRS_NOTES)
def test_hypotension_or_hypoxia_without_fever_or_treatment_is_not_crs_but_is_named(
    hypotension, oxygen, note
):
    result = crs(37.2, hypotension, oxygen)
    assert result.reasons == (f"grade 0: {NOT_CRS}", f"{note} without fever is not graded as CRS")
    assert result.summary.startswith(f"Grade 0: {NOT_CRS}; ")


def test_a_fever_masked_by_tocilizumab_never_lowers_the_grade():
    febrile = crs(39.0, "one_vasopressor", "none")
    masked = crs(36.9, "one_vasopressor", "none", treated=True)
    assert masked.grade == febrile.grade == 3


@pytest.mark.parametrize("temperature", [30, "45.0", Decimal("38.0"), 38, 38.0])
def test_temperatures_at_the_plausible_limits_and_in_every_numeric_form_are_accepted(temperature):
    assert crs(temperature).grade in (0, 1)


@pytest.mark.parametrize("kwargs, field, message", CRS_REFUSALS)
def test_impossible_crs_inputs_are_refused_under_their_field(kwargs, field, message):
    assert refusal_of(crs, **kwargs) == (field, message)


# --- ICANS ----------------------------------------------------------------------------------------

UNAROUSABLE = "unarousable, or needs vigorous or repetitive touch to arouse"
ICE_NEEDED = "The ICE score must be given when the participant can be assessed (it may be left empty only when the participant is unarousable)."
ICE_RANGE = "The ICE score must be a whole number from 0 to 10"

# fmt: off
ICANS_CASES = [
    ({"ice_score": 10}, 0, ["no ICANS (ICE score 10, awake, no seizure, weakness or cerebral edema)"]),
    ({"ice_score": 9}, 1, ["ICE score 9"]),
    ({"ice_score": 7}, 1, ["ICE score 7"]),
    ({"ice_score": 6}, 2, ["ICE score 6"]),
    ({"ice_score": 3}, 2, ["ICE score 3"]),
    ({"ice_score": 2}, 3, ["ICE score 2"]),
    ({"ice_score": 0}, 3, ["ICE score 0"]),
    ({"consciousness": "awakens_to_voice"}, 2, ["awakens to voice"]),
    ({"consciousness": "awakens_to_touch"}, 3, ["awakens only to touch"]),
    ({"consciousness": "unarousable", "ice_score": 0}, 4, [UNAROUSABLE]),
    ({"consciousness": "unarousable", "ice_score": None}, 4, [UNAROUSABLE]),
    ({"seizure": "resolved_rapidly"}, 3, ["seizure that resolved rapidly"]),
    ({"seizure": "prolonged"}, 4, ["prolonged (> 5 min) or repetitive seizures"]),
    ({"motor_weakness": True}, 4, ["deep focal motor weakness (hemiparesis or paraparesis)"]),
    ({"cerebral_edema": "focal"}, 3, ["focal cerebral edema on imaging"]),
    ({"cerebral_edema": "diffuse"}, 4, ["diffuse cerebral edema on imaging"]),
    ({"ice_score": 5, "consciousness": "awakens_to_voice"}, 2, ["ICE score 5", "awakens to voice"]),
    ({"ice_score": 8, "consciousness": "awakens_to_voice"}, 2, ["awakens to voice"]),
    ({"ice_score": 1, "seizure": "resolved_rapidly"}, 3, ["ICE score 1", "seizure that resolved rapidly"]),
    ({"ice_score": 1, "cerebral_edema": "diffuse"}, 4, ["diffuse cerebral edema on imaging"]),
]
ICANS_REFUSALS = [
    ({"ice_score": None}, "ice_score", ICE_NEEDED),
    ({"ice_score": None, "consciousness": "awakens_to_touch"}, "ice_score", ICE_NEEDED),
    ({"ice_score": 11}, "ice_score", f"{ICE_RANGE} (got 11)."),
    ({"ice_score": -1}, "ice_score", f"{ICE_RANGE} (got -1)."),
    ({"ice_score": 7.5}, "ice_score", f"{ICE_RANGE} (got 7.5)."),
    ({"ice_score": "7"}, "ice_score", f"{ICE_RANGE} (got '7')."),
    ({"ice_score": True}, "ice_score", f"{ICE_RANGE} (got True)."),
    ({"consciousness": "drowsy"}, "consciousness", "Level of consciousness must be one of: awake, awakens_to_voice, awakens_to_touch, unarousable (got 'drowsy')."),
    ({"seizure": "yes"}, "seizure", "Seizure must be one of: none, resolved_rapidly, prolonged (got 'yes')."),
    ({"motor_weakness": "no"}, "motor_weakness", "Motor weakness must be yes (True) or no (False) (got 'no')."),
    ({"cerebral_edema": "global"}, "cerebral_edema", "Cerebral edema must be one of: none, focal, diffuse (got 'global')."),
]
# fmt: on


@pytest.mark.parametrize("kwargs, grade, reasons", ICANS_CASES)
def test_icans_grade_is_the_worst_domain_and_names_the_findings_that_set_it(kwargs, grade, reasons):
    assert icans(**kwargs) == Grade(grade, tuple(f"grade {grade}: {r}" for r in reasons))


def test_icans_summary_reads_as_one_sentence():
    result = icans(ice_score=5, consciousness="awakens_to_voice")
    assert result.summary == "Grade 2: ICE score 5; awakens to voice"


@pytest.mark.parametrize("kwargs, field, message", ICANS_REFUSALS)
def test_impossible_icans_inputs_are_refused_under_their_field(kwargs, field, message):
    assert refusal_of(icans, **kwargs) == (field, message)


def test_grades_and_lab_grades_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        icans(ice_score=10).grade = 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        lab_grade("PLT", "20", "10^9/L").alert = False


# --- The grade never decreases when any single finding worsens -----------------------------------

TEMPERATURES = st.decimals(min_value=30, max_value=45, places=1)


def worse_or_same(table, key):
    """The choices at or after `key`: each grading table is ordered mildest first."""
    return st.sampled_from(list(table)[list(table).index(key) :])


@given(
    temperature=TEMPERATURES,
    treated=st.booleans(),
    hypotension=st.sampled_from(list(grading.HYPOTENSION)),
    oxygen=st.sampled_from(list(grading.OXYGEN)),
    data=st.data(),
)
def test_crs_grade_never_decreases_when_one_finding_worsens(
    temperature, treated, hypotension, oxygen, data
):
    before = crs(temperature, hypotension, oxygen, treated).grade
    worse_hypotension = data.draw(worse_or_same(grading.HYPOTENSION, hypotension))
    worse_oxygen = data.draw(worse_or_same(grading.OXYGEN, oxygen))
    hotter = data.draw(st.decimals(temperature, 45, places=1))
    assert crs(hotter, hypotension, oxygen, treated).grade >= before
    assert crs(temperature, hypotension, oxygen, True).grade >= before
    assert crs(temperature, worse_hypotension, oxygen, treated).grade >= before
    assert crs(temperature, hypotension, worse_oxygen, treated).grade >= before


@given(
    ice=st.integers(0, 10),
    consciousness=st.sampled_from(list(grading.CONSCIOUSNESS)),
    seizure=st.sampled_from(list(grading.SEIZURE)),
    weakness=st.booleans(),
    edema=st.sampled_from(list(grading.CEREBRAL_EDEMA)),
    data=st.data(),
)
def test_icans_grade_never_decreases_when_one_finding_worsens(
    ice, consciousness, seizure, weakness, edema, data
):
    base = dict(ice_score=ice, consciousness=consciousness, seizure=seizure)
    base |= dict(motor_weakness=weakness, cerebral_edema=edema)
    before = icans_grade(**base).grade
    for change in [
        {"ice_score": data.draw(st.integers(0, ice))},
        {"consciousness": data.draw(worse_or_same(grading.CONSCIOUSNESS, consciousness))},
        {"seizure": data.draw(worse_or_same(grading.SEIZURE, seizure))},
        {"motor_weakness": True},
        {"cerebral_edema": data.draw(worse_or_same(grading.CEREBRAL_EDEMA, edema))},
    ]:
        assert icans_grade(**{**base, **change}).grade >= before, change


# --- Laboratory values (CTCAE v5.0) --------------------------------------------------------------

IGG_ALERT = "IgG ≤ 400 mg/dL (hypogammaglobulinaemia alert)"  # word for word
BELOW_LLN = "is below the lower limit of normal (700 mg/dL); CTCAE v5 does not grade IgG"
COUNT = "it looks like a value in 10^9/L: choose 10^9/L as the unit."
PER_MM3 = "it looks like a value in /mm3: choose /mm3 as the unit."

# fmt: off
# Each threshold exactly, and just below it: a value exactly AT a threshold has the milder grade.
BOUNDARIES = {
    "ANC": [("1.8", 0), ("1.79", 1), ("1.5", 1), ("1.49", 2), ("1.0", 2), ("0.99", 3), ("0.5", 3), ("0.49", 4), ("0", 4)],
    "LYMPH": [("1.0", 0), ("0.99", 1), ("0.8", 1), ("0.79", 2), ("0.5", 2), ("0.49", 3), ("0.2", 3), ("0.19", 4)],
    "PLT": [("150", 0), ("149.9", 1), ("75", 1), ("74.9", 2), ("50", 2), ("49.999", 3), ("25", 3), ("24.9", 4), ("0", 4)],
    "WBC": [("4.0", 0), ("3.99", 1), ("3.0", 1), ("2.99", 2), ("2.0", 2), ("1.99", 3), ("1.0", 3), ("0.99", 4)],
    "HGB": [("12.0", 0), ("11.9", 1), ("10.0", 1), ("9.9", 2), ("8.0", 2), ("7.9", 3), ("2.5", 3)],  # no lab-based grade 4
}
REASONS = [
    ("ANC", "0.99", ("grade 3: neutrophil count decreased, 0.99 ×10^9/L (below 1.0)", "grade 3 neutropenia: alert the investigator and medical monitor")),
    ("WBC", "3.5", ("grade 1: white blood cell decreased, 3.5 ×10^9/L (below the lower limit of normal 4.0)",)),
    ("HGB", "7.9", ("grade 3: anaemia, 7.9 g/dL (below 8.0)",)),
    ("LYMPH", "2", ("grade 0: LYMPH 2 ×10^9/L is at or above the lower limit of normal (1.0)",)),
]
CONVERSIONS = [
    # code, value, alternative unit, same value in the canonical unit, grade
    ("PLT", "49999", "/mm3", "49.999", 3),
    ("PLT", "50000", "/mm3", "50", 2),
    ("ANC", "1500", "/mm3", "1.5", 1),
    ("ANC", "999", "/mm3", "0.999", 3),
    ("ANC", "0", "/mm3", "0", 4),
    ("LYMPH", "200", "/mm3", "0.2", 3),
    ("WBC", "2000", "/mm3", "2.0", 2),
    ("HGB", "80", "g/L", "8.0", 2),
    ("HGB", "79", "g/L", "7.9", 3),
    ("IGG", "7", "g/L", "700", 0),
]
ALERTS = [
    ("ANC", "1.0", "10^9/L", 2, False),
    ("ANC", "0.99", "10^9/L", 3, True),
    ("ANC", "0.1", "10^9/L", 4, True),
    ("PLT", "50", "10^9/L", 2, False),
    ("PLT", "49.9", "10^9/L", 3, True),
    ("PLT", "10000", "/mm3", 4, True),
    ("LYMPH", "0.1", "10^9/L", 4, False),
    ("WBC", "0.5", "10^9/L", 4, False),
    ("HGB", "7.0", "g/dL", 3, False),
]
IGG_CASES = [
    ("900", "mg/dL", False, ["IgG 900 mg/dL is at or above the lower limit of normal (700 mg/dL)"]),
    ("700", "mg/dL", False, ["IgG 700 mg/dL is at or above the lower limit of normal (700 mg/dL)"]),
    ("699", "mg/dL", False, [f"IgG 699 mg/dL {BELOW_LLN}"]),
    ("401", "mg/dL", False, [f"IgG 401 mg/dL {BELOW_LLN}"]),
    ("400", "mg/dL", True, [IGG_ALERT, f"IgG 400 mg/dL {BELOW_LLN}"]),
    ("4", "g/L", True, [IGG_ALERT, f"IgG 400 mg/dL {BELOW_LLN}"]),
    ("4.01", "g/L", False, [f"IgG 401 mg/dL {BELOW_LLN}"]),
]
LAB_REFUSALS = [
    ("XYZ", "1", "10^9/L", "code", "Unknown lab test 'XYZ'; choose one of: ANC, LYMPH, PLT, HGB, WBC, IGG."),
    ("anc", "1", "10^9/L", "code", "Unknown lab test 'anc'; choose one of: ANC, LYMPH, PLT, HGB, WBC, IGG."),
    ("PLT", "150", "g/dL", "unit", "g/dL is not a unit for a platelet count; use 10^9/L or /mm3."),
    ("HGB", "12", "10^9/L", "unit", "10^9/L is not a unit for haemoglobin; use g/dL or g/L."),
    ("IGG", "700", "g/dL", "unit", "g/dL is not a unit for IgG; use mg/dL or g/L."),
    ("ANC", "-0.1", "10^9/L", "value", "Absolute neutrophil count (ANC) cannot be negative (got -0.1 ×10^9/L)."),
    ("ANC", "1500", "10^9/L", "value", f"Absolute neutrophil count (ANC) 1500 ×10^9/L is not plausible; {PER_MM3}"),
    ("ANC", "100.1", "10^9/L", "value", f"Absolute neutrophil count (ANC) 100.1 ×10^9/L is not plausible; {PER_MM3}"),
    ("PLT", "0.2", "/mm3", "value", f"Platelet count 0.2 /mm³ is not plausible; {COUNT}"),
    ("PLT", "5000000", "/mm3", "value", "Platelet count 5000000 /mm³ is not plausible; check the value (at most 3000 ×10^9/L)."),
    ("WBC", "600", "10^9/L", "value", f"White blood cell count (WBC) 600 ×10^9/L is not plausible; {PER_MM3}"),
    ("LYMPH", "0.5", "/mm3", "value", f"Lymphocyte count 0.5 /mm³ is not plausible; {COUNT}"),
    ("HGB", "120", "g/dL", "value", "Haemoglobin 120 g/dL is not plausible; it looks like a value in g/L: choose g/L as the unit."),
    ("HGB", "300", "g/dL", "value", "Haemoglobin 300 g/dL is not plausible; check the value (at most 25 g/dL)."),
    ("IGG", "700", "g/L", "value", "Immunoglobulin G (IgG) 700 g/L is not plausible; it looks like a value in mg/dL: choose mg/dL as the unit."),
    ("ANC", "abc", "10^9/L", "value", "Enter an absolute neutrophil count as a number (got 'abc')."),
    ("ANC", "1,5", "10^9/L", "value", "Enter an absolute neutrophil count as a number (got '1,5')."),
    ("PLT", None, "10^9/L", "value", "Enter a platelet count as a number (got None)."),
    ("PLT", True, "10^9/L", "value", "Enter a platelet count as a number (got True)."),
    ("PLT", float("nan"), "10^9/L", "value", "Enter a platelet count as a number (got nan)."),
    ("PLT", float("inf"), "10^9/L", "value", "Enter a platelet count as a number (got inf)."),
    ("PLT", "Infinity", "10^9/L", "value", "Enter a platelet count as a number (got 'Infinity')."),
]
# fmt: on


@pytest.mark.parametrize(
    "code, value, grade",
    [(code, value, grade) for code, rows in BOUNDARIES.items() for value, grade in rows],
)
def test_a_lab_value_exactly_at_a_ctcae_threshold_has_the_milder_grade(code, value, grade):
    result = lab_grade(code, value, LAB_UNITS[code][0])
    assert (result.grade, result.value) == (grade, Decimal(value))
    assert result.reasons[0].startswith(f"grade {grade}: ")


def test_anc_exactly_at_1_0_is_grade_2_not_3():
    assert lab_grade("ANC", "1.0", "10^9/L").grade == 2
    assert lab_grade("ANC", "0.99", "10^9/L").grade == 3
    assert lab_grade("ANC", "1.5", "10^9/L").grade == 1


@pytest.mark.parametrize("code, value, reasons", REASONS)
def test_lab_reasons_name_the_ctcae_term_the_value_and_the_threshold(code, value, reasons):
    assert lab_grade(code, value, LAB_UNITS[code][0]).reasons == reasons


@pytest.mark.parametrize("code, value, unit, canonical, grade", CONVERSIONS)
def test_both_units_give_the_same_canonical_value_and_grade(code, value, unit, canonical, grade):
    converted, unit_0 = lab_grade(code, value, unit), LAB_UNITS[code][0]
    assert (converted.value, converted.unit, converted.grade) == (Decimal(canonical), unit_0, grade)
    assert converted == lab_grade(code, canonical, unit_0)


@pytest.mark.parametrize("value", [1, "1.2", Decimal("1.2"), 1.2, " 1.2 "])
def test_lab_values_are_accepted_as_int_str_decimal_or_float(value):
    assert lab_grade("ANC", value, "10^9/L").value == Decimal(str(value).strip())


@pytest.mark.parametrize("code, value, unit, grade, alert", ALERTS)
def test_only_grade_3_or_worse_neutropenia_or_thrombocytopenia_raises_the_protocol_alert(
    code, value, unit, grade, alert
):
    result = lab_grade(code, value, unit)
    assert (result.grade, result.alert) == (grade, alert)
    assert any("alert the investigator and medical monitor" in r for r in result.reasons) is alert


@pytest.mark.parametrize("value, unit, alert, reasons", IGG_CASES)
def test_igg_is_not_graded_but_400_mg_dl_or_less_raises_the_hypogammaglobulinaemia_alert(
    value, unit, alert, reasons
):
    result = lab_grade("IGG", value, unit)
    assert (result.grade, result.alert, result.reasons) == (0, alert, tuple(reasons))


@pytest.mark.parametrize("code, value, unit, field, message", LAB_REFUSALS)
def test_impossible_lab_values_are_refused_saying_which_field_and_why(
    code, value, unit, field, message
):
    assert refusal_of(lab_grade, code, value, unit) == (field, message)


def test_the_upper_plausible_limits_and_zero_counts_per_mm3_are_accepted():
    assert lab_grade("ANC", "100", "10^9/L").grade == 0
    assert lab_grade("PLT", "3000000", "/mm3").value == Decimal(3000)
    assert lab_grade("HGB", "25", "g/dL").grade == 0
    assert lab_grade("IGG", "10000", "mg/dL").grade == 0
    assert lab_grade("PLT", "0", "/mm3").grade == 4


def test_forms_get_the_units_canonical_first_and_a_name_for_every_code():
    counts = ("10^9/L", "/mm3")
    assert LAB_UNITS == {
        **dict.fromkeys(["ANC", "LYMPH", "PLT", "WBC"], counts),
        **{"HGB": ("g/dL", "g/L"), "IGG": ("mg/dL", "g/L")},
    }
    assert set(LAB_NAMES) == set(LAB_UNITS) and all(LAB_NAMES.values())
