"""Version 1 of the SLE-001 schedule of assessments (PROTOCOL.md, "Default schedule").

This is data, loaded into ProtocolVersion / VisitDefinition / AssessmentDefinition tables by a
migration. A protocol amendment is a new version (admin action "Copy as amendment", or
`manage.py load_protocol FILE.json`); participants keep the version they were scheduled under.

Assessment tuple: (code, name, safety, extra) where extra may hold
  pre_dose: True          -> must be done and normal before an infusion is recorded as given
  max_age_hours: N        -> a pre-dose result older than N hours before the infusion does not count
  due_hours_after_start: N -> due N hours after the visit started (infusion-day post-dose items)
  condition: "withdrawn_in_treatment" -> only on an ET visit of someone withdrawn mid-treatment
  can_be_not_applicable: True -> may be recorded as not applicable (pregnancy test for a man)
  holds_next_infusion: True -> abnormal or missing holds the next infusion (CRS/ICANS)
  lab_values: True        -> entered as lab values with units; grade and abnormal are computed
Pre-dose items without max_age_hours must be done on the infusion day itself.
"""

S = True  # safety assessment
N = False

VS = ("VS", "Vital signs", S, {})
CBC = ("CBC", "Complete blood count", S, {"lab_values": True})
CHEM = ("CHEM", "Chemistry panel", S, {})
IGG = ("IGG", "Immunoglobulin G", S, {"lab_values": True})
PREG = ("PREG", "Pregnancy test", S, {"can_be_not_applicable": True})
AE = ("AE", "Adverse events review", S, {})
CM = ("CM", "Concomitant medications", N, {})
UPCR = ("UPCR", "Urine protein/creatinine ratio", N, {})
DSDNA = ("DSDNA", "Anti-dsDNA, C3, C4", N, {})
SLEDAI = ("SLEDAI", "SLEDAI-2K", N, {})
PGA = ("PGA", "Physician global assessment", N, {})
BILAG = ("BILAG", "BILAG", N, {})
PE = ("PE", "Physical examination", N, {})
CRS_REVIEW = ("CRS_ICANS", "CRS/ICANS review", S, {})

INFUSION_BLOCK = [
    ("VS_PRE", "Vital signs, pre-dose", S, {"pre_dose": True}),
    (
        "PREG",
        "Pregnancy test (within 72 h)",
        S,
        {"pre_dose": True, "max_age_hours": 72, "can_be_not_applicable": True},
    ),
    (
        "CBC",
        "Complete blood count (within 72 h)",
        S,
        {"pre_dose": True, "max_age_hours": 72, "lab_values": True},
    ),
    ("CHEM", "Chemistry panel (within 72 h)", S, {"pre_dose": True, "max_age_hours": 72}),
    (
        "IGG",
        "Immunoglobulin G (within 72 h)",
        S,
        {"pre_dose": True, "max_age_hours": 72, "lab_values": True},
    ),
    ("INFECT", "Infection check, pre-dose", S, {"pre_dose": True}),
    (
        "VS_POST",
        "Vital signs end of infusion, +30, +60, +120 min",
        S,
        {"due_hours_after_start": 4},
    ),
    (
        "CRS_ICANS",
        "CRS/ICANS assessment before discharge",
        S,
        # Any CRS/ICANS holds the next infusion until it has resolved to grade 1 or less.
        {"due_hours_after_start": 4, "holds_next_infusion": True},
    ),
    ("OBS", "Observation of at least 2 h after infusion", S, {"due_hours_after_start": 4}),
    AE,
    CM,
]

M3_BLOCK = [PE, VS, CBC, CHEM, IGG, AE, CM, SLEDAI, PGA, BILAG, DSDNA, UPCR]


def _infusion(number: int, offset: int, extra: list) -> dict:
    return {
        "code": f"INF{number}",
        "name": f"Infusion {number}",
        "period": "treatment",
        "kind": "first_infusion" if number == 1 else "infusion",
        "anchor": "first_infusion",
        "offset": offset,
        "before": 0 if number == 1 else 2,
        "after": 0 if number == 1 else 2,
        "min_days_after_previous": None if number == 1 else 5,
        "missable": number != 1,
        "assessments": INFUSION_BLOCK + extra,
    }


PROTOCOL = {
    "version": 1,
    "name": "SLE-001 schedule of assessments, version 1",
    "visits": [
        {
            "code": "SCR",
            "name": "Screening",
            "period": "screening",
            "kind": "standard",
            "anchor": "consent",
            "offset": 0,
            "before": 0,
            "after": 14,
            "missable": False,
            "assessments": [
                ("ELIG", "Eligibility", N, {}),
                ("HIST", "Medical history", N, {}),
                PE,
                VS,
                CBC,
                CHEM,
                IGG,
                PREG,
                UPCR,
                DSDNA,
                SLEDAI,
                PGA,
                BILAG,
                ("SEROLOGY", "Infection serology", N, {}),
                AE,
                CM,
            ],
        },
        {
            "code": "APH",
            "name": "Leukapheresis",
            "period": "screening",
            "kind": "apheresis",
            "anchor": "consent",
            "offset": 28,
            "before": 13,
            "after": 10,
            "missable": True,
            "assessments": [VS, CBC, PREG, AE, CM],
        },
        _infusion(1, 0, [SLEDAI, PGA, BILAG]),
        _infusion(2, 7, []),
        _infusion(3, 14, []),
        _infusion(4, 21, []),
        _infusion(5, 28, [SLEDAI, PGA, DSDNA]),
        _infusion(6, 35, []),
        {
            "code": "EOT",
            "name": "End of treatment (Day 50)",
            "period": "treatment",
            "kind": "standard",
            "anchor": "first_infusion",
            "offset": 50,
            "before": 3,
            "after": 3,
            "missable": True,
            "assessments": [PE, VS, CBC, CHEM, IGG, PREG, CRS_REVIEW, AE, CM]
            + [SLEDAI, PGA, BILAG, DSDNA, UPCR],
        },
        {
            "code": "M2",
            "name": "Month 2",
            "period": "follow_up",
            "kind": "standard",
            "anchor": "first_infusion",
            "offset": 60,
            "before": 5,
            "after": 5,
            "missable": True,
            "assessments": [VS, CBC, CHEM, IGG, AE, CM, SLEDAI, PGA, DSDNA],
        },
        *[
            {
                "code": code,
                "name": name,
                "period": "follow_up",
                "kind": "completion" if code == "M12" else "standard",
                "anchor": "first_infusion",
                "offset": offset,
                "before": window,
                "after": window,
                "missable": True,
                "assessments": M3_BLOCK,
            }
            for code, name, offset, window in (
                ("M3", "Month 3", 90, 7),
                ("M6", "Month 6", 180, 14),
                ("M9", "Month 9", 270, 14),
                ("M12", "Month 12 (completion)", 365, 14),
            )
        ],
        {
            "code": "UNS",
            "name": "Unscheduled",
            "period": "unscheduled",
            "kind": "unscheduled",
            "anchor": "event",
            "offset": 0,
            "before": 0,
            "after": 0,
            "missable": True,
            "assessments": [VS, AE],
        },
        {
            "code": "ET",
            "name": "Early termination",
            "period": "termination",
            "kind": "standard",
            "anchor": "withdrawal",
            "offset": 0,
            "before": 0,
            "after": 14,
            "missable": True,
            "assessments": M3_BLOCK
            + [
                (
                    "CRS_ICANS",
                    "CRS/ICANS review",
                    S,
                    {"condition": "withdrawn_in_treatment"},
                )
            ],
        },
    ],
}
