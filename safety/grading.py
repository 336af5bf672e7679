"""Grading of the safety findings recorded at infusion and follow-up visits. Pure functions.

Sources of every threshold below:
- CRS and ICANS: ASTCT consensus grading, Lee DW et al., Biol Blood Marrow Transplant 2019;25:625-638
  (Table 5 for CRS, Table 6 for ICANS in adults, Table 4 for the ICE score).
- Laboratory values: CTCAE v5.0 (NCI, 27 Nov 2017): "Neutrophil count decreased", "Lymphocyte count
  decreased", "Platelet count decreased", "White blood cell decreased" and "Anemia".
- IgG has no CTCAE v5 grade; the SLE-001 alert (IgG <= 400 mg/dL) and the alerts for grade >= 3
  neutropenia or thrombocytopenia are from /work/shared/PROTOCOL.md ("Safety standards and clocks").

Nothing here touches Django or another project app: callers pass plain values and get a frozen result,
or a GradingError naming the field at fault in a sentence a coordinator understands, so forms can show
it under that field.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


class GradingError(ValueError):
    """An impossible or unknown input. `field` is the keyword argument at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Grade:
    grade: int
    reasons: tuple[str, ...]

    @property
    def summary(self) -> str:
        prefix = f"grade {self.grade}: "
        return f"Grade {self.grade}: " + "; ".join(r.removeprefix(prefix) for r in self.reasons)


# A finding is (grade, words); words are empty for a finding that is absent (grade 0).
Finding = tuple[int, str]


def _fmt(number: Decimal) -> str:
    """Plain notation without trailing zeros: Decimal("1.500") -> "1.5", Decimal("4E+2") -> "400"."""
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# How units read in sentences; forms and arguments use the plain codes.
_UNIT_SHOWN = {"10^9/L": "×10^9/L", "/mm3": "/mm³"}


def _shown(value: Decimal, unit: str) -> str:
    return f"{_fmt(value)} {_UNIT_SHOWN.get(unit, unit)}"


def _number(field: str, value, wrong: str) -> Decimal:
    """int, Decimal, str or finite float as a Decimal (floats via repr, so 38.3 stays 38.3)."""
    error = GradingError(field, f"{wrong} (got {value!r}).")
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise error
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise error from None
    if not number.is_finite():
        raise error
    return number


def _choice(field: str, value, table: dict[str, Finding], label: str) -> Finding:
    if not isinstance(value, str) or value not in table:
        raise GradingError(field, f"{label} must be one of: {', '.join(table)} (got {value!r}).")
    return table[value]


def _flag(field: str, value, label: str) -> bool:
    if not isinstance(value, bool):
        raise GradingError(field, f"{label} must be yes (True) or no (False) (got {value!r}).")
    return value


def _worst(findings: list[Finding], if_none: str) -> Grade:
    """The grade is the worst domain; every finding at that grade is a reason (ties are all named)."""
    top = max(grade for grade, _ in findings)
    reasons = tuple(f"grade {top}: {words}" for grade, words in findings if grade == top and words)
    return Grade(top, reasons or (f"grade 0: {if_none}",))


# --- CRS (ASTCT 2019, Table 5) -------------------------------------------------------------------

FEVER_C = Decimal("38.0")
# Plausible body temperatures; outside them the value is a typo or in the wrong unit.
TEMPERATURE_RANGE_C = (Decimal(30), Decimal(45))
_FAHRENHEIT_RANGE = (Decimal(86), Decimal(113))  # 30-45 °C in °F: a likely mix-up of units

HYPOTENSION = {
    "none": (0, ""),
    "fluids": (2, "hypotension not needing vasopressors"),
    "one_vasopressor": (3, "hypotension needing one vasopressor"),
    "multiple_vasopressors": (4, "hypotension needing multiple vasopressors"),
}
# Low flow: nasal cannula <= 6 L/min or blow-by. High flow: > 6 L/min, facemask, non-rebreather,
# Venturi. Positive pressure: CPAP, BiPAP, intubation and mechanical ventilation.
OXYGEN = {
    "none": (0, ""),
    "low_flow": (2, "low-flow oxygen"),
    "high_flow": (3, "high-flow oxygen"),
    "positive_pressure": (4, "positive-pressure ventilation"),
}
MASKED_FEVER = "fever masked by antipyretic or anti-cytokine therapy"
NOT_CRS = "does not meet the ASTCT definition of CRS (no fever ≥ 38 °C)"


