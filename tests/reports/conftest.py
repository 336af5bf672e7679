"""A hand-built trial history for the enrollment report, built through the real services.

Two sites: S01 New York (target 10), S02 Berlin (target 10); the trial's target is 30. By the end
of February 2026 (the month the expected answers in test_enrollment_figures.py are for):

S01  A   consent 5 Jan, enrolled 12 Jan, leukapheresis 2 Feb, first infusion 20 Feb, all six
         infusions (the 6th on 27 Mar: treatment completed in March)
     B   consent 20 Jan, screen failed 3 Feb (IN_AUTOAB), re-screened as B2
     B2  re-screen consent 10 Feb, enrolled 17 Feb
     C   consent 31 Jan at 22:00 New York (1 Feb in UTC: a January consent), enrolled 2 Feb, lost
         to follow-up 14 Feb, reinstated 25 Feb (back to enrolled: enrolled once, not twice)
     D   consent 5 Jan, enrolled 12 Jan, leukapheresis 2 Feb, manufacturing failed 9 Feb, repeat
         leukapheresis 12 Feb, first infusion 27 Feb, treatment stopped early 3 Mar
     G   consent 1 Feb, enrolled 8 Feb, died 26 Feb
S02  F   consent 10 Jan, withdrew 20 Feb ("moved away")
     K   consent 28 Feb, screen failed 2 Mar (EX_PREG): across the month boundary
     E   consent 1 Mar at 00:00 Berlin (28 Feb 23:00 in UTC: a March consent)
"""

import datetime as dt

import pytest

from schedule import services
from tests.support import Journey, coordinator_at, days

# A free-text note that names people: the report must tally its category, never show it.
WITHDRAWAL_NOTE = "Moved to Ohio to live with her sister Ann Whitfield"


@pytest.fixture
def trial_history(protocol, site, site2, coordinator, investigator, settings):
    settings.STUDY_ENROLLMENT_TARGET = 30
    by = coordinator
    a = Journey(site, by, investigator, consent_on=dt.date(2026, 1, 5))
    a.all_infusions(dt.date(2026, 2, 20))

    b = Journey(site, by, investigator, consent_on=dt.date(2026, 1, 20))
    with b.on(dt.date(2026, 2, 3)):
        services.participant_screen_fail(
            b.p, on=dt.date(2026, 2, 3), failed_criteria=["IN_AUTOAB"], rescreen_allowed=True, by=by
        )
    b2 = Journey(site, by, investigator, consent_on=dt.date(2026, 2, 10), rescreen_of=b.p)
    b2.enroll(dt.date(2026, 2, 17))

    c = Journey(site, by, investigator, consent_on=dt.date(2026, 1, 31), hour=22)
    c.enroll(dt.date(2026, 2, 2))
    with c.on(dt.date(2026, 2, 14)):
        services.participant_lose_to_follow_up(
            c.p,
            last_contact_on=dt.date(2026, 2, 5),
            contact_attempts=[dt.date(2026, 2, 10), dt.date(2026, 2, 12), dt.date(2026, 2, 14)],
            by=by,
        )
    with c.on(dt.date(2026, 2, 25)):
        services.participant_reinstate(c.p, on=dt.date(2026, 2, 25), by=by)

    d = Journey(site, by, investigator, consent_on=dt.date(2026, 1, 5))
    d.enroll(dt.date(2026, 1, 12))
    d.plan(dt.date(2026, 2, 20))
    d.apheresis(dt.date(2026, 2, 2))
    with d.on(dt.date(2026, 2, 9)):
        services.participant_manufacturing_fail(
            d.p, on=dt.date(2026, 2, 9), reason="cells did not expand", by=by
        )
    d.apheresis(dt.date(2026, 2, 12), occurrence=2)
    d.plan(dt.date(2026, 2, 27), today=dt.date(2026, 2, 12))
    d.infuse(1, dt.date(2026, 2, 27))
    with d.on(dt.date(2026, 3, 3)):
        services.treatment_stop_early(
            d.p, on=dt.date(2026, 3, 3), reason="CRS grade 3", reason_code="crs_icans", by=by
        )

    g = Journey(site, by, investigator, consent_on=dt.date(2026, 2, 1))
    g.enroll(dt.date(2026, 2, 8))
    with g.on(dt.date(2026, 2, 26)):
        services.participant_die(
            g.p, on=dt.date(2026, 2, 26), cause="cardiac arrest", sae_reference="SAE-7", by=by
        )

    berlin = coordinator_at(site2)
    f = Journey(site2, berlin, investigator, consent_on=dt.date(2026, 1, 10))
    with f.on(dt.date(2026, 2, 20)):
        services.participant_withdraw(
            f.p,
            on=dt.date(2026, 2, 20),
            reason=WITHDRAWAL_NOTE,
            reason_code="consent_withdrawn",
            safety_follow_up_continues=False,
            by=berlin,
        )
    k = Journey(site2, berlin, investigator, consent_on=dt.date(2026, 2, 28))
    with k.on(dt.date(2026, 3, 2)):
        services.participant_screen_fail(
            k.p,
            on=dt.date(2026, 3, 2),
            failed_criteria=["EX_PREG"],
            rescreen_allowed=False,
            by=berlin,
        )
    e = Journey(site2, berlin, investigator, consent_on=dt.date(2026, 3, 1), hour=0)
    return {"A": a, "B": b, "B2": b2, "C": c, "D": d, "G": g, "F": f, "K": k, "E": e}


def complete_the_study(journey) -> None:
    """Record every follow-up visit on its target date: Month 12 completes the study."""
    for code in ("EOT", "M2", "M3", "M6", "M9", "M12"):
        journey.record(code, journey.visit(code).target_date)


__all__ = ["complete_the_study", "days"]
