"""Safety lab values with units (CBC, IgG): entered, converted, graded (CTCAE v5), stored one row per
test, and the schedule assessment recorded from them.

The pre-dose gate (schedule.services.infusions.check_pre_dose) reads Assessment.is_abnormal; here
that flag is computed from the values by `blocks_infusion`, never typed, and the alert flag on each
LabResult is the grading's (safety.grading.lab_grade), read by the lab alert scan.
"""

import datetime as dt
from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone

from participants import access
from participants.audit import reason_for_change
from safety.grading import LAB_NAMES, LLN, GradingError, LabGrade, lab_grade
from safety.models import LabResult
from schedule.models import Assessment
from schedule.services.assessments import assessment_record_computed

# The tests of each lab panel, keyed by the schedule's assessment definition code
# (schedule/protocols/v1.py: "CBC" at every visit, including the infusions' pre-dose CBC, and
# "IGG"). The order is the order of the form and of the result summary.
LAB_PANELS: dict[str, tuple[str, ...]] = {
    "CBC": ("ANC", "LYMPH", "PLT", "HGB", "WBC"),
    "IGG": ("IGG",),
}

# How units read on screens and in the summary; forms and the service take the plain codes.
UNIT_LABELS = {"10^9/L": "×10^9/L", "/mm3": "/mm³"}

# LabResult.value and .entered_value hold 4 decimal places.
STORED_PLACES = 4
SUMMARY_MAX = 200  # Assessment.result is a 200-character column

# [ASSUMPTION] Which lab values block an infusion. PROTOCOL.md says pre-dose safety items that are
# "abnormal" block recording an infusion as given, but not which lab values are abnormal. Chosen:
# grade >= 3 neutropenia or thrombocytopenia (the protocol's investigator alerts: infection and
# bleeding risk), grade >= 3 anaemia (Hb < 8.0 g/dL, transfusion indicated), and IgG <= 400 mg/dL
# (the protocol's hypogammaglobulinaemia alert: infection risk). Lymphopenia does not block: it is
# expected after CAR-T therapy and excepted from AE follow-up in the trial registry. WBC does not
# block on its own: its neutrophil part is judged by ANC, its lymphocyte part is expected to be low.
# To be confirmed by the investigator / medical monitor.
BLOCKING_GRADE = {"ANC": 3, "PLT": 3, "HGB": 3}


def blocks_infusion(lab: LabGrade) -> bool:
    """Does this value make its assessment abnormal, and so block an infusion (pre-dose)?"""
    if lab.code == "IGG":
        return lab.alert  # IgG has no CTCAE grade; the protocol's alert is at <= 400 mg/dL
    threshold = BLOCKING_GRADE.get(lab.code)
    return threshold is not None and lab.grade >= threshold


def plain(number: Decimal) -> str:
    """Plain notation without trailing zeros: Decimal("1.200") -> "1.2"."""
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _places(number: Decimal) -> int:
    return max(0, -number.normalize().as_tuple().exponent)


def _entered(value) -> Decimal:
    """The entered value as a Decimal, as lab_grade read it (floats via repr: 1.2 stays 1.2).
    Called only after lab_grade accepted the value."""
    return Decimal(repr(value) if isinstance(value, float) else str(value).strip())


def _the(code: str) -> str:
    """For messages: "the lymphocyte count"."""
    name = LAB_NAMES[code]
    return f"the {name[0].lower()}{name[1:]}"


def _grade(code: str, given) -> tuple[LabGrade, Decimal, str]:
    """(grade, entered value, entered unit) of one test, or GradingError naming the field."""
    if given is None:
        raise GradingError("value", f"Enter {_the(code)}: it is part of the panel.")
    if not isinstance(given, tuple | list) or len(given) != 2:
        raise GradingError("value", f"Give {_the(code)} as a value and its unit.")
    value, unit = given
    if value is None or (isinstance(value, str) and not value.strip()):
        raise GradingError("value", f"Enter {_the(code)}: it is part of the panel.")
    if not unit:
        raise GradingError("unit", f"Choose the unit of {_the(code)}.")
    graded = lab_grade(code, value, unit)
    entered = _entered(value)
    if _places(entered) > STORED_PLACES or _places(graded.value) > STORED_PLACES:
        # Rounding silently could move a value across a grade threshold; ask instead.
        raise GradingError(
            "value",
            f"{LAB_NAMES[code]} has more decimal places than are kept: round it "
            f"({STORED_PLACES} decimal places in {graded.unit}).",
        )
    return graded, entered, unit


def _grade_panel(panel: str, values: dict) -> dict[str, tuple[LabGrade, Decimal, str]]:
    """Every test of the panel graded, or one ValidationError with every refusal, per field."""
    codes = LAB_PANELS[panel]
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(values) - set(codes), key=str)
    if unknown:
        errors[NON_FIELD_ERRORS] = [
            f"Not part of the {panel} panel ({', '.join(codes)}): {', '.join(map(str, unknown))}."
        ]
    graded = {}
    for code in codes:
        try:
            graded[code] = _grade(code, values.get(code))
        except GradingError as refusal:
            errors.setdefault(f"{code}_{refusal.field}", []).append(refusal.message)
    if errors:
        raise ValidationError(errors)
    return graded