def _temperature(value) -> Decimal:
    temperature = _number(
        "temperature_c", value, "Enter the temperature as a number of degrees Celsius, e.g. 38.3"
    )
    low, high = TEMPERATURE_RANGE_C
    if not low <= temperature <= high:
        hint = (
            " (it looks like °F)"
            if _FAHRENHEIT_RANGE[0] <= temperature <= _FAHRENHEIT_RANGE[1]
            else ""
        )
        raise GradingError(
            "temperature_c",
            f"Temperature {_fmt(temperature)} °C is not plausible{hint}; "
            "enter degrees Celsius, e.g. 38.3.",
        )
    return temperature


def crs_grade(*, temperature_c, antipyretic_or_anticytokine=False, hypotension, oxygen) -> Grade:
    """ASTCT CRS grade: the worst of fever, hypotension and hypoxia.

    Fever (>= 38.0 °C) is required, except once antipyretic or anti-cytokine therapy (tocilizumab,
    steroids) has been given: then fever is no longer required and a masked fever never lowers the
    grade below 1.
    """
    temperature = _temperature(temperature_c)
    treated = _flag(
        "antipyretic_or_anticytokine", antipyretic_or_anticytokine, "Antipyretic or anti-cytokine"
    )
    organ = [
        _choice("hypotension", hypotension, HYPOTENSION, "Hypotension"),
        _choice("oxygen", oxygen, OXYGEN, "Oxygen"),
    ]
    fever = temperature >= FEVER_C
    if not fever and not treated:
        # Hypotension or hypoxia alone is not CRS; name them so nobody reads grade 0 as "all well".
        notes = tuple(f"{words} without fever is not graded as CRS" for _, words in organ if words)
        return Grade(0, (f"grade 0: {NOT_CRS}", *notes))
    base = (1, f"fever {_fmt(temperature)} °C" if fever else MASKED_FEVER)
    return _worst([base, *organ], if_none=NOT_CRS)


# --- ICANS (ASTCT 2019, Table 6, adults) ---------------------------------------------------------

# ICE score bands, highest first: a score at or above the band's lowest score gets its grade.
ICE_BANDS = ((10, 0), (7, 1), (3, 2), (0, 3))
CONSCIOUSNESS = {
    "awake": (0, ""),
    "awakens_to_voice": (2, "awakens to voice"),
    "awakens_to_touch": (3, "awakens only to touch"),
    "unarousable": (4, "unarousable, or needs vigorous or repetitive touch to arouse"),
}
SEIZURE = {
    "none": (0, ""),
    "resolved_rapidly": (3, "seizure that resolved rapidly"),
    "prolonged": (4, "prolonged (> 5 min) or repetitive seizures"),
}
CEREBRAL_EDEMA = {
    "none": (0, ""),
    "focal": (3, "focal cerebral edema on imaging"),
    "diffuse": (4, "diffuse cerebral edema on imaging"),
}
MOTOR_WEAKNESS = (4, "deep focal motor weakness (hemiparesis or paraparesis)")
NO_ICANS = "no ICANS (ICE score 10, awake, no seizure, weakness or cerebral edema)"


def _ice(ice_score, unarousable: bool) -> Finding:
    if ice_score is None:
        if unarousable:
            return (0, "")  # cannot be assessed; consciousness sets grade 4
        raise GradingError(
            "ice_score",
            "The ICE score must be given when the participant can be assessed "
            "(it may be left empty only when the participant is unarousable).",
        )
    if isinstance(ice_score, bool) or not isinstance(ice_score, int) or not 0 <= ice_score <= 10:
        raise GradingError(
            "ice_score", f"The ICE score must be a whole number from 0 to 10 (got {ice_score!r})."
        )
    grade = next(grade for lowest, grade in ICE_BANDS if ice_score >= lowest)
    return (grade, f"ICE score {ice_score}" if grade else "")


