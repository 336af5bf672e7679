"""Safety actions as plain functions, one module per subject, each one transaction. Refusals raise
ValidationError in the coordinator's words (keyed by field); nothing is saved when one is raised.
Every action asks participants.access whether `by` may record at the participant's site.

    adverse_events.py  record, re-grade, seriousness, resolution of an AE
    sae.py             SAE reporting (sponsor 24 h, IRB business days), pregnancy, death
    checks.py          shared field checks and steps of the two above
    crs_icans.py       CRS and ICANS episodes from findings (grade computed), infusion holds
    labs.py            safety lab values with units (CBC, IgG), CTCAE grade computed

Callers import the module they need: `from safety.services import adverse_events`.
"""