def _summary_part(lab: LabGrade, unit_shown: bool) -> str:
    text = f"{lab.code} {plain(lab.value)}"
    if unit_shown:
        text += f" {UNIT_LABELS.get(lab.unit, lab.unit)}"
    if lab.code == "IGG":
        note = "alert" if lab.alert else ("low" if lab.value < LLN["IGG"] else "")
    else:
        note = f"G{lab.grade}" + (", alert" if lab.alert else "") if lab.grade else ""
    return f"{text} ({note})" if note else text


def result_summary(labs: list[LabGrade]) -> str:
    """One line for Assessment.result, in canonical units, each unit named where it first appears,
    the CTCAE grade when above 0: "ANC 1.2 ×10^9/L (G2); LYMPH 0.4 (G3); PLT 180; HGB 12.5 g/dL"."""
    parts, units_named = [], set()
    for lab in labs:
        parts.append(_summary_part(lab, unit_shown=lab.unit not in units_named))
        units_named.add(lab.unit)
    text = "; ".join(parts)
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1] + "…"


def _alerted_at(old: LabResult | None, new: LabGrade) -> dt.datetime | None:
    """The alerted_at a re-entered value keeps: each alert goes out once per alerting value.

    The lab alert scan emails rows with alert=True and alerted_at empty, then sets alerted_at.
    A re-entry of the same sample is a correction: when the old value alerted too, the
    investigator already has (or, alerted_at still empty, is about to get) that alert, so it is
    not sent again. A value that alerts where the old one did not is news: alerted_at is cleared
    so the scan sends it. A value that no longer alerts keeps alerted_at as the record that an
    alert went out (alert=False takes it out of the scan either way).
    """
    if old is None:
        return None
    if new.alert and not old.alert:
        return None
    return old.alerted_at


def _changed_codes(old: dict[str, LabResult], graded: dict) -> list[str]:
    """The tests whose entered value or unit differs from what is stored (all of them at first)."""
    return [
        code
        for code, (_, entered, entered_unit) in graded.items()
        if code not in old
        or old[code].entered_value != entered
        or old[code].entered_unit != entered_unit
    ]


def _store(assessment: Assessment, graded: dict, old: dict, changed: list[str], by, reason):
    """Save the tests in `changed` only: an unchanged value writes no history row."""
    now = timezone.now()
    for code in changed:
        lab, entered, entered_unit = graded[code]
        alerted_at = _alerted_at(old.get(code), lab)  # read before the row takes the new values
        row = old.get(code) or LabResult(assessment=assessment, code=code)
        row.entered_value, row.entered_unit = entered, entered_unit
        row.value, row.unit, row.grade = lab.value, lab.unit, lab.grade
        row.reasons, row.alert = list(lab.reasons), lab.alert
        row.alerted_at = alerted_at
        row.recorded_by, row.recorded_at = by, now
        if reason:
            row._change_reason = reason
        row.save()


@transaction.atomic
def lab_results_record(
    assessment: Assessment, *, values: dict, completed_at: dt.datetime, by, reason: str = ""
) -> Assessment:
    """Record a lab panel's values, `values = {"ANC": (1.2, "10^9/L"), ...}`, every test of the
    panel given, each in either of its units (safety.grading.LAB_UNITS).

    Stores one LabResult per test (replacing an earlier entry; simple-history keeps it) and records
    the assessment with a summary of the values and is_abnormal computed by `blocks_infusion`.
    Refusals: ValidationError keyed "<CODE>_value" / "<CODE>_unit" (all at once), or the
    assessment's own refusals (completed_at, status); nothing is saved. Changing values already
    recorded needs `reason` (kept in the history of each changed row); entering the same values
    again changes nothing and writes no history row.
    """
    access.require_recorder(by, assessment.visit.participant.site)
    # Locked first: two re-entries at once would each read the other's old values (alerted_at).
    assessment = (
        Assessment.objects.select_for_update()
        .select_related("visit__participant__site", "definition")
        .get(pk=assessment.pk)
    )
    panel = assessment.definition.code
    if panel not in LAB_PANELS:
        raise ValidationError(
            f"{assessment} is not a lab panel ({', '.join(LAB_PANELS)}); record its result "
            "as an assessment."
        )
    graded = _grade_panel(panel, values)
    labs = [lab for lab, _, _ in graded.values()]
    old = {r.code: r for r in LabResult.objects.select_for_update().filter(assessment=assessment)}
    changed = _changed_codes(old, graded)
    if old and changed:
        # A value or unit entered again differently (the summary may read the same, in canonical
        # units): a change of recorded values.
        reason = reason_for_change(reason, "recorded lab values")
    recorded = assessment_record_computed(
        assessment,
        result=result_summary(labs),
        is_abnormal=any(blocks_infusion(lab) for lab in labs),
        completed_at=completed_at,
        by=by,
        reason=reason,
    )
    _store(recorded, graded, old, changed, by, reason if old else "")
    return recorded


def lab_summary(assessment: Assessment) -> list[LabResult]:
    """The assessment's lab values in panel order (for pages)."""
    order = LAB_PANELS.get(assessment.definition.code, ())
    rows = list(assessment.lab_results.all())
    return sorted(rows, key=lambda r: order.index(r.code) if r.code in order else len(order))
