"""The status layer of a participant: one function per transition of participants.transitions.

Each function checks its rule, records what the transition records, writes a StatusChange row and
runs in one transaction, so a refused change leaves nothing half-saved. Refusals raise
ValidationError in the coordinator's words, keyed by form field where one field is at fault.

These change the participant's status only. The actions a user takes (consent, enroll, withdraw...)
are in schedule.services.lifecycle, which calls these and then moves the visits; views, admin and
commands call those, never these directly.

    dates.py       site_today and the date rules (59-day consent rule, not in the future)
    status.py      lock, check the transition table, write the history row
    consent.py     register a consent (→ SCREENING), screening numbers, re-screens
    enrollment.py  screen failure, enrollment (the signed checklist), leukapheresis, manufacturing
                   failure
    eligibility.py the eligibility checklist: a kept draft, and the investigator's signature on it
    treatment.py   start and end of treatment, completion
    leaving.py     withdrawal, lost to follow-up and reinstatement, death
"""