def icans_grade(
    *, ice_score, consciousness, seizure="none", motor_weakness=False, cerebral_edema="none"
) -> Grade:
    """ASTCT ICANS grade: the worst of the ICE score, consciousness, seizures, motor findings and
    cerebral edema. `ice_score=None` only when the participant is unarousable."""
    level = _choice("consciousness", consciousness, CONSCIOUSNESS, "Level of consciousness")
    findings = [
        _ice(ice_score, unarousable=consciousness == "unarousable"),
        level,
        _choice("seizure", seizure, SEIZURE, "Seizure"),
        MOTOR_WEAKNESS if _flag("motor_weakness", motor_weakness, "Motor weakness") else (0, ""),
        _choice("cerebral_edema", cerebral_edema, CEREBRAL_EDEMA, "Cerebral edema"),
    ]
    return _worst(findings, if_none=NO_ICANS)


# --- Laboratory values (CTCAE v5.0) --------------------------------------------------------------


@dataclass(frozen=True)
class _LabTest:
    name: str  # for forms
    noun: str  # "a platelet count", for messages
    units: tuple[str, str]  # canonical unit first
    factor: Decimal  # second unit -> canonical unit
    maximum: Decimal  # largest plausible value, canonical unit
    term: str = ""  # CTCAE v5 term; empty when CTCAE does not grade the test
    cuts: tuple[Decimal, ...] = ()  # CTCAE thresholds for grades 2, 3, 4 (value below -> grade)
    alert_term: str = ""  # protocol alert at grade >= 3


def _d(*values: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(v) for v in values)


COUNT_UNITS = ("10^9/L", "/mm3")  # 1 x10^9/L = 1000 /mm3
_PER_MM3 = Decimal("0.001")
# fmt: off
_TESTS = {
    "ANC": _LabTest(
        name="Absolute neutrophil count (ANC)", noun="an absolute neutrophil count",
        units=COUNT_UNITS, factor=_PER_MM3, maximum=Decimal(100),
        term="neutrophil count decreased", cuts=_d("1.5", "1.0", "0.5"), alert_term="neutropenia",
    ),
    "LYMPH": _LabTest(
        name="Lymphocyte count", noun="a lymphocyte count",
        units=COUNT_UNITS, factor=_PER_MM3, maximum=Decimal(100),
        term="lymphocyte count decreased", cuts=_d("0.8", "0.5", "0.2"),
    ),
    "PLT": _LabTest(
        name="Platelet count", noun="a platelet count",
        units=COUNT_UNITS, factor=_PER_MM3, maximum=Decimal(3000),
        term="platelet count decreased", cuts=_d("75", "50", "25"), alert_term="thrombocytopenia",
    ),
    "HGB": _LabTest(  # CTCAE v5 anaemia has no lab-based grade 4 (it is "life-threatening")
        name="Haemoglobin", noun="haemoglobin",
        units=("g/dL", "g/L"), factor=Decimal("0.1"), maximum=Decimal(25),
        term="anaemia", cuts=_d("10.0", "8.0"),
    ),
    "WBC": _LabTest(
        name="White blood cell count (WBC)", noun="a white blood cell count",
        units=COUNT_UNITS, factor=_PER_MM3, maximum=Decimal(500),
        term="white blood cell decreased", cuts=_d("3.0", "2.0", "1.0"),
    ),
    "IGG": _LabTest(  # 1 g/L = 100 mg/dL; not graded by CTCAE v5
        name="Immunoglobulin G (IgG)", noun="IgG",
        units=("mg/dL", "g/L"), factor=Decimal(100), maximum=Decimal(10000),
    ),
}
# fmt: on
# ASSUMPTION: typical adult lower limits of normal in canonical units; each site's laboratory has its
# own reference ranges, which should replace these once they are recorded. At or above LLN: grade 0.
LLN = {
    "ANC": Decimal("1.8"),
    "LYMPH": Decimal("1.0"),
    "PLT": Decimal("150"),
    "WBC": Decimal("4.0"),
    "HGB": Decimal("12.0"),
    "IGG": Decimal("700"),
}
IGG_ALERT_MG_DL = Decimal(400)  # PROTOCOL.md: IgG <= 400 mg/dL alerts the investigator
IGG_ALERT = "IgG ≤ 400 mg/dL (hypogammaglobulinaemia alert)"
ALERT_GRADE = 3  # PROTOCOL.md: grade >= 3 neutropenia or thrombocytopenia alerts the investigator
# A count per mm3 below 1 (but not 0) is a value in 10^9/L entered with the wrong unit.
_SMALLEST_NONZERO = {"/mm3": Decimal(1)}

