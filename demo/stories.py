"""The demo's participants: each one's story in days after consent, and the results recorded."""

from dataclasses import dataclass

# A participant's timeline, in days after consent (C0). Leukapheresis and the visits anchored on
# the first infusion (D0) take their offsets from the protocol itself.
SCREENING_VISIT_DAY = 7
ENROLL_DAY = 10
FIRST_INFUSION_DAY = 45  # within the 59 days the protocol allows; 17 days after leukapheresis
INFUSION_HOUR = 9
PRE_DOSE_HOUR = 8
RESULTS_HOUR = 13

# Results recorded for the demo; anything not listed is "normal".
RESULTS = {
    "VS": "BP 122/78, HR 74, T 36.8 °C",
    "VS_PRE": "BP 118/76, HR 72, T 36.7 °C",
    "VS_POST": "Stable at end, +30, +60, +120 min",
    "PREG": "Negative",
    "CRS_ICANS": "No CRS, ICE score 10",
    "OBS": "Observed 2 h 15 min, discharged",
    "AE": "None new",
    "CM": "Unchanged",
    "SLEDAI": "SLEDAI-2K 8",
    "PGA": "PGA 1.2",
}


@dataclass(frozen=True)
class Story:
    """One participant's course, replayed up to yesterday.

    `ending` is a status change that cuts the story short, with its day after consent:
    ("screen_fail", day, rescreen_allowed), ("manufacturing_fail", day), ("withdraw", day),
    ("lost", last_contact_day, attempt_days), ("die", day). Visit codes in `leave_open` stay
    scheduled although their day has passed (a coordinator has not recorded them yet);
    `results_missing` holds "VISIT.ASSESSMENT" results never recorded (overdue once due).
    """

    site: str
    days_since_consent: int
    ending: tuple = ()
    stop_early_after: int | None = None  # infusions given before treatment stopped early
    leave_open: frozenset = frozenset()
    missed: frozenset = frozenset()
    results_missing: frozenset = frozenset()
    rescreen_after: int | None = None  # a failed screening re-screened this many days after C0
    record_et: bool = False


def _s(*items):
    return frozenset(items)


STORIES = (
    # --- S01, New York
    Story("S01", 3),  # screening, screening visit still in its window
    Story("S01", 20),  # enrolled, leukapheresis in 8 days
    Story("S01", 35),  # leukapheresis done, first infusion in 10 days
    Story("S01", 59),  # in treatment: INF3 due today
    Story("S01", 47, results_missing=_s("INF1.VS_POST", "INF1.OBS")),  # post-dose items overdue
    Story("S01", 140, leave_open=_s("M3")),  # follow-up: Month 3 window closes in 2 days
    Story("S01", 420),  # completed
    Story("S01", 75, ending=("withdraw", 62), leave_open=_s("ET")),  # withdrew in treatment
    Story("S01", 160, ending=("die", 112)),  # died in follow-up
    Story("S01", 8),  # screening, awaiting eligibility sign-off
    # --- S02, Berlin
    Story("S02", 40, ending=("screen_fail", 9, True), rescreen_after=25),  # re-screened: enrolled
    Story("S02", 15, ending=("screen_fail", 8, False)),
    Story("S02", 14),  # enrolled
    Story("S02", 38, ending=("manufacturing_fail", 35)),  # repeat leukapheresis window open
    Story("S02", 74, leave_open=_s("INF5")),  # INF5 window closes tomorrow
    Story("S02", 100, stop_early_after=3, results_missing=_s("EOT.IGG", "EOT.CBC")),
    Story("S02", 110, missed=_s("M2")),
    Story("S02", 170, ending=("lost", 135, (150, 155, 160))),
    Story("S02", 20, ending=("withdraw", 5)),  # withdrew consent during screening
    # --- S03, Sydney
    Story("S03", 1),  # screening, consented yesterday
    Story("S03", 30),  # leukapheresis done
    Story("S03", 66),  # in treatment: INF4 due today
    Story("S03", 53),  # in treatment after INF2
    Story("S03", 235),  # follow-up after Month 6
    Story("S03", 97, leave_open=_s("EOT")),  # EOT window closes tomorrow
    Story("S03", 500),  # completed
    Story("S03", 60, ending=("die", 56)),  # died during treatment
    Story("S03", 240, ending=("withdraw", 200), record_et=True),  # withdrew in follow-up
    Story("S03", 130, ending=("lost", 95, (110, 115, 120))),
)


# Plausible values for a participant well enough to be infused: CBC and IgG are entered as values
# with units (safety.services.labs), like a coordinator enters them.
LAB_VALUES = {
    "ANC": ("3.4", "10^9/L"),
    "LYMPH": ("1.3", "10^9/L"),
    "PLT": ("245", "10^9/L"),
    "HGB": ("12.9", "g/dL"),
    "WBC": ("6.1", "10^9/L"),
    "IGG": ("910", "mg/dL"),
}


def lab_values_of(assessment) -> dict:
    from safety.services.labs import LAB_PANELS

    return {code: LAB_VALUES[code] for code in LAB_PANELS[assessment.definition.code]}
