"""Data for the dashboard tests, built through the real services.

"Today" is Tuesday 10 March 2026, 15:00 UTC (11:00 in New York, 16:00 in Berlin).
"""

import datetime as dt

import time_machine

from schedule import services
from schedule.models import AssessmentStatus, Visit
from tests.conftest import all_met, consent, local

NOW = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 3, 10)
PASSWORD = "pw-for-tests-only"


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def frozen(moment: dt.datetime = NOW, tick: bool = False):
    return time_machine.travel(moment, tick=tick)


def visit(participant, code: str) -> Visit:
    return participant.visits.select_related("definition").get(definition__code=code)


def complete_visit(v: Visit, day: dt.date, by, **extra) -> None:
    """Record a visit done on `day` with every assessment normal at noon site time."""
    services.visit_record_done(v, actual_date=day, by=by, **extra)
    for a in v.assessments.filter(status=AssessmentStatus.PENDING):
        services.assessment_record(
            a,
            result="normal",
            is_abnormal=False,
            completed_at=local(day, 12, v.participant.site.time_zone),
            by=by,
        )


def enrolled(site, coordinator, investigator, consent_on: dt.date, *, d0: dt.date | None = None):
    """Consented (screening visit done), enrolled the day after consent, and (if d0) with the
    first infusion planned."""
    p = consent(site, coordinator, consent_on)
    complete_visit(visit(p, "SCR"), consent_on, coordinator)
    services.participant_enroll(
        p,
        answers=all_met(),
        assessed_on=consent_on + days(1),
        signed_off_by=investigator,
        by=investigator,
    )
    if d0:
        services.first_infusion_plan(p, planned_on=d0, by=coordinator)
    p.refresh_from_db()
    return p


def worklist_scenario(site, site2, coordinator, investigator):
    """Call with time frozen at NOW. One participant per worklist section, plus one at S02.

    - due: consented today, SCR due today (window to 24 Mar).
    - closing: consented 26 Feb, SCR window closes 12 Mar (2 days).
    - late: consented 1 Feb, SCR window closed 15 Feb: visit and its safety items overdue.
    - coming: enrolled, APH target 14 Mar (consent 14 Feb), in the next 7 days.
    - berlin: at S02, SCR overdue like `late`.
    """
    return {
        "due": consent(site, coordinator, TODAY, hour=9),
        "closing": consent(site, coordinator, dt.date(2026, 2, 26)),
        "late": consent(site, coordinator, dt.date(2026, 2, 1)),
        "coming": enrolled(site, coordinator, investigator, dt.date(2026, 2, 14)),
        "berlin": consent(site2, coordinator, dt.date(2026, 2, 1)),
    }


def populate(n: int, sites, coordinator, investigators, *, start: int = 0):
    """`n` participants spread over `sites` and over screening/enrolled/planned states.

    `investigators`: one investigator per site, in the order of `sites` (sign-off is per site).
    """
    made = []
    for i in range(start, start + n):
        site = sites[i % len(sites)]
        investigator = investigators[i % len(sites)]
        consent_on = TODAY - days(1 + i % 50)
        if i % 3 == 0 and consent_on <= TODAY - days(2):
            d0 = consent_on + days(40)
            made.append(enrolled(site, coordinator, investigator, consent_on, d0=d0))
        else:
            made.append(consent(site, coordinator, consent_on, screening_number=f"T-{i:04d}"))
    return made