LAB_UNITS: dict[str, tuple[str, ...]] = {code: test.units for code, test in _TESTS.items()}
LAB_NAMES: dict[str, str] = {code: test.name for code, test in _TESTS.items()}

assert all(LLN[code] > test.cuts[0] for code, test in _TESTS.items() if test.cuts)


@dataclass(frozen=True)
class LabGrade:
    code: str
    value: Decimal  # in the canonical unit
    unit: str  # canonical unit
    grade: int
    reasons: tuple[str, ...]
    alert: bool


def _to_canonical(test: _LabTest, value: Decimal, unit: str) -> Decimal:
    return value if unit == test.units[0] else value * test.factor


def _plausible(test: _LabTest, value: Decimal, unit: str) -> bool:
    smallest = _SMALLEST_NONZERO.get(unit)
    too_small = smallest is not None and 0 < value < smallest
    return not too_small and _to_canonical(test, value, unit) <= test.maximum


def _canonical(test: _LabTest, value: Decimal, unit: str) -> Decimal:
    if value < 0:
        raise GradingError("value", f"{test.name} cannot be negative (got {_shown(value, unit)}).")
    if not _plausible(test, value, unit):
        other = test.units[1] if unit == test.units[0] else test.units[0]
        hint = (
            f"it looks like a value in {other}: choose {other} as the unit"
            if _plausible(test, value, other)
            else f"check the value (at most {_shown(test.maximum, test.units[0])})"
        )
        raise GradingError("value", f"{test.name} {_shown(value, unit)} is not plausible; {hint}.")
    return _to_canonical(test, value, unit)


def _ctcae(code: str, test: _LabTest, value: Decimal) -> tuple[int, tuple[str, ...]]:
    # CTCAE ranges are "<upper - lower": a value exactly at a threshold has the milder grade.
    thresholds = (LLN[code], *test.cuts)
    grade = sum(value < threshold for threshold in thresholds)
    shown = _shown(value, test.units[0])
    if grade == 0:
        lln = format(LLN[code], "f")
        return 0, (f"grade 0: {code} {shown} is at or above the lower limit of normal ({lln})",)
    below = format(thresholds[grade - 1], "f")  # as CTCAE writes it: 1.0, not 1
    limit = "the lower limit of normal " if grade == 1 else ""
    return grade, (f"grade {grade}: {test.term}, {shown} (below {limit}{below})",)


def _igg(value: Decimal) -> tuple[str, ...]:
    shown = f"IgG {_fmt(value)} mg/dL"
    lln = f"the lower limit of normal ({_fmt(LLN['IGG'])} mg/dL)"
    if value >= LLN["IGG"]:
        return (f"{shown} is at or above {lln}",)
    below = f"{shown} is below {lln}; CTCAE v5 does not grade IgG"
    return (IGG_ALERT, below) if value <= IGG_ALERT_MG_DL else (below,)


def _lab_test(code, unit) -> _LabTest:
    if not isinstance(code, str) or code not in _TESTS:
        raise GradingError(
            "code", f"Unknown lab test {code!r}; choose one of: {', '.join(_TESTS)}."
        )
    test = _TESTS[code]
    if unit not in test.units:
        raise GradingError(
            "unit", f"{unit} is not a unit for {test.noun}; use {' or '.join(test.units)}."
        )
    return test


def lab_grade(code: str, value, unit: str) -> LabGrade:
    """CTCAE v5 grade of a low laboratory value, after converting it to the canonical unit.

    `alert` is the protocol's investigator alert: grade >= 3 ANC or platelets, or IgG <= 400 mg/dL.
    """
    test = _lab_test(code, unit)
    number = _number("value", value, f"Enter {test.noun} as a number")
    canonical = _canonical(test, number, unit)
    if code == "IGG":
        reasons = _igg(canonical)
        return LabGrade(code, canonical, test.units[0], 0, reasons, IGG_ALERT in reasons)
    grade, reasons = _ctcae(code, test, canonical)
    alert = bool(test.alert_term) and grade >= ALERT_GRADE
    if alert:
        reasons = (
            *reasons,
            f"grade {grade} {test.alert_term}: alert the investigator and medical monitor",
        )
    return LabGrade(code, canonical, test.units[0], grade, reasons, alert)
